"""The forwarding engine without I/O: flooding, learning per VLAN, hub mode, counters, drops."""

from __future__ import annotations

from typing import Any

import pytest

from vdex._core.engine import SwitchEngine
from vdex._core.port import NO_VLAN, Port
from vdex.records import FrameStage, Sink
from vdex.testing import eth_frame, mac
from vdex.testing.frames import BROADCAST

MULTICAST = bytes.fromhex("01005e000001")


class Ep:
    """An endpoint that records what the switch sends it."""

    _next = 100

    def __init__(self, uid: int | None = 0) -> None:
        Ep._next += 1
        self.id = Ep._next
        self.uid = uid
        self.got: list[bytes] = []

    def send(self, frame: bytes) -> None:
        self.got.append(frame)

    def take(self) -> list[bytes]:
        got, self.got = self.got, []
        return got


class Rig:
    def __init__(self, **kwargs: Any) -> None:
        self.events: list[tuple[str, bytes, int, int]] = []
        self.moves: list[tuple[bytes, int, int]] = []
        self.engine = SwitchEngine(
            on_mac_event=lambda k, m, v, p: self.events.append((k, m, v, p.number)),
            on_mac_move=lambda m, a, b: self.moves.append((m, a.number, b.number)),
            **kwargs)

    def connect(self, requested: int = 0, uid: int | None = 0) -> tuple[Port, Ep]:
        port, created = self.engine.ports.choose_for_client(uid, requested)
        if created:
            self.engine.add_port(port)
        ep = Ep(uid)
        self.engine.attach(port, ep)
        return port, ep

    def clients(self, n: int) -> list[tuple[Port, Ep]]:
        return [self.connect() for _ in range(n)]


def nothing_for(*eps: Ep) -> None:
    for ep in eps:
        assert ep.take() == [], f"endpoint {ep.id} got a frame"


@pytest.mark.parametrize("dst", [BROADCAST, MULTICAST, mac(99)],
                         ids=["broadcast", "multicast", "unknown-unicast"])
def test_floods_to_every_other_port(dst: bytes) -> None:
    rig = Rig()
    (pa, a), (_pb, b), (_pc, c) = rig.clients(3)
    frame = eth_frame(dst, mac(1), b"flood")
    pa.receive(frame)
    assert b.take() == [frame] and c.take() == [frame]
    nothing_for(a)


def test_learnt_unicast_goes_to_one_port_only() -> None:
    rig = Rig()
    (pa, a), (pb, b), (_pc, c) = rig.clients(3)
    pa.receive(eth_frame(BROADCAST, mac(1)))
    b.take(), c.take()
    frame = eth_frame(mac(1), mac(2), b"to a")
    pb.receive(frame)
    assert a.take() == [frame]
    nothing_for(b, c)
    assert rig.events == [("+", mac(1), 0, 1), ("+", mac(2), 0, 2)]


def test_unicast_to_the_ingress_port_is_dropped() -> None:
    rig = Rig()
    (pa, a), (_pb, b) = rig.clients(2)
    pa.receive(eth_frame(BROADCAST, mac(1)))
    b.take()
    pa.receive(eth_frame(mac(1), mac(3), b"hairpin"))
    nothing_for(a, b)


def test_multicast_sources_are_not_learnt() -> None:
    rig = Rig()
    (pa, _a), (pb, b), (_pc, c) = rig.clients(3)
    pa.receive(eth_frame(BROADCAST, MULTICAST))
    assert len(rig.engine.macs) == 0
    b.take(), c.take()
    frame = eth_frame(MULTICAST, mac(2))
    pb.receive(frame)
    assert c.take() == [frame]


def test_learning_is_per_vlan() -> None:
    """B.8: a MAC known only in VLAN 10 is unknown in VLAN 0, so frames to it flood there."""
    rig = Rig()
    engine = rig.engine
    engine.create_vlan(10)
    (pa, a), (pb, b), (pc, c), (_pd, d) = rig.clients(4)
    engine.set_untagged(pb, 10)
    engine.set_untagged(pc, 10)
    pb.receive(eth_frame(BROADCAST, mac(2)))
    assert c.take() == [eth_frame(BROADCAST, mac(2))]
    nothing_for(a, d)
    assert engine.macs.lookup(mac(2), 10).port is pb
    assert engine.macs.lookup(mac(2), 0) is None
    frame = eth_frame(mac(2), mac(1))
    pa.receive(frame)
    assert d.take() == [frame]
    nothing_for(b, c)
    pc.receive(eth_frame(mac(2), mac(3)))
    assert b.take() == [eth_frame(mac(2), mac(3))]


def test_same_mac_learnt_in_two_vlans_independently() -> None:
    rig = Rig()
    engine = rig.engine
    engine.create_vlan(10)
    (pa, _a), (pb, _b), (pc, _c) = rig.clients(3)
    engine.set_untagged(pc, 10)
    pa.receive(eth_frame(BROADCAST, mac(7)))
    pc.receive(eth_frame(BROADCAST, mac(7)))
    assert engine.macs.lookup(mac(7), 0).port is pa
    assert engine.macs.lookup(mac(7), 10).port is pc
    assert rig.moves == []
    del pb


