"""slirp ports on a switch running in this process; collected only in an isolated namespace.

A VDE client plays the guests with hand-built frames, through the switch, so what is checked is
the port type, the endpoint and the console commands on the real runtime: replies come out of
libslirp while the switch is forwarding the guest's frame, and reach the guest only afterwards,
through the endpoint's queue and eventfd.
"""

from __future__ import annotations

import errno
import os
import re
import select
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio
from slirp_frames import (
    GATEWAY_MAC,
    arp_request,
    dhcp_discover,
    dhcp_request,
    icmp_echo,
    is_arp_reply,
    is_echo_reply,
    is_router_advertisement,
    mac,
    parse_dhcp_reply,
)

from vdex.runtime.dataplane import Dataplane
from vdex.runtime.switch import Switch
from vdex.testing import AsyncMgmtClient, AsyncVdeClient, running_switch
from vdex_plugins.slirp import SlirpSettings
from vdex_plugins.slirp._commands import slirp_endpoints
from vdex_plugins.slirp._endpoint import SlirpEndpoint, open_slirp_endpoint


@asynccontextmanager
async def slirp_switch(sockdir: str) -> AsyncIterator[tuple[Switch, AsyncMgmtClient]]:
    async with running_switch(sockdir, plugins=["slirp"]) as switch:
        async with await AsyncMgmtClient.connect(os.path.join(sockdir, "mgmt")) as console:
            yield switch, console


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def connects(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except OSError:
        return False
    return True


async def recv_matching(guest: AsyncVdeClient, predicate: object, what: str) -> bytes:
    """The next frame the guest receives that satisfies ``predicate`` (IPv6 chatter aside)."""
    assert callable(predicate)
    with trio.fail_after(5):
        while True:
            frame = await guest.recv()
            if predicate(frame):
                return frame


async def test_port_connect_slirp_serves_a_guest_through_the_switch(sockdir: str) -> None:
    async with slirp_switch(sockdir) as (switch, console):
        (line,) = await console.ok("port/connect slirp:///dhcp")
        assert line.startswith("Port 0001 endpoint ")
        async with await AsyncVdeClient.connect(os.path.join(sockdir, "sw")) as guest:
            await guest.send(arp_request(mac(1), "10.0.2.15", "10.0.2.2"))
            reply = await recv_matching(guest, lambda f: is_arp_reply(f, "10.0.2.2", "10.0.2.15"),
                                        "ARP reply")
            assert reply[6:12] == GATEWAY_MAC
            await guest.send(icmp_echo(mac(1), GATEWAY_MAC, "10.0.2.15", "10.0.2.2", 7, 1))
            await recv_matching(guest, lambda f: is_echo_reply(f, 7, 1), "echo reply")
            await guest.send(dhcp_discover(mac(1), xid=42))
            offer = parse_dhcp_reply(await recv_matching(
                guest, lambda f: (r := parse_dhcp_reply(f)) is not None and r["xid"] == 42,
                "DHCP offer"))
            assert offer is not None and offer["yiaddr"] == "10.0.2.15"
        printed = await console.ok("port/print 1")
        assert any("slirp:///dhcp" in row for row in printed), printed
        (endpoint,) = slirp_endpoints(switch)
        port = endpoint.port
        assert port.in_frames >= 3 and port.out_frames >= 3
        stats = endpoint.statistics()
        assert stats is not None and stats.frames_from_guest >= 3


async def test_replies_wait_in_the_queue_until_the_dataplane_drains(sockdir: str) -> None:
    """libslirp answers inside send(): the frame is queued and the eventfd raised; the switch
    is not entered until drain()."""
    async with open_slirp_endpoint(SlirpSettings(), description="t") as endpoint:
        received: list[bytes] = []
        endpoint.port.receive = received.append
        endpoint.send(arp_request(mac(1), "10.0.2.15", "10.0.2.2"))
        assert received == [] and endpoint.queued == 1
        assert os.eventfd_read(endpoint.fileno()) == 1
        os.eventfd_write(endpoint.fileno(), 1)
        endpoint.send(arp_request(mac(2), "10.0.2.16", "10.0.2.2"))
        endpoint.drain()
        assert [frame[:6] for frame in received] == [mac(1), mac(2)]
        assert endpoint.queued == 0
        assert endpoint.port.in_frames == 2
        with pytest.raises(BlockingIOError):
            os.eventfd_read(endpoint.fileno())  # cleared once the queue is empty


async def test_a_full_queue_drops_and_counts(sockdir: str) -> None:
    async with open_slirp_endpoint(SlirpSettings(), description="t", queue_limit=3) as endpoint:
        received: list[bytes] = []
        endpoint.port.receive = received.append
        for n in range(1, 6):
            endpoint.send(arp_request(mac(n), f"10.0.2.{14 + n}", "10.0.2.2"))
        assert endpoint.queued == 3 and endpoint.queue_drops == 2
        endpoint.drain()
        assert [frame[:6] for frame in received] == [mac(1), mac(2), mac(3)]


async def test_drain_hands_over_a_batch_and_stays_readable(sockdir: str) -> None:
    async with open_slirp_endpoint(SlirpSettings(), description="t") as endpoint:
        received: list[bytes] = []
        endpoint.port.receive = received.append
        for n in range(300):
            endpoint.send(arp_request(mac(n % 250 + 1), "10.0.2.15", "10.0.2.2"))
        endpoint.drain()
        assert len(received) == 256 and endpoint.queued == 44
        assert os.eventfd_read(endpoint.fileno()) == 1, "still readable: come back"
        os.eventfd_write(endpoint.fileno(), 1)
        endpoint.drain()
        assert len(received) == 300


async def test_slirp_add_print_forwards_and_del(sockdir: str) -> None:
    port = free_port()
    async with slirp_switch(sockdir) as (switch, console):
        (line,) = await console.ok(f"slirp/add -D -L {port}:10.0.2.15:80 --port 5")
        assert line.startswith("Port 0005 endpoint ")
        assert line.endswith(f"slirp:///dhcp/tcpfwd=127.0.0.1:{port}:10.0.2.15:80")
        assert connects(port)
        async with await AsyncVdeClient.connect(os.path.join(sockdir, "sw")) as guest:
            await guest.send(arp_request(mac(9), "10.0.2.15", "10.0.2.2"))
            await recv_matching(guest, lambda f: is_arp_reply(f, "10.0.2.2", "10.0.2.15"), "ARP")
            printed = await console.ok("slirp/print")
        assert printed[0].startswith("Port 0005 endpoint ")
        text = "\n".join(printed)
        assert "  IPv4 10.0.2.0/24 host 10.0.2.2 DNS 10.0.2.3 DHCP from 10.0.2.15" in text
        assert "  IPv6 fd00::/64 host fd00::2 DNS fd00::3" in text
        assert f"  forward tcp 127.0.0.1:{port} -> 10.0.2.15:80" in text
        # to guests: the ARP reply, and libslirp's own ARP requests for the forward's target
        assert re.search(r"frames from guests 1 to guests \d+ queued 0 dropped: from guests 0 "
                         r"to guests 0 queue full 0 guest errors 0", text), text
        assert "10.0.2.15" in text.split("guests (libslirp's ARP/NDP table):")[1]
        assert "HOST_FORWARD" in text.split("connections:")[1]
        # forwards on the running port
        other = free_port()
        await console.ok(f"slirp/fwadd 5 -U {other}:10.0.2.15:53")
        assert f"forward udp 127.0.0.1:{other} -> 10.0.2.15:53" in "\n".join(
            await console.ok("slirp/print 5"))
        reply = await console.command(f"slirp/fwadd 5 -L {port}:10.0.2.16:80")
        assert reply.status == 1000 + errno.EINVAL  # two forwards on one host port
        reply = await console.command("slirp/fwadd 5 -L 1:10.9.9.9:80")
        assert reply.status == 1000 + errno.EINVAL
        await console.ok(f"slirp/fwdel 5 -L {port}:10.0.2.15:80")
        assert not connects(port)
        reply = await console.command(f"slirp/fwdel 5 -L {port}:10.0.2.15:80")
        assert reply.status == 1000 + errno.ENOENT
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            reply = await console.command(f"slirp/fwadd 5 -L {taken.getsockname()[1]}:"
                                          f"10.0.2.15:80")
            assert reply.status == 1000 + errno.EADDRINUSE
        await console.ok("slirp/del 5")
        assert list(slirp_endpoints(switch)) == []
        assert (await console.command("slirp/print 5")).status == 1000 + errno.ENXIO
        assert (await console.command("slirp/del 5")).status == 1000 + errno.ENXIO


async def test_slirp_add_refuses_what_cannot_apply(sockdir: str) -> None:
    async with slirp_switch(sockdir) as (switch, console):
        for args in ("-s /tmp/sw", "/tmp/sw", "-d", "-p pidfile", "-H 10.0.0.0/40", "-Z",
                     "-L nonsense", "'unbalanced"):
            reply = await console.command(f"slirp/add {args}")
            assert reply.status == 1000 + errno.EINVAL, (args, reply)
        busy = free_port()
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", busy))
            taken.listen()
            reply = await console.command(f"slirp/add -L {busy}:10.0.2.15:80")
            assert reply.status == 1000 + errno.EADDRINUSE
        assert list(slirp_endpoints(switch)) == []
        help_lines = await console.ok("slirp/add -h")
        assert any("-D, --dhcp" in row for row in help_lines)
        assert (await console.command("slirp/del")).status == 1000 + errno.EINVAL


async def test_two_guests_get_their_own_leases_through_one_slirp_port(sockdir: str) -> None:
    async with slirp_switch(sockdir) as (_switch, console):
        await console.ok("slirp/add -D")
        sw = os.path.join(sockdir, "sw")
        async with await AsyncVdeClient.connect(sw) as one, await AsyncVdeClient.connect(sw) as two:
            for n, guest, wanted in ((1, one, "10.0.2.15"), (2, two, "10.0.2.16")):
                await guest.send(dhcp_discover(mac(n), xid=n))
                offer = parse_dhcp_reply(await recv_matching(
                    guest, lambda f, n=n: (r := parse_dhcp_reply(f)) is not None
                    and r["chaddr"] == mac(n), "offer"))
                assert offer is not None and offer["yiaddr"] == wanted
                await guest.send(dhcp_request(mac(n), n, requested=wanted, server="10.0.2.2"))
                ack = parse_dhcp_reply(await recv_matching(
                    guest, lambda f, n=n: (r := parse_dhcp_reply(f)) is not None
                    and r["chaddr"] == mac(n) and r["type"] == 5, "ack"))
                assert ack is not None and ack["yiaddr"] == wanted
            for n, guest, ip in ((1, one, "10.0.2.15"), (2, two, "10.0.2.16")):
                await guest.send(icmp_echo(mac(n), GATEWAY_MAC, ip, "10.0.2.2", n, 1))
                reply = await recv_matching(guest, lambda f, n=n: is_echo_reply(f, n, 1), "echo")
                assert reply[:6] == mac(n)


async def test_plugin_del_closes_every_slirp_port_and_its_forwards(sockdir: str) -> None:
    port = free_port()
    async with slirp_switch(sockdir) as (switch, console):
        await console.ok(f"slirp/add -L {port}:10.0.2.15:80")
        await console.ok("port/connect slirp:///v4")
        endpoints = list(slirp_endpoints(switch))
        assert len(endpoints) == 2 and connects(port)
        await console.ok("plugin/del slirp")
        assert list(slirp_endpoints(switch)) == []
        assert all(ep.closed.is_set() for ep in endpoints)
        assert not connects(port)
        assert (await console.command("slirp/print")).status != 1000  # the commands are gone
        await console.ok("plugin/add slirp")
        await console.ok(f"slirp/add -L {port}:10.0.2.15:80")
        assert connects(port)


async def test_port_epclose_closes_a_slirp_port(sockdir: str) -> None:
    async with slirp_switch(sockdir) as (switch, console):
        (line,) = await console.ok("slirp/add")
        number, endpoint_id = int(line.split()[1]), int(line.split()[3])
        (endpoint,) = slirp_endpoints(switch)
        await console.ok(f"port/epclose {number} {endpoint_id}")
        with trio.fail_after(5):
            await endpoint.closed.wait()
        assert list(slirp_endpoints(switch)) == []


async def test_a_bridge_that_fails_hangs_its_port_up_only(sockdir: str) -> None:
    """A failure inside libslirp's loop closes that port; the switch and other ports go on."""
    async with slirp_switch(sockdir) as (switch, console):
        await console.ok("slirp/add")
        await console.ok("slirp/add -H 10.1.0.2/24")
        first, second = sorted(slirp_endpoints(switch), key=lambda e: e.port.number)
        assert first.bridge is not None

        def broken() -> int:
            raise RuntimeError("injected failure")

        # The loop reads the clock for libslirp's armed timer (IPv6 router advertisements).
        first.bridge.clock_ns = broken
        first.send(arp_request(mac(1), "10.0.2.15", "10.0.2.2"))  # wakes its loop
        with trio.fail_after(5):
            await first.closed.wait()
        assert list(slirp_endpoints(switch)) == [second]
        assert second.bridge is not None and second.bridge.running
        assert "slirp" in switch.plugins.active


async def test_slirp_vnl_errors_reach_the_console(sockdir: str) -> None:
    async with slirp_switch(sockdir) as (switch, console):
        reply = await console.command("port/connect slirp:///nonsense")
        assert reply.status == 1000 + errno.EINVAL
        reply = await console.command("port/connect slirp:///mtu=9000")
        assert reply.status == 1000 + errno.EINVAL
        assert isinstance(switch, Switch) and list(slirp_endpoints(switch)) == []


async def test_endpoint_closes_its_eventfd() -> None:
    async with open_slirp_endpoint(SlirpSettings(), description="t") as endpoint:
        fd = endpoint.fileno()
        assert isinstance(endpoint, SlirpEndpoint)
        os.fstat(fd)
    with pytest.raises(OSError):
        os.fstat(fd)
    assert endpoint.closed.is_set()


def readable(fd: int) -> bool:
    return bool(select.select([fd], [], [], 0)[0])


async def test_guest_frames_ask_for_one_turn_per_batch() -> None:
    """The dataplane drives the bridge: guest frames raise its descriptor once, one turn of
    service() answers them all."""
    async with open_slirp_endpoint(SlirpSettings(), description="t") as endpoint:
        bridge = endpoint.bridge
        assert bridge is not None and bridge.external
        (fd,) = endpoint.watched()
        assert fd == bridge.fileno() and not readable(fd)
        for n in range(1, 4):
            endpoint.send(arp_request(mac(n), f"10.0.2.{14 + n}", "10.0.2.99"))
        assert readable(fd)
        turns = bridge.statistics().loop_turns
        bridge.service()
        assert bridge.statistics().loop_turns == turns + 1
        assert not readable(fd)


class ShiftedClock:
    """Monotonic time plus an offset a test moves."""

    def __init__(self) -> None:
        self.offset = 0

    def __call__(self) -> int:
        return time.monotonic_ns() + self.offset


async def test_timers_fire_from_the_timerfd_without_trio() -> None:
    """libslirp's IPv6 router advertisement timer, brought to 50 ms ahead: the bridge's timerfd
    wakes the dataplane, which takes the turn that sends the advertisement."""
    clock = ShiftedClock()
    arrived = trio.Event()
    dataplane = Dataplane()

    def receive(frame: bytes) -> None:
        if is_router_advertisement(frame):
            arrived.set()

    async with trio.open_nursery() as nursery:
        await nursery.start(dataplane.run)
        async with open_slirp_endpoint(SlirpSettings(), description="t",
                                       clock_ns=clock) as endpoint:
            endpoint.port.receive = receive
            dataplane.add(endpoint)
            bridge = endpoint.bridge
            assert bridge is not None
            due_ms = bridge._timers.next_deadline()
            assert due_ms is not None, "libslirp armed its router advertisement timer"
            clock.offset += (due_ms - 50) * 1_000_000 - clock()
            endpoint.send(arp_request(mac(1), "10.0.2.15", "10.0.2.99"))  # a turn: re-arm
            with trio.fail_after(5):
                await arrived.wait()
            dataplane.remove(endpoint)
        nursery.cancel_scope.cancel()


async def test_plugin_add_slirp_takes_no_arguments(sockdir: str) -> None:
    async with running_switch(sockdir) as switch:
        async with await AsyncMgmtClient.connect(os.path.join(sockdir, "mgmt")) as console:
            reply = await console.command("plugin/add slirp queue=5")
            assert reply.status == 1000 + errno.EINVAL
            assert "slirp" not in switch.plugins.active
            await console.ok("plugin/add slirp")
            assert "slirp" in switch.plugins.active
