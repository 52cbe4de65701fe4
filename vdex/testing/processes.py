"""Real processes in tests (vdex, vde_switch, vde_plug, dpipe, wirefilter), always cleaned up.

Each process starts in a session of its own; on exit every process of that session is stopped
(TERM, then KILL), whatever process groups it made inside (dpipe makes one), and waited for.
The waits are trio waits: a test can run a real client against a switch in its own trio run.

Quirks of the reference tools handled here: vde_switch exits when its stdin closes (stdin is a
pipe kept open), Debian's dpipe refuses to be a session leader (:func:`shell` runs it under bash).
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import trio

VDEX = [sys.executable, "-m", "vdex"]
"""How tests start the vdex command (works without the console script on PATH)."""


def session_pids(sid: int) -> list[int]:
    """Every live process whose session id is ``sid``."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        # A zombie has exited: waiting for init to reap it (slow when PID 1 is a container's
        # process manager, about 1.7 s here) only slows every test down.
        if int(fields[3]) == sid and fields[0] != "Z":
            pids.append(int(entry))
    return pids


def _signal_session(sid: int, signum: int) -> int:
    count = 0
    for pid in session_pids(sid):
        try:
            os.kill(pid, signum)
            count += 1
        except ProcessLookupError:
            pass
    return count


async def stop_session(process: trio.Process, grace: float = 3.0) -> None:
    """TERM every process of ``process``'s session, KILL what is left after ``grace`` s, reap."""
    sid = process.pid
    with trio.CancelScope(shield=True):
        _signal_session(sid, signal.SIGTERM)
        with trio.move_on_after(grace):
            while session_pids(sid) and process.returncode is None:
                await trio.sleep(0.02)
            await process.wait()
        _signal_session(sid, signal.SIGKILL)
        if process.returncode is None:
            process.kill()
        await process.wait()
        for _ in range(100):  # grandchildren are reaped by init; wait until they are gone
            if not session_pids(sid):
                break
            await trio.sleep(0.01)


@asynccontextmanager
async def process(argv: Sequence[str], *, stdin: Any = subprocess.PIPE,
                  stdout: Any = None, stderr: Any = None, **kwargs: Any
                  ) -> AsyncIterator[trio.Process]:
    """Run ``argv`` in a new session with stdin a pipe that stays open until the end."""
    proc = await trio.lowlevel.open_process(list(argv), stdin=stdin, stdout=stdout, stderr=stderr,
                                            start_new_session=True, **kwargs)
    try:
        yield proc
    finally:
        await stop_session(proc)
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                with trio.CancelScope(shield=True):
                    await stream.aclose()


def shell(command: str | Sequence[str]) -> list[str]:
    """argv that runs ``command`` under bash without exec, so the command is not the session
    leader (Debian's dpipe refuses to run as one)."""
    text = command if isinstance(command, str) else shlex.join(command)
    return ["bash", "-c", text + "; exit $?"]


async def wait_for_path(path: str, timeout: float = 10.0, proc: trio.Process | None = None
                        ) -> None:
    """Wait until ``path`` exists (a switch's ctl socket); fail early if ``proc`` died."""
    with trio.fail_after(timeout):
        while not os.path.exists(path):
            if proc is not None and proc.returncode is not None:
                raise RuntimeError(f"process {proc.args!r} exited with {proc.returncode} "
                                   f"before {path} appeared")
            await trio.sleep(0.01)


@asynccontextmanager
async def switch_process(argv: Sequence[str], directory: str, *, timeout: float = 15.0,
                         **kwargs: Any) -> AsyncIterator[trio.Process]:
    """Start a switch (``["vde_switch", "-s", dir, ...]`` or :data:`VDEX` ``+ ["switch", ...]``)
    and return once ``directory/ctl`` exists, and the management socket too when ``argv`` names
    one with ``-M``/``--mgmt``: the two appear one after the other, so a test that talks to the
    console must not race the switch's start-up."""
    async with process(argv, **kwargs) as proc:
        await wait_for_path(os.path.join(directory, "ctl"), timeout, proc)
        mgmt = _option_value(argv, "-M", "--mgmt")
        if mgmt is not None:
            await wait_for_path(mgmt, timeout, proc)
        yield proc


def _option_value(argv: Sequence[str], *names: str) -> str | None:
    """The value given to the last of ``names`` in ``argv`` (``-M x``, ``--mgmt x``,
    ``--mgmt=x``), or None."""
    value = None
    for i, arg in enumerate(argv):
        if arg in names and i + 1 < len(argv):
            value = argv[i + 1]
        elif any(arg.startswith(name + "=") for name in names if name.startswith("--")):
            value = arg.split("=", 1)[1]
    return value


def reference_switch(directory: str, *args: str) -> list[str]:
    """argv of Debian's vde_switch serving ``directory``."""
    return ["vde_switch", "-s", directory, *args]


def vdex_switch(directory: str, *args: str) -> list[str]:
    """argv of ``vdex switch`` serving ``directory`` (no rc file unless given)."""
    extra = list(args)
    if "-f" not in extra and "--rcfile" not in extra:
        extra += ["-f", os.devnull]
    return [*VDEX, "switch", "-s", directory, *extra]


async def until_stdin_closed() -> None:
    """Return when standard input reaches its end: how a helper process that a test or a
    benchmark runs knows to stop (its parent closes the pipe, even when it dies)."""
    os.set_blocking(0, False)
    while True:
        await trio.lowlevel.wait_readable(0)
        try:
            if not os.read(0, 4096):
                return
        except BlockingIOError:
            continue
