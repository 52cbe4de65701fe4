"""The dataplane: one epoll set over every endpoint, drained by a single trio task.

trio's ``wait_readable`` per socket costs a registration and a task switch on every wake-up. The
dataplane instead keeps its own persistent epoll set: the task waits until that set is readable,
asks it which descriptors are ready, and drains each synchronously into the forwarding core. One
wake-up serves every port with pending frames; nothing is awaited per frame.
"""

from __future__ import annotations

import logging
import select
from collections.abc import Callable

import trio

from .endpoint import Endpoint, RateLimitedLog, StreamEndpoint

log = logging.getLogger("vdex.dataplane")

_READ = select.EPOLLIN
_WRITE = select.EPOLLOUT
_FAIL = select.EPOLLERR | select.EPOLLHUP
MAX_EVENTS = 512


class Dataplane:
    """Readiness multiplexer for endpoints. Call :meth:`run` in a nursery; add and remove anytime."""

    def __init__(self) -> None:
        self._epoll = select.epoll()
        self._readers: dict[int, Callable[[], None]] = {}
        self._writers: dict[int, Callable[[], None]] = {}
        self._masks: dict[int, int] = {}
        self._errors = RateLimitedLog()
        self.wakeups = 0
        """How many times the dataplane woke up (for statistics and benchmarks)."""
        self.now = 0.0
        """trio's clock at the latest wake-up: a per-frame "now" that costs no clock call."""

    def _update(self, fd: int) -> None:
        mask = (_READ if fd in self._readers else 0) | (_WRITE if fd in self._writers else 0)
        old = self._masks.get(fd)
        if not mask:
            if old is not None:
                del self._masks[fd]
                try:
                    self._epoll.unregister(fd)
                except (OSError, ValueError):
                    pass
            return
        self._masks[fd] = mask
        if old is None:
            self._epoll.register(fd, mask)
        elif old != mask:
            self._epoll.modify(fd, mask)

    def add(self, endpoint: Endpoint) -> None:
        """Start draining ``endpoint`` whenever its descriptor is readable."""
        fd = endpoint.fileno()
        drain = endpoint.drain

        def on_readable() -> None:
            drain()
            if endpoint._hung_up:
                self.remove(endpoint)

        self._readers[fd] = on_readable
        for other_fd, callback in endpoint.watched().items():
            self._readers[other_fd] = self._watcher(endpoint, callback)
            self._update(other_fd)
        if isinstance(endpoint, StreamEndpoint):
            endpoint.want_write = self._want_write
        self._update(fd)

    def remove(self, endpoint: Endpoint) -> None:
        """Stop watching ``endpoint`` (call before closing its descriptors)."""
        fd = endpoint.fileno()
        self._readers.pop(fd, None)
        self._update(fd)
        for other_fd in endpoint.watched():
            self._readers.pop(other_fd, None)
            self._update(other_fd)
        if isinstance(endpoint, StreamEndpoint):
            self._writers.pop(endpoint.write_fd, None)
            self._update(endpoint.write_fd)

    def _watcher(self, endpoint: Endpoint, callback: Callable[[], None]) -> Callable[[], None]:
        def on_event() -> None:
            callback()
            if endpoint._hung_up:
                self.remove(endpoint)

        return on_event

    def _want_write(self, endpoint: StreamEndpoint, on: bool) -> None:
        if on:
            self._writers[endpoint.write_fd] = endpoint.flush
        else:
            self._writers.pop(endpoint.write_fd, None)
        self._update(endpoint.write_fd)

    def __len__(self) -> int:
        return len(self._readers)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Drain ready endpoints until cancelled."""
        epfd = self._epoll.fileno()
        poll = self._epoll.poll
        readers = self._readers
        writers = self._writers
        task_status.started()
        try:
            while True:
                await trio.lowlevel.wait_readable(epfd)
                self.wakeups += 1
                self.now = trio.current_time()
                for fd, events in poll(0, MAX_EVENTS):
                    try:
                        if events & (_READ | _FAIL):
                            handler = readers.get(fd)
                            if handler is not None:
                                handler()
                        if events & _WRITE:
                            handler = writers.get(fd)
                            if handler is not None:
                                handler()
                    except Exception:  # a bug in a stage must not stop every port
                        self._errors(log, "error while handling descriptor %d", fd)
                        log.debug("traceback", exc_info=True)
        finally:
            trio.lowlevel.notify_closing(epfd)
            self._epoll.close()
