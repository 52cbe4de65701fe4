"""``vdex switch``: vde_switch's command line, plus plugin flags.

``-p`` is vde_switch's pid file. It also loads a plugin, as in pytest, when its value names one:
``-p no:NAME`` blocks a default plugin, ``-p NAME`` loads an installed plugin. A value with a
``/``, or that is no plugin's name, is a pid file (``--pidfile``/``--plugin`` say it explicitly).
"""

from __future__ import annotations

import argparse
import logging
import sys

from .._core.frame import parse_mac
from ..errors import ConfigError, PluginError, UsageError
from ..plugins import builtin_plugins, installed_plugins, make_plugin_manager
from ..runtime.switch import Switch, SwitchOptions, default_socket_dir
from ..vde.perms import group_id, parse_mode
from .common import Parser, daemonize, long_only, pidfile, run_trio, setup_logging

log = logging.getLogger("vdex.switch")

DESCRIPTION = """\
A virtual Ethernet switch compatible with vde_switch: QEMU (-nic vde), vde_plug, dpipe cables,
vdeterm/unixterm/unixcmd all work with it unchanged. The console runs on stdin unless -d is
given, and on the -M socket."""


def _is_plugin_request(value: str, allow_modules: bool) -> bool:
    if value.startswith("no:"):
        return True
    if "/" in value:
        return False
    if value in builtin_plugins() or value in installed_plugins():
        return True
    return allow_modules and "." in value and not value.endswith(".pid") and all(
        part.isidentifier() for part in value.split("."))


def split_plugin_flags(argv: list[str]) -> tuple[list[str], list[str]]:
    """Pull plugin requests out of argv before parsing (plugins may add options).

    :return: (plugin requests, the remaining argv).
    """
    allow_modules = "--allow-plugin-modules" in argv
    requests: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            rest.extend(argv[i:])
            break
        if arg in ("-p", "--plugin") and i + 1 < len(argv):
            value = argv[i + 1]
            if arg == "--plugin" or _is_plugin_request(value, allow_modules):
                requests.append(value)
                i += 2
                continue
        elif arg.startswith("--plugin="):
            requests.append(arg.split("=", 1)[1])
            i += 1
            continue
        elif arg.startswith("-p") and len(arg) > 2 and not arg.startswith("--") and \
                _is_plugin_request(arg[2:], allow_modules):
            requests.append(arg[2:])
            i += 1
            continue
        rest.append(arg)
        i += 1
    return requests, rest


def _int(text: str) -> int:
    try:
        return int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None


def _positive(text: str) -> int:
    value = _int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive number")
    return value


def _mode(text: str) -> int:
    try:
        return parse_mode(text)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _mac(text: str) -> bytes:
    try:
        return parse_mac(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def _log_level(text: str) -> str:
    if text.upper() not in LOG_LEVELS:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a log level (expected one of {', '.join(LOG_LEVELS)})")
    return text.upper()


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="vdex switch", description=DESCRIPTION,
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    add = parser.add_argument
    add("-s", "--sock", "--vdesock", "--unix", metavar="DIR", default=None,
        help="control directory of the data socket (default /var/run/vde.ctl as root, "
             "else /tmp/vde.ctl)")
    add("-n", "--numports", type=_positive, default=32, metavar="N",
        help="number of ports: clients get 1..N-1, as with vde_switch (default 32)")
    add("-x", "--hub", action="store_true", help="hub mode: every frame to every port")
    add("--macaddr", type=_mac, metavar="MAC", help="the switch's MAC (default random 00:ff:...)")
    add("--hashsize", type=_positive, default=128, metavar="N",
        help="MAC table buckets, rounded up to a power of two (default 128)")
    add("-m", "--mod", "--mode", dest="mode", type=_mode, metavar="MODE",
        help="octal mode of the sockets (default 0600); the directory gets the matching x bits")
    add("--dirmode", type=_mode, metavar="MODE", help="octal mode of the control directory")
    add("-g", "--group", metavar="GROUP", help="group owning the directory and sockets")
    add("-d", "--daemon", action="store_true", help="run in the background, log to syslog")
    add("-p", "--pidfile", metavar="FILE", help="write the process id to FILE")
    add("-f", "--rcfile", metavar="FILE",
        help="run management commands from FILE at start (default ~/.vde2/vde_switch.rc, "
             "then /etc/vde2/vde_switch.rc)")
    add("-M", "--mgmt", metavar="SOCK", help="management console on this unix socket")
    add("--mgmtmode", type=_mode, default=0o600, metavar="MODE",
        help="octal mode of the management socket (default 0600)")
    add("--mgmtgroup", metavar="GROUP", help="group of the management socket")
    add("--nostdin", action="store_true", help="no console on stdin (and stdin EOF is ignored)")
    add("--plugin", metavar="NAME", action="append", default=[],
        help="load plugin NAME, or block a default one with no:NAME (same as -p NAME)")
    add("--allow-plugin-modules", action="store_true",
        help="let -p and plugin/add load any importable module, not only installed plugins")
    add("--log-level", default="INFO", metavar="LEVEL", type=_log_level,
        help="DEBUG, INFO (default), WARNING or ERROR")
    return parser


def options_from(ns: argparse.Namespace) -> SwitchOptions:
    try:
        gid = group_id(ns.group) if ns.group else None
    except UsageError as exc:
        raise UsageError(f"vdex switch: argument -g/--group: {exc}") from None
    try:
        mgmt_gid = group_id(ns.mgmtgroup) if ns.mgmtgroup else None
    except UsageError as exc:
        raise UsageError(f"vdex switch: argument --mgmtgroup: {exc}") from None
    return SwitchOptions(
        sock=ns.sock or default_socket_dir(), numports=ns.numports, hub=ns.hub,
        macaddr=ns.macaddr, hash_size=ns.hashsize, mode=ns.mode, dirmode=ns.dirmode, gid=gid,
        mgmt=ns.mgmt, mgmt_mode=ns.mgmtmode, mgmt_gid=mgmt_gid, rcfile=ns.rcfile,
        stdin_console=not (ns.daemon or ns.nostdin),
        allow_plugin_modules=ns.allow_plugin_modules, namespace=ns,
    )


def main(argv: list[str]) -> int:
    requests, rest = split_plugin_flags(argv)
    bare = build_parser()
    rest = long_only(rest, bare)
    allow_modules = "--allow-plugin-modules" in rest
    try:  # a plugin named on the command line that cannot load is a usage error (exit 2)
        pm = make_plugin_manager(requests, allow_modules=allow_modules)
    except PluginError as exc:
        raise UsageError(f"vdex switch: {exc} (see vdex switch --help)") from None
    parser = build_parser()
    pm.hook.vdex_addoption.call_historic(kwargs={"parser": parser})
    ns = parser.parse_args(long_only(rest, parser))
    for value in ns.plugin:
        if not value.startswith("no:"):
            try:
                pm.load(value, allow_modules=allow_modules)
            except PluginError as exc:
                raise UsageError(f"vdex switch: {exc} (see vdex switch --help)") from None
    options = options_from(ns)
    setup_logging("vdex switch", level=ns.log_level, syslog=ns.daemon)
    if ns.daemon:
        daemonize()
    with pidfile(ns.pidfile):
        switch = Switch(options, pm, hosted=True)
        try:
            run_trio(lambda: switch.serve(handle_signals=True), switch.dataplane)
        except (ConfigError, PluginError) as exc:
            log.error("%s", exc)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
