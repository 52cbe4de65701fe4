"""A switch opens a port on another switch itself (port/connect vde://...): a cable without
extra processes."""

from __future__ import annotations

import os

from vdex.testing import AsyncMgmtClient, AsyncVdeClient, eth_frame, mac, running_switch
from vdex.testing.frames import BROADCAST


async def test_port_connect_makes_a_cable_between_two_switches(sockdir: str) -> None:
    os.mkdir(os.path.join(sockdir, "a"))
    os.mkdir(os.path.join(sockdir, "b"))
    async with running_switch(os.path.join(sockdir, "a")) as sw_a, \
            running_switch(os.path.join(sockdir, "b")) as sw_b:
        async with await AsyncMgmtClient.connect(sw_a.options.mgmt) as console:
            assert await console.ok(f"port/connect vde://{sw_b.options.sock}") == \
                [f"Port 0001 endpoint {sw_a.engine.ports.get(1).endpoints[0].id:04d}"]
            async with await AsyncVdeClient.connect(sw_a.options.sock) as a, \
                    await AsyncVdeClient.connect(sw_b.options.sock) as b:
                await a.send(eth_frame(BROADCAST, mac(1), b"across"))
                assert await b.recv() == eth_frame(BROADCAST, mac(1), b"across")
                await b.send(eth_frame(mac(1), mac(2), b"back"))
                assert await a.recv() == eth_frame(mac(1), mac(2), b"back")
            reply = await console.command("port/connect vde:///nonexistent/switch")
            assert reply.status == 1002
