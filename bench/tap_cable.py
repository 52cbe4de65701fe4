#!/usr/bin/env python3
"""TCP and ping through taps: one switch with built-in taps, and two switches joined by a UDP or
VXLAN cable; vdex against vde_switch + vdeplug4, interleaved, with medians and ratios.

    sudo .venv/bin/python bench/tap_cable.py                       # every topology, 3 rounds
    sudo .venv/bin/python bench/tap_cable.py --topos udp --rounds 5 --json out.json

Topologies and what is compared (each row is started fresh in every round; rounds interleave the
variants, A B A B, because this machine is shared and noisy):

    tap     ns1 tap = SW = tap ns2 (taps opened by the switch: vde_switch -t / vdex switch -t)
              vde_switch     vde_switch -t a -t b
              vdex           vdex switch -t a -t b
    udp     ns1 tap = SW_A =udp= SW_B = tap ns2 (the switches' own -t taps)
              vde_plug       two vde_switch -t, joined by a vdeplug4 pair:
                             vde_plug vde://A udp://P->127.0.0.1:Q  +  vde_plug vde://B udp://Q->...
              vdex           two vdex switch -t, each opening the cable itself (rc file:
                             port/connect udp://P->127.0.0.1:Q): no plug processes
              vdex_plug      two vdex switch -t, joined by a vdex plug pair (like vde_plug's)
    vxlan   as udp, with vxlan://127.0.0.2/bind=127.0.0.1 (VNI 42) in each vdex switch; vdeplug4
            cannot put two VXLAN endpoints on one host (no bind), so vdex runs alone, and the row
            is compared with vdex's own udp row.

Every switch and plug runs in a namespace of its own ("core", loopback only: the UDP cable runs on
its 127.0.0.1); the taps are moved into two host namespaces (198.18.0.1 and .2). The script
deletes its namespaces and stops every process it started, on success, error, ^C or SIGTERM.

Measured per run: iperf3 TCP ns1 -> ns2 (--secs, after 1 s omitted), then ping (--pings at
10 ms): min/p50/p99; CPU seconds per second of iperf, summed over the variant's switches and plugs
(/proc/PID/task/*/schedstat).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PYTHON = os.path.join(ROOT, ".venv", "bin", "python")
VDEX = [PYTHON, "-m", "vdex"]
IP1, IP2 = "198.18.0.1", "198.18.0.2"


class Lab:
    """Namespaces and processes of one topology; ``close`` removes all of them."""

    def __init__(self) -> None:
        self.tag = "vb" + secrets.token_hex(3)
        self.namespaces: list[str] = []
        self.procs: list[subprocess.Popen[bytes]] = []
        self.work = tempfile.mkdtemp(prefix="vdex-bench-")

    def netns(self, name: str) -> str:
        full = f"{self.tag}{name}"
        subprocess.run(["ip", "netns", "add", full], check=True)
        self.namespaces.append(full)
        subprocess.run(["ip", "-n", full, "link", "set", "lo", "up"], check=True)
        return full

    def start(self, ns: str, argv: list[str], log: str) -> subprocess.Popen[bytes]:
        out = open(os.path.join(self.work, log + ".log"), "wb")  # noqa: SIM115 (closed by the child's end)
        proc = subprocess.Popen(["ip", "netns", "exec", ns, *argv], stdin=subprocess.PIPE,
                                stdout=out, stderr=out, start_new_session=True)
        out.close()
        self.procs.append(proc)
        return proc

    def wait_for(self, what: str, check: Callable[[], bool], timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if any(p.poll() is not None for p in self.procs):
                dead = [p.args for p in self.procs if p.poll() is not None]
                raise RuntimeError(f"a process died while waiting for {what}: {dead}\n"
                                   + self.logs())
            if time.monotonic() > deadline:
                raise RuntimeError(f"timed out waiting for {what}\n" + self.logs())
            time.sleep(0.02)

    def logs(self) -> str:
        text = []
        for name in sorted(os.listdir(self.work)):
            if name.endswith(".log"):
                with open(os.path.join(self.work, name), errors="replace") as f:
                    text.append(f"--- {name}\n{f.read()[-2000:]}")
        return "\n".join(text)

    def cpu_ns(self) -> int:
        total = 0
        for proc in self.procs:
            for pid in _session_pids(proc.pid):
                try:
                    for task in os.listdir(f"/proc/{pid}/task"):
                        with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                            total += int(f.read().split()[0])
                except OSError:
                    pass
        return total

    def close(self) -> None:
        for proc in reversed(self.procs):
            for sig in (signal.SIGTERM,):
                for pid in _session_pids(proc.pid):
                    try:
                        os.kill(pid, sig)
                    except ProcessLookupError:
                        pass
        deadline = time.monotonic() + 3
        for proc in self.procs:
            try:
                proc.wait(max(0.05, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for proc in self.procs:
            for pid in _session_pids(proc.pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        self.procs.clear()
        for ns in reversed(self.namespaces):
            pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True)
            for pid in pids.stdout.split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        self.namespaces.clear()
        shutil.rmtree(self.work, ignore_errors=True)


def _session_pids(sid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2:].split()[3]) == sid:
                pids.append(int(entry))
    return pids


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


def link_in(ns: str, name: str) -> bool:
    return subprocess.run(["ip", "-n", ns, "link", "show", name],
                          capture_output=True).returncode == 0


# ---------------------------------------------------------------------------- variants


def ref_switch(lab: Lab, core: str, name: str, tap: str) -> str:
    sock = os.path.join(lab.work, name)
    lab.start(core, ["vde_switch", "-s", sock, "-t", tap], name)
    lab.wait_for(f"{name}/ctl", lambda: os.path.exists(os.path.join(sock, "ctl")))
    return sock


def vdex_switch(lab: Lab, core: str, name: str, tap: str, rc: list[str] = (),
                plugins: tuple[str, ...] = ()) -> str:
    sock = os.path.join(lab.work, name)
    rcfile = os.path.join(lab.work, name + ".rc")
    with open(rcfile, "w") as f:
        f.write("".join(line + "\n" for line in rc))
    extra = [a for p in plugins for a in ("-p", p)]
    lab.start(core, [*VDEX, "switch", "-s", sock, "--nostdin", "-f", rcfile, "-t", tap, *extra],
              name)
    lab.wait_for(f"{name}/ctl", lambda: os.path.exists(os.path.join(sock, "ctl")))
    return sock


def build(topo: str, variant: str, lab: Lab, ports: tuple[int, int]) -> tuple[str, str]:
    core, h1, h2 = lab.netns("c"), lab.netns("a"), lab.netns("b")
    ta, tb = f"{lab.tag}ta", f"{lab.tag}tb"
    p, q = ports
    if topo == "tap":
        if variant == "vde_switch":
            sock = os.path.join(lab.work, "sw")
            lab.start(core, ["vde_switch", "-s", sock, "-t", ta, "-t", tb], "sw")
        else:
            sock = os.path.join(lab.work, "sw")
            lab.start(core, [*VDEX, "switch", "-s", sock, "--nostdin", "-f", "/dev/null",
                             "-t", ta, "-t", tb], "sw")
        lab.wait_for("the switch", lambda: os.path.exists(os.path.join(sock, "ctl")))
    elif topo == "udp":
        if variant == "vde_plug":
            a, b = ref_switch(lab, core, "swa", ta), ref_switch(lab, core, "swb", tb)
            lab.start(core, ["vde_plug", f"vde://{a}", f"udp://{p}->127.0.0.1:{q}"], "plug_a")
            lab.start(core, ["vde_plug", f"vde://{b}", f"udp://{q}->127.0.0.1:{p}"], "plug_b")
        elif variant == "vdex":
            vdex_switch(lab, core, "swa", ta, [f"port/connect udp://{p}->127.0.0.1:{q}"], ("udp",))
            vdex_switch(lab, core, "swb", tb, [f"port/connect udp://{q}->127.0.0.1:{p}"], ("udp",))
        elif variant == "vdex_plug":
            a, b = vdex_switch(lab, core, "swa", ta), vdex_switch(lab, core, "swb", tb)
            lab.start(core, [*VDEX, "plug", f"vde://{a}", f"udp://{p}->127.0.0.1:{q}"], "plug_a")
            lab.start(core, [*VDEX, "plug", f"vde://{b}", f"udp://{q}->127.0.0.1:{p}"], "plug_b")
        else:
            raise ValueError(variant)
    elif topo == "vxlan":
        def vx(peer: int, me: int) -> str:
            return f"port/connect vxlan://127.0.0.{peer}/bind=127.0.0.{me}/port={p}/vni=42"

        vdex_switch(lab, core, "swa", ta, [vx(2, 1)], ("vxlan",))
        vdex_switch(lab, core, "swb", tb, [vx(1, 2)], ("vxlan",))
    else:
        raise ValueError(topo)
    lab.wait_for("the taps", lambda: link_in(core, ta) and link_in(core, tb))
    for tap, ns, addr in ((ta, h1, IP1), (tb, h2, IP2)):
        ip("-n", core, "link", "set", tap, "netns", ns)
        ip("-n", ns, "addr", "add", f"{addr}/24", "dev", tap)
        ip("-n", ns, "link", "set", tap, "up")
    for _ in range(100):
        if subprocess.run(["ip", "netns", "exec", h1, "ping", "-c", "1", "-W", "1", IP2],
                          capture_output=True).returncode == 0:
            break
        time.sleep(0.1)
    else:
        raise RuntimeError(f"{topo}/{variant}: no path ns1 -> ns2\n" + lab.logs())
    return h1, h2


# ---------------------------------------------------------------------------- measuring


def measure(lab: Lab, h1: str, h2: str, secs: int, pings: int) -> dict[str, float]:
    server = lab.start(h2, ["iperf3", "-s", "-1", "-p", "5201"], "iperf_server")
    time.sleep(0.3)
    c0, t0 = lab.cpu_ns(), time.monotonic()
    out = subprocess.run(["ip", "netns", "exec", h1, "iperf3", "-c", IP2, "-p", "5201", "-t",
                          str(secs), "-O", "1", "-J"], capture_output=True, text=True,
                         timeout=secs + 30)
    cpu = (lab.cpu_ns() - c0) / 1e9 / (time.monotonic() - t0)
    server.wait(5)
    result: dict[str, float] = {"cpu": cpu}
    try:
        end = json.loads(out.stdout)["end"]
        result["mbps"] = end["sum_received"]["bits_per_second"] / 1e6
        result["retr"] = end["sum_sent"].get("retransmits", 0)
    except (ValueError, KeyError):
        result["mbps"] = float("nan")
    text = subprocess.run(["ip", "netns", "exec", h1, "ping", "-n", "-c", str(pings), "-i",
                           "0.01", "-W", "1", IP2], capture_output=True, text=True).stdout
    rtts = sorted(float(m) * 1000 for m in re.findall(r"time=([0-9.]+) ms", text))
    if rtts:
        result["ping_min"] = rtts[0]
        result["ping_p50"] = statistics.median(rtts)
        result["ping_p99"] = rtts[min(len(rtts) - 1, int(0.99 * (len(rtts) - 1) + 0.5))]
    return result


VARIANTS = {"tap": ["vde_switch", "vdex"], "udp": ["vde_plug", "vdex", "vdex_plug"],
            "vxlan": ["vdex"]}
BASELINE = {"tap": ("vde_switch", "tap"), "udp": ("vde_plug", "udp"), "vxlan": ("vdex", "udp")}


@contextmanager
def terminated_on_signals() -> Iterator[None]:
    def stop(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    old = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--topos", nargs="+", default=["tap", "udp", "vxlan"],
                        choices=sorted(VARIANTS))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--secs", type=int, default=3, help="iperf3 seconds per run")
    parser.add_argument("--pings", type=int, default=200)
    parser.add_argument("--json", help="write every run's figures here")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("needs root (network namespaces, taps)", file=sys.stderr)
        return 1
    runs: list[dict[str, Any]] = []
    print(f"[tap_cable] nproc={os.cpu_count()} load={os.getloadavg()[0]:.2f} "
          f"rounds={args.rounds} iperf={args.secs}s pings={args.pings}")
    with terminated_on_signals():
        for rnd in range(1, args.rounds + 1):
            for topo in args.topos:
                for variant in VARIANTS[topo]:
                    lab = Lab()
                    try:
                        h1, h2 = build(topo, variant, lab, (20000 + rnd * 10, 20001 + rnd * 10))
                        figures = measure(lab, h1, h2, args.secs, args.pings)
                    except Exception as exc:  # report and go on with the other rows
                        print(f"  {topo:6} {variant:10} round {rnd}: FAILED {exc}")
                        continue
                    finally:
                        lab.close()
                    figures.update(topo=topo, variant=variant, round=rnd,
                                   load=os.getloadavg()[0])
                    runs.append(figures)
                    print(f"  {topo:6} {variant:10} round {rnd}: {figures.get('mbps', 0):8.0f} "
                          f"Mbit/s  ping p50 {figures.get('ping_p50', 0):6.0f} us  "
                          f"cpu {figures['cpu']:.2f}  load {figures['load']:.1f}", flush=True)
    report(runs, args.topos)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(runs, f, indent=1)
    return 0


def report(runs: list[dict[str, Any]], topos: list[str]) -> None:
    def med(topo: str, variant: str, key: str) -> float:
        values = [r[key] for r in runs if r["topo"] == topo and r["variant"] == variant
                  and key in r and r[key] == r[key]]
        return statistics.median(values) if values else float("nan")

    print("\nmedians (iperf3 TCP ns1->ns2; ping at 10 ms; cpu = cores used by switches + plugs)")
    print(f"{'topology':9} {'variant':10} {'Mbit/s':>8} {'retr':>7} {'ping min':>9} "
          f"{'p50':>7} {'p99':>7} {'cpu':>6}   ratio to baseline (Mbit/s, ping p50)")
    for topo in topos:
        base_variant, base_topo = BASELINE[topo]
        for variant in VARIANTS[topo]:
            mbps, p50 = med(topo, variant, "mbps"), med(topo, variant, "ping_p50")
            ratio = ""
            if (variant, topo) != (base_variant, base_topo):
                b_mbps, b_p50 = med(base_topo, base_variant, "mbps"), \
                    med(base_topo, base_variant, "ping_p50")
                ratio = (f"x{mbps / b_mbps:.2f}, x{p50 / b_p50:.2f} "
                         f"(vs {base_topo}/{base_variant})")
            print(f"{topo:9} {variant:10} {mbps:8.0f} {med(topo, variant, 'retr'):7.0f} "
                  f"{med(topo, variant, 'ping_min'):9.0f} {p50:7.0f} "
                  f"{med(topo, variant, 'ping_p99'):7.0f} {med(topo, variant, 'cpu'):6.2f}   "
                  f"{ratio}")


if __name__ == "__main__":
    sys.exit(main())
