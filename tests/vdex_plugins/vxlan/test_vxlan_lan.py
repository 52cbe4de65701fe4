"""VXLAN between two "hosts" (namespaces joined by a veth pair with private addresses): two vdex
switches joined by a ``vxlan://`` cable (unicast peers, and a multicast group), and a vdex VXLAN
port talking to a Linux kernel vxlan device. Each host has a tap with an address on the LAN."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from vdex.testing import AsyncMgmtClient
from vdex.testing.lan import ping, switch_with_tap, tcp_transfer
from vdex.testing.netns import NetNs, NetNsLab, netns_lab, require_root, unique_name

pytestmark = [pytest.mark.privileged, pytest.mark.slow]

LAN_A, LAN_B = "198.18.0.1", "198.18.0.2"
UNDERLAY_A, UNDERLAY_B = "10.12.0.1", "10.12.0.2"
GROUP = "239.7.7.7"


@pytest.fixture
def lab() -> Iterator[NetNsLab]:
    require_root("ping")
    with netns_lab("vdex-vx") as lab:
        yield lab


def hosts(lab: NetNsLab) -> tuple[NetNs, NetNs, str, str]:
    host_a, host_b = lab.add(), lab.add()
    veth_a, veth_b = lab.veth(host_a, f"{UNDERLAY_A}/24", host_b, f"{UNDERLAY_B}/24")
    return host_a, host_b, veth_a, veth_b


def dirs(base: str) -> tuple[str, str]:
    a, b = os.path.join(base, "a"), os.path.join(base, "b")
    os.mkdir(a)
    os.mkdir(b)
    return a, b


async def check_lan(host_a: NetNs, host_b: NetNs) -> None:
    await ping(host_a, LAN_B)
    await ping(host_b, LAN_A)
    report = await tcp_transfer(host_b, host_a, LAN_B, 4 << 20)
    assert report["peer"] == LAN_A


@pytest.mark.parametrize("mode", ["unicast", "multicast"])
async def test_vxlan_cable_between_two_vdex_switches(lab: NetNsLab, sockdir: str,
                                                     mode: str) -> None:
    host_a, host_b, veth_a, veth_b = hosts(lab)
    if mode == "unicast":
        vnl_a, vnl_b = f"vxlan://{UNDERLAY_B}/vni=42", f"vxlan://{UNDERLAY_A}/vni=42"
    else:
        vnl_a, vnl_b = f"vxlan://{GROUP}/if={veth_a}/vni=42", f"vxlan://{GROUP}/if={veth_b}/vni=42"
    dir_a, dir_b = dirs(sockdir)
    async with switch_with_tap(host_a, dir_a, unique_name("vxa"), f"{LAN_A}/24",
                               "-p", "vxlan") as mgmt_a, \
            switch_with_tap(host_b, dir_b, unique_name("vxb"), f"{LAN_B}/24",
                            "-p", "vxlan") as mgmt_b:
        async with await AsyncMgmtClient.connect(mgmt_a) as a, \
                await AsyncMgmtClient.connect(mgmt_b) as b:
            await a.ok(f"port/connect {vnl_a}")
            await b.ok(f"port/connect {vnl_b}")
            await check_lan(host_a, host_b)
            learned = await a.ok("vxlan/print")
            # the peer's tap MAC was learned at the peer's address on port 4789
            assert any(line.strip().endswith("age 0") and f"-> {UNDERLAY_B}:4789" in line
                       for line in learned[1:]), learned


@pytest.mark.parametrize("mode", ["unicast", "multicast"])
async def test_vdex_vxlan_port_and_a_linux_vxlan_device(lab: NetNsLab, sockdir: str,
                                                        mode: str) -> None:
    host_a, host_b, veth_a, veth_b = hosts(lab)
    vx = unique_name("vxk")
    where = ["remote", UNDERLAY_A] if mode == "unicast" else ["group", GROUP]
    host_b.ip("link", "add", vx, "type", "vxlan", "id", "42", *where, "dstport", "4789",
              "dev", veth_b)
    host_b.set_tx_checksum(vx, False)  # see NetNs.set_tx_checksum: a veth is no NIC
    host_b.add_address(vx, f"{LAN_B}/24")
    vnl = f"vxlan://{UNDERLAY_B}/vni=42" if mode == "unicast" else \
        f"vxlan://{GROUP}/if={veth_a}/vni=42"
    dir_a, _ = dirs(sockdir)
    async with switch_with_tap(host_a, dir_a, unique_name("vxt"), f"{LAN_A}/24",
                               "-p", "vxlan") as mgmt_a:
        async with await AsyncMgmtClient.connect(mgmt_a) as a:
            await a.ok(f"port/connect {vnl}")
            await check_lan(host_a, host_b)
            vx_mac = host_b.link_json(vx)["address"]
            learned = await a.ok("vxlan/print")
            assert any(line.startswith(f"  {vx_mac} -> {UNDERLAY_B}:4789 ") for line in learned), \
                learned
            # the kernel learned us too (its forwarding database), from our source port 4789
            fdb = host_b.run("bridge", "fdb", "show", "dev", vx).stdout
            assert f"dst {UNDERLAY_A}" in fdb, fdb
