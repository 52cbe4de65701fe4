"""The FSTP machine under a fake clock: convergence, healing, root election, timers."""

from __future__ import annotations

import itertools

import pytest
from fstp_sim import Net

from vdex_plugins.fstp._actions import FlushVlan, PeerChanged, SendBpdu, SetDiscarding
from vdex_plugins.fstp._bpdu import FLAG_TC, Bpdu, decode_bpdu, encode_bpdu, port_id
from vdex_plugins.fstp._machine import HELLO, ROOT_TIMEOUT, FstpMachine


def ring_of_three() -> Net:
    net = Net()
    for name, mac in (("A", 1), ("B", 2), ("C", 3)):
        net.add(name, mac)
    net.connect("A", 1, "B", 1)
    net.connect("B", 2, "C", 1)
    net.connect("C", 2, "A", 2)
    return net


def test_two_switches_two_cables_block_one_end_only():
    net = Net()
    s1, s2 = net.add("S1", 1), net.add("S2", 2)
    net.connect("S1", 5, "S2", 5)
    net.connect("S1", 6, "S2", 6)
    net.run(3 * HELLO)
    assert net.is_spanning_tree()
    assert net.roots() == {s1.machine.bridge_id}
    # vde_switch blocks both ends of the redundant cable; vdex only the non-designated one
    assert net.blocked_ends() == [("S2", 6)]
    tree1, tree2 = s1.machine.vlans[0], s2.machine.vlans[0]
    assert [tree1.role(5), tree1.role(6)] == ["Designated", "Designated"]
    assert [tree2.role(5), tree2.role(6)] == ["Root", "Alternate/Backup"]
    assert (tree2.root_port, tree2.cost, tree2.designated) == (5, 20_000_000, tree1.root)


def test_ring_of_three_converges_and_heals_when_a_tree_cable_is_cut():
    net = ring_of_three()
    net.run(3 * HELLO)
    assert net.is_spanning_tree()
    assert net.roots() == {net.switches["A"].machine.bridge_id}
    assert net.blocked_ends() == [("C", 1)]  # B-C: B is the designated end (lower id)
    net.cut("A", 1)  # A-B carried B's root port
    assert net.is_spanning_tree()  # healed before the clock moved
    assert net.blocked_ends() == []
    assert net.switches["B"].machine.vlans[0].root_port == 2
    net.run(5 * HELLO)
    assert net.is_spanning_tree()


def test_ring_of_three_stays_a_tree_when_the_blocked_cable_is_cut():
    net = ring_of_three()
    net.run(2 * HELLO)
    net.cut("B", 2)
    assert net.is_spanning_tree()
    net.run(10 * HELLO)
    assert net.is_spanning_tree()


def test_ring_heals_after_a_silent_failure_through_the_root_timeout():
    """The wire stops carrying frames but nobody sees a port go down: 12 s of silence on the
    root port make B drop the root information, then one exchange restores the tree."""
    net = ring_of_three()
    net.run(2 * HELLO + 1)
    net.go_silent("A", 1)
    took = net.run_until(net.is_spanning_tree, limit=ROOT_TIMEOUT + 2 * HELLO)
    assert ROOT_TIMEOUT - HELLO <= took <= ROOT_TIMEOUT
    net.run(10 * HELLO)
    assert net.is_spanning_tree()


@pytest.mark.parametrize("cut", [("A", 1), ("B", 2), ("C", 2), ("A", 3), ("B", 3), ("C", 3)])
def test_full_mesh_of_four_survives_any_single_cut(cut):
    net = Net()
    for name, mac in zip("ABCD", (4, 3, 2, 1), strict=True):
        net.add(name, mac)
    ports = {name: itertools.count(1) for name in "ABCD"}
    for a, b in itertools.combinations("ABCD", 2):
        net.connect(a, next(ports[a]), b, next(ports[b]))
    net.run(3 * HELLO)
    assert net.is_spanning_tree()
    assert net.roots() == {net.switches["D"].machine.bridge_id}
    net.cut(*cut)
    net.run(HELLO)
    assert net.is_spanning_tree()
    net.run(8 * HELLO)
    assert net.is_spanning_tree()


