"""FSTP on running switches: rings of three joined by real cables (port/connect vde://), one of
them a real ``vde_switch -F`` in the second test. A broadcast arrives exactly once at every
station; a cut cable heals, and the wall-clock time it takes is measured."""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack

import pytest
import trio

from vdex.runtime.switch import Switch
from vdex.testing import AsyncMgmtClient, AsyncVdeClient, eth_frame, mac, running_switch
from vdex.testing.frames import BROADCAST
from vdex.testing.processes import reference_switch, switch_process

STATION_PORT = 10
PRIORITIES = (0x1000, 0x2000, 0x3000)
"""Switch 1 is the root; switches 2 and 3 reach it directly; the link 2-3 is redundant."""
CONVERGE_TIMEOUT = 20.0
PROBE_INTERVAL = 0.005


def _mac(n: int) -> bytes:
    return bytes((0x02, 0, 0, 0, 0x5A, n))


async def _vdex(stack: AsyncExitStack, directory: str, n: int) -> Switch:
    os.mkdir(directory)
    return await stack.enter_async_context(running_switch(
        directory, macaddr=_mac(n),
        namespace=argparse.Namespace(fstp=True, priority=PRIORITIES[n - 1])))


async def _connect(console: AsyncMgmtClient, far_sock: str, far_port: int, port: int) -> int:
    """A cable: ``port`` of the console's switch to ``far_port`` of the far switch; its id."""
    line = await console.ok(f"port/connect vde://{far_sock}[{far_port}] {port}")
    found = re.fullmatch(r"Port (\d+) endpoint (\d+)", line[0])
    assert found and int(found[1]) == port, line
    return int(found[2])


async def _count_copies(sender: AsyncVdeClient, receivers: list[AsyncVdeClient],
                        payload: bytes) -> list[int]:
    """Send one broadcast; how many copies each receiver (and the sender, last) got."""
    await sender.send(eth_frame(BROADCAST, mac(90 + payload[-1] % 8), payload))
    counts = []
    for client in [*receivers, sender]:
        frames = await client.recv_all(quiet=0.3)
        counts.append(sum(1 for f in frames if f.endswith(payload)))
    return counts


async def _wait_stable(blocked: Callable[[], Awaitable[int]], at_least: int = 1) -> int:
    """Wait until at least ``at_least`` ports are blocked and nothing changed for a second."""
    with trio.fail_after(CONVERGE_TIMEOUT):
        last, since = -1, trio.current_time()
        while True:
            now_blocked = await blocked()
            if now_blocked != last:
                last, since = now_blocked, trio.current_time()
            elif last >= at_least and trio.current_time() - since >= 1.0:
                return last
            await trio.sleep(0.1)


async def _heal_time(sender: AsyncVdeClient, receiver: AsyncVdeClient, cut: Callable[[],
                     Awaitable[None]]) -> float:
    """Cut, then probe every 5 ms until a broadcast from ``sender`` reaches ``receiver``: the
    wall-clock seconds from the cut to the first probe that got through."""
    start = trio.current_time()
    await cut()
    sent: dict[bytes, float] = {}
    healed: float | None = None
    with trio.fail_after(CONVERGE_TIMEOUT):
        while healed is None:
            payload = b"probe %d." % len(sent)
            sent[payload] = trio.current_time()
            await sender.send(eth_frame(BROADCAST, mac(98), payload))
            with trio.move_on_after(PROBE_INTERVAL):
                while healed is None:
                    frame = await receiver.data.recv(65536)
                    healed = next((when for probe, when in sent.items()
                                   if frame.endswith(probe)), None)
    for client in (sender, receiver):
        await client.recv_all(0.2)  # late probes
    return healed - start


def _vdex_blocked(switches: list[Switch]) -> int:
    return sum(len(sw.engine.domain(0).discarding) for sw in switches)


async def _stations(stack: AsyncExitStack, socks: list[str]) -> list[AsyncVdeClient]:
    return [await stack.enter_async_context(
        await AsyncVdeClient.connect(sock, port=STATION_PORT)) for sock in socks]


