"""The slirp endpoint: a libslirp instance on a switch port (or at one end of ``vdex slirp``).

libslirp hands out frames for the guests synchronously, from inside whatever call into it is
running. One of those calls is ``send_frame``, which the switch makes while it is forwarding
another frame (ARP, ICMP echo, DHCP and many TCP segments are answered at once). Entering the
switch again from there would run the forwarding core inside itself, so this endpoint never does:

* frames from libslirp go into a bounded queue (:meth:`SlirpEndpoint.deliver`); when the queue
  is full the frame is dropped and counted (TCP recovers, as with any slow link);
* when the queue goes from empty to non-empty, the endpoint's eventfd is written; the eventfd is
  the descriptor the dataplane watches (:meth:`fileno`);
* :meth:`drain`, called by the dataplane like any endpoint's, hands the queued frames to the
  port's compiled ``receive``, at most a batch per call, and clears the eventfd once the queue is
  empty (a non-empty queue keeps it readable, so the dataplane comes back);
* :meth:`send` (and the fused ``transmitter``) feed a frame from the switch to libslirp at once
  (``SlirpBridge.send_frame``: never blocks, counts what it refuses).

libslirp's own sockets are served by the dataplane too, without trio: the bridge runs in its
external mode (``SlirpBridge.external``), and :meth:`SlirpEndpoint.watched` hands the dataplane
the bridge's epoll descriptor (libslirp's sockets, a timerfd for its timeouts, and an eventfd
raised by ``send_frame``), whose readiness calls ``SlirpBridge.service``. Going through trio
for every turn cost a thread hop per wake-up under the host loop (trio runs as its guest, its
I/O waits in a worker thread): 250 to 1000 us per TCP round trip, where the dataplane takes
about 100 (docs/slirp.md, "Benchmark").

The bridge's trio task (``SlirpBridge.run``) still owns the instance, from ``slirp_new`` to
``slirp_cleanup``; it lives in a nursery owned by :func:`open_slirp_endpoint`, so it runs in the
task that opened the port: for a switch port, a task of the slirp plugin (``plugin/del slirp``
closes every slirp port).
"""

from __future__ import annotations

import collections
import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import attrs
import trio

from vdex._core.frame import MAX_FRAME_LEN
from vdex._core.port import Port
from vdex.runtime.endpoint import Endpoint

from . import _libslirp as C
from ._bridge import SlirpBridge, SlirpStatistics, sole_exception_unwrapped
from ._describe import settings_lines
from ._settings import SlirpSettings
from ._vnl import parse_slirp_vnl

if TYPE_CHECKING:
    from vdex.runtime.switch import Switch
    from vdex.vnl import Vnl

log = logging.getLogger("vdex.slirp")

MODULE = "slirp"
"""The endpoint kind ``port/print`` shows."""
QUEUE_LIMIT = 1024
"""Frames for the guests waiting for the dataplane, at most (1.5 MB of full-size frames)."""
DRAIN_BATCH = 256
"""Frames handed to the switch per ``drain`` before the dataplane serves other endpoints."""
_BATCH = range(DRAIN_BATCH)


def _not_running(_frame: bytes | bytearray | memoryview) -> None:
    """``send`` before a bridge is attached: nothing to feed."""


