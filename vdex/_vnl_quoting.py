"""vdeplug4's quoting rules for VNL text, shared by the parser and the formatter of :mod:`vdex.vnl`.

Outside quotes, ``\\x`` stands for ``x`` and ``%XX`` (two hex digits) for one byte; ``'...'`` and
``"..."`` quote everything up to the same quote character, backslashes and ``%`` included. A
delimiter counts only when it is neither quoted nor escaped, so splitting happens on the raw text
and each piece is unquoted afterwards. Decoded bytes are UTF-8 with surrogate escapes, like the
file names Python gets from the operating system.
"""

from __future__ import annotations

from collections.abc import Sequence

from .errors import ConfigError

_HEX = frozenset("0123456789abcdefABCDEF")
_QUOTES = "'\""
_ALWAYS_ESCAPED = "\\'\"%"


def unquoted_positions(raw: str, delimiters: str, where: str) -> list[int]:
    """Indexes of the ``delimiters`` characters in ``raw`` that are neither quoted nor escaped."""
    found: list[int] = []
    i, n = 0, len(raw)
    while i < n:
        c = raw[i]
        if c == "\\":
            if i + 1 >= n:
                raise ConfigError(f"{where!r}: '\\' at the end protects nothing")
            i += 2
            continue
        if c in _QUOTES:
            close = raw.find(c, i + 1)
            if close < 0:
                raise ConfigError(f"{where!r}: unterminated {c} quote")
            i = close + 1
            continue
        if c in delimiters:
            found.append(i)
        i += 1
    return found


def cut_at(raw: str, cuts: Sequence[int]) -> list[str]:
    """Split ``raw`` at the given indexes, dropping the delimiter characters themselves."""
    pieces, start = [], 0
    for cut in cuts:
        pieces.append(raw[start:cut])
        start = cut + 1
    pieces.append(raw[start:])
    return pieces


def unquote(raw: str, where: str) -> str:
    """Remove quotes and backslashes and decode ``%XX`` in one piece (balanced by construction)."""
    if not any(c in raw for c in "\\'\"%"):
        out_text = raw
    else:
        out = bytearray()
        i, n = 0, len(raw)
        try:
            while i < n:
                c = raw[i]
                if c == "\\":
                    out += raw[i + 1].encode("utf-8", "surrogateescape")
                    i += 2
                elif c in _QUOTES:
                    close = raw.index(c, i + 1)
                    out += raw[i + 1:close].encode("utf-8", "surrogateescape")
                    i = close + 1
                elif c == "%" and i + 2 < n and raw[i + 1] in _HEX and raw[i + 2] in _HEX:
                    out.append(int(raw[i + 1:i + 3], 16))
                    i += 3
                else:
                    out += c.encode("utf-8", "surrogateescape")
                    i += 1
        except UnicodeEncodeError:
            raise ConfigError(f"{where!r}: not valid text (a lone surrogate)") from None
        out_text = out.decode("utf-8", "surrogateescape")
    if "\x00" in out_text:
        raise ConfigError(f"{where!r}: a NUL byte cannot be part of a VNL")
    return out_text


def quote(text: str, special: str) -> str:
    """Escape ``text`` so that it reads back unchanged in a context where ``special`` delimits."""
    if text == "":
        return "''"
    out = []
    for c in text:
        code = ord(c)
        if c in _ALWAYS_ESCAPED or c in special:
            out.append("\\" + c)
        elif code < 0x20 or code == 0x7F or 0xDC80 <= code <= 0xDCFF:
            out.append("".join(f"%{b:02X}" for b in c.encode("utf-8", "surrogateescape")))
        else:
            out.append(c)
    return "".join(out)
