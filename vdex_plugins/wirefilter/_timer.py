"""Sleeping until a deadline with microsecond precision, and waking early when it moves.

trio sleeps in ``epoll_wait``, whose timeout is whole milliseconds: a timer may fire up to a
millisecond late, 2% of a 50 ms delay. A ``timerfd`` armed with the remaining nanoseconds is
exact, but waking a process still takes time: 0.1 to 0.3 ms on the benchmark VM, under load more.
So the waiter learns how late its wake-ups are (a running average), arms the timerfd that much
early, and spends the rest, at most :data:`MAX_SPIN` seconds, polling the clock. Frames then
leave within microseconds of their deadline and never before it, for a few percent of a core at
a thousand deadlines a second. (Python 3.13 has ``os.timerfd_create``; on 3.11 it is reached
through ctypes.) Under trio's ``MockClock`` (tests), or where timerfd is missing, plain
:func:`trio.sleep_until` is used.
"""

from __future__ import annotations

import ctypes
import math
import os
import time
from collections.abc import Callable

import attrs
import trio
import trio.testing

_CLOCK_MONOTONIC = 1
_TFD_TIMER_ABSTIME = 1
MAX_SPIN = 0.00025
"""The longest a waiter polls the clock before a deadline (seconds)."""
_LEAD_START = 0.0002
_LEAD_WEIGHT = 1 / 16


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


def _load_libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.timerfd_create.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.timerfd_settime.argtypes = [ctypes.c_int, ctypes.c_int,
                                         ctypes.POINTER(_Itimerspec), ctypes.c_void_p]
        return libc
    except (OSError, AttributeError):
        return None


_LIBC = _load_libc()


class TimerFd:
    """A non-blocking ``timerfd`` on CLOCK_MONOTONIC, armed relative to now."""

    def __init__(self) -> None:
        if _LIBC is None:
            raise OSError("timerfd is not available")
        fd = _LIBC.timerfd_create(_CLOCK_MONOTONIC, os.O_NONBLOCK | os.O_CLOEXEC)
        if fd < 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err))
        self.fd = fd
        self._stale = False

    def _settime(self, seconds: float, flags: int = 0) -> None:
        spec = _Itimerspec()
        if seconds > 0:
            ns = max(1, int(seconds * 1e9))
            spec.it_value.tv_sec, spec.it_value.tv_nsec = divmod(ns, 1_000_000_000)
        assert _LIBC is not None
        if _LIBC.timerfd_settime(self.fd, flags, ctypes.byref(spec), None) < 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err))

    def set_at(self, when: float) -> None:
        """Expire at ``when`` on :func:`time.monotonic`'s clock (at once if it has passed)."""
        self._settime(max(when, 1e-9), _TFD_TIMER_ABSTIME)

    def disarm(self) -> None:
        self._settime(0)

    def clear(self) -> None:
        """Consume an expiration (the descriptor stays readable until then)."""
        try:
            os.read(self.fd, 8)
        except BlockingIOError:
            pass

    async def sleep(self, seconds: float) -> None:
        if self._stale:  # a cancelled wait may have left an expiration behind
            try:
                os.read(self.fd, 8)
            except BlockingIOError:
                pass
            self._stale = False
        self._settime(seconds)
        try:
            await trio.lowlevel.wait_readable(self.fd)
        except BaseException:
            self._stale = True
            self._settime(0)
            raise
        try:
            os.read(self.fd, 8)
        except BlockingIOError:
            pass

    def close(self, *, trio_watched: bool = True) -> None:
        if self.fd >= 0:
            if trio_watched:
                trio.lowlevel.notify_closing(self.fd)
            os.close(self.fd)
            self.fd = -1


def _uses_mock_clock() -> bool:
    return isinstance(trio.lowlevel.current_clock(), trio.testing.MockClock)


