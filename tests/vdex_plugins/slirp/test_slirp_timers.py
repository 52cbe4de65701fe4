"""libslirp's timers as a plain table: handles, arming, what is due when."""

from __future__ import annotations

from vdex_plugins.slirp._timers import TimerTable


def test_new_timers_are_disarmed_and_have_nonzero_handles() -> None:
    table = TimerTable()
    a = table.new(timer_id=0, cb_opaque=None, callback=None)
    b = table.new(timer_id=0, cb_opaque=7, callback=None)
    assert 0 not in (a, b) and a != b
    assert table.next_deadline() is None
    assert table.pop_due(10**12) == []


def test_due_timers_fire_once_per_arming() -> None:
    table = TimerTable()
    a = table.new(timer_id=0, cb_opaque=1, callback=None)
    b = table.new(timer_id=-1, cb_opaque=2, callback="cb")
    assert table.arm(a, 1000) and table.arm(b, 500)
    assert table.next_deadline() == 500
    assert table.pop_due(499) == []
    assert table.pop_due(500) == [(-1, 2, "cb")]
    assert table.next_deadline() == 1000
    assert table.pop_due(2000) == [(0, 1, None)]
    assert table.pop_due(3000) == []
    assert table.next_deadline() is None


def test_rearming_moves_the_deadline_and_free_forgets() -> None:
    table = TimerTable()
    a = table.new(timer_id=0, cb_opaque=None, callback=None)
    table.arm(a, 1000)
    table.arm(a, 100)
    assert table.next_deadline() == 100
    table.free(a)
    assert table.next_deadline() is None
    assert not table.arm(a, 5)  # unknown handle: ignored
    table.free(a)  # freeing twice is harmless
    assert len(table) == 0
