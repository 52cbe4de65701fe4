"""What the FSTP machine asks its driver to do: plain values, applied in order."""

from __future__ import annotations

import attrs

from ._bpdu import Bpdu


@attrs.frozen
class SendBpdu:
    """Send ``bpdu`` on ``port``: tagged with ``vlan`` if the port is a tagged member of it."""

    port: int
    vlan: int
    tagged: bool
    bpdu: Bpdu


@attrs.frozen
class SetDiscarding:
    """Block (True) or unblock (False) ``port`` in ``vlan``."""

    port: int
    vlan: int
    discarding: bool


@attrs.frozen
class FlushVlan:
    """Topology change: forget every MAC address learnt in ``vlan``."""

    vlan: int


@attrs.frozen
class RootChanged:
    """``vlan`` has a new root bridge or root port (None: this switch is the root). For ``fstp/root``."""

    vlan: int
    root: bytes
    port: int | None


@attrs.frozen
class PeerChanged:
    """An FSTP neighbour appeared on (or went silent on) ``port`` in ``vlan``. For ``fstp/+|-``."""

    port: int
    vlan: int
    present: bool


Action = SendBpdu | SetDiscarding | FlushVlan | RootChanged | PeerChanged
