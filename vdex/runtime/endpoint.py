"""Endpoints: the things attached to ports that frames come from and go to.

An endpoint owns a descriptor. The dataplane calls :meth:`Endpoint.drain` when the descriptor is
readable; drain reads frames without blocking until EAGAIN (or a batch limit, for fairness) and
hands each to its port's compiled ``receive``. :meth:`Endpoint.send` writes one frame without
blocking; a full buffer drops the frame and counts it. Neither ever awaits.
"""

from __future__ import annotations

import errno
import logging
import os
import time
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

import attrs

from .._core.frame import ETH_HEADER_LEN, MAX_FRAME_LEN
from .._core.port import DropCounters, Port
from .._core.stream import StreamDecoder, encode_header

if TYPE_CHECKING:
    import socket

log = logging.getLogger("vdex.endpoint")

DRAIN_BATCH = 256
"""Frames read from one descriptor before the dataplane moves on to the next ready one."""
RECV_SIZE = MAX_FRAME_LEN + 1
_BATCH = range(DRAIN_BATCH)
_ONE = range(1)
_NO_WAKEUPS = [0]
"""One byte more than the largest frame accepted, so an oversize datagram is seen, not truncated."""


class RateLimitedLog:
    """Log a recurring per-frame problem at most once per interval, with the count in between."""

    __slots__ = ("interval", "_last", "_suppressed")

    def __init__(self, interval: float = 10.0) -> None:
        self.interval = interval
        self._last = -1e9
        self._suppressed = 0

    def __call__(self, logger: logging.Logger, msg: str, *args: Any) -> None:
        now = time.monotonic()
        if now - self._last < self.interval:
            self._suppressed += 1
            return
        if self._suppressed:
            msg += f" (and {self._suppressed} more like it)"
        self._last = now
        self._suppressed = 0
        logger.warning(msg, *args)


def _no_port() -> Port:
    return Port(number=-1)


@attrs.define(eq=False, kw_only=True)
class Endpoint:
    """Base endpoint: identity, the port it feeds, and the hang-up callback."""

    id: int
    """Shown as ``endpoint ID`` by ``port/print`` and used by ``port/epclose``."""
    module: str
    """Kind shown by ``port/print``: ``unix prog`` (a VDE client), ``tuntap``, ``udp``, ..."""
    description: str = ""
    uid: int | None = None
    """Owner, for access control: the uid of the client's socket file (None: unknown)."""
    port: Port = attrs.field(factory=_no_port)
    """Where received frames go; set when the endpoint is attached."""
    on_hangup: Callable[[Endpoint, BaseException | None], None] | None = None
    """Called (once) when the descriptor fails or reaches end of file."""
    close_scope: Any = None
    """The cancel scope of the task that holds the endpoint open; cancelled by ``port/epclose``."""
    on_remove: Callable[[Endpoint], None] | None = attrs.field(default=None, repr=False)
    """Set by the dataplane while it watches the endpoint: a hang-up unregisters it at once."""
    wakeups: list[int] = attrs.field(default=_NO_WAKEUPS, repr=False)
    """The dataplane's wake-up counter (shared, set when added): tells a busy endpoint from an
    idle one."""
    _last_wake: int = attrs.field(default=-2, repr=False)
    _hung_up: bool = False
    _send_errors: RateLimitedLog = attrs.field(factory=RateLimitedLog)
    _bad_frames: RateLimitedLog = attrs.field(factory=RateLimitedLog)

    def request_close(self) -> None:
        """End the endpoint's session (``port/epclose``); its owner detaches and closes it."""
        if self.close_scope is not None:
            self.close_scope.cancel()

    def fileno(self) -> int:
        raise NotImplementedError

    def watched(self) -> dict[int, Callable[[], None]]:
        """Other descriptors the dataplane should watch for this endpoint, and what to call."""
        return {}

    def drain(self) -> None:
        raise NotImplementedError

    def send(self, frame: bytes) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def hang_up(self, exc: BaseException | None = None) -> None:
        """The descriptor failed or reached end of file: stop draining it and tell the owner."""
        if self._hung_up:
            return
        self._hung_up = True
        if self.on_remove is not None:
            self.on_remove(self)
        if self.on_hangup is not None:
            self.on_hangup(self, exc)

    def _count_send_error(self, drops: DropCounters, exc: OSError) -> None:
        drops.tx_error += 1
        self._send_errors(log, "port %d endpoint %d: send failed: %s",
                          self.port.number, self.id, exc.strerror or exc)

    def _log_bad_frames(self, short: int, long: int) -> None:
        """Frames refused for their length (already counted in ``port.drops``): one log line
        per interval, never one per frame."""
        self._bad_frames(log, "port %d endpoint %d: dropped %d frame(s) under %d bytes and %d "
                         "over %d bytes", self.port.number, self.id, short, ETH_HEADER_LEN, long,
                         MAX_FRAME_LEN)


