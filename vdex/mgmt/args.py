"""Number parsing for console commands: vde_switch's C conversions, and vdex's strict use of them.

vde_switch reads a command's numbers in one of two C ways:

* ``atoi`` for commands that take one number (``port/create N``, ``hash/setsize N``,
  ``vlan/create N``, ``fstp/setfstp 0/1``, ``port/print [N]``, ...): decimal only, so ``010`` is
  ten; trailing garbage is ignored and no digits at all means 0;
* ``sscanf("%i %i ...")`` for commands with several numbers (``port/setvlan N VLAN``,
  ``vlan/addport N PORT``, ``fstp/setedge VLAN PORT 1/0``, ``port/epclose N ID``, ...): ``0x``
  hex, a leading ``0`` for octal, stopping at the first byte that does not fit.

One scanner, :func:`scan_c_int`, reproduces both conversions exactly (checked against glibc by
property tests). On top of it:

* :func:`c_atoi` and :func:`c_scan_ints` are the C functions themselves, garbage and all, for
  differential tests and for a plugin that must read text exactly as vde_switch does;
* :func:`parse_int`, :func:`parse_ints`, :func:`parse_optional_int` and :func:`parse_bool` are
  what console commands use: each word must be *one whole* C number, so every spelling
  vde_switch accepts means the same here (``010`` is ten where vde_switch uses ``atoi``
  (``base=10``), eight where it uses ``%i`` (``base=0``)), and anything vde_switch would
  silently misread (``11abc``, ``abc`` as 0, ``08``, extra words) is EINVAL, so a typo never acts
  on port 0 or VLAN 0.
"""

from __future__ import annotations

from ..errors import MgmtError

_BLANKS = " \t\n\r\f\v"
_DEC = "0123456789"
_OCT = "01234567"
_HEX = "0123456789abcdefABCDEF"
MAX_DIGITS = 64
"""A longer word is refused by the strict parsers: no console number needs it."""


def scan_c_int(text: str, pos: int = 0, *, base: int = 0) -> tuple[int, int] | None:
    """One C integer conversion from ``pos``: ``base=0`` is ``%i``, ``base=10`` is ``%d``/``atoi``.

    Skips leading blanks, takes one optional sign, then digits of the base (``%i``: ``0x``/``0X``
    hex, ``0`` octal, else decimal). Returns ``(value, end)``, ``end`` being the index after the
    last character consumed, or None if no digit was read. Like glibc, ``0x`` without hex digits
    reads as 0 and consumes the ``x``. Only ASCII digits count (Python's ``int()`` would also
    take ``1_0`` and non-ASCII digits; C does not).
    """
    if base not in (0, 10):
        raise ValueError("base must be 0 (%i) or 10 (%d)")
    i, n = pos, len(text)
    while i < n and text[i] in _BLANKS:
        i += 1
    sign = 1
    if i < n and text[i] in "+-":
        sign = -1 if text[i] == "-" else 1
        i += 1
    if base == 0 and i < n and text[i] == "0":
        if i + 1 < n and text[i + 1] in "xX":
            j = i + 2
            while j < n and text[j] in _HEX:
                j += 1
            return sign * (int(text[i + 2:j], 16) if j > i + 2 else 0), j
        j = i + 1
        while j < n and text[j] in _OCT:
            j += 1
        return sign * (int(text[i:j], 8) if j > i + 1 else 0), j
    start = i
    while i < n and text[i] in _DEC:
        i += 1
    if i == start:
        return None
    digits = text[start:i]
    if len(digits) > 4000:  # beyond Python's str->int limit; C would overflow anyway
        digits = digits[:4000]
    return sign * int(digits), i


# ---------------------------------------------------------------------- the C functions


def c_atoi(text: str) -> int:
    """C ``atoi``: blanks, a sign, decimal digits; anything else ends the number; none is 0.

    Values beyond C's ``int`` are returned as they are (C would overflow).
    """
    scanned = scan_c_int(text, 0, base=10)
    return 0 if scanned is None else scanned[0]


def c_scan_ints(text: str, count: int) -> list[int] | None:
    """``sscanf(text, "%i %i ...")`` with ``count`` conversions: the values, or None if fewer
    matched. Extra text after the last number is ignored, as in vde_switch."""
    values: list[int] = []
    i = 0
    for _ in range(count):
        scanned = scan_c_int(text, i)
        if scanned is None:
            return None
        value, i = scanned
        values.append(value)
    return values


# ---------------------------------------------------------------------- strict, for commands


def parse_int(text: str, what: str = "number", *, base: int = 0) -> int:
    """One whole C number: ``base=0`` as ``%i`` reads it (``10``, ``0x10``, ``010`` octal),
    ``base=10`` as ``atoi`` reads it (``010`` is ten). EINVAL for anything else."""
    token = text.strip(_BLANKS)
    scanned = scan_c_int(token, 0, base=base) if token else None
    if (scanned is None or scanned[1] != len(token) or token[-1:] in ("x", "X")
            or len(token) > MAX_DIGITS):
        hint = ""
        if base == 0 and token[:1] == "0" and token[1:2] in _DEC:
            hint = " (a leading 0 means octal)"
        elif base == 10 and token[:2] in ("0x", "0X"):
            hint = " (decimal expected)"
        raise MgmtError.invalid(f"{text.strip()!r} is not a {what}{hint}")
    return scanned[0]


def parse_ints(args: str, count: int, usage: str, *, base: int = 0) -> list[int]:
    """Exactly ``count`` whole numbers separated by blanks; EINVAL naming ``usage`` otherwise."""
    words = args.split()
    if len(words) != count:
        raise MgmtError.invalid(f"expected {usage}")
    return [parse_int(w, base=base) for w in words]


def parse_optional_int(args: str, what: str = "number", *, base: int = 0) -> int | None:
    """Nothing (None) or one whole number."""
    words = args.split()
    if not words:
        return None
    if len(words) > 1:
        raise MgmtError.invalid(f"expected one {what} at most")
    return parse_int(words[0], what, base=base)


def parse_bool(text: str) -> bool:
    """``0``/``1`` as vde_switch's ``0/1`` arguments (``atoi``: any non-zero number is true)."""
    return parse_int(text, "0 or 1", base=10) != 0


__all__ = [
    "c_atoi",
    "c_scan_ints",
    "parse_bool",
    "parse_int",
    "parse_ints",
    "parse_optional_int",
    "scan_c_int",
]
