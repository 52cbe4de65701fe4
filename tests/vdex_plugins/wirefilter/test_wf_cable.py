"""The cable driver in-process on real pipes, driven by a real Dataplane: the verbatim relay,
delays from the dataplane's timer, back-pressure from a full output, the bounded overflow,
the speed gate, the end of input and a closed output; and the same cable under the host loop
(trio as the guest), as ``vdex wirefilter`` runs it.

Real time: checks are "never early" (exact) and "not much late" (a loaded machine's tolerance).
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, cast

import attrs
import trio

from vdex._core.stream import StreamDecoder, encode
from vdex.cli.common import run_trio
from vdex.runtime.dataplane import Dataplane
from vdex_plugins.wirefilter._cable import (
    HIGH_WATER,
    MAX_PENDING,
    READ_SIZE,
    READS_PER_WAKE,
    StreamCable,
    StreamOutput,
)
from vdex_plugins.wirefilter._commands import run_command
from vdex_plugins.wirefilter._model import WireFilterModel
from vdex_plugins.wirefilter._values import Param, WireValue

F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)
LR = 0


def frame(n: int, size: int = 100) -> bytes:
    return b"\xff" * 6 + b"\x02\x00\x00\x00\x00\x01" + b"\x88\xb5" + n.to_bytes(4, "big") + \
        bytes(size - 18)


def number(f: bytes) -> int:
    return int.from_bytes(f[14:18], "big")


def model_with(**values: float) -> WireFilterModel:
    model = WireFilterModel()
    for name, value in values.items():
        model.set_value(Param[name.upper()], (0, 1), 0, WireValue(value))
    return model


@attrs.define(eq=False)
class Rig:
    """The test's ends of the pipes around a running cable."""

    cable: StreamCable
    write_fd: int
    """Write here: the cable's input."""
    read_fd: int
    """Read here: the cable's output."""
    ended: trio.Event
    decoder: StreamDecoder = attrs.Factory(StreamDecoder)
    got: list[tuple[float, bytes]] = attrs.Factory(list)

    async def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(self.write_fd, view):]
            except BlockingIOError:
                await trio.lowlevel.wait_writable(self.write_fd)

    async def read(self, count: int, timeout: float = 10) -> list[tuple[float, bytes]]:
        """Frames until ``count`` have arrived in all, each with its arrival time."""
        with trio.fail_after(timeout):
            while len(self.got) < count:
                await trio.lowlevel.wait_readable(self.read_fd)
                try:
                    data = os.read(self.read_fd, 1 << 20)
                except BlockingIOError:
                    continue
                assert data, "the cable closed its output"
                arrived = time.monotonic()
                frames: list[bytes] = []
                self.decoder.feed(data, frames.append)
                self.got += [(arrived, f) for f in frames]
        return self.got


def _pipe(size: int | None = None) -> tuple[int, int]:
    r, w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    if size is not None:
        fcntl.fcntl(w, F_SETPIPE_SZ, size)
    return r, w


@asynccontextmanager
async def running_cable(model: WireFilterModel, *, out_pipe_size: int | None = None
                        ) -> AsyncIterator[Rig]:
    in_r, in_w = _pipe()
    out_r, out_w = _pipe(out_pipe_size)
    fds = [in_r, in_w, out_r, out_w]
    cable = StreamCable(model=model, inputs=[in_r], outputs=[StreamOutput(fd=out_w)])
    dataplane = Dataplane()
    ended = trio.Event()
    rig = Rig(cable, in_w, out_r, ended)

    async def run_cable(task_status: trio.TaskStatus[None]) -> None:
        try:
            await cable.run(dataplane, task_status=task_status)
        finally:
            ended.set()

    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(dataplane.run)
            await nursery.start(run_cable)
            yield rig
            nursery.cancel_scope.cancel()
    finally:
        for fd in fds:
            try:
                os.close(fd)
            except OSError:
                pass


async def wait_until(condition: Callable[[], bool], timeout: float = 10) -> None:
    with trio.fail_after(timeout):
        while not condition():
            await trio.sleep(0.001)


# ---------------------------------------------------------------------- frames


async def test_unimpaired_records_are_relayed_verbatim_and_counted() -> None:
    frames = [frame(n, 60 + n) for n in range(200)]
    stream = b"".join(encode(f) for f in frames)
    async with running_cable(WireFilterModel()) as rig:
        await rig.write(stream[:1001])  # a record split between writes
        await rig.read(1)
        await rig.write(stream[1001:])
        got = await rig.read(200)
        assert [f for _t, f in got] == frames
        stats = rig.cable.model.stats[LR]
        assert (stats.received, stats.delivered) == (200, 200)


