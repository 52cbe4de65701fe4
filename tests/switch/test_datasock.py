"""The VDE data socket exactly as spec §1: directory, modes, handshake, names, ports, EOF."""

from __future__ import annotations

import grp
import os
import re
import stat
import struct

import pytest
import trio
from harness import RawConsole, RawVdeClient, sockets_in, wait_until

from vdex.testing import AsyncMgmtClient, AsyncVdeClient, eth_frame, mac, running_switch
from vdex.testing.frames import BROADCAST
from vdex.vde.request import build_request

NOGROUP = grp.getgrnam("nogroup").gr_gid


def mode_of(path: str) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize(
    ("options", "dirmode", "mode"),
    [
        ({}, 0o2700, 0o600),
        ({"mode": 0o666}, 0o2777, 0o666),
        ({"mode": 0o660}, 0o2770, 0o660),
        ({"mode": 0o640}, 0o2750, 0o640),
        ({"dirmode": 0o777}, 0o777, 0o666),
        ({"dirmode": 0o750}, 0o750, 0o640),
        ({"dirmode": 0o750, "mode": 0o600}, 0o750, 0o600),
    ],
    ids=["default", "m0666", "m0660", "m0640", "dirmode0777", "dirmode0750", "both"],
)
async def test_directory_and_socket_modes(sockdir: str, options: dict[str, int], dirmode: int,
                                          mode: int) -> None:
    """Spec §1.9 table, including ds/showinfo's ``std mode``."""
    async with running_switch(sockdir, **options) as sw:
        assert mode_of(sw.options.sock) == dirmode
        assert mode_of(os.path.join(sw.options.sock, "ctl")) == mode
        async with await AsyncMgmtClient.connect(sw.options.mgmt) as console:
            assert await console.ok("ds/showinfo") == [f"ctl dir {sw.options.sock}",
                                                       f"std mode 0{mode:03o}"]


async def test_group_owns_directory_ctl_and_data_sockets(sockdir: str) -> None:
    async with running_switch(sockdir, mode=0o660, gid=NOGROUP) as sw:
        assert os.stat(sw.options.sock).st_gid == NOGROUP
        assert os.stat(os.path.join(sw.options.sock, "ctl")).st_gid == NOGROUP
        async with await AsyncVdeClient.connect(sw.options.sock) as client:
            st = os.stat(client.switch_path)
            assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (0, NOGROUP, 0o600), \
                "as root: the client's uid owns it, mode & 0700, the -g group"


async def test_handshake_reply_is_110_bytes_naming_nnn_f(sockdir: str) -> None:
    async with running_switch(sockdir) as sw, \
            await RawVdeClient.open(os.path.join(sw.options.sock, "ctl"), sockdir) as raw:
        await raw.send(build_request(raw.path, "raw client"))
        reply = await raw.reply()
        assert len(reply) == 110
        family, path = struct.unpack("=H108s", reply)
        name = path.rstrip(b"\0").decode()
        assert family == 1
        assert os.path.dirname(name) == sw.options.sock
        assert re.fullmatch(r"001\.\d+", os.path.basename(name))
        endpoint = sw.engine.ports.get(1).endpoints[0]
        assert os.path.basename(name) == f"001.{endpoint.fd}", "F is the switch's fd number"
        assert stat.S_ISSOCK(os.lstat(name).st_mode)
        await raw.data.connect(name)
        await raw.data.send(eth_frame(BROADCAST, mac(1)))
        await wait_until(lambda: sw.engine.ports.get(1).in_frames == 1, what="the frame")
        with trio.move_on_after(0.1):
            extra = await raw.ctl.recv(1)
            raise AssertionError(f"the switch sent more than the reply on ctl: {extra!r}")


@pytest.mark.parametrize(("requested", "name"), [(5, "005"), (17, "017"), (1234, "1234")])
async def test_port_requests_take_that_port(sockdir: str, requested: int, name: str) -> None:
    async with running_switch(sockdir, numports=2000) as sw, \
            await AsyncVdeClient.connect(sw.options.sock, port=requested) as client:
        assert client.port == requested
        assert os.path.basename(client.switch_path).startswith(f"{name}.")


async def test_port_0_on_request_only(sockdir: str) -> None:
    async with running_switch(sockdir, mgmt_mode=0o640, mgmt_gid=NOGROUP) as sw, \
            await AsyncVdeClient.connect(sw.options.sock, port=-1) as zero, \
            await AsyncVdeClient.connect(sw.options.sock) as any_port:
        assert (zero.port, any_port.port) == (0, 1)
        assert os.path.basename(zero.switch_path).startswith("000.")
        assert os.stat(zero.switch_path).st_gid == NOGROUP, "port 0 gets --mgmtgroup"
        assert os.stat(any_port.switch_path).st_gid != NOGROUP
        await zero.send(eth_frame(BROADCAST, mac(1), b"from port 0"))
        assert await any_port.recv() == eth_frame(BROADCAST, mac(1), b"from port 0")
        await any_port.send(eth_frame(mac(1), mac(2)))
        assert await zero.recv() == eth_frame(mac(1), mac(2))


