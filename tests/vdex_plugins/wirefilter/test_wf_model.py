"""The model under a fake clock: timing is exact to the microsecond, statistics within tolerance."""

from __future__ import annotations

import math
import random
from collections.abc import Iterable

import pytest

from vdex_plugins.wirefilter._model import MAX_COPIES, WireFilterModel
from vdex_plugins.wirefilter._values import LR, RL, Param, parse_value


def model(*settings: tuple[Param, str], seed: int = 1, fifo: bool = True,
          backlog_limit: int | None = None) -> WireFilterModel:
    m = WireFilterModel(rng=random.Random(seed), fifo=fifo, backlog_limit=backlog_limit)
    for param, text in settings:
        parsed = parse_value(text, nodes=m.markov.size)
        m.set_value(param, parsed.directions, parsed.node, parsed.value)
    return m


def frame(n: int, size: int = 60) -> bytes:
    return n.to_bytes(4, "big") + bytes(size - 4)


def seq(f: bytes) -> int:
    return int.from_bytes(f[:4], "big")


def run_timers(m: WireFilterModel, until: float = math.inf) -> list[tuple[float, int, bytes]]:
    """Fire every deadline up to ``until`` exactly on time: ``(time, direction, frame)``."""
    out = []
    while (deadline := m.next_deadline()) is not None and deadline <= until:
        out += [(deadline, d, f) for d, f in m.handle_timer(deadline)]
    return out


def us(t: float) -> int:
    return round(t * 1e6)


# ---------------------------------------------------------------------- delay and jitter


def test_delay_is_exact_to_the_microsecond() -> None:
    m = model((Param.DELAY, "50"))
    assert m.submit(LR, frame(1), 1000.0) == ()
    assert m.next_deadline() == pytest.approx(1000.05, abs=1e-9)
    assert m.handle_timer(1000.049999) == []
    assert m.handle_timer(1000.05) == [(LR, frame(1))]
    assert m.next_deadline() is None


def test_fractional_millisecond_delays_keep_microseconds() -> None:
    m = model((Param.DELAY, "0.25"))
    m.submit(LR, frame(1), 2.0)
    assert us(m.next_deadline() or 0) == us(2.00025)


def test_no_parameter_sends_at_once_and_untouched() -> None:
    m = model()
    assert m.submit(LR, frame(7), 0.0) == (frame(7),)
    assert m.submit(RL, frame(8), 0.0) == (frame(8),)
    assert m.transparent(LR) and m.transparent(RL)
    assert m.stats[LR].delivered == 1 and m.stats[RL].delivered == 1


def test_directions_are_independent() -> None:
    m = model((Param.DELAY, "LR100"), (Param.DELAY, "RL10"))
    m.submit(LR, frame(1), 0.0)
    m.submit(RL, frame(2), 0.0)
    assert [(us(t), d, seq(f)) for t, d, f in run_timers(m)] == [(10_000, RL, 2), (100_000, LR, 1)]


@pytest.mark.parametrize("fifo", [True, False])
def test_uniform_jitter_stays_within_bounds(fifo: bool) -> None:
    m = model((Param.DELAY, "100+20U"), fifo=fifo, seed=3)
    sent = {}
    for i in range(2000):
        t = i * 0.002
        sent[i] = t
        m.submit(LR, frame(i), t)
    latencies = [t - sent[seq(f)] for t, _d, f in run_timers(m)]
    assert len(latencies) == 2000
    if fifo:  # waiting for earlier frames can only add delay, up to the largest jitter
        assert all(0.080 - 1e-9 <= x <= 0.120 + 1e-9 for x in latencies)
    else:
        assert min(latencies) >= 0.080 - 1e-9 and max(latencies) < 0.120
        assert min(latencies) < 0.0805 and max(latencies) > 0.1195


def test_normal_jitter_has_sigma_j_over_3() -> None:
    m = model((Param.DELAY, "100+30N"), fifo=False, seed=4)
    for i in range(5000):
        m.submit(LR, frame(i), 10.0)
    latencies = [t - 10.0 for t, _d, _f in run_timers(m)]
    mean = sum(latencies) / len(latencies)
    sd = math.sqrt(sum((x - mean) ** 2 for x in latencies) / len(latencies))
    assert mean == pytest.approx(0.100, abs=0.0006)
    assert sd == pytest.approx(0.010, rel=0.05)


