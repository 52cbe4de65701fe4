"""Two vdex LANs in two namespaces (two "hosts" joined by a veth pair with private addresses),
each a switch with a tap, joined by a ``udp://`` cable: ping and a checked TCP transfer."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from vdex.testing import AsyncMgmtClient
from vdex.testing.lan import ping, switch_with_tap, tcp_transfer
from vdex.testing.netns import NetNsLab, netns_lab, require_root, unique_name

pytestmark = [pytest.mark.privileged, pytest.mark.slow]


@pytest.fixture
def lab() -> Iterator[NetNsLab]:
    require_root("ping")
    with netns_lab("vdex-udp") as lab:
        yield lab


async def test_udp_cable_between_two_hosts(lab: NetNsLab, sockdir: str) -> None:
    host_a, host_b = lab.add(), lab.add()
    lab.veth(host_a, "10.11.0.1/24", host_b, "10.11.0.2/24")
    dir_a, dir_b = os.path.join(sockdir, "a"), os.path.join(sockdir, "b")
    os.mkdir(dir_a)
    os.mkdir(dir_b)
    async with switch_with_tap(host_a, dir_a, unique_name("vua"), "198.18.0.1/24",
                               "-p", "udp") as mgmt_a, \
            switch_with_tap(host_b, dir_b, unique_name("vub"), "198.18.0.2/24",
                            "-p", "udp") as mgmt_b:
        async with await AsyncMgmtClient.connect(mgmt_a) as a, \
                await AsyncMgmtClient.connect(mgmt_b) as b:
            await a.ok("port/connect udp://5000->10.11.0.2:5000")
            await b.ok("port/connect udp://10.11.0.2:5000->10.11.0.1:5000")
            await ping(host_a, "198.18.0.2")
            await ping(host_b, "198.18.0.1")
            report = await tcp_transfer(host_b, host_a, "198.18.0.2", 4 << 20)
            assert report["peer"] == "198.18.0.1"
            printed = await a.ok("port/print 2")
            assert printed[4].endswith(": udp://5000->10.11.0.2:5000")
            out_frames = int(printed[3].split()[2])
            assert out_frames > (4 << 20) // 1500
