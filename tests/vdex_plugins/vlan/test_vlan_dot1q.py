"""The 802.1Q stages inside a real SwitchEngine: the forwarding matrix of spec §5 / Appendix B.8."""

from __future__ import annotations

import pytest
from vlan_fakes import connect, frame, make_switch

from vdex._core.port import NO_VLAN
from vdex_plugins.vlan._dot1q import dot1q_tag, make_adapter


@pytest.fixture
def lab():
    """B.8's ports: A=1 untagged v0, B=2 untagged v10, C=3 and E=5 untagged v0 + tagged v10,
    D=4 untagged v0; VLAN 20 exists with no member."""
    engine = make_switch()
    engine.create_vlan(10)
    engine.create_vlan(20)
    ports = {}
    for name, number in zip("ABCDE", range(1, 6), strict=True):
        ports[name] = connect(engine, number)
    engine.set_untagged(ports["B"][0], 10)
    engine.add_tagged(ports["C"][0], 10)
    engine.add_tagged(ports["E"][0], 10)
    return engine, ports


def send(lab, name: str, data: bytes) -> dict[str, tuple[int, str]]:
    """Receive ``data`` on port ``name``; return what each other endpoint got (length, bytes 12..17)."""
    _engine, ports = lab
    ports[name][0].receive(data)
    got = {}
    for other, (_port, endpoint) in ports.items():
        frames = endpoint.take()
        assert len(frames) <= 1, f"{other} got {len(frames)} copies"
        if frames:
            got[other] = (len(frames[0]), frames[0][12:18].hex())
    return got


UNTAGGED = (64, "88b550505050")
TAGGED_10 = (68, "8100000a88b5")


def test_untagged_broadcast_stays_in_its_vlan_and_reaches_trunks_untagged(lab):
    assert send(lab, "A", frame(0xFF, 0x0A)) == {"C": UNTAGGED, "D": UNTAGGED, "E": UNTAGGED}


def test_untagged_frame_gets_a_tag_with_pcp_zero_towards_tagged_members(lab):
    assert send(lab, "B", frame(0xFF, 0x0B)) == {"C": TAGGED_10, "E": TAGGED_10}


def test_tagged_frame_is_untagged_towards_untagged_members_and_unchanged_on_trunks(lab):
    assert send(lab, "C", frame(0xFF, 0x0C, vid=10)) == {"B": UNTAGGED, "E": TAGGED_10}


def test_pcp_is_kept_trunk_to_trunk(lab):
    assert send(lab, "C", frame(0xFF, 0x0C, vid=10, pcp=5)) == {
        "B": UNTAGGED, "E": (68, "8100a00a88b5")}


def test_tagged_frame_of_a_vlan_the_port_is_not_in_is_dropped_and_counted(lab):
    port_c = lab[1]["C"][0]
    assert send(lab, "C", frame(0xFF, 0x0C, vid=20)) == {}
    assert port_c.drops.not_member == 1


@pytest.mark.parametrize("vid", [30, 4094, 4095])
def test_undefined_vids_are_dropped_and_counted(lab, vid):
    port_e = lab[1]["E"][0]
    assert send(lab, "E", frame(0xFF, 0x0E, vid=vid)) == {}
    assert port_e.drops.not_member == 1


def test_priority_tagged_frame_is_vlan_0(lab):
    assert send(lab, "A", frame(0xFF, 0x0A, vid=0, size=68)) == {
        "C": UNTAGGED, "D": UNTAGGED, "E": UNTAGGED}


def test_priority_tag_keeps_its_tag_towards_a_tagged_member_of_vlan_0():
    engine = make_switch()
    engine.create_vlan(10)
    a, _ea = connect(engine, 1)
    t, et = connect(engine, 2)
    engine.set_untagged(t, 10)
    engine.add_tagged(t, 0)
    a.receive(frame(0xFF, 0x0A, vid=0, pcp=3, size=68))
    a.receive(frame(0xFF, 0x0A))
    got = [f[12:16].hex() for f in et.take()]
    assert got == ["81006000", "81000000"]


