"""FSTP inside whole SwitchEngines: no storm in a ring, healing, tagged trunks, bad BPDUs."""

from __future__ import annotations

import pytest
from fstp_lab import Lab

from vdex_plugins.fstp._commands import fstp_print
from vdex_plugins.vlan._commands import port_setvlan, vlan_addport, vlan_create, vlan_print

BROADCAST = bytes.fromhex("ffffffffffff02000000aaaa88b5") + b"\x50" * 50


def ring(*, fstp: bool = True) -> tuple[Lab, dict]:
    lab = Lab()
    for name, mac in (("A", "02:00:00:00:00:0a"), ("B", "02:00:00:00:00:0b"),
                      ("C", "02:00:00:00:00:0c")):
        lab.switch(name, mac, fstp=fstp)
    stations = {name: lab.station(name, 1) for name in "ABC"}
    lab.cable("A", 2, "B", 3)
    lab.cable("B", 2, "C", 3)
    lab.cable("C", 2, "A", 3)
    lab.run(8)
    return lab, stations


def broadcast_once(lab: Lab, stations: dict) -> dict[str, int]:
    for station in stations.values():
        station.frames.clear()
    lab.nodes["A"].port(1).receive(BROADCAST)
    lab.pump()
    return {name: len(s.data_frames()) for name, s in stations.items()}


def test_without_fstp_a_ring_storms():
    lab, stations = ring(fstp=False)
    with pytest.raises(AssertionError, match="storm"):
        broadcast_once(lab, stations)


def test_ring_of_three_broadcast_arrives_once_and_heals_after_a_cut():
    lab, stations = ring()
    assert broadcast_once(lab, stations) == {"A": 0, "B": 1, "C": 1}
    blocked = [(n, p.number) for n, node in lab.nodes.items() for p in node.engine.ports
               if not node.engine.is_forwarding(p, 0)]
    assert blocked == [("C", 3)]
    lab.cut("A", 2)  # A-B: B's root port
    assert broadcast_once(lab, stations) == {"A": 0, "B": 1, "C": 1}
    lab.run(20)
    assert broadcast_once(lab, stations) == {"A": 0, "B": 1, "C": 1}
    lab.cable("A", 2, "B", 3)  # plugged back: a loop again, and still no storm
    assert broadcast_once(lab, stations) == {"A": 0, "B": 1, "C": 1}
    lab.run(20)
    assert broadcast_once(lab, stations) == {"A": 0, "B": 1, "C": 1}


def test_b6_two_switches_two_cables():
    """B.6: S1 (root) and S2 joined by two cables on ports 5 and 6, a client on port 1 of each."""
    lab = Lab()
    s1 = lab.switch("S1", "02:00:00:00:5a:01")
    s2 = lab.switch("S2", "02:00:00:00:5a:02")
    c1, c2 = lab.station("S1", 1), lab.station("S2", 1)
    lab.cable("S1", 5, "S2", 5)
    lab.cable("S1", 6, "S2", 6)
    lab.run(7)
    c2.frames.clear()
    s1.port(1).receive(BROADCAST)
    lab.pump()
    assert len(c2.data_frames()) == 1 and c1.data_frames() == []
    assert fstp_print(s2.fstp, "") == [
        "FST DATA VLAN 0000  ",
        " ++ root 80:00:02:00:00:00:5a:01",
        " ++ designated 80:00:02:00:00:00:5a:01",
        " ++ rootport 0005 cost 20000000 age 3 bonusport 0000 bonuscost 0",
        " -- Port 0001 tagged=0 portcost=20000000 role=Designated",
        " -- Port 0005 tagged=0 portcost=20000000 role=Root",
        " -- Port 0006 tagged=0 portcost=20000000 role=Alternate/Backup"]
    # vde_switch blocks S1's port 6 too; vdex keeps the designated end forwarding
    assert fstp_print(s1.fstp, "")[0] == "FST DATA VLAN 0000 ROOTSWITCH "
    assert fstp_print(s1.fstp, "")[-1] == (
        " -- Port 0006 tagged=0 portcost=20000000 role=Designated")
    assert vlan_print(s2.engine, "") == [
        "VLAN 0000",
        " -- Port 0001 tagged=0 active=1 status=Forwarding",
        " -- Port 0005 tagged=0 active=1 status=Forwarding",
        " -- Port 0006 tagged=0 active=1 status=Discarding"]


def test_per_vlan_trees_over_tagged_trunks():
    """Two switches, two trunks carrying VLAN 10 tagged: VLAN 10 has its own tree, its BPDUs are
    tagged, and VLAN 10 traffic crosses once while VLAN 0 stays apart."""
    lab = Lab()
    s1 = lab.switch("S1", "02:00:00:00:00:01")
    s2 = lab.switch("S2", "02:00:00:00:00:02")
    for node in (s1, s2):
        vlan_create(node.engine, "10")
        node.fstp.sync(lab.now)
    h1, h2 = lab.station("S1", 1), lab.station("S2", 1)
    for node in (s1, s2):
        port_setvlan(node.engine, "1 10")
        node.fstp.sync(lab.now)
    lab.cable("S1", 5, "S2", 5)
    lab.cable("S1", 6, "S2", 6)
    for node in (s1, s2):
        vlan_addport(node.engine, "10 5")
        vlan_addport(node.engine, "10 6")
        node.fstp.sync(lab.now)
    lab.pump()
    lab.run(10)
    assert not s2.engine.is_forwarding(s2.engine.ports.get(6), 10)
    assert not s2.engine.is_forwarding(s2.engine.ports.get(6), 0)
    h2.frames.clear()
    s1.port(1).receive(BROADCAST)
    lab.pump()
    assert [len(f) for f in h2.data_frames()] == [64]
    assert h1.data_frames() == []
    tagged_bpdus = [f for f in h1.frames if f[:6] == bytes.fromhex("0180c2000000")]
    assert tagged_bpdus and all(len(f) == 53 for f in tagged_bpdus)  # h1 is untagged in 10
    assert fstp_print(s2.fstp, "10")[-2:] == [
        " -- Port 0005 tagged=1 portcost=20000000 role=Root",
        " -- Port 0006 tagged=1 portcost=20000000 role=Alternate/Backup"]


def test_bad_bpdus_are_consumed_and_counted():
    lab = Lab()
    node = lab.switch("S", "02:00:00:00:00:01")
    other = lab.station("S", 2)
    port = node.port(3)
    node.engine.attach(port, other.__class__(id=3))
    node.fstp.sync(lab.now)
    other.frames.clear()
    linux_stp = bytes.fromhex("0180c2000000624600000001002642420300000000") + bytes(35)
    port.receive(linux_stp)
    assert other.frames == []
    assert node.fstp.bad_bpdus == 1 and port.drops.filtered == 1


def test_with_fstp_off_bpdus_are_flooded_like_any_multicast():
    lab = Lab()
    node = lab.switch("S", "02:00:00:00:00:01", fstp=False)
    a, b = lab.station("S", 1), lab.station("S", 2)
    bpdu = bytes.fromhex("0180c200000002aabbccdd010027424203000002027c123402aabbccdd0100000000"
                         "123402aabbccdd018001000028000400000000")
    node.port(1).receive(bpdu)
    assert b.frames == [bpdu] and a.frames == []


def test_a_topology_change_flushes_the_mac_table():
    lab, stations = ring()
    node_b = lab.nodes["B"]
    broadcast_once(lab, stations)
    assert len(node_b.engine.macs) == 1
    lab.cut("A", 2)
    assert len(node_b.engine.macs) == 0
