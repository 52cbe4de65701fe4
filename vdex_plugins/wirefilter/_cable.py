"""The driver of a stream cable: pipes in, the model, pipes out, all on the dataplane.

``vdex wirefilter`` runs on the host loop (:func:`vdex.cli.common.run_trio` with a
:class:`~vdex.runtime.dataplane.Dataplane`), as ``vdex switch`` and ``vdex plug`` do: the process
blocks in the dataplane's epoll set, and every descriptor that carries frames is a synchronous
handler there, so a frame never passes through trio's scheduler:

* each input: read what is there (records in bulk), feed the model or relay, write at once;
* the timer (:class:`~._timer.HostTimer`, a timerfd): frames due after their delay, Markov steps,
  an input whose speed gate opens;
* the outputs' writability (a small epoll set of its own, watched as one descriptor): only while
  a full pipe holds frames back.

trio runs as the host loop's guest for the console, the signals and the process's lifetime.
Nothing blocks: a full output pipe keeps the frames in a bounded buffer and stops reading the
input that feeds it (the back-pressure a blocking write gave wirefilter), so frames are not lost
inside the filter; beyond the buffer they are dropped and counted.

When a direction has nothing to do (no parameter active, nothing queued), its records are written
verbatim, one write per run of whole records (:meth:`StreamDecoder.relay`), without a model call
per frame. The stream parser keeps sync whatever the read boundaries (the length header may be
split between two reads: the stall of the reference parsers in bench/ANCHORS.md §2).
"""

from __future__ import annotations

import errno
import logging
import os
import select
import socket
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import attrs
import trio

from vdex._core.stream import HEADER_LEN, StreamDecoder, encode_header
from vdex.errors import ConfigError

from ._model import WireFilterModel
from ._timer import HostTimer

if TYPE_CHECKING:
    from vdex.runtime.dataplane import Dataplane

log = logging.getLogger("vdex.wirefilter")

READ_SIZE = 65536
READS_PER_WAKE = 8
"""At most this many reads of one input per wake-up (fairness with the other direction)."""
MAX_PENDING = 1 << 20
"""Bytes an output keeps while its pipe is full; beyond this new frames are dropped (counted)."""
IOV_MAX = os.sysconf("SC_IOV_MAX") if hasattr(os, "sysconf") else 1024
"""Chunks per ``writev``."""
HIGH_WATER = 64 << 10
"""Above this many bytes left over after a flush the reader feeding that output pauses (so at
most HIGH_WATER + READS_PER_WAKE * READ_SIZE relayed bytes wait in the filter)."""
_clock = time.monotonic
"""The model's clock: the timer's (a timerfd on CLOCK_MONOTONIC)."""


@attrs.define(eq=False, kw_only=True)
class StreamOutput:
    """Non-blocking writes of framed records to one descriptor, with a bounded overflow buffer.

    What is queued (frames with their headers, relayed runs of records as views of the bytes
    read) goes out with one ``writev`` per :meth:`flush`, without being copied: a handler that
    read several times writes once. ``on_blocked`` is called when bytes are left over (watch the
    descriptor for writability, then :meth:`flush`); ``on_broken`` when the reader went away.
    """

    fd: int
    chunks: list[bytes | memoryview] = attrs.Factory(list)
    queued: int = 0
    """Bytes in ``chunks``."""
    dropped: int = 0
    broken: bool = False
    on_blocked: Callable[[StreamOutput], None] | None = None
    on_broken: Callable[[StreamOutput], None] | None = None

    def frame(self, frame: bytes) -> None:
        """Queue one frame with its header; dropped (counted) beyond :data:`MAX_PENDING`."""
        size = len(frame) + HEADER_LEN
        if self.queued + size > MAX_PENDING or self.broken:
            self.dropped += 1
            return
        self.chunks += (encode_header(len(frame)), frame)
        self.queued += size

    def raw(self, records: bytes | memoryview) -> None:
        """Queue whole records, already framed (the relay). The reader that feeds this output
        pauses while it is congested, which bounds what waits here."""
        if not self.broken:
            self.chunks.append(records)
            self.queued += len(records)

    def write_now(self, records: bytes | memoryview) -> None:
        """Whole records written at once when nothing waits (the relay's last read of a
        wake-up: one ``write``, no queue); what the descriptor does not take is queued."""
        if self.chunks or self.broken:
            self.raw(records)
            return
        try:
            written = os.write(self.fd, records)
        except BlockingIOError:
            written = 0
        except OSError as exc:
            self._break(exc)
            return
        if written < len(records):
            rest = memoryview(records)[written:]
            self.chunks.append(rest)
            self.queued += len(rest)
            if self.on_blocked is not None:
                self.on_blocked(self)

    @property
    def congested(self) -> bool:
        return self.queued >= HIGH_WATER

    def flush(self) -> None:
        """Write what the descriptor takes now; report the rest as blocked."""
        chunks = self.chunks
        while chunks and not self.broken:
            batch = chunks if len(chunks) <= IOV_MAX else chunks[:IOV_MAX]
            try:
                written = os.writev(self.fd, batch)
            except BlockingIOError:
                written = 0
            except OSError as exc:
                self._break(exc)
                return
            self.queued -= written
            whole = 0
            for chunk in batch:
                n = len(chunk)
                if written < n:
                    break
                written -= n
                whole += 1
            complete = whole == len(batch)
            del chunks[:whole]
            if not complete:
                if written:
                    chunks[0] = memoryview(chunks[0])[written:]
                if self.on_blocked is not None:
                    self.on_blocked(self)
                return

    def _break(self, exc: OSError) -> None:
        self.broken = True
        self.chunks.clear()
        self.queued = 0
        if exc.errno != errno.EPIPE:
            log.warning("output %d failed: %s", self.fd, exc.strerror)
        if self.on_broken is not None:
            self.on_broken(self)


