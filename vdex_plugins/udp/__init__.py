"""udp plugin: ``udp://`` point-to-point cables, one raw Ethernet frame per UDP datagram.

``udp://[src_addr:]src_port->dst_addr:dst_port``, wire compatible with vdeplug4's udp module
(``_address``: the syntax; ``_endpoint``: the socket). A switch uses it with
``port/connect udp://5000->192.0.2.2:5000``; ``vdex plug`` with ``vdex plug /tmp/sw udp://...``.
No encryption and no authentication: use it on trusted links (or inside a VPN).
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
    from ._endpoint import open_udp

    yield PortType(scheme="udp", open=open_udp,
                   help="raw frames over UDP to one peer: udp://[SRC:]PORT->DST:PORT")
