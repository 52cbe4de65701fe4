"""The VLAN plugin on a running switch: isolation, runtime load and unload, a trunk to a real
vde_switch through a real dpipe cable, and a Linux 802.1Q sub-interface through a trunk."""

from __future__ import annotations

import os
from typing import Any

import pytest
import trio
from packet_bridge import bridge

from vdex.testing import AsyncMgmtClient, AsyncVdeClient, eth_frame, mac, running_switch
from vdex.testing.frames import BROADCAST
from vdex.testing.netns import netns_lab, require_root, unique_name
from vdex.testing.processes import process, reference_switch, shell, switch_process


async def _same_vlan_pair_works(a: AsyncVdeClient, b: AsyncVdeClient, tag: bytes) -> None:
    await a.send(eth_frame(BROADCAST, mac(1), tag))
    assert await b.recv() == eth_frame(BROADCAST, mac(1), tag)
    await b.send(eth_frame(mac(1), mac(2), tag + b" reply"))
    assert await a.recv() == eth_frame(mac(1), mac(2), tag + b" reply")


async def test_vlans_are_isolated_on_one_switch(sockdir: str) -> None:
    async with running_switch(sockdir) as sw, \
            await AsyncMgmtClient.connect(sw.options.mgmt) as console:
        for line in ("vlan/create 10", "vlan/create 20", "port/create 1", "port/create 2",
                     "port/create 3", "port/create 4", "port/create 5", "port/setvlan 1 10",
                     "port/setvlan 2 10", "port/setvlan 3 20", "port/setvlan 4 20",
                     "vlan/addport 10 5"):
            await console.ok(line)
        clients = [await AsyncVdeClient.connect(sw.options.sock, port=n) for n in range(1, 6)]
        try:
            a10, b10, a20, b20, trunk = clients
            await a10.send(eth_frame(BROADCAST, mac(1), b"ten"))
            assert await b10.recv() == eth_frame(BROADCAST, mac(1), b"ten")
            assert await trunk.recv() == eth_frame(BROADCAST, mac(1), b"ten", vid=10)
            await a20.send(eth_frame(BROADCAST, mac(3), b"twenty"))
            assert await b20.recv() == eth_frame(BROADCAST, mac(3), b"twenty")
            # a MAC learnt in VLAN 10 is unknown in VLAN 20: flooded in 20 only
            await b20.send(eth_frame(mac(1), mac(4), b"to ten?"))
            assert await a20.recv() == eth_frame(mac(1), mac(4), b"to ten?")
            await trunk.send(eth_frame(mac(3), mac(5), b"tagged 20", vid=20))  # not a member
            await trunk.send(eth_frame(BROADCAST, mac(5), b"", vid=10)[:16])  # runt tag
            for c in (a10, b10, a20, b20):
                await c.expect_nothing(0.1)
            assert await trunk.recv_all(0.1) == []
            counters = await console.ok("port/counters 5")
            assert "not_member=1" in counters[0] and "runt=1" in counters[0], counters
            reply = await console.command("vlan/remove 10")
            assert reply.status == 1098  # EADDRINUSE: ports still in it
            reply = await console.command("vlan/remove 0")
            assert reply.status == 1098
            assert await console.ok("vlan/print 10") == [
                "VLAN 0010",
                " -- Port 0001 tagged=0 active=1 status=Forwarding",
                " -- Port 0002 tagged=0 active=1 status=Forwarding",
                " -- Port 0005 tagged=1 active=1 status=Forwarding"]
        finally:
            for c in clients:
                c.close()


async def test_plugin_add_and_del_on_a_running_switch_keeps_ports(sockdir: str) -> None:
    async with running_switch(sockdir, plugins=["no:vlan"]) as sw, \
            await AsyncMgmtClient.connect(sw.options.mgmt) as console:
        assert (await console.command("vlan/create 10")).status == 1038  # no such command
        assert (await console.command("port/setvlan 1 10")).status == 1038
        async with await AsyncVdeClient.connect(sw.options.sock, port=1) as a, \
                await AsyncVdeClient.connect(sw.options.sock, port=2) as b, \
                await AsyncVdeClient.connect(sw.options.sock, port=3) as c:
            await _same_vlan_pair_works(a, b, b"before")
            await console.ok("plugin/add vlan")
            assert "vlan" in sw.plugins.active
            await _same_vlan_pair_works(a, b, b"loaded")
            assert await c.recv_all(0.1) == [eth_frame(BROADCAST, mac(1), b"before"),
                                             eth_frame(BROADCAST, mac(1), b"loaded")]
            for line in ("vlan/create 10", "port/setvlan 1 10", "port/setvlan 2 10",
                         "vlan/addport 10 3"):
                await console.ok(line)
            await a.send(eth_frame(BROADCAST, mac(1), b"vlan 10"))
            assert await b.recv() == eth_frame(BROADCAST, mac(1), b"vlan 10")
            assert await c.recv() == eth_frame(BROADCAST, mac(1), b"vlan 10", vid=10)
            await console.ok("plugin/del vlan")
            assert (await console.command("vlan/print")).status == 1038
            assert all(sw.engine.ports.get(n).active for n in (1, 2, 3))
            # VLAN-unaware again: one LAN, tags untouched
            assert sw.engine.vlan_ids() == [0]
            await a.send(eth_frame(BROADCAST, mac(1), b"unloaded"))
            assert await b.recv() == eth_frame(BROADCAST, mac(1), b"unloaded")
            assert await c.recv() == eth_frame(BROADCAST, mac(1), b"unloaded")
            await c.send(eth_frame(BROADCAST, mac(3), b"tag kept", vid=10))
            assert await a.recv() == eth_frame(BROADCAST, mac(3), b"tag kept", vid=10)
            assert await b.recv() == eth_frame(BROADCAST, mac(3), b"tag kept", vid=10)
            await console.ok("plugin/add vlan")
            assert await console.ok("vlan/print") == [
                "VLAN 0000", *(f" -- Port {n:04d} tagged=0 active=1 status=Forwarding"
                               for n in (1, 2, 3))]
            await _same_vlan_pair_works(a, b, b"again")


