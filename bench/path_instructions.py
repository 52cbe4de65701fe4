#!/usr/bin/env python3
"""User-space instructions per forwarded frame on the switch's data path, counted by callgrind.

Wall-clock benchmarks on a shared 2-core machine swing by 25 %; instruction counts do not. This
measures what the Python side of vdex costs per frame (the kernel's socket work is not counted):
frames go through a real endpoint drain, the compiled port chains and a real socket send, for a
plain switch, with the VLAN plugin's stages, with a tagged trunk on the way out, and with FSTP on
(``fstp``; ``vfstp``: FSTP and the VLAN stages) in a stable topology.

    python3 bench/path_instructions.py            # runs valgrind itself, prints Ir per frame
    python3 bench/path_instructions.py --inner MODE N   # one measured run (used by the above)
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

MODES = ("harness", "ideal", "plain", "vlan", "trunk", "fstp", "vfstp")
BATCH = 64


def run_inner(mode: str, frames: int) -> None:
    from vdex._core.engine import SwitchEngine
    from vdex.runtime.endpoint import FrameEndpoint

    engine = SwitchEngine()
    stages = []
    if mode in ("vlan", "trunk", "vfstp"):
        from vdex_plugins.vlan._dot1q import dot1q_stage

        stages.append(("vlan", dot1q_stage()))
    fstp = None
    if mode in ("fstp", "vfstp"):  # FSTP on, stable (two ports, no loop)
        from vdex_plugins.fstp._controller import FstpController

        fstp = FstpController(engine, mac=bytes.fromhex("0200000000ff"))
        stages.append(("fstp", fstp.frame_stage()))
    engine.set_stages(stages)
    pairs = []
    for i in range(2):
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        for s in (a, b):
            s.setblocking(False)
        endpoint = FrameEndpoint.for_socket(b, id=i, module="bench", uid=0)
        port, _ = engine.ports.choose_for_client(0, 0)
        engine.add_port(port)
        endpoint.port = port
        engine.attach(port, endpoint)
        pairs.append((a, endpoint))
    if mode == "trunk":
        engine.create_vlan(10)
        engine.set_untagged(pairs[0][1].port, 10)
        engine.add_tagged(pairs[1][1].port, 10)
    if fstp is not None:
        fstp.set_enabled(True)
        for a, _endpoint in pairs:
            a.recv(2048)  # the greeting BPDU
    mac_a, mac_b = bytes.fromhex("020000000001"), bytes.fromhex("020000000002")
    tag = b"\x81\x00\x00\x0a" if mode == "trunk" else b""
    pairs[1][0].send(mac_a + mac_b + tag + b"\x88\xb5" + b"y" * 46)
    pairs[1][1].drain()
    pairs[0][0].recv(2048)
    frame = mac_b + mac_a + b"\x88\xb5" + b"x" * 50
    src, endpoint = pairs[0]
    sink = pairs[1][0]
    wakeups = [0]
    endpoint.wakeups = wakeups  # a dataplane waking up for every batch: the endpoint is busy
    endpoint._last_wake = 0
    if mode == "harness":
        # What the measurement itself costs: send each frame and take it out again, no switch.
        recv = endpoint.recv
        for _ in range(frames // BATCH):
            for _ in range(BATCH):
                src.send(frame)
            for _ in range(BATCH):
                recv(1519)
                sink.send(frame) if False else None
            for _ in range(BATCH):
                pairs[1][1].write(frame)
                sink.recv(2048)
        return
    if mode == "ideal":
        # The floor: a bare recv/learn/lookup/send loop with no framework around it.
        recv, send, fib = endpoint.recv, pairs[1][1].write, {mac_a: 1, mac_b: 2}
        for _ in range(frames // BATCH):
            for _ in range(BATCH):
                src.send(frame)
            try:
                while True:
                    f = recv(1519)
                    if fib.get(f[6:12]) == 1 and fib.get(f[0:6]) == 2:
                        send(f)
            except BlockingIOError:
                pass
            for _ in range(BATCH):
                sink.recv(2048)
        return
    for _ in range(frames // BATCH):
        for _ in range(BATCH):
            src.send(frame)
        wakeups[0] += 1
        endpoint.drain()
        for _ in range(BATCH):
            sink.recv(2048)


def instructions(mode: str, frames: int) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "cg.out")
        subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                        sys.executable, __file__, "--inner", mode, str(frames)],
                       check=True, capture_output=True)
        with open(out) as f:
            for line in f:
                m = re.match(r"summary:\s+(\d+)", line) or re.match(r"totals:\s+(\d+)", line)
                if m:
                    return int(m.group(1))
    raise RuntimeError("no instruction total in callgrind output")


def main() -> None:
    if sys.argv[1:2] == ["--inner"]:
        run_inner(sys.argv[2], int(sys.argv[3]))
        return
    small, large = 1024, 9216
    for mode in MODES:
        per_frame = (instructions(mode, large) - instructions(mode, small)) / (large - small)
        print(f"{mode:<6} {per_frame:8.0f} instructions per frame (test sender+receiver included)")


if __name__ == "__main__":
    main()
