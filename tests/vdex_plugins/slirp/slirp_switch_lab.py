"""Real processes around a vdex switch for the slirp tests: sessions that always end, guests on
taps made by vdeplug4's ``vde_plug``, and a console client.

Every process starts in a session of its own and is stopped with that whole session (dpipe and
``vde_plug`` make children), TERM first, KILL after a grace period, from an ExitStack callback.
Safety is the caller's: anything that runs slirp runs inside a namespace from slirp_lab holding
only ``lo`` (:func:`assert_only_loopback` checks it).
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import trio
from slirp_lab import PYTHON, Namespace, wait_for

from vdex.testing import AsyncMgmtClient, Reply
from vdex.testing.processes import session_pids

VDEX = [PYTHON, "-m", "vdex"]


class Session:
    """A process in a new session, stopped with everything in that session."""

    def __init__(self, stack: contextlib.ExitStack, argv: Sequence[str | Path], *,
                 stdin: Any = subprocess.PIPE, stdout: Any = subprocess.DEVNULL,
                 stderr: Any = subprocess.PIPE, **kwargs: Any) -> None:
        self.argv = [str(a) for a in argv]
        self.proc = subprocess.Popen(self.argv, stdin=stdin, stdout=stdout, stderr=stderr,
                                     start_new_session=True, **kwargs)
        self.stderr_seen = ""
        stack.callback(self.stop)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, grace: float = 5.0) -> int:
        sid = self.proc.pid
        for signum, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, grace)):
            for pid in session_pids(sid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signum)
            with contextlib.suppress(ProcessLookupError):
                if self.proc.poll() is None:
                    os.kill(sid, signum)
            deadline = time.monotonic() + wait
            while (self.proc.poll() is None or session_pids(sid)) and time.monotonic() < deadline:
                time.sleep(0.02)
            if self.proc.poll() is not None and not session_pids(sid):
                break
        self.proc.wait(5)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
        return int(self.proc.returncode)

    def wait_stderr(self, text: str, timeout: float = 15.0) -> str:
        """Read stderr until it holds ``text``; returns what was read."""
        return self._read_until(lambda seen: text in seen, repr(text), timeout)

    def wait_lines(self, count: int, timeout: float = 15.0) -> str:
        """Read stderr until it holds ``count`` complete lines; returns exactly those."""
        seen = self._read_until(lambda seen: seen.count("\n") >= count, f"{count} lines",
                                timeout)
        return "".join(seen.splitlines(keepends=True)[:count])

    def _read_until(self, done: Callable[[str], bool], what: str, timeout: float) -> str:
        """Fails with the output so far if the process exits or the time runs out."""
        assert self.proc.stderr is not None
        fd = self.proc.stderr.fileno()
        deadline = time.monotonic() + timeout
        while not done(self.stderr_seen):
            left = deadline - time.monotonic()
            ready, _, _ = select.select([fd], [], [], max(0.0, left))
            chunk = os.read(fd, 65536).decode(errors="replace") if ready else ""
            if not chunk:
                raise AssertionError(f"{self.argv} did not print {what} "
                                     f"(exit {self.proc.poll()}):\n{self.stderr_seen}")
            self.stderr_seen += chunk
        return self.stderr_seen

    def wait_exit(self, timeout: float) -> int:
        return self.proc.wait(timeout)


def short_dir(stack: contextlib.ExitStack) -> str:
    """A short directory for sockets (unix socket paths are limited to 108 bytes)."""
    path = tempfile.mkdtemp(prefix="vxsl-", dir="/tmp")
    stack.callback(lambda: subprocess.run(["rm", "-rf", path], check=False))
    return path


def assert_only_loopback(ns: Namespace) -> None:
    assert ns.interfaces() == ["lo"], f"slirp's namespace {ns.name} must hold only lo"


def vdex_switch(stack: contextlib.ExitStack, ns: Namespace, directory: str,
                *args: str) -> Session:
    """``vdex switch`` inside ``ns`` serving ``directory/sw`` with its console at
    ``directory/mgmt``; returns once both sockets exist (the console's comes second)."""
    sw, mgmt = os.path.join(directory, "sw"), os.path.join(directory, "mgmt")
    session = Session(stack, ns.argv(*VDEX, "switch", "-s", sw, "-M", mgmt, "--nostdin", "-f",
                                     os.devnull, *args))
    wait_for(lambda: (os.path.exists(os.path.join(sw, "ctl")) and os.path.exists(mgmt))
             or not session.alive(), what="the switch's ctl and console sockets")
    assert session.alive(), session.wait_stderr("never")
    return session


def reference_switch(stack: contextlib.ExitStack, ns: Namespace, directory: str) -> Session:
    """Debian's vde_switch inside ``ns`` (its stdin stays an open pipe: it exits at EOF)."""
    sw = os.path.join(directory, "sw")
    session = Session(stack, ns.argv("vde_switch", "-s", sw), stdout=subprocess.DEVNULL)
    wait_for(lambda: os.path.exists(os.path.join(sw, "ctl")), what="vde_switch's ctl socket")
    return session


def console(path: str, *lines: str) -> list[Reply]:
    """Run console commands on the switch's management socket, in order."""
    async def run() -> list[Reply]:
        async with await AsyncMgmtClient.connect(path) as client:
            return [await client.command(line, timeout=15) for line in lines]

    return trio.run(run)


def attach_guest(stack: contextlib.ExitStack, guest: Namespace, switch_dir: str,
                 tap: str, *, switch_dir_name: str = "sw") -> Session:
    """vdeplug4's ``vde_plug vde://SW tap://TAP`` inside ``guest``: the guest's interface."""
    sw = os.path.join(switch_dir, switch_dir_name)
    session = Session(stack, guest.argv("vde_plug", f"vde://{sw}", f"tap://{tap}"))
    wait_for(lambda: tap in guest.interfaces() or not session.alive(), what=f"tap {tap}")
    assert session.alive(), f"vde_plug exited: {session.proc.stderr.read() if session.proc.stderr else ''}"  # noqa: E501
    guest.ip("link", "set", tap, "up")
    return session
