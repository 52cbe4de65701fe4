"""ptp plugin: ``ptp://PATH``, a two-ended cable over unix datagram sockets (vdeplug4 4.0.1).

``vdex plug ptp:///tmp/c /tmp/sw`` on one side and ``vde_plug ptp:///tmp/c /tmp/sw2`` (or
``port/connect ptp:///tmp/c`` on a vdex switch) on the other: no switch in the middle.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from vdex.hookspecs import hookimpl
from vdex.records import PortType

if TYPE_CHECKING:
    from vdex.runtime.switch import Switch


@hookimpl
def vdex_port_types(switch: Switch | None) -> Iterable[PortType]:
    from ._endpoint import open_ptp

    yield PortType(scheme="ptp", open=open_ptp,
                   help="a two-ended cable over unix datagram sockets PATH and PATH+: ptp://PATH")
