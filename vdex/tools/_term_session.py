"""A blocking connection to a management socket that knows when a reply is complete.

Both modes of ``vdex term`` use it: the script mode from its only thread, the interactive mode from
one reader thread. A reply is complete when the server prints its prompt again; the connection
ends on EOF (after ``logout``/``shutdown``, or when the server goes away).
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable
from pathlib import Path

import attrs

from vdex.tools._mgmt_stream import Banner, Event, MgmtStreamParser, Prompt

RECV_SIZE = 4096
SESSION_ENDING_COMMANDS = frozenset({"logout", "shutdown"})


class ReplyTimeout(Exception):
    """No complete reply (or banner) arrived in time."""


def ends_session(command: str) -> bool:
    """True for ``logout`` and ``shutdown``: the server closes the connection instead of replying."""
    words = command.split()
    return bool(words) and words[0] in SESSION_ENDING_COMMANDS


@attrs.define(eq=False, kw_only=True)
class MgmtSession:
    """One connection; feed every byte through one parser, hand events (and raw bytes) on."""

    sock: socket.socket
    parser: MgmtStreamParser = attrs.field(factory=MgmtStreamParser)
    on_raw: Callable[[bytes], None] | None = None
    """Called with every chunk as received (``--raw``)."""
    closed: bool = False

    @classmethod
    def connect(cls, path: Path, *, on_raw: Callable[[bytes], None] | None = None) -> MgmtSession:
        """Connect to the unix stream socket ``path``; raises OSError."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(str(path))
        except OSError:
            sock.close()
            raise
        return cls(sock=sock, on_raw=on_raw)

    def receive(self, timeout: float | None = None) -> list[Event]:
        """Events from one ``recv`` (or from the end of the stream); raises ReplyTimeout."""
        if self.closed:
            return []
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(RECV_SIZE)
        except TimeoutError as exc:
            raise ReplyTimeout from exc
        except OSError:
            data = b""  # reset by the server, or shut down by us: the session is over
        if not data:
            self.closed = True
            return self.parser.close()
        if self.on_raw is not None:
            self.on_raw(data)
        return self.parser.feed(data)

    def until_prompt(self, on_event: Callable[[Event], None], timeout: float | None = None) -> bool:
        """Pass events to ``on_event`` until the prompt (True) or the end of the stream (False)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.closed:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            for event in self.receive(left):
                if isinstance(event, Prompt):
                    return True
                on_event(event)
        return False

    def banner(self, timeout: float | None = None) -> tuple[Banner, Prompt]:
        """Wait for the banner and the first prompt; raises ConnectionError or ReplyTimeout."""
        banner: Banner | None = None
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.closed:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            for event in self.receive(left):
                if isinstance(event, Banner):
                    banner = event
                elif isinstance(event, Prompt) and banner is not None:
                    return banner, event
        raise ConnectionError("the server closed the connection before its prompt")

    def send(self, command: str) -> None:
        """Send one command line (the server runs one command per read: wait for each reply)."""
        self.sock.sendall(command.encode() + b"\n")

    def shutdown(self) -> None:
        """Unblock a reader thread and end the session; idempotent."""
        with contextlib.suppress(OSError):  # already closed by the server
            self.sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.shutdown()
        self.sock.close()
