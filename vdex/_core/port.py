"""Ports and their counters, as the switching core sees them.

A port is a numbered slot. It holds zero or more endpoints (client connections, a tap) that all
belong to the same user; frames for the port go to every endpoint. The port object outlives its
endpoints: VLAN membership, access control and counters stay until ``port/remove``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import attrs

from ..records import Sink

NO_VLAN = 4095
"""``port/setvlan N 4095``: the port has no untagged VLAN and drops untagged frames."""


class EndpointLike(Protocol):
    """What the core needs from an endpoint: an identity and a non-blocking send."""

    id: int
    uid: int | None

    def send(self, frame: bytes) -> None:
        """Send one frame without blocking; on a full buffer drop it and count the drop."""


@attrs.define(eq=False, slots=True)
class DropCounters:
    """Frames a port lost, by reason. All counts are frames."""

    runt: int = 0
    """Received frames shorter than their header: 14 bytes, 18 when 802.1Q tagged."""
    oversize: int = 0
    """Received datagrams longer than 1518 bytes."""
    not_member: int = 0
    """Received in a VLAN the port does not belong to, or untagged on a port without one."""
    discarding: int = 0
    """Received or due out while the port is Discarding (spanning tree) in that VLAN."""
    filtered: int = 0
    """Dropped by a frame stage (VLAN checks, filters)."""
    rx_full: int = 0
    """Received by an endpoint but lost before the switch saw them: the endpoint's own queue was
    full (a source that delivers faster than the dataplane drains, such as libslirp)."""
    tx_full: int = 0
    """Not sent because the endpoint's socket buffer was full (a slow receiver)."""
    tx_error: int = 0
    """Not sent because the endpoint's socket failed (its client went away)."""

    def reset(self) -> None:
        for field in attrs.fields(DropCounters):
            setattr(self, field.name, 0)

    def as_dict(self) -> dict[str, int]:
        return attrs.asdict(self)


def _drop(_frame: bytes) -> None:
    """The sink of a port that is not compiled (inactive): frames vanish."""


@attrs.define(eq=False, kw_only=True)
class Port:
    """One switch port. Identity semantics: ports are dictionary keys on the data path."""

    number: int
    allocatable: bool = True
    """May the automatic allocation (a client asking for any port) reuse this slot?"""
    vlan: int = 0
    """The untagged VLAN (4095: none)."""
    tagged: set[int] = attrs.Factory(set)
    """VLANs the port carries 802.1Q tagged."""
    user: int | None = None
    """Access control: the only uid allowed to connect (None: anybody)."""
    group: int | None = None
    """Access control: members of this gid may connect too (None: no group rule)."""
    curuser: int | None = None
    """The uid of the endpoints now attached (-1 when unknown, None when inactive)."""
    endpoints: list[EndpointLike] = attrs.Factory(list)
    """Attached endpoints, newest first (the order of ``port/print``)."""

    in_frames: int = 0
    in_bytes: int = 0
    out_frames: int = 0
    out_bytes: int = 0
    drops: DropCounters = attrs.Factory(DropCounters)

    receive: Sink = _drop
    """Compiled ingress chain: call with each received frame (the data path's entry point)."""
    send: Sink = _drop
    """Compiled egress chain: egress stages, then :meth:`transmit`."""

    @property
    def active(self) -> bool:
        return bool(self.endpoints)

    def transmit(self, frame: bytes, _tagged: bool = False) -> None:
        """Count a frame out and give it to every endpoint (the end of the egress chain).

        The second argument is ignored: it lets the transmit function stand in for a VLAN
        member sink ``(frame, tagged)`` when no stage adapts frames, saving a call per frame.
        """
        self.out_frames += 1
        self.out_bytes += len(frame)
        for endpoint in self.endpoints:
            endpoint.send(frame)

    def compile_transmit(self) -> Callable[..., None]:
        """The fastest transmit for the current endpoints: a single endpoint may supply a fused
        count-and-send closure (``endpoint.transmitter(port)``), else :meth:`transmit`."""
        if len(self.endpoints) == 1:
            make = getattr(self.endpoints[0], "transmitter", None)
            if make is not None:
                return make(self)  # type: ignore[no-any-return,unused-ignore]
        return self.transmit

    def reset_counters(self) -> None:
        self.in_frames = self.in_bytes = self.out_frames = self.out_bytes = 0
        self.drops.reset()

    def __repr__(self) -> str:
        return f"<Port {self.number}{' active' if self.endpoints else ''}>"
