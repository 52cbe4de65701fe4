"""Whole switches in memory: SwitchEngines with the VLAN and FSTP stages, cables, end stations.

Every frame a port sends is queued and delivered by :meth:`Lab.pump`, so a broadcast storm shows
up as a queue that never empties (bounded here) instead of unbounded recursion.
"""

from __future__ import annotations

from collections import deque

import attrs

from vdex._core.engine import SwitchEngine
from vdex._core.port import Port
from vdex_plugins.fstp._controller import FstpController
from vdex_plugins.vlan._dot1q import dot1q_stage

STORM = 10_000


@attrs.define(eq=False)
class CableEnd:
    """The endpoint one end of a cable puts on its switch port."""

    id: int
    lab: Lab
    far: Port | None = None
    uid: int | None = 0

    def send(self, frame: bytes) -> None:
        if self.far is not None:
            self.lab.queue.append((self.far, bytes(frame)))


@attrs.define(eq=False)
class Station:
    """An end station: records what it receives."""

    id: int
    uid: int | None = 0
    frames: list[bytes] = attrs.Factory(list)

    def send(self, frame: bytes) -> None:
        self.frames.append(bytes(frame))

    def data_frames(self) -> list[bytes]:
        """What it got, BPDUs left out (FSTP greets every port, stations included)."""
        return [f for f in self.frames if f[:6] != b"\x01\x80\xc2\x00\x00\x00"]


@attrs.define(eq=False)
class Node:
    engine: SwitchEngine
    fstp: FstpController

    def port(self, number: int) -> Port:
        port = self.engine.ports.get(number)
        if port is None:
            port, _ = self.engine.ports.choose_for_client(0, number)
            self.engine.add_port(port)
        return port


class Lab:
    def __init__(self) -> None:
        self.now = 0
        self.nodes: dict[str, Node] = {}
        self.queue: deque[tuple[Port, bytes]] = deque()
        self.cables: dict[tuple[str, int], tuple[str, int, CableEnd, CableEnd]] = {}
        self.delivered = 0

    def switch(self, name: str, mac: str, *, priority: int = 0x8000, fstp: bool = True) -> Node:
        engine = SwitchEngine()
        controller = FstpController(engine, mac=bytes.fromhex(mac.replace(":", "")),
                                    priority=priority)
        engine.set_stages([("vlan", dot1q_stage()), ("fstp", controller.frame_stage())])
        node = self.nodes[name] = Node(engine, controller)
        controller.sync(self.now)
        if fstp:
            controller.set_enabled(True, self.now)
        return node

    def station(self, name: str, number: int) -> Station:
        node = self.nodes[name]
        station = Station(id=1000 + number)
        node.engine.attach(node.port(number), station)
        node.fstp.sync(self.now)
        self.pump()
        return station

    def cable(self, a: str, pa: int, b: str, pb: int) -> None:
        na, nb = self.nodes[a], self.nodes[b]
        port_a, port_b = na.port(pa), nb.port(pb)
        end_a, end_b = CableEnd(id=pa, lab=self, far=port_b), CableEnd(id=pb, lab=self, far=port_a)
        self.cables[(a, pa)] = (b, pb, end_a, end_b)
        na.engine.attach(port_a, end_a)
        nb.engine.attach(port_b, end_b)
        na.fstp.sync(self.now)
        nb.fstp.sync(self.now)
        self.pump()

    def cut(self, a: str, pa: int) -> None:
        """Unplug: both ends lose their endpoint, as when a vde_plug cable process exits."""
        b, pb, end_a, end_b = self.cables.pop((a, pa))
        end_a.far = end_b.far = None
        for name, number, end in ((a, pa, end_a), (b, pb, end_b)):
            node = self.nodes[name]
            node.engine.detach(node.port(number), end)
            node.fstp.sync(self.now)
        self.pump()

    def pump(self) -> int:
        """Deliver queued frames until none is left; return how many were delivered."""
        count = 0
        while self.queue:
            port, frame = self.queue.popleft()
            port.receive(frame)
            count += 1
            assert count < STORM, "broadcast storm: frames keep circulating"
        self.delivered += count
        return count

    def run(self, seconds: int) -> None:
        for _ in range(seconds):
            self.now += 1
            for node in self.nodes.values():
                node.engine.tick(self.now)
                node.fstp.tick(self.now)
            self.pump()