async def test_delayed_frames_leave_at_their_time_never_before() -> None:
    async with running_cable(model_with(delay=30)) as rig:
        latencies = []
        for n in range(5):
            sent = time.monotonic()
            await rig.write(encode(frame(n)))
            arrived, got = (await rig.read(n + 1))[-1]
            assert number(got) == n
            latencies.append(arrived - sent)
        assert min(latencies) >= 0.030
        assert sorted(latencies)[2] < 0.045  # a loaded machine's tolerance


async def test_bandwidth_spaces_a_burst() -> None:
    """1000 bytes (with the header) at 100 kB/s: one frame every 10 ms, the first after 10 ms."""
    async with running_cable(model_with(band=100_000)) as rig:
        sent = time.monotonic()
        await rig.write(b"".join(encode(frame(n, 998)) for n in range(11)))
        got = await rig.read(11)
        assert [number(f) for _t, f in got] == list(range(11))
        assert got[-1][0] - sent >= 0.110  # never early
        assert got[-1][0] - sent < 0.110 + 0.2


async def test_the_speed_gate_stops_reading_and_paces_frames() -> None:
    """With speed, the input is not read while the interface serialises (back-pressure)."""
    async with running_cable(model_with(speed=20_000)) as rig:
        direction = rig.cable._directions[LR]
        await rig.write(encode(frame(0, 998)))
        await wait_until(lambda: not direction.reading)  # gated for 50 ms after each frame
        await rig.read(1)
        await wait_until(lambda: direction.reading)
        sent = time.monotonic()
        await rig.write(b"".join(encode(frame(n, 998)) for n in range(1, 4)))
        got = await rig.read(4)
        assert [number(f) for _t, f in got] == list(range(4))
        assert got[-1][0] - sent >= 3 * 0.050  # never early
        assert got[-1][0] - sent < 3 * 0.050 + 0.2


async def test_a_full_output_pauses_the_input_and_loses_nothing() -> None:
    frames = [frame(n, 1000) for n in range(600)]  # 600 kB: more than both pipes hold
    async with running_cable(WireFilterModel(), out_pipe_size=4096) as rig:
        direction = rig.cable._directions[LR]
        out = rig.cable.outputs[LR]
        async with trio.open_nursery() as nursery:
            nursery.start_soon(rig.write, b"".join(encode(f) for f in frames))
            await wait_until(lambda: not direction.reading)
            assert out.congested and out.queued < HIGH_WATER + READS_PER_WAKE * READ_SIZE
            assert rig.cable.model.stats[LR].received < 600
            got = await rig.read(600, timeout=20)
        assert [f for _t, f in got] == frames
        assert out.dropped == 0 and direction.reading


