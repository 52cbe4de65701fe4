"""The console over a real unix socket, byte for byte, on an in-process switch."""

from __future__ import annotations

import os
import re

import pytest
import trio
import trio.testing
from harness import PROMPT, RawConsole, sockets_in, wait_until

from vdex.testing import AsyncVdeClient, eth_frame, mac, running_switch
from vdex.testing.frames import BROADCAST

BANNER = (b"VDE switch V.2.3.2\n(C) Virtual Square Team (coord. R. Davoli) 2005,2006,2007 - "
          b"GPLv2\n")
PORT_SHOWINFO = "0000 DATA END WITH '.'\nNumports=32\nHUB=false\ncounters=true\n.\n1000 Success\n"


async def test_banner_then_prompt(sockdir: str) -> None:
    async with running_switch(sockdir) as sw, await RawConsole.connect(sw.options.mgmt) as c:
        assert await c.banner() == BANNER + PROMPT


async def test_reply_and_prompt_bytes(sockdir: str) -> None:
    async with running_switch(sockdir) as sw, await RawConsole.connect(sw.options.mgmt) as c:
        await c.banner()
        await c.send(b"port/showinfo\n")
        assert await c.read_until(PROMPT) == PORT_SHOWINFO.encode() + PROMPT


async def test_several_commands_in_one_write_all_run(sockdir: str) -> None:
    async with running_switch(sockdir) as sw, await RawConsole.connect(sw.options.mgmt) as c:
        await c.banner()
        await c.send(b"ds/showinfo\nport/showinfo\nfoo/bar\n")
        first = (await c.read_until(PROMPT)).decode()
        assert first == (f"0000 DATA END WITH '.'\nctl dir {sw.datasock.directory}\n"
                         "std mode 0600\n.\n1000 Success\n\nvde$ ")
        assert (await c.read_until(PROMPT)).decode() == PORT_SHOWINFO + "\nvde$ "
        assert await c.read_until(PROMPT) == b"1038 Function not implemented\n" + PROMPT


async def test_one_command_split_across_writes_runs_once(sockdir: str) -> None:
    async with running_switch(sockdir) as sw, await RawConsole.connect(sw.options.mgmt) as c:
        await c.banner()
        for piece in (b"port", b"/sho", b"winfo", b"\n"):
            await c.send(piece)
            await trio.testing.wait_all_tasks_blocked()
        assert (await c.read_until(PROMPT)).decode() == PORT_SHOWINFO + "\nvde$ "
        assert await c.command("port/showinfo") == PORT_SHOWINFO, "nothing else was queued"


async def test_data_block_framing_even_on_failure(sockdir: str) -> None:
    async with running_switch(sockdir) as sw, await RawConsole.connect(sw.options.mgmt) as c:
        await c.banner()
        assert await c.command("port/print 7") == \
            "0000 DATA END WITH '.'\n.\n1006 No such device or address\n"
        assert await c.command("port/print 99") == \
            "0000 DATA END WITH '.'\n.\n1022 Invalid argument\n"
        assert await c.command("hash/find zz") == \
            "0000 DATA END WITH '.'\n.\n1022 Invalid argument\n"
        assert await c.command("debug/list xyz") == (
            "0000 DATA END WITH '.'\nCATEGORY               TAG STATUS HELP\n"
            "------------           --- ------ ----\n.\n1002 No such file or directory\n")


async def test_unknown_commands_and_prefix_matching(sockdir: str) -> None:
    async with running_switch(sockdir) as sw, await RawConsole.connect(sw.options.mgmt) as c:
        await c.banner()
        assert await c.command("foo/bar") == "1038 Function not implemented\n"
        assert await c.command("port") == "1038 Function not implemented\n", "a menu"
        assert (await c.command("showinfoXYZ")).startswith("0000 DATA END WITH '.'\nVDE switch")
        assert await c.command("port/showinfo\r") == PORT_SHOWINFO, "CRLF clients work"


@pytest.mark.parametrize("line", ["", "   ", "\t", "# a comment", "   # indented"])
async def test_blank_and_comment_lines_give_only_a_prompt(sockdir: str, line: str) -> None:
    async with running_switch(sockdir) as sw, await RawConsole.connect(sw.options.mgmt) as c:
        await c.banner()
        assert await c.command(line) == ""
        assert await c.command("port/showinfo") == PORT_SHOWINFO


