"""The switching core: learning, forwarding and flooding over compiled per-port chains.

Nothing here does I/O or reads a clock. Frames come in through ``port.receive(frame)`` (called by
the driver for each frame it reads) and leave through the endpoints' non-blocking ``send``. Time is
``engine.now``, whole seconds set by the driver's tick.

The per-frame path is compiled: when a port goes up or down, a VLAN membership changes or the set of
frame stages changes, :meth:`SwitchEngine.recompile` rebuilds closures for the affected ports. A
frame then runs through plain function calls and dictionary lookups, with no hook call and no
per-frame object other than the address slices it must hash.
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Iterable
from typing import Any, cast

import attrs

from ..errors import PortError
from ..records import Forward, FrameStage, MemberSink, Sink
from .mac_table import MacEntry, MacTable
from .port import NO_VLAN, EndpointLike, Port
from .port_table import PortTable, UserInGroup, _nobody_in_groups

MAX_VLAN = 4095


@attrs.define(eq=False, kw_only=True)
class Domain:
    """One VLAN: its members, its forwarding set and its MAC table."""

    vid: int
    fib: dict[bytes, MacEntry]
    untagged: set[Port] = attrs.Factory(set)
    tagged: set[Port] = attrs.Factory(set)
    discarding: set[Port] = attrs.Factory(set)
    """Members the spanning tree blocks in this VLAN: they neither send nor receive."""
    members: dict[Port, MemberSink] = attrs.Factory(dict)
    """Active, forwarding members and how a frame of this VLAN leaves through each."""
    flood_from: dict[Port, tuple[MemberSink, ...]] = attrs.Factory(dict)
    """Cache: for an ingress port, the sinks a flooded frame goes to (every member but itself)."""
    plain: dict[Port, Sink] = attrs.Factory(dict)
    """The same members, with sinks for frames that arrived untagged (the core's fast path)."""
    plain_flood_from: dict[Port, tuple[Sink, ...]] = attrs.Factory(dict)

    def is_member(self, port: Port) -> bool:
        return port in self.untagged or port in self.tagged

    def flood_targets(self, port: Port) -> tuple[MemberSink, ...]:
        targets = tuple(sink for member, sink in self.members.items() if member is not port)
        self.flood_from[port] = targets
        return targets

    def plain_flood_targets(self, port: Port) -> tuple[Sink, ...]:
        targets = tuple(sink for member, sink in self.plain.items() if member is not port)
        self.plain_flood_from[port] = targets
        return targets

    def forget(self, port: Port) -> None:
        if self.members.pop(port, None) is not None:
            self.flood_from.clear()
            self.plain_flood_from.clear()
        self.plain.pop(port, None)


@attrs.define(eq=False)
class _StageSet:
    stages: list[tuple[str, FrameStage]]

    def by_order(self, field: str) -> list[tuple[str, FrameStage]]:
        return sorted(
            [(owner, s) for owner, s in self.stages if getattr(s, field) is not None],
            key=lambda item: item[1].order,
        )

    def single(self, field: str) -> tuple[str, FrameStage] | None:
        found = self.by_order(field)
        if len(found) > 1:
            owners = ", ".join(f"{s.name!r} of plugin {o!r}" for o, s in found)
            raise PortError(f"only one frame stage may provide {field!r}, got: {owners}")
        return found[0] if found else None


class SwitchEngine:
    """Ports, VLAN domains, the MAC table and the compiled forwarding pipeline of one switch."""

    def __init__(
        self,
        *,
        numports: int = 32,
        hash_size: int = 128,
        hub: bool = False,
        user_in_group: UserInGroup = _nobody_in_groups,
        on_mac_event: Callable[[str, bytes, int, Any], None] | None = None,
        on_mac_move: Callable[[bytes, Any, Any], None] | None = None,
    ) -> None:
        self.ports = PortTable(numports, user_in_group=user_in_group)
        self.macs = MacTable(hash_size=hash_size, on_event=on_mac_event, on_move=on_mac_move)
        self.now = 0
        self._hub = hub
        self._domains: dict[int, Domain] = {}
        self._stages = _StageSet([])
        self.membership_listeners: list[Callable[[], None]] = []
        """Called after any change of VLANs, memberships, port activity or hub mode (the
        spanning tree follows the topology through this, whoever changed it)."""
        self.create_vlan(0)

    # ------------------------------------------------------------------ time

    def tick(self, now: int) -> None:
        """Advance the clock (whole seconds since start) and run due MAC table collection."""
        self.now = now
        self.macs.handle_timer(now)

    def next_deadline(self) -> int | None:
        return self.macs.next_deadline()

    # ------------------------------------------------------------------ hub mode

    @property
    def hub(self) -> bool:
        return self._hub

    @hub.setter
    def hub(self, on: bool) -> None:
        changed = self._hub != bool(on)
        self._hub = bool(on)
        self.recompile()
        if changed:
            self._membership_changed()  # hub mode ignores VLANs: a spanning tree must stop

    # ------------------------------------------------------------------ VLAN domains

    def vlan_ids(self) -> list[int]:
        return sorted(self._domains)

    def domain(self, vid: int) -> Domain | None:
        return self._domains.get(vid)

    def create_vlan(self, vid: int) -> Domain:
        if not 0 <= vid < MAX_VLAN:
            raise PortError(f"VLAN {vid} is out of range 0..4094", errno=errno.EINVAL)
        if vid in self._domains:
            raise PortError(f"VLAN {vid} exists", errno=errno.EEXIST)
        domain = self._domains[vid] = Domain(vid=vid, fib=self.macs.vlan_table(vid))
        for port in self.ports:
            if port.vlan == vid:
                domain.untagged.add(port)
            if vid in port.tagged:
                domain.tagged.add(port)
            self.recompile(port)
        self._membership_changed()
        return domain

    def remove_vlan(self, vid: int) -> None:
        """Remove a VLAN nobody belongs to (EADDRINUSE otherwise, ENXIO if unknown)."""
        domain = self._domains.get(vid)
        if domain is None:
            raise PortError(f"VLAN {vid} does not exist", errno=errno.ENXIO)
        if domain.untagged or domain.tagged:
            raise PortError(f"VLAN {vid} still has member ports", errno=errno.EADDRINUSE)
        del self._domains[vid]
        self.macs.purge(vlan=vid)
        self._membership_changed()

    def set_untagged(self, port: Port, vid: int) -> None:
        """Make ``vid`` the port's untagged VLAN (4095: none); the old one loses the port."""
        if vid != NO_VLAN and vid not in self._domains:
            raise PortError(f"VLAN {vid} does not exist", errno=errno.ENXIO)
        old = self._domains.get(port.vlan)
        if old is not None:
            old.untagged.discard(port)
            self.macs.purge(port=port, vlan=port.vlan)
        port.vlan = vid
        new = self._domains.get(vid)
        if new is not None:
            new.untagged.add(port)
            new.tagged.discard(port)
            port.tagged.discard(vid)
        self.recompile(port)
        self._membership_changed()

    def add_tagged(self, port: Port, vid: int) -> None:
        domain = self._domains.get(vid)
        if domain is None:
            raise PortError(f"VLAN {vid} does not exist", errno=errno.ENXIO)
        port.tagged.add(vid)
        domain.tagged.add(port)
        self.recompile(port)
        self._membership_changed()

    def remove_tagged(self, port: Port, vid: int) -> None:
        domain = self._domains.get(vid)
        if domain is None:
            raise PortError(f"VLAN {vid} does not exist", errno=errno.ENXIO)
        if port.vlan == vid:
            raise PortError(f"VLAN {vid} is the untagged VLAN of port {port.number}",
                            errno=errno.EADDRINUSE)
        port.tagged.discard(vid)
        domain.tagged.discard(port)
        self.macs.purge(port=port, vlan=vid)
        self.recompile(port)
        self._membership_changed()

    def set_discarding(self, port: Port, vid: int, discarding: bool) -> None:
        """Block (spanning tree Discarding) or unblock ``port`` in ``vid``."""
        domain = self._domains.get(vid)
        if domain is None:
            return
        if discarding == (port in domain.discarding):
            return
        if discarding:
            domain.discarding.add(port)
            self.macs.purge(port=port, vlan=vid)
        else:
            domain.discarding.discard(port)
        self.recompile(port)

    def is_forwarding(self, port: Port, vid: int) -> bool:
        domain = self._domains.get(vid)
        return domain is not None and port not in domain.discarding

    # ------------------------------------------------------------------ ports and endpoints

    def add_port(self, port: Port) -> None:
        """Enrol a new slot from the port table in its VLANs (untagged VLAN 0 by default)."""
        domain = self._domains.get(port.vlan)
        if domain is not None:
            domain.untagged.add(port)
        for vid in port.tagged:
            if vid in self._domains:
                self._domains[vid].tagged.add(port)

    def forget_port(self, port: Port) -> None:
        """A slot was removed from the port table: leave every VLAN."""
        for domain in self._domains.values():
            domain.untagged.discard(port)
            domain.tagged.discard(port)
            domain.discarding.discard(port)
            domain.forget(port)
        self._membership_changed()

    def _membership_changed(self) -> None:
        for listener in list(self.membership_listeners):
            listener()

    def attach(self, port: Port, endpoint: EndpointLike) -> bool:
        """Add an endpoint to ``port``; returns True if the port just became active."""
        first = not port.endpoints
        port.endpoints.insert(0, endpoint)
        if first:
            port.curuser = endpoint.uid
        self.recompile(port)
        if first:
            self._membership_changed()
        return first

    def detach(self, port: Port, endpoint: EndpointLike) -> bool:
        """Remove an endpoint; returns True if the port just became inactive."""
        try:
            port.endpoints.remove(endpoint)
        except ValueError:
            return False
        if port.endpoints:
            self.recompile(port)
            return False
        port.curuser = None
        self.macs.purge(port=port)
        self.recompile(port)
        self._membership_changed()
        return True

    # ------------------------------------------------------------------ frame stages

    def set_stages(self, stages: Iterable[tuple[str, FrameStage]]) -> None:
        """Replace the frame stages (``(owner, stage)`` pairs) and recompile every port."""
        candidate = _StageSet(list(stages))
        candidate.single("classify")
        candidate.single("adapt")
        self._stages = candidate
        self.recompile()

    def recompile(self, port: Port | None = None) -> None:
        """Rebuild the per-frame closures of one port, or of every port (hub mode: always all)."""
        targets = list(self.ports) if port is None or self._hub else [port]
        for p in targets:
            self._compile_port(p)

    def _compile_port(self, port: Port) -> None:
        if not port.active:
            port.receive = port.send = _discard
            self._compile_membership(port)
            return
        transmit = port.compile_transmit()
        send: Sink = transmit
        for _owner, stage in self._stages.by_order("egress"):
            assert stage.egress is not None
            send = stage.egress(port, send) or send
        port.send = send
        # Without egress stages the compiled transmit also takes (frame, tagged): it can be the
        # VLAN member sink itself, one call less per frame.
        port_member_sink = transmit if send is transmit else None

        # Membership first: the fused receive below captures the port's forwarding state.
        self._compile_membership(port, port_member_sink)
        classify = self._stages.single("classify")
        classifier = classify[1] if classify else None
        vlan_stages = self._stages.by_order("vlan_ingress")
        if self._hub:
            receive = self._make_hub(port)
        else:
            core_forward: Forward = self._make_forward(port)
            forward = core_forward
            for _owner, stage in reversed(vlan_stages):
                assert stage.vlan_ingress is not None
                forward = stage.vlan_ingress(port, forward) or forward
            # A stage that applies to no frame of this port (a disabled spanning tree) returns
            # None from its factory: the port keeps the fast path.
            inspected = forward is not core_forward
            general = (classifier.classify(port, forward) if classifier and classifier.classify
                       else None) or _default_classifier(port, forward)
            if inspected or (classifier is not None and not classifier.untagged_fast_path):
                receive = general
            else:
                receive = self._make_untagged_receive(
                    port, tagged=general if classifier is not None else None)
        for _owner, stage in reversed(self._stages.by_order("ingress")):
            assert stage.ingress is not None
            receive = stage.ingress(port, receive) or receive
        port.receive = receive

    def _compile_membership(self, port: Port, direct: Callable[..., None] | None = None) -> None:
        found = self._stages.single("adapt")
        adapter = found[1] if found else None
        for vid, domain in self._domains.items():
            had = port in domain.members
            domain.forget(port)
            wanted = (port.active and not self._hub and domain.is_member(port)
                      and port not in domain.discarding)
            if wanted:
                sink = adapter.adapt(port, vid, port.send) if adapter and adapter.adapt else None
                member = sink or direct or _default_member_sink(port.send)
                domain.members[port] = member
                # Untagged frames to an untagged member need no adapting when the stage says so,
                # and its sinks take the frame alone for untagged frames.
                fast = adapter is not None and adapter.untagged_fast_path
                if sink is None or (fast and port in domain.untagged):
                    domain.plain[port] = port.send if direct is None else direct
                elif fast:
                    domain.plain[port] = cast(Sink, sink)  # the contract: callable with the frame alone
                else:
                    domain.plain[port] = _untagged_into(member)
            if had or wanted:
                domain.flood_from.clear()
                domain.plain_flood_from.clear()

    # ------------------------------------------------------------------ the per-frame functions

    def _make_hub(self, port: Port) -> Sink:
        # Bind the ports, not their ``send``: a recompile rebuilds every port one after the
        # other, so another port's ``send`` may still be the old one (or the discard sink of a
        # port that was inactive) when this closure is built.
        targets = tuple(p for p in self.ports if p.active and p is not port and p.number != 0)

        def hub_receive(frame: bytes) -> None:
            for target in targets:
                target.send(frame)

        return hub_receive

    def _make_forward(self, port: Port) -> Forward:
        """Learning and forwarding for frames of any VLAN received on ``port`` (after a classifier
        or VLAN ingress stages). Lookups are bound here so the per-frame code only calls them."""
        domains_get = self._domains.get
        drops = port.drops
        learn = self.macs.learn
        engine = self

        def forward(frame: bytes, vlan: int, tagged: bool) -> None:
            domain = domains_get(vlan)
            if domain is None:
                drops.not_member += 1
                return
            members = domain.members
            if port not in members:
                if port in domain.discarding:
                    drops.discarding += 1
                else:
                    drops.not_member += 1
                return
            fib_get = domain.fib.get
            if not frame[6] & 1:
                src = frame[6:12]
                entry = fib_get(src)
                if entry is not None and entry.port is port:
                    entry.seen = engine.now
                else:
                    learn(src, vlan, port, engine.now)
            if not frame[0] & 1:
                entry = fib_get(frame[0:6])
                if entry is not None:
                    out = entry.port
                    if out is not port:
                        sink = members.get(out)
                        if sink is not None:
                            sink(frame, tagged)
                    return
            targets = domain.flood_from.get(port)
            if targets is None:
                targets = domain.flood_targets(port)
            for sink in targets:
                sink(frame, tagged)

        return forward

    def _make_untagged_receive(self, port: Port, tagged: Sink | None = None) -> Sink:
        """The core's fast path for untagged frames, used when no stage needs to see them: the
        port's VLAN and membership are known at compile time, so classification and membership
        tests fold away. ``tagged``: where frames with an 802.1Q tag go instead (the VLAN
        plugin's classifier); None treats them like any frame (a VLAN-unaware switch)."""
        drops = port.drops
        domain = self._domains.get(port.vlan)
        if domain is None or port not in domain.members:
            if tagged is not None:
                return tagged  # the classifier knows what else this port may carry
            discarding = domain is not None and port in domain.discarding

            def refuse(_frame: bytes) -> None:
                if discarding:
                    drops.discarding += 1
                else:
                    drops.not_member += 1

            return refuse
        vlan = domain.vid
        fib_get = domain.fib.get
        members_get = domain.plain.get
        flood_get = domain.plain_flood_from.get
        flood_targets = domain.plain_flood_targets
        learn = self.macs.learn
        engine = self

        def receive(frame: bytes) -> None:
            if tagged is not None and frame[12] == 0x81 and frame[13] == 0:
                tagged(frame)
                return
            if not frame[6] & 1:
                src = frame[6:12]
                entry = fib_get(src)
                if entry is not None and entry.port is port:
                    entry.seen = engine.now
                else:
                    learn(src, vlan, port, engine.now)
            if not frame[0] & 1:
                entry = fib_get(frame[0:6])
                if entry is not None:
                    out = entry.port
                    if out is not port:
                        sink = members_get(out)
                        if sink is not None:
                            sink(frame)
                    return
            targets = flood_get(port)
            if targets is None:
                targets = flood_targets(port)
            for sink in targets:
                sink(frame)

        return receive


def _discard(_frame: bytes) -> None:
    """Receive/send of an inactive port."""


def _default_classifier(port: Port, forward: Forward) -> Sink:
    """Without a VLAN plugin every frame belongs to the port's untagged VLAN, tags untouched."""
    vid = port.vlan
    drops = port.drops
    if vid == NO_VLAN:

        def refuse(_frame: bytes) -> None:
            drops.not_member += 1

        return refuse

    def classify(frame: bytes) -> None:
        forward(frame, vid, False)

    return classify


def _untagged_into(member: MemberSink) -> Sink:
    def send_untagged(frame: bytes) -> None:
        member(frame, False)

    return send_untagged


def _default_member_sink(send: Sink) -> MemberSink:
    def member_send(frame: bytes, _tagged: bool) -> None:
        send(frame)

    return member_send
