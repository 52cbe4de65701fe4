"""The MAC address table: where each (MAC, VLAN) was last seen, with vde_switch's ageing rules.

Time is whole seconds since the switch started (vde_switch's ``qtime``), handed in by the driver.
The forwarding engine reads and refreshes entries inline through :meth:`MacTable.vlan_table`;
everything that creates, moves or deletes an entry goes through this class, so the debug events
``hash/+`` and ``hash/-`` are never missed.

Differences from vde_switch, on purpose (docs/vde-compat.md):

* stale entries are collected by the timer, not by the next received frame, so an idle switch
  forgets what expired;
* "MAC ... moved" is logged only when the entry really moved;
* a port going up or down purges that port's entries only, not the whole table of its VLANs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from .frame import format_mac
from .mac_hash import mac_bucket, round_hash_size

MacEvent = Callable[[str, bytes, int, Any], None]
"""``on_event(kind, mac, vlan, port)`` with kind ``"+"`` (new entry) or ``"-"`` (deleted)."""


class MacEntry:
    """Where one (MAC, VLAN) lives. Mutable and slotted: the data path refreshes ``seen``."""

    __slots__ = ("mac", "vlan", "port", "seen", "seq")

    def __init__(self, mac: bytes, vlan: int, port: Any, seen: int, seq: int) -> None:
        self.mac = mac
        self.vlan = vlan
        self.port = port
        self.seen = seen
        self.seq = seq

    def __repr__(self) -> str:
        return f"MacEntry({format_mac(self.mac)}, vlan={self.vlan}, port={self.port!r}, seen={self.seen})"


class MacTable:
    """Learnt addresses per VLAN, with expiry, GC interval and minimum persistence."""

    def __init__(
        self,
        *,
        hash_size: int = 128,
        expire: int = 100,
        gc_interval: int = 2,
        min_persistence: int = 3,
        on_event: MacEvent | None = None,
        on_move: Callable[[bytes, Any, Any], None] | None = None,
    ) -> None:
        self.hash_size = round_hash_size(hash_size)
        self.expire = expire
        self.gc_interval = gc_interval
        self.min_persistence = min_persistence
        self._tables: dict[int, dict[bytes, MacEntry]] = {}
        self._seq = 0
        self._next_gc = gc_interval
        self.on_event = on_event
        self.on_move = on_move

    # ------------------------------------------------------------------ access

    def vlan_table(self, vlan: int) -> dict[bytes, MacEntry]:
        """The live dictionary of one VLAN, created on first use (the data path keeps it)."""
        table = self._tables.get(vlan)
        if table is None:
            table = self._tables[vlan] = {}
        return table

    def lookup(self, mac: bytes, vlan: int) -> MacEntry | None:
        table = self._tables.get(vlan)
        return None if table is None else table.get(mac)

    def __len__(self) -> int:
        return sum(len(t) for t in self._tables.values())

    def __iter__(self) -> Iterator[MacEntry]:
        for table in self._tables.values():
            yield from table.values()

    # ------------------------------------------------------------------ changes

    def learn(self, mac: bytes, vlan: int, port: Any, now: int) -> MacEntry:
        """Record that ``mac`` was seen on ``port`` in ``vlan`` (the slow path of learning).

        An entry on another port moves only if it is older than the minimum persistence, which
        keeps a looping frame from flapping the table.
        """
        table = self.vlan_table(vlan)
        entry = table.get(mac)
        if entry is None:
            self._seq += 1
            entry = table[mac] = MacEntry(mac, vlan, port, now, self._seq)
            if self.on_event is not None:
                self.on_event("+", mac, vlan, port)
        elif entry.port is port:
            entry.seen = now
        elif now - entry.seen > self.min_persistence:
            old = entry.port
            entry.port = port
            entry.seen = now
            if self.on_move is not None:
                self.on_move(mac, old, port)
        return entry

    def _delete(self, table: dict[bytes, MacEntry], entry: MacEntry) -> None:
        del table[entry.mac]
        if self.on_event is not None:
            self.on_event("-", entry.mac, entry.vlan, entry.port)

    def purge(self, *, port: Any = None, vlan: int | None = None) -> int:
        """Delete the entries of ``port`` and/or ``vlan`` (both None: everything). Returns a count."""
        count = 0
        tables = self._tables.items() if vlan is None else [(vlan, self._tables.get(vlan, {}))]
        for _vid, table in tables:
            for entry in [e for e in table.values() if port is None or e.port is port]:
                self._delete(table, entry)
                count += 1
        return count

    def resize(self, hash_size: int) -> int:
        """Change the bucket count (rounded up to a power of two); like vde_switch, flush the table."""
        self.hash_size = round_hash_size(hash_size)
        self.purge()
        return self.hash_size

    # ------------------------------------------------------------------ time

    def next_deadline(self) -> int | None:
        """When :meth:`handle_timer` next has work, or None when garbage collection is off."""
        return self._next_gc if self.gc_interval > 0 else None

    def set_gc_interval(self, seconds: int, now: int) -> None:
        """Change the GC interval; zero or less stops garbage collection, as in vde_switch."""
        self.gc_interval = seconds
        self._next_gc = now + seconds

    def handle_timer(self, now: int) -> int:
        """Run due garbage collection: delete entries not seen for more than ``expire`` seconds."""
        if self.gc_interval <= 0 or now < self._next_gc:
            return 0
        self._next_gc = now + self.gc_interval
        count = 0
        for table in self._tables.values():
            for entry in [e for e in table.values() if e.seen + self.expire < now]:
                self._delete(table, entry)
                count += 1
        return count

    # ------------------------------------------------------------------ display

    def bucket(self, entry: MacEntry) -> int:
        return mac_bucket(entry.mac, entry.vlan, self.hash_size)

    def in_print_order(self) -> list[MacEntry]:
        """Entries in ``hash/print`` order: by bucket, newest first within a bucket."""
        return sorted(self, key=lambda e: (self.bucket(e), -e.seq))
