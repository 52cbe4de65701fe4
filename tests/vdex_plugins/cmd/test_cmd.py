"""``cmd://``: frames through a child's pipes (a real vde_plug, a byte-by-byte echo), and the
child's end: EOF, then SIGTERM, then SIGKILL to its process group, reaped, no orphans."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

import pytest
import trio
from hypothesis import given
from hypothesis import strategies as st

from vdex.errors import ConfigError
from vdex.testing import AsyncMgmtClient, AsyncVdeClient, eth_frame, mac, running_switch
from vdex.testing.frames import BROADCAST
from vdex.testing.processes import VDEX, process, reference_switch, switch_process
from vdex_plugins.cmd import _endpoint

HERE = Path(__file__).resolve().parent


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


async def gone(pid: int, timeout: float = 10) -> None:
    with trio.fail_after(timeout):
        while alive(pid):
            await trio.sleep(0.01)


async def test_split_records_are_reassembled(sockdir: str) -> None:
    echo = f"cmd://{shlex.quote(sys.executable)} {HERE / 'byte_echo.py'}"
    async with running_switch(sockdir, plugins=["cmd"]) as sw:
        endpoint = await sw.open_port(echo)
        async with await AsyncVdeClient.connect(sw.options.sock) as client:
            sent = [eth_frame(BROADCAST, mac(1), bytes([i]) * (i * 37 % 1400)) for i in range(40)]
            for frame in sent:
                await client.send(frame)
            got = [await client.recv() for _ in sent]
            assert got == sent
        assert endpoint.decoder.stats.frames == len(sent)  # type: ignore[attr-defined]
        pid = endpoint.id
    await gone(pid)


@pytest.mark.interop
async def test_vde_plug_as_the_child_joins_two_switches(sockdir: str) -> None:
    ref = os.path.join(sockdir, "ref")
    mine = os.path.join(sockdir, "mine")
    os.mkdir(mine)
    async with switch_process(reference_switch(ref), ref), \
            running_switch(mine, plugins=["cmd"]) as sw:
        async with await AsyncMgmtClient.connect(sw.options.mgmt) as console:
            reply = await console.ok(f'port/connect "cmd://vde_plug vde://{ref}"')
            assert reply[0].startswith("Port 0001 endpoint ")
            printed = await console.ok("port/print 1")
            assert printed[4].endswith(f"module cmd         : cmd://vde_plug vde://{ref}")
            pid = sw.engine.ports.get(1).endpoints[0].id
            async with await AsyncVdeClient.connect(ref) as a, \
                    await AsyncVdeClient.connect(sw.options.sock) as b:
                with trio.fail_after(10):
                    while True:  # vde_plug attaches to ref on its own time
                        await b.send(eth_frame(BROADCAST, mac(9), b"probe"))
                        try:
                            await a.recv(timeout=0.2)
                            break
                        except trio.TooSlowError:
                            pass
                await a.recv_all(quiet=0.1)
                for i in range(10):
                    await a.send(eth_frame(BROADCAST, mac(1), b"%d" % i))
                    assert await b.recv() == eth_frame(BROADCAST, mac(1), b"%d" % i)
                    await b.send(eth_frame(mac(1), mac(2), b"back %d" % i))
                    assert await a.recv() == eth_frame(mac(1), mac(2), b"back %d" % i)
            await console.ok(f"port/epclose 1 {pid}")
            await gone(pid)  # vde_plug leaves on EOF
            with trio.fail_after(5):
                while sw.engine.ports.get(1).active:
                    await trio.sleep(0.01)


async def test_no_orphans_and_a_stubborn_child_is_killed(sockdir: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_endpoint, "EOF_GRACE", 0.3)
    monkeypatch.setattr(_endpoint, "TERM_GRACE", 0.3)
    pidfile = os.path.join(sockdir, "grandchild")
    async with running_switch(sockdir, plugins=["cmd"]) as sw:
        # a child that leaves a grandchild behind in its process group
        ep = await sw.open_port(
            f"""cmd://sh -c 'sleep 600 & echo $! > {pidfile}; exec cat'""")
        with trio.fail_after(5):
            while not (os.path.exists(pidfile) and Path(pidfile).read_text().strip()):
                await trio.sleep(0.01)
        grandchild = int(Path(pidfile).read_text())
        assert alive(grandchild)
        ep.request_close()
        await gone(ep.id)
        await gone(grandchild)
        # a child that ignores EOF and SIGTERM
        stubborn = await sw.open_port("""cmd://sh -c 'trap "" TERM; exec sleep 600'""")
        start = trio.current_time()
        stubborn.request_close()
        await gone(stubborn.id)
        assert trio.current_time() - start >= 0.5, "EOF grace, then TERM grace, then KILL"


async def test_a_child_that_exits_frees_the_port(sockdir: str) -> None:
    async with running_switch(sockdir, plugins=["cmd"]) as sw:
        async with await AsyncMgmtClient.connect(sw.options.mgmt) as console:
            await console.ok("port/connect cmd://true")
            with trio.fail_after(5):
                while sw.engine.ports.get(1).active:
                    await trio.sleep(0.01)
            assert (await console.command("port/connect cmd://")).status == 1022
            assert (await console.command("port/connect cmd://'unterminated")).status == 1022
            assert (await console.command("port/connect cmd:///nonexistent/prog")).status == 1002


@pytest.mark.interop
async def test_vdex_plug_cmd_bridges_two_switches(sockdir: str) -> None:
    """vdeplug4's own example: ``vde_plug SW1 "cmd://vde_plug SW2"``."""
    a_dir, b_dir = os.path.join(sockdir, "a"), os.path.join(sockdir, "b")
    async with switch_process(reference_switch(a_dir), a_dir), \
            switch_process(reference_switch(b_dir), b_dir):
        async with process([*VDEX, "plug", f"vde://{a_dir}", f"cmd://vde_plug vde://{b_dir}"]):
            async with await AsyncVdeClient.connect(a_dir) as a, \
                    await AsyncVdeClient.connect(b_dir) as b:
                with trio.fail_after(10):
                    while True:
                        await a.send(eth_frame(BROADCAST, mac(9), b"probe"))
                        try:
                            await b.recv(timeout=0.2)
                            break
                        except trio.TooSlowError:
                            pass
                await b.recv_all(quiet=0.1)
                await b.send(eth_frame(mac(9), mac(2), b"back"))
                assert await a.recv() == eth_frame(mac(9), mac(2), b"back")


@given(st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=5))
def test_command_text_is_split_like_a_shell_would(argv: list[str]) -> None:
    argv = [a for a in argv if "\x00" not in a] or ["x"]
    assert _endpoint.command_argv(shlex.join(argv)) == argv


@given(st.text(max_size=40))
def test_command_parser_never_crashes(text: str) -> None:
    try:
        argv = _endpoint.command_argv(text)
    except ConfigError:
        return
    assert argv and all(isinstance(a, str) for a in argv)
