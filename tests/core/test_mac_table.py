"""The MAC table with vde_switch's learning, persistence and ageing rules, on a fake clock."""

from __future__ import annotations

from typing import Any

import pytest

from vdex._core.mac_table import MacTable
from vdex.testing import mac

P1, P2, P3 = "port1", "port2", "port3"  # the table only compares ports by identity


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, bytes, int, Any]] = []
        self.moves: list[tuple[bytes, Any, Any]] = []

    def event(self, kind: str, m: bytes, vlan: int, port: Any) -> None:
        self.events.append((kind, m, vlan, port))

    def move(self, m: bytes, old: Any, new: Any) -> None:
        self.moves.append((m, old, new))


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


@pytest.fixture
def table(rec: Recorder) -> MacTable:
    return MacTable(on_event=rec.event, on_move=rec.move)


def test_defaults_are_vde_switchs() -> None:
    t = MacTable()
    assert (t.hash_size, t.gc_interval, t.expire, t.min_persistence) == (128, 2, 100, 3)
    assert MacTable(hash_size=100).hash_size == 128


def test_learning_a_new_address_emits_hash_plus(table: MacTable, rec: Recorder) -> None:
    entry = table.learn(mac(1), 0, P1, 7)
    assert (entry.port, entry.seen, entry.vlan) == (P1, 7, 0)
    assert table.lookup(mac(1), 0) is entry
    assert table.lookup(mac(1), 1) is None
    assert rec.events == [("+", mac(1), 0, P1)]
    assert len(table) == 1


def test_seen_again_on_the_same_port_refreshes_quietly(table: MacTable, rec: Recorder) -> None:
    table.learn(mac(1), 0, P1, 1)
    entry = table.learn(mac(1), 0, P1, 50)
    assert entry.seen == 50
    assert rec.events == [("+", mac(1), 0, P1)]
    assert rec.moves == []


def test_same_mac_in_two_vlans_is_two_entries(table: MacTable, rec: Recorder) -> None:
    table.learn(mac(1), 0, P1, 0)
    table.learn(mac(1), 10, P2, 0)
    assert table.lookup(mac(1), 0).port == P1
    assert table.lookup(mac(1), 10).port == P2
    assert len(table) == 2
    assert [e[0] for e in rec.events] == ["+", "+"]
    assert rec.moves == []


@pytest.mark.parametrize("minper", [0, 3, 5])
def test_an_entry_moves_only_when_older_than_min_persistence(minper: int) -> None:
    """Strictly greater: an entry exactly ``minper`` seconds old stays where it is."""
    rec = Recorder()
    table = MacTable(min_persistence=minper, on_event=rec.event, on_move=rec.move)
    table.learn(mac(1), 0, P1, 10)
    entry = table.learn(mac(1), 0, P2, 10 + minper)
    assert (entry.port, entry.seen) == (P1, 10), "moved too early"
    assert rec.moves == [], "a move was reported although nothing moved"
    entry = table.learn(mac(1), 0, P2, 11 + minper)
    assert (entry.port, entry.seen) == (P2, 11 + minper)
    assert rec.moves == [(mac(1), P1, P2)]
    assert rec.events == [("+", mac(1), 0, P1)], "a move is neither a new nor a deleted entry"


def test_a_flapping_address_keeps_its_first_port(table: MacTable, rec: Recorder) -> None:
    """A looping frame seen alternately on two ports does not flap the table."""
    table.learn(mac(1), 0, P1, 0)
    for now in range(4):
        table.learn(mac(1), 0, P2, now)
        table.learn(mac(1), 0, P1, now)
    assert table.lookup(mac(1), 0).port == P1
    assert rec.moves == []


def test_expiry_on_the_gc_schedule(table: MacTable, rec: Recorder) -> None:
    """Entries with seen + expire < now go at the first GC run (every 2 s) after that."""
    table.learn(mac(1), 0, P1, 0)
    table.learn(mac(2), 0, P2, 1)
    assert table.next_deadline() == 2
    for now in range(1, 101):
        table.handle_timer(now)
    assert len(table) == 2, "seen + expire == now is not expired yet"
    assert table.handle_timer(101) == 0, "GC runs every 2 s: not at 101"
    assert table.handle_timer(102) == 2
    assert rec.events[2:] == [("-", mac(1), 0, P1), ("-", mac(2), 0, P2)]
    assert table.next_deadline() == 104


