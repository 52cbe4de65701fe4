"""Binds an FSTP machine to a SwitchEngine: BPDUs in and out, blocking, membership.

Still sans-I/O: the engine's ports send through their endpoints' non-blocking ``send``, and time
comes from ``clock`` (default: the engine's clock ``engine.now``, whole seconds since the switch
started) unless a caller passes ``now``. The trio side (``_runtime``) only has to:

* add :meth:`FstpController.frame_stage` to the switch's frame stages;
* call :meth:`FstpController.sync` after anything that changes VLAN membership or port activity
  (it listens to ``engine.membership_listeners``);
* call :meth:`FstpController.tick` when :meth:`FstpController.next_deadline` is due, and sleep
  less when ``on_deadline`` reports an earlier deadline.
"""

from __future__ import annotations

from collections.abc import Callable

from vdex._core.engine import SwitchEngine
from vdex._core.port import NO_VLAN, Port
from vdex.errors import FrameError
from vdex.records import FrameStage, Sink

from ._actions import Action, FlushVlan, SendBpdu, SetDiscarding
from ._bpdu import BPDU_MAC, decode_bpdu, encode_bpdu
from ._machine import FstpMachine

STAGE_ORDER = -100
"""Close to the wire (a link emulator at -1000 still sees BPDUs first), before other stages."""


class FstpController:
    """One switch's FSTP: the protocol machine plus what it needs from the engine."""

    def __init__(self, engine: SwitchEngine, *, mac: bytes, priority: int = 0x8000,
                 on_action: Callable[[Action], None] | None = None,
                 on_bad_bpdu: Callable[[Port, FrameError], None] | None = None,
                 clock: Callable[[], float] | None = None,
                 on_deadline: Callable[[float | None], None] | None = None) -> None:
        self.engine = engine
        self.clock: Callable[[], float] = clock or (lambda: engine.now)
        """The machine's time in seconds (any origin; the runtime uses trio's clock)."""
        self.on_deadline = on_deadline
        """Called with :meth:`next_deadline` after anything that may have moved it."""
        self.machine = FstpMachine(mac=mac, priority=priority)
        self.on_action = on_action
        """Called with every action applied (debug events ``fstp/status``, ``fstp/root``, ...)."""
        self.on_bad_bpdu = on_bad_bpdu
        """Called for each frame to 01:80:c2:00:00:00 that is not a BPDU FSTP understands."""
        self.bad_bpdus = 0

    # ------------------------------------------------------------------ control

    @property
    def enabled(self) -> bool:
        return self.machine.enabled

    def set_enabled(self, on: bool, now: float | None = None) -> None:
        """``fstp/setfstp``: recompiles every port, since only an enabled FSTP consumes BPDUs."""
        now = self.clock() if now is None else now
        if on == self.machine.enabled:
            return
        self.sync(now)
        self.apply(self.machine.set_enabled(on, now))
        self.engine.recompile()

    def sync(self, now: float | None = None) -> None:
        """Bring the machine's VLANs and active members in line with the engine."""
        now = self.clock() if now is None else now
        machine, engine = self.machine, self.engine
        defined = set(engine.vlan_ids())
        for vid in [v for v in machine.vlans if v not in defined]:
            tree = machine.vlans[vid]
            for number in list(tree.members):
                self.apply(machine.port_down(number, vid, now))
            machine.remove_vlan(vid)
        for vid in sorted(defined):
            domain = engine.domain(vid)
            assert domain is not None
            tree = machine.add_vlan(vid)
            wanted = {p.number: p.vlan != vid for p in domain.untagged | domain.tagged if p.active}
            for number in sorted(tree.members):
                if wanted.get(number) != tree.members[number].tagged:
                    self.apply(machine.port_down(number, vid, now))
            for number, tagged in sorted(wanted.items()):
                if number not in tree.members:
                    self.apply(machine.port_up(number, vid, tagged, now))

    def next_deadline(self) -> float | None:
        return self.machine.next_deadline()

    def tick(self, now: float | None = None) -> None:
        now = self.clock() if now is None else now
        deadline = self.machine.next_deadline()
        if deadline is not None and deadline <= now:
            self.apply(self.machine.handle_timer(now))

    # ------------------------------------------------------------------ the data path

    def frame_stage(self) -> FrameStage:
        """The ``ingress`` stage that takes BPDUs out of the data path while FSTP is on.

        It looks at raw frames, closest to the wire after link emulation, and classifies only
        the frames sent to the spanning tree address itself: every other frame goes straight on
        to the core, which keeps its untagged fast path. (As a ``vlan_ingress`` stage it would
        force every frame through the general classify-and-forward path.)"""
        return FrameStage(name="fstp", order=STAGE_ORDER, ingress=self._make_ingress)

    def _make_ingress(self, port: Port, receive: Sink) -> Sink | None:
        if not self.machine.enabled:
            return None  # FSTP off: BPDUs are flooded like any multicast, as in vde_switch
        received = self.bpdu_received
        untagged = port.vlan
        drops = port.drops

        def fstp_ingress(frame: bytes) -> None:
            if frame[0] != 0x01 or frame[:6] != BPDU_MAC:
                receive(frame)
            elif frame[12] == 0x81 and frame[13] == 0x00:
                if len(frame) < 18:
                    drops.runt += 1
                else:
                    received(port, frame, ((frame[14] & 0x0F) << 8) | frame[15], True)
            elif untagged == NO_VLAN:
                drops.not_member += 1
            else:
                received(port, frame, untagged, False)

        return fstp_ingress

    def bpdu_received(self, port: Port, frame: bytes, vlan: int, tagged: bool) -> None:
        """A frame to the spanning tree address: consumed, whatever it holds."""
        try:
            bpdu = decode_bpdu(frame, tagged=tagged)
        except FrameError as error:
            self.bad_bpdus += 1
            port.drops.filtered += 1
            if self.on_bad_bpdu is not None:
                self.on_bad_bpdu(port, error)
            return
        tree = self.machine.vlans.get(vlan)
        if tree is None or port.number not in tree.members:
            port.drops.not_member += 1  # what the VLAN classifier would have dropped
            return
        self.apply(self.machine.handle_bpdu(port.number, vlan, bpdu, self.clock()))

    def apply(self, actions: list[Action]) -> None:
        """Carry out the machine's actions on the engine, in order."""
        engine = self.engine
        for action in actions:
            if isinstance(action, SendBpdu):
                port = engine.ports.get(action.port)
                if port is not None and port.active:
                    port.send(encode_bpdu(action.bpdu, src=self.machine.mac,
                                          vid=action.vlan if action.tagged else None))
            elif isinstance(action, SetDiscarding):
                port = engine.ports.get(action.port)
                if port is not None:
                    engine.set_discarding(port, action.vlan, action.discarding)
            elif isinstance(action, FlushVlan):
                engine.macs.purge(vlan=action.vlan)
            if self.on_action is not None:
                self.on_action(action)
        if self.on_deadline is not None:
            self.on_deadline(self.machine.next_deadline())
