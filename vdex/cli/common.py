"""Command line plumbing shared by the vdex tools: logging, daemons, pid files, long-only options."""

from __future__ import annotations

import argparse
import logging
import logging.handlers
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import trio

from ..errors import UsageError, VdexError
from ..runtime.dataplane import Dataplane
from ..runtime.hostloop import run_hosted

T = TypeVar("T")


class Parser(argparse.ArgumentParser):
    """argparse that raises :class:`UsageError` (the CLI prints it and exits 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


def long_only(argv: list[str], parser: argparse.ArgumentParser) -> list[str]:
    """Accept ``-sock`` for ``--sock``, as the VDE tools (getopt_long_only) do.

    Only exact long option names are rewritten, so short option clusters keep working.
    """
    longs = {opt[2:] for action in parser._actions for opt in action.option_strings
             if opt.startswith("--")}
    shorts = {opt for action in parser._actions for opt in action.option_strings
              if not opt.startswith("--")}
    out: list[str] = []
    for i, arg in enumerate(argv):
        if arg == "--":
            out.extend(argv[i:])
            break
        name, sep, value = arg[1:].partition("=")
        if (arg.startswith("-") and not arg.startswith("--") and len(name) > 1
                and name in longs and arg.split("=")[0] not in shorts):
            out.append(f"--{name}{sep}{value}")
        else:
            out.append(arg)
    return out


def setup_logging(prog: str, *, level: str = "INFO", syslog: bool = False) -> None:
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    handler: logging.Handler
    if syslog and os.path.exists("/dev/log"):
        handler = logging.handlers.SysLogHandler(address="/dev/log")
        handler.setFormatter(logging.Formatter(f"{prog}[%(process)d]: %(message)s"))
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(f"{prog}: %(message)s"))
    root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper(), logging.INFO))


def daemonize() -> None:
    """Detach like daemon(3): fork, setsid, fork, stdio to /dev/null, cwd kept."""
    if os.fork():
        os._exit(0)
    os.setsid()
    if os.fork():
        os._exit(0)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    if null > 2:
        os.close(null)


@contextmanager
def pidfile(path: str | None) -> Iterator[None]:
    """Write our pid to ``path`` (absolute at start) and remove it when done."""
    if path is None:
        yield
        return
    path = os.path.abspath(path)
    try:
        with open(path, "w") as f:
            f.write(f"{os.getpid()}\n")
    except OSError as exc:
        raise UsageError(f"cannot write pid file {path}: {exc.strerror}") from None
    try:
        yield
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass


def first(items: Iterable[str]) -> str | None:
    for item in items:
        return item
    return None


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for sub in exc.exceptions for leaf in _leaves(sub)]
    return [exc]


def run_trio(async_fn: Callable[[], Awaitable[T]], dataplane: Dataplane | None = None) -> T:
    """Run ``async_fn`` under trio (hosted by ``dataplane``'s loop when given), re-raising a lone
    vdex error out of trio's exception groups.

    A nursery wraps a ConfigError in an ExceptionGroup; the CLI wants the error itself, to print
    its message, not a traceback.
    """
    try:
        if dataplane is None:
            return trio.run(async_fn)
        return run_hosted(async_fn, dataplane)
    except BaseExceptionGroup as group:
        leaves = _leaves(group)
        errors = [e for e in leaves if isinstance(e, VdexError)]
        if errors and all(isinstance(e, (VdexError, KeyboardInterrupt)) for e in leaves):
            raise errors[0] from None
        raise


async def until_signal(main: Callable[[], Awaitable[object]]) -> None:
    """Run ``main()`` until it returns, or until SIGTERM, SIGINT or SIGHUP cancels it.

    The tools that join endpoints (``vdex plug``, ``plug2tap``, ``slirp``) stop cleanly this way:
    their endpoints close in their context managers' ``finally``.
    """
    async with trio.open_nursery() as nursery:

        async def stop_on_signal() -> None:
            with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP) as sigs:
                async for _ in sigs:
                    nursery.cancel_scope.cancel()

        nursery.start_soon(stop_on_signal)
        await main()
        nursery.cancel_scope.cancel()
