"""``vdex slirp``: slirpvde's command line, on libslirp and vdex's plug.

    vdex slirp -s /tmp/sw -D                  slirp on a port of the switch in /tmp/sw
    vdex slirp -D -L 2222:10.0.2.15:22 /tmp/sw  the switch as operand, a forward to a guest
    dpipe vdex slirp - = vde_plug /tmp/sw     VDE stream on stdin/stdout (slirpvde -)

It is ``vdex plug SWITCH slirp://...`` with slirpvde's options: the switch side is opened by
vdex plug's openers (any VNL), the other side is a slirp endpoint, and the two are joined by
``run_plug`` on the host loop. It exits when the switch closes the port, at EOF on stdin in
``-`` mode, or on SIGTERM/SIGINT/SIGHUP. The banner slirpvde prints on stderr once attached is
printed the same way (not with ``-q``, ``-d`` or ``-``).

Differences from slirpvde are listed in docs/slirp.md; the ones of this command line: ``-h``
prints the usage on stdout and exits 0, a bad option or value exits 2 with a message saying what
is wrong (slirpvde: usage and 255 for both); ``--port``, ``-g`` and ``-m`` are refused with ``-``.
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from typing import Any

import trio

from vdex.errors import ConfigError, PortError, UsageError

from . import _libslirp as C
from ._options import USAGE, SlirpvdeCommand, parse_slirpvde_args

log = logging.getLogger("vdex.slirp")

PROG = "vdex slirp"
DESCRIPTION = "vdex slirp:"
"""What the switch shows for the port (slirpvde's ``port/print`` line says ``slirpvde:``)."""
HELP = "slirp (user-mode networking: DHCP, DNS, NAT, port forwards) on a switch, like slirpvde"


def usage() -> str:
    lines = USAGE.splitlines()
    return "\n".join([f"usage: {PROG} [OPTIONS] [SWITCH]",
                      f"{HELP}; see docs/slirp.md.", *lines[1:]]) + "\n"


def _parse(argv: list[str]) -> SlirpvdeCommand:
    try:
        return parse_slirpvde_args(argv)
    except UsageError as exc:
        text = str(exc).removeprefix("slirpvde: ")
        raise UsageError(f"{PROG}: {text} (see {PROG} --help)") from None
    except ConfigError as exc:
        raise UsageError(f"{PROG}: {exc}") from None


def main(argv: list[str]) -> int:
    """``vdex slirp ARGS``: slirpvde's command line (getopt_long_only: ``-dhcp``, ``-sock``,
    ``-dq`` clusters), parsed by ``parse_slirpvde_args``, not argparse."""
    from vdex.cli.common import daemonize, pidfile, run_trio, setup_logging
    from vdex.cli.plug_cmd import Opener, open_stdio, vnl_opener
    from vdex.plugins import make_plugin_manager
    from vdex.runtime.dataplane import Dataplane

    from ._endpoint import open_slirp_endpoint

    command = _parse(argv)
    if command.help:
        sys.stdout.write(usage())
        return 0
    setup_logging(PROG, syslog=command.daemon)
    library = C.load_libslirp(C.SONAME)  # PluginError naming the package, before anything runs

    def open_slirp() -> Any:
        return open_slirp_endpoint(command.settings, description="slirp", library=library)

    if command.stream:
        if command.port is not None or command.group is not None or command.mode is not None:
            raise UsageError(f"{PROG}: --port, -g and -m apply to a switch, not to '-'")
        open_switch: Opener = open_stdio
    else:
        try:
            open_switch = vnl_opener(
                make_plugin_manager(), command.switch or "", DESCRIPTION,
                mode=None if command.mode is None else f"{command.mode:o}",
                group=command.group, port=command.port)
        except (ConfigError, PortError) as exc:
            raise UsageError(f"{PROG}: {exc}") from None
    banner = not (command.quiet or command.daemon or command.stream)
    if command.daemon:
        daemonize()
    with pidfile(command.pidfile):
        if command.daemon:
            log.info("vdex slirp started")
        dataplane = Dataplane()
        run_trio(functools.partial(_serve, command, open_switch, open_slirp, banner, dataplane),
                 dataplane)
    return 0


async def _serve(command: SlirpvdeCommand, open_switch: Callable[[], Any],
                 open_slirp: Callable[[], Any], banner: bool, dataplane: Any) -> None:
    from vdex.cli.common import until_signal
    from vdex.cli.plug_cmd import run_plug

    from ._describe import slirpvde_banner

    async def plug_with_banner() -> None:
        async with trio.open_nursery() as nursery:
            switch_end, _slirp_end = await nursery.start(
                functools.partial(run_plug, open_switch, open_slirp, dataplane=dataplane))
            if banner:
                sys.stderr.write(slirpvde_banner(command.settings,
                                                 command.switch or switch_end.description))
                sys.stderr.flush()

    await until_signal(plug_with_banner)


__all__ = ["DESCRIPTION", "PROG", "usage", "main"]
