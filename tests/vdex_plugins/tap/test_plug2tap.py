"""``vdex plug2tap``: a tap in one namespace joined to a switch, directly (``-s SOCK``) and as the
stream end of a real dpipe with a real vde_plug (``-s -``); the other host is vdeplug4's own
``vde_plug tap://`` in a second namespace. Ping and a checked TCP transfer."""

from __future__ import annotations

import os
import shlex
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import pytest
import trio

from vdex.testing import AsyncMgmtClient
from vdex.testing.lan import ping, tcp_transfer
from vdex.testing.netns import NetNs, NetNsLab, netns_lab, require_root, unique_name
from vdex.testing.processes import VDEX, process, reference_switch, shell, switch_process

pytestmark = [pytest.mark.privileged, pytest.mark.interop, pytest.mark.slow]

IP1, IP2 = "198.18.0.1", "198.18.0.2"


@pytest.fixture
def lab() -> Iterator[NetNsLab]:
    require_root("ping", "vde_plug", "dpipe")
    with netns_lab("vdex-p2t") as lab:
        yield lab


async def wait_for_link(ns: NetNs, name: str, proc: trio.Process, timeout: float = 10) -> None:
    with trio.fail_after(timeout):
        while not ns.link_exists(name):
            if proc.returncode is not None:
                raise AssertionError(f"{proc.args} exited with {proc.returncode}")
            await trio.sleep(0.02)


@asynccontextmanager
async def tap_host(ns: NetNs, argv: list[str], tap: str, address: str
                   ) -> AsyncIterator[trio.Process]:
    async with process(ns.exec_argv(argv)) as proc:
        await wait_for_link(ns, tap, proc)
        ns.add_address(tap, f"{address}/24")
        yield proc


async def check(ns1: NetNs, ns2: NetNs) -> None:
    await ping(ns1, IP2)
    report = await tcp_transfer(ns2, ns1, IP2, 2 << 20)
    assert report["peer"] == IP1


async def test_plug2tap_on_a_vdex_switch(lab: NetNsLab, sockdir: str) -> None:
    ns1, ns2 = lab.add(), lab.add()
    t1, t2 = unique_name("vpa"), unique_name("vpb")
    sw, mgmt = os.path.join(sockdir, "sw"), os.path.join(sockdir, "mgmt")
    async with switch_process([*VDEX, "switch", "-s", sw, "-M", mgmt, "--nostdin", "-f",
                               os.devnull], sw):
        async with tap_host(ns1, [*VDEX, "plug2tap", "-s", sw, "-p", "7", t1], t1, IP1), \
                tap_host(ns2, ["vde_plug", f"vde://{sw}", f"tap://{t2}"], t2, IP2):
            await check(ns1, ns2)
            async with await AsyncMgmtClient.connect(mgmt) as console:
                printed = await console.ok("port/print 7")
                assert ": vdex plug2tap: user=root pid=" in printed[4]


async def test_plug2tap_stream_mode_under_dpipe(lab: NetNsLab, sockdir: str) -> None:
    ns1, ns2 = lab.add(), lab.add()
    t1, t2 = unique_name("vsa"), unique_name("vsb")
    sw = os.path.join(sockdir, "sw")
    plug2tap = shlex.join([*VDEX, "plug2tap", "-s", "-", t1])
    async with switch_process(reference_switch(sw), sw):
        async with tap_host(ns1, shell(f"dpipe {plug2tap} = vde_plug vde://{sw}"), t1, IP1), \
                tap_host(ns2, ["vde_plug", f"vde://{sw}", f"tap://{t2}"], t2, IP2):
            await check(ns1, ns2)


async def test_plug2tap_refuses_clearly(lab: NetNsLab, sockdir: str) -> None:
    ns = lab.add()
    done = await trio.run_process(ns.exec_argv([*VDEX, "plug2tap", "-s", "-", "bad/name"]),
                                  capture_stderr=True, check=False)
    assert done.returncode == 2
    assert b"interface name 'bad/name' contains" in done.stderr
    done = await trio.run_process(ns.exec_argv([*VDEX, "plug2tap", "vpx0[mtu=9000]"]),
                                  capture_stderr=True, check=False)
    assert done.returncode == 2 and b"MTU 9000 of tap 'vpx0' is above 1500" in done.stderr
    done = await trio.run_process(
        ns.exec_argv([*VDEX, "plug2tap", "-s", os.path.join(sockdir, "none"), "vpx0"]),
        capture_stderr=True, check=False)
    assert done.returncode == 1 and b"cannot connect to switch" in done.stderr
    assert not ns.link_exists("vpx0"), "the tap it made is gone with it"