def test_negative_jitter_is_clamped_to_no_delay() -> None:
    m = model((Param.DELAY, "0+10U"), fifo=False, seed=5)
    immediate = sum(bool(m.submit(LR, frame(i), 0.0)) for i in range(1000))
    later = run_timers(m)
    assert immediate + len(later) == 1000
    assert 430 < immediate < 570  # half the draws are negative
    assert all(0 < t < 0.010 for t, _d, _f in later)


# ---------------------------------------------------------------------- FIFO


def test_fifo_keeps_order_within_a_direction() -> None:
    m = model((Param.DELAY, "100+50U"), seed=6)
    for i in range(500):
        m.submit(LR, frame(i), i * 0.001)
    released = run_timers(m)
    assert [seq(f) for _t, _d, f in released] == list(range(500))
    times = [t for t, _d, _f in released]
    assert times == sorted(times)


def test_no_fifo_lets_frames_overtake() -> None:
    m = model((Param.DELAY, "100+50U"), fifo=False, seed=6)
    for i in range(500):
        m.submit(LR, frame(i), i * 0.001)
    order = [seq(f) for _t, _d, f in run_timers(m)]
    assert sorted(order) == list(range(500)) and order != list(range(500))


def test_fifo_watermark_is_per_direction() -> None:
    """wirefilter shares one watermark: a long LR queue held back RL frames. Not here."""
    m = model((Param.DELAY, "LR1000"), (Param.DELAY, "RL5"))
    m.submit(LR, frame(1), 0.0)
    m.submit(RL, frame(2), 0.0)
    assert [(us(t), d) for t, d, _f in run_timers(m)] == [(5_000, RL), (1_000_000, LR)]


def test_fifo_frame_without_delay_does_not_overtake_queued_ones() -> None:
    m = model((Param.DELAY, "100"))
    m.submit(LR, frame(1), 0.0)
    m.set_value(Param.DELAY, (LR, RL), 0, parse_value("0").value)
    assert m.submit(LR, frame(2), 0.010) == ()  # waits behind frame 1
    assert m.submit(RL, frame(3), 0.010) == (frame(3),)  # the other direction is free
    assert [(us(t), seq(f)) for t, _d, f in run_timers(m)] == [(100_000, 1), (100_000, 2)]
    assert m.submit(LR, frame(4), 0.2) == (frame(4),)


def test_without_fifo_a_frame_without_delay_goes_at_once() -> None:
    m = model((Param.DELAY, "100"), fifo=False)
    m.submit(LR, frame(1), 0.0)
    m.set_value(Param.DELAY, (LR, RL), 0, parse_value("0").value)
    assert m.submit(LR, frame(2), 0.010) == (frame(2),)


# ---------------------------------------------------------------------- bandwidth and chanbufsize


def test_bandwidth_spaces_frames_by_size_over_bandwidth() -> None:
    m = model((Param.BAND, "100000"))  # 998-byte frames: 1000 bytes with the stream header
    for i in range(10):
        assert m.submit(LR, frame(i, 998), 0.0) == ()
        assert m.accepting(LR, 0.0)  # the sender never notices a bandwidth limit
    released = run_timers(m)
    assert [us(t) for t, _d, _f in released] == [10_000 * (i + 1) for i in range(10)]
    assert [seq(f) for _t, _d, f in released] == list(range(10))


def test_bandwidth_queue_restarts_after_idle() -> None:
    m = model((Param.BAND, "1000"))
    m.submit(LR, frame(1, 98), 0.0)
    m.submit(LR, frame(2, 98), 5.0)
    assert [us(t) for t, _d, _f in run_timers(m)] == [100_000, 5_100_000]


def test_bandwidth_with_delay_adds_both() -> None:
    m = model((Param.BAND, "100000"), (Param.DELAY, "50"))
    for i in range(3):
        m.submit(LR, frame(i, 998), 0.0)
    assert [us(t) for t, _d, _f in run_timers(m)] == [60_000, 70_000, 80_000]


