"""Running a planned dpipe chain: pipes, process group, signals, pid files, waiting.

This is plain process plumbing, so it uses ``os.posix_spawnp`` and pidfds rather than trio: every
command is spawned with an explicit list of ``dup2`` actions (no Python runs in the children), and
the supervisor waits on the children's pidfds and on the signal wakeup pipe with one ``poll``.

Behaviour (vdeplug4's dpipe, with its defects fixed):

* all commands run in one process group; dpipe becomes its leader, or stays it if it already is
  one (the reference refuses to run as a session leader);
* ``ALTERNATE_STDIN``/``ALTERNATE_STDOUT`` are the two lowest descriptor numbers from 3 up that no
  child would inherit, and are exported to every command;
* SIGTERM/SIGINT/SIGHUP: the pid files are removed, every live command gets SIGTERM, and after
  ``kill_after`` seconds the survivors get SIGKILL (a second signal does that at once); dpipe
  returns only when all its commands are gone (the reference signals the last command only and
  exits at once, which can leave orphans);
* signals ignored when dpipe starts (``nohup``) stay ignored, in dpipe and in the commands;
* the exit status is the last command's (128+N if a signal N killed it, or if signal N stopped
  dpipe).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import select
import signal
import sys
import time
from collections.abc import Callable, Iterator
from typing import NoReturn

import attrs

from vdex.tools._dpipe_plan import ChainPlan, Channel, PipeEnd, StagePlan
from vdex.tools._pidfiles import PidFiles

TERMINATING_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
# Python ignores these at start-up; commands must get the default back, as subprocess does.
_RESET_IN_CHILDREN = (signal.SIGPIPE, signal.SIGXFSZ)


@attrs.frozen(kw_only=True)
class RunOptions:
    """What the dpipe command line asked for, besides the chain itself."""

    pidfiles: PidFiles = attrs.field(factory=PidFiles)
    daemon: bool = False
    exec_last: bool = False
    """``-n``/``-N``: dpipe execs the last command instead of waiting for the chain."""
    clean_files: bool = True
    """False with ``-N``: with ``exec_last``, no cleanup process removes the pid files."""
    kill_after: float = 5.0


class ChainStartError(Exception):
    """A command of the chain could not be started; ``status`` is dpipe's exit status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def alternate_fd_numbers() -> tuple[int, int]:
    """The two lowest fds (from 3) a child would not inherit: closed, or close-on-exec."""
    found: list[int] = []
    fd = 3
    while len(found) < 2:
        try:
            flags = fcntl.fcntl(fd, fcntl.F_GETFD)
        except OSError:
            found.append(fd)
        else:
            if flags & fcntl.FD_CLOEXEC:
                found.append(fd)
        fd += 1
    return found[0], found[1]


def exit_status(wait_status: int) -> int:
    """A shell-style exit status: the exit code, or 128+N for a command killed by signal N."""
    code = os.waitstatus_to_exitcode(wait_status)
    return 128 - code if code < 0 else code


@attrs.define(eq=False, kw_only=True)
class _Pipes:
    """The chain's pipes, all close-on-exec and numbered above every target descriptor."""

    fds: list[tuple[int, int]] = attrs.field(factory=list)

    @classmethod
    def open(cls, count: int, floor: int) -> _Pipes:
        pipes = cls()
        try:
            for _ in range(count):
                read_fd, write_fd = os.pipe()
                pipes.fds.append((_move_above(read_fd, floor), _move_above(write_fd, floor)))
        except BaseException:
            pipes.close()
            raise
        return pipes

    def fd(self, end: PipeEnd) -> int:
        read_fd, write_fd = self.fds[end.pipe]
        return write_fd if end.write else read_fd

    def close(self) -> None:
        for pair in self.fds:
            for fd in pair:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.fds.clear()


def _move_above(fd: int, floor: int) -> int:
    if fd >= floor:
        return fd
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, floor)
    os.close(fd)
    return moved


