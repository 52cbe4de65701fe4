"""A simulated network of FSTP machines: cables, a fake clock and a loop detector.

BPDUs travel as bytes (encode, then decode at the far end), so the codec is in every test. A
cable delivers instantly; timers fire in time order. Each switch's Discarding state per (port,
VLAN) is what the machine asked for with SetDiscarding.
"""

from __future__ import annotations

from collections import deque

import attrs

from vdex_plugins.fstp._actions import FlushVlan, SendBpdu, SetDiscarding
from vdex_plugins.fstp._bpdu import decode_bpdu, encode_bpdu
from vdex_plugins.fstp._machine import FstpMachine

MAX_BPDUS_PER_STEP = 10_000
"""More BPDUs than this without the clock moving is a ping-pong: a bug."""


@attrs.define(eq=False)
class Switch:
    name: str
    machine: FstpMachine
    discarding: set[tuple[int, int]] = attrs.Factory(set)
    flushes: int = 0
    sent: list[tuple[float, int, bytes]] = attrs.Factory(list)


class Net:
    def __init__(self) -> None:
        self.now = 0.0
        self.switches: dict[str, Switch] = {}
        self.cables: dict[tuple[str, int], tuple[str, int]] = {}
        self.silent: set[frozenset[tuple[str, int]]] = set()
        self._queue: deque[tuple[str, int, bytes, bool]] = deque()
        self.bpdus = 0

    def add(self, name: str, mac_last: int, *, priority: int = 0x8000) -> Switch:
        machine = FstpMachine(mac=bytes((2, 0, 0, 0, 0, mac_last)), priority=priority)
        machine.add_vlan(0)
        switch = self.switches[name] = Switch(name, machine)
        self.apply(switch, machine.set_enabled(True, self.now))
        return switch

    # ------------------------------------------------------------------ cables

    def connect(self, a: str, pa: int, b: str, pb: int, *, vlan: int = 0,
                tagged: bool = False) -> None:
        self.cables[(a, pa)] = (b, pb)
        self.cables[(b, pb)] = (a, pa)
        for name, port in ((a, pa), (b, pb)):
            sw = self.switches[name]
            self.apply(sw, sw.machine.port_up(port, vlan, tagged, self.now))
        self.drain()

    def cut(self, a: str, pa: int, *, vlan: int = 0) -> None:
        """Unplug the cable: both ports go down, as when a vde_plug cable dies."""
        b, pb = self.cables.pop((a, pa))
        del self.cables[(b, pb)]
        for name, port in ((a, pa), (b, pb)):
            sw = self.switches[name]
            self.apply(sw, sw.machine.port_down(port, vlan, self.now))
        self.drain()

    def go_silent(self, a: str, pa: int) -> None:
        """The cable stays plugged but carries nothing any more (a wirefilter with 100% loss)."""
        self.silent.add(frozenset({(a, pa), self.cables[(a, pa)]}))

    # ------------------------------------------------------------------ running

    def apply(self, sw: Switch, actions) -> None:
        for action in actions:
            if isinstance(action, SendBpdu):
                frame = encode_bpdu(action.bpdu, src=sw.machine.mac,
                                    vid=action.vlan if action.tagged else None)
                sw.sent.append((self.now, action.port, frame))
                far = self.cables.get((sw.name, action.port))
                if far is not None and frozenset({(sw.name, action.port), far}) not in self.silent:
                    self._queue.append((far[0], far[1], frame, action.tagged))
            elif isinstance(action, SetDiscarding):
                key = (action.port, action.vlan)
                if action.discarding:
                    sw.discarding.add(key)
                else:
                    sw.discarding.discard(key)
            elif isinstance(action, FlushVlan):
                sw.flushes += 1

    def drain(self) -> None:
        count = 0
        while self._queue:
            name, port, frame, tagged = self._queue.popleft()
            count += 1
            assert count < MAX_BPDUS_PER_STEP, "BPDU ping-pong: the machines never settle"
            self.bpdus += 1
            sw = self.switches[name]
            vlan = (frame[14] << 8 | frame[15]) & 0xFFF if tagged else 0
            bpdu = decode_bpdu(frame, tagged=tagged)
            self.apply(sw, sw.machine.handle_bpdu(port, vlan, bpdu, self.now))

    def run(self, seconds: float) -> None:
        """Advance the fake clock by ``seconds``, firing every timer due on the way."""
        end = self.now + seconds
        while True:
            deadlines = [(d, sw) for sw in self.switches.values()
                         if (d := sw.machine.next_deadline()) is not None]
            if not deadlines:
                break
            when, sw = min(deadlines, key=lambda item: item[0])
            if when > end:
                break
            self.now = max(self.now, when)
            self.apply(sw, sw.machine.handle_timer(self.now))
            self.drain()
        self.now = end

    def run_until(self, condition, limit: float, step: float = 0.25) -> float:
        """Run until ``condition()`` holds; return the simulated seconds it took (fail after ``limit``)."""
        start = self.now
        while not condition():
            assert self.now - start <= limit, f"no convergence within {limit} s"
            self.run(step)
        return self.now - start

    # ------------------------------------------------------------------ the data plane

    def open_links(self, vlan: int = 0) -> list[tuple[str, str]]:
        """Cables that carry frames: both ends Forwarding and the wire not silent."""
        links = []
        for (a, pa), (b, pb) in self.cables.items():
            if ((a, pa) < (b, pb) and frozenset({(a, pa), (b, pb)}) not in self.silent
                    and (pa, vlan) not in self.switches[a].discarding
                    and (pb, vlan) not in self.switches[b].discarding):
                links.append((a, b))
        return links

    def is_spanning_tree(self, vlan: int = 0) -> bool:
        """Connected, and no loop: exactly n-1 open links that reach every switch."""
        names = list(self.switches)
        links = self.open_links(vlan)
        if len(links) != len(names) - 1:
            return False
        reached, todo = {names[0]}, [names[0]]
        while todo:
            here = todo.pop()
            for a, b in links:
                for x, y in ((a, b), (b, a)):
                    if x == here and y not in reached:
                        reached.add(y)
                        todo.append(y)
        return len(reached) == len(names)

    def roots(self, vlan: int = 0) -> set[bytes]:
        return {sw.machine.vlans[vlan].root for sw in self.switches.values()}

    def blocked_ends(self, vlan: int = 0) -> list[tuple[str, int]]:
        return sorted((sw.name, p) for sw in self.switches.values()
                      for (p, v) in sw.discarding if v == vlan)