def test_chanbufsize_drops_the_tail_of_a_burst() -> None:
    """The reference measurement: -b 100000 -c 10000, 100 frames of 998 bytes: exactly 10."""
    m = model((Param.BAND, "100000"), (Param.CAPACITY, "10000"))
    for i in range(100):
        m.submit(LR, frame(i, 998), 0.0)
    released = run_timers(m)
    assert [seq(f) for _t, _d, f in released] == list(range(10))
    assert m.stats[LR].drop_chanbuf == 90
    assert m.queued_bytes(LR) == 0


def test_chanbufsize_counts_queued_bytes_with_headers() -> None:
    m = model((Param.DELAY, "10"), (Param.CAPACITY, "306"))
    for i in range(4):
        m.submit(LR, frame(i, 100), 0.0)
    assert m.queued_bytes(LR) == 306 and m.queued_frames(LR) == 3
    assert m.stats[LR].drop_chanbuf == 1


def test_chanbufsize_alone_never_drops() -> None:
    m = model((Param.CAPACITY, "100"))
    assert all(m.submit(LR, frame(i, 1000), 0.0) for i in range(50))
    assert m.stats[LR].drop_chanbuf == 0


# ---------------------------------------------------------------------- speed


def test_speed_serialises_and_pushes_back() -> None:
    m = model((Param.SPEED, "100000"))
    assert m.submit(LR, frame(0, 998), 0.0) == ()
    assert not m.accepting(LR, 0.0) and not m.accepting(LR, 0.009999)
    assert m.input_resume_time(LR) == pytest.approx(0.010)
    for i in range(1, 5):  # arrivals while busy wait in the input backlog
        assert m.submit(LR, frame(i, 998), 0.001) == ()
    assert m.backlog(LR) == 4
    released = run_timers(m)
    assert [us(t) for t, _d, _f in released] == [10_000, 20_000, 30_000, 40_000, 50_000]
    assert [seq(f) for _t, _d, f in released] == list(range(5))
    assert m.accepting(LR, 0.05)


def test_speed_delay_does_not_accumulate_when_input_waits() -> None:
    """Each frame is late by its own serialisation time only (the sender was held back)."""
    m = model((Param.SPEED, "1000"))
    m.submit(LR, frame(0, 98), 0.0)
    assert run_timers(m) == [(pytest.approx(0.1), LR, frame(0, 98))]
    m.submit(LR, frame(1, 98), 0.5)
    assert [us(t) for t, _d, _f in run_timers(m)] == [600_000]


def test_speed_then_bandwidth_spacing_is_the_slower_one() -> None:
    """-s 100000 -b 50000 gives 20 ms spacing, as measured on wirefilter."""
    m = model((Param.SPEED, "100000"), (Param.BAND, "50000"))
    for i in range(5):
        m.submit(LR, frame(i, 998), 0.0)
    times = [us(t) for t, _d, _f in run_timers(m)]
    assert [b - a for a, b in zip(times, times[1:], strict=False)] == [20_000] * 4
    assert times[0] == 30_000  # serialised (10 ms), then through the bottleneck (20 ms)


def test_speed_backlog_limit_counts_drops() -> None:
    m = model((Param.SPEED, "1000"), backlog_limit=2)
    for i in range(5):
        m.submit(LR, frame(i, 98), 0.0)
    assert m.backlog(LR) == 2 and m.stats[LR].drop_backlog == 2
    assert [seq(f) for _t, _d, f in run_timers(m)] == [0, 1, 2]


def test_zero_speed_or_bandwidth_draw_drops() -> None:
    m = model((Param.SPEED, "0+100U"), seed=9)
    for i in range(200):
        m.submit(LR, frame(i), i * 10.0)
        run_timers(m)
    assert 60 < m.stats[LR].drop_speed < 140


# ---------------------------------------------------------------------- MTU, dup, noise, loss