@attrs.define(eq=False, kw_only=True)
class ChainRunner:
    """Starts the commands of one plan in the current process group and supervises them."""

    plan: ChainPlan
    options: RunOptions
    ready: Callable[[], None] = lambda: None
    """Called once every command runs (the daemon's parent is waiting for it)."""
    _alternate: tuple[int, int] = (3, 4)
    _env: dict[str, str] = attrs.field(factory=dict)
    _children: dict[int, int] = attrs.field(factory=dict)  # pidfd -> pid
    _last_pid: int = -1
    _last_status: int | None = None

    def run(self) -> int:
        """Run the chain to its end; returns dpipe's exit status.

        Raises ChainStartError (nothing left running) or OSError for the pid files.
        """
        _become_group_leader()
        self._alternate = alternate_fd_numbers()
        self._env = dict(os.environ)
        self._env["ALTERNATE_STDIN"] = str(self._alternate[0])
        self._env["ALTERNATE_STDOUT"] = str(self._alternate[1])
        pidfiles = self.options.pidfiles
        pidfiles.write()
        if self.options.exec_last:
            if self.options.clean_files and pidfiles.any:
                _fork_cleanup_watcher(pidfiles)
            try:
                self._exec_last()
            except BaseException:
                pidfiles.remove()
                raise
        try:
            with _signal_wakeup() as wakeup_fd:
                self._start_all(wakeup_fd)
                self.ready()
                return self._supervise(wakeup_fd)
        finally:
            pidfiles.remove()

    # -- starting --------------------------------------------------------------------------------

    def _targets(self, stage: StagePlan, pipes: _Pipes) -> list[tuple[int, int]]:
        numbers = {
            Channel.STDIN: 0,
            Channel.STDOUT: 1,
            Channel.ALTERNATE_STDIN: self._alternate[0],
            Channel.ALTERNATE_STDOUT: self._alternate[1],
        }
        return [(pipes.fd(end), numbers[channel]) for channel, end in stage.channels]

    def _start_all(self, wakeup_fd: int) -> None:
        floor = max(self._alternate) + 1
        pipes = _Pipes.open(self.plan.pipe_count, floor)
        try:
            for stage in self.plan.stages:
                if _pending_signal(wakeup_fd):
                    break  # the supervisor sees the signal again and stops what started
                pid = self._spawn(stage, pipes)
                self._children[os.pidfd_open(pid)] = pid
                self._last_pid = pid
        except ChainStartError:
            pipes.close()
            self._terminate_now()
            raise
        finally:
            pipes.close()

    def _spawn(self, stage: StagePlan, pipes: _Pipes) -> int:
        actions = [(os.POSIX_SPAWN_DUP2, src, dst) for src, dst in self._targets(stage, pipes)]
        try:
            return os.posix_spawnp(
                stage.argv[0],
                list(stage.argv),
                self._env,
                file_actions=actions,
                setsigdef=_RESET_IN_CHILDREN,
            )
        except OSError as exc:
            raise ChainStartError(
                f"cannot run {stage.argv[0]!r}: {exc.strerror}; check the command name and PATH",
                status=127 if exc.errno == errno.ENOENT else 126,
            ) from exc

    def _exec_last(self) -> NoReturn:
        """``-n``: start all but the last command, then become the last one."""
        floor = max(self._alternate) + 1
        pipes = _Pipes.open(self.plan.pipe_count, floor)
        *middle, last = self.plan.stages
        try:
            for stage in middle:
                pid = self._spawn(stage, pipes)
                self._children[os.pidfd_open(pid)] = pid
            for src, dst in self._targets(last, pipes):
                os.dup2(src, dst)
        except BaseException:
            pipes.close()
            self._terminate_now()
            raise
        for pidfd in self._children:
            os.close(pidfd)  # the last command inherits them as its children
        for sig in _RESET_IN_CHILDREN:
            signal.signal(sig, signal.SIG_DFL)
        self.ready()
        try:
            os.execvpe(last.argv[0], list(last.argv), self._env)
        except OSError as exc:
            print(f"vdex dpipe: cannot run {last.argv[0]!r}: {exc.strerror}", file=sys.stderr)
            os._exit(127 if exc.errno == errno.ENOENT else 126)

    # -- waiting ---------------------------------------------------------------------------------

    def _supervise(self, wakeup_fd: int) -> int:
        poller = select.poll()
        poller.register(wakeup_fd, select.POLLIN)
        for pidfd in self._children:
            poller.register(pidfd, select.POLLIN)
        stopped_by: int | None = None
        kill_deadline: float | None = None
        while True:
            signals = _drain_signals(wakeup_fd)
            if signals and stopped_by is None:
                stopped_by = signals.pop(0)
                self.options.pidfiles.remove()
                self._signal_all(signal.SIGTERM)
                kill_deadline = time.monotonic() + self.options.kill_after
            if kill_deadline is not None and (signals or time.monotonic() >= kill_deadline):
                self._signal_all(signal.SIGKILL)  # grace period over, or a second signal
                kill_deadline = None
            if not self._children:
                break
            timeout_ms = None
            if kill_deadline is not None:
                timeout_ms = max(0, int((kill_deadline - time.monotonic()) * 1000) + 1)
            for fd, _event in poller.poll(timeout_ms):
                if fd != wakeup_fd and self._reap(fd):
                    poller.unregister(fd)
        if stopped_by is not None:
            return 128 + stopped_by
        return exit_status(self._last_status) if self._last_status is not None else 1

    def _reap(self, pidfd: int) -> bool:
        pid = self._children[pidfd]
        try:
            reaped, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            reaped, status = pid, 0
        if reaped == 0:
            return False
        if pid == self._last_pid:
            self._last_status = status
        del self._children[pidfd]
        os.close(pidfd)
        return True

    def _signal_all(self, sig: int) -> None:
        for pidfd in self._children:
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(pidfd, sig)

    def _terminate_now(self) -> None:
        """Startup failed: stop what already runs and wait for it, so nothing is orphaned."""
        self._signal_all(signal.SIGTERM)
        deadline = time.monotonic() + self.options.kill_after
        for pidfd, pid in list(self._children.items()):
            if not select.select([pidfd], [], [], max(0.0, deadline - time.monotonic()))[0]:
                with contextlib.suppress(ProcessLookupError):
                    signal.pidfd_send_signal(pidfd, signal.SIGKILL)
            os.waitpid(pid, 0)
            os.close(pidfd)
        self._children.clear()


