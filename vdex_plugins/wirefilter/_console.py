"""The ``vdex wirefilter`` management console: wirefilter's banner, prompt and command table.

The generic :class:`vdex.mgmt.console.Console` does the framing; this module only says what the
commands are. Input is line-buffered, so unlike wirefilter every command of a multi-line write
runs. ``logout`` answers ``1000 Success`` (wirefilter prints ``1-01 Unknown error -1``), and so
does ``shutdown`` before the filter exits (wirefilter exits without a word).
"""

from __future__ import annotations

import errno
from typing import Any

from vdex.errors import MgmtError
from vdex.mgmt.console import Console
from vdex.mgmt.context import CommandContext, EndSession
from vdex.mgmt.registry import CommandRegistry
from vdex.records import MgmtCommand

from ._commands import MARKOV_COMMANDS, SHOWINFO, SHOWSTATS, VALUE_COMMANDS, WfCommand

BANNER = "\nVDE wirefilter V.2.3.2\n(C) R.Davoli 2005,2006 - GPLv2\n"
PROMPT = "\nVDEwf$ "
MARKOV_DEBUG = "wirefilter/markov"
"""Marker in ``session.debug`` of the sessions that asked for ``markov-debug 1``."""

HELP_LINES = [
    "COMMAND      HELP",
    "------------ ------------",
    "help         print a summary of mgmt commands",
    "load         load a configuration file",
    "showinfo     show status and parameter values",
    "loss         set loss percentage",
    "lostburst    mean length of lost packet bursts",
    "delay        set delay ms",
    "dup          set dup packet percentage",
    "bandwidth    set channel bandwidth bytes/sec",
    "speed        set interface speed bytes/sec",
    "noise        set noise factor bits/Mbyte",
    "mtu          set channel MTU (bytes)",
    "chanbufsize  set channel buffer size (bytes)",
    "fifo         set channel fifoness",
    "shutdown     shut the channel down",
    "logout       log out from this mgmt session",
    "markov-numnodes n  markov mode: set number of states",
    "markov-setnode n   markov mode: set current state",
    "markov-name n,name markov mode: set state's name",
    "markov-time ms     markov mode: transition period",
    "setedge n1,n2,w    markov mode: set edge weight",
    "showinfo n         markov mode: show parameter values",
    "showedges n        markov mode: show edge weights",
    "showcurrent        markov mode: show current state",
    "markov-debug n     markov mode: set debug level",
    SHOWSTATS.help,
]
"""wirefilter's help text verbatim, plus the one command vdex adds."""


def _help(_ctx: CommandContext, args: str) -> list[str]:
    return HELP_LINES


async def _load(ctx: CommandContext, args: str) -> str:
    path = args.strip()
    if not path:
        raise MgmtError(errno.EINVAL, "load: which file?")
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise MgmtError(exc.errno or errno.EIO, f"load {path}: {exc.strerror}") from None
    return await ctx.console.run_script(
        ctx.session, path, echo=lambda line: f"{PROMPT} ({path}) {line}\n"
    )


def _shutdown(_ctx: CommandContext, args: str) -> None:
    raise EndSession(shutdown=True)


def _logout(_ctx: CommandContext, args: str) -> None:
    raise EndSession()


def _markov_debug(ctx: CommandContext, args: str) -> None:
    text = args.strip()
    if not text.lstrip("+-").isdigit():
        raise MgmtError(errno.EINVAL, "markov-debug: expected a level (0: off)")
    if int(text) > 0:
        ctx.session.debug.add(MARKOV_DEBUG)
    else:
        ctx.session.debug.discard(MARKOV_DEBUG)


def _wrap(command: WfCommand) -> MgmtCommand:
    handler = command.handler

    def run(ctx: CommandContext, args: str) -> Any:
        try:
            return handler(ctx.switch, args)
        finally:
            changed = getattr(ctx.switch, "changed", None)
            if changed is not None:
                changed()  # a restarted Markov clock may need the timer earlier

    return MgmtCommand(path=command.name, handler=run, output=command.data_block,
                       help=command.help)


def console_commands() -> list[MgmtCommand]:
    """Every console command in wirefilter's lookup order."""
    return [
        MgmtCommand(path="help", handler=_help, output=True),
        MgmtCommand(path="load", handler=_load, output=True),
        _wrap(SHOWINFO),
        *(_wrap(c) for c in VALUE_COMMANDS),
        MgmtCommand(path="shutdown", handler=_shutdown),
        MgmtCommand(path="logout", handler=_logout),
        *(_wrap(c) for c in MARKOV_COMMANDS),
        MgmtCommand(path="markov-debug", handler=_markov_debug),
        _wrap(SHOWSTATS),
    ]


def make_console(owner: Any) -> Console:
    """A console whose commands act on ``owner`` (a :class:`~._commands.FilterTarget`)."""
    registry = CommandRegistry()
    registry.add("wirefilter", console_commands())
    return Console(owner=owner, registry=registry, banner=BANNER, prompt=PROMPT,
                   end_of_session="1000 Success\n")


def markov_debug_line(model: Any, old: int, new: int) -> str:
    names = model.markov.names
    return f'{3800 + new:04d} Node {old} "{names[old]}" -> {new} "{names[new]}"\n'


def post_markov_change(console: Console, model: Any, old: int, new: int) -> None:
    """Send the ``38xx`` line to every session that asked for ``markov-debug``."""
    line = None
    for session in list(console.sessions):
        if MARKOV_DEBUG in session.debug:
            if line is None:
                line = markov_debug_line(model, old, new)
            session.post(line)


__all__ = ["BANNER", "PROMPT", "make_console", "post_markov_change"]
