"""Real taps inside a network namespace each test creates: create, attach, exchange, refuse."""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from tap_netns import NetNs

pytestmark = pytest.mark.privileged

NOBODY = 65534
ARP = {"my_ip": "10.99.0.2", "their_ip": "10.99.0.1"}


def test_create_configure_and_answer_arp(netns: NetNs) -> None:
    result = netns.run_python("tap_probe.py", {
        "name": "vdextap0",
        "configure": {"mtu": 1400, "addresses": ["10.99.0.1/24", "fd00:99::1/64"]},
        "show": True, "arp": ARP})
    assert "configure_error" not in result
    assert (result["name"], result["existed"], result["blocking"]) == ("vdextap0", False, False)
    shown = result["show"]
    assert shown["mtu"] == 1400 and "UP" in shown["flags"]
    assert {(a["local"], a["prefixlen"]) for a in shown["addr_info"]} >= {
        ("10.99.0.1", 24), ("fd00:99::1", 64)}
    tap_mac = shown["address"].replace(":", "")
    assert result["arp"] == {
        "dst_mac": "020000000002", "src_mac": tap_mac, "sender_mac": tap_mac,
        "sender_ip": "10.99.0.1", "target_mac": "020000000002", "target_ip": "10.99.0.2",
        "length": 42}
    assert not netns.link_exists("vdextap0"), "closing a tap we created deletes it"


def test_kernel_picks_the_number(netns: NetNs) -> None:
    result = netns.run_python("tap_probe.py", {"name": "vdext%d"})
    assert result["name"] == "vdext0" and result["existed"] is False


def test_attach_persistent_tap_owned_by_the_user(netns: NetNs) -> None:
    netns.ip("tuntap", "add", "dev", "vdexpt0", "mode", "tap", "user", str(NOBODY))
    netns.ip("addr", "add", "10.99.0.1/24", "dev", "vdexpt0")
    netns.ip("link", "set", "vdexpt0", "up")
    result = netns.run_python("tap_probe.py", {
        "name": "vdexpt0", "preopen": True, "uid": NOBODY, "arp": ARP,
        "configure": {"mtu": 1300}})
    assert result["existed"] is True and result["name"] == "vdexpt0"
    assert result["arp"]["sender_ip"] == "10.99.0.1"
    # the owner may use the tap but not reconfigure the link: a clear error, not a crash
    assert result["configure_error"]["errno"] == errno.EPERM
    assert "set MTU 1300" in result["configure_error"]["error"]
    assert "CAP_NET_ADMIN" in result["configure_error"]["error"]
    assert netns.link_exists("vdexpt0"), "a persistent tap outlives its descriptor"


def test_creating_without_cap_net_admin_is_not_permitted(netns: NetNs) -> None:
    result = netns.run_python("tap_probe.py", {"name": "vdexnp0", "preopen": True, "uid": NOBODY})
    assert result["errno"] == errno.EPERM
    assert "creating tap 'vdexnp0' is not permitted" in result["error"]
    assert "CAP_NET_ADMIN" in result["error"] and "ip tuntap add dev vdexnp0" in result["error"]
    assert not netns.link_exists("vdexnp0")


def test_another_users_tap_is_not_permitted(netns: NetNs) -> None:
    # without a user or group, anyone who can open /dev/net/tun may attach: give it an owner
    netns.ip("tuntap", "add", "dev", "vdexroot0", "mode", "tap", "user", "0")
    result = netns.run_python("tap_probe.py", {"name": "vdexroot0", "preopen": True,
                                               "uid": NOBODY})
    assert result["errno"] == errno.EPERM
    assert "exists and belongs to another user" in result["error"]


def test_busy_tap(netns: NetNs) -> None:
    result = netns.run_python("tap_probe.py", {"name": "vdexbusy0", "hold": True})
    assert result["errno"] == errno.EBUSY
    assert "already open elsewhere" in result["error"]


def test_name_used_by_a_veth(netns: NetNs) -> None:
    netns.ip("link", "add", "vdexve0", "type", "veth", "peer", "name", "vdexve1")
    result = netns.run_python("tap_probe.py", {"name": "vdexve0"})
    assert result["errno"] == errno.EINVAL
    assert "in use by a veth interface" in result["error"] and "ip link del vdexve0" in result["error"]


def test_name_used_by_a_tun(netns: NetNs) -> None:
    netns.ip("tuntap", "add", "dev", "vdextun0", "mode", "tun")
    result = netns.run_python("tap_probe.py", {"name": "vdextun0"})
    assert result["errno"] == errno.EINVAL
    assert "tun device of another type" in result["error"]


@pytest.fixture
def private_device_file() -> Iterator[Path]:
    """A root-owned 0600 file in a directory anyone may enter: stands in for a tun device
    node the user may not open, whatever the mode of the real /dev/net/tun."""
    directory = Path(tempfile.mkdtemp(prefix="vdex-tap-"))
    try:
        directory.chmod(0o755)
        node = directory / "tun"
        node.touch(mode=0o600)
        assert stat.S_IMODE(node.stat().st_mode) == 0o600 and node.stat().st_uid == os.geteuid()
        yield node
    finally:
        for child in directory.iterdir():
            child.unlink()
        directory.rmdir()


def test_no_permission_on_the_tun_device(netns: NetNs, private_device_file: Path) -> None:
    result = netns.run_python("tap_probe.py", {"name": "vdexacc0", "uid": NOBODY,
                                               "tun_path": str(private_device_file)})
    assert result["errno"] == errno.EACCES
    assert result["error"].startswith(f"no permission to open {private_device_file}: run as root")