# ---------------------------------------------------------------------- real vde_switch


TRUNK_PORT = 5


async def _configure_trunk_side(console: AsyncMgmtClient) -> None:
    for line in ("vlan/create 10", "vlan/create 20", f"port/create {TRUNK_PORT}",
                 f"vlan/addport 10 {TRUNK_PORT}", f"vlan/addport 20 {TRUNK_PORT}",
                 "port/create 2", "port/setvlan 2 10", "port/create 3", "port/setvlan 3 20"):
        await console.ok(line)


async def _wait_active(console: AsyncMgmtClient, port: int) -> None:
    with trio.fail_after(10):
        while not (await console.command(f"port/print {port}")).ok:
            await trio.sleep(0.05)


@pytest.mark.interop
async def test_trunk_through_dpipe_to_a_real_vde_switch(sockdir: str) -> None:
    vdex_dir = os.path.join(sockdir, "x")
    ref_dir = os.path.join(sockdir, "r")
    os.mkdir(vdex_dir)
    os.mkdir(ref_dir)
    ref_sock, ref_mgmt = os.path.join(ref_dir, "sw"), os.path.join(ref_dir, "mgmt")
    async with running_switch(vdex_dir) as sw, \
            switch_process(reference_switch(ref_sock, "-M", ref_mgmt), ref_sock), \
            await AsyncMgmtClient.connect(sw.options.mgmt) as vdex_console, \
            await AsyncMgmtClient.connect(ref_mgmt) as ref_console:
        await _configure_trunk_side(vdex_console)
        await _configure_trunk_side(ref_console)
        cable = shell(["dpipe", "vde_plug", f"{sw.options.sock}[{TRUNK_PORT}]", "=",
                       "vde_plug", f"{ref_sock}[{TRUNK_PORT}]"])
        async with process(cable):
            await _wait_active(vdex_console, TRUNK_PORT)
            await _wait_active(ref_console, TRUNK_PORT)
            async with await AsyncVdeClient.connect(sw.options.sock, port=2) as x10, \
                    await AsyncVdeClient.connect(sw.options.sock, port=3) as x20, \
                    await AsyncVdeClient.connect(ref_sock, port=2) as r10, \
                    await AsyncVdeClient.connect(ref_sock, port=3) as r20:
                for sender, receiver, other, src, name in ((x10, r10, r20, 11, b"vdex->vde"),
                                                           (r10, x10, x20, 12, b"vde->vdex")):
                    await sender.send(eth_frame(BROADCAST, mac(src), name))
                    assert await receiver.recv() == eth_frame(BROADCAST, mac(src), name)
                    await other.expect_nothing(0.1)
                # unicast both ways now that both ends learnt each other
                await x10.send(eth_frame(mac(12), mac(11), b"unicast"))
                assert await r10.recv() == eth_frame(mac(12), mac(11), b"unicast")
                await r10.send(eth_frame(mac(11), mac(12), b"back"))
                assert await x10.recv() == eth_frame(mac(11), mac(12), b"back")
                # VLAN 20 stays apart from 10, and works on its own
                await x20.send(eth_frame(BROADCAST, mac(30), b"twenty"))
                assert await r20.recv() == eth_frame(BROADCAST, mac(30), b"twenty")
                await r20.send(eth_frame(BROADCAST, mac(31), b"twenty back"))
                assert await x20.recv() == eth_frame(BROADCAST, mac(31), b"twenty back")
                for c in (x10, r10):
                    await c.expect_nothing(0.1)


# ---------------------------------------------------------------------- Linux 802.1Q


