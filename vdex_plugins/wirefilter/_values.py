"""wirefilter's parameters and their value syntax ``[LR|RL]v[+j][K|M|G][U|N][[node]]``.

A parameter holds a :class:`WireValue` per Markov node and per direction. A value is a centre
``v``, a spread ``j`` and a distribution: every use draws afresh, uniform on ``[v-j, v+j)`` or
normal with mean ``v`` and sigma ``j/3`` (spec vde_tools.md §2.2).

Unlike wirefilter, text that does not follow the grammar is refused (``loss abc`` is EINVAL, it
does not succeed silently), negative numbers are refused, and so are infinities and NaN.
"""

from __future__ import annotations

import enum
import math
import random
import re

import attrs

LR = 0
"""Left to right: stdin to the alternate stdout (or stdout in mono mode); on a switch port, from
the wire into the switch."""
RL = 1
"""Right to left: the alternate stdin to stdout; on a switch port, from the switch to the wire."""
BOTH = (LR, RL)
DIRECTION_NAMES = ("LR", "RL")


class Param(enum.IntEnum):
    """The nine per-node, per-direction parameters, in ``showinfo`` order."""

    LOSS = 0
    LOSTBURST = 1
    DELAY = 2
    DUP = 3
    BAND = 4
    SPEED = 5
    NOISE = 6
    MTU = 7
    CAPACITY = 8


N_PARAMS = len(Param)

_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_VALUE_RE = re.compile(
    rf"""
    (?P<dir>LR|RL)?\s*
    (?P<value>{_NUMBER})
    (?:\+(?P<plus>{_NUMBER}))?
    (?P<mult>[KMG])?
    (?P<dist>[UN])?
    (?:\[\s*(?P<node>\d+)\s*\])?
    """,
    re.IGNORECASE | re.VERBOSE,
)
_MULTIPLIERS = {"": 1.0, "K": float(1 << 10), "M": float(1 << 20), "G": float(1 << 30)}


class ValueSyntaxError(ValueError):
    """The text is not a wirefilter value; the message says what the syntax is."""


@attrs.frozen(slots=True)
class WireValue:
    """``value`` ± ``plus`` with distribution ``alg`` (``"U"`` uniform, ``"N"`` normal)."""

    value: float = 0.0
    plus: float = 0.0
    alg: str = "U"

    @property
    def min(self) -> float:
        return self.value - self.plus

    @property
    def max(self) -> float:
        return self.value + self.plus

    @property
    def active(self) -> bool:
        """True if a draw can be positive: the parameter takes part in the per-frame work."""
        return self.value + self.plus > 0

    def draw(self, rng: random.Random) -> float:
        """One sample (wirefilter's ``compute_wirevalue``): the centre if there is no spread."""
        if self.plus == 0:
            return self.value
        if self.alg == "N":
            return self.value + self.plus / 3.0 * rng.gauss(0.0, 1.0)
        return self.value + self.plus * (2.0 * rng.random() - 1.0)

    def format(self) -> str:
        """``showinfo``'s ``%g+%g%c``."""
        return f"{self.value:g}+{self.plus:g}{self.alg}"


ZERO = WireValue()


@attrs.frozen
class ParsedValue:
    """A value setting: which directions, which Markov node, and the value."""

    directions: tuple[int, ...]
    node: int
    value: WireValue


SYNTAX_HELP = "[LR|RL]value[+jitter][K|M|G][U|N][[node]], e.g. 100, LR20+5N, 2M, 10[1]"


def parse_value(text: str, *, nodes: int = 1) -> ParsedValue:
    """Parse a value argument; ``nodes`` is the number of Markov nodes (the ``[n]`` range).

    :raises ValueSyntaxError: with a message naming the syntax.
    """
    stripped = text.strip()
    m = _VALUE_RE.fullmatch(stripped)
    if m is None:
        raise ValueSyntaxError(f"{stripped!r} is not a value: expected {SYNTAX_HELP}")
    mult = _MULTIPLIERS[(m["mult"] or "").upper()]
    value = float(m["value"]) * mult
    plus = float(m["plus"]) * mult if m["plus"] is not None else 0.0
    if not (math.isfinite(value) and math.isfinite(plus)):
        raise ValueSyntaxError(f"{stripped!r} is too large")
    node = int(m["node"]) if m["node"] is not None else 0
    if not 0 <= node < nodes:
        raise ValueSyntaxError(f"Markov node {node} does not exist (nodes 0..{nodes - 1})")
    direction = (m["dir"] or "").upper()
    dirs = (LR,) if direction == "LR" else (RL,) if direction == "RL" else BOTH
    alg = (m["dist"] or "U").upper()
    return ParsedValue(dirs, node, WireValue(value, plus, alg))
