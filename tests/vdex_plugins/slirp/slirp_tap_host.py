"""Run a vdex slirp bridge attached to a tap, inside an isolated network namespace.

Started by the tests as ``ip netns exec SLIRP_NS python slirp_tap_host.py --netns SLIRP_NS
--tap NAME --to NS -- SLIRPVDE-OPTIONS``. It creates the tap here (so the tap's file descriptor
belongs to this process), moves the interface into the guest-side namespace NS, then refuses to
go on unless it runs in SLIRP_NS and that namespace holds nothing but ``lo``: slirp turns guest traffic into
real connections, so the only place it may make them is this loopback.

It prints ``READY`` once the bridge runs, serves until its stdin reaches EOF, then prints one
JSON line with the bridge's statistics and exits. The switch does not exist yet: frames go
straight between the tap and the bridge, drained until EAGAIN, written without blocking.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading

import attrs
import trio

from vdex.testing.netns import loopback_only_netns_fault
from vdex.testing.processes import until_stdin_closed
from vdex_plugins.slirp._bridge import SlirpBridge
from vdex_plugins.slirp._options import parse_slirpvde_args
from vdex_plugins.tap._device import open_tap


def assert_isolated(netns: str) -> None:
    """Refuse to run slirp anywhere but in the namespace made for it, holding only loopback."""
    fault = loopback_only_netns_fault(netns)
    if fault is not None:
        sys.exit(f"slirp_tap_host: refusing to run {fault}")


async def pump_tap_to_bridge(fd: int, bridge: SlirpBridge) -> None:
    read = os.read
    send = bridge.send_frame
    while True:
        await trio.lowlevel.wait_readable(fd)
        for _ in range(256):
            try:
                frame = read(fd, 65536)
            except BlockingIOError:
                break
            send(frame)


async def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--netns", required=True, help="the namespace this must run in")
    parser.add_argument("--tap", required=True)
    parser.add_argument("--to", required=True, help="namespace that receives the tap")
    parser.add_argument("slirpvde", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    options = args.slirpvde[1:] if args.slirpvde[:1] == ["--"] else args.slirpvde
    command = parse_slirpvde_args(options)

    fd = open_tap(args.tap).fd
    subprocess.run(["ip", "link", "set", args.tap, "netns", args.to], check=True)
    # /sys/class/net shows this namespace only in a sysfs mounted from inside it; ip netns exec
    # mounts one, so the listing below is this namespace's.
    assert_isolated(args.netns)

    dropped = 0

    def deliver(frame: bytes) -> None:
        nonlocal dropped
        try:
            os.write(fd, frame)
        except BlockingIOError:
            dropped += 1

    bridge = SlirpBridge(settings=command.settings, deliver=deliver)
    threads_before = threading.active_count()
    async with trio.open_nursery() as nursery:
        await nursery.start(bridge.run)
        nursery.start_soon(pump_tap_to_bridge, fd, bridge)
        print("READY", flush=True)
        await until_stdin_closed()
        stats = bridge.statistics()
        nursery.cancel_scope.cancel()
    os.close(fd)
    report = {
        "version": bridge.version,
        "threads_before": threads_before,
        "threads_after": threading.active_count(),
        "tap_write_drops": dropped,
        **attrs.asdict(stats),
    }
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    trio.run(main, sys.argv[1:])