def _hosts(lab: Any, addresses: list[str | None]) -> tuple[Any, list[tuple[Any, str, str]]]:
    """One namespace per host with a veth whose far end sits in a bridge namespace (where the
    packet bridges open their sockets): ``[(ns, near, far), ...]``."""
    ns_br = lab.add()
    hosts = []
    for addr in addresses:
        ns = lab.add()
        near, far = unique_name("vv"), unique_name("vw")
        ns.ip("link", "add", near, "type", "veth", "peer", "name", far, "netns", ns_br.name)
        ns_br.ip("link", "set", far, "up")
        if addr is None:
            ns.ip("link", "set", near, "up")
        else:
            ns.add_address(near, addr)
        hosts.append((ns, near, far))
    return ns_br, hosts


async def _ping(ns: Any, address: str, count: int = 3) -> tuple[bool, str]:
    done = await trio.run_process(
        ns.exec_argv(["ping", "-c", str(count), "-i", "0.2", "-W", "2", address]),
        capture_stdout=True, capture_stderr=True, check=False)
    return done.returncode == 0, (done.stdout + done.stderr).decode()


@pytest.mark.privileged
async def test_linux_vlan_subinterface_pings_an_untagged_port_through_a_trunk(
        sockdir: str) -> None:
    """Host A: veth + Linux 802.1Q sub-interface .10 (10.99.10.1) -- trunk port 1 (tagged 10)
    -- vdex -- untagged VLAN 10 port 2 -- host C: plain veth (10.99.10.2). Host D, same subnet
    but on VLAN 20 (port 3), must stay unreachable."""
    require_root("ping")
    with netns_lab("vdexvlan") as lab:
        ns_br, hosts = _hosts(lab, [None, "10.99.10.2/24", "10.99.10.3/24"])
        (ns_a, a_link, _), _c, _d = hosts
        made = ns_a.ip("link", "add", "link", a_link, "name", f"{a_link}.10", "type", "vlan",
                       "id", "10", check=False)
        if "Unknown device type" in made.stderr:
            pytest.skip("this kernel has no 802.1Q (CONFIG_VLAN_8021Q): no VLAN sub-interface; "
                        "test_linux_hosts_ping_across_a_vdex_trunk covers the path without it")
        assert made.returncode == 0, made.stderr
        ns_a.add_address(f"{a_link}.10", "10.99.10.1/24")
        async with running_switch(sockdir) as sw, \
                await AsyncMgmtClient.connect(sw.options.mgmt) as console:
            for line in ("vlan/create 10", "vlan/create 20", "port/create 1",
                         "vlan/addport 10 1", "port/create 2", "port/setvlan 2 10",
                         "port/create 3", "port/setvlan 3 20"):
                await console.ok(line)
            async with trio.open_nursery() as nursery:
                for port, (_ns, _near, far) in enumerate(hosts, start=1):
                    await nursery.start(bridge, ns_br, far, sw.options.sock, port)
                ok, text = await _ping(ns_a, "10.99.10.2")
                assert ok and "3 received" in text, text
                ok, text = await _ping(ns_a, "10.99.10.3", count=1)
                assert not ok, text
                nursery.cancel_scope.cancel()


@pytest.mark.privileged
async def test_linux_hosts_ping_across_a_vdex_trunk(sockdir: str) -> None:
    """Two vdex switches joined by a trunk cable (port/connect) carrying VLANs 10 and 20 tagged;
    Linux hosts on untagged ports of each. The kernels' ARP and ICMP cross the trunk in VLAN 10;
    a host of VLAN 20 in the same subnet stays unreachable."""
    require_root("ping")
    dirs = [os.path.join(sockdir, n) for n in ("s1", "s2")]
    for d in dirs:
        os.mkdir(d)
    with netns_lab("vdexvlan") as lab:
        ns_br, hosts = _hosts(lab, ["10.99.10.1/24", "10.99.10.2/24", "10.99.10.3/24"])
        async with running_switch(dirs[0]) as sw1, running_switch(dirs[1]) as sw2, \
                await AsyncMgmtClient.connect(sw1.options.mgmt) as c1, \
                await AsyncMgmtClient.connect(sw2.options.mgmt) as c2:
            for console in (c1, c2):
                await _configure_trunk_side(console)
            await c1.ok(f"port/connect vde://{sw2.options.sock}[{TRUNK_PORT}] {TRUNK_PORT}")
            async with trio.open_nursery() as nursery:
                (ns_a, _, far_a), (ns_c, _, far_c), (_ns_d, _, far_d) = hosts
                await nursery.start(bridge, ns_br, far_a, sw1.options.sock, 2)  # VLAN 10
                await nursery.start(bridge, ns_br, far_c, sw2.options.sock, 2)  # VLAN 10
                await nursery.start(bridge, ns_br, far_d, sw2.options.sock, 3)  # VLAN 20
                ok, text = await _ping(ns_a, "10.99.10.2")
                assert ok and "3 received" in text, text
                ok, text = await _ping(ns_a, "10.99.10.3", count=1)
                assert not ok, text
                ok, text = await _ping(ns_c, "10.99.10.1")
                assert ok, text
                trunk = sw1.engine.ports.get(TRUNK_PORT)
                assert trunk.out_frames >= 6 and trunk.in_frames >= 6
                nursery.cancel_scope.cancel()
