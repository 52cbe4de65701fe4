"""``vdex term``: a console client for vde_switch-style management sockets (``-M``).

Works with the real ``vde_switch -M`` and ``wirefilter -M`` and with vdex's own console.

* On a terminal it behaves like vdeterm: banner, prompt ``vde[SOCKET]: ``, the protocol framing
  hidden (``Success`` instead of ``1000 Success``, ``** DBG MSG: ...`` for async ``3NNN`` lines),
  GNU readline editing with history in ``~/.vdex_history/term`` and TAB completion from ``help``;
  ^D or ``logout`` ends the session, ``shutdown`` is sent and then it exits.
* Otherwise it serves scripts: one command per input line, each reply waited for and printed
  filtered, exit 0 at the end of the input (unixterm exits before the reply arrives).
* ``--raw`` prints the server's bytes unchanged, like unixterm, but still waits for each reply.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

from vdex.records import Subcommand
from vdex.tools import parse_and_run
from vdex.tools._mgmt_stream import Event, SessionEnd, render
from vdex.tools._term_session import MgmtSession, ReplyTimeout, ends_session

PROG = "vdex term"

DESCRIPTION = """\
Talk to the management socket of a switch (vde_switch -M SOCKET, vdex switch) or of a wirefilter.
On a terminal: an interactive console like vdeterm (readline editing, history, TAB completion;
^D or 'logout' to leave). With input from a pipe or file: runs one command per line, waits for
each reply and prints it without the protocol codes, for scripts."""

EPILOG = """\
examples:
  vdex term /tmp/vde.mgmt
  printf 'port/print\\nhash/print\\n' | vdex term /tmp/vde.mgmt
  echo showinfo | vdex term --raw /tmp/wf.mgmt      (the raw protocol, as unixterm shows it)

Blank lines and lines starting with '#' in scripts are skipped. The exit status is 0 at the end
of the input, also when a command failed (its error text is printed); 1 if the connection fails
or ends unexpectedly."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare term's options on ``parser`` (the vdex CLI calls this for its subcommand)."""
    parser.description = DESCRIPTION
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("socket", type=Path, metavar="MGMT_SOCKET", help="the management socket")
    parser.add_argument(
        "--raw", action="store_true",
        help="print the server's bytes unfiltered (banner, prompts, status codes), like unixterm",
    )
    parser.add_argument(
        "--timeout", type=float, default=None, metavar="SECONDS",
        help="scripts: give up if the banner or a reply takes longer than this (default: wait)",
    )
    parser.add_argument(
        "--no-history", action="store_true",
        help="do not read or write the history file ~/.vdex_history/term",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG)
    add_arguments(parser)
    return parser


def run_script(session: MgmtSession, lines: Iterable[str], out: TextIO, *, raw: bool,
               timeout: float | None = None) -> int:
    """Send each line as a command, print each filtered reply; returns the exit status."""
    ended_by_server = False
    reply: list[str] = []

    def collect(event: Event) -> None:
        nonlocal ended_by_server
        ended_by_server = ended_by_server or isinstance(event, SessionEnd)
        if not raw and (text := render(event)) is not None:
            reply.append(text + "\n")

    session.banner(timeout)
    for line in lines:
        command = line.rstrip("\r\n")
        if not command.strip() or command.lstrip().startswith("#"):
            continue
        try:
            session.send(command)
        except OSError:
            break
        replied = session.until_prompt(collect, timeout)
        if replied or not ends_session(command):
            # The farewell of logout/shutdown is not shown (wirefilter says "Unknown error -1");
            # a refusal is, because the prompt comes back.
            out.write("".join(reply))
        out.flush()
        reply.clear()
        if not replied:
            if ends_session(command) or ended_by_server:
                return 0
            break
    else:
        return 0
    print(f"{PROG}: the server closed the connection", file=sys.stderr)
    return 1


def _raw_writer(data: bytes) -> None:
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


def run(args: argparse.Namespace) -> int:
    """Run the console client for parsed ``args``; returns the exit status."""
    interactive = not args.raw and sys.stdin.isatty() and sys.stdout.isatty()
    try:
        session = MgmtSession.connect(args.socket, on_raw=_raw_writer if args.raw else None)
    except OSError as exc:
        print(f"{PROG}: cannot connect to {args.socket}: {exc.strerror}; is the switch running "
              f"with -M {args.socket}?", file=sys.stderr)
        return 1
    try:
        if interactive:
            from vdex.tools._term_tty import InteractiveTerm, default_history_file

            history = None if args.no_history else default_history_file()
            return InteractiveTerm(session=session, socket_name=str(args.socket),
                                   history_file=history).run()
        return run_script(session, sys.stdin, sys.stdout, raw=args.raw, timeout=args.timeout)
    except ReplyTimeout:
        print(f"{PROG}: no reply from {args.socket} within {args.timeout} s", file=sys.stderr)
        return 1
    except ConnectionError as exc:
        print(f"{PROG}: {args.socket}: {exc}", file=sys.stderr)
        return 1
    finally:
        session.close()


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``vdex term [--raw] [--timeout S] MGMT_SOCKET``."""
    return parse_and_run(build_parser(), run, argv)


SUBCOMMAND = Subcommand(name="term", help="console client for a management socket (vdeterm/unixterm)", add_arguments=add_arguments, run=run)
"""What the ``vdex`` CLI mounts as ``vdex term``."""


if __name__ == "__main__":
    sys.exit(main())
