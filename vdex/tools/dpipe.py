"""``vdex dpipe``: the bidirectional pipe of VDE, compatible with vdeplug4's ``dpipe``.

``vdex dpipe vde_plug /tmp/sw1 = vde_plug /tmp/sw2`` connects the stdout of each command to the
stdin of the other: a virtual cable between two switches. Middle commands (``a = filter = b``)
see their right neighbour on the fds named by ``ALTERNATE_STDIN``/``ALTERNATE_STDOUT``; ``=}``
... ``}=`` and ``={`` ... ``{=`` make a middle command one-way. Commands are argv vectors run
directly, without a shell.

Deliberate differences from the reference (documented in the report and --help):

* a usage error prints a message and returns 2; the reference sends SIGTERM to the caller's
  process group (it killed the shell that ran it);
* dpipe runs fine as a session leader (the reference fails with "cannot create pgrp");
* on SIGTERM/SIGINT/SIGHUP all commands get SIGTERM (then SIGKILL after ``--kill-after``) and dpipe
  waits for them, so nothing is orphaned; the exit status is then 128+signal;
* separators must pair up (``=}`` needs ``}=``) and a stray ``}=`` is an error, not an argument;
* ``-d`` returns only once the chain runs, or prints why it could not start.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vdex.errors import UsageError
from vdex.records import Subcommand
from vdex.tools import parse_and_run
from vdex.tools._daemon import DaemonReport, run_as_daemon
from vdex.tools._dpipe_plan import ChainPlan, parse_chain
from vdex.tools._dpipe_run import ChainRunner, ChainStartError, RunOptions
from vdex.tools._pidfiles import PidFiles

PROG = "vdex dpipe"

DESCRIPTION = """\
Run commands connected by pairs of pipes: the stdout of each command feeds the stdin of the next
and back ('=' is two parallel pipes). Middle commands reach their right neighbour through the
file descriptors named in the environment variables ALTERNATE_STDIN and ALTERNATE_STDOUT
(normally 3 and 4; they are exported to every command). All commands run in one process group;
the exit status is the last command's."""

EPILOG = """\
separators:
  CMD1 = CMD2          both directions
  ... =} CMD }= ...    CMD sees only the data flowing left to right
  ... ={ CMD {= ...    CMD sees only the data flowing right to left
  '}={' closes one one-way stage and opens the next

examples:
  vdex dpipe vde_plug /tmp/sw1 = vde_plug /tmp/sw2
  vdex dpipe vde_plug /tmp/sw1 = wirefilter -d 50 = vde_plug /tmp/sw2
  vdex dpipe -d -P /run/cable.pgrp vde_plug /tmp/sw1 = vde_plug /tmp/sw2
      (stop it later with: kill -- "$(cat /run/cable.pgrp)")

On SIGTERM, SIGINT or SIGHUP the pid files are removed, every command gets SIGTERM (SIGKILL after
--kill-after seconds or on a second signal) and dpipe exits with 128+signal once all are gone.
Unlike vdeplug4's dpipe, a usage error exits with status 2 without signalling anything, dpipe
also runs as a session leader, and -d returns only once the commands run (or says why not)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare dpipe's options on ``parser`` (the vdex CLI calls this for its subcommand)."""
    parser.description = DESCRIPTION
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument(
        "-d", "--daemon", action="store_true",
        help="run in the background; returns once every command has started",
    )
    parser.add_argument("-p", "--pidfile", type=Path, help="write dpipe's process id to PIDFILE")
    parser.add_argument(
        "-P", "--pgrpfile", type=Path,
        help="write the negative process group id of all the commands to PGRPFILE",
    )
    parser.add_argument(
        "-n", "--nowrapproc", action="store_true",
        help="no waiting dpipe process: dpipe becomes the last command (a small cleanup "
        "process removes the pid files when it ends)",
    )
    parser.add_argument(
        "-N", "--nowrapnoclean", action="store_true",
        help="like -n, and leave the pid files behind",
    )
    parser.add_argument(
        "--kill-after", type=float, default=5.0, metavar="SECONDS",
        help="after a terminating signal, SIGKILL the commands still running after this long "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "chain", nargs=argparse.REMAINDER, metavar="CMD [ARGS] = CMD [ARGS] [= ...]",
        help="the commands and their separators; option parsing stops at the first command",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG)
    add_arguments(parser)
    return parser


def _plan(args: argparse.Namespace) -> ChainPlan:
    words = list(args.chain)
    if words[:1] == ["--"]:
        words = words[1:]
    if args.kill_after < 0:
        raise UsageError("--kill-after must be 0 or more seconds")
    return parse_chain(words)


def run(args: argparse.Namespace) -> int:
    """Run dpipe for parsed ``args``; returns the exit status."""
    try:
        plan = _plan(args)
    except UsageError as exc:
        print(f"{PROG}: {exc}\nusage: {PROG} [OPTIONS] CMD1 [ARGS] = CMD2 [ARGS] [= ...] "
              f"(see {PROG} --help)", file=sys.stderr)
        return 2
    pidfiles = PidFiles(pidfile=args.pidfile, pgrpfile=args.pgrpfile)
    options = RunOptions(
        pidfiles=pidfiles.absolute() if args.daemon else pidfiles,
        daemon=args.daemon,
        exec_last=args.nowrapproc or args.nowrapnoclean,
        clean_files=not args.nowrapnoclean,
        kill_after=args.kill_after,
    )
    if args.daemon:
        return run_as_daemon(PROG, lambda report: _run_chain(plan, options, report))
    return _run_chain(plan, options, DaemonReport(fd=None))


def _run_chain(plan: ChainPlan, options: RunOptions, report: DaemonReport) -> int:
    runner = ChainRunner(plan=plan, options=options, ready=report.ready)
    try:
        return runner.run()
    except ChainStartError as exc:
        report.failed(str(exc))
        print(f"{PROG}: {exc}", file=sys.stderr)
        return exc.status
    except OSError as exc:
        message = f"{exc.filename or 'dpipe'}: {exc.strerror}"
        report.failed(message)
        print(f"{PROG}: {message}", file=sys.stderr)
        return 1


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``vdex dpipe [OPTIONS] CMD1 [ARGS] = CMD2 [ARGS] [= ...]``."""
    return parse_and_run(build_parser(), run, argv)


SUBCOMMAND = Subcommand(name="dpipe", help="run commands connected by bidirectional pipes (VDE dpipe)", add_arguments=add_arguments, run=run)
"""What the ``vdex`` CLI mounts as ``vdex dpipe``."""


if __name__ == "__main__":
    sys.exit(main())
