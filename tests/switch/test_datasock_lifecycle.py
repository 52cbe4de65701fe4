"""Start-up and exit of the data socket: stale ``ctl`` detection, a live one refused."""

from __future__ import annotations

import os
import socket
import stat

import pytest
import trio
from harness import sockets_in

from vdex.errors import ConfigError
from vdex.plugins import make_plugin_manager
from vdex.runtime.switch import Switch, SwitchOptions
from vdex.testing import AsyncVdeClient, eth_frame, mac, running_switch
from vdex.testing.frames import BROADCAST


async def test_a_dead_ctl_socket_is_replaced(sockdir: str) -> None:
    ctl_dir = os.path.join(sockdir, "sw")
    os.mkdir(ctl_dir)
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(os.path.join(ctl_dir, "ctl"))
    dead.close()  # the file stays, nobody listens: what a crashed switch leaves
    async with running_switch(sockdir) as sw, \
            await AsyncVdeClient.connect(sw.options.sock) as a, \
            await AsyncVdeClient.connect(sw.options.sock) as b:
        await a.send(eth_frame(BROADCAST, mac(1)))
        assert await b.recv() == eth_frame(BROADCAST, mac(1))
    assert not os.path.exists(ctl_dir)


async def start_second(directory: str, **options: object) -> None:
    """Start a switch on ``directory``; raise the one error that stopped it, unwrapped."""
    switch = Switch(SwitchOptions(sock=directory, rcfile=os.devnull, **options),
                    make_plugin_manager(autoload=False))
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(lambda task_status: switch.serve(task_status=task_status))
            switch.shutdown()
    except BaseExceptionGroup as group:
        leaves = _leaves(group)
        assert len(leaves) == 1, leaves
        raise leaves[0] from None


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for sub in exc.exceptions for leaf in _leaves(sub)]
    return [exc]


async def test_a_live_ctl_makes_the_start_fail_and_leaves_the_other_switch_alone(
        sockdir: str) -> None:
    async with running_switch(sockdir) as sw, \
            await AsyncVdeClient.connect(sw.options.sock) as a:
        before = os.stat(sw.options.sock)
        with pytest.raises(ConfigError, match="in use by another running program"):
            await start_second(sw.options.sock, dirmode=0o777, gid=65534)
        after = os.stat(sw.options.sock)
        assert (stat.S_IMODE(after.st_mode), after.st_gid) == \
            (stat.S_IMODE(before.st_mode), before.st_gid), "the running switch's directory"
        assert sockets_in(sw.options.sock) == sorted(["ctl", os.path.basename(a.switch_path)])
        async with await AsyncVdeClient.connect(sw.options.sock) as b:
            await a.send(eth_frame(BROADCAST, mac(1)))
            assert await b.recv() == eth_frame(BROADCAST, mac(1))


async def test_a_path_that_is_not_a_directory_is_refused(sockdir: str) -> None:
    path = os.path.join(sockdir, "file")
    open(path, "w").close()
    with pytest.raises(ConfigError, match="not a directory"):
        await start_second(path)
    assert os.path.isfile(path)
