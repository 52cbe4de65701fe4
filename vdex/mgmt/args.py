"""Argument parsing for console commands, refusing what vde_switch would silently misread.

vde_switch reads numbers with ``atoi`` (garbage becomes 0) or ``sscanf("%i")``. vdex accepts the
same spellings (decimal, ``0x`` hex, leading ``0`` octal as ``%i`` does) and answers EINVAL for
anything else, so a typo never acts on port 0.
"""

from __future__ import annotations

from ..errors import MgmtError


def parse_int(text: str, what: str = "number") -> int:
    """One integer as ``%i`` reads it: ``10``, ``0x10``, ``010`` (octal), with a sign."""
    token = text.strip()
    try:
        sign = -1 if token.startswith("-") else 1
        body = token.lstrip("+-")
        if body.lower().startswith("0x"):
            return sign * int(body[2:], 16)
        if len(body) > 1 and body.startswith("0"):
            return sign * int(body[1:], 8)
        return sign * int(body, 10)
    except ValueError:
        raise MgmtError.invalid(f"{text!r} is not a {what}") from None


def parse_ints(args: str, count: int, usage: str) -> list[int]:
    """Exactly ``count`` integers separated by blanks; EINVAL naming ``usage`` otherwise."""
    words = args.split()
    if len(words) != count:
        raise MgmtError.invalid(f"expected {usage}")
    return [parse_int(w) for w in words]


def parse_optional_int(args: str, what: str = "number") -> int | None:
    words = args.split()
    if not words:
        return None
    if len(words) > 1:
        raise MgmtError.invalid(f"expected one {what} at most")
    return parse_int(words[0], what)


def parse_bool(text: str) -> bool:
    """``0``/``1`` as vde_switch's ``0/1`` arguments (any non-zero integer is true)."""
    return parse_int(text, "0 or 1") != 0
