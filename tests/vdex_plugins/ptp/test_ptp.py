"""``ptp://PATH``: vdex against vdeplug4 4.0.1's ``vde_plug ptp://`` both ways round, a third end
refused, a stale socket file reused, and a cable that heals when one end restarts."""

from __future__ import annotations

import errno
import os
import socket
import stat

import pytest
import trio

from vdex.testing import AsyncMgmtClient, AsyncVdeClient, eth_frame, mac, running_switch
from vdex.testing.frames import BROADCAST
from vdex.testing.processes import VDEX, process, reference_switch, switch_process


async def until_connected(a: AsyncVdeClient, b: AsyncVdeClient, timeout: float = 10) -> None:
    """Broadcast from ``a`` until ``b`` hears it (plugs attach on their own time)."""
    with trio.fail_after(timeout):
        while True:
            await a.send(eth_frame(BROADCAST, mac(9), b"probe"))
            try:
                if await b.recv(timeout=0.2) == eth_frame(BROADCAST, mac(9), b"probe"):
                    break
            except trio.TooSlowError:
                continue
    await b.recv_all(quiet=0.1)


async def exchange(a: AsyncVdeClient, b: AsyncVdeClient, rounds: int = 5) -> None:
    for i in range(rounds):
        await a.send(eth_frame(BROADCAST, mac(1), b"a to b %d" % i))
        assert await b.recv() == eth_frame(BROADCAST, mac(1), b"a to b %d" % i)
        await b.send(eth_frame(mac(1), mac(2), b"b to a %d" % i))
        assert await a.recv() == eth_frame(mac(1), mac(2), b"b to a %d" % i)


@pytest.mark.interop
@pytest.mark.parametrize("vdex_first", [True, False])
async def test_vdex_and_vde_plug_share_a_ptp_cable(sockdir: str, vdex_first: bool) -> None:
    cable = os.path.join(sockdir, "cable")
    ref, mine = os.path.join(sockdir, "ref"), os.path.join(sockdir, "mine")
    os.mkdir(mine)
    async with switch_process(reference_switch(ref), ref), \
            running_switch(mine, plugins=["ptp"]) as sw:
        async with await AsyncMgmtClient.connect(sw.options.mgmt) as console:
            if vdex_first:
                await console.ok(f"port/connect ptp://{cable}")
                assert stat.S_ISSOCK(os.stat(cable).st_mode)
                assert stat.S_IMODE(os.stat(cable).st_mode) == 0o700
            async with process(["vde_plug", f"ptp://{cable}", f"vde://{ref}"]):
                if not vdex_first:
                    with trio.fail_after(10):
                        while not os.path.exists(cable):
                            await trio.sleep(0.01)
                    await console.ok(f"port/connect ptp://{cable}")
                    assert os.path.exists(cable + "+")
                async with await AsyncVdeClient.connect(ref) as a, \
                        await AsyncVdeClient.connect(sw.options.sock) as b:
                    await until_connected(b, a)
                    await exchange(a, b)
    ours = cable if vdex_first else cable + "+"
    assert not os.path.exists(ours), "the vdex end removes its socket file"


async def test_third_end_refused_stale_reused_and_healing(sockdir: str) -> None:
    cable = os.path.join(sockdir, "cable")
    # a stale socket file: nobody reads it
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    stale.bind(cable)
    stale.close()
    dirs = [os.path.join(sockdir, n) for n in ("a", "b", "c")]
    for d in dirs:
        os.mkdir(d)
    async with running_switch(dirs[0], plugins=["ptp"]) as sw_a, \
            running_switch(dirs[1], plugins=["ptp"]) as sw_b, \
            running_switch(dirs[2], plugins=["ptp"]) as sw_c:
        first = await sw_a.open_port(f"ptp://{cable}")
        assert first.role == "first"  # type: ignore[attr-defined]
        second = await sw_b.open_port(f"ptp://{cable}")
        assert second.role == "second"  # type: ignore[attr-defined]
        async with await AsyncMgmtClient.connect(sw_c.options.mgmt) as console:
            reply = await console.command(f"port/connect ptp://{cable}")
            assert reply.status == 1000 + errno.EADDRINUSE
        async with await AsyncVdeClient.connect(sw_a.options.sock) as a:
            async with await AsyncVdeClient.connect(sw_b.options.sock) as b:
                await exchange(a, b)
            # the second end goes away (its socket file with it), another one takes its place
            second.request_close()
            with trio.fail_after(5):
                while os.path.exists(cable + "+"):
                    await trio.sleep(0.01)
            await a.send(eth_frame(BROADCAST, mac(1), b"into the void"))
            third = await sw_c.open_port(f"ptp://{cable}")
            assert third.role == "second"  # type: ignore[attr-defined]
            async with await AsyncVdeClient.connect(sw_c.options.sock) as c:
                await until_connected(a, c)
                await exchange(a, c)
        assert first.port.active, "a missing peer never ends the cable"


async def test_vdex_plug_on_both_ends(sockdir: str) -> None:
    cable = os.path.join(sockdir, "c")
    ref_a, ref_b = os.path.join(sockdir, "a"), os.path.join(sockdir, "b")
    async with switch_process(reference_switch(ref_a), ref_a), \
            switch_process(reference_switch(ref_b), ref_b):
        async with process([*VDEX, "plug", f"vde://{ref_a}", f"ptp://{cable}"]):
            with trio.fail_after(10):
                while not os.path.exists(cable):
                    await trio.sleep(0.01)
            async with process([*VDEX, "plug", f"ptp://{cable}", f"vde://{ref_b}"]):
                async with await AsyncVdeClient.connect(ref_a) as a, \
                        await AsyncVdeClient.connect(ref_b) as b:
                    await until_connected(a, b)
                    await exchange(a, b)
    assert not os.path.exists(cable) and not os.path.exists(cable + "+"), \
        "each end removes its socket file"


async def test_bad_ptp_paths(sockdir: str) -> None:
    async with running_switch(sockdir, plugins=["ptp"]) as sw:
        async with await AsyncMgmtClient.connect(sw.options.mgmt) as console:
            assert (await console.command("port/connect ptp://")).status == 1022
            long = "/tmp/" + "x" * 110
            assert (await console.command(f"port/connect ptp://{long}")).status == 1022
            reply = await console.command("port/connect ptp:///nonexistent/dir/c")
            assert reply.status == 1000 + errno.ENOENT
