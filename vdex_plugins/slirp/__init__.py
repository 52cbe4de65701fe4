"""slirp: unprivileged internet access for the virtual LAN, on the system libslirp.

* the ``slirp://`` port type (``_endpoint``, options in vdeplug_slirp's style: ``_vnl``), usable
  by ``port/connect``, ``vdex plug`` and cables;
* the console commands ``slirp/add`` (slirpvde's options), ``slirp/del``, ``slirp/print``,
  ``slirp/fwadd``, ``slirp/fwdel`` after ``plugin/add slirp`` (``_commands``);
* ``vdex slirp``, slirpvde's replacement (``_cli``).

Underneath: the ctypes binding (``_libslirp``), the one module where libslirp's poll and timer
callbacks meet trio (``_bridge``), slirpvde's options (``_settings``, ``_options``). The user
documentation is docs/slirp.md.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from vdex.errors import PluginError
from vdex.hookspecs import hookimpl
from vdex.records import MgmtCommand, PortType, Subcommand
from vdex.vnl import OptionStyle

from ._bridge import FrameSink as FrameSink
from ._bridge import SlirpBridge as SlirpBridge
from ._bridge import SlirpStatistics as SlirpStatistics
from ._bridge import open_slirp as open_slirp
from ._libslirp import load_libslirp as load_libslirp
from ._options import USAGE as USAGE
from ._options import SlirpvdeCommand as SlirpvdeCommand
from ._options import parse_forward as parse_forward
from ._options import parse_slirpvde_args as parse_slirpvde_args
from ._options import settings_for_host as settings_for_host
from ._settings import HostForward as HostForward
from ._settings import SlirpSettings as SlirpSettings
from ._settings import UnixForward as UnixForward
from ._settings import X11Forward as X11Forward
from ._vnl import format_slirp_vnl as format_slirp_vnl
from ._vnl import parse_slirp_vnl as parse_slirp_vnl

if TYPE_CHECKING:
    from vdex.runtime.switch import Switch


@hookimpl
def vdex_configure(switch: Switch, options: argparse.Namespace, args: Mapping[str, str]) -> None:
    """Refuse activation (``plugin/add slirp``) with the package to install when libslirp is
    missing, rather than failing at the first ``slirp/add``."""
    if args:
        raise PluginError(f"takes no arguments (got {', '.join(sorted(args))}); the options "
                          f"belong to slirp/add or the slirp:// VNL", plugin="slirp")
    load_libslirp()


@hookimpl
def vdex_port_types(switch: Switch | None) -> Iterable[PortType]:
    from ._endpoint import open_slirp_port

    yield PortType(scheme="slirp", open=open_slirp_port, vnl_style=OptionStyle.RAW,
                   help="user-mode networking (DHCP, DNS, NAT, forwards) on libslirp: "
                        "slirp:///dhcp/tcpfwd=8080:10.0.2.15:80 (docs/slirp.md)")


@hookimpl
def vdex_mgmt_commands(switch: Switch) -> Iterable[MgmtCommand]:
    from ._commands import mgmt_commands

    return mgmt_commands()


def _main(argv: list[str]) -> int:
    from ._cli import main

    return main(argv)


@hookimpl
def vdex_subcommands() -> Iterable[Subcommand]:
    from ._cli import HELP

    yield Subcommand(name="slirp", help=HELP, main=_main)
