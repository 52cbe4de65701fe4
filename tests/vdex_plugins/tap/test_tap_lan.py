"""Two namespaces on one vdex LAN through taps: ``vdex switch -t``, the console, ``port/print``.

Each switch runs as a real process inside a namespace the test made; its taps are moved into two
more namespaces that play the hosts (198.18.0.1 and .2, RFC 2544 benchmark addresses that exist
only there). Everything is deleted at the end, whatever happens.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import trio

from vdex.testing import AsyncMgmtClient
from vdex.testing.lan import ping, tcp_transfer
from vdex.testing.netns import NetNs, NetNsLab, move_link, netns_lab, require_root, unique_name
from vdex.testing.processes import switch_process, vdex_switch

pytestmark = [pytest.mark.privileged, pytest.mark.slow]

IP1, IP2 = "198.18.0.1", "198.18.0.2"
TRANSFER = 4 << 20


@pytest.fixture
def lab() -> Iterator[NetNsLab]:
    require_root("ping")
    with netns_lab("vdex-tap") as lab:
        yield lab


async def wait_for_link(ns: NetNs, name: str, timeout: float = 10) -> None:
    with trio.fail_after(timeout):
        while not ns.link_exists(name):
            await trio.sleep(0.02)


def hosts(lab: NetNsLab, sw_ns: NetNs, taps: tuple[str, str]) -> tuple[NetNs, NetNs]:
    """Move the switch's two taps into two new namespaces and give them addresses."""
    ns1, ns2 = lab.add(), lab.add()
    for tap, ns, address in ((taps[0], ns1, IP1), (taps[1], ns2, IP2)):
        move_link(tap, ns, source=sw_ns)
        ns.add_address(tap, f"{address}/24")
    return ns1, ns2


async def test_switch_with_two_taps_joins_two_namespaces(lab: NetNsLab, sockdir: str) -> None:
    sw_ns = lab.add()
    taps = (unique_name("vta"), unique_name("vtb"))
    swdir, mgmt = os.path.join(sockdir, "sw"), os.path.join(sockdir, "mgmt")
    argv = vdex_switch(swdir, "--nostdin", "-M", mgmt, "-t", taps[0], "-t", taps[1])
    async with switch_process(sw_ns.exec_argv(argv), swdir):
        assert sw_ns.link_exists(taps[0]) and sw_ns.link_exists(taps[1]), \
            "-t taps exist once the switch accepts clients"
        ns1, ns2 = hosts(lab, sw_ns, taps)
        await ping(ns1, IP2)
        report = await tcp_transfer(ns2, ns1, IP2, TRANSFER)
        assert report["peer"] == IP1
        async with await AsyncMgmtClient.connect(mgmt) as console:
            printed = await console.ok("port/print")
            assert f"  -- endpoint ID {int(printed[4].split()[3]):04d} module tuntap      : " \
                   f"{taps[0]}" == printed[4]
            assert printed[0].startswith("Port 0001 ") and printed[5].startswith("Port 0002 ")
            assert printed[9].endswith(f": {taps[1]}")
            assert " Current User: NONE " in printed[1]
            counts = await console.ok("tap/print")
            assert [line.split()[3] for line in counts] == [taps[0], taps[1]]
            in_frames = int(counts[0].split()[8])
            assert in_frames > TRANSFER // 1500, counts


async def test_console_adds_and_removes_taps(lab: NetNsLab, sockdir: str) -> None:
    sw_ns = lab.add()
    taps = (unique_name("vca"), unique_name("vcb"))
    swdir, mgmt = os.path.join(sockdir, "sw"), os.path.join(sockdir, "mgmt")
    async with switch_process(sw_ns.exec_argv(vdex_switch(swdir, "--nostdin", "-M", mgmt)),
                              swdir):
        async with await AsyncMgmtClient.connect(mgmt) as console:
            added = await console.ok(f"tap/add {taps[0]}")
            assert added[0].startswith("Port 0001 endpoint ") and added[0].endswith(taps[0])
            added = await console.ok(f"tap/add {taps[1]}[mtu=1400/up] 5")
            assert added[0].startswith("Port 0005 ")
            shown = sw_ns.link_json(taps[1])
            assert shown["mtu"] == 1400 and "UP" in shown["flags"]
            assert "UP" not in sw_ns.link_json(taps[0])["flags"], "a plain tap is left down"
            # the same tap twice: busy, and the switch goes on
            reply = await console.command(f"tap/add {taps[0]}")
            assert reply.status == 1016
            assert (await console.command("tap/add bad/name")).status == 1022
            assert (await console.command("tap/add x[mtu=9000]")).status == 1022
            ns1, ns2 = hosts(lab, sw_ns, taps)
            await ping(ns1, IP2)
            assert (await console.ok("tap/print"))[1].split()[3] == taps[1]
            await console.ok(f"tap/del {taps[1]}")
            assert not ns2.link_exists(taps[1]), "closing a tap the switch made deletes it"
            assert [line.split()[3] for line in await console.ok("tap/print")] == [taps[0]]
            assert (await console.command(f"tap/del {taps[1]}")).status == 1019
            # port/connect is the generic way to the same port type
            connected = await console.ok(f"port/connect tap://{taps[1]}")
            assert connected[0].startswith("Port 0002 ")
            assert sw_ns.link_exists(taps[1])
            # the interface deleted under the switch: its port is freed, the switch goes on
            sw_ns.ip("link", "del", taps[1])
            with trio.fail_after(5):
                while len(await console.ok("tap/print")) != 1:
                    await trio.sleep(0.02)
            assert (await console.ok("port/print"))[4].endswith(taps[0])


async def test_bad_taps_are_logged_and_the_switch_runs_on(lab: NetNsLab, sockdir: str) -> None:
    sw_ns = lab.add()
    good, held = unique_name("vgo"), unique_name("vbz")
    big = unique_name("vjb")
    sw_ns.ip("tuntap", "add", "dev", big, "mode", "tap")
    sw_ns.ip("link", "set", big, "mtu", "9000")
    swdir, mgmt = os.path.join(sockdir, "sw"), os.path.join(sockdir, "mgmt")
    log = os.path.join(sockdir, "log")
    argv = vdex_switch(swdir, "--nostdin", "-M", mgmt, "-t", "bad/name", "-t", big, "-t", good)
    with open(log, "wb") as log_file:
        async with switch_process(sw_ns.exec_argv(argv), swdir, stderr=log_file):
            async with await AsyncMgmtClient.connect(mgmt) as console:
                assert [line.split()[3] for line in await console.ok("tap/print")] == [good]
                printed = await console.ok("port/print")
                assert printed[0].startswith("Port 0001 ") and printed[4].endswith(good)
                # a tap somebody else holds: EBUSY, reported on the console
                async with switch_process(
                        sw_ns.exec_argv(vdex_switch(swdir + "2", "--nostdin", "-t", held)),
                        swdir + "2"):
                    reply = await console.command(f"tap/add {held}")
                    assert reply.status == 1016
    with open(log) as f:
        text = f.read()
    assert "ERROR OPENING tap interface bad/name: interface name 'bad/name' contains" in text
    assert f"ERROR OPENING tap interface {big}: MTU 9000 of tap '{big}' is above 1500" in text
    assert sw_ns.link_exists(big), "a persistent tap is left in place"
