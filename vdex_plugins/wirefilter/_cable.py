"""The trio driver of a stream cable: pipes in, the model, pipes out.

One reader task per direction waits until its input is readable, reads what is there (many
records at once), and feeds the model; one timer task sleeps until the model's next deadline and
sends what is due; one writer task per output flushes what a full pipe left behind. Nothing blocks:
a full output pipe keeps the frames in a bounded buffer and stops the reader that feeds it (the
back-pressure a blocking write gave wirefilter), so frames are not lost inside the filter.

When a direction has nothing to do (no parameter active, nothing queued), its records are copied
verbatim in one write per read, without a model call per frame: an unimpaired vdex cable costs
less per frame than wirefilter's read/poll/write per frame.

The record parser keeps sync whatever the read boundaries (the length header may be split between
two reads: the stall of the reference parsers in bench/ANCHORS.md §2).
"""

from __future__ import annotations

import errno
import logging
import os
import socket
from collections.abc import Callable

import attrs
import trio

from vdex._core.stream import HEADER_LEN, MAX_STREAM_FRAME, encode_header

from ._model import WireFilterModel
from ._timer import DeadlineWaiter

log = logging.getLogger("vdex.wirefilter")

READ_SIZE = 65536
READS_PER_WAKE = 8
MAX_PENDING = 1 << 20
"""Bytes an output keeps while its pipe is full; beyond this new frames are dropped (counted)."""
HIGH_WATER = 64 << 10
"""Above this many pending output bytes the reader feeding that output pauses."""


@attrs.define(eq=False, kw_only=True)
class StreamOutput:
    """Non-blocking writes of framed records to one descriptor, with a bounded overflow buffer."""

    fd: int
    pending: bytearray = attrs.Factory(bytearray)
    dropped: int = 0
    broken: bool = False
    _want_write: trio.Event = attrs.Factory(trio.Event)
    _drained: trio.Event = attrs.Factory(trio.Event)

    def frame(self, frame: bytes) -> None:
        if len(self.pending) + len(frame) + HEADER_LEN > MAX_PENDING or self.broken:
            self.dropped += 1
            return
        self.pending += encode_header(len(frame))
        self.pending += frame

    def raw(self, records: bytes | memoryview) -> None:
        """Whole records, already framed (the transparent path)."""
        if self.broken:
            return
        self.pending += records

    @property
    def congested(self) -> bool:
        return len(self.pending) >= HIGH_WATER

    def flush(self) -> None:
        """Write what the pipe takes now; ask the writer task to wait for the rest."""
        if not self.pending or self.broken:
            return
        try:
            written = os.write(self.fd, self.pending)
        except BlockingIOError:
            written = 0
        except OSError as exc:
            self._break(exc)
            return
        del self.pending[:written]
        if self.pending:
            self._want_write.set()
        if not self.congested:
            self._drained.set()

    def _break(self, exc: OSError) -> None:
        self.broken = True
        self.pending.clear()
        self._drained.set()
        self._want_write.set()
        if exc.errno != errno.EPIPE:
            log.warning("output %d failed: %s", self.fd, exc.strerror)

    async def wait_drained(self) -> None:
        while self.congested and not self.broken:
            self._drained = trio.Event()
            await self._drained.wait()

    async def run(self) -> None:
        """Flush whenever the pipe becomes writable again."""
        while not self.broken:
            if not self.pending:
                self._want_write = trio.Event()
                await self._want_write.wait()
                continue
            await trio.lowlevel.wait_writable(self.fd)
            self.flush()


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
class _RecordReader:
    """Split one input's byte stream into records; forward them or copy them verbatim."""

    partial: bytearray = attrs.Factory(bytearray)
    skip: int = 0
    oversize: int = 0
    empty: int = 0

    def consume(self, data: bytes, transparent: bool, submit: Callable[[bytes], None],
                raw: Callable[[memoryview], None]) -> int:
        """Handle one read; return the number of whole records seen."""
        if self.skip:
            if len(data) <= self.skip:
                self.skip -= len(data)
                return 0
            data = data[self.skip:]
            self.skip = 0
        if self.partial:
            self.partial += data
            data = bytes(self.partial)
            self.partial.clear()
        view = memoryview(data)
        pos = raw_from = 0
        end = len(data)
        records = 0
        while end - pos >= HEADER_LEN:
            length = (data[pos] << 8) | data[pos + 1]
            if length == 0 or length > MAX_STREAM_FRAME:
                if transparent and raw_from < pos:
                    raw(view[raw_from:pos])
                if length == 0:
                    self.empty += 1
                    pos += HEADER_LEN
                else:
                    self.oversize += 1
                    if end - pos - HEADER_LEN < length:
                        self.skip = length - (end - pos - HEADER_LEN)
                        return records
                    pos += HEADER_LEN + length
                raw_from = pos
                continue
            stop = pos + HEADER_LEN + length
            if stop > end:
                break
            if not transparent:
                submit(data[pos + HEADER_LEN:stop])
            pos = stop
            records += 1
        if transparent and raw_from < pos:
            raw(view[raw_from:pos])
        if pos < end:
            self.partial += view[pos:]
        return records