@attrs.define(eq=False, kw_only=True)
class FrameEndpoint(Endpoint):
    """One frame per read and per write: datagram sockets, taps, UDP sockets."""

    fd: int
    recv: Callable[[int], bytes]
    """Non-blocking read of at most N bytes (``sock.recv`` or ``partial(os.read, fd)``)."""
    write: Callable[[bytes], int]
    """Non-blocking write of one frame (``sock.send`` or ``partial(os.write, fd)``)."""
    closer: Callable[[], None]
    min_frame: int = ETH_HEADER_LEN

    @classmethod
    def for_socket(cls, sock: socket.socket, **kwargs: Any) -> FrameEndpoint:
        sock.setblocking(False)
        return cls(fd=sock.fileno(), recv=sock.recv, write=sock.send, closer=sock.close, **kwargs)

    @classmethod
    def for_fd(cls, fd: int, **kwargs: Any) -> FrameEndpoint:
        os.set_blocking(fd, False)
        return cls(fd=fd, recv=partial(os.read, fd), write=partial(os.write, fd),
                   closer=partial(os.close, fd), **kwargs)

    def fileno(self) -> int:
        return self.fd

    def drain(self) -> None:
        """Read frames into the port.

        An endpoint that was idle reads one frame and returns: most wake-ups of an idle endpoint
        carry one frame, and asking for a second only to get EAGAIN costs more than going back
        to epoll. If the dataplane reports it readable again on its very next wake-up, it is busy,
        and it reads until EAGAIN (at most a batch).
        """
        port = self.port
        receive = port.receive
        recv = self.recv
        min_frame = self.min_frame
        frames = nbytes = short = long = empty = 0
        wake = self.wakeups[0]
        batch = _BATCH if wake == self._last_wake + 1 else _ONE
        self._last_wake = wake
        try:
            for _ in batch:
                frame = recv(RECV_SIZE)
                n = len(frame)
                if min_frame <= n <= MAX_FRAME_LEN:
                    frames += 1
                    nbytes += n
                    receive(frame)
                elif n > MAX_FRAME_LEN:
                    long += 1
                elif n:
                    short += 1
                else:
                    empty += 1
        except BlockingIOError:
            pass
        except OSError as exc:
            self._recv_failed(exc)
        finally:
            if empty:
                self._received_empty(empty)
            if short or long:
                port.drops.runt += short
                port.drops.oversize += long
                self._log_bad_frames(short, long)
            port.in_frames += frames
            port.in_bytes += nbytes

    # The error paths, for subclasses to refine (a UDP peer that is not there yet is no error).

    def _recv_failed(self, exc: OSError) -> None:
        """A read failed with something other than EAGAIN: the descriptor is gone."""
        self.hang_up(exc)

    def _received_empty(self, count: int) -> None:
        """Zero-length datagrams arrived (old libvdeplug says goodbye so): ignored."""

    def _send_failed(self, drops: DropCounters, exc: OSError, frame: bytes) -> None:
        """A send failed with something other than EAGAIN: counted, logged rate-limited."""
        self._count_send_error(drops, exc)

    def send(self, frame: bytes) -> None:
        try:
            self.write(frame)
        except BlockingIOError:
            self.port.drops.tx_full += 1
        except OSError as exc:
            self._send_failed(self.port.drops, exc, frame)

    def transmitter(self, port: Port) -> Callable[..., None]:
        """A fused ``port.transmit`` for a port whose only endpoint this is (see Port)."""
        write = self.write
        drops = port.drops
        failed = self._send_failed

        def transmit(frame: bytes, _tagged: bool = False) -> None:
            port.out_frames += 1
            port.out_bytes += len(frame)
            try:
                write(frame)
            except BlockingIOError:
                drops.tx_full += 1
            except OSError as exc:
                failed(drops, exc, frame)

        return transmit

    def close(self) -> None:
        self.closer()