def test_tagged_frame_in_the_ports_own_untagged_vlan_is_accepted(lab):
    assert send(lab, "B", frame(0xFF, 0x0B, vid=10, size=68)) == {"C": TAGGED_10, "E": TAGGED_10}


def test_learning_is_per_vlan(lab):
    send(lab, "B", frame(0xFF, 0x0B))
    send(lab, "C", frame(0xFF, 0x0C, vid=10))
    assert send(lab, "C", frame(0x0B, 0x0C, vid=10)) == {"B": UNTAGGED}
    assert send(lab, "B", frame(0x0C, 0x0B)) == {"C": TAGGED_10}
    # C's MAC is known in VLAN 10 only: in VLAN 0 it is unknown, so flooded there.
    assert send(lab, "A", frame(0x0C, 0x0A)) == {"C": UNTAGGED, "D": UNTAGGED, "E": UNTAGGED}


def test_trunk_to_trunk_and_trunk_to_access(lab):
    assert send(lab, "E", frame(0xFF, 0xEE, vid=10)) == {"B": UNTAGGED, "C": TAGGED_10}


def test_no_untagged_vlan_drops_untagged_frames_but_keeps_tagged_membership(lab):
    engine, ports = lab
    port_c = ports["C"][0]
    engine.set_untagged(port_c, NO_VLAN)
    assert send(lab, "C", frame(0xFF, 0x0C)) == {}
    assert port_c.drops.not_member == 1
    assert send(lab, "C", frame(0xFF, 0x0C, vid=10)) == {"B": UNTAGGED, "E": TAGGED_10}
    assert send(lab, "A", frame(0xFF, 0x0A)) == {"D": UNTAGGED, "E": UNTAGGED}


@pytest.mark.parametrize("size", [14, 15, 16, 17])
def test_runt_tagged_frames_are_dropped_and_counted(lab, size):
    port_c = lab[1]["C"][0]
    runt = frame(0xFF, 0x0C, vid=10)[:size]
    assert send(lab, "C", runt) == {}
    assert port_c.drops.runt == 1


def test_shortest_tagged_frame_is_forwarded_and_stripped_to_a_header(lab):
    shortest = frame(0xFF, 0x0C, vid=10)[:18]
    got = send(lab, "C", shortest)
    assert got == {"B": (14, "88b5"), "E": (18, "8100000a88b5")}


def test_0x88a8_is_not_a_tag(lab):
    s_tagged = frame(0xFF, 0x0A, ethertype=0x88A8)
    assert send(lab, "A", s_tagged) == {
        "C": (64, "88a850505050"), "D": (64, "88a850505050"), "E": (64, "88a850505050")}


def test_membership_change_recompiles_the_classifier(lab):
    engine, ports = lab
    port_c = ports["C"][0]
    engine.remove_tagged(port_c, 10)
    assert send(lab, "C", frame(0xFF, 0x0C, vid=10)) == {}
    assert port_c.drops.not_member == 1
    engine.add_tagged(port_c, 20)
    assert send(lab, "C", frame(0xFF, 0x0C, vid=20)) == {}  # nobody else in VLAN 20
    assert port_c.drops.not_member == 1


def test_tag_bytes():
    assert dot1q_tag(10) == bytes.fromhex("8100000a")
    assert dot1q_tag(4094) == bytes.fromhex("81000ffe")


def test_adapter_for_a_port_that_is_not_a_member_is_none(lab):
    port_a = lab[1]["A"][0]
    assert make_adapter(port_a, 10, port_a.send) is None


def test_maximum_untagged_frame_leaves_a_trunk_as_1522_bytes(lab):
    assert send(lab, "B", frame(0xFF, 0x0B, size=1518)) == {
        "C": (1522, "8100000a88b5"), "E": (1522, "8100000a88b5")}
