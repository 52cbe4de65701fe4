"""vdeplug4's resolution of empty and file-like VNLs, with a fake and with the real file system."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vdex.errors import ConfigError
from vdex.vnl import parse_vnl
from vdex.vnl_default import (
    DEFAULT_SWITCH_PATHS,
    VnlLookups,
    default_switch_paths,
    host_lookups,
    resolve_vnl,
)


def fake(files: dict[str, str | None], home: str | None = "/home/u") -> VnlLookups:
    """``files``: path -> first line of a regular file, or None for anything else that exists."""
    return VnlLookups(home=home, exists=files.__contains__, read_first_line=files.get)


def test_vnl_with_scheme_is_not_looked_up() -> None:
    def boom(_path: str) -> bool:
        raise AssertionError("looked up")
    lookups = VnlLookups(home="/h", exists=boom, read_first_line=boom)  # type: ignore[arg-type]
    assert resolve_vnl("vxlan://239.0.0.1", lookups) == "vxlan://239.0.0.1"


def test_empty_prefers_vdeplug_default() -> None:
    files = {"/home/u/.vdeplug/default": None, "/home/u/.vde2/default.switch": None}
    assert resolve_vnl("", fake(files)) == "/home/u/.vdeplug/default"


def test_empty_falls_back_to_vde2_default() -> None:
    assert resolve_vnl("", fake({"/home/u/.vde2/default.switch": None})) == \
        "/home/u/.vde2/default.switch"


def test_empty_without_defaults_means_the_system_switch() -> None:
    assert resolve_vnl("", fake({})) == ""
    assert resolve_vnl("", fake({"/home/u/.vdeplug/default": None}, home=None)) == ""
    assert default_switch_paths(parse_vnl("").path) == DEFAULT_SWITCH_PATHS == (
        "/var/run/vde.ctl", "/tmp/vde.ctl")
    assert default_switch_paths("/tmp/sw") == ("/tmp/sw",)


def test_default_file_holds_a_vnl() -> None:
    files = {"/home/u/.vdeplug/default": "vxlan://239.1.2.3/vni=7"}
    assert resolve_vnl("", fake(files)) == "vxlan://239.1.2.3/vni=7"


def test_any_regular_file_holds_a_vnl_once() -> None:
    files: dict[str, str | None] = {"/etc/net/lan": "/etc/net/other", "/etc/net/other": "tap://t"}
    assert resolve_vnl("/etc/net/lan", fake(files)) == "/etc/net/other"


def test_empty_first_line_is_an_error() -> None:
    with pytest.raises(ConfigError, match="first line is empty"):
        resolve_vnl("/etc/net/lan", fake({"/etc/net/lan": ""}))


@given(st.text(max_size=30))
def test_resolve_never_crashes(text: str) -> None:
    files: dict[str, str | None] = {text: "null://", "/home/u/.vdeplug/default": None}
    assert resolve_vnl(text, fake(files)) in (text, "null://", "/home/u/.vdeplug/default")


# ---------------------------------------------------------------------------- the real host


def test_host_lookups(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / ".vde2").mkdir(parents=True)
    lookups = host_lookups({"HOME": str(home)})
    assert resolve_vnl("", lookups) == ""

    switch_dir = tmp_path / "sw"
    switch_dir.mkdir()
    (home / ".vde2" / "default.switch").symlink_to(switch_dir)
    assert resolve_vnl("", lookups) == str(home / ".vde2" / "default.switch")

    (home / ".vdeplug").mkdir()
    (home / ".vdeplug" / "default").symlink_to(tmp_path / "dangling")
    assert resolve_vnl("", lookups) == str(home / ".vdeplug" / "default")

    (tmp_path / "dangling").write_bytes(b"udp://5000->127.0.0.1:5001\r\nsecond line\n")
    assert resolve_vnl("", lookups) == "udp://5000->127.0.0.1:5001"

    (tmp_path / "dangling").write_bytes(b"\n")
    with pytest.raises(ConfigError, match="first line is empty"):
        resolve_vnl("", lookups)

    assert resolve_vnl(str(tmp_path / "missing"), lookups) == str(tmp_path / "missing")
    assert resolve_vnl("/tmp/a\x00b", lookups) == "/tmp/a\x00b"
    assert resolve_vnl("", host_lookups({})) in ("", os.path.expanduser("~/.vdeplug/default"),
                                                 os.path.expanduser("~/.vde2/default.switch"))


def test_unreadable_file_is_a_clear_error() -> None:
    # a regular file whose read fails, whoever we are: offset 0 of our own memory is unmapped
    with pytest.raises(ConfigError, match="cannot read the VNL in /proc/self/mem"):
        resolve_vnl("/proc/self/mem", host_lookups({}))
