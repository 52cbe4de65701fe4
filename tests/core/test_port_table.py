"""Port slots: numbering, allocation, port 0 and access control (spec §4.1, §1.10)."""

from __future__ import annotations

import errno

import pytest

from vdex._core.port import Port
from vdex._core.port_table import PortTable
from vdex.errors import PortError

ROOT, ALICE, BOB = 0, 1000, 1001
STAFF = 50


class FakeEndpoint:
    def __init__(self, uid: int | None, ident: int = 0) -> None:
        self.uid = uid
        self.id = ident
        self.sent: list[bytes] = []

    def send(self, frame: bytes) -> None:
        self.sent.append(frame)


def occupy(port: Port, uid: int | None) -> FakeEndpoint:
    """What the engine does when an endpoint attaches."""
    ep = FakeEndpoint(uid)
    if not port.endpoints:
        port.curuser = uid
    port.endpoints.insert(0, ep)
    return ep


def in_staff(uid: int, gid: int) -> bool:
    return uid == BOB and gid == STAFF


def errno_of(exc: pytest.ExceptionInfo[PortError]) -> int:
    return exc.value.errno


def test_numports_must_be_positive() -> None:
    for bad in (0, -1):
        with pytest.raises(PortError) as exc:
            PortTable(bad)
        assert errno_of(exc) == errno.EINVAL


def test_any_port_gets_the_lowest_free_slot_from_1() -> None:
    table = PortTable(32)
    got = []
    for _ in range(3):
        port, created = table.choose_for_client(ROOT, 0)
        occupy(port, ROOT)
        got.append((port.number, created))
    assert got == [(1, True), (2, True), (3, True)]
    assert [p.number for p in table] == [1, 2, 3]


def test_numports_n_gives_clients_ports_1_to_n_minus_1() -> None:
    """Debian's vde_switch: -n 4 gives three automatic ports (spec §4.1)."""
    table = PortTable(4)
    for expected in (1, 2, 3):
        port, _ = table.choose_for_client(ROOT, 0)
        occupy(port, ROOT)
        assert port.number == expected
    with pytest.raises(PortError) as exc:
        table.choose_for_client(ROOT, 0)
    assert errno_of(exc) == errno.ENOSPC


def test_an_inactive_allocatable_port_is_reused_first() -> None:
    table = PortTable(8)
    p1, _ = table.choose_for_client(ROOT, 0)
    occupy(p1, ROOT)
    p2, _ = table.choose_for_client(ROOT, 0)
    assert p2.number == 2  # p2 is allocated but never got an endpoint: still free
    again, created = table.choose_for_client(ROOT, 0)
    assert (again, created) == (p2, False)


def test_not_allocatable_ports_are_skipped_by_automatic_allocation() -> None:
    table = PortTable(8)
    table.create(1)
    auto = table.create_auto()
    assert auto.number == 2 and not auto.allocatable
    port, created = table.choose_for_client(ROOT, 0)
    assert (port.number, created) == (3, True)
    table.get(1).allocatable = True
    assert table.choose_for_client(ROOT, 0)[0].number == 1


def test_explicit_port_takes_exactly_that_slot_even_if_not_allocatable() -> None:
    table = PortTable(8)
    table.create(5)
    port, created = table.choose_for_client(ROOT, 5)
    assert (port.number, created, port.allocatable) == (5, False, False)
    port, created = table.choose_for_client(ROOT, 7)
    assert (port.number, created, port.allocatable) == (7, True, True)


@pytest.mark.parametrize("requested", [8, 100])
def test_explicit_port_out_of_range_is_einval(requested: int) -> None:
    table = PortTable(8)
    with pytest.raises(PortError) as exc:
        table.choose_for_client(ROOT, requested)
    assert errno_of(exc) == errno.EINVAL
    assert len(table) == 0


def test_port_0_only_on_request() -> None:
    table = PortTable(2)
    port, created = table.choose_for_client(ROOT, -1)
    assert (port.number, created) == (0, True)
    occupy(port, ROOT)
    auto, _ = table.choose_for_client(ROOT, 0)
    assert auto.number == 1
    occupy(auto, ROOT)
    with pytest.raises(PortError) as exc:
        table.choose_for_client(ROOT, 0)
    assert errno_of(exc) == errno.ENOSPC, "automatic allocation never hands out port 0"


def test_an_active_port_takes_more_endpoints_of_the_same_user_only() -> None:
    table = PortTable(8)
    port, _ = table.choose_for_client(ALICE, 3)
    occupy(port, ALICE)
    assert table.choose_for_client(ALICE, 3) == (port, False)
    for other in (BOB, ROOT, None):
        with pytest.raises(PortError) as exc:
            table.choose_for_client(other, 3)
        assert errno_of(exc) == errno.EADDRINUSE, f"uid {other} joined alice's port"


def test_unrestricted_inactive_port_takes_anybody() -> None:
    table = PortTable(8)
    table.create(4)
    for uid in (ROOT, ALICE, None):
        assert table.choose_for_client(uid, 4)[0].number == 4