@attrs.define(eq=False, kw_only=True)
class StreamEndpoint(Endpoint):
    """Frames with the 2-byte length framing over a pair of descriptors (pipes, stdin/stdout).

    Writes of one record are atomic on pipes (a record is smaller than PIPE_BUF), so a full pipe
    drops whole frames. On a stream socket a partial write is possible; the rest is kept (up to
    ``max_pending`` bytes) and the dataplane is asked to wake us when the descriptor is writable.
    """

    read_fd: int
    write_fd: int
    decoder: StreamDecoder = attrs.field(factory=StreamDecoder)
    max_pending: int = 256 * 1024
    want_write: Callable[[StreamEndpoint, bool], None] | None = None
    closer: Callable[[], None] | None = None
    _pending: bytearray = attrs.field(factory=bytearray)

    def __attrs_post_init__(self) -> None:
        os.set_blocking(self.read_fd, False)
        os.set_blocking(self.write_fd, False)

    def fileno(self) -> int:
        return self.read_fd

    def _deliver(self, frame: bytes) -> None:
        port = self.port
        n = len(frame)
        if n < ETH_HEADER_LEN:
            port.drops.runt += 1
            self._log_bad_frames(1, 0)
            return
        if n > MAX_FRAME_LEN:
            port.drops.oversize += 1
            self._log_bad_frames(0, 1)
            return
        port.in_frames += 1
        port.in_bytes += n
        port.receive(frame)

    def drain(self) -> None:
        feed = self.decoder.feed
        deliver = self._deliver
        try:
            for _ in range(16):
                data = os.read(self.read_fd, 65536)
                if not data:
                    self.hang_up(None)
                    return
                feed(data, deliver)
        except BlockingIOError:
            pass
        except OSError as exc:
            self.hang_up(exc)

    def send(self, frame: bytes) -> None:
        if self._pending:
            if len(self._pending) + len(frame) + 2 > self.max_pending:
                self.port.drops.tx_full += 1
                return
            self._pending += encode_header(len(frame))
            self._pending += frame
            return
        header = encode_header(len(frame))
        try:
            written = os.writev(self.write_fd, (header, frame))
        except BlockingIOError:
            self.port.drops.tx_full += 1
            return
        except OSError as exc:
            if exc.errno == errno.EPIPE:
                self.hang_up(exc)
            self._count_send_error(self.port.drops, exc)
            return
        if written < len(frame) + 2:
            self._pending += (header + frame)[written:]
            if self.want_write is not None:
                self.want_write(self, True)

    def flush(self) -> None:
        """The write descriptor is writable again: send what a partial write left behind."""
        try:
            written = os.write(self.write_fd, self._pending)
        except BlockingIOError:
            return
        except OSError as exc:
            self.hang_up(exc)
            return
        del self._pending[:written]
        if not self._pending and self.want_write is not None:
            self.want_write(self, False)

    def close(self) -> None:
        if self.closer is not None:
            self.closer()