async def test_an_over_long_line_is_refused_once(sockdir: str) -> None:
    async with running_switch(sockdir) as sw, await RawConsole.connect(sw.options.mgmt) as c:
        await c.banner()
        await c.send(b"help " + b"x" * 10_000)
        await c.send(b"y" * 10_000 + b"\n")
        assert await c.read_until(PROMPT) == b"1022 Invalid argument\n" + PROMPT
        assert await c.command("port/showinfo") == PORT_SHOWINFO


async def test_a_last_command_without_newline_runs_at_end_of_input(sockdir: str) -> None:
    """vde_switch runs what one read() brought; a client that writes ``shutdown`` without a
    newline and closes its side must not be ignored."""
    async with running_switch(sockdir) as sw, await RawConsole.connect(sw.options.mgmt) as c:
        await c.banner()
        await c.send(b"port/showinfo")
        await c.stream.send_eof()
        assert (await c.read_to_eof()).decode() == PORT_SHOWINFO + "\nvde$ "


async def test_logout_ends_only_that_session(sockdir: str) -> None:
    async with running_switch(sockdir) as sw:
        async with await RawConsole.connect(sw.options.mgmt) as other:
            await other.banner()
            async with await RawConsole.connect(sw.options.mgmt) as c:
                await c.banner()
                await c.send(b"logout\n")
                assert await c.read_to_eof() == b"9999 END OF SESSION"
            assert await other.command("port/showinfo") == PORT_SHOWINFO
            assert sw.running


async def test_shutdown_stops_the_switch_and_removes_every_socket(sockdir: str) -> None:
    ctl_dir = os.path.join(sockdir, "sw")
    async with running_switch(sockdir) as sw:
        async with await AsyncVdeClient.connect(sw.options.sock) as a, \
                await AsyncVdeClient.connect(sw.options.sock, port=-1) as zero:
            assert sorted(sockets_in(ctl_dir)) == sorted(
                ["ctl", os.path.basename(a.switch_path), os.path.basename(zero.switch_path)])
            async with await RawConsole.connect(sw.options.mgmt) as c:
                await c.banner()
                await c.send(b"shutdown\n")
                assert await c.read_to_eof() == b"9999 END OF SESSION"
            await a.wait_closed()
            await zero.wait_closed()
            await wait_until(lambda: not sw.running, what="the switch to stop")
    assert not os.path.exists(ctl_dir), "the control directory is removed"
    assert not os.path.exists(os.path.join(sockdir, "mgmt")), "the console socket is removed"


async def test_load_echoes_each_line_then_its_reply(sockdir: str) -> None:
    script = os.path.join(sockdir, "script.rc")
    nested = os.path.join(sockdir, "nested.rc")
    with open(script, "w") as f:
        f.write("# comment line\nport/create 7\nbogus/cmd\n  port/allprint 7\nlogout\nshutdown\n"
                f"load {nested}\n")
    with open(nested, "w") as f:
        f.write("port/showinfo")  # no newline at the end
    async with running_switch(sockdir) as sw, await RawConsole.connect(sw.options.mgmt) as c:
        await c.banner()
        reply = await c.command(f"load {script}")
        assert reply == (
            f"vde[{script}]: # comment line\n"
            f"vde[{script}]: port/create 7\n1000 Success\n"
            f"vde[{script}]: bogus/cmd\n1038 Function not implemented\n"
            f"vde[{script}]:   port/allprint 7\n0000 DATA END WITH '.'\n"
            "Port 0007 untagged_vlan=0000 INACTIVE - NOT Unnamed Allocatable\n"
            " Current User: NONE Access Control: (User: NONE - Group: NONE)\n"
            " IN:  pkts          0          bytes                    0\n"
            " OUT: pkts          0          bytes                    0\n.\n1000 Success\n"
            f"vde[{script}]: logout\n"
            f"vde[{script}]: shutdown\n"
            f"vde[{script}]: load {nested}\n"
            f"vde[{nested}]: port/showinfo\n{PORT_SHOWINFO}1000 Success\n"
            "1000 Success\n")
        assert sw.running, "logout and shutdown inside a script are ignored"
        assert await c.command("port/showinfo") == PORT_SHOWINFO
        assert await c.command("load /nonexistent/file") == "1002 No such file or directory\n"


async def test_rc_file_at_start(sockdir: str) -> None:
    rc = os.path.join(sockdir, "switch.rc")
    with open(rc, "w") as f:
        f.write("# start-up\nport/create 5\nhash/setexpire 42\nbogus/command\n\nport/print 99\n"
                "logout\nshutdown\nhash/setminper 7\n")
    async with running_switch(sockdir, rcfile=rc) as sw, \
            await RawConsole.connect(sw.options.mgmt) as c:
        await c.banner()
        assert sw.engine.ports.get(5) is not None
        assert await c.command("hash/showinfo") == (
            "0000 DATA END WITH '.'\nHash size 128\nGC interval 2 secs\nGC expire 42 secs\n"
            "Min persistence 7 secs\n.\n1000 Success\n"), "errors, logout, shutdown skipped"