async def test_overflow_beyond_the_output_buffer_is_dropped_and_counted() -> None:
    """Frames released by the timer while the output stays full: at most MAX_PENDING bytes wait,
    the rest is dropped and counted (showstats' "output full")."""
    count = (MAX_PENDING // 1002) * 3 // 2
    async with running_cable(model_with(delay=300), out_pipe_size=4096) as rig:
        await rig.write(b"".join(encode(frame(n, 1000)) for n in range(count)))
        model = rig.cable.model
        out = rig.cable.outputs[LR]
        await wait_until(lambda: model.stats[LR].received == count)
        await wait_until(lambda: model.queued_frames() == 0)  # all released by the timer
        assert out.dropped > 0
        got = await rig.read(count - out.dropped, timeout=20)
        assert len(got) + out.dropped == count
        assert [number(f) for _t, f in got] == list(range(len(got)))
        assert rig.cable.extra_stats() == [f"output full: dropped {out.dropped}"]


async def test_end_of_input_waits_for_the_frames_in_flight() -> None:
    async with running_cable(model_with(delay=50)) as rig:
        await rig.write(b"".join(encode(frame(n)) for n in range(5)))
        os.close(rig.write_fd)
        with trio.fail_after(10):
            await rig.ended.wait()
        assert rig.cable.exit_reason.startswith("end of input")
        got = await rig.read(5)
        assert [number(f) for _t, f in got] == list(range(5))


async def test_a_closed_output_ends_the_cable() -> None:
    async with running_cable(WireFilterModel()) as rig:
        os.close(rig.read_fd)
        await rig.write(encode(frame(1)))
        with trio.fail_after(10):
            await rig.ended.wait()
        assert rig.cable.exit_reason == f"output {rig.cable.outputs[LR].fd} closed"


async def test_a_console_command_rearms_the_timer() -> None:
    """markov-time starts a Markov clock: the cable's timer must wake for its first step."""
    async with running_cable(WireFilterModel()) as rig:
        for line in ("markov-numnodes 2", "setedge 0,1,100", "markov-time 20"):
            run_command(cast(Any, rig.cable), line)  # FilterTarget (mono is a property)
            rig.cable.changed()
        await wait_until(lambda: rig.cable.model.markov.current == 1, timeout=5)
        assert rig.cable.timer is not None and rig.cable.timer.fires >= 1


# ---------------------------------------------------------------------- under the host loop


def test_the_cable_under_the_host_loop() -> None:
    """As ``vdex wirefilter`` runs it: the host loop drives the dataplane, trio is its guest."""
    in_r, in_w = _pipe()
    out_r, out_w = _pipe()
    cable = StreamCable(model=model_with(delay=20), inputs=[in_r],
                        outputs=[StreamOutput(fd=out_w)])
    dataplane = Dataplane()
    rig = Rig(cable, in_w, out_r, trio.Event())

    async def main() -> list[float]:
        latencies = []
        async with trio.open_nursery() as nursery:
            nursery.start_soon(cable.run, dataplane)
            for n in range(5):
                sent = time.monotonic()
                await rig.write(encode(frame(n)))
                arrived, got = (await rig.read(n + 1))[-1]
                assert number(got) == n
                latencies.append(arrived - sent)
            os.close(in_w)
        return latencies

    try:
        latencies = run_trio(main, dataplane)
    finally:
        for fd in (in_r, out_r, out_w):
            os.close(fd)
    assert min(latencies) >= 0.020
    assert cable.exit_reason == f"end of input {in_r}"


# ---------------------------------------------------------------------- the output queue


def drain_pipe(fd: int, into: bytearray) -> None:
    try:
        while chunk := os.read(fd, 1 << 16):
            into += chunk
    except BlockingIOError:
        pass


def test_the_output_queue_keeps_order_across_partial_and_split_writes() -> None:
    """More chunks than one writev takes, into a pipe smaller than them: every byte arrives
    once, in order, and a left-over is reported as blocked."""
    r, w = _pipe(4096)
    try:
        out = StreamOutput(fd=w)
        blocked: list[StreamOutput] = []
        out.on_blocked = blocked.append
        chunks = [bytes([i % 251]) * (i % 700 + 1) for i in range(3000)]
        for chunk in chunks[:1500]:
            out.raw(chunk)
        for chunk in chunks[1500:]:
            out.raw(memoryview(chunk))
        assert out.queued == sum(map(len, chunks))
        got = bytearray()
        while out.queued:
            out.flush()
            drain_pipe(r, got)
        assert got == b"".join(chunks)
        assert blocked and not out.chunks
    finally:
        os.close(r)
        os.close(w)


def test_frames_beyond_the_output_buffer_are_counted() -> None:
    r, w = _pipe(4096)
    try:
        out = StreamOutput(fd=w)
        for n in range(MAX_PENDING // 1002 + 10):
            out.frame(frame(n, 1000))
        assert out.dropped == 10 and out.queued <= MAX_PENDING
        got = bytearray()
        while out.queued:
            out.flush()
            drain_pipe(r, got)
        decoded: list[bytes] = []
        StreamDecoder().feed(bytes(got), decoded.append)
        assert [number(f) for f in decoded] == list(range(MAX_PENDING // 1002))
    finally:
        os.close(r)
        os.close(w)


async def test_a_parameter_set_while_relaying_applies_to_the_next_frame() -> None:
    """The relay remembers that its direction is transparent; a console command must end that
    at once (the chain's version changes)."""
    async with running_cable(WireFilterModel()) as rig:
        await rig.write(encode(frame(0)))
        await rig.read(1)
        run_command(cast(Any, rig.cable), "delay 30")
        rig.cable.changed()
        sent = time.monotonic()
        await rig.write(encode(frame(1)))
        arrived, got = (await rig.read(2))[-1]
        assert number(got) == 1 and arrived - sent >= 0.030
        run_command(cast(Any, rig.cable), "delay 0")
        await rig.write(encode(frame(2)))
        arrived, got = (await rig.read(3))[-1]
        assert number(got) == 2
        await wait_until(lambda: rig.cable.model.transparent(LR))