def _become_group_leader() -> None:
    """Lead a process group: create one, unless we already lead one (e.g. a session leader)."""
    if os.getpgrp() != os.getpid():
        os.setpgid(0, 0)


@contextlib.contextmanager
def _signal_wakeup() -> Iterator[int]:
    """Route HUP/INT/TERM to a non-blocking pipe whose bytes are the signal numbers."""
    read_fd, write_fd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    previous = {}
    old_wakeup = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
    try:
        for sig in TERMINATING_SIGNALS:
            if signal.getsignal(sig) != signal.SIG_IGN:  # nohup & co. stay in force
                previous[sig] = signal.signal(sig, _note_signal)
        yield read_fd
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        signal.set_wakeup_fd(old_wakeup)
        os.close(read_fd)
        os.close(write_fd)


def _note_signal(signum: int, frame: object) -> None:
    """The real work happens in the supervisor, woken by the wakeup pipe."""


def _drain_signals(wakeup_fd: int) -> list[int]:
    received = b""
    while True:
        try:
            chunk = os.read(wakeup_fd, 64)
        except BlockingIOError:
            break
        if not chunk:
            break
        received += chunk
    return [sig for sig in received if sig in TERMINATING_SIGNALS]


def _pending_signal(wakeup_fd: int) -> bool:
    return bool(select.select([wakeup_fd], [], [], 0)[0])


def _fork_cleanup_watcher(pidfiles: PidFiles) -> None:
    """``-n`` with pid files: a small process removes them when dpipe (the last command) ends."""
    parent = os.pidfd_open(os.getpid())
    if os.fork() != 0:
        os.close(parent)
        return
    try:
        devnull = os.open(os.devnull, os.O_RDWR)
        os.dup2(devnull, 0)
        os.dup2(devnull, 1)

        def remove_and_exit(signum: int, frame: object) -> None:
            pidfiles.remove()
            os._exit(0)

        for sig in TERMINATING_SIGNALS:
            signal.signal(sig, remove_and_exit)
        select.select([parent], [], [])
        pidfiles.remove()
    finally:
        os._exit(0)
