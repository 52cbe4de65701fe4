"""Errors found before any interface is touched: bad names, no tun device, a wrong device."""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vdex.errors import PortError
from vdex_plugins.tap._device import check_interface_name, open_tap


@pytest.mark.parametrize(("name", "problem"), [
    ("", "is empty"),
    ("a" * 16, "is 16 bytes long (at most 15)"),
    ("\u00e9" * 8, "is 16 bytes long"),
    (".", "is reserved"),
    ("..", "is reserved"),
    ("a/b", "contains"),
    ("a:b", "contains"),
    ("a b", "contains"),
    ("a\tb", "contains"),
    ("a\x00b", "contains"),
])
def test_bad_names(name: str, problem: str) -> None:
    with pytest.raises(PortError, match="interface name .* " + re.escape(problem)) as info:
        open_tap(name, tun_path="/nonexistent/never/opened")
    assert info.value.errno == errno.EINVAL


def test_good_names() -> None:
    assert check_interface_name("tap0") == b"tap0"
    assert check_interface_name("a" * 15) == b"a" * 15
    assert check_interface_name("vdex%d") == b"vdex%d"


@given(st.text(max_size=20))
def test_name_check_never_crashes(name: str) -> None:
    try:
        raw = check_interface_name(name)
    except PortError as exc:
        assert exc.errno == errno.EINVAL
    else:
        assert 0 < len(raw) < 16 and b"/" not in raw


def test_no_tun_device(tmp_path: Path) -> None:
    missing = tmp_path / "net" / "tun"
    with pytest.raises(PortError, match=f"{missing} does not exist: load the tun driver") as info:
        open_tap("tap0", tun_path=str(missing))
    assert info.value.errno == errno.ENOENT


def test_not_a_tun_device(tmp_path: Path) -> None:
    impostor = tmp_path / "tun"
    impostor.write_bytes(b"")
    before = len(os.listdir("/proc/self/fd"))
    with pytest.raises(PortError, match="is not the tun device") as info:
        open_tap("tap0", tun_path=str(impostor))
    assert info.value.errno == errno.ENOTTY
    assert len(os.listdir("/proc/self/fd")) == before, "the descriptor is closed on failure"
