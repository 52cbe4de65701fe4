"""Client identity and access control with a client that really is another user (spec §1.10).

The client runs in a child process that drops privileges to nobody (setgid/setuid in the
child). Identity is the owner of the client's socket file, and a refused request closes the
stream at once: a client is never left hanging (Debian's vde_switch hangs it).
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio
from harness import RawConsole, RawVdeClient, wait_until

from vdex.testing import AsyncVdeClient, running_switch
from vdex.testing.processes import process, switch_process, vdex_switch
from vdex.vde.request import build_request

NOBODY = 65534
CHILD = os.path.join(os.path.dirname(__file__), "vde_client_child.py")

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to become nobody")


@pytest.fixture
def shared_sockdir(sockdir: str) -> str:
    """Let nobody traverse the test directory to reach the switch's."""
    os.chmod(sockdir, 0o711)
    return sockdir


@asynccontextmanager
async def nobody_client(directory: str, port: int = 0) -> AsyncIterator[tuple[str, list[str]]]:
    """Run a client as nobody; yield its result line split in words (``port N PATH`` or
    ``refused SECONDS ...``) while it holds the port."""
    async with process([sys.executable, CHILD, directory, str(port), f"nobody-{port}"],
                       stdout=subprocess.PIPE, user=NOBODY, group=NOBODY,
                       extra_groups=[]) as proc:
        assert proc.stdout is not None
        line = b""
        with trio.fail_after(15):
            while not line.endswith(b"\n"):
                chunk = await proc.stdout.receive_some(4096)
                if not chunk:
                    raise AssertionError(f"child exited without a result: {line!r}")
                line += chunk
        text = line.decode().strip()
        yield text, text.split()


def refused_at_once(words: list[str]) -> bool:
    """Refused by a closed stream, well before the client's 4 s answer timeout."""
    return words[0] == "refused" and float(words[1]) < 2.0 and "closed the connection" in \
        " ".join(words)


async def test_default_modes_keep_other_users_out(shared_sockdir: str) -> None:
    async with running_switch(shared_sockdir) as sw, nobody_client(sw.options.sock) as (text, w):
        assert w[0] == "refused" and "Permission denied" in text


async def test_another_user_gets_a_port_it_owns(shared_sockdir: str) -> None:
    async with running_switch(shared_sockdir, mode=0o666) as sw, \
            nobody_client(sw.options.sock) as (_text, words), \
            await RawConsole.connect(sw.options.mgmt) as console:
        await console.banner()
        assert words[:2] == ["port", "1"]
        st = os.stat(words[2])
        assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (NOBODY, 0o700), \
            "the switch gave its socket to the client, which could chmod it (as libvdeplug does)"
        assert " Current User: nobody Access Control: (User: NONE - Group: NONE)" in \
            await console.command("port/print 1")


async def test_setuser_and_setgroup_decide_who_may_connect(shared_sockdir: str) -> None:
    async with running_switch(shared_sockdir, mode=0o666) as sw, \
            await RawConsole.connect(sw.options.mgmt) as console:
        await console.banner()
        for command in ("port/create 5", "port/setuser 5 root", "port/create 6",
                        "port/setuser 6 root", "port/setgroup 6 nogroup", "port/create 7",
                        "port/setgroup 7 root"):
            assert await console.command(command) == "1000 Success\n", command
        async with nobody_client(sw.options.sock, 5) as (text, words):
            assert refused_at_once(words), text
        assert sw.engine.ports.get(5).curuser is None
        async with nobody_client(sw.options.sock, 7) as (text, words):
            assert refused_at_once(words), text
        async with nobody_client(sw.options.sock, 6) as (text, words):
            assert words[:2] == ["port", "6"], "nobody's primary group is nogroup"
        assert await console.command("port/setuser 5 nobody") == "1000 Success\n"
        async with nobody_client(sw.options.sock, 5) as (text, words):
            assert words[:2] == ["port", "5"], text
        assert await console.command("port/setuser 5 NONE") == "1000 Success\n"
        assert await console.command("port/setgroup 7 NONE") == "1000 Success\n"
        async with nobody_client(sw.options.sock, 7) as (text, words):
            assert words[:2] == ["port", "7"], "unrestricted again"


