"""``vxlan://`` on loopback: two in-process switches (127.0.0.1 and 127.0.0.2, ``bind=``), the
wire format, learning from a peer that sends from a hashed source port (as Linux does), and
what a VXLAN port refuses."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest
import trio

from vdex.testing import AsyncMgmtClient, AsyncVdeClient, eth_frame, mac, running_switch
from vdex.testing.frames import BROADCAST
from vdex_plugins.vxlan._codec import encode_header


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def listener() -> Iterator[tuple[socket.socket, int]]:
    """A plain UDP socket on 127.0.0.3 playing a remote VTEP (bound to the VXLAN port)."""
    port = free_port()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.3", port))
    s.settimeout(5)
    try:
        yield s, port
    finally:
        s.close()


async def recv_in_thread(s: socket.socket) -> bytes:
    data: bytes = await trio.to_thread.run_sync(s.recv, 4096)
    return data


async def test_two_switches_on_one_vni(sockdir: str) -> None:
    port = free_port()
    da, db = os.path.join(sockdir, "a"), os.path.join(sockdir, "b")
    os.mkdir(da)
    os.mkdir(db)
    async with running_switch(da, plugins=["vxlan"]) as sw_a, \
            running_switch(db, plugins=["vxlan"]) as sw_b:
        async with await AsyncMgmtClient.connect(sw_a.options.mgmt) as ca, \
                await AsyncMgmtClient.connect(sw_b.options.mgmt) as cb:
            await ca.ok(f"port/connect vxlan://127.0.0.2/bind=127.0.0.1/port={port}/vni=42")
            await cb.ok(f"port/connect vxlan://127.0.0.1/b=127.0.0.2/p={port}/v=42")
            async with await AsyncVdeClient.connect(sw_a.options.sock) as a, \
                    await AsyncVdeClient.connect(sw_b.options.sock) as b:
                await a.send(eth_frame(BROADCAST, mac(1), b"flooded"))
                assert await b.recv() == eth_frame(BROADCAST, mac(1), b"flooded")
                await b.send(eth_frame(mac(1), mac(2), b"learned unicast"))
                assert await a.recv() == eth_frame(mac(1), mac(2), b"learned unicast")
                await a.send(eth_frame(mac(2), mac(1), b"and back"))
                assert await b.recv() == eth_frame(mac(2), mac(1), b"and back")
            shown = await ca.ok("vxlan/print")
            assert shown[0].startswith(f"Port 0001 vxlan://127.0.0.2/bind=127.0.0.1/port={port}"
                                       f"/vni=42 VNI 42 flood 127.0.0.2:{port} learned 1 ")
            assert shown[1].startswith(f"  02:00:00:00:00:02 -> 127.0.0.2:{port} age ")
            printed = await ca.ok("port/print 1")
            assert " module vxlan       : vxlan://127.0.0.2/" in printed[4]


async def test_wire_format_learning_and_refusals(
        sockdir: str, listener: tuple[socket.socket, int]) -> None:
    remote, port = listener
    async with running_switch(sockdir, plugins=["vxlan"]) as sw:
        endpoint = await sw.open_port(f"vxlan://127.0.0.3/bind=127.0.0.1/port={port}/vni=42")
        me = ("127.0.0.1", port)
        async with await AsyncVdeClient.connect(sw.options.sock) as client:
            # flooding goes to the peer, with the RFC 7348 header, source port = VXLAN port
            await client.send(eth_frame(BROADCAST, mac(1), b"who is there"))
            packet, sender = await trio.to_thread.run_sync(remote.recvfrom, 4096)
            assert sender == me
            assert packet[:8] == bytes.fromhex("08000000 00002a00")
            assert packet[8:] == eth_frame(BROADCAST, mac(1), b"who is there")
            # a Linux VTEP answers from a hashed source port on another address
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as linux:
                linux.bind(("127.0.0.4", 0))
                linux.sendto(encode_header(42) + eth_frame(mac(1), mac(5), b"reply"), me)
                assert await client.recv() == eth_frame(mac(1), mac(5), b"reply")
                # ... and is reached at its address on the VXLAN port, not at its source port
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as vtep:
                    vtep.bind(("127.0.0.4", port))
                    vtep.settimeout(5)
                    await client.send(eth_frame(mac(5), mac(1), b"unicast"))
                    packet = await recv_in_thread(vtep)
                    assert packet[8:] == eth_frame(mac(5), mac(1), b"unicast")
                # refused: another VNI, bad flags, a frame of 14 bytes, an oversize frame
                linux.sendto(encode_header(43) + eth_frame(BROADCAST, mac(6), b"vni 43"), me)
                linux.sendto(b"\x00" + encode_header(42)[1:] + eth_frame(BROADCAST, mac(6)), me)
                linux.sendto(encode_header(42) + eth_frame(BROADCAST, mac(6), b""), me)
                linux.sendto(encode_header(42) + eth_frame(BROADCAST, mac(6), b"x" * 1600), me)
                linux.sendto(b"\x08\x00", me)
                await client.expect_nothing(0.2)
        drops = endpoint.codec.statistics()  # type: ignore[attr-defined]
        assert (drops.wrong_vni, drops.bad_flags, drops.short) == (1, 1, 2)
        assert endpoint.port.drops.oversize == 1
        assert endpoint.port.active


async def test_port_taken_and_bad_options(sockdir: str) -> None:
    port = free_port()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as holder:
        holder.bind(("0.0.0.0", port))
        async with running_switch(sockdir, plugins=["vxlan"]) as sw:
            async with await AsyncMgmtClient.connect(sw.options.mgmt) as console:
                reply = await console.command(f"port/connect vxlan://127.0.0.2/port={port}")
                assert reply.status == 1098  # EADDRINUSE
                for bad in ("vxlan:///vni=99999999", "vxlan:///nosuchkey=1",
                            "vxlan://nonexistent.invalid/port=1"):
                    assert (await console.command(f"port/connect {bad}")).status == 1022, bad


@pytest.mark.interop
async def test_vdex_plug_pair_joins_two_vde_switches(sockdir: str) -> None:
    """Two ``vdex plug vde://SW vxlan://...`` processes (the host loop drives them, learning on
    the monotonic clock) make a VXLAN cable between two real vde_switches."""
    from vdex.testing.processes import VDEX, process, reference_switch, switch_process

    port = free_port()
    a_dir, b_dir = os.path.join(sockdir, "a"), os.path.join(sockdir, "b")
    vx = "vxlan://127.0.0.{}/bind=127.0.0.{}/port=" + f"{port}/vni=7"
    async with switch_process(reference_switch(a_dir), a_dir), \
            switch_process(reference_switch(b_dir), b_dir), \
            process([*VDEX, "plug", f"vde://{a_dir}", vx.format(2, 1)]), \
            process([*VDEX, "plug", f"vde://{b_dir}", vx.format(1, 2)]):
        async with await AsyncVdeClient.connect(a_dir) as a, \
                await AsyncVdeClient.connect(b_dir) as b:
            with trio.fail_after(10):
                while True:  # the plugs attach on their own time
                    await a.send(eth_frame(BROADCAST, mac(9), b"probe"))
                    try:
                        await b.recv(timeout=0.2)
                        break
                    except trio.TooSlowError:
                        pass
            await b.recv_all(quiet=0.1)
            await b.send(eth_frame(mac(9), mac(2), b"learned, unicast back"))
            assert await a.recv() == eth_frame(mac(9), mac(2), b"learned, unicast back")
            await a.send(eth_frame(mac(2), mac(9), b"and forth"))
            assert await b.recv() == eth_frame(mac(2), mac(9), b"and forth")