@pytest.mark.slow
async def test_ring_of_three_vdex_switches(sockdir: str) -> None:
    async with AsyncExitStack() as stack:
        switches = [await _vdex(stack, os.path.join(sockdir, f"s{n}"), n) for n in (1, 2, 3)]
        consoles = [await stack.enter_async_context(
            await AsyncMgmtClient.connect(sw.options.mgmt)) for sw in switches]
        await consoles[2].ok("debug/add fstp/status")
        stations = await _stations(stack, [sw.options.sock for sw in switches])
        socks = [sw.options.sock for sw in switches]
        cable_12 = await _connect(consoles[0], socks[1], 1, 1)
        await _connect(consoles[1], socks[2], 1, 2)
        await _connect(consoles[2], socks[0], 2, 2)

        async def blocked() -> int:
            return _vdex_blocked(switches)

        # between vdex switches only one end of the redundant link blocks: switch 3's
        assert await _wait_stable(blocked) == 1
        assert switches[2].engine.domain(0).discarding == {switches[2].engine.ports.get(1)}
        assert " -- Port 0001 tagged=0 active=1 status=Discarding" in \
            await consoles[2].ok("vlan/print 0")
        assert any(line.startswith("3044 fstp/status Port 0001 VLAN 00:00 discarding")
                   for line in consoles[2].debug_lines), consoles[2].debug_lines
        fstp = await consoles[2].ok("fstp/print 0")
        assert " -- Port 0001 tagged=0 portcost=20000000 role=Alternate/Backup" in fstp
        assert " -- Port 0002 tagged=0 portcost=20000000 role=Root" in fstp
        for i, sender in enumerate(stations):
            others = [s for s in stations if s is not sender]
            assert await _count_copies(sender, others, b"once %d" % i) == [1, 1, 0]

        async def cut() -> None:
            await consoles[0].ok(f"port/epclose 1 {cable_12}")

        healed = await _heal_time(stations[0], stations[1], cut)
        print(f"vdex ring: healed {healed * 1000:.1f} ms after the cut")
        assert healed < 2.0
        assert await _wait_stable(blocked, at_least=0) == 0  # no loop left: nothing blocked
        for i, sender in enumerate(stations):
            others = [s for s in stations if s is not sender]
            assert await _count_copies(sender, others, b"after %d" % i) == [1, 1, 0]


_ROLE_RE = re.compile(r" -- Port (\d+) tagged=\d portcost=\d+ role=(\S+)")


async def _vde_roles(console: AsyncMgmtClient) -> dict[int, str]:
    lines = await console.ok("fstp/print 0")
    return {int(m[1]): m[2] for line in lines if (m := _ROLE_RE.match(line))}


