"""The VLAN console commands against vde_switch's transcripts (spec Appendix A.1, A.2, B.8)."""

from __future__ import annotations

import errno

import pytest
from vlan_fakes import connect, frame, make_switch

from vdex.errors import MgmtError
from vdex_plugins.vlan._commands import (
    port_setvlan,
    vlan_addport,
    vlan_allprint,
    vlan_create,
    vlan_delport,
    vlan_print,
    vlan_remove,
)


@pytest.fixture
def engine():
    """A.1's switch: two active clients on ports 1 and 2."""
    engine = make_switch()
    connect(engine, 1)
    connect(engine, 2)
    return engine


def fails(errno_: int, command, engine, args: str) -> None:
    with pytest.raises(MgmtError) as info:
        command(engine, args)
    assert info.value.errno == errno_, info.value


def test_appendix_a1_vlan_session(engine):
    fails(errno.EINVAL, port_setvlan, engine, "")
    fails(errno.EINVAL, port_setvlan, engine, "1")
    fails(errno.EINVAL, port_setvlan, engine, "1 4096")
    fails(errno.ENXIO, port_setvlan, engine, "1 77")
    fails(errno.EINVAL, vlan_create, engine, "0")
    fails(errno.EINVAL, vlan_create, engine, "4095")
    fails(errno.EINVAL, vlan_create, engine, "abc")
    assert vlan_create(engine, "10") == []
    fails(errno.EEXIST, vlan_create, engine, "10")
    assert port_setvlan(engine, "2 10") == []
    both = ["VLAN 0000",
            " -- Port 0001 tagged=0 active=1 status=Forwarding",
            "VLAN 0010",
            " -- Port 0002 tagged=0 active=1 status=Forwarding"]
    assert vlan_print(engine, "") == both
    assert vlan_allprint(engine, "") == both
    assert vlan_print(engine, "10") == both[2:]
    fails(errno.ENXIO, vlan_print, engine, "11")
    fails(errno.EINVAL, vlan_print, engine, "5000")
    fails(errno.EADDRINUSE, vlan_remove, engine, "10")
    fails(errno.ENXIO, vlan_remove, engine, "11")
    fails(errno.EADDRINUSE, vlan_remove, engine, "0")
    fails(errno.EADDRINUSE, vlan_delport, engine, "10 2")
    assert vlan_addport(engine, "10 1") == []
    trunk = ["VLAN 0000",
             " -- Port 0001 tagged=0 active=1 status=Forwarding",
             "VLAN 0010",
             " -- Port 0001 tagged=1 active=1 status=Forwarding",
             " -- Port 0002 tagged=0 active=1 status=Forwarding"]
    assert vlan_print(engine, "") == trunk
    assert vlan_allprint(engine, "") == trunk
    assert vlan_delport(engine, "10 1") == []
    assert vlan_print(engine, "10") == both[2:]


def test_vlan_4094_is_usable_unlike_vde_switch(engine):
    assert vlan_create(engine, "4094") == []
    assert vlan_addport(engine, "4094 1") == []
    assert vlan_print(engine, "4094") == ["VLAN 4094",
                                          " -- Port 0001 tagged=1 active=1 status=Forwarding"]


def test_empty_vlan_0_cannot_be_removed():
    engine = make_switch()
    fails(errno.EINVAL, vlan_remove, engine, "0")
    fails(errno.EINVAL, vlan_remove, engine, "")  # atoi("") is 0: vde_switch removed VLAN 0 here
    assert engine.domain(0) is not None


def test_a2_vlan_print_0_on_an_empty_switch_and_allprint_0_accepted():
    engine = make_switch()
    assert vlan_print(engine, "0") == ["VLAN 0000"]
    # vde_switch answers EINVAL to "vlan/allprint 0" while "vlan/print 0" works: we print it.
    assert vlan_allprint(engine, "0") == ["VLAN 0000"]


def test_remove_an_empty_vlan(engine):
    vlan_create(engine, "20")
    assert vlan_remove(engine, "20") == []
    fails(errno.ENXIO, vlan_print, engine, "20")


def test_a_vlan_with_only_an_inactive_member_is_in_use():
    engine = make_switch()
    engine.add_port(engine.ports.create(7))
    vlan_create(engine, "20")
    port_setvlan(engine, "7 20")
    assert vlan_print(engine, "20") == ["VLAN 0020"]
    assert vlan_allprint(engine, "20") == ["VLAN 0020",
                                           " -- Port 0007 tagged=0 active=0 status=Learning"]
    fails(errno.EADDRINUSE, vlan_remove, engine, "20")


def test_argument_parsing_follows_vde_switch():
    """Numbers mean what vde_switch reads: atoi (decimal) for one number, sscanf %i (hex,
    octal) for two; what vde_switch would misread is refused (vdex.mgmt.args)."""
    engine = make_switch()
    engine.add_port(engine.ports.create(1))
    engine.add_port(engine.ports.create(3))
    assert vlan_create(engine, "010") == []        # atoi: decimal 10
    assert vlan_create(engine, "  12") == []
    fails(errno.EINVAL, vlan_create, engine, "11abc")  # vde_switch: VLAN 11
    fails(errno.EINVAL, vlan_create, engine, "0x10")   # vde_switch: atoi 0, EINVAL too
    fails(errno.EINVAL, vlan_create, engine, "-5")
    assert vlan_addport(engine, "0x0a 1") == []    # sscanf %i: hex 10
    assert vlan_addport(engine, "012 3") == []     # sscanf %i: octal 10
    fails(errno.EINVAL, vlan_addport, engine, "11 1 junk")  # vde_switch ignores "junk"
    fails(errno.EINVAL, vlan_addport, engine, "10")
    fails(errno.EINVAL, vlan_addport, engine, "10,1")
    fails(errno.EINVAL, vlan_addport, engine, "08 1")  # vde_switch: VLAN 0, port 8
    assert vlan_allprint(engine, "10") == ["VLAN 0010",
                                           " -- Port 0001 tagged=1 active=0 status=Learning",
                                           " -- Port 0003 tagged=1 active=0 status=Learning"]
    assert vlan_print(engine, "012") == ["VLAN 0012"]  # atoi: decimal
    fails(errno.EINVAL, vlan_print, engine, "abc")  # vde_switch: atoi("abc") is VLAN 0
    fails(errno.EINVAL, vlan_print, engine, "-1")
    fails(errno.EINVAL, vlan_print, engine, "4095")