def test_mtu_compares_the_frame_length() -> None:
    """wirefilter drops frames above mtu-2; vdex drops frames above mtu."""
    m = model((Param.MTU, "1500"))
    assert m.submit(LR, frame(1, 1500), 0.0) == (frame(1, 1500),)
    assert m.submit(LR, frame(2, 1501), 0.0) == ()
    assert m.stats[LR].drop_mtu == 1


def test_mtu_with_jitter_uses_the_minimum() -> None:
    m = model((Param.MTU, "100+10"))
    assert m.submit(LR, frame(1, 90), 0.0)
    assert m.submit(LR, frame(2, 91), 0.0) == ()


def test_dup_rate_is_geometric() -> None:
    m = model((Param.DUP, "20"), seed=10)
    n = 20000
    copies = sum(len(m.submit(LR, frame(i), 0.0)) for i in range(n))
    mean = copies / n  # 1/(1-d) = 1.25, sd of the mean 0.004
    assert mean == pytest.approx(1.25, abs=0.016)
    assert m.stats[LR].duplicated == copies - n


def test_dup_of_one_hundred_percent_is_capped_not_endless() -> None:
    m = model((Param.DUP, "100"))
    assert len(m.submit(LR, frame(1), 0.0)) == MAX_COPIES


def test_duplicates_each_get_their_own_delay() -> None:
    m = model((Param.DUP, "100"), (Param.DELAY, "10+5U"), fifo=False, seed=11)
    m.submit(LR, frame(1), 0.0)
    times = {t for t, _d, _f in run_timers(m)}
    assert len(times) > 50


def test_noise_flips_bits_only_inside_the_frame_and_never_spins() -> None:
    m = model((Param.NOISE, "8M"))  # every bit: the frame comes out inverted
    original = bytes(range(256)) * 4
    (out,) = m.submit(LR, original, 0.0)
    assert out == bytes(b ^ 0xFF for b in original)
    assert m.stats[LR].flipped_bits == 8 * len(original)


def test_noise_rate_is_bits_per_mebibyte() -> None:
    m = model((Param.NOISE, "1024"), seed=12)  # 1024 bits per MiB = 1 bit per KiB
    n = 4000
    flips = 0
    for i in range(n):
        f = frame(i, 1024)
        (out,) = m.submit(LR, f, 0.0)
        assert len(out) == len(f)
        flips += sum(bin(a ^ b).count("1") for a, b in zip(f, out, strict=True))
    assert flips == m.stats[LR].flipped_bits
    assert flips / n == pytest.approx(1.0, abs=0.07)  # Binomial(8192, 1/8192): sd of mean 0.016


def test_noise_is_applied_when_the_frame_leaves() -> None:
    m = model((Param.DELAY, "10"))
    m.submit(LR, frame(1), 0.0)
    m.set_value(Param.NOISE, (LR,), 0, parse_value("8M").value)
    ((_t, _d, out),) = run_timers(m)
    assert out == bytes(b ^ 0xFF for b in frame(1))


def loss_runs(lost: Iterable[bool]) -> list[int]:
    runs, current = [], 0
    for x in lost:
        if x:
            current += 1
        elif current:
            runs.append(current)
            current = 0
    return runs


def test_loss_of_one_hundred_drops_everything_and_zero_nothing() -> None:
    m = model((Param.LOSS, "100"))
    assert not any(m.submit(LR, frame(i), 0.0) for i in range(100))
    m = model((Param.LOSS, "0"))
    assert all(m.submit(LR, frame(i), 0.0) for i in range(100))


def test_bernoulli_loss_rate_and_bursts() -> None:
    """-l 30: wirefilter measured loss 0.291, mean burst 1.42 (theory 1/(1-l) = 1.43)."""
    m = model((Param.LOSS, "30"), seed=13)
    n = 50000
    lost = [not m.submit(LR, frame(i), 0.0) for i in range(n)]
    rate = sum(lost) / n  # sd 0.002
    assert rate == pytest.approx(0.30, abs=0.009)
    runs = loss_runs(lost)
    assert sum(runs) / len(runs) == pytest.approx(1 / 0.7, abs=0.03)


