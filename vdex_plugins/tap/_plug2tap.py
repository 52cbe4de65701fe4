"""vdex plug2tap [OPTIONS] TAP: a tap interface joined to a switch port, like vde_plug2tap.

    vdex plug2tap -s /tmp/sw tap0        tap0 <-> a port of the switch in /tmp/sw
    vdex plug2tap -s - tap0              tap0 <-> stdin/stdout (VDE stream framing), for dpipe:
                                         dpipe vdex plug2tap -s - tap0 = ssh host vde_plug

Options as vde_plug2tap's: -s/--sock (any VNL; default: the default switch), -p/--port,
-g/--group, -m/--mod (--mode too, which vde_plug2tap's help advertises but refuses),
-d/--daemon, -P/--pidfile. It exits when the tap fails, the switch closes the port, or
stdin reaches EOF. Unlike vde_plug2tap it never truncates a frame to 2048 bytes (frames are at
most 1518 bytes anyway) and reads each side until EAGAIN.
"""

from __future__ import annotations

import argparse
import logging

from vdex.errors import ConfigError, PortError, UsageError

log = logging.getLogger("vdex.plug2tap")

DESCRIPTION = "vdex plug2tap:"
"""What the switch shows for the port (vde_plug2tap sends ``vde_plug2tap:``)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    add = parser.add_argument
    add("-s", "--sock", "--vdesock", "--unix", default="", metavar="VNL",
        help="the switch (a directory or any VNL; default: the default switch); "
             "'-' for the VDE stream on stdin/stdout")
    add("-p", "--port", type=int, metavar="N", help="port number on the switch")
    add("-g", "--group", metavar="GROUP", help="group of the client socket")
    add("-m", "--mod", "--mode", dest="mode", metavar="MODE",
        help="octal mode of the client socket")
    add("-d", "--daemon", action="store_true", help="run in the background, log to syslog")
    add("-P", "--pidfile", metavar="FILE", help="write the process id to FILE")
    add("tap", metavar="TAP", help="tap interface (created if needed; needs CAP_NET_ADMIN)")


def run(ns: argparse.Namespace) -> int:
    from vdex.cli.common import daemonize, pidfile, run_trio, setup_logging, until_signal
    from vdex.cli.plug_cmd import Opener, open_stdio, run_plug, vnl_opener
    from vdex.plugins import make_plugin_manager
    from vdex.runtime.dataplane import Dataplane

    from ._commands import tap_vnl
    from ._endpoint import open_tap_port
    from ._target import parse_tap_target

    setup_logging("vdex plug2tap", syslog=ns.daemon)
    try:
        parse_tap_target(ns.tap)
    except (ConfigError, PortError) as exc:
        raise UsageError(f"vdex plug2tap: {exc}") from None
    open_tap: Opener = lambda: open_tap_port(None, tap_vnl(ns.tap))  # noqa: E731
    if ns.sock == "-":
        if ns.port is not None or ns.group or ns.mode:
            raise UsageError("vdex plug2tap: -p, -g and -m apply to a switch, not to -s -")
        open_switch: Opener = open_stdio
    else:
        try:
            open_switch = vnl_opener(make_plugin_manager(), ns.sock, DESCRIPTION,
                                     mode=ns.mode, group=ns.group, port=ns.port)
        except (ConfigError, PortError) as exc:
            raise UsageError(f"vdex plug2tap: {exc}") from None
    if ns.daemon:
        daemonize()
    with pidfile(ns.pidfile):
        if ns.daemon:
            log.info("VDE_PLUG2TAP started")
        dataplane = Dataplane()  # driven by the host loop, as vdex plug's
        run_trio(lambda: until_signal(
            lambda: run_plug(open_tap, open_switch, dataplane=dataplane)), dataplane)
    return 0


__all__ = ["DESCRIPTION", "add_arguments", "run"]
