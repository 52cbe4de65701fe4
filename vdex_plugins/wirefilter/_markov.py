"""wirefilter's Markov mode: nodes with their own parameters, weighted edges, a periodic step.

There is always at least one node; with one node the chain never steps and wirefilter behaves as
a plain filter. Node ``i`` has edges ``w(i, k)`` in percent; the self loop ``w(i, i)`` is always
100 minus the others. Every ``period`` one step is taken: draw ``r`` in [0, 100) and walk
``k = i, i+1, ...`` (self loop first), moving to the first ``k`` with ``r <= w(i, k)`` after
subtracting the weights passed (spec §2.5).

Differences from wirefilter, each because the reference's behaviour surprises users:

* the clock (re)starts when the chain grows past one node or the period changes, and the first
  step comes one period later (wirefilter also steps at once, so an rc file that sets the period
  last starts in a random node);
* a step that is late is taken at its own time, and the chain never "catches up" with a burst of
  steps after a long stall (wirefilter does one per loop iteration until it has caught up);
* ``setedge`` refuses a self loop (it is always computed) and out-going weights above 100 in
  total, instead of accepting them and leaving a negative self loop.
"""

from __future__ import annotations

import random

import attrs

from ._values import N_PARAMS, ZERO, WireValue

US = 1_000_000
MAX_CATCH_UP = 1000
"""Steps a late timer may take at once; beyond this the chain's clock is moved to now."""

NodeParams = list[list[WireValue]]
"""``params[param][direction]``."""


def new_node_params() -> NodeParams:
    return [[ZERO, ZERO] for _ in range(N_PARAMS)]


class MarkovError(ValueError):
    """A Markov command with an argument out of range; the message says which."""


@attrs.define(eq=False, kw_only=True)
class MarkovChain:
    """The nodes, their names and parameters, the edges, and the time of the next step."""

    nodes: list[NodeParams] = attrs.Factory(lambda: [new_node_params()])
    names: list[str] = attrs.Factory(lambda: [""])
    edges: list[list[float]] = attrs.Factory(lambda: [[100.0]])
    current: int = 0
    period_ms: float = 100.0
    next_step_us: int | None = None
    """When the next step is due (microseconds), or None when the chain has one node."""
    version: int = 0
    """Bumped by every change of a parameter or of the current node (caches key on it)."""
    skipped_steps: int = 0
    """Steps not taken because the timer was more than :data:`MAX_CATCH_UP` periods late."""

    @property
    def size(self) -> int:
        return len(self.nodes)

    @property
    def params(self) -> NodeParams:
        """The parameters in force: those of the current node."""
        return self.nodes[self.current]

    def check_node(self, node: int) -> None:
        if not 0 <= node < len(self.nodes):
            raise MarkovError(f"Markov node {node} does not exist (nodes 0..{len(self.nodes) - 1})")

    # ------------------------------------------------------------------ configuration

    def set_value(self, param: int, directions: tuple[int, ...], node: int, value: WireValue) -> None:
        self.check_node(node)
        row = self.nodes[node][param]
        for d in directions:
            row[d] = value
        self.version += 1

    def resize(self, n: int, now_us: int) -> None:
        """``markov-numnodes n``: new nodes are all zero with a 100% self loop."""
        if n <= 0:
            raise MarkovError("the number of Markov nodes must be at least 1")
        old = len(self.nodes)
        if n > old:
            for row in self.edges:
                row.extend([0.0] * (n - old))
            for i in range(old, n):
                self.nodes.append(new_node_params())
                self.names.append("")
                self.edges.append([0.0] * n)
                self.edges[i][i] = 100.0
        elif n < old:
            del self.nodes[n:]
            del self.names[n:]
            del self.edges[n:]
            for row in self.edges:
                del row[n:]
            for i in range(n):
                self._fix_self_loop(i)
            if self.current >= n:
                self.current = 0
        self.version += 1
        self.restart_clock(now_us)

    def set_period(self, ms: float, now_us: int) -> None:
        """``markov-time ms``."""
        if not ms > 0:
            raise MarkovError("the Markov period must be a positive number of milliseconds")
        self.period_ms = ms
        self.restart_clock(now_us)

    def restart_clock(self, now_us: int) -> None:
        self.next_step_us = now_us + self.period_us if len(self.nodes) > 1 else None

    @property
    def period_us(self) -> int:
        return max(1, round(self.period_ms * 1000))

    def set_current(self, node: int) -> None:
        """``markov-setnode n``."""
        self.check_node(node)
        if node != self.current:
            self.current = node
            self.version += 1

    def set_name(self, node: int, name: str) -> None:
        self.check_node(node)
        self.names[node] = name

    def set_edge(self, src: int, dst: int, weight: float) -> None:
        """``setedge src,dst,weight`` (percent); the self loop of ``src`` becomes the rest."""
        self.check_node(src)
        self.check_node(dst)
        if src == dst:
            raise MarkovError("the self loop is not set: it is 100 minus the other edges")
        if not 0 <= weight <= 100:
            raise MarkovError("an edge weight is a percentage, 0 to 100")
        row = self.edges[src]
        others = sum(w for k, w in enumerate(row) if k not in (src, dst)) + weight
        if others > 100 + 1e-9:
            raise MarkovError(
                f"the edges leaving node {src} would add up to {others:g} percent (at most 100)"
            )
        row[dst] = weight
        self._fix_self_loop(src)

    def _fix_self_loop(self, i: int) -> None:
        row = self.edges[i]
        row[i] = 100.0 - sum(w for k, w in enumerate(row) if k != i)

    # ------------------------------------------------------------------ time

    def step(self, rng: random.Random) -> tuple[int, int] | None:
        """Take one step; return ``(old, new)`` if the node changed."""
        i = self.current
        n = len(self.nodes)
        row = self.edges[i]
        r = rng.random() * 100.0
        new = i
        for j in range(n):
            k = (i + j) % n
            if r <= row[k]:
                new = k
                break
            r -= row[k]
        if new == i:
            return None
        self.current = new
        self.version += 1
        return i, new

    def due(self, now_us: int) -> int | None:
        """The time of a step due at ``now_us`` (moving the clock on if hopelessly late)."""
        when = self.next_step_us
        if when is None or when > now_us:
            return None
        period = self.period_us
        behind = (now_us - when) // period
        if behind > MAX_CATCH_UP:
            self.skipped_steps += behind
            when += behind * period
            self.next_step_us = when
        return when

    def advance(self) -> None:
        """The step due was taken: schedule the next one."""
        if self.next_step_us is not None:
            self.next_step_us += self.period_us
