"""802.1Q VLANs: untagged and tagged (trunk) ports, vde_switch's vlan/* and port/setvlan commands.

The user documentation is docs/vlan.md. ``_dot1q`` holds the frame stages (classify, adapt),
``_commands`` the console commands over a SwitchEngine.

The switching core already keeps one domain (members, MAC table) per VLAN; this plugin adds the
wire format and the commands. Without it a switch is VLAN-unaware: every port is an untagged
member of VLAN 0 and tags pass untouched. So removing the plugin (``plugin/del vlan``) returns
the switch to exactly that state: tagged memberships and VLANs 1..4094 are removed and every port
goes back to VLAN 0. Connected clients stay connected.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

from vdex.hookspecs import hookimpl
from vdex.records import FrameStage, MgmtCommand

from . import _commands
from ._dot1q import dot1q_stage

if TYPE_CHECKING:
    from vdex._core.engine import SwitchEngine
    from vdex.mgmt.context import CommandContext
    from vdex.runtime.switch import Switch

log = logging.getLogger("vdex.vlan")


def _handler(command: Callable[[SwitchEngine, str], list[str]]
             ) -> Callable[[CommandContext, str], list[str]]:
    def handle(ctx: CommandContext, args: str) -> list[str]:
        return command(ctx.switch.engine, args)

    handle.__doc__ = command.__doc__
    return handle


@hookimpl
def vdex_configure(switch: Switch, options: argparse.Namespace, args: Mapping[str, str]) -> None:
    """Nothing to set up: the VLAN domains live in the engine."""


@hookimpl
def vdex_unconfigure(switch: Switch) -> None:
    if switch.running:  # plugin/del; at shutdown the configuration goes with the switch
        reset_to_vlan_unaware(switch.engine)


def reset_to_vlan_unaware(engine: SwitchEngine) -> None:
    """Every port an untagged member of VLAN 0 only, no other VLAN (what ``-p no:vlan`` gives)."""
    from vdex._core.port import NO_VLAN

    changed = []
    for port in list(engine.ports):
        for vid in sorted(port.tagged):
            if port.vlan != vid:
                engine.remove_tagged(port, vid)
                changed.append(f"port {port.number} leaves tagged VLAN {vid}")
        if port.vlan != 0:
            old = port.vlan
            engine.set_untagged(port, 0)
            changed.append(f"port {port.number} moves from "
                           f"{'no VLAN' if old == NO_VLAN else f'VLAN {old}'} to VLAN 0")
    for vid in engine.vlan_ids():
        if vid != 0:
            engine.remove_vlan(vid)
            changed.append(f"VLAN {vid} removed")
    if changed:
        log.warning("VLAN plugin removed, the switch is VLAN-unaware again: %s",
                    "; ".join(changed))


@hookimpl
def vdex_mgmt_commands(switch: Switch) -> Iterable[MgmtCommand]:
    return [
        MgmtCommand(path="port/setvlan", handler=_handler(_commands.port_setvlan),
                    syntax="N VLAN", help="set port VLAN (untagged)"),
        MgmtCommand(path="vlan", help="VLAN MANAGEMENT MENU"),
        MgmtCommand(path="vlan/create", handler=_handler(_commands.vlan_create), syntax="N",
                    help="create the VLAN with tag N"),
        MgmtCommand(path="vlan/remove", handler=_handler(_commands.vlan_remove), syntax="N",
                    help="remove the VLAN with tag N"),
        MgmtCommand(path="vlan/addport", handler=_handler(_commands.vlan_addport),
                    syntax="N PORT", help="add port to the vlan N (tagged)"),
        MgmtCommand(path="vlan/delport", handler=_handler(_commands.vlan_delport),
                    syntax="N PORT", help="remove port from the vlan N (tagged)"),
        MgmtCommand(path="vlan/print", handler=_handler(_commands.vlan_print), syntax="[N]",
                    help="print the list of defined vlan", output=True),
        MgmtCommand(path="vlan/allprint", handler=_handler(_commands.vlan_allprint),
                    syntax="[N]",
                    help="print the list of defined vlan (including inactive port)",
                    output=True),
    ]


@hookimpl
def vdex_frame_stages(switch: Switch) -> Iterable[FrameStage]:
    return [dot1q_stage()]
