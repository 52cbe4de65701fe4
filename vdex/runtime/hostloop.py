"""The host loop: the dataplane's epoll set drives the process, trio runs as its guest.

trio's scheduler costs several microseconds per wake-up. That is nothing for the control plane,
but at one frame per wake-up (an interactive guest, a ping) it is most of a frame's latency. So
``vdex switch`` and ``vdex plug`` run the other way round: this loop blocks in the dataplane's
epoll set and drains endpoints itself, and trio runs in guest mode
(:func:`trio.lowlevel.start_guest_run`): when trio has work it hands a callback over a wake-up
pipe that sits in the same epoll set, and this loop runs it.

Everything written in Python still runs in this one thread: trio tasks, console commands and the
data path never run at the same time, so no lock is needed anywhere. trio waits for its own I/O in
a worker thread of its own, which touches no vdex state. This module is the only place where
that bridge exists.
"""

from __future__ import annotations

import collections
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import outcome
import trio

from .dataplane import READABLE, Dataplane

T = TypeVar("T")


class HostLoop:
    """Runs one trio guest run on top of a :class:`Dataplane`."""

    def __init__(self, dataplane: Dataplane) -> None:
        self.dataplane = dataplane
        self._callbacks: collections.deque[Callable[[], object]] = collections.deque()
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._result: outcome.Outcome[Any] | None = None

    def _run_sync_soon_threadsafe(self, callback: Callable[[], object]) -> None:
        # Called from trio's I/O thread (and from this one): queue, then poke the epoll set.
        self._callbacks.append(callback)
        try:
            os.write(self._wake_w, b"\0")
        except BlockingIOError:
            pass  # the pipe is full of pokes already: the loop will wake up anyway

    def _run_callbacks(self) -> None:
        try:
            while os.read(self._wake_r, 4096):
                pass
        except BlockingIOError:
            pass
        callbacks = self._callbacks
        while callbacks:
            callbacks.popleft()()

    def _done(self, result: outcome.Outcome[Any]) -> None:
        self._result = result

    def run(self, async_fn: Callable[[], Awaitable[T]]) -> T:
        """Run ``async_fn`` as trio's main task; return its result or raise its exception."""
        dataplane = self.dataplane
        dataplane.add_reader(self._wake_r, self._run_callbacks)
        trio.lowlevel.start_guest_run(
            async_fn,
            run_sync_soon_threadsafe=self._run_sync_soon_threadsafe,
            done_callback=self._done,
            host_uses_signal_set_wakeup_fd=False,
        )
        poll = dataplane.poll
        dispatch = dataplane.dispatch
        readers = dataplane.readers
        clock = time.monotonic
        wakeups = dataplane.wakeup_counter
        try:
            while self._result is None:
                ready = poll(-1)
                wakeups[0] += 1
                dataplane.now = clock()
                if len(ready) == 1 and ready[0][1] == READABLE:
                    # The common case, kept to a dictionary lookup and a call.
                    handler = readers.get(ready[0][0])
                    if handler is not None:
                        try:
                            handler()
                        except Exception:
                            dataplane.log_failure(ready[0][0])
                else:
                    dispatch(ready)
        finally:
            dataplane.remove_reader(self._wake_r)
            os.close(self._wake_r)
            os.close(self._wake_w)
            dataplane.close()
        result: T = self._result.unwrap()
        return result


def run_hosted(async_fn: Callable[[], Awaitable[T]], dataplane: Dataplane) -> T:
    """Run ``async_fn`` under trio, with ``dataplane`` driven directly by the host loop."""
    return HostLoop(dataplane).run(async_fn)
