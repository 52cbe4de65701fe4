"""Clients for tests: a VDE data-socket client and a console client, both on trio.

They talk to any vde_switch compatible switch (vdex in the same trio run, a vdex process, the real
vde_switch), so the same test can be pointed at each. Every wait has a deadline: a test fails
with a message instead of hanging.
"""

from __future__ import annotations

import os
import socket
import tempfile

import attrs
import trio

from ..mgmt.protocol import DATA_HEADER
from ..vde.request import SOCKADDR_UN_LEN, build_request, parse_reply

DEFAULT_TIMEOUT = 5.0


class AsyncVdeClient:
    """One port of a switch: ``await send(frame)``, ``await recv()``.

    Use ``async with AsyncVdeClient.connect(dir) as c``. ``port``: 0 any, N port N, -1 port 0.
    """

    def __init__(self, ctl: trio.socket.SocketType, data: trio.socket.SocketType,
                 switch_path: str) -> None:
        self.ctl = ctl
        self.data = data
        self.switch_path = switch_path

    @property
    def port(self) -> int:
        return int(os.path.basename(self.switch_path).split(".", 1)[0])

    @classmethod
    async def connect(cls, directory: str, *, port: int = 0, description: str = "test client",
                      timeout: float = DEFAULT_TIMEOUT) -> AsyncVdeClient:
        tmpdir = tempfile.mkdtemp(prefix="vdex-client-")
        ctl = trio.socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        data = trio.socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            path = os.path.join(tmpdir, "c")
            await data.bind(path)
            with trio.fail_after(timeout):
                await ctl.connect(os.path.join(directory, "ctl"))
                await ctl.send(build_request(path, description, port=port))
                reply = b""
                while len(reply) < SOCKADDR_UN_LEN:
                    chunk = await ctl.recv(SOCKADDR_UN_LEN - len(reply))
                    if not chunk:
                        raise ConnectionRefusedError(f"switch {directory} refused port {port}")
                    reply += chunk
            switch_path = parse_reply(reply).decode()
            await data.connect(switch_path)
            # Many frames may queue for a slow test: don't lose them to a small buffer.
            data.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        except BaseException:
            ctl.close()
            data.close()
            raise
        finally:
            # Connected, the socket needs no name any more (libvdeplug4 unlinks it too): nothing
            # is left in /tmp even by a test that never closes its client.
            _rmtree(tmpdir)
        return cls(ctl, data, switch_path)

    async def send(self, frame: bytes) -> None:
        await self.data.send(frame)

    async def recv(self, timeout: float = DEFAULT_TIMEOUT) -> bytes:
        """The next frame; fails the test (TooSlowError) after ``timeout`` seconds."""
        with trio.fail_after(timeout):
            return await self.data.recv(65536)

    async def recv_all(self, quiet: float = 0.2) -> list[bytes]:
        """Every frame that arrives until none has come for ``quiet`` seconds."""
        frames = []
        while True:
            with trio.move_on_after(quiet) as scope:
                frames.append(await self.data.recv(65536))
            if scope.cancelled_caught:
                return frames

    async def expect_nothing(self, wait: float = 0.3) -> None:
        """Assert that no frame arrives within ``wait`` seconds."""
        with trio.move_on_after(wait):
            frame = await self.data.recv(65536)
            raise AssertionError(f"unexpected frame of {len(frame)} bytes: {frame[:32].hex()}")

    async def wait_closed(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Wait until the switch closes our control stream (port/epclose, shutdown)."""
        with trio.fail_after(timeout):
            while await self.ctl.recv(256):
                pass

    def close(self) -> None:
        self.data.close()
        self.ctl.close()

    async def __aenter__(self) -> AsyncVdeClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()


def _rmtree(path: str) -> None:
    for name in os.listdir(path) if os.path.isdir(path) else []:
        try:
            os.unlink(os.path.join(path, name))
        except OSError:
            pass
    try:
        os.rmdir(path)
    except OSError:
        pass


@attrs.frozen
class Reply:
    """A console reply: the status code, the data lines (if any) and the raw text."""

    status: int
    data: list[str]
    raw: str

    @property
    def ok(self) -> bool:
        return self.status == 1000


class AsyncMgmtClient:
    """A console session over a unix socket: ``reply = await c.command("port/print")``."""

    def __init__(self, stream: trio.SocketStream, prompt: str) -> None:
        self.stream = stream
        self.prompt = prompt
        self.banner = ""
        self._buf = b""
        self.debug_lines: list[str] = []

    @classmethod
    async def connect(cls, path: str, *, prompt: str = "\nvde$ ",
                      timeout: float = DEFAULT_TIMEOUT) -> AsyncMgmtClient:
        with trio.fail_after(timeout):
            stream = await trio.open_unix_socket(path)
            client = cls(stream, prompt)
            client.banner = await client._read_until_prompt()
        return client

    async def _read_until_prompt(self) -> str:
        marker = self.prompt.encode()
        while marker not in self._buf:
            chunk = await self.stream.receive_some(65536)
            if not chunk:
                raise EOFError(f"console closed; got {self._buf!r}")
            self._buf += chunk
        text, _, self._buf = self._buf.partition(marker)
        return text.decode()

    async def raw(self, line: str, timeout: float = DEFAULT_TIMEOUT) -> str:
        """Send one line and return everything before the next prompt."""
        with trio.fail_after(timeout):
            await self.stream.send_all(line.encode() + b"\n")
            return await self._read_until_prompt()

    async def command(self, line: str, timeout: float = DEFAULT_TIMEOUT) -> Reply:
        """Run a command; parse its data block and status (``3NNN`` lines go to debug_lines)."""
        text = await self.raw(line, timeout)
        return self.parse(text)

    def parse(self, text: str) -> Reply:
        data: list[str] = []
        status = 0
        in_data = False
        for line in text.split("\n"):
            if in_data:
                if line == ".":
                    in_data = False
                else:
                    data.append(line)
            elif line == DATA_HEADER:
                in_data = True
            elif line[:1] == "3" and line[1:4].isdigit():
                self.debug_lines.append(line)
            elif line[:1] == "1" and line[1:4].isdigit():
                status = int(line[:4])
        return Reply(status, data, text)

    async def ok(self, line: str) -> list[str]:
        """Run a command that must succeed; return its data lines."""
        reply = await self.command(line)
        assert reply.ok, f"{line!r} failed: {reply.raw!r}"
        return reply.data

    async def logout(self) -> str:
        await self.stream.send_all(b"logout\n")
        rest = self._buf
        while True:
            chunk = await self.stream.receive_some(65536)
            if not chunk:
                return (rest).decode()
            rest += chunk

    async def aclose(self) -> None:
        await self.stream.aclose()

    async def __aenter__(self) -> AsyncMgmtClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