def test_root_election_by_priority_before_mac():
    net = Net()
    net.add("low-mac", 1)
    preferred = net.add("high-mac", 9, priority=0x1000)
    net.add("other", 5)
    net.connect("low-mac", 1, "high-mac", 1)
    net.connect("high-mac", 2, "other", 1)
    net.connect("other", 2, "low-mac", 2)
    net.run(3 * HELLO)
    assert net.roots() == {preferred.machine.bridge_id}
    assert net.is_spanning_tree()


def test_max_age_expiry_makes_the_switch_root_again():
    net = Net()
    a, b = net.add("A", 1), net.add("B", 2)
    net.connect("A", 1, "B", 1)
    net.run(HELLO)
    tree = b.machine.vlans[0]
    assert tree.root == a.machine.bridge_id
    last_refresh = tree.root_seen
    net.go_silent("A", 1)
    net.run(last_refresh + ROOT_TIMEOUT - net.now - 0.5)
    assert tree.root == a.machine.bridge_id
    net.run(0.5)
    assert tree.root == b.machine.bridge_id and tree.root_port is None


def test_hellos_refresh_the_root_information_forever():
    net = Net()
    a, b = net.add("A", 1), net.add("B", 2)
    net.connect("A", 1, "B", 1)
    net.run(30 * HELLO)
    assert b.machine.vlans[0].root == a.machine.bridge_id
    assert net.now - b.machine.vlans[0].root_seen <= HELLO


def test_a_blocked_port_whose_neighbour_falls_silent_is_unblocked_after_16_to_32_s():
    net = Net()
    net.add("S1", 1)
    net.add("S2", 2)
    net.connect("S1", 5, "S2", 5)
    net.connect("S1", 6, "S2", 6)
    net.run(HELLO)
    assert net.blocked_ends() == [("S2", 6)]
    net.go_silent("S1", 6)
    took = net.run_until(lambda: net.blocked_ends() == [], limit=40)
    assert 16 <= took <= 32


def test_bonus_makes_a_port_the_root_port():
    net = Net()
    net.add("S1", 1)
    s2 = net.add("S2", 2)
    s2.machine.set_bonus(0, 6, 100)
    net.connect("S1", 5, "S2", 5)
    net.connect("S1", 6, "S2", 6)
    net.run(2 * HELLO)
    assert s2.machine.vlans[0].root_port == 6
    assert net.blocked_ends() == [("S2", 5)]


def test_vlans_have_independent_trees():
    net = Net()
    s1, s2 = net.add("S1", 1), net.add("S2", 2)
    s2.machine.add_vlan(10)
    s1.machine.add_vlan(10)
    s2.machine.set_bonus(10, 6, 100)
    for port in (5, 6):
        net.connect("S1", port, "S2", port)
        for sw in (s1, s2):
            net.apply(sw, sw.machine.port_up(port, 10, True, net.now))
    net.drain()
    net.run(2 * HELLO)
    assert net.blocked_ends(0) == [("S2", 6)]
    assert net.blocked_ends(10) == [("S2", 5)]
    assert all(len(frame) == 57 for _t, _p, frame in s1.sent if frame[12:14] == b"\x81\x00")


def test_edge_ports_send_and_hear_no_bpdus_and_always_forward():
    machine = FstpMachine(mac=bytes.fromhex("020000000001"))
    machine.add_vlan(0)
    machine.set_enabled(True, 0)
    machine.set_edge(0, 3, True)
    assert machine.port_up(3, 0, False, 0) == []
    better = Bpdu(flags=0x7C, root=bytes(8), cost=0, bridge=bytes(8), port_id=0x8001)
    assert machine.handle_bpdu(3, 0, better, 1) == []
    assert not any(a.port == 3 for a in machine.handle_timer(HELLO) if isinstance(a, SendBpdu))
    assert machine.vlans[0].role(3) == "Edge"
    machine.port_down(3, 0, 5)
    machine.port_up(3, 0, False, 6)  # the edge setting survives a reconnect
    assert machine.vlans[0].role(3) == "Edge"


