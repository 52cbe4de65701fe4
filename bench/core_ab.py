#!/usr/bin/env python3
"""vdex switch against Debian's vde_switch, side by side: frames/s, echo latency, memory.

Runs the shared harnesses (../shared/bench or $VDE_BENCH) in their A/B mode — vde_switch and vdex
interleaved in one invocation, because this machine is shared and noisy — several times, and
prints a Markdown table of the medians of their per-run ratios, with the targets of the core issue.

    python3 bench/core_ab.py                 # INVOCATIONS=3, each with the harness's RUNS=3
    INVOCATIONS=5 python3 bench/core_ab.py --out bench/results/core.md

Needs root, gcc, libvdeplug-dev and vde2 (contrib/setup.sh --test installs them).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SHARED = os.environ.get("VDE_BENCH", os.path.join(ROOT, "..", "shared", "bench"))
VDEX = os.path.join(ROOT, ".venv", "bin", "vdex")
VDEX_CMD = f"{VDEX} switch -s {{sock}} --nostdin -f /dev/null"


def run_harness(script: str, env: dict[str, str], timeout: int = 400) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        out = f.name
    try:
        full_env = dict(os.environ, SWITCH_CMD="vde_switch -s {sock}", SWITCH_LABEL="vde_switch",
                        SWITCH_CMD2=VDEX_CMD, SWITCH_LABEL2="vdex", JSON=out, **env)
        subprocess.run([sys.executable, os.path.join(SHARED, script)], env=full_env,
                       check=True, timeout=timeout, stdout=subprocess.DEVNULL)
        with open(out) as f:
            return json.load(f)
    finally:
        os.unlink(out)


def med(values: list[float]) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--invocations", type=int, default=int(os.environ.get("INVOCATIONS", 3)))
    parser.add_argument("--out", help="also write the Markdown table to this file")
    args = parser.parse_args()

    pps: dict[str, dict[str, list[float]]] = {}
    lat: dict[str, dict[str, list[float]]] = {}
    mem: dict[str, list[float]] = {}
    absolute: dict[str, list[float]] = {}
    for i in range(args.invocations):
        t0 = time.time()
        r = run_harness("switch_pps.py", {"RUNS": "3"})
        for key, ratios in r["ratios"].items():
            test = key.split()[-1]
            pps.setdefault(test, {"fps": [], "cpu": []})
            pps[test]["fps"].append(ratios["out_fps"])
            pps[test]["cpu"].append(ratios["sw_us_per_in_frame"])
        for label in ("vde_switch", "vdex"):
            for test, row in r["summary"].get(label, {}).items():
                absolute.setdefault(f"{label} {test} out fr/s", []).append(row["out_fps"])
                absolute.setdefault(f"{label} {test} us/frame", []).append(row["sw_us_per_in_frame"])
        r = run_harness("latency.py", {"RUNS": "3", "PLACEMENTS": "one,none"})
        for key, ratios in r["ratios"].items():
            pin = key.split()[-1]
            lat.setdefault(pin, {"p50": [], "p99": []})
            lat[pin]["p50"].append(ratios["p50"])
            lat[pin]["p99"].append(ratios["p99"])
        for label in ("vde_switch", "vdex"):
            for pin, row in r["summary"].get(label, {}).items():
                absolute.setdefault(f"{label} {pin} p50 us", []).append(row["p50_us"])
        r = run_harness("memory.py", {"RUNS": "3"})
        for label in ("vde_switch", "vdex"):
            for ports, row in r["summary"].get(label, {}).items():
                mem.setdefault(f"{label} {ports}", []).append(row["rss_kb"])
                mem.setdefault(f"{label} {ports} anon", []).append(row["anon_kb"])
        print(f"[core_ab] invocation {i + 1}/{args.invocations} done ({time.time() - t0:.0f} s)",
              file=sys.stderr)

    lines = [
        f"Medians over {args.invocations} invocations of the shared harnesses (each the median "
        "of 3 interleaved runs).", "",
        "| test | vdex / vde_switch frames/s | vdex / vde_switch CPU per frame | target |",
        "|---|---|---|---|",
    ]
    for test in ("uni-64", "uni-1514", "bc4-64", "bc4-1514"):
        if test in pps:
            lines.append(f"| {test} | {fmt(med(pps[test]['fps']))}× | "
                         f"{fmt(med(pps[test]['cpu']))}× | ≥ 1.0× frames/s |")
    lines += ["", "| echo latency | p50 ratio | p99 ratio | target |", "|---|---|---|---|"]
    for pin in ("one", "none"):
        if pin in lat:
            lines.append(f"| pin={pin} | {fmt(med(lat[pin]['p50']))}× | "
                         f"{fmt(med(lat[pin]['p99']))}× | p50 ≤ 1.2× |")
    lines += ["", "| resident memory | vde_switch | vdex | target |", "|---|---|---|---|"]
    for ports in ("0", "2", "30"):
        a, b = med(mem.get(f"vde_switch {ports}", [])), med(mem.get(f"vdex {ports}", []))
        aa, ba = med(mem.get(f"vde_switch {ports} anon", [])), med(mem.get(f"vdex {ports} anon", []))
        lines.append(f"| {ports} ports: VmRSS (RssAnon) | {fmt(a and a / 1024, 1)} MB "
                     f"({fmt(aa and aa / 1024, 1)}) | {fmt(b and b / 1024, 1)} MB "
                     f"({fmt(ba and ba / 1024, 1)}) | ≤ 25 MB with 30 ports |")
    lines += ["", "Absolute medians (for orientation only; compare ratios):", ""]
    for key, values in sorted(absolute.items()):
        lines.append(f"* {key}: {fmt(med(values), 1)}")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