async def test_an_active_port_takes_only_its_users_endpoints(shared_sockdir: str) -> None:
    async with running_switch(shared_sockdir, mode=0o666) as sw, \
            await AsyncVdeClient.connect(sw.options.sock, port=8) as root_client:
        async with nobody_client(sw.options.sock, 8) as (text, words):
            assert refused_at_once(words), text
        async with await AsyncVdeClient.connect(sw.options.sock, port=8):
            assert len(sw.engine.ports.get(8).endpoints) == 2, "root again: a second endpoint"
        async with nobody_client(sw.options.sock, 9) as (text, words):
            assert words[:2] == ["port", "9"]
            async with nobody_client(sw.options.sock, 9) as (_t, again):
                assert again[:2] == ["port", "9"], "nobody again: a second endpoint"
            with pytest.raises(ConnectionRefusedError):
                await AsyncVdeClient.connect(sw.options.sock, port=9)
        del root_client


async def test_identity_is_the_owner_of_the_client_socket_file(shared_sockdir: str) -> None:
    """Not SO_PEERCRED: a root process whose socket file belongs to nobody is nobody."""
    async with running_switch(shared_sockdir, mode=0o666) as sw, \
            await RawConsole.connect(sw.options.mgmt) as console:
        await console.banner()
        ctl = os.path.join(sw.options.sock, "ctl")
        async with await RawVdeClient.open(ctl, shared_sockdir, "as-nobody") as raw:
            os.chown(raw.path, NOBODY, NOBODY)
            await raw.send(build_request(raw.path, "root as nobody", port=3))
            assert len(await raw.reply()) == 110
            assert " Current User: nobody " in await console.command("port/print 3")
        await wait_until(lambda: not sw.engine.ports.get(3).active, what="port 3 to be free")
        assert await console.command("port/setuser 3 root") == "1000 Success\n"
        async with await RawVdeClient.open(ctl, shared_sockdir, "again") as raw:
            os.chown(raw.path, NOBODY, NOBODY)
            await raw.send(build_request(raw.path, "root as nobody", port=3))
            assert await raw.reply(timeout=2) == b"", "refused at once, although we are root"
        async with await AsyncVdeClient.connect(sw.options.sock, port=3):
            assert sw.engine.ports.get(3).curuser == 0


async def test_a_client_socket_the_switch_cannot_access_is_refused(shared_sockdir: str) -> None:
    """The switch must be able to read and write the client's socket file (spec §1.5 step 5):
    a switch running as nobody refuses root's private socket and takes an open one."""
    base = os.path.join(shared_sockdir, "nb")
    os.mkdir(base)
    os.chown(base, NOBODY, NOBODY)
    ctl_dir = os.path.join(base, "sw")
    argv = vdex_switch(ctl_dir, "-m", "0666")
    async with switch_process(argv, ctl_dir, user=NOBODY, group=NOBODY, extra_groups=[]):
        ctl = os.path.join(ctl_dir, "ctl")
        async with await RawVdeClient.open(ctl, shared_sockdir, "private") as raw:
            os.chmod(raw.path, 0o600)
            await raw.send(build_request(raw.path, "private"))
            assert await raw.reply(timeout=2) == b"", "refused at once"
        async with await RawVdeClient.open(ctl, shared_sockdir, "open") as raw:
            os.chmod(raw.path, 0o666)
            await raw.send(build_request(raw.path, "open"))
            reply = await raw.reply()
            assert len(reply) == 110
            switch_side = reply[2:].rstrip(b"\0").decode()
            assert os.stat(switch_side).st_uid == NOBODY, "a switch not root keeps its socket"
