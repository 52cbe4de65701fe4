"""Plugin loading three ways (built-in, installed, module path), plugin/add, plugin/list,
plugin/del with everything it must undo, and broken plugins."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
from collections.abc import Callable

import pytest
import trio
from harness import RawConsole, wait_until

from vdex.errors import PluginError
from vdex.plugins import make_plugin_manager
from vdex.runtime.switch import Switch, SwitchOptions
from vdex.testing import AsyncVdeClient, eth_frame, mac, running_switch
from vdex.testing.frames import BROADCAST
from vdex.testing.processes import VDEX, switch_process, vdex_switch, wait_for_path

PLUGIN = '''
"""test plugin: says hello, counts frames, runs a service.

More text that plugin/list does not show.
"""
import trio
from vdex import ConfigError, FrameStage, MgmtCommand, Service, StashKey, hookimpl

STATE = StashKey[dict]("testplug")


@hookimpl
def vdex_configure(switch, options, args):
    if "fail" in args:
        raise ConfigError("asked to fail: " + args["fail"])
    switch.stash[STATE] = {"greeting": args.get("greeting", "hello"), "counts": {},
                           "task": None, "stopped": trio.Event(), "unconfigured": False}


@hookimpl
def vdex_unconfigure(switch):
    switch.stash[STATE]["unconfigured"] = True


@hookimpl
def vdex_mgmt_commands(switch):
    state = switch.stash[STATE]
    yield MgmtCommand(path="tp", help="TEST PLUGIN MENU")
    yield MgmtCommand(path="tp/hello", handler=lambda ctx, args: [state["greeting"]],
                      help="greet", output=True)


@hookimpl
def vdex_frame_stages(switch):
    counts = switch.stash[STATE]["counts"]

    def ingress(port, next_stage):
        cell = counts.setdefault(port.number, [0])

        def count(frame):
            cell[0] += 1
            next_stage(frame)
        return count

    yield FrameStage(name="tp-counter", ingress=ingress)


async def service(switch, *, task_status=trio.TASK_STATUS_IGNORED):
    state = switch.stash[STATE]
    state["task"] = trio.lowlevel.current_task()
    task_status.started()
    try:
        await trio.sleep_forever()
    finally:
        state["stopped"].set()


@hookimpl
def vdex_services(switch):
    yield Service(name="tp-service", run=service)
'''

BROKEN = '''
"""broken plugin: fails when imported."""
raise RuntimeError("this plugin is broken on purpose")
'''

Make = Callable[..., str]


def state_of(sw: Switch) -> dict:  # type: ignore[type-arg]
    for key in list(sw.stash._data):
        if key.name == "testplug":
            return sw.stash[key]  # type: ignore[no-any-return]
    raise AssertionError("the test plugin has no state on this switch")


async def test_plugin_add_loads_an_installed_plugin(sockdir: str, plugin_site: Make) -> None:
    name = plugin_site(PLUGIN)
    async with running_switch(sockdir) as sw, await RawConsole.connect(sw.options.mgmt) as c:
        await c.banner()
        assert await c.command("tp/hello") == "1038 Function not implemented\n"
        assert await c.command(f"plugin/add {name} greeting=bonjour") == "1000 Success\n"
        assert await c.command("tp/hello") == "0000 DATA END WITH '.'\nbonjour\n.\n1000 Success\n"
        listing = await c.command("plugin/list")
        assert f"\n{name:<22} test plugin: says hello, counts frames, runs a service\n" in listing
        assert await c.command(f"plugin/add {name}") == "1017 File exists\n"
        assert await c.command("plugin/add nosuchplugin") == "1002 No such file or directory\n"
        assert "tp                 ============    TEST PLUGIN MENU" in await c.command("help tp")


async def test_module_paths_load_only_when_allowed(sockdir: str, plugin_site: Make) -> None:
    name = plugin_site(PLUGIN, installed=False)
    async with running_switch(sockdir) as sw, await RawConsole.connect(sw.options.mgmt) as c:
        await c.banner()
        assert await c.command(f"plugin/add {name}") == "1002 No such file or directory\n"
        assert await c.command("plugin/add os.path") == "1002 No such file or directory\n"
        assert name not in sw.pm.info
    async with running_switch(sockdir, allow_plugin_modules=True) as sw, \
            await RawConsole.connect(sw.options.mgmt) as c:
        await c.banner()
        assert await c.command(f"plugin/add {name}") == "1000 Success\n"
        assert sw.pm.info[name].source == "module"


async def test_configure_refusal_leaves_nothing_behind(sockdir: str, plugin_site: Make) -> None:
    name = plugin_site(PLUGIN)
    async with running_switch(sockdir) as sw, await RawConsole.connect(sw.options.mgmt) as c:
        await c.banner()
        assert await c.command(f"plugin/add {name} fail=please") == "1022 Invalid argument\n"
        assert await c.command(f"plugin/add {name} notkeyvalue") == "1022 Invalid argument\n"
        assert name not in sw.plugins.active and name not in sw.pm.info
        assert await c.command("tp/hello") == "1038 Function not implemented\n"
        assert await c.command(f"plugin/add {name}") == "1000 Success\n", "and it loads later"


async def test_plugin_del_undoes_everything_and_leaves_ports_connected(
        sockdir: str, plugin_site: Make) -> None:
    name = plugin_site(PLUGIN)
    async with running_switch(sockdir, plugins=[name]) as sw, \
            await RawConsole.connect(sw.options.mgmt) as c, \
            await AsyncVdeClient.connect(sw.options.sock) as a, \
            await AsyncVdeClient.connect(sw.options.sock) as b:
        await c.banner()
        state = state_of(sw)
        task = state["task"]
        assert task is not None and not state["stopped"].is_set()
        await a.send(eth_frame(BROADCAST, mac(1)))
        await b.recv()
        assert state["counts"][1] == [1], "the stage counts"
        assert await c.command(f"plugin/del {name[:-2]}") == "1000 Success\n", "a name prefix"
        assert state["stopped"].is_set(), "its service was cancelled"
        assert state["unconfigured"]
        assert await c.command("tp/hello") == "1038 Function not implemented\n"
        assert "\ntp" not in await c.command("help"), "menu and commands withdrawn"
        assert name not in await c.command("plugin/list")
        await a.send(eth_frame(BROADCAST, mac(1), b"after"))
        assert await b.recv() == eth_frame(BROADCAST, mac(1), b"after"), "ports stay connected"
        await b.send(eth_frame(mac(1), mac(2)))
        assert await a.recv() == eth_frame(mac(1), mac(2))
        assert state["counts"][1] == [1], "its stage is gone from the pipeline"
        assert await c.command(f"plugin/del {name}") == "1002 No such file or directory\n"
        assert await c.command("plugin/del core") == "1001 Operation not permitted\n"
        assert await c.command(f"plugin/add {name} greeting=again") == "1000 Success\n"
        assert await c.command("tp/hello") == "0000 DATA END WITH '.'\nagain\n.\n1000 Success\n"


async def test_plugin_del_closes_the_ports_the_plugin_opened(sockdir: str) -> None:
    """A port opened through a plugin's port type (port/connect udp://...) lives in that
    plugin's nursery: plugin/del closes it, and only it."""
    async with running_switch(sockdir, plugins=["udp"]) as sw, \
            await RawConsole.connect(sw.options.mgmt) as c, \
            await AsyncVdeClient.connect(sw.options.sock) as a:
        await c.banner()
        reply = await c.command("port/connect udp://127.0.0.1:0->127.0.0.1:9")
        if not reply.startswith("0000 DATA END WITH '.'\nPort "):
            pytest.fail(f"port/connect of a udp:// VNL failed: {reply!r}")
        number = int(reply.split("Port ")[1].split()[0])
        assert sw.engine.ports.get(number).active
        assert await c.command("plugin/del udp") == "1000 Success\n"
        await wait_until(lambda: not sw.engine.ports.get(number).active, what="the udp port")
        assert sw.engine.ports.get(a.port).active