@pytest.mark.interop
@pytest.mark.slow
async def test_ring_with_a_real_vde_switch(sockdir: str) -> None:
    ref_dir = os.path.join(sockdir, "r")
    os.mkdir(ref_dir)
    ref_sock, ref_mgmt = os.path.join(ref_dir, "sw"), os.path.join(ref_dir, "mgmt")
    async with AsyncExitStack() as stack:
        switches = [await _vdex(stack, os.path.join(sockdir, f"s{n}"), n) for n in (1, 2)]
        await stack.enter_async_context(switch_process(reference_switch(
            ref_sock, "-M", ref_mgmt, "-F", "--priority", str(PRIORITIES[2]),
            "--macaddr", ":".join(f"{b:02x}" for b in _mac(3))), ref_sock))
        consoles = [await stack.enter_async_context(await AsyncMgmtClient.connect(path))
                    for path in (switches[0].options.mgmt, switches[1].options.mgmt, ref_mgmt)]
        stations = await _stations(stack, [*(sw.options.sock for sw in switches), ref_sock])
        cable_12 = await _connect(consoles[0], switches[1].options.sock, 1, 1)
        await _connect(consoles[1], ref_sock, 1, 2)
        await _connect(consoles[0], ref_sock, 2, 2)

        async def blocked() -> int:
            roles = await _vde_roles(consoles[2])
            return _vdex_blocked(switches) + sum(r == "Alternate/Backup" for r in roles.values())

        assert await _wait_stable(blocked) >= 1
        roles = await _vde_roles(consoles[2])
        assert roles[2] == "Root" and roles[1] == "Alternate/Backup", roles
        for i, sender in enumerate(stations):
            others = [s for s in stations if s is not sender]
            assert await _count_copies(sender, others, b"once %d" % i) == [1, 1, 0]

        async def cut() -> None:
            await consoles[0].ok(f"port/epclose 1 {cable_12}")

        healed = await _heal_time(stations[0], stations[1], cut)
        print(f"ring with vde_switch: healed {healed * 1000:.1f} ms after the cut")
        assert healed < 5.0
        assert await _wait_stable(blocked, at_least=0) == 0
        roles = await _vde_roles(consoles[2])
        assert set(roles.values()) <= {"Root", "Designated"}, roles
        for i, sender in enumerate(stations):
            others = [s for s in stations if s is not sender]
            assert await _count_copies(sender, others, b"after %d" % i) == [1, 1, 0]


async def test_hub_mode_shuts_fstp_down_and_refuses_it(sockdir: str) -> None:
    async with running_switch(sockdir, namespace=argparse.Namespace(fstp=True)) as sw, \
            await AsyncMgmtClient.connect(sw.options.mgmt) as console:
        assert (await console.ok("fstp/showinfo"))[1] == "FSTP=true"
        await console.ok("port/sethub 1")
        assert (await console.ok("fstp/showinfo"))[1] == "FSTP=false"
        reply = await console.command("fstp/setfstp 1")
        assert reply.status == 1000 and reply.data == ["Can't use fstp in hub mode"]
        await console.ok("port/sethub 0")
        assert (await console.ok("fstp/showinfo"))[1] == "FSTP=false"  # stays off, as in vde
        assert await console.ok("fstp/setfstp 1") == []
        assert (await console.ok("fstp/showinfo"))[1] == "FSTP=true"
        assert (await console.command("fstp/setfstp on")).status == 1022


async def test_plugin_del_fstp_unblocks_and_plugin_add_restarts(sockdir: str) -> None:
    """A switch looped onto itself (two ports joined by a cable): FSTP blocks one end; removing
    the plugin unblocks it (the commands go), adding it back with -F off leaves it off."""
    async with running_switch(sockdir, namespace=argparse.Namespace(fstp=True)) as sw, \
            await AsyncMgmtClient.connect(sw.options.mgmt) as console:
        await console.ok(f"port/connect vde://{sw.options.sock}[2] 1")

        async def blocked() -> int:
            return _vdex_blocked([sw])

        assert await _wait_stable(blocked) == 1
        await console.ok("plugin/del fstp")
        assert (await console.command("fstp/print")).status == 1038
        assert _vdex_blocked([sw]) == 0
        sw.options.namespace.fstp = False
        await console.ok("plugin/add fstp")
        assert (await console.ok("fstp/showinfo"))[1] == "FSTP=false"
        await console.ok("fstp/setfstp 1")
        assert await _wait_stable(blocked) == 1


@pytest.mark.slow
async def test_vdex_switch_command_line_fstp_and_priority(sockdir: str) -> None:
    from vdex.testing.processes import vdex_switch

    sock, mgmt = os.path.join(sockdir, "sw"), os.path.join(sockdir, "mgmt")
    async with switch_process(vdex_switch(sock, "-M", mgmt, "-F", "--priority", "4096",
                                          "--macaddr", "02:00:00:00:5a:07"), sock):
        async with await AsyncMgmtClient.connect(mgmt) as console:
            assert await console.ok("fstp/showinfo") == [
                "MAC 02:00:00:00:5a:07 Priority 4096 (0x1000)", "FSTP=true"]
