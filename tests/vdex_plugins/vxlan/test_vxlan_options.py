"""``vxlan://`` options as vdeplug4 reads them, with its bugs fixed."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vdex.errors import ConfigError
from vdex.vnl import parse_vnl
from vdex_plugins.vxlan._options import VxlanConfig


def config(text: str) -> VxlanConfig:
    return VxlanConfig.from_vnl(parse_vnl(text))


def test_defaults() -> None:
    assert config("vxlan://") == VxlanConfig(
        group="239.0.0.1", ip_version=None, port=4789, vni=1, ttl=1, rcvbuf=None,
        max_entries=1024, expire=128, interface=None, bind=None)


def test_man_page_example() -> None:
    got = config("vxlan://ff15::3/port=12345/vni=42")
    assert (got.group, got.port, got.vni, got.ip_version) == ("ff15::3", 12345, 42, None)


def test_v6_chooses_group_and_family() -> None:
    assert (config("vxlan:///v6").group, config("vxlan:///v6").ip_version) == ("ff05:56de::1", 6)
    assert config("vxlan://host.example/v4").ip_version == 4
    assert config("vxlan:///v4/v6").ip_version is None


def test_abbreviations_and_values() -> None:
    got = config("vxlan://239.1.1.1/p=4790/v=010/t=4/r=2M/h=64/e=60/i=eth0")
    assert (got.port, got.vni, got.ttl, got.rcvbuf, got.max_entries, got.expire,
            got.interface) == (4790, 10, 4, 2 << 20, 64, 60, "eth0")


@pytest.mark.parametrize(("text", "message"), [
    ("vxlan:///vni=16777216", "vni 16777216 is out of range"),
    ("vxlan:///vni=0x10", "not a decimal number"),
    ("vxlan:///ttl=256", "ttl 256 is out of range"),
    ("vxlan:///port=0", "port 0 is out of range"),
    ("vxlan:///port=http", "not a decimal number"),
    ("vxlan:///expiretime=0", "expiretime 0 is out of range"),
    ("vxlan:///hashsize=", "not a decimal number"),
    ("vxlan:///rcvbuf=lots", "is not a number"),
    ("vxlan:///if=a/z", "unknown key 'z'"),
    ("vxlan:///if=averyveryverylongname", "not an interface name"),
    ("vxlan:///group=x", "unknown key 'group'"),
])
def test_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config(text)


@given(st.text(max_size=40))
def test_never_crashes(args: str) -> None:
    try:
        got = config("vxlan://" + args)
    except ConfigError:
        return
    assert 0 <= got.vni < 1 << 24 and 1 <= got.port <= 65535 and got.group


def test_bind_is_a_vdex_addition_that_changes_no_vdeplug4_abbreviation() -> None:
    got = config("vxlan://127.0.0.2/bind=127.0.0.1/p=4790")
    assert (got.group, got.bind, got.port) == ("127.0.0.2", "127.0.0.1", 4790)
    assert config("vxlan://").bind is None
    # every vdeplug4 key still resolves as before: 'b' was unknown, so nothing shifts
    assert config("vxlan:///h=8/e=9/i=eth0").max_entries == 8