@attrs.define(eq=False, kw_only=True)
class StreamCable:
    """A wirefilter between stream descriptors: ``inputs[d]`` feeds ``outputs[d]``.

    Also the :class:`~._commands.FilterTarget` of the console.
    """

    model: WireFilterModel
    inputs: list[int]
    outputs: list[StreamOutput]
    blink: tuple[str, str] | None = None
    blinker: Blink | None = None
    waiter: DeadlineWaiter = attrs.Factory(DeadlineWaiter)
    exit_reason: str = ""
    _progress: trio.Event = attrs.Factory(trio.Event)

    @property
    def mono(self) -> bool:
        return len(self.inputs) == 1

    def now(self) -> float:
        return trio.current_time()

    def changed(self) -> None:
        """A console command ran: re-arm the timer if the model now has an earlier deadline."""
        self.waiter.wake_if_earlier(self.model.next_deadline())

    def extra_stats(self) -> list[str]:
        """``showstats`` lines about the pipes: frames lost because an output stayed full."""
        labels = ("",) if self.mono else ("L->R ", "R->L ")
        return [f"{label}output full: dropped {out.dropped}"
                for label, out in zip(labels, self.outputs, strict=True)]

    # ------------------------------------------------------------------ sending

    def _send(self, direction: int, frame: bytes) -> None:
        self.outputs[direction].frame(frame)
        if self.blinker is not None:
            self.blinker.send(direction, len(frame) + HEADER_LEN)

    def release(self) -> None:
        """Send everything the model has due now."""
        due = self.model.handle_timer(trio.current_time())
        if due:
            for direction, frame in due:
                self._send(direction, frame)
            for out in self.outputs:
                out.flush()
        self._progress.set()
        self._progress = trio.Event()

    # ------------------------------------------------------------------ tasks

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Run until an input ends (after its frames in flight are out) or an output breaks."""
        try:
            async with trio.open_nursery() as nursery:
                for out in self.outputs:
                    nursery.start_soon(out.run)
                nursery.start_soon(self._timer)
                for direction in range(len(self.inputs)):
                    nursery.start_soon(self._reader, direction, nursery.cancel_scope)
                task_status.started()
        finally:
            self.waiter.close()
            if self.blinker is not None:
                self.blinker.close()

    async def _timer(self) -> None:
        while True:
            await self.waiter.wait(self.model.next_deadline())
            self.release()

    async def _reader(self, direction: int, cancel_scope: trio.CancelScope) -> None:
        fd = self.inputs[direction]
        out = self.outputs[direction]
        model = self.model
        reader = _RecordReader()
        gate = DeadlineWaiter(precise=self.waiter.precise)
        frames: list[bytes] = []
        try:
            while True:
                while not model.accepting(direction, trio.current_time()):
                    resume = model.input_resume_time(direction)
                    if resume <= trio.current_time():
                        self.release()  # the speed gate opened: process the backlog now
                    else:
                        await gate.wait(resume)
                if out.congested:
                    await out.wait_drained()
                if out.broken:
                    self.exit_reason = f"output {out.fd} closed"
                    cancel_scope.cancel()
                    return
                await trio.lowlevel.wait_readable(fd)
                # Read again at once while there is more: a frame written meanwhile by the
                # process on the other CPU costs a read, not another trip through the scheduler.
                for _ in range(READS_PER_WAKE):
                    try:
                        data = os.read(fd, READ_SIZE)
                    except BlockingIOError:
                        break
                    except OSError as exc:
                        log.warning("input %d failed: %s", fd, exc.strerror)
                        data = b""
                    if not data:
                        out.flush()
                        await self._finish(direction)
                        self.exit_reason = f"end of input {fd}"
                        cancel_scope.cancel()
                        return
                    self._consume(direction, data, reader, frames)
                    if out.congested or not model.accepting(direction, trio.current_time()):
                        break
                out.flush()
        finally:
            gate.close()

    def _consume(self, direction: int, data: bytes, reader: _RecordReader,
                 frames: list[bytes]) -> None:
        """One read's records: copied verbatim when the direction is transparent, else through
        the model."""
        model = self.model
        out = self.outputs[direction]
        transparent = self.blinker is None and model.transparent(direction)
        count = reader.consume(data, transparent, frames.append, out.raw)
        if transparent:
            model.count_passthrough(direction, count)
        elif frames:
            now = trio.current_time()
            send = self._send
            for frame in frames:
                for copy in model.submit(direction, frame, now):
                    send(direction, copy)
            frames.clear()
            self.waiter.wake_if_earlier(model.next_deadline())

    async def _finish(self, direction: int) -> None:
        """The input ended: let the frames already in flight in this direction arrive."""
        model = self.model
        out = self.outputs[direction]
        while (model.queued_frames(direction) or model.backlog(direction)
               or (out.pending and not out.broken)):
            await self._progress_or_drain(out)

    async def _progress_or_drain(self, out: StreamOutput) -> None:
        if out.pending and not self.model.queued_frames() and not any(
            self.model.backlog(d) for d in range(len(self.inputs))
        ):
            await trio.lowlevel.wait_writable(out.fd)
            out.flush()
            return
        await self._progress.wait()
