"""A Linux timerfd, for the slirp bridge's timeout when the dataplane drives it.

``os.timerfd_create`` arrived in Python 3.13; before that the three libc calls go through
ctypes. Only what the bridge needs: arm relative to now, clear after it fired, close.
"""

from __future__ import annotations

import ctypes
import os
from ctypes import POINTER, Structure, c_int, c_long

CLOCK_MONOTONIC = 1
TFD_NONBLOCK = os.O_NONBLOCK
TFD_CLOEXEC = os.O_CLOEXEC


class _Timespec(Structure):
    _fields_ = [("tv_sec", c_long), ("tv_nsec", c_long)]


class _Itimerspec(Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


_libc = ctypes.CDLL(None, use_errno=True)
_create = _libc.timerfd_create
_create.argtypes = [c_int, c_int]
_create.restype = c_int
_settime = _libc.timerfd_settime
_settime.argtypes = [c_int, c_int, POINTER(_Itimerspec), POINTER(_Itimerspec)]
_settime.restype = c_int


class TimerFd:
    """A non-blocking, close-on-exec timerfd on CLOCK_MONOTONIC: readable once it expired."""

    def __init__(self) -> None:
        fd = _create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)
        if fd < 0:
            err = ctypes.get_errno()
            raise OSError(err, f"timerfd_create: {os.strerror(err)}")
        self.fd = fd
        self._spec = _Itimerspec()

    def fileno(self) -> int:
        return self.fd

    def arm_after(self, nanoseconds: int) -> None:
        """Expire once, ``nanoseconds`` from now (at least 1: zero would disarm it)."""
        nanoseconds = max(1, nanoseconds)
        value = self._spec.it_value
        value.tv_sec, value.tv_nsec = divmod(nanoseconds, 1_000_000_000)
        if _settime(self.fd, 0, ctypes.byref(self._spec), None) < 0:
            err = ctypes.get_errno()
            raise OSError(err, f"timerfd_settime: {os.strerror(err)}")

    def clear(self) -> None:
        """Consume the expiration (the descriptor stops being readable)."""
        try:
            os.read(self.fd, 8)
        except BlockingIOError:
            pass

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