def test_addport_and_delport_errors():
    engine = make_switch()
    engine.add_port(engine.ports.create(1))
    vlan_create(engine, "10")
    fails(errno.EINVAL, vlan_addport, engine, "10 99")   # port out of range 0..31
    fails(errno.EINVAL, vlan_addport, engine, "10 -1")
    fails(errno.EINVAL, vlan_addport, engine, "4095 1")
    fails(errno.EINVAL, vlan_addport, engine, "-1 1")
    fails(errno.ENXIO, vlan_addport, engine, "10 5")     # port not allocated
    fails(errno.ENXIO, vlan_addport, engine, "13 1")     # VLAN undefined
    fails(errno.EINVAL, vlan_delport, engine, "10")
    fails(errno.ENXIO, vlan_delport, engine, "11 1")
    assert vlan_delport(engine, "10 1") == []            # not a member: nothing to do
    assert vlan_addport(engine, "0 1") == []             # its untagged VLAN: nothing to do
    assert vlan_allprint(engine, "") == ["VLAN 0000",
                                         " -- Port 0001 tagged=0 active=0 status=Learning",
                                         "VLAN 0010"]


def test_setvlan_moves_untagged_membership_and_4095_means_none():
    engine = make_switch()
    engine.add_port(engine.ports.create(1))
    vlan_create(engine, "10")
    vlan_addport(engine, "10 1")
    assert port_setvlan(engine, "1 0x0a") == []  # tagged member becomes the untagged one
    assert vlan_allprint(engine, "") == ["VLAN 0000", "VLAN 0010",
                                         " -- Port 0001 tagged=0 active=0 status=Learning"]
    assert port_setvlan(engine, "1 4095") == []
    assert engine.ports.get(1).vlan == 4095
    assert vlan_allprint(engine, "") == ["VLAN 0000", "VLAN 0010"]
    fails(errno.EINVAL, port_setvlan, engine, "1 -1")
    fails(errno.EINVAL, port_setvlan, engine, "99 0")
    fails(errno.ENXIO, port_setvlan, engine, "5 0")
    fails(errno.ENXIO, port_setvlan, engine, "1 11")


def test_b8_vlan_print_and_setvlan_isolation():
    engine = make_switch()
    ports = {n: connect(engine, n) for n in range(1, 6)}
    assert vlan_create(engine, "10") == []
    assert port_setvlan(engine, "2 10") == []
    assert vlan_addport(engine, "10 3") == []
    assert vlan_addport(engine, "10 5") == []
    assert vlan_create(engine, "20") == []
    assert vlan_print(engine, "") == [
        "VLAN 0000",
        " -- Port 0001 tagged=0 active=1 status=Forwarding",
        " -- Port 0003 tagged=0 active=1 status=Forwarding",
        " -- Port 0004 tagged=0 active=1 status=Forwarding",
        " -- Port 0005 tagged=0 active=1 status=Forwarding",
        "VLAN 0010",
        " -- Port 0002 tagged=0 active=1 status=Forwarding",
        " -- Port 0003 tagged=1 active=1 status=Forwarding",
        " -- Port 0005 tagged=1 active=1 status=Forwarding",
        "VLAN 0020"]
    assert port_setvlan(engine, "4 4095") == []
    ports[4][0].receive(frame(0xFF, 0x0D))
    ports[1][0].receive(frame(0xFF, 0x0A))
    assert [n for n, (_p, ep) in ports.items() if ep.take()] == [3, 5]
    assert vlan_print(engine, "0") == [
        "VLAN 0000",
        " -- Port 0001 tagged=0 active=1 status=Forwarding",
        " -- Port 0003 tagged=0 active=1 status=Forwarding",
        " -- Port 0005 tagged=0 active=1 status=Forwarding"]


def test_status_shows_discarding_ports(engine):
    engine.set_discarding(engine.ports.get(2), 0, True)
    assert vlan_print(engine, "") == ["VLAN 0000",
                                      " -- Port 0001 tagged=0 active=1 status=Forwarding",
                                      " -- Port 0002 tagged=0 active=1 status=Discarding"]


def test_delport_forgets_the_port_macs_of_that_vlan_only():
    engine = make_switch()
    vlan_create(engine, "10")
    trunk, _ = connect(engine, 1)
    connect(engine, 2)
    vlan_addport(engine, "10 1")
    trunk.receive(frame(0xFF, 0x0A))
    trunk.receive(frame(0xFF, 0x0A, vid=10))
    assert {e.vlan for e in engine.macs} == {0, 10}
    vlan_delport(engine, "10 1")
    assert {e.vlan for e in engine.macs} == {0}
