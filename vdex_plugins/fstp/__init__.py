"""vde_switch's fast spanning tree (FSTP): a loop-free mesh of switches, per VLAN.

The user documentation is docs/fstp.md. Modules: ``_bpdu`` (codec), ``_machine`` (the protocol,
sans-I/O), ``_actions``, ``_controller`` (binds a machine to a SwitchEngine), ``_commands``
(``fstp/*``), ``_runtime`` (the controller on a running switch: timer, topology, debug events).
Options on ``vdex switch``: ``-F/--fstp`` and ``--priority N``, as vde_switch's.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from vdex.hookspecs import hookimpl
from vdex.records import DebugCategory, FrameStage, MgmtCommand, Service

from . import _commands
from ._runtime import DEBUG_CATEGORIES, FSTP, FstpRuntime, runtime

if TYPE_CHECKING:
    from vdex.mgmt.context import CommandContext
    from vdex.runtime.switch import Switch


def _priority(text: str) -> int:
    from vdex.errors import ConfigError, MgmtError
    from vdex.mgmt.args import parse_int

    from ._runtime import check_priority

    try:
        return check_priority(parse_int(text, "priority", base=10))
    except (MgmtError, ConfigError) as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


@hookimpl
def vdex_addoption(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("fstp", "fast spanning tree (vde_switch's FSTP)")
    group.add_argument("-F", "--fstp", action="store_true",
                       help="activate the fast spanning tree protocol")
    group.add_argument("--priority", type=_priority, metavar="N",
                       help="FSTP bridge priority, 0..65535, lower wins (default 32768)")


@hookimpl
def vdex_configure(switch: Switch, options: argparse.Namespace, args: Mapping[str, str]) -> None:
    state = FstpRuntime(switch=switch)
    state.start(options)
    switch.stash[FSTP] = state


@hookimpl
def vdex_unconfigure(switch: Switch) -> None:
    state = switch.stash.pop(FSTP, None)
    if state is not None:
        state.stop()


def _handler(command: Callable[[Any, str], list[str]]) -> Callable[[CommandContext, str], list[str]]:
    def handle(ctx: CommandContext, args: str) -> list[str]:
        return command(runtime(ctx.switch).controller, args)

    handle.__doc__ = command.__doc__
    return handle


@hookimpl
def vdex_mgmt_commands(switch: Switch) -> Iterable[MgmtCommand]:
    return [
        MgmtCommand(path="fstp", help="FAST SPANNING TREE MENU"),
        MgmtCommand(path="fstp/showinfo", handler=_handler(_commands.fstp_showinfo),
                    help="show fstp info", output=True),
        MgmtCommand(path="fstp/setfstp", handler=_handler(_commands.fstp_setfstp), syntax="0/1",
                    help="Fast spanning tree protocol 1=ON 0=OFF", output=True),
        MgmtCommand(path="fstp/setedge", handler=_handler(_commands.fstp_setedge),
                    syntax="VLAN PORT 1/0", help="Define an edge port for a vlan 1=Y 0=N"),
        MgmtCommand(path="fstp/bonus", handler=_handler(_commands.fstp_bonus),
                    syntax="VLAN PORT COST", help="set the port bonus for a vlan"),
        MgmtCommand(path="fstp/print", handler=_handler(_commands.fstp_print), syntax="[N]",
                    help="print fst data for the defined vlan", output=True),
    ]


@hookimpl
def vdex_debug_categories(switch: Switch) -> Iterable[DebugCategory]:
    return DEBUG_CATEGORIES


@hookimpl
def vdex_frame_stages(switch: Switch) -> Iterable[FrameStage]:
    return [runtime(switch).controller.frame_stage()]


@hookimpl
def vdex_services(switch: Switch) -> Iterable[Service]:
    state = runtime(switch)

    async def run(_switch: Switch, *, task_status: Any) -> None:
        await state.run_timer(task_status=task_status)

    return [Service(name="fstp-timer", run=run)]