@attrs.define(eq=False, kw_only=True)
class DeadlineWaiter:
    """Sleep until a deadline, or less if :meth:`wake_if_earlier` learns of an earlier one.

    Waking costs nothing per frame: a driver calls ``wake_if_earlier(model.next_deadline())``
    after feeding frames, and only a deadline earlier than the armed one cancels the sleep.
    """

    precise: bool = True
    lead: float = _LEAD_START
    """How early the timerfd is armed: the learned wake-up latency (seconds)."""
    armed: float = -math.inf
    """The deadline being slept until (+inf: none; -inf: not sleeping, busy)."""
    _scope: trio.CancelScope | None = None
    _timerfd: TimerFd | None = None

    async def wait(self, deadline: float | None) -> None:
        self.armed = math.inf if deadline is None else deadline
        with trio.CancelScope() as scope:
            self._scope = scope
            if deadline is None:
                await trio.sleep_forever()
            else:
                await self._sleep_until(deadline)
        self._scope = None
        self.armed = -math.inf

    def wake_if_earlier(self, deadline: float | None) -> None:
        if deadline is not None and deadline < self.armed and self._scope is not None:
            self._scope.cancel()
            self._scope = None

    def wake(self) -> None:
        if self._scope is not None:
            self._scope.cancel()
            self._scope = None

    async def _sleep_until(self, deadline: float) -> None:
        remaining = deadline - trio.current_time()
        if remaining <= 0:
            await trio.lowlevel.checkpoint()
            return
        if self.precise and not _uses_mock_clock():
            if self._timerfd is None:
                try:
                    self._timerfd = TimerFd()
                except OSError:
                    self.precise = False
            if self._timerfd is not None:
                await self._precise_sleep(self._timerfd, deadline, remaining)
                return
        await trio.sleep_until(deadline)

    async def _precise_sleep(self, timerfd: TimerFd, deadline: float, remaining: float) -> None:
        lead = self.lead
        if remaining > lead:
            target = deadline - lead
            await timerfd.sleep(remaining - lead)
            late = trio.current_time() - target  # how long the wake-up took
            self.lead = _learn(lead, late)
        else:
            await trio.lowlevel.checkpoint()
        now = trio.current_time
        if deadline - now() <= MAX_SPIN:
            while now() < deadline:
                pass
        else:  # woken far too early (the clock was adjusted?): sleep again
            await self._sleep_until(deadline)

    def close(self) -> None:
        if self._timerfd is not None:
            self._timerfd.close()
            self._timerfd = None


def _learn(lead: float, late: float) -> float:
    """The new lead after a wake-up ``late`` seconds after its timerfd target."""
    return min(MAX_SPIN, max(0.0, lead + (late - lead) * _LEAD_WEIGHT))


@attrs.define(eq=False, kw_only=True)
class HostTimer:
    """A deadline timer driven by a dataplane: register :meth:`fileno` with
    ``dataplane.add_reader(timer.fileno(), timer.on_readable)``; ``on_due(now)`` runs at the
    armed deadline, never before it. Times are :func:`time.monotonic` seconds (the timerfd's
    clock).

    Arming is cheap when nothing changes: :meth:`wake_if_earlier` makes a system call only for a
    deadline earlier than the armed one.
    """

    on_due: Callable[[float], None]
    lead: float = _LEAD_START
    """How early the timerfd is armed: the learned wake-up latency (seconds)."""
    armed: float = math.inf
    """The deadline ``on_due`` will run at (+inf: none)."""
    fires: int = 0
    """How many times ``on_due`` ran (statistics, tests)."""
    _timerfd: TimerFd = attrs.field(factory=TimerFd)
    _target: float = -math.inf
    """When the timerfd was set to expire, if ahead of now (-inf: set to expire at once; a
    wake-up then says nothing about latency)."""

    def fileno(self) -> int:
        return self._timerfd.fd

    def arm(self, deadline: float | None) -> None:
        """Run ``on_due`` at ``deadline`` (replacing the armed one); None disarms."""
        if deadline is None:
            if self.armed != math.inf:
                self.armed = math.inf
                self._target = -math.inf
                self._timerfd.disarm()
            return
        self.armed = deadline
        target = deadline - self.lead
        self._target = target if target > time.monotonic() else -math.inf
        self._timerfd.set_at(target)

    def wake_if_earlier(self, deadline: float | None) -> None:
        if deadline is not None and deadline < self.armed:
            self.arm(deadline)

    def on_readable(self) -> None:
        """The dataplane's handler: learn the wake-up latency, poll the clock up to the
        deadline, run ``on_due``."""
        self._timerfd.clear()
        deadline = self.armed
        if deadline == math.inf:
            return
        clock = time.monotonic
        now = clock()
        if self._target != -math.inf:
            self.lead = _learn(self.lead, now - self._target)
            self._target = -math.inf
        if now < deadline:
            if deadline - now > MAX_SPIN:  # far too early (cannot happen on CLOCK_MONOTONIC)
                self.arm(deadline)
                return
            while now < deadline:
                now = clock()
        self.armed = math.inf
        self.fires += 1
        self.on_due(now)

    def close(self) -> None:
        self._timerfd.close(trio_watched=False)
