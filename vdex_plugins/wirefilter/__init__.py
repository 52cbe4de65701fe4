"""Emulate bad links (loss, delay, jitter, duplication, bandwidth, noise) on a cable or a port.

Two ways to use one implementation (the sans-I/O model in ``_model.py``):

* ``vdex wirefilter [options]``: a cable filter process, compatible with wirefilter in a dpipe
  chain (``_cli.py``, driven by ``_cable.py``);
* on a running switch, ``wf/add PORT [param=value ...]``, ``wf/set``, ``wf/del``, ``wf/show``: a
  frame stage on that port, with no extra process (``_stage.py``).

The user documentation is docs/wirefilter.md.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from vdex.hookspecs import hookimpl
from vdex.records import DebugCategory, FrameStage, MgmtCommand, Service, Subcommand

from . import _stage

if TYPE_CHECKING:
    from vdex._core.port import Port
    from vdex.runtime.switch import Switch


def _run(ns: argparse.Namespace) -> int:
    from ._cli import run

    return run(ns)


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    from ._cli import add_arguments

    add_arguments(parser)


@hookimpl
def vdex_subcommands() -> Iterable[Subcommand]:
    yield Subcommand(
        name="wirefilter",
        help="a cable filter that emulates a bad link, like wirefilter (use it in a dpipe)",
        add_arguments=_add_arguments,
        run=_run,
    )


@hookimpl
def vdex_configure(switch: Switch, options: argparse.Namespace, args: Mapping[str, str]) -> None:
    _stage.configure(switch, args)


@hookimpl
def vdex_unconfigure(switch: Switch) -> None:
    _stage.unconfigure(switch)


@hookimpl
def vdex_frame_stages(switch: Switch) -> Iterable[FrameStage]:
    yield _stage.frame_stage(switch)


@hookimpl
def vdex_mgmt_commands(switch: Switch) -> Iterable[MgmtCommand]:
    return _stage.mgmt_commands()


@hookimpl
def vdex_debug_categories(switch: Switch) -> Iterable[DebugCategory]:
    yield _stage.MARKOV_DEBUG


@hookimpl
def vdex_services(switch: Switch) -> Iterable[Service]:
    yield Service(name="wirefilter", run=_stage.run_timer)


@hookimpl
def vdex_port_deactivated(switch: Switch, port: Port) -> None:
    _stage.port_down(switch, port)


@hookimpl
def vdex_port_removed(switch: Switch, port: Port) -> None:
    _stage.port_removed(switch, port)
