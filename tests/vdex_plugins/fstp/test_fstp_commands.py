"""fstp/* console commands against vde_switch's transcripts (Appendix A.1, A.2, B.3)."""

from __future__ import annotations

import errno

import pytest
from fstp_lab import Lab

from vdex.errors import MgmtError
from vdex_plugins.fstp._commands import (
    fstp_bonus,
    fstp_print,
    fstp_setedge,
    fstp_setfstp,
    fstp_showinfo,
)
from vdex_plugins.vlan._commands import port_setvlan, vlan_addport, vlan_create


@pytest.fixture
def a1():
    """A.1's switch: MAC 00:ff:01:c3:49:47, FSTP off, clients on ports 1 and 2."""
    lab = Lab()
    node = lab.switch("S", "00:ff:01:c3:49:47", fstp=False)
    lab.station("S", 1)
    lab.station("S", 2)
    return node


def fails(errno_, command, fstp, args):
    with pytest.raises(MgmtError) as info:
        command(fstp, args)
    assert info.value.errno == errno_


def test_appendix_a1_fstp_session(a1):
    fstp = a1.fstp
    assert fstp_showinfo(fstp, "") == ["MAC 00:ff:01:c3:49:47 Priority 32768 (0x8000)",
                                       "FSTP=false"]
    assert fstp_print(fstp, "") == [
        "FST DATA VLAN 0000 ROOTSWITCH FSTP IS DISABLED",
        " ++ root 80:00:00:ff:01:c3:49:47",
        " ++ designated ff:ff:ff:ff:ff:ff:ff:ff",
        " ++ rootport 0000 cost 0 age 0 bonusport 0000 bonuscost 0",
        " -- Port 0001 tagged=0 portcost=20000000 role=Designated",
        " -- Port 0002 tagged=0 portcost=20000000 role=Designated"]
    vlan_create(a1.engine, "10")
    port_setvlan(a1.engine, "2 10")
    fstp.sync()
    assert fstp_setfstp(fstp, "1") == []
    assert fstp_showinfo(fstp, "")[1] == "FSTP=true"
    vlan10 = ["FST DATA VLAN 0010 ROOTSWITCH ",
              " ++ root 80:00:00:ff:01:c3:49:47",
              " ++ designated ff:ff:ff:ff:ff:ff:ff:ff",
              " ++ rootport 0000 cost 0 age 0 bonusport 0000 bonuscost 0",
              " -- Port 0002 tagged=0 portcost=20000000 role=Designated"]
    assert fstp_print(fstp, "") == [
        "FST DATA VLAN 0000 ROOTSWITCH ",
        " ++ root 80:00:00:ff:01:c3:49:47",
        " ++ designated ff:ff:ff:ff:ff:ff:ff:ff",
        " ++ rootport 0000 cost 0 age 0 bonusport 0000 bonuscost 0",
        " -- Port 0001 tagged=0 portcost=20000000 role=Designated", *vlan10]
    assert fstp_print(fstp, "10") == vlan10
    assert fstp_setedge(fstp, "0 1 1") == []
    assert fstp_bonus(fstp, "0 1 100") == []
    assert fstp_print(fstp, "0") == [
        "FST DATA VLAN 0000 ROOTSWITCH ",
        " ++ root 80:00:00:ff:01:c3:49:47",
        " ++ designated ff:ff:ff:ff:ff:ff:ff:ff",
        " ++ rootport 0000 cost 0 age 0 bonusport 0001 bonuscost 100",
        " -- Port 0001 tagged=0 portcost=20000000 role=Edge"]
    assert fstp_setfstp(fstp, "0") == []
    assert not fstp.enabled


