#!/usr/bin/env python3
"""slirp through a switch, vdex against VDE: TCP download from an HTTP server, interleaved A/B.

The path is the same for every variant: an HTTP server (busybox httpd, C, sendfile) on the slirp
namespace's 127.0.0.1 serves a file; a client in a guest namespace fetches it through 10.0.2.2;
the guest's interface is a tap made by vdeplug4's ``vde_plug vde://SW tap://NAME`` (C, the same
program for every variant). What differs is the switch and the slirp:

    vde         Debian's vde_switch + Debian's slirpvde -s SW        (the reference)
    vdex        vdex switch + vdex slirp -s SW                       (the issue's comparison)
    vdex-inside vdex switch -p slirp with slirp/add in its rc file   (no slirp process)

Every run builds fresh namespaces (the slirp one holds only ``lo``, its resolv.conf points at
its loopback) and removes them afterwards; the variants are interleaved, one run each per round,
so that drifts in the machine's load hit them alike. Per run: MB/s of a SIZE MB download, CPU
seconds per 100 MB of the switch and slirp processes together, and the round-trip time of
64-byte TCP request/response pairs. Reported: medians, and the ratio of the vdex variants' MB/s
to vde's per round (median of the per-round ratios).

    python3 bench/slirp/switch_ab.py --size 200 --rounds 7 vde vdex vdex-inside
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
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "tests" / "vdex_plugins" / "slirp"))

from slirp_lab import PYTHON, Namespace, read_line, stop_process, unique, wait_for  # noqa: E402
from slirp_switch_lab import Session, assert_only_loopback  # noqa: E402

VDEX = [PYTHON, "-m", "vdex"]
HTTP_PORT = 8000
ECHO_PORT = 9000

ECHO_SERVER = f"""
import socket
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", {ECHO_PORT}))
srv.listen()
print("READY", flush=True)
while True:
    conn, _ = srv.accept()
    with conn:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while data := conn.recv(64):
            conn.sendall(data)
"""

DOWNLOAD = f"""
import json, socket, sys, time
path = sys.argv[1]
with socket.create_connection(("10.0.2.2", {HTTP_PORT}), timeout=60) as conn:
    start = time.monotonic()
    conn.sendall(f"GET /{{path}} HTTP/1.0\\r\\nHost: 10.0.2.2\\r\\n\\r\\n".encode())
    buf = bytearray(1 << 20)
    got = 0
    while k := conn.recv_into(buf):
        got += k
    seconds = time.monotonic() - start
print(json.dumps({{"bytes": got, "seconds": seconds}}))
"""

ROUND_TRIPS = f"""
import json, socket, sys, time
count = int(sys.argv[1])
with socket.create_connection(("10.0.2.2", {ECHO_PORT}), timeout=60) as conn:
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    message = b"x" * 64
    start = time.monotonic()
    for _ in range(count):
        conn.sendall(message)
        got = 0
        while got < len(message):
            got += len(conn.recv(64))
    seconds = time.monotonic() - start
