"""Daemonizing that tells the caller whether the daemon really started.

Like daemon(3) (fork, ``setsid``, ``chdir("/")``, standard fds on /dev/null), but the parent waits
until the child says it is ready, and prints the child's start-up error instead of exiting 0 while
the daemon dies unseen. The parent's pid files must be absolute paths because of the ``chdir``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

import attrs


@attrs.define(eq=False, kw_only=True)
class DaemonReport:
    """The daemon's end of the readiness pipe; each method may be called once, then it is closed."""

    fd: int | None

    def ready(self) -> None:
        self._send(b"")

    def failed(self, message: str) -> None:
        self._send(message.encode(errors="replace") or b"failed")

    def _send(self, data: bytes) -> None:
        if self.fd is None:
            return
        fd, self.fd = self.fd, None
        try:
            os.write(fd, b"!" + data if data else b"ok")
        finally:
            os.close(fd)


def run_as_daemon(prog: str, body: Callable[[DaemonReport], int]) -> int:
    """Run ``body`` in a daemon process; returns the caller's exit status (0: daemon running).

    ``body`` must call ``report.ready()`` once it runs (or ``report.failed(msg)``); its return
    value becomes the daemon's exit status. This function returns only in the parent.
    """
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        status = 1
        report = DaemonReport(fd=write_fd)
        try:
            os.setsid()
            os.chdir("/")
            devnull = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(devnull, fd)
            os.close(devnull)
            status = body(report)
        except BaseException as exc:  # the daemon must never return into the caller's code
            report.failed(f"{type(exc).__name__}: {exc}")
        finally:
            report.failed("exited before it was ready")
            os._exit(status)
    os.close(write_fd)
    answer = b""
    while chunk := os.read(read_fd, 4096):
        answer += chunk
    os.close(read_fd)
    if answer == b"ok":
        return 0
    message = answer[1:].decode(errors="replace") if answer else "the daemon died before it started"
    print(f"{prog}: {message}", file=sys.stderr)
    return 1
