"""``cmd://COMMAND ARGS``: frames to and from a child process, VDE stream framing on its pipes.

The child gets a pipe on stdin (frames to it) and on stdout (frames from it), each frame as a
2-byte big-endian length and the frame; stderr is inherited. ``cmd://vde_plug /tmp/sw2`` joins a
switch to another switch, ``cmd://ssh host vde_plug`` to a remote one.

Fixed compared with vdeplug4 4.0.1:

* a length split across two reads (even between its two bytes) is kept until the rest arrives
  (:class:`vdex._core.stream.StreamDecoder`); vdeplug4 loses sync and the cable stalls;
* on close the child really stops: its stdin is closed (EOF, which vde_plug and ssh take as
  "bye"), then after a grace period its whole process group gets SIGTERM, then SIGKILL, and it
  is reaped. vdeplug4 calls ``kill(SIGTERM, pid)`` with the arguments swapped and never
  signals it. The child runs in a process group of its own, so a grandchild (ssh's
  ProxyCommand, a shell pipeline) is stopped with it: no orphans;
* the command is split like a shell would split it (quotes and backslashes), without a shell.
"""

from __future__ import annotations

import logging
import os
import shlex
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import trio

from vdex.errors import ConfigError, PortError
from vdex.runtime.endpoint import StreamEndpoint

if TYPE_CHECKING:
    from vdex.runtime.switch import Switch
    from vdex.vnl import Vnl

log = logging.getLogger("vdex.cmd")

MODULE = "cmd"
EOF_GRACE = 2.0
"""Seconds a child gets to exit after its stdin closes, before SIGTERM."""
TERM_GRACE = 2.0
"""Seconds after SIGTERM before SIGKILL."""


def command_argv(text: str) -> list[str]:
    """Split ``cmd://`` text into argv, shell-like, with no shell. :raises ConfigError:"""
    try:
        argv = shlex.split(text)
    except ValueError as exc:
        raise ConfigError(f"cmd://{text}: {exc}") from None
    if not argv:
        raise ConfigError("cmd:// needs a command: cmd://vde_plug /tmp/sw")
    return argv


def _signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass


async def stop_child(process: trio.Process, *, eof_grace: float | None = None,
                     term_grace: float | None = None) -> None:
    """Wait for the child to leave after EOF; else TERM, then KILL its process group. Reaps it.

    Shielded: this runs while the port's task is being cancelled.
    """
    eof_grace = EOF_GRACE if eof_grace is None else eof_grace
    term_grace = TERM_GRACE if term_grace is None else term_grace
    pgid = process.pid
    with trio.CancelScope(shield=True):
        with trio.move_on_after(eof_grace):
            await process.wait()
        if process.returncode is None:
            log.info("cmd: %s did not exit after EOF; sending SIGTERM", process.args)
            _signal_group(pgid, signal.SIGTERM)
            with trio.move_on_after(term_grace):
                await process.wait()
        if process.returncode is None:
            log.warning("cmd: %s ignored SIGTERM; killing it", process.args)
            _signal_group(pgid, signal.SIGKILL)
            await process.wait()
        # the child is gone; anything it left in its group goes too
        _signal_group(pgid, signal.SIGTERM)


@asynccontextmanager
async def open_cmd(switch: Switch | None, vnl: Vnl) -> AsyncIterator[StreamEndpoint]:
    """``cmd://COMMAND ARGS``: the :class:`~vdex.records.PortType` opener."""
    argv = command_argv(vnl.args)
    to_child_r, to_child_w = os.pipe2(os.O_CLOEXEC)
    from_child_r, from_child_w = os.pipe2(os.O_CLOEXEC)
    try:
        process = await trio.lowlevel.open_process(
            argv, stdin=to_child_r, stdout=from_child_w, process_group=0)
    except OSError as exc:
        for fd in (to_child_r, to_child_w, from_child_r, from_child_w):
            os.close(fd)
        raise PortError(f"cmd://: cannot run {argv[0]!r}: {exc.strerror}",
                        errno=exc.errno or 2) from None
    os.close(to_child_r)
    os.close(from_child_w)
    closed = False

    def close_pipes() -> None:
        nonlocal closed
        if not closed:
            closed = True
            os.close(from_child_r)
            os.close(to_child_w)

    endpoint = StreamEndpoint(id=process.pid, module=MODULE, description=vnl.text,
                              uid=os.geteuid(), read_fd=from_child_r, write_fd=to_child_w,
                              closer=close_pipes)
    log.info("cmd: started %s (pid %d)", argv, process.pid)
    try:
        yield endpoint
    finally:
        endpoint.close()
        await stop_child(process)
        log.info("cmd: %s (pid %d) exited with %s", argv[0], process.pid, process.returncode)


__all__ = ["MODULE", "command_argv", "open_cmd", "stop_child"]
