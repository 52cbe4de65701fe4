"""``tap://NAME[mtu=N/up]``: the name as written (vdeplug4), an optional option block (vdex)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vdex.errors import ConfigError, PortError
from vdex_plugins.tap._target import (
    MAX_TAP_MTU,
    TapTarget,
    format_tap_target,
    mtu_problem,
    parse_tap_target,
)


@pytest.mark.parametrize(("text", "target"), [
    ("tap0", TapTarget("tap0")),
    ("vdex%d", TapTarget("vdex%d")),          # the kernel picks the number: no %XX decoding
    ("tap%41", TapTarget("tap%41")),
    ("tap0[mtu=1400]", TapTarget("tap0", mtu=1400)),
    ("tap0[up]", TapTarget("tap0", up=True)),
    ("tap0[m=1500/u]", TapTarget("tap0", mtu=1500, up=True)),
    ("tap0[]", TapTarget("tap0")),
])
def test_targets(text: str, target: TapTarget) -> None:
    assert parse_tap_target(text) == target


@pytest.mark.parametrize(("text", "error", "message"), [
    ("tap0[mtu=9000]", ConfigError, "MTU 9000 of tap 'tap0' is above 1500"),
    ("tap0[mtu=1501]", ConfigError, "set the MTU to 1500 or less"),
    ("tap0[mtu=60]", ConfigError, "below 68"),
    ("tap0[mtu=0x500]", ConfigError, "not a decimal number"),
    ("tap0[up=yes]", ConfigError, "takes no value"),
    ("tap0[speed=10]", ConfigError, "unknown key 'speed'"),
    ("tap0[mtu=1400", ConfigError, "without a closing"),
    ("", PortError, "is empty"),
    ("a/b", PortError, "contains"),
])
def test_errors(text: str, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message.replace("(", r"\(").replace("[", r"\[")):
        parse_tap_target(text)


def test_mtu_limit_is_what_a_switch_port_carries() -> None:
    assert MAX_TAP_MTU == 1500
    assert mtu_problem(1500, "t") is None and mtu_problem(68, "t") is None


names = st.text(st.characters(min_codepoint=33, max_codepoint=126, blacklist_characters="/:["),
                min_size=1, max_size=15).filter(lambda n: n not in (".", ".."))


@given(names, st.none() | st.integers(68, 1500), st.booleans())
def test_format_reads_back(name: str, mtu: int | None, up: bool) -> None:
    target = TapTarget(name, mtu=mtu, up=up)
    assert parse_tap_target(format_tap_target(target)) == target


@given(st.text(max_size=40))
def test_never_crashes(text: str) -> None:
    try:
        target = parse_tap_target(text)
    except (ConfigError, PortError):
        return
    assert 0 < len(target.name.encode()) < 16
    assert target.mtu is None or 68 <= target.mtu <= 1500
