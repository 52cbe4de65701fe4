"""vxlan plugin: ``vxlan://`` ports and cables, RFC 7348, compatible with vdeplug4 and Linux.

* ``_codec``: the 8-byte header; ``_learning``: MAC -> remote endpoint with expiry, learning the
  real sender (vdeplug4 does not); ``_options``: the VNL;
* ``_endpoint``: the socket, the data path and the ``vxlan://`` port type;
* console: ``vxlan/print`` lists each VXLAN port and the MAC addresses it learned.

The user documentation is docs/urls.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from vdex.hookspecs import hookimpl
from vdex.records import MgmtCommand, PortType

if TYPE_CHECKING:
    from vdex.mgmt.context import CommandContext
    from vdex.runtime.switch import Switch


@hookimpl
def vdex_port_types(switch: Switch | None) -> Iterable[PortType]:
    from vdex.vnl import OptionStyle

    from ._endpoint import open_vxlan

    yield PortType(scheme="vxlan", open=open_vxlan, vnl_style=OptionStyle.ADDRESS,
                   help="a VXLAN segment (RFC 7348): vxlan://GROUP_OR_PEER/vni=N/port=4789")


def cmd_vxlan_print(ctx: CommandContext, args: str) -> list[str]:
    from ._endpoint import VxlanEndpoint, describe

    switch: Switch = ctx.switch
    lines: list[str] = []
    for endpoint in switch.endpoints():
        if isinstance(endpoint, VxlanEndpoint):
            lines.extend(describe(endpoint))
    return lines


@hookimpl
def vdex_mgmt_commands(switch: Switch) -> Iterable[MgmtCommand]:
    return [
        MgmtCommand(path="vxlan", help="VXLAN MENU"),
        MgmtCommand(path="vxlan/print", handler=cmd_vxlan_print, output=True,
                    help="list VXLAN ports and the MAC addresses learned behind each peer"),
    ]