@attrs.define(eq=False, kw_only=True)
class SlirpEndpoint(Endpoint):
    """libslirp as an endpoint. Build it with :func:`open_slirp_endpoint`."""

    fd: int
    """The eventfd the dataplane watches: readable while frames for the guests are queued."""
    settings: SlirpSettings
    queue_limit: int = QUEUE_LIMIT
    bridge: SlirpBridge | None = None
    queue_drops: int = 0
    """Frames for the guests dropped because the queue was full."""
    closed: trio.Event = attrs.field(factory=trio.Event)
    """Set once :meth:`close` has run (``slirp/del`` waits for it)."""
    _queue: collections.deque[bytes] = attrs.field(factory=collections.deque)
    _send_frame: Callable[[bytes], None] = _not_running
    _is_closed: bool = False
    _watched: dict[int, Callable[[], None]] = attrs.field(factory=dict)

    def attach_bridge(self, bridge: SlirpBridge) -> None:
        self.bridge = bridge
        self._send_frame = bridge.send_frame

    # ------------------------------------------------------------------ libslirp -> switch

    def deliver(self, frame: bytes) -> None:
        """``SlirpBridge.deliver``: queue a frame for the guests; never calls into the switch."""
        queue = self._queue
        if len(queue) >= self.queue_limit:
            self.queue_drops += 1
            self.port.drops.rx_full += 1
            return
        if len(frame) > MAX_FRAME_LEN:  # only with an MTU over 1500, which settings refuse
            self.port.drops.oversize += 1
            self._log_bad_frames(0, 1)
            return
        queue.append(frame)
        if len(queue) == 1:
            os.eventfd_write(self.fd, 1)

    def fileno(self) -> int:
        return self.fd

    def watched(self) -> dict[int, Callable[[], None]]:
        """libslirp's own descriptors, behind the bridge's epoll descriptor: the dataplane calls
        ``SlirpBridge.service`` when a socket, the timeout or a guest frame needs a turn.

        The same mapping from start to end (the dataplane asks again when it removes us)."""
        return self._watched

    def drain(self) -> None:
        queue = self._queue
        port = self.port
        receive = port.receive
        pop = queue.popleft
        frames = nbytes = 0
        try:
            for _ in _BATCH:
                if not queue:
                    break
                frame = pop()
                frames += 1
                nbytes += len(frame)
                receive(frame)
        finally:
            port.in_frames += frames
            port.in_bytes += nbytes
            if not queue:
                try:
                    os.eventfd_read(self.fd)
                except BlockingIOError:
                    pass

    @property
    def queued(self) -> int:
        """Frames for the guests waiting for the dataplane."""
        return len(self._queue)

    # ------------------------------------------------------------------ switch -> libslirp

    def send(self, frame: bytes) -> None:
        self._send_frame(frame)

    def transmitter(self, port: Port) -> Callable[..., None]:
        """A fused ``port.transmit`` for a port whose only endpoint this is (see Port)."""
        send_frame = self._send_frame

        def transmit(frame: bytes, _tagged: bool = False) -> None:
            port.out_frames += 1
            port.out_bytes += len(frame)
            send_frame(frame)

        return transmit

    def statistics(self) -> SlirpStatistics | None:
        return self.bridge.statistics() if self.bridge is not None else None

    def close(self) -> None:
        if not self._is_closed:
            self._is_closed = True
            self._queue.clear()
            os.close(self.fd)
            self.closed.set()


class _StartedFlag:
    """A ``task_status`` that remembers whether ``started()`` was called."""

    def __init__(self, inner: trio.TaskStatus[None]) -> None:
        self.inner = inner
        self.done = False

    def started(self, value: None = None) -> None:
        self.done = True
        self.inner.started(value)


async def _run_bridge(bridge: SlirpBridge, endpoint: SlirpEndpoint, *,
                      task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    """Run the bridge; a failure after it started hangs the endpoint up instead of propagating
    (the port closes, the switch and the plugin's other ports keep running)."""
    status = _StartedFlag(task_status)
    try:
        await bridge.run(task_status=status)
    except Exception as exc:
        if not status.done:
            raise
        log.error("slirp on port %d stopped: %r", endpoint.port.number, exc)
        endpoint.hang_up(exc)


@asynccontextmanager
async def open_slirp_endpoint(
    settings: SlirpSettings,
    *,
    description: str,
    library: C.LibSlirp | None = None,
    queue_limit: int = QUEUE_LIMIT,
    clock_ns: Callable[[], int] = time.monotonic_ns,
    **kwargs: Any,
) -> AsyncIterator[SlirpEndpoint]:
    """A running slirp endpoint for the ``async with`` block; its bridge runs in this task's
    nursery and is cancelled (``slirp_cleanup``) when the block ends.

    :raises PluginError: libslirp is missing (naming the Debian package).
    :raises PortError: a forward cannot listen (EADDRINUSE).
    """
    lib = library if library is not None else C.load_libslirp()
    fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
    endpoint = SlirpEndpoint(id=fd, module=MODULE, description=description, uid=os.geteuid(),
                             fd=fd, settings=settings, queue_limit=queue_limit, **kwargs)
    try:
        endpoint.attach_bridge(SlirpBridge(settings=settings, deliver=endpoint.deliver,
                                           library=lib, clock_ns=clock_ns, external=True,
                                           on_failure=endpoint.hang_up))
        assert endpoint.bridge is not None
        with sole_exception_unwrapped():
            async with trio.open_nursery() as nursery:
                await nursery.start(_run_bridge, endpoint.bridge, endpoint)
                endpoint._watched = {endpoint.bridge.fileno(): endpoint.bridge.service}
                try:
                    yield endpoint
                finally:
                    nursery.cancel_scope.cancel()
    finally:
        endpoint.close()


@asynccontextmanager
async def open_slirp_port(switch: Switch | None, vnl: Vnl) -> AsyncIterator[SlirpEndpoint]:
    """The ``slirp://`` port type's opener (``port/connect``, ``slirp/add``, ``vdex plug``)."""
    parsed = parse_slirp_vnl(vnl)
    if parsed.verbose:
        for line in settings_lines(parsed.settings):
            log.info("%s: %s", vnl.text, line)
    async with open_slirp_endpoint(parsed.settings, description=vnl.text) as endpoint:
        yield endpoint


__all__ = ["MODULE", "QUEUE_LIMIT", "SlirpEndpoint", "open_slirp_endpoint", "open_slirp_port"]
