"""The wirefilter model: what happens to each frame on an emulated link, without any I/O.

Time and randomness are arguments: ``now`` is in seconds (float, any epoch) and is kept to the
microsecond; ``rng`` is a :class:`random.Random`, so a seeded run is repeatable. A driver calls

* :meth:`WireFilterModel.submit` for every frame read, and sends the frames it returns at once;
* :meth:`WireFilterModel.handle_timer` when :meth:`WireFilterModel.next_deadline` has come, and
  sends the ``(direction, frame)`` pairs it returns, in order;
* :meth:`WireFilterModel.accepting` before reading more input (speed back-pressure).

Per frame, as wirefilter does (spec §2.3): MTU, loss (Bernoulli or Gilbert), duplication, then per
copy channel buffer, speed, bandwidth and delay; noise when the frame leaves. Deliberate fixes:

* the MTU is compared with the frame length (wirefilter compares length + 2);
* the FIFO watermark is kept per direction, and in FIFO mode a frame with no delay waits for the
  frames of its direction already queued instead of overtaking them;
* timers keep microseconds (wirefilter truncates to milliseconds);
* noise flips a binomial number of distinct bits inside the frame (wirefilter's loop spins forever
  once the per-frame probability reaches 1 and may pick bits past the end);
* duplicates are drawn in O(1) and capped at :data:`MAX_COPIES` (100% would loop forever);
* speed composes with bandwidth store-and-forward: a frame joins the bandwidth queue once it has
  been serialised (wirefilter lets the bandwidth delay overwrite the serialisation delay);
* a frame that arrives while the interface is still serialising waits in a per-direction input
  backlog (drivers that can stop reading never let it grow beyond one read; the switch stage
  bounds it and counts the overflow);
* a mean burst length below 1 is taken as 1 (a burst has at least one frame);
* ``chanbufsize`` limits only the frames that have to wait, and a frame it refuses takes no
  serialisation or bandwidth time (wirefilter also refuses a frame larger than the buffer when
  it would have left at once).

Sizes for the channel buffer, speed and bandwidth count the 2-byte VDE stream header, as
wirefilter does, so the same settings give the same timing.
"""

from __future__ import annotations

import heapq
import random
from collections import deque
from collections.abc import Callable

import attrs

from ._draws import flip_positions, geometric_extra
from ._markov import MarkovChain
from ._values import Param, WireValue

US = 1_000_000
MAX_COPIES = 100
"""At most this many copies of one frame (``dup`` of 100% or more sends exactly this many)."""
STREAM_OVERHEAD = 2
BITS_PER_MIB = 8 << 20

_LOSS = int(Param.LOSS)
_LOSTBURST = int(Param.LOSTBURST)
_DELAY = int(Param.DELAY)
_DUP = int(Param.DUP)
_BAND = int(Param.BAND)
_SPEED = int(Param.SPEED)
_NOISE = int(Param.NOISE)
_MTU = int(Param.MTU)
_CAPACITY = int(Param.CAPACITY)
_NEVER = -(1 << 62)

_HEAP, _MARKOV, _GATE = 0, 1, 2


def to_us(t: float) -> int:
    return round(t * US)


@attrs.define(eq=False, slots=True)
class DirectionStats:
    """What happened to the frames of one direction. All counts are frames."""

    received: int = 0
    delivered: int = 0
    """Frames sent out, duplicates included."""
    duplicated: int = 0
    """Extra copies made by ``dup``."""
    noisy: int = 0
    """Frames sent with at least one flipped bit."""
    flipped_bits: int = 0
    drop_mtu: int = 0
    drop_loss: int = 0
    drop_chanbuf: int = 0
    """Refused because the queue held ``chanbufsize`` bytes or more."""
    drop_speed: int = 0
    """A speed draw of zero or less (a negative jitter can give one)."""
    drop_bandwidth: int = 0
    """A bandwidth draw of zero or less."""
    drop_backlog: int = 0
    """Arrived while the input backlog was full (speed back-pressure on a switch port)."""
    drop_flushed: int = 0
    """Still queued when the filter was cleared (port down, filter removed)."""

    @property
    def dropped(self) -> int:
        return (self.drop_mtu + self.drop_loss + self.drop_chanbuf + self.drop_speed
                + self.drop_bandwidth + self.drop_backlog + self.drop_flushed)

    def as_dict(self) -> dict[str, int]:
        return attrs.asdict(self)


def _two_stats() -> tuple[DirectionStats, DirectionStats]:
    return DirectionStats(), DirectionStats()