async def test_v1_requests_get_a_port(sockdir: str) -> None:
    """Legacy layout: magic, type, MAC (ignored), sockaddr, description."""
    async with running_switch(sockdir) as sw, \
            await RawVdeClient.open(os.path.join(sw.options.sock, "ctl"), sockdir) as raw:
        request = (struct.pack("=II", 0xFEEDFACE, 0) + b"\x02\x00\x00\x00\x00\x01"
                   + struct.pack("=H108s", 1, raw.path.encode()) + b"v1-client")
        await raw.send(request)
        assert len(await raw.reply()) == 110
        assert sw.engine.ports.get(1).endpoints[0].description == "v1-client"


async def test_eof_on_the_stream_frees_the_port_and_its_socket_file(sockdir: str) -> None:
    async with running_switch(sockdir) as sw, \
            await AsyncVdeClient.connect(sw.options.sock) as stays:
        client = await AsyncVdeClient.connect(sw.options.sock, port=7)
        path = client.switch_path
        assert sw.engine.ports.get(7).active
        client.ctl.close()  # the data socket stays open: only ctl EOF counts
        await wait_until(lambda: not os.path.exists(path), what="the socket file to go")
        assert not sw.engine.ports.get(7).active
        assert sockets_in(sw.options.sock) == sorted(["ctl", os.path.basename(stays.switch_path)])
        client.close()
        again = await AsyncVdeClient.connect(sw.options.sock, port=7)
        again.close()


async def test_closing_only_the_data_socket_keeps_the_port(sockdir: str) -> None:
    """Spec §4.8: nothing is freed; frames for it fail and are counted, the switch goes on."""
    async with running_switch(sockdir) as sw, \
            await AsyncVdeClient.connect(sw.options.sock) as a, \
            await AsyncVdeClient.connect(sw.options.sock) as b:
        b.data.close()
        await a.send(eth_frame(BROADCAST, mac(1)))
        port = sw.engine.ports.get(2)
        await wait_until(lambda: port.drops.tx_error == 1, what="the failed send to be counted")
        assert port.active


async def test_epclose_closes_the_clients_stream(sockdir: str) -> None:
    async with running_switch(sockdir) as sw, \
            await RawConsole.connect(sw.options.mgmt) as console, \
            await AsyncVdeClient.connect(sw.options.sock, port=3) as first, \
            await AsyncVdeClient.connect(sw.options.sock, port=3) as second:
        await console.banner()
        ids = [ep.id for ep in sw.engine.ports.get(3).endpoints]
        assert await console.command(f"port/epclose 3 {ids[0]}") == "1000 Success\n"
        await second.wait_closed()
        await wait_until(lambda: not os.path.exists(second.switch_path), what="its socket")
        assert sw.engine.ports.get(3).active, "the other endpoint stays"
        assert await console.command(f"port/epclose 3 {ids[0]}") == \
            "1006 No such device or address\n"
        assert await console.command(f"port/epclose 3 {ids[1]}") == "1000 Success\n"
        await first.wait_closed()
        await wait_until(lambda: not sw.engine.ports.get(3).active, what="port 3 to go down")


async def test_endpoints_sharing_a_port(sockdir: str) -> None:
    """Several endpoints of one user on a port: a tiny hub that never echoes to the sender."""
    async with running_switch(sockdir) as sw, \
            await AsyncVdeClient.connect(sw.options.sock, port=4, description="one") as one, \
            await AsyncVdeClient.connect(sw.options.sock, port=4, description="two") as two, \
            await AsyncVdeClient.connect(sw.options.sock) as other, \
            await AsyncMgmtClient.connect(sw.options.mgmt) as console:
        await one.send(eth_frame(BROADCAST, mac(1)))
        assert await other.recv() == eth_frame(BROADCAST, mac(1))
        await other.send(eth_frame(BROADCAST, mac(3)))
        assert await one.recv() == eth_frame(BROADCAST, mac(3))
        assert await two.recv() == eth_frame(BROADCAST, mac(3))
        await two.expect_nothing(0.1)
        lines = await console.ok("port/print 4")
        assert [line.rsplit(": ", 1)[1] for line in lines if "endpoint ID" in line] == \
            ["two", "one"], "newest first"


async def test_every_socket_and_the_directory_go_at_exit(sockdir: str) -> None:
    ctl_dir = os.path.join(sockdir, "sw")
    clients = []
    async with running_switch(sockdir) as sw:
        for port in (0, 2, -1):
            clients.append(await AsyncVdeClient.connect(sw.options.sock, port=port))
        assert len(sockets_in(ctl_dir)) == 4
    try:
        assert not os.path.exists(ctl_dir)
        assert not os.path.exists(os.path.join(sockdir, "mgmt"))
        for client in clients:
            await client.wait_closed()
    finally:
        for client in clients:
            client.close()


async def test_a_directory_with_foreign_files_is_left_with_a_warning(
        sockdir: str, caplog: pytest.LogCaptureFixture) -> None:
    ctl_dir = os.path.join(sockdir, "sw")
    async with running_switch(sockdir), await AsyncVdeClient.connect(ctl_dir):
        with open(os.path.join(ctl_dir, "leftover"), "w"):
            pass
    assert os.listdir(ctl_dir) == ["leftover"], "ctl and NNN.F are removed all the same"
    assert any("not empty" in r.getMessage() and "leftover" in r.getMessage()
               for r in caplog.records)
