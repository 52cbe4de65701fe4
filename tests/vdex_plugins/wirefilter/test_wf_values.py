"""The value syntax ``[LR|RL]v[+j][K|M|G][U|N][[node]]`` and its draws."""

from __future__ import annotations

import random
import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vdex_plugins.wirefilter._values import (
    BOTH,
    LR,
    RL,
    ParsedValue,
    ValueSyntaxError,
    WireValue,
    parse_value,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("100", ParsedValue(BOTH, 0, WireValue(100.0, 0.0, "U"))),
        ("LR10", ParsedValue((LR,), 0, WireValue(10.0))),
        ("RL5.5", ParsedValue((RL,), 0, WireValue(5.5))),
        ("100+20N", ParsedValue(BOTH, 0, WireValue(100.0, 20.0, "N"))),
        ("128+64KN", ParsedValue(BOTH, 0, WireValue(131072.0, 65536.0, "N"))),
        ("1M", ParsedValue(BOTH, 0, WireValue(1048576.0))),
        ("2G", ParsedValue(BOTH, 0, WireValue(2147483648.0))),
        ("64k", ParsedValue(BOTH, 0, WireValue(65536.0))),
        ("3u", ParsedValue(BOTH, 0, WireValue(3.0, 0.0, "U"))),
        ("5[1]", ParsedValue(BOTH, 1, WireValue(5.0))),
        ("LR500+10U[2]", ParsedValue((LR,), 2, WireValue(500.0, 10.0, "U"))),
        ("  20+5N \n", ParsedValue(BOTH, 0, WireValue(20.0, 5.0, "N"))),
        ("LR 10", ParsedValue((LR,), 0, WireValue(10.0))),
        ("1e3", ParsedValue(BOTH, 0, WireValue(1000.0))),
        (".5", ParsedValue(BOTH, 0, WireValue(0.5))),
    ],
)
def test_parses_what_wirefilter_accepts(text: str, expected: ParsedValue) -> None:
    assert parse_value(text, nodes=3) == expected


@pytest.mark.parametrize(
    "text",
    ["", "abc", "y 5", "10%", "-5", "10-5", "10+-5", "100 +20", "LR", "5[", "5[x]", "5]", "inf",
     "nan", "10KK", "10NU", "1e999", "5 6", "LRRL5", "0x10"],
)
def test_refuses_what_is_not_a_value(text: str) -> None:
    with pytest.raises(ValueSyntaxError):
        parse_value(text, nodes=3)


def test_node_must_exist() -> None:
    assert parse_value("5[0]", nodes=1).node == 0
    with pytest.raises(ValueSyntaxError, match="node 1 does not exist"):
        parse_value("5[1]", nodes=1)


def test_showinfo_format_is_c_percent_g() -> None:
    assert WireValue(131072.0, 65536.0, "N").format() == "131072+65536N"
    assert WireValue(1048576.0).format() == "1.04858e+06+0U"
    assert WireValue(2147483648.0).format() == "2.14748e+09+0U"
    assert WireValue(5.5).format() == "5.5+0U"


def test_uniform_draws_cover_v_plus_minus_j() -> None:
    rng = random.Random(1)
    value = WireValue(100.0, 50.0, "U")
    draws = [value.draw(rng) for _ in range(20000)]
    assert 50.0 <= min(draws) < 50.5 and 149.5 < max(draws) < 150.0
    assert statistics.fmean(draws) == pytest.approx(100.0, abs=0.7)
    assert statistics.pstdev(draws) == pytest.approx(50 / 3 ** 0.5, rel=0.02)


def test_normal_draws_have_sigma_j_over_3() -> None:
    rng = random.Random(2)
    value = WireValue(100.0, 30.0, "N")
    draws = [value.draw(rng) for _ in range(20000)]
    assert statistics.fmean(draws) == pytest.approx(100.0, abs=0.3)
    assert statistics.pstdev(draws) == pytest.approx(10.0, rel=0.03)


def test_no_spread_draws_nothing() -> None:
    class NoRandom(random.Random):
        def random(self) -> float:
            raise AssertionError("drew a random number for a value without spread")

    assert WireValue(42.0).draw(NoRandom()) == 42.0


# ---------------------------------------------------------------------- property tests

_numbers = st.one_of(
    st.integers(min_value=0, max_value=10**9).map(str),
    st.decimals(min_value=0, max_value=10**6, places=3, allow_nan=False).map(str),
)


@given(
    direction=st.sampled_from(["", "LR", "RL", "lr"]),
    value=_numbers,
    plus=st.one_of(st.none(), _numbers),
    mult=st.sampled_from(["", "K", "M", "G", "k"]),
    dist=st.sampled_from(["", "U", "N", "n"]),
    node=st.one_of(st.none(), st.integers(min_value=0, max_value=7)),
)
def test_every_grammatical_value_parses_to_its_parts(
    direction: str, value: str, plus: str | None, mult: str, dist: str, node: int | None
) -> None:
    text = direction + value + (f"+{plus}" if plus is not None else "") + mult + dist
    text += f"[{node}]" if node is not None else ""
    parsed = parse_value(text, nodes=8)
    factor = {"": 1, "K": 1024, "M": 1 << 20, "G": 1 << 30}[mult.upper()]
    assert parsed.value.value == pytest.approx(float(value) * factor)
    assert parsed.value.plus == pytest.approx(float(plus) * factor if plus is not None else 0.0)
    assert parsed.value.alg == (dist.upper() or "U")
    assert parsed.node == (node or 0)
    assert parsed.directions == {"": BOTH, "LR": (LR,), "RL": (RL,)}[direction.upper()]


@given(st.text(max_size=40))
def test_any_text_parses_or_raises_value_syntax_error(text: str) -> None:
    try:
        parsed = parse_value(text, nodes=4)
    except ValueSyntaxError as exc:
        assert str(exc)
    else:
        assert parsed.value.value >= 0 and parsed.value.plus >= 0
        assert 0 <= parsed.node < 4
