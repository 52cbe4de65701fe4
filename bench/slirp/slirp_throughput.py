#!/usr/bin/env python3
"""TCP download throughput through slirp, guest <- slirp <- host loopback, all in namespaces.

A server on the slirp namespace's 127.0.0.1:9000 sends N bytes; a client in the guest namespace
fetches them through 10.0.2.2 and times it. The slirp side is one of:

    epoll-tap      vdex bridge, option (a), on a tap moved into the guest namespace
    thread-tap     the threaded variant, option (b), same path
    epoll-vde      vdex bridge on a Debian vde_switch port (libvdeplug), guest on vde_plug2tap
    thread-vde     the threaded variant, same path
    slirpvde-vde   Debian's slirpvde on the same vde_switch, guest on vde_plug2tap

Each run builds fresh namespaces (the slirp one holds only ``lo``) and removes them afterwards.
Reports MB/s, the slirp process's CPU seconds per 100 MB and the round-trip time of 64-byte
TCP request/response pairs (the per-frame latency of the path), medians of the runs.

    python3 bench/slirp/slirp_throughput.py --size 300 --runs 5 epoll-tap thread-tap
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "tests" / "vdex_plugins" / "slirp"))

from slirp_lab import (  # noqa: E402
    PYTHON,
    Namespace,
    read_line,
    stop_process,
    unique,
    wait_for,
)

SOURCE = """
import socket
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 9000))
srv.listen()
print("READY", flush=True)
chunk = memoryview(bytes(1 << 20))
while True:
    conn, _ = srv.accept()
    with conn:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        request = conn.recv(64).split()[0]
        if request == b"echo":
            conn.sendall(b"ok")
            while data := conn.recv(64):
                conn.sendall(data)
            continue
        left = int(request)
        while left > 0:
            left -= conn.send(chunk[: min(left, len(chunk))])
"""

ROUND_TRIPS = """
import json, socket, sys, time
count = int(sys.argv[1])
with socket.create_connection(("10.0.2.2", 9000), timeout=60) as conn:
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    conn.sendall(b"echo\\n")
    assert conn.recv(2) == b"ok"
    message = b"x" * 64
    start = time.monotonic()
    for _ in range(count):
        conn.sendall(message)
        got = 0
        while got < len(message):
            got += len(conn.recv(64))
    seconds = time.monotonic() - start
print(json.dumps({"round_trip_us": seconds / count * 1e6}))
"""

CLIENT = """
import json, socket, sys, time
size = int(sys.argv[1])
with socket.create_connection(("10.0.2.2", 9000), timeout=60) as conn:
    start = time.monotonic()
    conn.sendall(f"{size}\\n".encode())
    buf = bytearray(1 << 20)
    got = 0
    while k := conn.recv_into(buf):
        got += k
    seconds = time.monotonic() - start
print(json.dumps({"bytes": got, "seconds": seconds}))
"""


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one_run(mode: str, size: int) -> dict[str, float]:
    bridge, path = mode.split("-")
    with contextlib.ExitStack() as stack:
        tmp = Path(tempfile.mkdtemp(prefix="vdex-slirp-bench-"))
        stack.callback(subprocess.run, ["rm", "-rf", str(tmp)])
        slirp_ns = Namespace(unique("vxbs-"), resolv_conf="nameserver 127.0.0.1\n")
        stack.callback(slirp_ns.delete)
        guest = Namespace(unique("vxbg-"))
        stack.callback(guest.delete)
        source = subprocess.Popen(slirp_ns.argv(PYTHON, "-c", SOURCE), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)  # fmt: skip
        stack.callback(stop_process, source)
        assert read_line(source, 10) == "READY"
        tap = unique("vxbt")
        host_argv = [PYTHON, HERE / "bench_host.py", "--netns", slirp_ns.name]
        if path == "vde":
            switch_dir = tmp / "sw"
            switch = subprocess.Popen(slirp_ns.argv("vde_switch", "-s", switch_dir),
                                      stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL)  # fmt: skip
            stack.callback(stop_process, switch)
            wait_for(lambda: (switch_dir / "ctl").exists(), what="vde_switch")
            if bridge == "slirpvde":
                slirp = subprocess.Popen(slirp_ns.argv("slirpvde", "-q", "-s", switch_dir),
                                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.PIPE, text=True)  # fmt: skip
            else:
                slirp = subprocess.Popen(
                    slirp_ns.argv(*host_argv, "--bridge", bridge, "--vde", switch_dir),
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                    text=True,
                )  # fmt: skip
                assert read_line(slirp, 10) == "READY"
            stack.callback(stop_process, slirp)
            plug = subprocess.Popen(guest.argv("vde_plug2tap", "-s", switch_dir, tap),
                                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE)  # fmt: skip
            stack.callback(stop_process, plug)
            wait_for(lambda: tap in guest.interfaces(), what="vde_plug2tap's tap")
        else:
            slirp = subprocess.Popen(
                slirp_ns.argv(*host_argv, "--bridge", bridge, "--tap", tap, "--to", guest.name),
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )  # fmt: skip
            stack.callback(stop_process, slirp)
            assert read_line(slirp, 10) == "READY"
        guest.ip("link", "set", tap, "up")
        guest.ip("addr", "add", "10.0.2.15/24", "dev", tap)
        guest.ip("route", "add", "default", "via", "10.0.2.2")
        wait_for(
            lambda: guest.run("busybox", "ping", "-c", "1", "-W", "1", "10.0.2.2",
                              check=False).returncode == 0,
            timeout=15, what="the guest to reach 10.0.2.2",
        )  # fmt: skip
        guest.run(PYTHON, "-c", CLIENT, str(1 << 20), timeout=60)  # warm-up
        cpu_before = cpu_seconds(slirp.pid)
        done = guest.run(PYTHON, "-c", CLIENT, str(size), timeout=600)
        cpu = cpu_seconds(slirp.pid) - cpu_before
        result = json.loads(done.stdout)
        assert result["bytes"] == size, result
        mb = size / 1e6
        rr = json.loads(guest.run(PYTHON, "-c", ROUND_TRIPS, "2000", timeout=120).stdout)
        return {
            "mb_per_s": mb / result["seconds"],
            "cpu_s_per_100mb": cpu / mb * 100,
            "round_trip_us": rr["round_trip_us"],
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modes", nargs="+", choices=["epoll-tap", "thread-tap", "epoll-vde",
                                                     "thread-vde", "slirpvde-vde"])  # fmt: skip
    parser.add_argument("--size", type=int, default=200, help="MB per download")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("needs root (network namespaces)")
    results: dict[str, list[dict[str, float]]] = {mode: [] for mode in args.modes}
    for _ in range(args.runs):  # interleave the modes so drifts in machine load hit all alike
        for mode in args.modes:
            results[mode].append(one_run(mode, args.size * 1_000_000))
            time.sleep(0.2)
    print(f"{'mode':14} {'MB/s median':>12} {'min':>8} {'max':>8} {'CPU s/100MB':>12} "
          f"{'TCP RR us':>10}")  # fmt: skip
    for mode, runs in results.items():
        speeds = [r["mb_per_s"] for r in runs]
        cpu = statistics.median(r["cpu_s_per_100mb"] for r in runs)
        rr = statistics.median(r["round_trip_us"] for r in runs)
        print(f"{mode:14} {statistics.median(speeds):12.1f} {min(speeds):8.1f} "
              f"{max(speeds):8.1f} {cpu:12.2f} {rr:10.0f}")  # fmt: skip


if __name__ == "__main__":
    main()