def test_moves_follow_min_persistence_and_are_reported_once() -> None:
    rig = Rig()
    engine = rig.engine
    (pa, _a), (pb, _b), (_pc, _c) = rig.clients(3)
    pa.receive(eth_frame(BROADCAST, mac(5)))
    engine.tick(3)
    pb.receive(eth_frame(BROADCAST, mac(5)))
    assert engine.macs.lookup(mac(5), 0).port is pa
    assert rig.moves == []
    engine.tick(4)
    pb.receive(eth_frame(BROADCAST, mac(5)))
    assert engine.macs.lookup(mac(5), 0).port is pb
    assert rig.moves == [(mac(5), 1, 2)]


def test_entries_age_out_with_the_engine_clock() -> None:
    rig = Rig()
    engine = rig.engine
    (pa, _a), (_pb, _b) = rig.clients(2)
    pa.receive(eth_frame(BROADCAST, mac(1)))
    for now in range(1, 102):
        engine.tick(now)
    assert engine.macs.lookup(mac(1), 0) is not None
    engine.tick(102)
    assert engine.macs.lookup(mac(1), 0) is None
    assert rig.events[-1] == ("-", mac(1), 0, 1)
    assert engine.next_deadline() == 104


def test_traffic_refreshes_entries_on_the_fast_path() -> None:
    rig = Rig()
    engine = rig.engine
    (pa, _a), (_pb, _b) = rig.clients(2)
    pa.receive(eth_frame(BROADCAST, mac(1)))
    engine.tick(60)
    pa.receive(eth_frame(BROADCAST, mac(1)))
    assert engine.macs.lookup(mac(1), 0).seen == 60
    engine.tick(102)
    assert engine.macs.lookup(mac(1), 0) is not None


def test_a_port_without_untagged_vlan_drops_and_counts() -> None:
    rig = Rig()
    engine = rig.engine
    (pa, _a), (_pb, b) = rig.clients(2)
    engine.set_untagged(pa, NO_VLAN)
    pa.receive(eth_frame(BROADCAST, mac(1)))
    nothing_for(b)
    assert pa.drops.not_member == 1
    assert len(engine.macs) == 0


def test_discarding_ports_neither_send_nor_receive() -> None:
    rig = Rig()
    engine = rig.engine
    (pa, a), (pb, b), (_pc, c) = rig.clients(3)
    engine.set_discarding(pb, 0, True)
    assert not engine.is_forwarding(pb, 0)
    pa.receive(eth_frame(BROADCAST, mac(1)))
    assert len(c.take()) == 1
    nothing_for(b)
    pb.receive(eth_frame(BROADCAST, mac(2)))
    nothing_for(a, c)
    assert pb.drops.discarding == 1
    engine.set_discarding(pb, 0, False)
    pb.receive(eth_frame(BROADCAST, mac(2)))
    assert len(a.take()) == 1 and len(c.take()) == 1


def test_out_counters_count_frames_and_bytes_per_port() -> None:
    rig = Rig()
    (pa, _a), (pb, _b), (pc, _c) = rig.clients(3)
    pa.receive(eth_frame(BROADCAST, mac(1), bytes(46)))  # 60 bytes
    pb.receive(eth_frame(mac(1), mac(2), bytes(86)))  # 100 bytes to a
    assert (pa.out_frames, pa.out_bytes) == (1, 100)
    assert (pb.out_frames, pb.out_bytes) == (1, 60)
    assert (pc.out_frames, pc.out_bytes) == (1, 60)
    pc.reset_counters()
    assert (pc.out_frames, pc.out_bytes) == (0, 0)


def test_several_endpoints_on_one_port_never_see_each_others_frames() -> None:
    rig = Rig()
    port, first = rig.connect(3, uid=1000)
    same, second = rig.connect(3, uid=1000)
    assert same is port and port.endpoints == [second, first]
    _pb, b = rig.connect()
    port.receive(eth_frame(BROADCAST, mac(1), b"from first"))
    assert len(b.take()) == 1
    nothing_for(first, second)
    frame = eth_frame(BROADCAST, mac(2), b"to both")
    _pb.receive(frame)
    assert first.take() == [frame] and second.take() == [frame]
    assert (port.out_frames, port.out_bytes) == (1, len(frame)), "counted once per port"


def test_detaching_the_last_endpoint_purges_the_ports_addresses() -> None:
    rig = Rig()
    engine = rig.engine
    (pa, a), (pb, b), (_pc, c) = rig.clients(3)
    pa.receive(eth_frame(BROADCAST, mac(1)))
    b.take(), c.take()
    assert engine.detach(pa, a) is True
    assert not pa.active and pa.curuser is None
    assert engine.macs.lookup(mac(1), 0) is None
    assert ("-", mac(1), 0, 1) in rig.events
    pb.receive(eth_frame(mac(1), mac(2)))
    assert c.take() == [eth_frame(mac(1), mac(2))], "unknown again: flooded"
    nothing_for(a)
    pa.receive(eth_frame(BROADCAST, mac(1)))
    nothing_for(b, c)
    assert engine.detach(pa, a) is False