def test_refreshed_entries_survive_gc(table: MacTable) -> None:
    table.learn(mac(1), 0, P1, 0)
    table.learn(mac(2), 0, P1, 0)
    table.learn(mac(2), 0, P1, 90)
    assert table.handle_timer(102) == 1
    assert table.lookup(mac(2), 0) is not None and table.lookup(mac(1), 0) is None


def test_gc_interval_decides_when_gc_runs(table: MacTable) -> None:
    table.expire = 5
    table.set_gc_interval(10, now=0)
    table.learn(mac(1), 0, P1, 0)
    for now in range(1, 10):
        assert table.handle_timer(now) == 0
    assert table.next_deadline() == 10
    assert table.handle_timer(10) == 1


@pytest.mark.parametrize("gcint", [0, -1, -100])
def test_gcint_zero_or_less_stops_gc(table: MacTable, gcint: int) -> None:
    table.learn(mac(1), 0, P1, 0)
    table.set_gc_interval(gcint, now=0)
    assert table.next_deadline() is None
    for now in range(0, 1000, 7):
        assert table.handle_timer(now) == 0
    assert len(table) == 1
    table.set_gc_interval(2, now=1000)
    assert table.next_deadline() == 1002
    assert table.handle_timer(1002) == 1


def test_expire_change_applies_at_the_next_run(table: MacTable) -> None:
    table.learn(mac(1), 0, P1, 0)
    table.expire = 3
    assert table.handle_timer(2) == 0
    assert table.handle_timer(4) == 1


def _fill(table: MacTable) -> None:
    table.learn(mac(1), 0, P1, 0)
    table.learn(mac(2), 0, P2, 0)
    table.learn(mac(3), 10, P1, 0)
    table.learn(mac(4), 10, P2, 0)


def test_purge_by_port(table: MacTable, rec: Recorder) -> None:
    _fill(table)
    rec.events.clear()
    assert table.purge(port=P1) == 2
    assert sorted(rec.events) == sorted([("-", mac(1), 0, P1), ("-", mac(3), 10, P1)])
    assert {e.mac for e in table} == {mac(2), mac(4)}


def test_purge_by_vlan(table: MacTable) -> None:
    _fill(table)
    assert table.purge(vlan=10) == 2
    assert {e.mac for e in table} == {mac(1), mac(2)}
    assert table.purge(vlan=99) == 0


def test_purge_by_port_and_vlan(table: MacTable) -> None:
    _fill(table)
    assert table.purge(port=P2, vlan=10) == 1
    assert {e.mac for e in table} == {mac(1), mac(2), mac(3)}


def test_purge_everything(table: MacTable, rec: Recorder) -> None:
    _fill(table)
    assert table.purge() == 4
    assert len(table) == 0
    assert [e[0] for e in rec.events].count("-") == 4


def test_resize_rounds_up_and_flushes(table: MacTable, rec: Recorder) -> None:
    _fill(table)
    assert table.resize(100) == 128
    assert table.resize(200) == 256
    assert table.hash_size == 256
    assert len(table) == 0
    assert [e[0] for e in rec.events].count("-") == 4
    with pytest.raises(ValueError):
        table.resize(0)


def test_vlan_table_is_the_live_dictionary(table: MacTable) -> None:
    """The data path keeps the dictionary: entries learnt later must appear in it."""
    live = table.vlan_table(5)
    table.learn(mac(9), 5, P3, 0)
    assert live[mac(9)].port == P3
    table.purge(vlan=5)
    assert mac(9) not in live


def test_print_order_is_by_bucket_then_newest_first() -> None:
    table = MacTable(hash_size=128)
    table.learn(mac(2), 0, P1, 0)  # bucket 60
    table.learn(mac(1), 0, P1, 0)  # bucket 43
    assert [table.bucket(e) for e in table.in_print_order()] == [43, 60]
    one = MacTable(hash_size=1)
    for n in (1, 2, 3):
        one.learn(mac(n), 0, P1, 0)
    assert [e.mac for e in one.in_print_order()] == [mac(3), mac(2), mac(1)]