def test_a_tc_flag_flushes_the_vlan_and_goes_on_to_the_other_fstp_ports():
    net = Net()
    net.add("A", 1)
    b = net.add("B", 2)
    net.add("C", 3)
    net.connect("A", 1, "B", 1)
    net.connect("B", 2, "C", 1)
    net.run(HELLO)
    tc = Bpdu(flags=0x7C | FLAG_TC, root=net.switches["A"].machine.bridge_id, cost=0,
              bridge=net.switches["A"].machine.bridge_id, port_id=port_id(1))
    actions = b.machine.handle_bpdu(1, 0, tc, net.now)
    assert FlushVlan(0) in actions
    sent = [a for a in actions if isinstance(a, SendBpdu)]
    assert [(a.port, bool(a.bpdu.flags & FLAG_TC)) for a in sent] == [(2, True)]


def test_disabling_unblocks_everything_and_resets_the_root():
    net = Net()
    net.add("S1", 1)
    s2 = net.add("S2", 2)
    net.connect("S1", 5, "S2", 5)
    net.connect("S1", 6, "S2", 6)
    actions = s2.machine.set_enabled(False, net.now)
    assert actions == [SetDiscarding(6, 0, False)]
    assert s2.machine.vlans[0].root == s2.machine.bridge_id
    assert s2.machine.next_deadline() is None
    assert s2.machine.handle_timer(100) == []


def test_b3_frames_from_a_fresh_switch():
    """B.3: priority 0x1234, MAC 02:aa:bb:cc:dd:01; port 1 untagged in VLAN 0 and tagged in
    VLAN 10, port 17 untagged: 0x3c when a port joins, 0x7c in the hellos every 4 s."""
    mac = bytes.fromhex("02aabbccdd01")
    machine = FstpMachine(mac=mac, priority=0x1234)
    machine.add_vlan(0)
    machine.add_vlan(10)
    machine.set_enabled(True, 0)
    joined = (machine.port_up(1, 0, False, 0) + machine.port_up(17, 0, False, 0)
              + machine.port_up(1, 10, True, 0))
    frames = [encode_bpdu(a.bpdu, src=mac, vid=a.vlan if a.tagged else None)
              for a in joined if isinstance(a, SendBpdu)]
    root = "123402aabbccdd01"
    body = f"0027424203000002023c{root}00000000{root}"
    assert [f.hex() for f in frames] == [
        f"0180c200000002aabbccdd01{body}8001000028000400000000",
        f"0180c200000002aabbccdd01{body}8011000028000400000000",  # vde_switch: 8111
        f"0180c200000002aabbccdd018100000a{body}8001000028000400000000"]
    assert machine.next_deadline() == HELLO
    hello = [a for a in machine.handle_timer(HELLO) if isinstance(a, SendBpdu)]
    assert [(a.port, a.vlan, a.bpdu.flags) for a in hello] == [
        (1, 0, 0x7C), (17, 0, 0x7C), (1, 10, 0x7C)]


def test_a_neighbour_appearing_and_going_silent_is_reported():
    net = Net()
    net.add("A", 1)
    b = net.add("B", 2)
    seen = []
    apply = net.apply

    def spy(sw, actions):
        actions = list(actions)
        seen.extend((sw.name, a) for a in actions if isinstance(a, PeerChanged))
        apply(sw, actions)

    net.apply = spy
    net.connect("A", 1, "B", 1)
    assert ("B", PeerChanged(1, 0, True)) in seen
    net.go_silent("A", 1)
    net.run(40)
    assert ("B", PeerChanged(1, 0, False)) in seen
    assert b.machine.vlans[0].root == b.machine.bridge_id


def test_bpdus_from_non_members_disabled_machines_and_own_echoes_are_ignored():
    machine = FstpMachine(mac=bytes.fromhex("020000000002"))
    machine.add_vlan(0)
    better = Bpdu(flags=0x7C, root=bytes(8), cost=0, bridge=bytes(8), port_id=0x8001)
    machine.port_up(1, 0, False, 0)
    assert machine.handle_bpdu(1, 0, better, 0) == []  # disabled
    machine.set_enabled(True, 0)
    assert machine.handle_bpdu(2, 0, better, 0) == []  # not a member
    assert machine.handle_bpdu(1, 99, better, 0) == []  # no such VLAN
    echo = decode_bpdu(encode_bpdu(Bpdu(flags=0x3C, root=machine.bridge_id, cost=0,
                                        bridge=machine.bridge_id, port_id=port_id(1)),
                                   src=machine.mac))
    assert machine.handle_bpdu(1, 0, echo, 0) == []
