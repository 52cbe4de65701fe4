"""The dataplane-driven timer of the cable (HostTimer): never early, within microseconds of the
deadline when the wake-up is on time, re-armed only for an earlier deadline, disarmable.

Real timerfds and the real monotonic clock: the checks are "not before" (exact) and "not much
after" (a loaded machine's tolerance); the benchmark measures the precision.
"""

from __future__ import annotations

import math
import select
import time

import trio

from vdex.runtime.dataplane import Dataplane
from vdex_plugins.wirefilter._timer import MAX_SPIN, HostTimer


def wait_readable(fd: int, timeout: float) -> bool:
    ready, _, _ = select.select([fd], [], [], timeout)
    return bool(ready)


def test_fires_at_the_deadline_never_before() -> None:
    fired: list[float] = []
    timer = HostTimer(on_due=fired.append)
    try:
        for delay in (0.002, 0.010, 0.030):
            deadline = time.monotonic() + delay
            timer.arm(deadline)
            assert timer.armed == deadline
            assert wait_readable(timer.fileno(), 5)
            timer.on_readable()
            assert len(fired) == 1 and fired[0] >= deadline
            assert time.monotonic() - deadline < 0.5
            assert timer.armed == math.inf
            fired.clear()
        assert timer.fires == 3
        assert 0.0 <= timer.lead <= MAX_SPIN
    finally:
        timer.close()


def test_a_deadline_already_past_fires_at_once() -> None:
    fired: list[float] = []
    timer = HostTimer(on_due=fired.append)
    try:
        timer.arm(time.monotonic() - 1.0)
        assert wait_readable(timer.fileno(), 1)
        timer.on_readable()
        assert len(fired) == 1
    finally:
        timer.close()


def test_only_an_earlier_deadline_rearms() -> None:
    fired: list[float] = []
    timer = HostTimer(on_due=fired.append)
    try:
        now = time.monotonic()
        timer.arm(now + 60)
        timer.wake_if_earlier(now + 120)
        assert timer.armed == now + 60
        timer.wake_if_earlier(None)
        assert timer.armed == now + 60
        timer.wake_if_earlier(now + 0.005)
        assert timer.armed == now + 0.005
        assert wait_readable(timer.fileno(), 5)
        timer.on_readable()
        assert fired and fired[0] >= now + 0.005
    finally:
        timer.close()


def test_disarmed_timer_stays_quiet() -> None:
    fired: list[float] = []
    timer = HostTimer(on_due=fired.append)
    try:
        timer.arm(time.monotonic() + 0.005)
        timer.arm(None)
        assert timer.armed == math.inf
        assert not wait_readable(timer.fileno(), 0.05)
        timer.on_readable()  # a stray call (a stale readiness report) does nothing
        assert fired == []
    finally:
        timer.close()


def test_a_stale_expiry_for_a_moved_deadline_waits_for_the_new_one() -> None:
    """The timerfd fired for an old deadline, then the deadline moved later before the handler
    ran: the handler re-arms instead of running early."""
    fired: list[float] = []
    timer = HostTimer(on_due=fired.append)
    try:
        timer.arm(time.monotonic())
        assert wait_readable(timer.fileno(), 1)
        later = time.monotonic() + 0.02
        timer.armed = later  # as if re-armed after the expiry was reported
        timer.on_readable()
        assert fired == [] and timer.armed == later
        assert wait_readable(timer.fileno(), 5)
        timer.on_readable()
        assert fired and fired[0] >= later
    finally:
        timer.close()


async def test_driven_by_a_dataplane() -> None:
    fired = trio.Event()
    times: list[float] = []

    def due(now: float) -> None:
        times.append(now)
        fired.set()

    timer = HostTimer(on_due=due)
    dataplane = Dataplane()
    async with trio.open_nursery() as nursery:
        await nursery.start(dataplane.run)
        dataplane.add_reader(timer.fileno(), timer.on_readable)
        deadline = time.monotonic() + 0.02
        timer.arm(deadline)
        with trio.fail_after(5):
            await fired.wait()
        assert times[0] >= deadline
        dataplane.remove_reader(timer.fileno())
        timer.close()
        nursery.cancel_scope.cancel()
