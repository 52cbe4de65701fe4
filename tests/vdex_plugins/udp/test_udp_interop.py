"""vdex's ``udp://`` against vdeplug4's real ``vde_plug udp://`` (Debian vdeplug 4.0.1), on loopback."""

from __future__ import annotations

import os
import socket

import pytest
import trio

from vdex.testing import AsyncMgmtClient, AsyncVdeClient, eth_frame, mac, running_switch
from vdex.testing.frames import BROADCAST
from vdex.testing.processes import VDEX, process, reference_switch, switch_process

pytestmark = pytest.mark.interop


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def exchange(a: AsyncVdeClient, b: AsyncVdeClient, rounds: int = 10) -> None:
    for i in range(rounds):
        await a.send(eth_frame(BROADCAST, mac(1), b"a to b %d" % i))
        assert await b.recv() == eth_frame(BROADCAST, mac(1), b"a to b %d" % i)
        await b.send(eth_frame(mac(1), mac(2), b"b to a %d" % i))
        assert await a.recv() == eth_frame(mac(1), mac(2), b"b to a %d" % i)


async def test_vdex_switch_port_and_vde_plug(sockdir: str) -> None:
    pa, pb = free_udp_port(), free_udp_port()
    ref, mine = os.path.join(sockdir, "ref"), os.path.join(sockdir, "mine")
    os.mkdir(mine)
    async with switch_process(reference_switch(ref), ref):
        async with process(["vde_plug", f"vde://{ref}", f"udp://{pa}->127.0.0.1:{pb}"]):
            async with running_switch(mine, plugins=["udp"]) as sw:
                async with await AsyncMgmtClient.connect(sw.options.mgmt) as console:
                    await console.ok(f"port/connect udp://127.0.0.1:{pb}->127.0.0.1:{pa}")
                async with await AsyncVdeClient.connect(ref) as a, \
                        await AsyncVdeClient.connect(sw.options.sock) as b:
                    await _until_connected(a, b)
                    await exchange(a, b)


async def test_vdex_plug_and_vde_plug(sockdir: str) -> None:
    pa, pb = free_udp_port(), free_udp_port()
    ref, mine = os.path.join(sockdir, "ref"), os.path.join(sockdir, "mine")
    async with switch_process(reference_switch(ref), ref), \
            switch_process(reference_switch(mine), mine):
        async with process(["vde_plug", f"udp://{pa}->127.0.0.1:{pb}", f"vde://{ref}"]), \
                process([*VDEX, "plug", f"vde://{mine}", f"udp://{pb}->127.0.0.1:{pa}"]):
            async with await AsyncVdeClient.connect(ref) as a, \
                    await AsyncVdeClient.connect(mine) as b:
                await _until_connected(a, b)
                await exchange(a, b)


async def _until_connected(a: AsyncVdeClient, b: AsyncVdeClient) -> None:
    """Broadcast from ``a`` until ``b`` hears one: the plugs, which connect to their switches
    on their own time, are both up."""
    with trio.fail_after(10):
        while True:
            await a.send(eth_frame(BROADCAST, mac(9), b"probe"))
            try:
                if await b.recv(timeout=0.2) == eth_frame(BROADCAST, mac(9), b"probe"):
                    break
            except trio.TooSlowError:
                continue
    await b.recv_all(quiet=0.1)
