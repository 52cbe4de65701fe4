"""The ``vdex`` command: ``vdex switch``, ``vdex plug``, ``vdex dpipe``, ``vdex term``, and the
tools plugins add (``vdex wirefilter``, ``vdex plug2tap``, ``vdex slirp``, ...)."""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Callable

from .. import __version__
from ..errors import UsageError, VdexError
from ..plugins import builtin_plugins, make_plugin_manager
from ..records import Subcommand

BUILTIN_COMMANDS: dict[str, tuple[str, str]] = {
    "switch": ("vdex.cli.switch_cmd", "a vde_switch compatible switch with its console"),
    "plug": ("vdex.cli.plug_cmd", "join a switch port (or any VNL) to stdin/stdout, a command "
                                  "or another VNL, like vde_plug"),
    "dpipe": ("vdex.tools.dpipe", "connect commands' stdin/stdout in a chain, like dpipe"),
    "term": ("vdex.tools.term", "console client for management sockets, like vdeterm"),
}


def plugin_subcommands() -> dict[str, Subcommand]:
    """Every ``vdex NAME`` tool a built-in or installed plugin contributes."""
    pm = make_plugin_manager()
    for name in builtin_plugins():
        if name not in pm.info:
            try:
                pm.load(name)
            except VdexError as exc:
                logging.getLogger("vdex").debug("plugin %s not loadable: %s", name, exc)
    found: dict[str, Subcommand] = {}
    for result in pm.hook.vdex_subcommands():
        for sub in result or ():
            found.setdefault(sub.name, sub)
    return found


def usage() -> str:
    lines = [f"vdex {__version__}: Virtual Distributed Ethernet on trio and pluggy", "",
             "usage: vdex COMMAND [ARGS...]   (vdex COMMAND --help for its options)", "",
             "commands:"]
    for name, (_module, text) in BUILTIN_COMMANDS.items():
        lines.append(f"  {name:<12} {text}")
    for name, sub in sorted(plugin_subcommands().items()):
        if name not in BUILTIN_COMMANDS:
            lines.append(f"  {name:<12} {sub.help}")
    return "\n".join(lines)


def _runner(command: str) -> Callable[[list[str]], int]:
    if command in BUILTIN_COMMANDS:
        module = importlib.import_module(BUILTIN_COMMANDS[command][0])
        runner: Callable[[list[str]], int] = module.main
        return runner
    sub = plugin_subcommands().get(command)
    if sub is None:
        raise UsageError(f"vdex: unknown command {command!r}\n\n{usage()}")

    if sub.main is not None:
        return sub.main

    def run(argv: list[str]) -> int:
        from .common import Parser

        assert sub.add_arguments is not None and sub.run is not None
        parser = Parser(prog=f"vdex {sub.name}", description=sub.help)
        sub.add_arguments(parser)
        return sub.run(parser.parse_args(argv))

    return run


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help", "help"):
        print(usage())
        return 0 if args else 2
    if args[0] in ("-V", "--version"):
        print(f"vdex {__version__}")
        return 0
    try:
        return _runner(args[0])(args[1:])
    except UsageError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except VdexError as exc:
        print(f"vdex {args[0]}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
