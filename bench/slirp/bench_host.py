"""The slirp side of the benchmark: one vdex slirp bridge, attached to a tap or to a vde_switch.

Run by slirp_throughput.py as ``ip netns exec SLIRP_NS python bench_host.py --netns SLIRP_NS
--bridge epoll|thread (--tap NAME --to NS | --vde SWITCH_DIR) -- SLIRPVDE-OPTIONS``. Like the
tests' slirp_tap_host.py it refuses to run outside an isolated namespace holding only ``lo``.
Prints READY, serves until stdin closes, then prints a JSON line with statistics and CPU time.
"""

from __future__ import annotations

import argparse
import ctypes
import errno
import json
import os
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

import trio

sys.path.insert(0, str(Path(__file__).resolve().parent))

from thread_bridge import ThreadedSlirpBridge  # noqa: E402

from vdex.testing.netns import loopback_only_netns_fault
from vdex.testing.processes import until_stdin_closed
from vdex_plugins.slirp._bridge import SlirpBridge  # noqa: E402
from vdex_plugins.slirp._options import parse_slirpvde_args
from vdex_plugins.tap._device import open_tap  # noqa: E402

MSG_DONTWAIT = 0x40


def assert_isolated(netns: str) -> None:
    """Refuse to run slirp anywhere but in the namespace made for it, holding only loopback."""
    fault = loopback_only_netns_fault(netns)
    if fault is not None:
        sys.exit(f"bench_host: refusing to run {fault}")


class TapAttachment:
    def __init__(self, name: str, to: str) -> None:
        self.fd = open_tap(name).fd
        subprocess.run(["ip", "link", "set", name, "netns", to], check=True)
        self.drops = 0

    def fileno(self) -> int:
        return self.fd

    def send(self, frame: bytes) -> None:
        try:
            os.write(self.fd, frame)
        except BlockingIOError:
            self.drops += 1

    def drain(self, bridge: SlirpBridge) -> None:
        for _ in range(256):
            try:
                frame = os.read(self.fd, 65536)
            except BlockingIOError:
                return
            bridge.send_frame(frame)


class VdeAttachment:
    """A vde_switch port through libvdeplug (the same library slirpvde uses)."""

    def __init__(self, switch: str) -> None:
        lib = ctypes.CDLL("libvdeplug.so.2", use_errno=True)
        lib.vde_open_real.restype = ctypes.c_void_p
        lib.vde_open_real.argtypes = [
            ctypes.c_char_p,
            ctypes.c_char_p,
            ctypes.c_int,
            ctypes.c_void_p,
        ]
        lib.vde_recv.restype = ctypes.c_ssize_t
        lib.vde_recv.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        lib.vde_send.restype = ctypes.c_ssize_t
        lib.vde_send.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int]
        lib.vde_datafd.argtypes = [ctypes.c_void_p]
        self.lib = lib
        self.conn = lib.vde_open_real(switch.encode(), b"vdex-slirp-bench", 1, None)
        if not self.conn:
            raise OSError(ctypes.get_errno(), f"vde_open {switch}")
        os.set_blocking(self.fileno(), False)  # vde_recv ignores MSG_DONTWAIT
        self.buf = ctypes.create_string_buffer(9234)
        self.drops = 0

    def fileno(self) -> int:
        return int(self.lib.vde_datafd(self.conn))

    def send(self, frame: bytes) -> None:
        if self.lib.vde_send(self.conn, frame, len(frame), MSG_DONTWAIT) < 0:
            self.drops += 1

    def drain(self, bridge: SlirpBridge) -> None:
        recv, conn, buf = self.lib.vde_recv, self.conn, self.buf
        for _ in range(256):
            n = recv(conn, buf, 9234, MSG_DONTWAIT)
            if n <= 0:
                if n < 0 and ctypes.get_errno() not in (errno.EAGAIN, errno.EWOULDBLOCK):
                    raise OSError(ctypes.get_errno(), "vde_recv")
                return
            bridge.send_frame(buf.raw[:n])


async def pump(attachment: Any, bridge: SlirpBridge) -> None:
    fd = attachment.fileno()
    while True:
        await trio.lowlevel.wait_readable(fd)
        attachment.drain(bridge)


async def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--netns", required=True)
    parser.add_argument("--bridge", choices=["epoll", "thread"], default="epoll")
    parser.add_argument("--tap")
    parser.add_argument("--to")
    parser.add_argument("--vde")
    parser.add_argument("slirpvde", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    options = args.slirpvde[1:] if args.slirpvde[:1] == ["--"] else args.slirpvde
    command = parse_slirpvde_args(options)
    attachment: Any = TapAttachment(args.tap, args.to) if args.tap else VdeAttachment(args.vde)
    assert_isolated(args.netns)
    cls = ThreadedSlirpBridge if args.bridge == "thread" else SlirpBridge
    bridge = cls(settings=command.settings, deliver=attachment.send)
    async with trio.open_nursery() as nursery:
        await nursery.start(bridge.run)
        nursery.start_soon(pump, attachment, bridge)
        print("READY", flush=True)
        await until_stdin_closed()
        nursery.cancel_scope.cancel()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    stats = bridge.statistics()
    print(
        json.dumps(
            {
                "cpu_user": usage.ru_utime,
                "cpu_sys": usage.ru_stime,
                "attachment_drops": attachment.drops,
                "frames_to_guest": stats.frames_to_guest,
                "frames_from_guest": stats.frames_from_guest,
                "loop_turns": stats.loop_turns,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    trio.run(main, sys.argv[1:])
