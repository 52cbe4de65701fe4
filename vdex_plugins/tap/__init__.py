"""tap plugin: vdex ports on Linux tap interfaces (tap://IFNAME, vdex switch -t, vdex plug2tap).

* ``tap://NAME[mtu=N/up]`` port type (``_endpoint``), usable by ``port/connect``, ``vdex plug``
  and cables;
* ``vdex switch -t TAP`` (repeatable) and the console commands ``tap/add``, ``tap/del``,
  ``tap/print`` (``_commands``);
* ``vdex plug2tap`` (``_plug2tap``), vde_plug2tap's replacement.

The device side is ``_device`` (TUNSETIFF, clear errors) and ``_link`` (netlink: MTU, up).
The user documentation is docs/tap.md.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from vdex.hookspecs import hookimpl
from vdex.records import MgmtCommand, PortType, Service, Subcommand

from . import _commands

if TYPE_CHECKING:
    from vdex.runtime.switch import Switch


@hookimpl
def vdex_addoption(parser: argparse.ArgumentParser) -> None:
    _commands.add_options(parser)


@hookimpl
def vdex_configure(switch: Switch, options: argparse.Namespace, args: Mapping[str, str]) -> None:
    _commands.configure(switch, options)


@hookimpl
def vdex_unconfigure(switch: Switch) -> None:
    _commands.unconfigure(switch)


@hookimpl
def vdex_port_types(switch: Switch | None) -> Iterable[PortType]:
    from ._endpoint import open_tap_port

    yield PortType(scheme="tap", open=open_tap_port,
                   help="a tap interface, created if needed: tap://NAME[mtu=N/up]")


@hookimpl
def vdex_mgmt_commands(switch: Switch) -> Iterable[MgmtCommand]:
    return _commands.mgmt_commands()


@hookimpl
def vdex_services(switch: Switch) -> Iterable[Service]:
    yield Service(name="tap-startup", run=_commands.open_startup_taps)


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    from ._plug2tap import add_arguments

    add_arguments(parser)


def _run(ns: argparse.Namespace) -> int:
    from ._plug2tap import run

    return run(ns)


@hookimpl
def vdex_subcommands() -> Iterable[Subcommand]:
    yield Subcommand(name="plug2tap", help="join a tap interface to a switch or to stdin/stdout, "
                                           "like vde_plug2tap", add_arguments=_add_arguments,
                     run=_run)
