"""``null://``: a port that discards what it is sent and never receives; ``vdex plug null://``."""

from __future__ import annotations

import os

import trio

from vdex.testing import AsyncMgmtClient, AsyncVdeClient, eth_frame, mac, running_switch
from vdex.testing.frames import BROADCAST
from vdex.testing.processes import VDEX, process, reference_switch, switch_process


async def test_null_port_discards(sockdir: str) -> None:
    async with running_switch(sockdir, plugins=["null"]) as sw:
        async with await AsyncMgmtClient.connect(sw.options.mgmt) as console:
            await console.ok("port/connect null://")
            assert (await console.command("port/connect null://something")).status == 1022
            async with await AsyncVdeClient.connect(sw.options.sock) as client:
                for i in range(5):
                    await client.send(eth_frame(BROADCAST, mac(1), b"%d" % i))
                await client.expect_nothing(0.1)
            port = sw.engine.ports.get(1)
            assert (port.out_frames, port.in_frames) == (5, 0)
            assert (await console.ok("port/print 1"))[4].endswith("module null        : null://")


async def test_vdex_plug_holds_a_port_with_null(sockdir: str) -> None:
    ref = os.path.join(sockdir, "ref")
    async with switch_process(reference_switch(ref), ref), \
            process([*VDEX, "plug", "null://", f"vde://{ref}"]) as plug:
        async with await AsyncVdeClient.connect(ref) as client:
            await client.send(eth_frame(BROADCAST, mac(1), b"to the void"))
            await client.expect_nothing(0.1)
        with trio.move_on_after(0.3):
            await plug.wait()
        assert plug.returncode is None, "null:// never hangs up"
