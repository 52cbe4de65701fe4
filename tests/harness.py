"""Helpers shared by the core suites (tests/core, mgmt, switch, interop, cli, plugins).

Importable as ``harness`` because pytest puts ``tests/`` (the directory of the root conftest)
on ``sys.path``. Every wait has a deadline; nothing sleeps to synchronise.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable

import trio

PROMPT = b"\nvde$ "
DEBUG_LINE = re.compile(r"^3\d{3} ")
STATUS_LINE = re.compile(r"^1\d{3} ")


async def wait_until(condition: Callable[[], object], timeout: float = 5.0,
                     what: str = "condition", poll: float = 0.005) -> None:
    """Poll ``condition`` (a cheap check) until true; fail with ``what`` after ``timeout`` s."""
    with trio.move_on_after(timeout):
        while not condition():
            await trio.sleep(poll)
        return
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def sockets_in(directory: str) -> list[str]:
    """Names of the unix sockets in ``directory`` (empty if it is gone)."""
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    return sorted(n for n in names
                  if stat.S_ISSOCK(os.lstat(os.path.join(directory, n)).st_mode))


class RawConsole:
    """A console session at byte level: what is sent and received, exactly."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.buf = b""

    @classmethod
    async def connect(cls, path: str, timeout: float = 5.0) -> RawConsole:
        with trio.fail_after(timeout):
            return cls(await trio.open_unix_socket(path))

    async def send(self, data: bytes) -> None:
        await self.stream.send_all(data)

    async def read_until(self, marker: bytes, timeout: float = 5.0) -> bytes:
        """Everything up to and including ``marker``."""
        with trio.fail_after(timeout):
            while marker not in self.buf:
                chunk = await self.stream.receive_some(65536)
                if not chunk:
                    raise EOFError(f"console closed before {marker!r}; got {self.buf!r}")
                self.buf += chunk
        head, _, self.buf = self.buf.partition(marker)
        return head + marker

    async def read_to_eof(self, timeout: float = 5.0) -> bytes:
        """Everything until the server closes. A reset counts as the end: a server that closes
        with input of ours still unread (``logout`` followed by more commands) makes the kernel
        report ECONNRESET once the data it did send has been read."""
        with trio.fail_after(timeout):
            while True:
                try:
                    chunk = await self.stream.receive_some(65536)
                except trio.BrokenResourceError:
                    chunk = b""
                if not chunk:
                    data, self.buf = self.buf, b""
                    return data
                self.buf += chunk

    async def banner(self) -> bytes:
        return await self.read_until(PROMPT)

    async def command(self, line: str, timeout: float = 5.0) -> str:
        """Send one line; return the reply up to (not including) the next prompt."""
        await self.send(line.encode() + b"\n")
        return (await self.read_until(PROMPT, timeout))[: -len(PROMPT)].decode()

    async def debug_lines(self, count: int, timeout: float = 5.0) -> list[str]:
        """Wait until ``count`` asynchronous ``3NNN`` lines arrived; return (and consume) them.

        Other complete lines read meanwhile stay in the buffer, in order."""
        found: list[str] = []
        with trio.fail_after(timeout):
            while True:
                *complete, rest = self.buf.split(b"\n")
                others = []
                for raw in complete:
                    if DEBUG_LINE.match(raw.decode("utf-8", "replace")):
                        found.append(raw.decode())
                    else:
                        others.append(raw)
                self.buf = b"".join(raw + b"\n" for raw in others) + rest
                if len(found) >= count:
                    return found
                chunk = await self.stream.receive_some(65536)
                if not chunk:
                    raise EOFError(f"console closed; debug lines so far: {found}")
                self.buf += chunk

    async def aclose(self) -> None:
        await self.stream.aclose()

    async def __aenter__(self) -> RawConsole:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def check_framing(reply: str) -> None:
    """Assert that one command's reply is well framed: nothing (blank line, comment), or an
    optional data block then exactly one status line at the end."""
    if reply == "":
        return
    assert reply.endswith("\n"), f"reply not newline-terminated: {reply!r}"
    lines = [line for line in reply[:-1].split("\n") if not DEBUG_LINE.match(line)]
    assert STATUS_LINE.match(lines[-1]), f"no status line at the end: {reply!r}"
    body = lines[:-1]
    if body:
        assert body[0] == "0000 DATA END WITH '.'" and body[-1] == ".", \
            f"data outside a data block: {reply!r}"


class RawVdeClient:
    """A hand-made data-socket client: any bytes as the request, the raw reply back.

    The datagram socket is bound at ``directory/name`` (a path the switch can stat); the
    caller decides what the request says about it.
    """

    def __init__(self, ctl: trio.socket.SocketType, data: trio.socket.SocketType,
                 path: str) -> None:
        self.ctl = ctl
        self.data = data
        self.path = path

    @classmethod
    async def open(cls, ctl_path: str, directory: str, name: str = "raw") -> RawVdeClient:
        import socket

        path = os.path.join(directory, name)
        data = trio.socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        ctl = trio.socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            await data.bind(path)
            with trio.fail_after(5):
                await ctl.connect(ctl_path)
        except BaseException:
            data.close()
            ctl.close()
            raise
        return cls(ctl, data, path)

    async def send(self, chunk: bytes) -> None:
        await self.ctl.send(chunk)

    async def reply(self, timeout: float = 5.0) -> bytes:
        """The switch's answer: 110 bytes, or fewer (``b""``) if it closed the stream.

        Fails if the switch neither answers nor closes within ``timeout``: a refused client
        must never be left hanging."""
        got = b""
        with trio.fail_after(timeout):
            while len(got) < 110:
                try:
                    chunk = await self.ctl.recv(110 - len(got))
                except ConnectionResetError:
                    chunk = b""
                if not chunk:
                    break
                got += chunk
        return got

    async def closed(self, timeout: float = 5.0) -> bool:
        """Wait for EOF on the control stream (True), reading and dropping anything else."""
        with trio.fail_after(timeout):
            while True:
                try:
                    if not await self.ctl.recv(4096):
                        return True
                except ConnectionResetError:
                    return True

    def close(self) -> None:
        self.data.close()
        self.ctl.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass

    async def __aenter__(self) -> RawVdeClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()