async def test_installed_plugins_load_at_start_unless_blocked(sockdir: str, plugin_site: Make
                                                             ) -> None:
    name = plugin_site(PLUGIN)
    assert name in make_plugin_manager(autoload=True).info
    assert name not in make_plugin_manager([f"no:{name}"], autoload=True).info
    assert name not in make_plugin_manager(autoload=False).info


async def test_a_broken_installed_plugin_is_logged_and_skipped(
        sockdir: str, plugin_site: Make, caplog: pytest.LogCaptureFixture) -> None:
    broken = plugin_site(BROKEN)
    good = plugin_site(PLUGIN)
    with caplog.at_level(logging.WARNING, logger="vdex.plugins"):
        pm = make_plugin_manager(autoload=True)
    assert good in pm.info and broken not in pm.info
    assert f"skipping installed plugin: plugin '{broken}': cannot be imported" in caplog.text
    assert "broken on purpose" in caplog.text
    switch = Switch(SwitchOptions(sock=os.path.join(sockdir, "sw"), rcfile=os.devnull,
                                  mgmt=os.path.join(sockdir, "mgmt")), pm)
    async with trio.open_nursery() as nursery:
        await nursery.start(lambda task_status: switch.serve(task_status=task_status))
        async with await RawConsole.connect(switch.options.mgmt) as c:
            await c.banner()
            assert await c.command("tp/hello") == \
                "0000 DATA END WITH '.'\nhello\n.\n1000 Success\n"
            assert await c.command(f"plugin/add {broken}") == "1022 Invalid argument\n"
        switch.shutdown()


