"""Random draws that take bounded time whatever the probability.

wirefilter counts duplicates and flipped bits with ``while (drand48() < p) n++``: a geometric loop
that never ends once ``p`` reaches 1 (the noise spin measured in spec §2.3). These draws use
inverse transforms instead: one or a few random numbers, however large ``p`` is.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator


def geometric_extra(rng: random.Random, p: float, cap: int) -> int:
    """How many more successes follow, each with probability ``p``: P(n >= k) = p**k, at most cap.

    The same distribution as wirefilter's duplicate loop (mean p/(1-p)), drawn in O(1).
    """
    if p <= 0.0:
        return 0
    if p >= 1.0:
        return cap
    u = 1.0 - rng.random()  # in (0, 1]
    n = math.log(u) / math.log(p)
    return cap if n >= cap else int(n)


def flip_positions(rng: random.Random, nbits: int, q: float) -> Iterator[int]:
    """Distinct bit positions in ``range(nbits)``, each chosen independently with probability q.

    The count is exactly Binomial(nbits, q). Gaps between positions are drawn geometrically, so the
    work is proportional to the number of flips plus one, never more than ``nbits``.
    """
    if q <= 0.0 or nbits <= 0:
        return
    if q >= 1.0:
        yield from range(nbits)
        return
    log_keep = math.log1p(-q)
    if log_keep == 0.0:  # q below double precision: nothing will ever flip
        return
    pos = -1
    while True:
        u = 1.0 - rng.random()
        gap = math.log(u) / log_keep
        if gap >= nbits:
            return
        pos += 1 + int(gap)
        if pos >= nbits:
            return
        yield pos