@pytest.mark.parametrize(("loss", "burst"), [(10.0, 5.0), (30.0, 5.0), (10.0, 3.0)])
def test_gilbert_loss_rate_and_mean_burst(loss: float, burst: float) -> None:
    m = model((Param.LOSS, f"{loss:g}"), (Param.LOSTBURST, f"{burst:g}"), seed=14)
    n = 100000
    lost = [not m.submit(LR, frame(i), 0.0) for i in range(n)]
    rate = sum(lost) / n
    l_ = loss / 100
    alpha, beta = l_ / (burst * (1 - l_)), 1 / burst
    inflation = (2 - alpha - beta) / (alpha + beta)  # correlated samples: (1+lambda)/(1-lambda)
    sd = math.sqrt(l_ * (1 - l_) / n * inflation)
    assert abs(rate - l_) < 4 * sd
    runs = loss_runs(lost)
    mean_burst = sum(runs) / len(runs)
    assert abs(mean_burst - burst) < 4 * math.sqrt(burst * (burst - 1) / len(runs))


def test_burst_below_one_is_one() -> None:
    m = model((Param.LOSS, "20"), (Param.LOSTBURST, "0.2"), seed=15)
    lost = [not m.submit(LR, frame(i), 0.0) for i in range(50000)]
    assert sum(lost) / len(lost) == pytest.approx(0.20, abs=0.01)


def test_same_seed_same_run_other_seed_other_run() -> None:
    def outcome(seed: int) -> list[tuple[int, int]]:
        m = model((Param.LOSS, "20"), (Param.DUP, "10"), (Param.DELAY, "10+5N"), fifo=False,
                  seed=seed)
        for i in range(300):
            m.submit(LR, frame(i), i * 0.001)
        return [(us(t), seq(f)) for t, _d, f in run_timers(m)]

    assert outcome(42) == outcome(42)
    assert outcome(42) != outcome(43)


# ---------------------------------------------------------------------- Markov mode


def test_markov_nodes_switch_parameters_on_schedule() -> None:
    m = model()
    changes = []
    m.on_node_change = lambda old, new: changes.append((old, new))
    chain = m.markov
    chain.resize(2, us(0.0))
    parsed = parse_value("500[1]", nodes=2)
    m.set_value(Param.DELAY, parsed.directions, parsed.node, parsed.value)
    chain.set_edge(0, 1, 100)
    chain.set_edge(1, 0, 100)
    assert m.next_deadline() == pytest.approx(0.1)
    assert m.submit(LR, frame(1), 0.05) == (frame(1),)  # node 0: no delay
    assert m.handle_timer(0.1) == [] and chain.current == 1
    m.submit(LR, frame(2), 0.15)  # node 1: 500 ms
    m.handle_timer(0.2)
    assert chain.current == 0 and changes == [(0, 1), (1, 0)]
    assert m.next_deadline() == pytest.approx(0.3)
    out = []
    while (d := m.next_deadline()) is not None and d <= 0.65:
        out += [(us(d), seq(f)) for _dir, f in m.handle_timer(d)]
    assert out == [(650_000, 2)]


def test_markov_late_timer_takes_steps_at_their_own_times_without_a_burst() -> None:
    m = model()
    m.markov.resize(2, 0)
    m.markov.set_edge(0, 1, 100)
    m.markov.set_edge(1, 0, 100)
    m.handle_timer(0.35)  # three steps were due
    assert m.markov.current == 1 and m.next_deadline() == pytest.approx(0.4)
    m.handle_timer(1000.0)  # far too late: skip ahead instead of ten thousand steps
    assert m.markov.skipped_steps > 0
    assert m.next_deadline() is not None and m.next_deadline() > 1000.0 - 1e-9


def test_clear_drops_everything_queued() -> None:
    m = model((Param.DELAY, "100"), (Param.SPEED, "RL1000"))
    m.submit(LR, frame(1), 0.0)
    m.submit(RL, frame(2), 0.0)
    m.submit(RL, frame(3), 0.0)
    assert m.clear() == 3
    assert m.next_deadline() is None and m.queued_bytes(LR) == 0
    assert m.stats[LR].drop_flushed == 1 and m.stats[RL].drop_flushed == 2
