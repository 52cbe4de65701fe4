"""The dataplane: one epoll set over every endpoint, drained synchronously.

trio's ``wait_readable`` per socket costs a registration and a task switch on every wake-up. The
dataplane instead keeps its own persistent epoll set, asks it which descriptors are ready, and
drains each synchronously into the forwarding core. One wake-up serves every port with pending
frames; nothing is awaited per frame.

Two drivers share :meth:`Dataplane.dispatch`:

* :meth:`Dataplane.run`, a trio task that waits until the epoll set is readable (tests, embedding);
* :mod:`vdex.runtime.hostloop`, which blocks in the epoll set itself and runs trio as a guest, so
  a frame never passes through trio's scheduler (``vdex switch`` and ``vdex plug``).
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
_IN = _READ | _FAIL
READABLE = select.EPOLLIN
MAX_EVENTS = 512


class Dataplane:
    """Readiness multiplexer for endpoints. Call :meth:`run` in a nursery; add and remove anytime."""

    def __init__(self) -> None:
        self._epoll = select.epoll()
        self._readers: dict[int, Callable[[], None]] = {}
        self._writers: dict[int, Callable[[], None]] = {}
        self._masks: dict[int, int] = {}
        self._errors = RateLimitedLog()
        self.wakeup_counter = [0]
        """A one-element list shared with every endpoint: how many times the dataplane woke up."""
        self.now = 0.0
        """Seconds on a monotonic clock at the latest wake-up: a per-frame "now" that costs no
        clock call. Compare it only with itself (its origin depends on the driver)."""

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

    @property
    def wakeups(self) -> int:
        """How many times the dataplane woke up (statistics, and busy/idle endpoint detection)."""
        return self.wakeup_counter[0]

    @wakeups.setter
    def wakeups(self, value: int) -> None:
        self.wakeup_counter[0] = value

    def add(self, endpoint: Endpoint) -> None:
        """Start draining ``endpoint`` whenever its descriptor is readable."""
        endpoint.wakeups = self.wakeup_counter
        endpoint.on_remove = self.remove
        fd = endpoint.fileno()
        self._readers[fd] = endpoint.drain
        for other_fd, callback in endpoint.watched().items():
            self._readers[other_fd] = self._watcher(endpoint, callback)
            self._update(other_fd)
        if isinstance(endpoint, StreamEndpoint):
            endpoint.want_write = self._want_write
        self._update(fd)

    def remove(self, endpoint: Endpoint) -> None:
        """Stop watching ``endpoint`` (call before closing its descriptors)."""
        endpoint.on_remove = None
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
        return callback

    def _want_write(self, endpoint: StreamEndpoint, on: bool) -> None:
        if on:
            self._writers[endpoint.write_fd] = endpoint.flush
        else:
            self._writers.pop(endpoint.write_fd, None)
        self._update(endpoint.write_fd)

    def __len__(self) -> int:
        return len(self._readers)

    def add_reader(self, fd: int, callback: Callable[[], None]) -> None:
        """Call ``callback`` whenever ``fd`` is readable (the host loop's wake-up pipe)."""
        self._readers[fd] = callback
        self._update(fd)

    def remove_reader(self, fd: int) -> None:
        self._readers.pop(fd, None)
        self._update(fd)

    def poll(self, timeout: float) -> list[tuple[int, int]]:
        """Ready descriptors, waiting at most ``timeout`` seconds (-1: until one is)."""
        return self._epoll.poll(timeout, MAX_EVENTS)

    def fileno(self) -> int:
        return self._epoll.fileno()

    def dispatch(self, ready: list[tuple[int, int]]) -> None:
        """Run the handlers of ready descriptors; a failing handler is logged, never fatal."""
        readers = self._readers
        writers = self._writers
        for fd, events in ready:
            try:
                if events & _IN:
                    handler = readers.get(fd)
                    if handler is not None:
                        handler()
                if events & _WRITE:
                    handler = writers.get(fd)
                    if handler is not None:
                        handler()
            except Exception:  # a bug in a stage must not stop every port
                self.log_failure(fd)

    def log_failure(self, fd: int) -> None:
        """Log (rate-limited) the exception being handled for descriptor ``fd``."""
        self._errors(log, "error while handling descriptor %d", fd)
        log.debug("traceback", exc_info=True)

    @property
    def readers(self) -> dict[int, Callable[[], None]]:
        return self._readers

    def close(self) -> None:
        self._epoll.close()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """The trio driver: drain ready endpoints until cancelled."""
        epfd = self._epoll.fileno()
        poll = self._epoll.poll
        dispatch = self.dispatch
        wakeups = self.wakeup_counter
        task_status.started()
        try:
            while True:
                await trio.lowlevel.wait_readable(epfd)
                wakeups[0] += 1
                self.now = trio.current_time()
                dispatch(poll(0, MAX_EVENTS))
        finally:
            trio.lowlevel.notify_closing(epfd)
            self.close()
