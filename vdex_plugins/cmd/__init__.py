"""cmd plugin: ``cmd://COMMAND ARGS``, a port whose frames go through a child process's
stdin/stdout with the VDE stream framing (vdeplug4's cmd module, without its bugs).

``port/connect "cmd://vde_plug /tmp/other"`` joins two switches; ``cmd://ssh host vde_plug``
reaches a switch on another host.
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
    from ._endpoint import open_cmd

    yield PortType(scheme="cmd", open=open_cmd,
                   help="frames through a child's stdin/stdout (VDE stream): cmd://COMMAND ARGS")
