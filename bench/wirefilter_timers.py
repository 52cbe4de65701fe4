#!/usr/bin/env python3
"""How late a wirefilter deadline fires, and what it costs, under each way of driving the timer.

The cable runs on the host loop (trio as the dataplane's guest). Its deadlines could stay with a
trio task (``DeadlineWaiter``: a timerfd awaited through trio, which in guest mode waits in
trio's I/O thread and hands each wake-up over to the host loop) or sit in the dataplane's epoll
set (``HostTimer``: a timerfd whose handler runs synchronously). This measures both, and the
trio task under a plain ``trio.run`` (the cable before the host loop):

* ``N`` deadlines, each 1.5 to 4.5 ms after the previous one fired (random, seeded);
* lateness = the time the callback saw minus the deadline (never negative: both spin on the
  clock for the last part), as percentiles;
* CPU of the whole process per deadline (``getrusage``), the spin included.

    python3 bench/wirefilter_timers.py         # ROUNDS=5 N=500
"""

from __future__ import annotations

import os
import random
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import trio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vdex.runtime.dataplane import Dataplane  # noqa: E402
from vdex.runtime.hostloop import run_hosted  # noqa: E402
from vdex_plugins.wirefilter._timer import DeadlineWaiter, HostTimer  # noqa: E402

ROUNDS = int(os.environ.get("ROUNDS", "5"))
N = int(os.environ.get("N", "500"))
GAP = 0.003


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def waiter_run(late: list[float]) -> None:
    waiter = DeadlineWaiter()
    rng = random.Random(1)
    for _ in range(N):
        deadline = trio.current_time() + GAP * rng.uniform(0.5, 1.5)
        await waiter.wait(deadline)
        late.append(trio.current_time() - deadline)
    waiter.close()


def trio_task(hosted: bool) -> list[float]:
    late: list[float] = []
    if hosted:
        run_hosted(lambda: waiter_run(late), Dataplane())
    else:
        trio.run(waiter_run, late)
    return late


def host_timer() -> list[float]:
    late: list[float] = []
    dataplane = Dataplane()
    rng = random.Random(1)

    async def main() -> None:
        done = trio.Event()
        deadline = time.monotonic() + GAP

        def due(now: float) -> None:
            nonlocal deadline
            late.append(now - deadline)
            if len(late) == N:
                done.set()
                return
            deadline = time.monotonic() + GAP * rng.uniform(0.5, 1.5)
            timer.arm(deadline)

        timer = HostTimer(on_due=due)
        dataplane.add_reader(timer.fileno(), timer.on_readable)
        timer.arm(deadline)
        await done.wait()
        dataplane.remove_reader(timer.fileno())
        timer.close()

    run_hosted(main, dataplane)
    return late


def main() -> int:
    drivers: dict[str, Callable[[], list[float]]] = {
        "trio task, trio.run (before)": lambda: trio_task(False),
        "trio task, host loop guest": lambda: trio_task(True),
        "HostTimer in the dataplane": host_timer,
    }
    rows: dict[str, list[tuple[float, ...]]] = {name: [] for name in drivers}
    for _ in range(ROUNDS):
        for name, run in drivers.items():
            start = cpu()
            late = sorted(x * 1e6 for x in run())
            spent = (cpu() - start) / N * 1e6
            rows[name].append((late[len(late) // 2], late[int(len(late) * 0.9)],
                               late[int(len(late) * 0.99)], spent))
    print(f"lateness (us) and CPU per deadline (us), medians of {ROUNDS} rounds of {N}")
    print(f"{'':30} {'p50':>7} {'p90':>7} {'p99':>7} {'CPU':>7}")
    for name, values in rows.items():
        cols = [statistics.median(c) for c in zip(*values, strict=True)]
        print(f"{name:30}" + "".join(f" {c:7.1f}" for c in cols))
    return 0


if __name__ == "__main__":
    sys.exit(main())
