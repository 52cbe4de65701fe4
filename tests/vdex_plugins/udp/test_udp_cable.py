"""``udp://`` between two in-process switches on loopback, and its vdeplug4 socket discipline."""

from __future__ import annotations

import errno
import os
import socket
from collections.abc import Iterator

import pytest
import trio

from vdex.testing import AsyncMgmtClient, AsyncVdeClient, eth_frame, mac, running_switch
from vdex.testing.frames import BROADCAST


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def raw() -> Iterator[socket.socket]:
    """A plain UDP socket on loopback playing the far end."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(5)
    try:
        yield s
    finally:
        s.close()


def subdirs(base: str, *names: str) -> list[str]:
    paths = [os.path.join(base, n) for n in names]
    for p in paths:
        os.mkdir(p)
    return paths


async def test_two_switches_joined_by_a_udp_cable(sockdir: str) -> None:
    pa, pb = free_udp_port(), free_udp_port()
    da, db = subdirs(sockdir, "a", "b")
    async with running_switch(da, plugins=["udp"]) as sw_a, \
            running_switch(db, plugins=["udp"]) as sw_b:
        async with await AsyncMgmtClient.connect(sw_a.options.mgmt) as ca, \
                await AsyncMgmtClient.connect(sw_b.options.mgmt) as cb:
            await ca.ok(f"port/connect udp://127.0.0.1:{pa}->127.0.0.1:{pb}")
            await cb.ok(f"port/connect udp://{pb}->127.0.0.1:{pa}")
            printed = await ca.ok("port/print")
            assert printed[4].endswith(f"module udp         : udp://127.0.0.1:{pa}->127.0.0.1:{pb}")
        async with await AsyncVdeClient.connect(sw_a.options.sock) as a, \
                await AsyncVdeClient.connect(sw_b.options.sock) as b:
            for i in range(20):
                await a.send(eth_frame(BROADCAST, mac(1), b"across %d" % i))
                assert await b.recv() == eth_frame(BROADCAST, mac(1), b"across %d" % i)
                await b.send(eth_frame(mac(1), mac(2), b"back %d" % i))
                assert await a.recv() == eth_frame(mac(1), mac(2), b"back %d" % i)


async def test_connects_on_first_send_and_a_zero_length_datagram_disconnects(
        sockdir: str, raw: socket.socket) -> None:
    port = free_udp_port()
    peer = raw.getsockname()
    stranger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    stranger.bind(("127.0.0.1", 0))
    async with running_switch(sockdir, plugins=["udp"]) as sw:
        endpoint = await sw.open_port(f"udp://127.0.0.1:{port}->127.0.0.1:{peer[1]}")
        me = ("127.0.0.1", port)
        async with await AsyncVdeClient.connect(sw.options.sock) as client:
            # not connected yet: frames from anyone are taken
            stranger.sendto(eth_frame(BROADCAST, mac(7), b"before"), me)
            assert await client.recv() == eth_frame(BROADCAST, mac(7), b"before")
            # the first frame out connects the socket to the destination
            await client.send(eth_frame(BROADCAST, mac(1), b"hello"))
            data = await trio.to_thread.run_sync(raw.recv, 2048)
            assert data == eth_frame(BROADCAST, mac(1), b"hello")
            assert endpoint.connects == 1  # type: ignore[attr-defined]
            # connected: only the peer gets through
            stranger.sendto(eth_frame(BROADCAST, mac(7), b"filtered"), me)
            raw.sendto(eth_frame(BROADCAST, mac(2), b"from peer"), me)
            assert await client.recv() == eth_frame(BROADCAST, mac(2), b"from peer")
            await client.expect_nothing(0.2)
            # a zero-length datagram dissolves the association: anyone again
            raw.sendto(b"", me)
            await trio.sleep(0.05)
            stranger.sendto(eth_frame(BROADCAST, mac(7), b"after"), me)
            assert await client.recv() == eth_frame(BROADCAST, mac(7), b"after")
            assert endpoint.disconnects == 1  # type: ignore[attr-defined]
            await client.send(eth_frame(BROADCAST, mac(1), b"again"))
            data = await trio.to_thread.run_sync(raw.recv, 2048)
            assert data == eth_frame(BROADCAST, mac(1), b"again")
            assert endpoint.connects == 2  # type: ignore[attr-defined]
    stranger.close()


async def test_a_missing_peer_and_bad_datagrams_are_counted_not_fatal(sockdir: str) -> None:
    port, nobody = free_udp_port(), free_udp_port()
    async with running_switch(sockdir, plugins=["udp"]) as sw:
        endpoint = await sw.open_port(f"udp://127.0.0.1:{port}->127.0.0.1:{nobody}")
        async with await AsyncVdeClient.connect(sw.options.sock) as client:
            for i in range(5):  # each provokes an ICMP port unreachable
                await client.send(eth_frame(BROADCAST, mac(1), b"lost %d" % i))
                await trio.sleep(0.02)
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.bind(("127.0.0.1", nobody))  # the peer shows up
                s.sendto(b"\x01\x02\x03", ("127.0.0.1", port))
                s.sendto(b"x" * 2000, ("127.0.0.1", port))
                s.sendto(eth_frame(BROADCAST, mac(2), b"alive"), ("127.0.0.1", port))
                assert await client.recv() == eth_frame(BROADCAST, mac(2), b"alive")
                await client.send(eth_frame(BROADCAST, mac(1), b"reaches"))
                s.settimeout(5)
                assert await trio.to_thread.run_sync(s.recv, 2048) == \
                    eth_frame(BROADCAST, mac(1), b"reaches")
        port_obj = endpoint.port
        assert port_obj.active, "ECONNREFUSED never ends the cable"
        assert (port_obj.drops.runt, port_obj.drops.oversize) == (1, 1)
        assert endpoint.absent >= 1  # type: ignore[attr-defined]


@pytest.mark.parametrize(("vnl", "status"), [
    ("udp://5000", 1022),                              # no ->
    ("udp://5000->nonexistent.invalid:5000", 1113),    # does not resolve: EHOSTUNREACH
])
async def test_bad_udp_vnls(sockdir: str, vnl: str, status: int) -> None:
    async with running_switch(sockdir, plugins=["udp"]) as sw:
        async with await AsyncMgmtClient.connect(sw.options.mgmt) as console:
            assert (await console.command(f"port/connect {vnl}")).status == status


async def test_port_in_use(sockdir: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as holder:
        holder.bind(("127.0.0.1", 0))
        taken = holder.getsockname()[1]
        async with running_switch(sockdir, plugins=["udp"]) as sw:
            async with await AsyncMgmtClient.connect(sw.options.mgmt) as console:
                reply = await console.command(f"port/connect udp://127.0.0.1:{taken}->127.0.0.1:9")
                assert reply.status == 1000 + errno.EADDRINUSE


async def test_the_cable_socket_gets_a_large_receive_buffer(sockdir: str) -> None:
    async with running_switch(sockdir, plugins=["udp", "vxlan"]) as sw:
        udp = await sw.open_port(f"udp://127.0.0.1:{free_udp_port()}->127.0.0.1:9")
        vx = await sw.open_port(f"vxlan://127.0.0.2/bind=127.0.0.1/port={free_udp_port()}")
        small = await sw.open_port(
            f"vxlan://127.0.0.2/bind=127.0.0.1/port={free_udp_port()}/rcvbuf=64K")
        sizes = [ep.sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)  # type: ignore[attr-defined]
                 for ep in (udp, vx, small)]
    with open("/proc/sys/net/core/rmem_max") as f:
        rmem_max = int(f.read())
    # the kernel doubles what it is asked for; without CAP_NET_ADMIN it stops at rmem_max
    expected = 4 << 20 if os.geteuid() == 0 else min(4 << 20, 2 * rmem_max)
    assert sizes == [expected, expected, 128 << 10]