@attrs.define(eq=False, kw_only=True)
class Blink:
    """``--blink``: one datagram ``"<id> <LR|RL|--> <size>\\n"`` per frame sent."""

    path: str
    ident: str
    mono: bool
    sock: socket.socket = attrs.field(init=False)
    errors: int = 0

    def __attrs_post_init__(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setblocking(False)

    def send(self, direction: int, size: int) -> None:
        tag = "--" if self.mono else ("LR", "RL")[direction]
        try:
            self.sock.sendto(f"{self.ident} {tag} {size}\n".encode(), self.path)
        except OSError:
            self.errors += 1

    def close(self) -> None:
        self.sock.close()


@attrs.define(eq=False, kw_only=True)
class _Direction:
    """One input and the output it feeds."""

    index: int
    fd: int
    out: StreamOutput
    decoder: StreamDecoder = attrs.Factory(StreamDecoder)
    frames: list[bytes] = attrs.Factory(list)
    reading: bool = False
    """Registered with the dataplane."""
    handler: Callable[[], None] | None = None
    ended: bool = False
    resume_at: float | None = None
    """Paused by the speed gate until then."""


@attrs.define(eq=False, kw_only=True)
class StreamCable:
    """A wirefilter between stream descriptors: ``inputs[d]`` feeds ``outputs[d]``.

    Also the :class:`~._commands.FilterTarget` of the console. :meth:`run` drives it on a
    :class:`~vdex.runtime.dataplane.Dataplane` (the host loop's, or one run as a trio task).
    """

    model: WireFilterModel
    inputs: list[int]
    outputs: list[StreamOutput]
    blink: tuple[str, str] | None = None
    blinker: Blink | None = None
    exit_reason: str = ""
    timer: HostTimer | None = None
    _directions: list[_Direction] = attrs.Factory(list)
    _dataplane: Dataplane | None = None
    _writable: select.epoll | None = None
    _watching: set[int] = attrs.Factory(set)
    _done: trio.Event | None = None

    def __attrs_post_init__(self) -> None:
        self._directions = [_Direction(index=d, fd=fd, out=out) for d, (fd, out)
                            in enumerate(zip(self.inputs, self.outputs, strict=True))]
        for out in self.outputs:
            out.on_blocked = self._blocked
            out.on_broken = self._broken

    @property
    def mono(self) -> bool:
        return len(self.inputs) == 1

    def now(self) -> float:
        return _clock()

    def changed(self) -> None:
        """A console command ran: re-arm the timer if the model now has an earlier deadline."""
        if self.timer is not None:
            self.timer.wake_if_earlier(self.model.next_deadline())

    def extra_stats(self) -> list[str]:
        """``showstats`` lines about the pipes: frames lost because an output stayed full."""
        labels = ("",) if self.mono else ("L->R ", "R->L ")
        return [f"{label}output full: dropped {out.dropped}"
                for label, out in zip(labels, self.outputs, strict=True)]

    # ------------------------------------------------------------------ running

    async def run(self, dataplane: Dataplane, *,
                  task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Run until an input ends (after its frames in flight are out) or an output breaks."""
        self._done = trio.Event()
        self._dataplane = dataplane
        try:
            self.timer = HostTimer(on_due=self._on_due)
            self._writable = select.epoll()
        except OSError as exc:
            if self.timer is not None:
                self.timer.close()
            raise ConfigError(f"cannot start the cable: {exc.strerror or exc}") from None
        try:
            dataplane.add_reader(self.timer.fileno(), self.timer.on_readable)
            dataplane.add_reader(self._writable.fileno(), self._on_writable)
            now = _clock()
            for direction in self._directions:
                self._update_input(direction, now)
            self._rearm()
            task_status.started()
            await self._done.wait()
        finally:
            for direction in self._directions:
                if direction.reading:
                    dataplane.remove_reader(direction.fd)
                    direction.reading = False
            dataplane.remove_reader(self._writable.fileno())
            dataplane.remove_reader(self.timer.fileno())
            self._writable.close()
            self.timer.close()
            if self.blinker is not None:
                self.blinker.close()

    def _finish(self, reason: str) -> None:
        if self._done is not None and not self._done.is_set():
            self.exit_reason = reason
            self._done.set()

    # ------------------------------------------------------------------ inputs

    def _input_handler(self, direction: _Direction) -> Callable[[], None]:
        """The dataplane handler of one input, with what it needs bound as closure variables.

        For an unimpaired direction this is the whole cost of a wake-up, so the common one (a
        short read, relayed and written at once) takes a straight path with three calls: read,
        relay, write. Whether the direction is transparent is asked of the model only when the
        Markov chain's version changed since it last was: a transparent direction cannot stop
        being one otherwise (its queue, backlog and loss state change only through
        :meth:`~._model.WireFilterModel.submit`, which it does not call).

        One read takes everything the pipe holds up to :data:`READ_SIZE`; only a full read is
        followed by another (at most :data:`READS_PER_WAKE`, written with one ``writev``), so
        the common wake-up makes no read that ends in EAGAIN (an exception in Python: dearer
        than going back to epoll).
        """
        fd = direction.fd
        out = direction.out
        d = direction.index
        model = self.model
        chain = model.markov
        transparent = model.transparent
        stats = model.stats[d]
        relay = direction.decoder.relay
        queue = out.raw
        write_now = out.write_now
        filtered = self._filtered
        relaying = self.blinker is None
        read = os.read
        clear_version = -1
        """The chain's version when the direction was last found transparent (-1: it was not)."""

        def passes(version: int) -> bool:
            nonlocal clear_version
            if relaying and transparent(d):
                clear_version = version
                return True
            clear_version = -1
            return False

        def take() -> bytes | None:
            """One read of the input: its bytes, b"" at its end (or when it failed), None when
            nothing waits."""
            try:
                return read(fd, READ_SIZE)
            except BlockingIOError:
                return None
            except OSError as exc:
                log.warning("input %d failed: %s", fd, exc.strerror)
                return b""

        def on_input() -> None:
            data = take()
            if data is None:
                return
            if not data:
                self._input_ended(direction)
                return
            version = chain.version
            if len(data) < READ_SIZE and not out.queued and (
                    version == clear_version or passes(version)):
                passed = relay(data, write_now)
                stats.received += passed
                stats.delivered += passed
                if out.queued >= HIGH_WATER or out.broken:
                    self._update_input(direction, _clock())
                return
            burst(data)

        def burst(data: bytes) -> None:
            """A full read (more may wait), or a direction with something to do: up to
            READS_PER_WAKE reads, then one flush."""
            stop = False
            reads = 1
            while True:
                version = chain.version
                if version == clear_version or passes(version):
                    passed = relay(data, queue)
                    stats.received += passed
                    stats.delivered += passed
                elif filtered(direction, data):
                    stop = True  # the speed gate closed
                    break
                if len(data) < READ_SIZE or reads == READS_PER_WAKE:
                    break
                more = take()
                if more is None:
                    break
                data = more
                if not data:
                    self._input_ended(direction)
                    return
                reads += 1
            if out.queued:
                out.flush()
            if stop or out.queued >= HIGH_WATER or out.broken:
                self._update_input(direction, _clock())

        return on_input

    def _filtered(self, direction: _Direction, data: bytes) -> bool:
        """One read's records through the model (a direction with something to do). True if
        the input must not be read again now (the speed gate closed)."""
        model = self.model
        d = direction.index
        frames = direction.frames
        direction.decoder.feed(data, frames.append)
        now = _clock()
        if frames:
            send = self._send
            for frame in frames:
                for copy in model.submit(d, frame, now):
                    send(d, copy)
            frames.clear()
            if self.timer is not None:
                self.timer.wake_if_earlier(model.next_deadline())
        return not model.accepting(d, now)

    def _update_input(self, direction: _Direction, now: float, *, arm: bool = True) -> None:
        """Read the input only while its output takes more and the speed gate is open."""
        out = direction.out
        gated = not self.model.accepting(direction.index, now)
        wanted = not (direction.ended or out.broken or out.congested or gated)
        if wanted != direction.reading and self._dataplane is not None:
            if wanted:
                if direction.handler is None:
                    direction.handler = self._input_handler(direction)
                self._dataplane.add_reader(direction.fd, direction.handler)
            else:
                self._dataplane.remove_reader(direction.fd)
            direction.reading = wanted
        if gated and not direction.ended:
            direction.resume_at = self.model.input_resume_time(direction.index)
            if arm and self.timer is not None:
                self.timer.wake_if_earlier(direction.resume_at)
        else:
            direction.resume_at = None

    def _input_ended(self, direction: _Direction) -> None:
        direction.out.flush()
        direction.ended = True
        self._update_input(direction, _clock())
        self._check_finished()

    def _check_finished(self) -> None:
        """An input ended: stop once the frames in flight in its direction are out."""
        model = self.model
        for direction in self._directions:
            if direction.ended:
                d = direction.index
                out = direction.out
                if not (model.queued_frames(d) or model.backlog(d)
                        or (out.queued and not out.broken)):
                    self._finish(f"end of input {direction.fd}")
                    return

    # ------------------------------------------------------------------ outputs

    def _send(self, direction: int, frame: bytes) -> None:
        self.outputs[direction].frame(frame)
        if self.blinker is not None:
            self.blinker.send(direction, len(frame) + HEADER_LEN)

    def _blocked(self, out: StreamOutput) -> None:
        if out.fd not in self._watching and self._writable is not None:
            self._writable.register(out.fd, select.EPOLLOUT)
            self._watching.add(out.fd)

    def _broken(self, out: StreamOutput) -> None:
        self._unwatch(out.fd)
        self._finish(f"output {out.fd} closed")

    def _unwatch(self, fd: int) -> None:
        if fd in self._watching and self._writable is not None:
            self._watching.discard(fd)
            try:
                self._writable.unregister(fd)
            except OSError:
                pass

    def _on_writable(self) -> None:
        """A full output pipe took bytes again (or its reader is gone): flush, then resume the
        input it paused."""
        assert self._writable is not None
        now = _clock()
        for fd, _events in self._writable.poll(0):
            for direction in self._directions:
                out = direction.out
                if out.fd == fd:
                    out.flush()
                    if not out.queued:
                        self._unwatch(fd)
                    self._update_input(direction, now)
        self._check_finished()

    # ------------------------------------------------------------------ time

    def _on_due(self, now: float) -> None:
        """The timer: send what the model has due, reopen gated inputs, arm the next deadline."""
        due = self.model.handle_timer(now)
        if due:
            send = self._send
            for d, frame in due:
                send(d, frame)
            for out in self.outputs:
                out.flush()
        for direction in self._directions:
            self._update_input(direction, now, arm=False)
        self._check_finished()
        self._rearm()

    def _rearm(self) -> None:
        deadline = self.model.next_deadline()
        for direction in self._directions:
            if direction.resume_at is not None:
                deadline = (direction.resume_at if deadline is None
                            else min(deadline, direction.resume_at))
        if self.timer is not None:
            self.timer.arm(deadline)


__all__ = ["MAX_PENDING", "Blink", "StreamCable", "StreamOutput"]
