"""vdex with the real Debian tools: vde_plug on a vdex switch, a dpipe cable from ``vdex plug``
to a real vde_switch, and unixterm/unixcmd on vdex's console."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio
from harness import RawConsole, wait_until

from vdex._core.stream import StreamDecoder, encode
from vdex.testing import AsyncVdeClient, eth_frame, mac, running_switch
from vdex.testing.frames import BROADCAST
from vdex.testing.processes import (
    process,
    reference_switch,
    shell,
    switch_process,
    vdex_switch,
    wait_for_path,
)

pytestmark = pytest.mark.interop

VDEX_PLUG = [sys.executable, "-m", "vdex", "plug"]


class StreamPeer:
    """The stdin/stdout of a process speaking the VDE stream framing (vde_plug, vdex plug)."""

    def __init__(self, proc: trio.Process) -> None:
        assert proc.stdin is not None and proc.stdout is not None
        self.proc = proc
        self.decoder = StreamDecoder()
        self.frames: list[bytes] = []

    async def send(self, frame: bytes) -> None:
        assert self.proc.stdin is not None
        await self.proc.stdin.send_all(encode(frame))

    async def recv(self, timeout: float = 5.0) -> bytes:
        assert self.proc.stdout is not None
        with trio.fail_after(timeout):
            while not self.frames:
                chunk = await self.proc.stdout.receive_some(65536)
                if not chunk:
                    raise EOFError(f"{self.proc.args!r} closed its stdout")
                self.decoder.feed(chunk, self.frames.append)
        return self.frames.pop(0)


@asynccontextmanager
async def stream_process(argv: list[str]) -> AsyncIterator[StreamPeer]:
    async with process(argv, stdout=subprocess.PIPE) as proc:
        yield StreamPeer(proc)


async def attached(console: RawConsole, port: int, text: str) -> None:
    """Wait until ``port/print PORT`` shows an endpoint whose description contains ``text``."""
    with trio.fail_after(10):
        while text not in await console.command(f"port/print {port}"):
            await trio.sleep(0.01)


async def exchange_with_plug(sock: str, console: RawConsole, vnl: str, port: int) -> None:
    """A real vde_plug on ``vnl`` (which must land on ``port``) and an AsyncVdeClient exchange
    frames both ways."""
    async with stream_process(["vde_plug", vnl]) as plug:
        await attached(console, port, "vdeplug:")
        async with await AsyncVdeClient.connect(sock) as client:
            await exchange(plug, client)


async def exchange(plug: StreamPeer, client: AsyncVdeClient) -> None:
    await plug.send(eth_frame(BROADCAST, mac(1), b"from vde_plug"))
    assert await client.recv() == eth_frame(BROADCAST, mac(1), b"from vde_plug")
    await client.send(eth_frame(mac(1), mac(2), b"to vde_plug"))
    assert await plug.recv() == eth_frame(mac(1), mac(2), b"to vde_plug")
    await client.send(eth_frame(BROADCAST, mac(2), bytes(1500)))
    assert await plug.recv() == eth_frame(BROADCAST, mac(2), bytes(1500))


async def test_vde_plug_on_a_vdex_switch_process(sockdir: str) -> None:
    ctl = os.path.join(sockdir, "sw")
    mgmt = os.path.join(sockdir, "mgmt")
    async with switch_process(vdex_switch(ctl, "-M", mgmt), ctl) as proc:
        await wait_for_path(mgmt, proc=proc)
        async with await RawConsole.connect(mgmt) as console:
            await console.banner()
            await exchange_with_plug(ctl, console, f"vde://{ctl}", 1)
            await exchange_with_plug(ctl, console, f"vde://{ctl}[5]", 5)
            await exchange_with_plug(ctl, console, f"vde://{ctl}[0]", 0)
            await exchange_with_plug(ctl, console, ctl, 1)


async def test_vde_plug_on_an_in_process_vdex_switch(sockdir: str) -> None:
    async with running_switch(sockdir) as sw, \
            await RawConsole.connect(sw.options.mgmt) as console:
        await console.banner()
        await exchange_with_plug(sw.options.sock, console, f"vde://{sw.options.sock}[7]", 7)
        assert sw.engine.ports.get(7).in_frames == 1


async def test_vde_plug_exits_on_epclose_and_on_shutdown(sockdir: str) -> None:
    ctl = os.path.join(sockdir, "sw")
    mgmt = os.path.join(sockdir, "mgmt")
    async with switch_process(vdex_switch(ctl, "-M", mgmt), ctl) as proc:
        await wait_for_path(mgmt, proc=proc)
        async with await RawConsole.connect(mgmt) as console, \
                stream_process(["vde_plug", f"vde://{ctl}[3]"]) as first, \
                stream_process(["vde_plug", f"vde://{ctl}[4]"]) as second:
            await console.banner()
            await attached(console, 3, "vdeplug:")
            await attached(console, 4, "vdeplug:")
            reply = await console.command("port/print 3")
            ident = int(reply.split("endpoint ID ")[1].split()[0], 10)  # 0012 would be octal
            assert await console.command(f"port/epclose 3 {ident}") == "1000 Success\n"
            with trio.fail_after(5):
                await first.proc.wait()
            await console.send(b"shutdown\n")
            assert await console.read_to_eof() == b"9999 END OF SESSION"
            with trio.fail_after(5):
                await second.proc.wait()
                assert await proc.wait() == 0
        assert not os.path.exists(ctl)


async def test_vdex_plug_dpipe_cable_to_a_real_vde_switch(sockdir: str) -> None:
    """``dpipe vdex plug A = vde_plug B``: a vdex switch and Debian's vde_switch joined by a real
    dpipe, frames both ways; and the mirror image, ``dpipe vde_plug B = vdex plug A``."""
    b_dir = os.path.join(sockdir, "b")
    b_mgmt = os.path.join(sockdir, "b.mgmt")
    async with running_switch(sockdir) as sw, \
            switch_process(reference_switch(b_dir, "-M", b_mgmt), b_dir) as ref, \
            await RawConsole.connect(sw.options.mgmt) as a_console:
        await wait_for_path(b_mgmt, proc=ref)
        await a_console.banner()
        async with await RawConsole.connect(b_mgmt) as b_console:
            await b_console.banner()
            plug = " ".join(VDEX_PLUG)
            for cable in (f"dpipe {plug} {sw.options.sock} = vde_plug {b_dir}",
                          f"dpipe vde_plug {b_dir} = {plug} {sw.options.sock}"):
                async with process(shell(cable), stdout=subprocess.DEVNULL):
                    await attached(a_console, 1, "vdex plug")
                    await attached(b_console, 1, "vdeplug:")
                    async with await AsyncVdeClient.connect(sw.options.sock) as a, \
                            await AsyncVdeClient.connect(b_dir) as b:
                        await a.send(eth_frame(BROADCAST, mac(1), b"vdex -> vde_switch"))
                        assert await b.recv() == eth_frame(BROADCAST, mac(1),
                                                           b"vdex -> vde_switch")
                        await b.send(eth_frame(mac(1), mac(2), b"vde_switch -> vdex"))
                        assert await a.recv() == eth_frame(mac(1), mac(2), b"vde_switch -> vdex")
                        await a.send(eth_frame(mac(2), mac(1), bytes(1500)))
                        assert await b.recv() == eth_frame(mac(2), mac(1), bytes(1500))
                await wait_until(lambda: not sw.engine.ports.get(1).active, what="cable gone")


async def test_vdex_plug_joins_two_switches_directly(sockdir: str) -> None:
    """``vdex plug VNL1 VNL2`` (no dpipe): vdex switch <-> real vde_switch."""
    b_dir = os.path.join(sockdir, "b")
    async with running_switch(sockdir) as sw, switch_process(reference_switch(b_dir), b_dir), \
            process([*VDEX_PLUG, sw.options.sock, b_dir], stdout=subprocess.DEVNULL):
        await wait_until(lambda: sw.engine.ports.get(1) is not None and
                         sw.engine.ports.get(1).active, what="the plug on the vdex switch")
        async with await AsyncVdeClient.connect(sw.options.sock) as a, \
                await AsyncVdeClient.connect(b_dir) as b:
            with trio.fail_after(10):  # the far end may still be connecting: retry the first
                while True:
                    await a.send(eth_frame(BROADCAST, mac(1), b"ping"))
                    with trio.move_on_after(0.2):
                        assert await b.recv() == eth_frame(BROADCAST, mac(1), b"ping")
                        break
            await b.send(eth_frame(mac(1), mac(2), b"pong"))
            assert await a.recv() == eth_frame(mac(1), mac(2), b"pong")


async def run_unixterm(mgmt: str, commands: list[str]) -> list[str]:
    """unixterm with stdin kept open until the last reply arrived (it exits at stdin EOF);
    returns what it printed: the banner, then each command's reply, each up to its prompt."""
    async with process(["unixterm", mgmt], stdout=subprocess.PIPE) as proc:
        assert proc.stdin is not None and proc.stdout is not None
        pieces = []
        with trio.fail_after(10):
            for command in [None, *commands]:
                if command is not None:
                    await proc.stdin.send_all(command.encode() + b"\n")
                out = b""
                while not out.endswith(b"vde$ "):
                    out += await proc.stdout.receive_some(65536)
                pieces.append(out.decode())
        return pieces