def test_port_restricted_to_a_user() -> None:
    table = PortTable(8, user_in_group=in_staff)
    table.create(5).user = ALICE
    with pytest.raises(PortError) as exc:
        table.choose_for_client(BOB, 5)
    assert errno_of(exc) == errno.EPERM
    with pytest.raises(PortError):
        table.choose_for_client(None, 5)
    assert table.choose_for_client(ALICE, 5)[0].number == 5
    assert table.choose_for_client(ROOT, 5)[0].number == 5, "root may use a restricted port"


def test_port_restricted_to_a_group_admits_its_members() -> None:
    table = PortTable(8, user_in_group=in_staff)
    table.create(6).group = STAFF
    assert table.choose_for_client(BOB, 6)[0].number == 6
    with pytest.raises(PortError) as exc:
        table.choose_for_client(ALICE, 6)
    assert errno_of(exc) == errno.EPERM


def test_user_or_group_either_admits() -> None:
    table = PortTable(8, user_in_group=in_staff)
    port = table.create(6)
    port.user, port.group = ALICE, STAFF
    for uid in (ALICE, BOB, ROOT):
        assert table.choose_for_client(uid, 6)[0] is port
    with pytest.raises(PortError):
        table.choose_for_client(1002, 6)


def test_a_refused_explicit_request_does_not_leave_a_slot_behind() -> None:
    table = PortTable(8)
    port, _ = table.choose_for_client(ALICE, 2)
    occupy(port, ALICE)
    with pytest.raises(PortError):
        table.choose_for_client(BOB, 2)
    assert [p.number for p in table] == [2]


def test_automatic_allocation_skips_ports_the_client_may_not_use() -> None:
    table = PortTable(8)
    table.choose_for_client(ROOT, 1)[0].user = ALICE
    port, _ = table.choose_for_client(BOB, 0)
    assert port.number == 2
    assert table.choose_for_client(ALICE, 0)[0].number == 1


def test_create_and_createauto() -> None:
    table = PortTable(4)
    assert table.create(2).allocatable is False
    with pytest.raises(PortError) as exc:
        table.create(2)
    assert errno_of(exc) == errno.EEXIST
    with pytest.raises(PortError) as exc:
        table.create(4)
    assert errno_of(exc) == errno.EINVAL
    zero = table.create(0)
    assert (zero.number, zero.allocatable) == (1, False), "port/create 0 is createauto"
    assert table.create_auto().number == 3
    with pytest.raises(PortError) as exc:
        table.create_auto()
    assert errno_of(exc) == errno.ENOSPC


def test_remove() -> None:
    table = PortTable(8)
    port = table.create(3)
    with pytest.raises(PortError) as exc:
        table.remove(4)
    assert errno_of(exc) == errno.ENXIO
    with pytest.raises(PortError) as exc:
        table.remove(9)
    assert errno_of(exc) == errno.EINVAL
    ep = occupy(port, ROOT)
    with pytest.raises(PortError) as exc:
        table.remove(3)
    assert errno_of(exc) == errno.EADDRINUSE
    port.endpoints.remove(ep)
    assert table.remove(3) is port
    assert table.get(3) is None


def test_lookup_and_check_range() -> None:
    table = PortTable(8)
    table.choose_for_client(ROOT, -1)
    assert table.lookup(0).number == 0
    with pytest.raises(PortError) as exc:
        table.lookup(1)
    assert errno_of(exc) == errno.ENXIO
    for bad in (-1, 8):
        with pytest.raises(PortError) as exc:
            table.lookup(bad)
        assert errno_of(exc) == errno.EINVAL


def test_setnumports_refuses_to_cut_off_an_allocated_port() -> None:
    """Active or not: vde_switch answers EADDRINUSE (A.1, and an inactive port/create'd one)."""
    table = PortTable(8)
    table.create(6)
    busy = table.create(3)
    occupy(busy, ROOT)
    for numports in (3, 5, 6):
        with pytest.raises(PortError) as exc:
            table.set_numports(numports)
        assert errno_of(exc) == errno.EADDRINUSE
        assert table.numports == 8
        assert [p.number for p in table] == [3, 6]
    table.set_numports(7)
    assert table.numports == 7
    table.remove(6)
    busy.endpoints.clear()
    table.remove(3)
    assert table.set_numports(2) == []
    assert table.numports == 2


def test_setnumports() -> None:
    table = PortTable(8)
    with pytest.raises(PortError) as exc:
        table.set_numports(0)
    assert errno_of(exc) == errno.EINVAL
    table.set_numports(16)
    assert table.numports == 16
    assert table.choose_for_client(ROOT, 12)[0].number == 12


def test_active_ports_in_number_order() -> None:
    table = PortTable(8)
    for n in (5, 2, 7):
        occupy(table.choose_for_client(ROOT, n)[0], ROOT)
    table.create(3)
    assert [p.number for p in table] == [2, 3, 5, 7]
    assert [p.number for p in table.active()] == [2, 5, 7]