def test_port_0_switches_like_any_port() -> None:
    rig = Rig()
    (p0, zero) = rig.connect(-1)
    (pa, a) = rig.connect()
    assert p0.number == 0
    pa.receive(eth_frame(BROADCAST, mac(1)))
    assert len(zero.take()) == 1
    p0.receive(eth_frame(mac(1), mac(2)))
    assert len(a.take()) == 1


def test_hub_mode_sends_everything_everywhere_but_port_0() -> None:
    rig = Rig(hub=True)
    engine = rig.engine
    engine.create_vlan(10)
    (p0, zero) = rig.connect(-1)
    (pa, a), (pb, b), (pc, c) = rig.clients(3)
    engine.set_untagged(pc, 10)
    pa.receive(eth_frame(BROADCAST, mac(1)))
    pb.receive(eth_frame(mac(1), mac(2)))
    assert len(a.take()) == 1
    assert len(b.take()) == 1
    assert len(c.take()) == 2, "VLANs are ignored in hub mode"
    nothing_for(zero)
    assert len(engine.macs) == 0, "a hub learns nothing"
    p0.receive(eth_frame(BROADCAST, mac(3)))
    assert len(a.take()) == len(b.take()) == len(c.take()) == 1


def test_hub_mode_toggles_at_run_time() -> None:
    rig = Rig()
    engine = rig.engine
    (pa, a), (pb, b), (_pc, c) = rig.clients(3)
    pa.receive(eth_frame(BROADCAST, mac(1)))
    b.take(), c.take()
    engine.hub = True
    pb.receive(eth_frame(mac(1), mac(2)))
    assert len(a.take()) == 1 and len(c.take()) == 1
    engine.hub = False
    pb.receive(eth_frame(mac(1), mac(2)))
    assert len(a.take()) == 1
    nothing_for(c)


def test_a_port_joining_in_hub_mode_gets_frames() -> None:
    """Regression: the hub closures of older ports kept the discard sink of a port that was
    inactive when they were built, so a port joining a hub got nothing from lower ports."""
    rig = Rig(hub=True)
    (pa, a), = rig.clients(1)
    pb, b = rig.connect()
    pa.receive(eth_frame(mac(9), mac(1)))
    assert len(b.take()) == 1
    same, b2 = rig.connect(pb.number)
    assert same is pb
    pa.receive(eth_frame(mac(9), mac(1)))
    assert len(b.take()) == 1 and len(b2.take()) == 1, "a second endpoint joined the port"
    pb.receive(eth_frame(mac(9), mac(2)))
    assert len(a.take()) == 1


def test_tagged_frames_without_a_vlan_plugin_stay_in_the_ports_vlan() -> None:
    rig = Rig()
    (pa, _a), (_pb, b) = rig.clients(2)
    frame = eth_frame(BROADCAST, mac(1), vid=20, pcp=5)
    pa.receive(frame)
    assert b.take() == [frame]


def test_removed_vlan_and_membership_checks() -> None:
    engine = Rig().engine
    with pytest.raises(Exception, match="exists"):
        engine.create_vlan(0)
    engine.create_vlan(20)
    port, _ = engine.ports.choose_for_client(0, 0)
    engine.add_port(port)
    engine.add_tagged(port, 20)
    with pytest.raises(Exception, match="member"):
        engine.remove_vlan(20)
    engine.remove_tagged(port, 20)
    engine.remove_vlan(20)
    assert engine.vlan_ids() == [0]


def test_stages_run_in_order_on_ingress_and_egress() -> None:
    rig = Rig()
    seen: list[str] = []

    def stage(name: str, order: int) -> FrameStage:
        def ingress(_port: Port, nxt: Sink) -> Sink:
            def run(frame: bytes) -> None:
                seen.append(f"in-{name}")
                nxt(frame)
            return run

        def egress(_port: Port, nxt: Sink) -> Sink:
            def run(frame: bytes) -> None:
                seen.append(f"out-{name}")
                nxt(frame)
            return run

        return FrameStage(name=name, order=order, ingress=ingress, egress=egress)

    rig.engine.set_stages([("p", stage("b", 2)), ("p", stage("a", 1))])
    (pa, _a), (_pb, b) = rig.clients(2)
    pa.receive(eth_frame(BROADCAST, mac(1)))
    assert seen == ["in-a", "in-b", "out-b", "out-a"]
    assert len(b.take()) == 1
    rig.engine.set_stages([])
    seen.clear()
    pa.receive(eth_frame(BROADCAST, mac(1)))
    assert seen == [] and len(b.take()) == 1


def test_a_dropping_stage_counts_as_filtered() -> None:
    rig = Rig()

    def ingress(port: Port, _nxt: Sink) -> Sink:
        def drop(_frame: bytes) -> None:
            port.drops.filtered += 1
        return drop

    rig.engine.set_stages([("p", FrameStage(name="drop", ingress=ingress))])
    (pa, _a), (_pb, b) = rig.clients(2)
    pa.receive(eth_frame(BROADCAST, mac(1)))
    nothing_for(b)
    assert pa.drops.filtered == 1
