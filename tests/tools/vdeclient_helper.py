"""A minimal vde_switch data-socket client for tests (spec vde_switch.md §1).

Only for tests: the real client is ``vdex.vde.client``. It binds a unix datagram socket, sends the
122-byte ``request_v3`` plus a description on ``DIR/ctl``, reads the 110-byte reply naming the
switch's port socket, and connects its datagram socket to it. After that one datagram is one frame.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import socket
import struct
import time
from pathlib import Path

import attrs

VDE_MAGIC = 0xFEEDFACE
VDE_VERSION = 3
REQ_NEW_CONTROL = 0
SOCKADDR_UN_SIZE = 110
_SOCKADDR_UN = struct.Struct("=H108s")
_REQUEST_HEAD = struct.Struct("=III")

BROADCAST = b"\xff" * 6
TEST_ETHERTYPE = b"\x88\xb5"  # IEEE local experimental
_client_numbers = itertools.count()


def mac(n: int) -> bytes:
    """A locally administered unicast MAC ending in ``n``."""
    return bytes([2, 0, 0, 0, (n >> 8) & 0xFF, n & 0xFF])


def frame(dst: bytes, src: bytes, payload: bytes) -> bytes:
    """An Ethernet frame with the local experimental ethertype, padded to 60 bytes."""
    data = dst + src + TEST_ETHERTYPE + payload
    return data.ljust(60, b"\0")


def request_v3(client_path: str, description: str, port: int = 0) -> bytes:
    """The exact bytes libvdeplug sends on ``DIR/ctl`` (native byte order, no NUL after descr)."""
    addr = _SOCKADDR_UN.pack(socket.AF_UNIX, client_path.encode())
    return _REQUEST_HEAD.pack(VDE_MAGIC, VDE_VERSION, (port << 8) | REQ_NEW_CONTROL) + addr + description.encode()


def parse_reply(reply: bytes) -> str:
    family, path = _SOCKADDR_UN.unpack(reply)
    if family != socket.AF_UNIX:
        raise ValueError(f"reply family {family} is not AF_UNIX")
    return path.split(b"\0", 1)[0].decode()


@attrs.define(eq=False, kw_only=True)
class VdeTestClient:
    """One endpoint on a vde_switch port; use as a context manager."""

    switch_dir: Path
    description: str = "vdex-test-client"
    port: int = 0
    ctl: socket.socket | None = None
    data: socket.socket | None = None
    switch_port_path: str = ""
    _client_path: str = ""

    def __enter__(self) -> VdeTestClient:
        self.connect()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def connect(self, timeout: float = 5.0) -> None:
        self._client_path = str(self.switch_dir / f".{os.getpid():05d}-{next(_client_numbers):05d}")
        self.data = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.data.bind(self._client_path)
        self.ctl = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.ctl.settimeout(timeout)
        self.ctl.connect(str(self.switch_dir / "ctl"))
        self.ctl.sendall(request_v3(self._client_path, self.description, self.port))
        reply = b""
        while len(reply) < SOCKADDR_UN_SIZE:
            chunk = self.ctl.recv(SOCKADDR_UN_SIZE - len(reply))
            if not chunk:
                raise ConnectionError("the switch closed the control stream without a reply")
            reply += chunk
        self.switch_port_path = parse_reply(reply)
        self.data.connect(self.switch_port_path)
        os.unlink(self._client_path)

    def send(self, frame_bytes: bytes) -> None:
        assert self.data is not None
        self.data.send(frame_bytes)

    def recv(self, timeout: float) -> bytes | None:
        """The next frame, or None if none arrives within ``timeout`` seconds."""
        assert self.data is not None
        self.data.settimeout(timeout)
        try:
            return self.data.recv(65536)
        except TimeoutError:
            return None

    def recv_until(self, wanted: bytes, timeout: float) -> bool:
        """Read frames until ``wanted`` arrives (True) or ``timeout`` passes (False)."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            got = self.recv(left)
            if got == wanted:
                return True
        return False

    def drain(self) -> int:
        """Discard queued frames; returns how many."""
        count = 0
        while self.recv(0.0001) is not None:
            count += 1
        return count

    def close(self) -> None:
        for sock in (self.data, self.ctl):
            if sock is not None:
                sock.close()
        self.data = self.ctl = None
        if self._client_path:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._client_path)
