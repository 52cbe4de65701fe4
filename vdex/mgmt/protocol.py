"""The VDE management console protocol, byte for byte, without any I/O.

vde_switch, wirefilter and vdex speak the same text protocol: a banner and a prompt on connect;
per command an optional data block ``0000 DATA END WITH '.'`` ... ``.``, then a status line
``1000 Success`` or ``1NNN <strerror>``; asynchronous debug lines ``3NNN ...``; ``9999 END OF
SESSION`` on logout. Clients (vdeterm, unixcmd, the libvdemgmt scripts) key on these strings.

Unlike vde_switch, input is line-buffered: several commands in one write all run, and a command
split across writes runs once, whole.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import attrs

SWITCH_BANNER = (
    "VDE switch V.2.3.2\n"
    "(C) Virtual Square Team (coord. R. Davoli) 2005,2006,2007 - GPLv2\n"
)
"""What vdeterm and scripts expect first. vdex identifies itself in ``showinfo``, not here."""
SWITCH_PROMPT = "\nvde$ "
DATA_HEADER = "0000 DATA END WITH '.'"
DATA_END = "."
END_OF_SESSION = "9999 END OF SESSION"
MAX_LINE = 4096
"""Longest command line accepted; a longer one is refused as a whole with EINVAL."""


def status_line(errno: int) -> str:
    """``1000 Success`` or ``1NNN <strerror(NNN)>``: the last line of every command's reply."""
    return f"1{errno:03d} {os.strerror(errno)}" if errno else "1000 Success"


def render_reply(output: Iterable[str] | None, *, data_block: bool, errno: int) -> str:
    """The whole reply to one command (data block if any, then the status line), newline-ended."""
    parts: list[str] = []
    if data_block:
        parts.append(DATA_HEADER)
        if output is not None:
            parts.extend(output)
        parts.append(DATA_END)
    parts.append(status_line(errno))
    return "\n".join(parts) + "\n"


def render_debug(tag: int, path: str, message: str) -> str:
    """An asynchronous debug line: ``3`` + three octal digits of the tag, path, message."""
    return f"3{tag:03o} {path} {message}\n"


def split_command(line: str) -> str | None:
    """Strip the blanks a human adds; None for lines that are not commands (empty, ``#``)."""
    text = line.lstrip(" \t").rstrip("\r\n")
    if not text or text.startswith("#"):
        return None
    return text


@attrs.define(eq=False)
class LineBuffer:
    """Split a byte stream into command lines, whatever the write boundaries.

    A line longer than :data:`MAX_LINE` is returned as ``None`` once (the caller answers EINVAL) and
    its bytes are discarded up to the next newline, so one bad client line cannot grow memory.
    """

    _buf: bytearray = attrs.field(factory=bytearray)
    _discarding: bool = False

    def feed(self, data: bytes) -> list[str | None]:
        lines: list[str | None] = []
        self._buf += data
        while True:
            nl = self._buf.find(b"\n")
            if nl < 0:
                if len(self._buf) > MAX_LINE:
                    if not self._discarding:
                        lines.append(None)
                    self._discarding = True
                    self._buf.clear()
                return lines
            raw = bytes(self._buf[:nl])
            del self._buf[: nl + 1]
            if self._discarding:
                self._discarding = False
                continue
            if len(raw) > MAX_LINE:
                lines.append(None)
                continue
            lines.append(raw.decode("utf-8", "replace").rstrip("\r"))

    def flush(self) -> str | None:
        """At end of input: the last line if it had no newline."""
        if not self._buf or self._discarding:
            return None
        raw = bytes(self._buf)
        self._buf.clear()
        return raw.decode("utf-8", "replace").rstrip("\r")
