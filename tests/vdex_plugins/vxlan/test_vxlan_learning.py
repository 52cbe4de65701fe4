"""MAC -> remote endpoint learning with a fake clock; the vdeplug4 bug stays fixed."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vdex_plugins.vxlan._learning import RemoteTable, RemoteTableStatistics

A = bytes.fromhex("020000000001")
B = bytes.fromhex("020000000002")
BROADCAST = b"\xff" * 6


def frame(dst: bytes, src: bytes) -> bytes:
    return dst + src + b"\x08\x00" + bytes(46)


def test_learns_the_real_sender_and_replies_to_the_vxlan_port() -> None:
    # vdeplug4 learned an empty address here and every unicast reply failed (EDESTADDRREQ)
    table = RemoteTable(reply_port=4789)
    table.learn(frame(BROADCAST, A), ("10.0.0.2", 51234), now=0)
    assert table.destination(frame(A, B), now=1) == ("10.0.0.2", 4789)


def test_vxvde_keeps_the_sender_port_and_ipv6_scope() -> None:
    table = RemoteTable()
    sender = ("fe80::2", 57585, 0, 3)
    table.learn(frame(BROADCAST, A), sender, now=0)
    assert table.destination(frame(A, B), now=0) == sender
    v6 = RemoteTable(reply_port=4789)
    v6.learn(frame(BROADCAST, A), sender, now=0)
    assert v6.destination(frame(A, B), now=0) == ("fe80::2", 4789, 0, 3)


def test_group_and_unknown_destinations_go_to_the_group() -> None:
    table = RemoteTable(reply_port=4789)
    table.learn(frame(BROADCAST, A), ("10.0.0.2", 4789), now=0)
    assert table.destination(frame(BROADCAST, B), now=0) is None
    assert table.destination(frame(bytes.fromhex("01005e000001"), B), now=0) is None
    assert table.destination(frame(B, A), now=0) is None


def test_expiry_is_inclusive_like_vdeplug4() -> None:
    table = RemoteTable(expire=128)
    table.learn(frame(BROADCAST, A), ("10.0.0.2", 4789), now=100)
    assert table.lookup(A, now=228) == ("10.0.0.2", 4789)
    assert table.lookup(A, now=228.5) is None
    table.learn(frame(B, A), ("10.0.0.2", 4789), now=228.5)
    assert table.lookup(A, now=300) == ("10.0.0.2", 4789)


def test_a_moved_mac_follows_its_newest_sender() -> None:
    table = RemoteTable(reply_port=4789)
    table.learn(frame(BROADCAST, A), ("10.0.0.2", 40000), now=0)
    table.learn(frame(BROADCAST, A), ("10.0.0.2", 40001), now=1)   # same host, new source port
    table.learn(frame(BROADCAST, A), ("10.0.0.3", 40001), now=2)
    assert table.lookup(A, now=2) == ("10.0.0.3", 4789)
    assert table.statistics() == RemoteTableStatistics(
        entries=1, learned=1, moved=2, evicted=0, group_sources=0)


def test_group_source_addresses_are_not_learned() -> None:
    table = RemoteTable()
    table.learn(frame(B, BROADCAST), ("10.0.0.9", 4789), now=0)
    table.learn(b"\x00" * 11, ("10.0.0.9", 4789), now=0)
    assert len(table) == 0 and table.statistics().group_sources == 1


def test_bounded_table_evicts_oldest_when_nothing_expired() -> None:
    table = RemoteTable(max_entries=2, expire=100, gc_interval=10)
    macs = [bytes([2, 0, 0, 0, 0, i]) for i in range(4)]
    for i, mac in enumerate(macs[:3]):
        table.learn(frame(BROADCAST, mac), ("10.0.0.2", 4789), now=i)
    assert len(table) == 2 and table.lookup(macs[0], now=3) is None
    assert table.statistics().evicted == 1
    # later, the two left have expired: collection makes room without evicting valid entries
    table.learn(frame(BROADCAST, macs[3]), ("10.0.0.2", 4789), now=500)
    assert len(table) == 1 and table.statistics().evicted == 1


def test_timer_collects_expired_entries() -> None:
    table = RemoteTable(expire=10, gc_interval=5)
    assert table.next_deadline() is None
    table.learn(frame(BROADCAST, A), ("10.0.0.2", 4789), now=0)
    assert table.handle_timer(now=0) == 0
    assert table.next_deadline() == 5
    assert table.handle_timer(now=4) == 0
    table.learn(frame(BROADCAST, B), ("10.0.0.2", 4789), now=8)
    assert table.handle_timer(now=11) == 1 and table.lookup(B, now=11) is not None
    assert table.next_deadline() == 16
    assert table.handle_timer(now=19) == 1 and table.next_deadline() is None


def test_forget_remote() -> None:
    table = RemoteTable()
    table.learn(frame(BROADCAST, A), ("10.0.0.2", 50000), now=0)
    table.learn(frame(BROADCAST, B), ("10.0.0.3", 50000), now=0)
    assert table.forget_remote(("10.0.0.2", 50000)) == 1
    assert [mac for mac, _entry in table.items()] == [B]


@pytest.mark.parametrize(("kwargs", "message"), [({"expire": 0}, "expire"),
                                                 ({"max_entries": 0}, "max_entries")])
def test_bad_settings(kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RemoteTable(**kwargs)  # type: ignore[arg-type]


events = st.lists(st.tuples(
    st.sampled_from(["learn", "lookup", "timer"]),
    st.binary(min_size=6, max_size=6),
    st.sampled_from([("10.0.0.1", 1), ("10.0.0.2", 2), ("fd00::3", 3, 0, 0)]),
    st.integers(0, 50)), max_size=60)


@given(events, st.integers(1, 5), st.integers(1, 20))
def test_model(events_: list[tuple[str, bytes, tuple[object, ...], int]], bound: int,
               expire: int) -> None:
    """Against a plain model: a lookup returns the newest sender of a MAC seen within
    ``expire``, or None; the table never exceeds its bound."""
    table = RemoteTable(max_entries=bound, expire=expire, reply_port=4789, gc_interval=7)
    model: dict[bytes, tuple[tuple[object, ...], int]] = {}
    now = 0
    for kind, mac, sender, step in events_:
        now += step
        if kind == "learn":
            table.learn(frame(BROADCAST, mac), sender, now)
            if not mac[0] & 1:
                model[mac] = (sender, now)
        elif kind == "timer":
            table.handle_timer(now)
        else:
            got = table.lookup(mac, now)
            if got is not None:
                sender_, seen = model[mac]
                assert got == (sender_[0], 4789, *sender_[2:]) and now - seen <= expire
            elif mac in model and now - model[mac][1] <= expire:
                assert table.statistics().evicted > 0, "only eviction may lose a valid entry"
        assert len(table) <= bound
