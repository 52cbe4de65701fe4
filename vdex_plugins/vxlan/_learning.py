"""Where each MAC address lives on a VXLAN segment: MAC -> remote endpoint, with expiry. Sans-I/O.

A VXLAN endpoint sends a frame to the multicast group unless its destination MAC was seen,
recently, as the source of a frame from one remote endpoint: then it sends there directly.
Time is an argument (seconds, any monotonic origin); an entry is valid while
``now - seen <= expire`` (vdeplug4: 128 s).

vdeplug4 never learns a usable address: it calls ``recvmsg`` with an uninitialised address
length, so the kernel stores no sender and every unicast reply fails with EDESTADDRREQ (spec
§5.5). Here the caller hands in the sender address the socket reported, and that is what is
learned. With ``reply_port`` set (vxlan), the learned port is replaced by it: Linux and other
VXLAN stacks send from a hashed source port but listen on 4789. Without it (vxvde), the sender's
own port is kept.

vdeplug4's table is direct-mapped and a collision silently replaces an entry; this one is a
dictionary bounded by ``max_entries``: when full it drops expired entries (at most once per
``gc_interval``), else the oldest learned, so a flood of forged source addresses costs a bounded
amount of memory and no full scan per frame.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import attrs

SockAddr = tuple[Any, ...]
"""A socket address as Python's socket module gives it: ``(host, port)`` for IPv4,
``(host, port, flowinfo, scope_id)`` for IPv6."""

DEFAULT_EXPIRE = 128
DEFAULT_MAX_ENTRIES = 1024


class RemoteEntry:
    """One learned MAC: where to send (``remote``), the raw sender it was learned from, when."""

    __slots__ = ("remote", "sender", "seen")

    def __init__(self, remote: SockAddr, sender: SockAddr, seen: float) -> None:
        self.remote = remote
        self.sender = sender
        self.seen = seen

    def __repr__(self) -> str:
        return f"RemoteEntry(remote={self.remote!r}, seen={self.seen})"


@attrs.frozen
class RemoteTableStatistics:
    entries: int
    learned: int
    """New entries created."""
    moved: int
    """Entries whose MAC showed up behind another remote endpoint."""
    evicted: int
    """Entries dropped while still valid, because the table was full."""
    group_sources: int
    """Received frames with a multicast source MAC (forged or broken; never learned)."""


@attrs.define(eq=False, kw_only=True)
class RemoteTable:
    """MAC -> remote endpoint, learned from received frames."""

    expire: float = DEFAULT_EXPIRE
    max_entries: int = DEFAULT_MAX_ENTRIES
    reply_port: int | None = None
    """If set, learned addresses get this port (vxlan: the group port)."""
    gc_interval: float = 30.0
    """How often :meth:`handle_timer` frees expired entries (lookups ignore them anyway)."""
    _entries: dict[bytes, RemoteEntry] = attrs.field(factory=dict)
    _next_gc: float | None = None
    _learned: int = 0
    _moved: int = 0
    _evicted: int = 0
    _group_sources: int = 0

    def __attrs_post_init__(self) -> None:
        if self.expire <= 0:
            raise ValueError("expire must be positive")
        if self.max_entries <= 0:
            raise ValueError("max_entries must be positive")

    # ------------------------------------------------------------------ data path

    def learn(self, frame: bytes | bytearray | memoryview, sender: SockAddr, now: float) -> None:
        """Record that the source MAC of ``frame`` lives behind ``sender`` (the address the
        socket reported for the packet). Frames shorter than 12 bytes are ignored."""
        if len(frame) < 12:
            return
        if frame[6] & 1:
            self._group_sources += 1
            return
        mac = bytes(frame[6:12])
        entry = self._entries.get(mac)
        if entry is not None:
            entry.seen = now
            if entry.sender != sender:
                entry.sender = sender
                entry.remote = self._remote(sender)
                self._moved += 1
            return
        if len(self._entries) >= self.max_entries:
            self._make_room(now)
        self._entries[mac] = RemoteEntry(self._remote(sender), sender, now)
        self._learned += 1

    def destination(self, frame: bytes | bytearray | memoryview, now: float) -> SockAddr | None:
        """Where to send ``frame``: a learned remote endpoint, or None for the group (broadcast,
        multicast, unknown or expired destination)."""
        if frame[0] & 1:
            return None
        return self.lookup(bytes(frame[0:6]), now)

    def lookup(self, mac: bytes, now: float) -> SockAddr | None:
        entry = self._entries.get(mac)
        if entry is None or now - entry.seen > self.expire:
            return None
        return entry.remote

    # ------------------------------------------------------------------ control

    def forget_remote(self, sender: SockAddr) -> int:
        """Drop every MAC learned from ``sender`` (a vxvde peer said goodbye). Returns a count."""
        gone = [mac for mac, entry in self._entries.items() if entry.sender == sender]
        for mac in gone:
            del self._entries[mac]
        return len(gone)

    def clear(self) -> None:
        self._entries.clear()

    def next_deadline(self) -> float | None:
        """When :meth:`handle_timer` next has work: None while the table is empty."""
        return self._next_gc if self._entries else None

    def handle_timer(self, now: float) -> int:
        """Free expired entries if garbage collection is due. Returns how many went."""
        if self._next_gc is not None and now < self._next_gc:
            return 0
        self._next_gc = now + self.gc_interval
        return self._drop_expired(now)

    def statistics(self) -> RemoteTableStatistics:
        return RemoteTableStatistics(entries=len(self._entries), learned=self._learned,
                                     moved=self._moved, evicted=self._evicted,
                                     group_sources=self._group_sources)

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def entries(self) -> dict[bytes, RemoteEntry]:
        """The table itself, for a data path that inlines :meth:`learn`'s "already known, same
        sender" case and :meth:`destination`: read entries and refresh ``seen``, nothing else."""
        return self._entries

    def items(self) -> Iterator[tuple[bytes, RemoteEntry]]:
        """(MAC, entry) pairs, oldest learned first: for a console listing."""
        return iter(list(self._entries.items()))

    # ------------------------------------------------------------------ internals

    def _remote(self, sender: SockAddr) -> SockAddr:
        if self.reply_port is None:
            return sender
        return (sender[0], self.reply_port, *sender[2:])

    def _drop_expired(self, now: float) -> int:
        stale = [mac for mac, entry in self._entries.items() if now - entry.seen > self.expire]
        for mac in stale:
            del self._entries[mac]
        return len(stale)

    def _make_room(self, now: float) -> None:
        """Full: collect expired entries if collection is due, else (or if none had expired)
        evict the oldest learned. Never a full scan per frame, even under a flood."""
        if self.handle_timer(now) and len(self._entries) < self.max_entries:
            return
        del self._entries[next(iter(self._entries))]
        self._evicted += 1


__all__ = [
    "DEFAULT_EXPIRE",
    "DEFAULT_MAX_ENTRIES",
    "RemoteEntry",
    "RemoteTable",
    "RemoteTableStatistics",
    "SockAddr",
]
