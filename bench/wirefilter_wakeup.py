#!/usr/bin/env python3
"""What one wake-up of a cable filter costs: vdex wirefilter, Debian's wirefilter, and the least
a filter can be (bench/wirefilter_floor/: relay.c and relay.py, epoll + read + write).

Two measures, each tool in turn (A B C ..., ``ROUNDS`` times, medians):

1. **Per wake-up**: the filter between two pipes, unimpaired; the benchmark writes K records of
   SIZE bytes at once, waits for them at the other end, sleeps 0.5 ms, ``WAKES`` times. CPU time
   of the filter (every thread, /proc/PID/task/*/schedstat) divided by the wake-ups: what a
   filter costs when few frames arrive per wake-up (an interactive guest, TCP's ACK clocking).
   The process sleeps between batches, so every wake-up starts cold, as in a real cable.
2. **Bulk** (``BULK=1``): ``cat FILE FILE FILE FILE FILE | FILTER | dd of=/dev/null``, 1 000 000
   records of 1514 bytes and 10 000 000 of 64 bytes: frames/s and CPU per frame when every read
   is full (start-up included, about 0.1 s of Python).

    python3 bench/wirefilter_wakeup.py                  # ROUNDS=5 WAKES=1500
    VDEX_BEFORE=/tmp/old python3 bench/wirefilter_wakeup.py   # and an older vdex tree
    CASES=1x64,4x1514 BULK=1 python3 bench/wirefilter_wakeup.py

Needs gcc (for relay.c) and Debian's vde2 (wirefilter).
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "vdex_plugins" / "wirefilter"))

from wf_lab import PYTHON, FilterProcess, RecordReader, write_records  # noqa: E402

ROUNDS = int(os.environ.get("ROUNDS", "5"))
WAKES = int(os.environ.get("WAKES", "1500"))
CASES = [tuple(int(x) for x in case.split("x"))
         for case in os.environ.get("CASES", "1x64,1x1514,4x1514,40x1514").split(",")]
FLOOR = REPO / "bench" / "wirefilter_floor"


def build_relay() -> str:
    out = Path(tempfile.gettempdir()) / "vdex-bench-wirefilter-relay"
    subprocess.run(["gcc", "-O2", "-o", str(out), str(FLOOR / "relay.c")], check=True)
    return str(out)


def tools() -> dict[str, list[str]]:
    found = {
        "wirefilter": ["wirefilter"],
        "c-relay": [build_relay()],
        "py-relay": [PYTHON, str(FLOOR / "relay.py")],
        "vdex": [PYTHON, "-m", "vdex_plugins.wirefilter"],
    }
    if os.environ.get("VDEX_BEFORE"):
        before = os.path.abspath(os.environ["VDEX_BEFORE"])
        found["before"] = ["env", f"PYTHONPATH={before}", PYTHON, "-m", "vdex_plugins.wirefilter"]
    return found


def frame(n: int, size: int) -> bytes:
    return (b"\xff" * 6 + b"\x02\x00\x00\x00\x00\x01" + b"\x88\xb5" + n.to_bytes(4, "big")
            + bytes(size - 18))


def cpu_seconds(pid: int) -> float:
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/schedstat") as f:
            total += int(f.read().split()[0])
    return total / 1e9


def per_wake(argv: list[str], k: int, size: int) -> float:
    """CPU µs per wake-up of the filter ``argv`` fed K records of SIZE bytes at a time."""
    wf = FilterProcess.start(argv)
    try:
        reader = RecordReader(wf.lr_out)
        write_records(wf.lr_in, [frame(0, size)])
        assert reader.read(1, 30), "the filter did not start"
        time.sleep(0.3)
        pid = wf.proc.pid  # env and the filters exec: the pid is the filter's
        before = cpu_seconds(pid)
        batch = [frame(i, size) for i in range(k)]
        for _ in range(WAKES):
            time.sleep(0.0005)
            write_records(wf.lr_in, batch)
            assert len(reader.read(k, 10)) == k, "frames were lost"
        return (cpu_seconds(pid) - before) / WAKES * 1e6
    finally:
        wf.close()


def bulk(argv: list[str], path: str, frames: int) -> tuple[float, float]:
    """(frames/s, CPU µs per frame) of ``cat path x5 | argv | dd of=/dev/null``."""
    cat = subprocess.Popen(["cat", path, path, path, path, path], stdout=subprocess.PIPE)
    started = time.monotonic()
    filt = subprocess.Popen(argv, stdin=cat.stdout, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, cwd=str(REPO))
    assert cat.stdout is not None and filt.stdout is not None
    cat.stdout.close()
    sink = subprocess.Popen(["dd", "of=/dev/null", "bs=1M", "status=none"], stdin=filt.stdout)
    filt.stdout.close()
    _pid, _status, usage = os.wait4(filt.pid, 0)
    wall = time.monotonic() - started
    sink.wait()
    cat.wait()
    return 5 * frames / wall, (usage.ru_utime + usage.ru_stime) / (5 * frames) * 1e6


def interleaved(run: Callable[[list[str]], float], all_tools: dict[str, list[str]]
                ) -> dict[str, float]:
    results: dict[str, list[float]] = {name: [] for name in all_tools}
    for _ in range(ROUNDS):
        for name, argv in all_tools.items():
            results[name].append(run(argv))
    return {name: statistics.median(values) for name, values in results.items()}


def main() -> int:
    for tool in ("wirefilter", "gcc"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is required")
    all_tools = tools()
    names = list(all_tools)
    print(f"CPU per wake-up (us), medians of {ROUNDS} interleaved rounds of {WAKES} wake-ups")
    print(f"{'records x bytes':16}" + "".join(f" {n:>11}" for n in names))
    for k, size in CASES:
        med = interleaved(partial(per_wake, k=k, size=size), all_tools)
        print(f"{f'{k} x {size}':16}" + "".join(f" {med[n]:11.1f}" for n in names), flush=True)
    if os.environ.get("BULK"):
        with tempfile.TemporaryDirectory() as tmp:
            for size, count in ((1514, 200_000), (64, 2_000_000)):
                path = os.path.join(tmp, f"r{size}")
                with open(path, "wb") as f:
                    f.write((size.to_bytes(2, "big") + bytes(size)) * count)
                rates: dict[str, list[tuple[float, float]]] = {n: [] for n in names}
                for _ in range(ROUNDS):
                    for name, argv in all_tools.items():
                        rates[name].append(bulk(argv, path, count))
                print(f"bulk {size} B: " + ", ".join(
                    f"{n} {statistics.median(r[0] for r in v) / 1e3:.0f} kframes/s "
                    f"{statistics.median(r[1] for r in v):.2f} us/frame"
                    for n, v in rates.items()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