async def test_unixterm_drives_the_console(sockdir: str) -> None:
    async with running_switch(sockdir) as sw:
        replies = await run_unixterm(sw.options.mgmt, ["port/showinfo", "foo/bar",
                                                       "port/print 7"])
    assert replies[0].startswith("VDE switch V.2.3.2\n(C) Virtual Square Team")
    assert replies[1] == ("0000 DATA END WITH '.'\nNumports=32\nHUB=false\ncounters=true\n.\n"
                          "1000 Success\n\nvde$ ")
    assert replies[2] == "1038 Function not implemented\n\nvde$ "
    assert replies[3] == "0000 DATA END WITH '.'\n.\n1006 No such device or address\n\nvde$ "


async def run_unixcmd(mgmt: str, *command: str) -> tuple[int, str]:
    result = await trio.run_process(["unixcmd", "-s", mgmt, "-f", "/etc/vde2/vdecmd", *command],
                                    capture_stdout=True, stdin=subprocess.DEVNULL, check=False)
    return result.returncode, result.stdout.decode()


async def test_unixcmd_drives_the_console(sockdir: str) -> None:
    """unixcmd (libvdemgmt's vdecmd script) prints a data block's lines and ends the session
    with logout; vdex answers it as vde_switch does, and survives its early close."""
    async with running_switch(sockdir) as sw, \
            await AsyncVdeClient.connect(sw.options.sock, description="seen by unixcmd"):
        code, out = await run_unixcmd(sw.options.mgmt, "port/showinfo")
        assert out == "Numports=32\n\0HUB=false\n\0counters=true\n\0"  # as with vde_switch
        code, out = await run_unixcmd(sw.options.mgmt, "hash/setexpire", "50")
        assert out == ""
        code, out = await run_unixcmd(sw.options.mgmt, "hash/showinfo")
        assert "GC expire 50 secs" in out
        code, out = await run_unixcmd(sw.options.mgmt, "port/print")
        assert "seen by unixcmd" in out
        assert sw.running


async def test_unixcmd_sees_the_same_as_on_vde_switch(sockdir: str) -> None:
    ref_dir, ref_mgmt = os.path.join(sockdir, "r"), os.path.join(sockdir, "r.mgmt")
    async with running_switch(sockdir) as sw, \
            switch_process(reference_switch(ref_dir, "-M", ref_mgmt), ref_dir) as ref:
        await wait_for_path(ref_mgmt, proc=ref)
        for command in (["port/showinfo"], ["hash/showinfo"], ["port/print", "7"], ["foo/bar"],
                        ["port/create", "9"], ["port/allprint", "9"], ["help", "hash"]):
            ours = await run_unixcmd(sw.options.mgmt, *command)
            theirs = await run_unixcmd(ref_mgmt, *command)
            assert ours == theirs, command