@attrs.define(eq=False, kw_only=True)
class WireFilterModel:
    """One emulated link with two directions (``LR`` = 0, ``RL`` = 1)."""

    rng: random.Random = attrs.Factory(random.Random)
    fifo: bool = True
    overhead: int = STREAM_OVERHEAD
    """Bytes added to each frame's length for chanbufsize, speed and bandwidth."""
    backlog_limit: int | None = None
    """Frames an input direction may hold while serialising (None: unbounded)."""
    markov: MarkovChain = attrs.Factory(MarkovChain)
    stats: tuple[DirectionStats, DirectionStats] = attrs.Factory(_two_stats)
    on_node_change: Callable[[int, int], None] | None = None
    """``on_node_change(old, new)`` when a Markov step changes the node (for debug output)."""

    _heap: list[tuple[int, int, int, bytes]] = attrs.Factory(list)
    """``(when_us, seq, direction, frame)``."""
    _seq: int = 0
    _maxwhen: list[int] = attrs.Factory(lambda: [_NEVER, _NEVER])
    _qbytes: list[int] = attrs.Factory(lambda: [0, 0])
    _qframes: list[int] = attrs.Factory(lambda: [0, 0])
    _next_speed: list[float] = attrs.Factory(lambda: [float(_NEVER), float(_NEVER)])
    _next_band: list[float] = attrs.Factory(lambda: [float(_NEVER), float(_NEVER)])
    _faulty: list[bool] = attrs.Factory(lambda: [False, False])
    _backlog: tuple[deque[bytes], deque[bytes]] = attrs.Factory(lambda: (deque(), deque()))
    _transparent_version: int = -1
    _transparent: list[bool] = attrs.Factory(lambda: [True, True])

    # ------------------------------------------------------------------ configuration

    def set_value(self, param: int, directions: tuple[int, ...], node: int, value: WireValue) -> None:
        self.markov.set_value(param, directions, node, value)

    def value(self, param: int, direction: int, node: int | None = None) -> WireValue:
        chain = self.markov
        return chain.nodes[chain.current if node is None else node][param][direction]

    # ------------------------------------------------------------------ queries

    def queued_bytes(self, direction: int) -> int:
        """Bytes (with their stream headers) in the delay queue of ``direction``."""
        return self._qbytes[direction]

    def queued_frames(self, direction: int | None = None) -> int:
        if direction is None:
            return len(self._heap)
        return self._qframes[direction]

    def backlog(self, direction: int) -> int:
        return len(self._backlog[direction])

    def transparent(self, direction: int) -> bool:
        """True if frames of ``direction`` would pass untouched and at once (a driver may then
        relay them without calling :meth:`submit`, and report them with
        :meth:`count_passthrough`)."""
        chain = self.markov
        if self._transparent_version != chain.version:
            params = chain.params
            self._transparent = [
                not any(row[d].active for row in params) for d in (0, 1)
            ]
            self._transparent_version = chain.version
        return (self._transparent[direction] and not self._qframes[direction]
                and not self._backlog[direction] and not self._faulty[direction])

    def count_passthrough(self, direction: int, frames: int) -> None:
        st = self.stats[direction]
        st.received += frames
        st.delivered += frames

    def accepting(self, direction: int, now: float) -> bool:
        """May the driver read more input for ``direction``? (False while serialising.)"""
        return not self._backlog[direction] and to_us(now) >= round(self._next_speed[direction])

    def input_resume_time(self, direction: int) -> float:
        """When input for ``direction`` is due to be accepted again (seconds)."""
        return round(self._next_speed[direction]) / US

    def next_deadline(self) -> float | None:
        """When :meth:`handle_timer` has work to do (seconds), or None."""
        best = self._heap[0][0] if self._heap else None
        step = self.markov.next_step_us
        if step is not None and (best is None or step < best):
            best = step
        for d in (0, 1):
            if self._backlog[d]:
                gate = round(self._next_speed[d])
                if best is None or gate < best:
                    best = gate
        return None if best is None else best / US

    # ------------------------------------------------------------------ frames in

    def submit(self, direction: int, frame: bytes, now: float) -> tuple[bytes, ...]:
        """A frame arrived; return the frames (copies) to send at once, after noise."""
        t = to_us(now)
        self.stats[direction].received += 1
        backlog = self._backlog[direction]
        if backlog or t < round(self._next_speed[direction]):
            limit = self.backlog_limit
            if limit is not None and len(backlog) >= limit:
                self.stats[direction].drop_backlog += 1
            else:
                backlog.append(frame)
            return ()
        out: list[bytes] = []
        self._process(direction, frame, t, out)
        return tuple(out)

    def handle_timer(self, now: float) -> list[tuple[int, bytes]]:
        """Everything due by ``now``, in time order: queued frames out, Markov steps, and frames
        waiting behind the speed gate; returns the frames to send, oldest first."""
        t = to_us(now)
        out: list[tuple[int, bytes]] = []
        heap = self._heap
        chain = self.markov
        while True:
            when = heap[0][0] if heap and heap[0][0] <= t else None
            kind = _HEAP
            step = chain.due(t)
            if step is not None and (when is None or step < when):
                when, kind = step, _MARKOV
            gate_dir = -1
            for d in (0, 1):
                if self._backlog[d]:
                    gate = round(self._next_speed[d])
                    if gate <= t and (when is None or gate < when):
                        when, kind, gate_dir = gate, _GATE, d
            if when is None:
                return out
            if kind == _HEAP:
                _when, _seq, d, frame = heapq.heappop(heap)
                self._qframes[d] -= 1
                self._qbytes[d] -= len(frame) + self.overhead
                out.append((d, self._emit(d, frame)))
            elif kind == _MARKOV:
                chain.advance()
                change = chain.step(self.rng)
                if change is not None and self.on_node_change is not None:
                    self.on_node_change(*change)
            else:
                frame = self._backlog[gate_dir].popleft()
                copies: list[bytes] = []
                self._process(gate_dir, frame, when, copies)
                out.extend((gate_dir, c) for c in copies)

    def clear(self) -> int:
        """Drop every queued and backlogged frame (the link went down); return how many."""
        dropped = len(self._heap)
        for _w, _s, d, _f in self._heap:
            self.stats[d].drop_flushed += 1
        self._heap.clear()
        for d in (0, 1):
            dropped += len(self._backlog[d])
            self.stats[d].drop_flushed += len(self._backlog[d])
            self._backlog[d].clear()
            self._qbytes[d] = self._qframes[d] = 0
        return dropped

    # ------------------------------------------------------------------ the algorithm

    def _process(self, d: int, frame: bytes, t: int, out: list[bytes]) -> None:
        p = self.markov.nodes[self.markov.current]
        st = self.stats[d]
        rng = self.rng
        n = len(frame)
        size = n + self.overhead

        mtu = p[_MTU][d]
        if mtu.value > 0:
            limit = mtu.value - mtu.plus
            if limit > 0 and n > limit:
                st.drop_mtu += 1
                return

        loss = p[_LOSS][d]
        if loss.value - loss.plus >= 100:
            st.drop_loss += 1
            return
        burst = p[_LOSTBURST][d]
        if burst.value + burst.plus > 0:
            lost = self._gilbert(d, loss.draw(rng) / 100.0, burst.draw(rng))
        else:
            self._faulty[d] = False
            lost = loss.value + loss.plus > 0 and rng.random() < loss.draw(rng) / 100.0
        if lost:
            st.drop_loss += 1
            return

        copies = 1
        dup = p[_DUP][d]
        if dup.value + dup.plus > 0:
            extra = geometric_extra(rng, dup.draw(rng) / 100.0, MAX_COPIES - 1)
            copies += extra
            st.duplicated += extra

        cap, speed, band, delay = p[_CAPACITY][d], p[_SPEED][d], p[_BAND][d], p[_DELAY][d]
        for copy in range(copies):
            ready = float(t)
            next_speed = next_band = None
            if speed.value + speed.plus > 0:
                s = speed.draw(rng)
                if s <= 0:
                    st.drop_speed += copies - copy
                    return
                ready = next_speed = max(ready, self._next_speed[d]) + size * US / s
            if band.value + band.plus > 0:
                bw = band.draw(rng)
                if bw <= 0:
                    st.drop_bandwidth += copies - copy
                    return
                ready = next_band = max(ready, self._next_band[d]) + size * US / bw
            if delay.value + delay.plus > 0:
                extra_ms = delay.draw(rng)
                if extra_ms > 0:
                    ready += extra_ms * 1000.0
            when = round(ready)
            if self.fifo:
                if when < self._maxwhen[d]:
                    when = self._maxwhen[d]
                immediate = when <= t and not self._qframes[d]
            else:
                immediate = when <= t
            if (not immediate and cap.value + cap.plus > 0
                    and self._qbytes[d] + size > cap.draw(rng)):
                st.drop_chanbuf += copies - copy
                return
            if next_speed is not None:
                self._next_speed[d] = next_speed
            if next_band is not None:
                self._next_band[d] = next_band
            if when > self._maxwhen[d]:
                self._maxwhen[d] = when
            if immediate:
                out.append(self._emit(d, frame))
            else:
                self._seq += 1
                heapq.heappush(self._heap, (when, self._seq, d, frame))
                self._qframes[d] += 1
                self._qbytes[d] += size

    def _gilbert(self, d: int, loss: float, burst: float) -> bool:
        """One step of the Gilbert model: OK->FAULTY with alpha = l/(b(1-l)), back with 1/b."""
        if loss >= 1.0:
            self._faulty[d] = True
            return True
        b = burst if burst > 1.0 else 1.0
        if self._faulty[d]:
            if self.rng.random() < 1.0 / b:
                self._faulty[d] = False
        elif loss > 0 and self.rng.random() < loss / (b * (1.0 - loss)):
            self._faulty[d] = True
        return self._faulty[d]

    def _emit(self, d: int, frame: bytes) -> bytes:
        """A frame leaves: count it and apply the noise of the current node."""
        st = self.stats[d]
        st.delivered += 1
        noise = self.markov.nodes[self.markov.current][_NOISE][d]
        if noise.value + noise.plus <= 0:
            return frame
        per_mib = noise.draw(self.rng)
        if per_mib <= 0:
            return frame
        buf: bytearray | None = None
        flips = 0
        for pos in flip_positions(self.rng, len(frame) * 8, per_mib / BITS_PER_MIB):
            if buf is None:
                buf = bytearray(frame)
            buf[pos >> 3] ^= 1 << (pos & 7)
            flips += 1
        if buf is None:
            return frame
        st.noisy += 1
        st.flipped_bits += flips
        return bytes(buf)