print(json.dumps({{"round_trip_us": seconds / count * 1e6}}))
"""

VARIANTS = ("vde", "vdex", "vdex-inside")


def cpu_seconds(pid: int) -> float:
    """User + system time of ``pid`` and its waited-for children."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def one_run(variant: str, size: int) -> dict[str, float]:
    with contextlib.ExitStack() as stack:
        tmp = Path(tempfile.mkdtemp(prefix="vxab-", dir="/tmp"))
        stack.callback(subprocess.run, ["rm", "-rf", str(tmp)])
        www = tmp / "www"
        www.mkdir()
        with open(www / "blob.bin", "wb") as blob:
            blob.truncate(size)  # sparse: the page cache serves zeros, the disk is not involved
        slirp_ns = Namespace(unique("vxab-"), resolv_conf="nameserver 127.0.0.1\n")
        stack.callback(slirp_ns.delete)
        guest = Namespace(unique("vxabg-"))
        stack.callback(guest.delete)
        httpd = subprocess.Popen(slirp_ns.argv("busybox", "httpd", "-f", "-p",
                                               f"127.0.0.1:{HTTP_PORT}", "-h", str(www)),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        stack.callback(stop_process, httpd)
        echo = subprocess.Popen(slirp_ns.argv(PYTHON, "-c", ECHO_SERVER), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        stack.callback(stop_process, echo)
        assert read_line(echo, 10) == "READY"
        sw = tmp / "sw"
        pids = []
        if variant == "vde":
            switch = Session(stack, slirp_ns.argv("vde_switch", "-s", sw))
            wait_for(lambda: (sw / "ctl").exists(), what="vde_switch")
            slirp = Session(stack, slirp_ns.argv("slirpvde", "-q", "-s", sw))
            pids = [switch.pid, slirp.pid]
        elif variant == "vdex":
            switch = Session(stack, slirp_ns.argv(*VDEX, "switch", "-s", sw, "--nostdin",
                                                  "-f", os.devnull))
            wait_for(lambda: (sw / "ctl").exists(), what="vdex switch")
            slirp = Session(stack, slirp_ns.argv(*VDEX, "slirp", "-q", "-s", sw))
            pids = [switch.pid, slirp.pid]
        else:
            rc = tmp / "rc"
            rc.write_text("slirp/add\n")
            switch = Session(stack, slirp_ns.argv(*VDEX, "switch", "-s", sw, "--nostdin",
                                                  "-p", "slirp", "-f", rc))
            wait_for(lambda: (sw / "ctl").exists(), what="vdex switch")
            pids = [switch.pid]
        assert_only_loopback(slirp_ns)
        tap = unique("vxabt")
        plug = Session(stack, guest.argv("vde_plug", f"vde://{sw}", f"tap://{tap}"))
        wait_for(lambda: tap in guest.interfaces() or not plug.alive(), what="the guest tap")
        guest.ip("link", "set", tap, "up")
        guest.ip("addr", "add", "10.0.2.15/24", "dev", tap)
        guest.ip("route", "add", "default", "via", "10.0.2.2")
        wait_for(lambda: guest.run("busybox", "ping", "-c", "1", "-W", "1", "10.0.2.2",
                                   check=False).returncode == 0,
                 timeout=20, what="the guest to reach 10.0.2.2")
        guest.run(PYTHON, "-c", DOWNLOAD, "blob.bin", timeout=600)  # warm-up (page cache)
        cpu_before = sum(cpu_seconds(pid) for pid in pids)
        done = guest.run(PYTHON, "-c", DOWNLOAD, "blob.bin", timeout=600)
        cpu = sum(cpu_seconds(pid) for pid in pids) - cpu_before
        result = json.loads(done.stdout)
        assert result["bytes"] > size, result  # the file and the HTTP header
        rr = json.loads(guest.run(PYTHON, "-c", ROUND_TRIPS, "2000", timeout=120).stdout)
        mb = size / 1e6
        return {"mb_per_s": mb / result["seconds"], "cpu_s_per_100mb": cpu / mb * 100,
                "round_trip_us": rr["round_trip_us"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("variants", nargs="*", choices=[*VARIANTS, []],
                        help=f"default: {' '.join(VARIANTS)}")
    parser.add_argument("--size", type=int, default=200, help="MB per download")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--json", metavar="FILE", help="also write every run to FILE")
    args = parser.parse_args()
    args.variants = args.variants or list(VARIANTS)
    if os.geteuid() != 0:
        sys.exit("needs root (network namespaces)")
    results: dict[str, list[dict[str, float]]] = {v: [] for v in args.variants}
    for round_no in range(args.rounds):
        for variant in args.variants:
            run = one_run(variant, args.size * 1_000_000)
            results[variant].append(run)
            print(f"round {round_no + 1} {variant:12} {run['mb_per_s']:7.1f} MB/s "
                  f"{run['cpu_s_per_100mb']:5.2f} CPU s/100MB {run['round_trip_us']:6.0f} us",
                  file=sys.stderr, flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    print("| variant | MB/s median | min | max | CPU s per 100 MB | 64-byte TCP round trip "
          "| MB/s vs vde (median of per-round ratios) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for variant, runs in results.items():
        speeds = [r["mb_per_s"] for r in runs]
        cpu = statistics.median(r["cpu_s_per_100mb"] for r in runs)
        rr = statistics.median(r["round_trip_us"] for r in runs)
        ratio = ""
        if "vde" in results and variant != "vde":
            ratio = f"{statistics.median(a['mb_per_s'] / b['mb_per_s'] for a, b in zip(runs, results['vde'], strict=True)):.2f}"  # noqa: E501
        print(f"| {variant} | {statistics.median(speeds):.1f} | {min(speeds):.1f} | "
              f"{max(speeds):.1f} | {cpu:.2f} | {rr:.0f} us | {ratio} |")


if __name__ == "__main__":
    main()
