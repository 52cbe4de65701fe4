"""vde_switch's argument parsing for console commands, reproduced on purpose.

vde_switch reads a single integer argument with C ``atoi`` (decimal, leading blanks skipped,
trailing garbage ignored, no digits means 0) and several arguments with ``sscanf("%i %i")``
(``0x`` prefix for hex, a leading ``0`` for octal, stop at the first byte that does not fit). A
script written for vde_switch (``vlan/addport 0x0a 1``, ``vlan/create 10``) must mean the same
thing here, so the console commands of the VLAN and FSTP plugins parse through these helpers.
"""

from __future__ import annotations

_BLANKS = " \t\n\r\f\v"


def c_atoi(text: str) -> int:
    """C ``atoi``: optional blanks and sign, then decimal digits; anything else ends the number."""
    i, n = 0, len(text)
    while i < n and text[i] in _BLANKS:
        i += 1
    sign = 1
    if i < n and text[i] in "+-":
        sign = -1 if text[i] == "-" else 1
        i += 1
    start = i
    while i < n and "0" <= text[i] <= "9":
        i += 1
    return sign * int(text[start:i]) if i > start else 0


def _scan_int(text: str, i: int) -> tuple[int, int] | None:
    """One ``%i`` conversion from position ``i``: (value, next position), or None if no digits."""
    n = len(text)
    while i < n and text[i] in _BLANKS:
        i += 1
    sign = 1
    if i < n and text[i] in "+-":
        sign = -1 if text[i] == "-" else 1
        i += 1
    if i < n and text[i] == "0":
        if i + 1 < n and text[i + 1] in "xX":
            # glibc takes "0x" without hex digits as 0 and consumes the "x" too
            j = i + 2
            while j < n and _is_hex(text[j]):
                j += 1
            return sign * (int(text[i + 2 : j], 16) if j > i + 2 else 0), j
        j = i + 1
        while j < n and "0" <= text[j] <= "7":
            j += 1
        return sign * (int(text[i:j], 8) if j > i + 1 else 0), j
    start = i
    while i < n and "0" <= text[i] <= "9":
        i += 1
    if i == start:
        return None
    return sign * int(text[start:i]), i


def _is_hex(ch: str) -> bool:
    return ch in "0123456789abcdefABCDEF"


def c_scan_ints(text: str, count: int) -> list[int] | None:
    """``sscanf(text, "%i %i ...")`` with ``count`` conversions: the values, or None if fewer matched.

    Extra text after the last number is ignored, as in vde_switch.
    """
    values: list[int] = []
    i = 0
    for _ in range(count):
        scanned = _scan_int(text, i)
        if scanned is None:
            return None
        value, i = scanned
        values.append(value)
    return values
