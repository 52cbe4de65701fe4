#!/usr/bin/env python3
"""Forwarding frames/s with the VLAN and FSTP plugins, against vdex without them and vde_switch.

    python3 bench/vlan_fstp_pps.py            # RUNS=5 SECS=2 SIZE=64
    python3 bench/vlan_fstp_pps.py --json out.json

Uses the shared benchmark kit (../shared/bench: benchlib.py, the vdebench.c load generator): a
blocking ``vdebench send`` process on one port and a ``vdebench recv`` process on another, so the
sender goes exactly as fast as the path lets it; frames/s = frames received / send time.

Topologies (each for vdex and for vde_switch, configured by an rc file):

* ``plain``: one switch, two untagged ports in VLAN 0. vdex with ``-p no:vlan -p no:fstp``.
* ``vlan``: one switch, both ports untagged in VLAN 10 (the VLAN plugin loaded, no tag on the way).
* ``tagout``: one switch, sender untagged in VLAN 10, receiver a trunk (tagged member of 10):
  every frame gets a tag added.
* ``fstp``: ``plain`` with FSTP on (``-F``), a stable topology.
* ``cable`` / ``trunk``: two switches joined by a ``dpipe vde_plug = vde_plug`` cable, sender on
  one, receiver on the other. ``cable``: untagged, vdex without plugins. ``trunk``: sender and
  receiver untagged in VLAN 10, the cable a trunk carrying VLAN 10 tagged (a tag added on one
  switch, removed on the other).

The runs are interleaved (every configuration once, then again), and medians are reported, as
ratios to ``plain`` (or ``cable``) of the same switch and vdex/vde_switch for the same topology.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.environ.get("VDE_BENCH_DIR") or os.path.join(HERE, "..", "..", "shared", "bench")
sys.path.insert(0, SHARED)
import benchlib as B  # noqa: E402

PY = sys.executable
ROOT = os.path.dirname(HERE)
VDEX = f"cd {ROOT} && exec {PY} -m vdex switch"
SENDER, RECEIVER = 1, 2
CABLE_PORT = 5

RC = {
    "plain": "",
    "vlan": "vlan/create 10\nport/create 1\nport/setvlan 1 10\nport/create 2\nport/setvlan 2 10\n",
    "tagout": "vlan/create 10\nport/create 1\nport/setvlan 1 10\nport/create 2\n"
              "vlan/addport 10 2\nport/setvlan 2 4095\n",
    "fstp": "",
    "cable": "",
    "trunk": f"vlan/create 10\nport/create 1\nport/setvlan 1 10\nport/create 2\n"
             f"port/setvlan 2 10\nport/create {CABLE_PORT}\nvlan/addport 10 {CABLE_PORT}\n"
             f"port/setvlan {CABLE_PORT} 4095\n",
}
TWO_SWITCHES = ("cable", "trunk")


def switch_cmd(kind: str, topo: str, rc: str) -> str:
    if kind == "vde":
        extra = " -F" if topo == "fstp" else ""
        return f"vde_switch -s {{sock}} -f {rc}{extra}"
    plugins = {"plain": " -p no:vlan -p no:fstp", "cable": " -p no:vlan -p no:fstp",
               "fstp": " -p no:vlan -F"}.get(topo, " -p no:fstp")
    return f"{VDEX} -s {{sock}} -f {rc} -p no:tap{plugins}"


def one_run(exe: str, kind: str, topo: str, size: int, secs: float) -> dict[str, float]:
    d = B.mktemp("vlanbench.")
    rc = os.path.join(d, "rc")
    with open(rc, "w") as f:
        f.write(RC[topo])
    cmd = switch_cmd(kind, topo, rc)
    switches = [B.Switch(cmd, label=f"{kind}-{topo}")]
    procs = []
    try:
        if topo in TWO_SWITCHES:
            switches.append(B.Switch(cmd, label=f"{kind}-{topo}-2"))
            a, b = switches[0].sock, switches[1].sock
            cable = B.spawn(["bash", "-c", f"dpipe vde_plug {a}[{CABLE_PORT}] = "
                                           f"vde_plug {b}[{CABLE_PORT}]; exit $?"])
            procs.append(cable)
            for sw in switches:
                B_wait_port(sw.sock, CABLE_PORT)
        rx_sock = switches[-1].sock
        recv = B.spawn([exe, "recv", f"{rx_sock}[{RECEIVER}]", "02:00:00:00:00:02"])
        procs.append(recv)
        assert recv.stderr is not None
        line = recv.stderr.readline()
        if "READY" not in line:
            raise RuntimeError(f"receiver did not start: {line}")
        time.sleep(0.2)  # the hello is learnt
        send = B.spawn([exe, "send", f"{switches[0].sock}[{SENDER}]", str(size), str(secs),
                        "02:00:00:00:00:02", "02:00:00:00:00:01"])
        procs.append(send)
        rc_s, out_s, err_s = B.finish(send, secs + 20)
        if rc_s != 0:
            raise RuntimeError(f"sender failed: {err_s}")
        sent = json.loads(out_s.strip().splitlines()[-1])
        time.sleep(0.3)
        recv.send_signal(signal.SIGUSR1)
        rc_r, out_r, _ = B.finish(recv, 10)
        got = json.loads(out_r.strip().splitlines()[-1])
        received = got["frames"] + got["other"]
        for sw in switches:
            if not sw.alive():
                raise RuntimeError("switch died:\n" + sw.log_tail())
        return {"fps": received / sent["secs"], "sent": sent["sent"], "received": received}
    finally:
        for p in procs:
            B._kill_group(p)
        for sw in switches:
            sw.stop()


def B_wait_port(sock: str, port: int, timeout: float = 10.0) -> None:
    """Wait until the cable holds ``port``: its data socket file ``NNN.F`` shows up (vdex and
    vde_switch both name endpoints so)."""
    end = time.time() + timeout
    while time.time() < end:
        if any(name.startswith(f"{port:03d}.") for name in os.listdir(sock)):
            return
        time.sleep(0.02)
    raise RuntimeError(f"cable did not connect to {sock}[{port}]")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=B.env_int("RUNS", 5))
    ap.add_argument("--secs", type=float, default=B.env_float("SECS", 2))
    ap.add_argument("--size", type=int, default=B.env_int("SIZE", 64))
    ap.add_argument("--topos", default=os.environ.get("TOPOS",
                                                      "plain,vlan,tagout,fstp,cable,trunk"))
    ap.add_argument("--kinds", default=os.environ.get("KINDS", "vdex,vde"))
    ap.add_argument("--max-secs", type=int, default=B.env_int("MAX_SECS", 900))
    ap.add_argument("--json", default=os.environ.get("JSON"))
    args = ap.parse_args()
    B.install_guards(args.max_secs)
    exe = B.build_helper()
    topos, kinds = args.topos.split(","), args.kinds.split(",")
    results: dict[str, list[float]] = {f"{k}/{t}": [] for k in kinds for t in topos}
    try:
        for run in range(args.runs):
            for topo in topos:
                for kind in kinds:
                    r = one_run(exe, kind, topo, args.size, args.secs)
                    results[f"{kind}/{topo}"].append(r["fps"])
                    print(f"[run {run + 1}] {kind:5} {topo:7} {r['fps']:>10,.0f} frames/s "
                          f"({r['received']:,}/{r['sent']:,})", flush=True)
    finally:
        B.cleanup()
    med = {k: B.med(v) for k, v in results.items()}
    print(f"\nmedian frames/s of {args.runs} runs, {args.size}-byte frames")
    print(f"{'topology':8} " + " ".join(f"{k:>12}" for k in kinds)
          + "   vdex/base   vde/base   vdex/vde")
    for topo in topos:
        base = "cable" if topo in TWO_SWITCHES else "plain"
        row = [med.get(f"{k}/{topo}") for k in kinds]
        ratios = []
        for k in ("vdex", "vde"):
            b, v = med.get(f"{k}/{base}"), med.get(f"{k}/{topo}")
            ratios.append(f"{v / b:10.2f}" if b and v else f"{'-':>10}")
        vv = med.get(f"vdex/{topo}"), med.get(f"vde/{topo}")
        ratios.append(f"{vv[0] / vv[1]:9.2f}" if all(vv) else f"{'-':>9}")
        print(f"{topo:8} " + " ".join(f"{x:>12,.0f}" if x else f"{'-':>12}" for x in row)
              + "  " + " ".join(ratios))
    B.write_json(args.json, {"machine": B.machine_info(), "runs": results, "median": med,
                             "size": args.size, "secs": args.secs})
    return 0


if __name__ == "__main__":
    sys.exit(main())
