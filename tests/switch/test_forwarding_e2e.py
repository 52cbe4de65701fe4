"""A real switch in the test's trio run, real unix sockets, frames both ways."""

from __future__ import annotations

from vdex.testing import AsyncMgmtClient, AsyncVdeClient, eth_frame, mac, running_switch
from vdex.testing.frames import BROADCAST


async def test_broadcast_then_unicast_to_learnt_port(sockdir: str) -> None:
    async with running_switch(sockdir) as sw:
        async with await AsyncVdeClient.connect(sw.options.sock) as a, \
                await AsyncVdeClient.connect(sw.options.sock) as b, \
                await AsyncVdeClient.connect(sw.options.sock) as c:
            await a.send(eth_frame(BROADCAST, mac(1), b"hello"))
            assert await b.recv() == eth_frame(BROADCAST, mac(1), b"hello")
            assert await c.recv() == eth_frame(BROADCAST, mac(1), b"hello")
            await b.send(eth_frame(mac(1), mac(2), b"to a"))
            assert await a.recv() == eth_frame(mac(1), mac(2), b"to a")
            await c.expect_nothing()
            assert (a.port, b.port, c.port) == (1, 2, 3)


async def test_console_reports_ports_and_learnt_addresses(sockdir: str) -> None:
    async with running_switch(sockdir) as sw:
        async with await AsyncVdeClient.connect(sw.options.sock, description="client-a") as a, \
                await AsyncVdeClient.connect(sw.options.sock) as b:
            await a.send(eth_frame(BROADCAST, mac(1)))
            await b.recv()
            async with await AsyncMgmtClient.connect(sw.options.mgmt) as console:
                assert console.banner.startswith("VDE switch V.2.3.2\n")
                ports = await console.ok("port/print")
                assert ports[0] == "Port 0001 untagged_vlan=0000 ACTIVE - Unnamed Allocatable"
                assert ports[2] == " IN:  pkts          1          bytes                   18"
                assert ports[4].endswith("module unix prog   : client-a")
                table = await console.ok("hash/print")
                assert table == ["Hash: 0043 Addr: 02:00:00:00:00:01 VLAN 0000 to port: 001  age 0 secs"]
                assert (await console.command("foo/bar")).status == 1038