def test_b3_print_after_eight_seconds_with_a_tagged_port():
    """B.3 (priority 0x1234): port 1 untagged in VLAN 0 and tagged in VLAN 10, port 17 untagged.
    vde_switch prints the tagged port's role as Unknown; vdex prints the real one."""
    lab = Lab()
    node = lab.switch("S", "02:aa:bb:cc:dd:01", priority=0x1234)
    vlan_create(node.engine, "10")
    lab.station("S", 1)
    lab.station("S", 17)
    vlan_addport(node.engine, "10 1")
    node.fstp.sync()
    lab.run(8)
    assert fstp_print(node.fstp, "") == [
        "FST DATA VLAN 0000 ROOTSWITCH ",
        " ++ root 12:34:02:aa:bb:cc:dd:01",
        " ++ designated ff:ff:ff:ff:ff:ff:ff:ff",
        " ++ rootport 0000 cost 0 age 8 bonusport 0000 bonuscost 0",
        " -- Port 0001 tagged=0 portcost=20000000 role=Designated",
        " -- Port 0017 tagged=0 portcost=20000000 role=Designated",
        "FST DATA VLAN 0010 ROOTSWITCH ",
        " ++ root 12:34:02:aa:bb:cc:dd:01",
        " ++ designated ff:ff:ff:ff:ff:ff:ff:ff",
        " ++ rootport 0000 cost 0 age 8 bonusport 0000 bonuscost 0",
        " -- Port 0001 tagged=1 portcost=20000000 role=Designated"]
    assert fstp_showinfo(node.fstp, "") == ["MAC 02:aa:bb:cc:dd:01 Priority 4660 (0x1234)",
                                            "FSTP=true"]


def test_b3_client_frames_join_then_hellos_every_4_s():
    lab = Lab()
    node = lab.switch("S", "02:aa:bb:cc:dd:01", priority=0x1234)
    vlan_create(node.engine, "10")
    p = lab.station("S", 1)
    vlan_addport(node.engine, "10 1")
    node.fstp.sync()
    lab.run(8)
    flags_by_time = [(len(f), f[21 + (4 if len(f) == 57 else 0)]) for f in p.frames]
    assert flags_by_time == [(53, 0x3C), (57, 0x3C), (53, 0x7C), (57, 0x7C), (53, 0x7C),
                             (57, 0x7C)]
    assert p.frames[0].hex() == (
        "0180c200000002aabbccdd010027424203000002023c123402aabbccdd0100000000"
        "123402aabbccdd018001000028000400000000")


def test_a2_setfstp_in_hub_mode_says_so_and_succeeds():
    lab = Lab()
    node = lab.switch("S", "02:00:00:00:00:01", fstp=False)
    node.engine.hub = True
    assert fstp_setfstp(node.fstp, "1") == ["Can't use fstp in hub mode"]
    assert not node.fstp.enabled


def test_argument_errors(a1):
    fstp = a1.fstp
    fails(errno.EINVAL, fstp_setedge, fstp, "0 1")
    fails(errno.EINVAL, fstp_setedge, fstp, "4095 1 1")
    fails(errno.EINVAL, fstp_setedge, fstp, "0 32 1")
    fails(errno.ENXIO, fstp_setedge, fstp, "7 1 1")
    fails(errno.EINVAL, fstp_bonus, fstp, "0 -1 5")
    fails(errno.ENXIO, fstp_bonus, fstp, "9 1 5")
    fails(errno.EINVAL, fstp_print, fstp, "5000")
    fails(errno.ENXIO, fstp_print, fstp, "11")


def test_setedge_unblocks_and_the_edge_setting_is_shown(a1):
    fstp = a1.fstp
    fstp_setfstp(fstp, "1")
    port = a1.engine.ports.get(2)
    a1.engine.set_discarding(port, 0, True)
    fstp.machine.vlans[0].members[2].blocked = True
    fstp_setedge(fstp, "0 2 1")
    assert a1.engine.is_forwarding(port, 0)
    assert fstp_print(fstp, "0")[-1] == " -- Port 0002 tagged=0 portcost=20000000 role=Edge"
    fstp_setedge(fstp, "0 2 0")
    assert fstp_print(fstp, "0")[-1] == (
        " -- Port 0002 tagged=0 portcost=20000000 role=Designated")


def test_a_port_that_leaves_unblocks_in_the_engine():
    lab = Lab()
    lab.switch("S1", "02:00:00:00:00:01")
    s2 = lab.switch("S2", "02:00:00:00:00:02")
    lab.cable("S1", 5, "S2", 5)
    lab.cable("S1", 6, "S2", 6)
    port6 = s2.engine.ports.get(6)
    assert not s2.engine.is_forwarding(port6, 0)
    lab.cut("S1", 6)
    assert s2.engine.is_forwarding(port6, 0)