def test_an_explicitly_requested_broken_plugin_fails_loudly(plugin_site: Make) -> None:
    broken = plugin_site(BROKEN)
    with pytest.raises(PluginError, match=f"'{broken}': cannot be imported.*broken on purpose"):
        make_plugin_manager([broken], autoload=True)
    result = subprocess.run([*VDEX, "switch", "-s", "/nonexistent/x", "-p", broken],
                            capture_output=True, text=True, timeout=60,
                            stdin=subprocess.DEVNULL)
    assert result.returncode == 2
    assert f"plugin '{broken}': cannot be imported" in result.stderr
    assert "broken on purpose" in result.stderr


async def test_a_plugin_whose_service_fails_later_stops_alone(sockdir: str, plugin_site: Make,
                                                              caplog: pytest.LogCaptureFixture
                                                              ) -> None:
    name = plugin_site(PLUGIN.replace("await trio.sleep_forever()",
                                      "await switch.stash[STATE]['go'].wait()\n"
                                      "        raise RuntimeError('service crashed')")
                       .replace('"unconfigured": False}', '"unconfigured": False, '
                                '"go": trio.Event()}'))
    async with running_switch(sockdir, plugins=[name]) as sw, \
            await AsyncVdeClient.connect(sw.options.sock) as a, \
            await AsyncVdeClient.connect(sw.options.sock) as b:
        state = state_of(sw)
        state["go"].set()
        await wait_until(lambda: state["stopped"].is_set(), what="the service to end")
        await wait_until(lambda: "service crashed" in caplog.text, what="the failure logged")
        assert sw.running
        await a.send(eth_frame(BROADCAST, mac(1)))
        assert await b.recv() == eth_frame(BROADCAST, mac(1))
        async with await RawConsole.connect(sw.options.mgmt) as c:
            await c.banner()
            assert await c.command(f"plugin/del {name}") == "1000 Success\n"


async def test_builtin_plugins_by_short_name(sockdir: str) -> None:
    async with running_switch(sockdir, defaults=False) as sw, \
            await RawConsole.connect(sw.options.mgmt) as c:
        await c.banner()
        assert await c.command("plugin/list") == (
            "0000 DATA END WITH '.'\nNAME                   HELP\n------------           ----\n"
            ".\n1002 No such file or directory\n"), "as vde_switch without plugins"
        assert await c.command("vlan/create 5") == "1038 Function not implemented\n"
        assert await c.command("plugin/add vlan") == "1000 Success\n"
        assert await c.command("vlan/create 5") == "1000 Success\n"
        assert await c.command("plugin/del vlan") == "1000 Success\n"
        assert await c.command("vlan/create 6") == "1038 Function not implemented\n"


async def test_vdex_switch_starts_despite_a_broken_installed_plugin(sockdir: str,
                                                                     plugin_site: Make) -> None:
    """The real command: the broken entry point is logged and skipped, the good one loads."""
    broken = plugin_site(BROKEN)
    good = plugin_site(PLUGIN)
    ctl, mgmt = os.path.join(sockdir, "sw"), os.path.join(sockdir, "mgmt")
    async with switch_process(vdex_switch(ctl, "-M", mgmt), ctl,
                              stderr=subprocess.PIPE) as proc:
        await wait_for_path(mgmt, proc=proc)
        async with await RawConsole.connect(mgmt) as c:
            await c.banner()
            listing = await c.command("plugin/list")
            assert f"\n{good} " in listing and broken not in listing
        proc.send_signal(signal.SIGTERM)
        with trio.fail_after(10):
            assert await proc.wait() == 0
        assert proc.stderr is not None
        err = b""
        while chunk := await proc.stderr.receive_some(65536):
            err += chunk
    text = err.decode()
    assert f"skipping installed plugin: plugin '{broken}': cannot be imported" in text
    assert "broken on purpose" in text