async def test_debug_events_in_vde_switch_formats(sockdir: str) -> None:
    async with running_switch(sockdir) as sw, await RawConsole.connect(sw.options.mgmt) as c:
        await c.banner()
        assert await c.command("debug/add port") == "1000 Success\n"
        assert await c.command("debug/add hash") == "1000 Success\n"
        async with await AsyncVdeClient.connect(sw.options.sock) as other:
            other_id = sw.engine.ports.get(1).endpoints[0].id
            assert await c.debug_lines(3) == [
                "3021 port/+ 01", f"3031 port/ep/+ Port 01 FD {other_id}",
                f'3023 port/descr Port 01 FD {other_id} -> "test client"']
            async with await AsyncVdeClient.connect(sw.options.sock,
                                                    description="pyclient-C") as client:
                ident = sw.engine.ports.get(2).endpoints[0].id
                assert await c.debug_lines(3) == [
                    "3021 port/+ 02", f"3031 port/ep/+ Port 02 FD {ident}",
                    f'3023 port/descr Port 02 FD {ident} -> "pyclient-C"']
                await client.send(eth_frame(BROADCAST, mac(3)))
                await other.recv()
                assert await c.debug_lines(1) == ["3011 hash/+ 02:00:00:00:00:03 VLAN 00:00 Port 2"]
            assert await c.debug_lines(3) == [
                f"3032 port/ep/- Port 02 FD {ident}", "3022 port/- 02",
                "3012 hash/- 02:00:00:00:00:03 VLAN 00:00 Port 2"]
        assert await c.debug_lines(2) == [f"3032 port/ep/- Port 01 FD {other_id}",
                                          "3022 port/- 01"]
        assert await c.command("debug/del port") == "1000 Success\n"
        assert await c.command("debug/del port") == "1002 No such file or directory\n"


async def test_resetcounter_of_a_port_that_does_not_exist_is_a_success(sockdir: str) -> None:
    """As vde_switch (differential test): nothing to reset; out of range is still EINVAL."""
    async with running_switch(sockdir, numports=8) as sw, \
            await RawConsole.connect(sw.options.mgmt) as c:
        await c.banner()
        assert await c.command("port/resetcounter 7") == "1000 Success\n"
        assert await c.command("port/resetcounter 8") == "1022 Invalid argument\n"
        assert await c.command("port/resetcounter x") == "1022 Invalid argument\n"


async def test_debug_fd_numbers_are_two_wide(sockdir: str) -> None:
    """vde_switch prints ``FD %2d``: ``FD  8`` for a small descriptor (differential test)."""
    async with running_switch(sockdir) as sw, await RawConsole.connect(sw.options.mgmt) as c:
        await c.banner()
        await c.command("debug/add port/ep")
        async with await AsyncVdeClient.connect(sw.options.sock):
            endpoint = sw.engine.ports.get(1).endpoints[0]
            endpoint.id = 7  # what vde_switch would show for its fd 7
            (added,) = await c.debug_lines(1)
        assert re.fullmatch(r"3031 port/ep/\+ Port 01 FD [ \d]\d+", added)
        assert await c.debug_lines(1) == ["3032 port/ep/- Port 01 FD  7"]


@pytest.mark.parametrize("request_bytes", [b"help\n", b"help\nhelp\nhelp\n", b"debug/add port\n"])
async def test_a_client_that_leaves_without_reading_never_takes_the_switch_down(
        sockdir: str, request_bytes: bytes) -> None:
    """Regression: the reply to a client that had closed its socket failed with EPIPE in the
    session's writer task, and the error escaped the console as an exception group, stopping
    the whole switch (unixcmd does this on every command)."""
    async with running_switch(sockdir) as sw:
        for _ in range(5):
            c = await RawConsole.connect(sw.options.mgmt)
            await c.send(request_bytes)
            await c.aclose()
        async with await AsyncVdeClient.connect(sw.options.sock):  # port/+ to a dead session
            pass
        async with await RawConsole.connect(sw.options.mgmt) as c:
            await c.banner()
            assert await c.command("port/showinfo") == PORT_SHOWINFO
        assert sw.running
