"""``vdex wirefilter`` in a real cable: Debian's dpipe, vde_plug and vde_switch around it, and the
real wirefilter in the same position for comparison."""

from __future__ import annotations

import shutil
import statistics
from collections.abc import Iterator

import pytest
from wf_lab import Arrivals, Lab, await_path, paced_run, vdex_wirefilter_argv

pytestmark = [pytest.mark.interop, pytest.mark.slow]


@pytest.fixture
def lab() -> Iterator[Lab]:
    lab = Lab.create()
    try:
        yield lab
    finally:
        lab.close()


def median_latency(result: Arrivals) -> float:
    return statistics.median(result.latencies_ms.values())


def cable_run(lab: Lab, middle: list[str], *, count: int = 100, both_ways: bool = False,
              vdex_tools: bool = False) -> tuple[Arrivals, Arrivals | None]:
    a, b = lab.switch(f"a{len(lab.switches)}"), lab.switch(f"b{len(lab.switches)}")
    cable = lab.cable(a, b, middle, vdex_tools=vdex_tools)
    left, right = lab.client(a), lab.client(b)
    await_path(left, right)
    there = paced_run(left, right, count=count, interval=0.01, size=200, settle=0.5)
    back = None
    if both_ways:
        await_path(right, left)
        back = paced_run(right, left, count=count, interval=0.01, size=200, settle=0.5)
    lab.stop_cable(cable)
    return there, back


def test_vdex_wirefilter_in_a_dpipe_cable_delays_both_ways(lab: Lab) -> None:
    there, back = cable_run(lab, vdex_wirefilter_argv("-d", "50"), both_ways=True)
    assert back is not None
    for result in (there, back):
        assert result.received == result.sent
        assert min(result.latencies_ms.values()) >= 50.0
        assert median_latency(result) < 55.0  # not early, not much late even under load


def test_all_vdex_cable_vdex_dpipe_vdex_plug_and_vdex_wirefilter(lab: Lab) -> None:
    """The issue's example: ``vdex dpipe vdex plug A = vdex wirefilter -d 50 = vdex plug B``."""
    there, back = cable_run(lab, vdex_wirefilter_argv("-d", "50"), both_ways=True,
                            vdex_tools=True)
    assert back is not None
    for result in (there, back):
        assert result.received == result.sent
        assert min(result.latencies_ms.values()) >= 50.0
        assert median_latency(result) < 55.0


def test_real_and_vdex_wirefilter_give_comparable_delay(lab: Lab) -> None:
    if shutil.which("wirefilter") is None:
        pytest.fail("wirefilter (Debian package vde2) is required")
    real, _ = cable_run(lab, ["wirefilter", "-d", "50"])
    ours, _ = cable_run(lab, vdex_wirefilter_argv("-d", "50"))
    assert real.received == real.sent and ours.received == ours.sent
    # wirefilter truncates to whole milliseconds (49-51 ms); vdex keeps microseconds. The
    # tolerance leaves room for a loaded machine; bench/wirefilter_accuracy.py measures precisely.
    assert abs(median_latency(ours) - median_latency(real)) < 5.0
    assert 50.0 <= median_latency(ours) < 55.0


def test_loss_and_duplication_through_a_real_cable(lab: Lab) -> None:
    there, _ = cable_run(lab, vdex_wirefilter_argv("-l", "20", "-D", "10", "--seed", "5"),
                         count=1000)
    lost = 1 - there.received / there.sent  # sd of the rate about 0.013
    assert lost == pytest.approx(0.20, abs=0.05)
    extra = there.copies / there.received - 1  # mean copies 1/(1-d): 0.11 extra
    assert extra == pytest.approx(0.11, abs=0.04)
