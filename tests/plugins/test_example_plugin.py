"""contrib/vdex-example-plugin, installed with pip (into a temporary target, never the shared
venv) and loaded both ways: at start through its entry point, and with plugin/add."""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import RawConsole, wait_until

from vdex.plugins import installed_plugins
from vdex.testing import AsyncVdeClient, eth_frame, mac, running_switch
from vdex.testing.frames import BROADCAST
from vdex.testing.processes import switch_process, vdex_switch, wait_for_path

SOURCE = Path(__file__).resolve().parents[2] / "contrib" / "vdex-example-plugin"


@pytest.fixture(scope="module")
def example_site() -> Iterator[str]:
    """``pip install --no-deps --no-build-isolation --target SITE`` of a copy of the package
    (a build writes into its source tree: the copy keeps the repository clean)."""
    work = tempfile.mkdtemp(prefix="vdex-example-")
    try:
        src = os.path.join(work, "src")
        shutil.copytree(SOURCE, src)
        site = os.path.join(work, "site")
        result = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
             "--no-build-isolation", "--no-index", "--target", site, src],
            capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stdout + result.stderr
        yield site
    finally:
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture
def example_installed(example_site: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.syspath_prepend(example_site)
    monkeypatch.setenv("PYTHONPATH", example_site)
    importlib.invalidate_caches()
    try:
        yield example_site
    finally:
        for name in [m for m in sys.modules if m.startswith("vdex_example_plugin")]:
            del sys.modules[name]
        importlib.invalidate_caches()


def test_pip_installed_the_entry_point(example_installed: str) -> None:
    assert os.path.isdir(os.path.join(example_installed, "vdex_example_plugin"))
    entry = installed_plugins()["example"]
    assert entry.value == "vdex_example_plugin"


async def test_plugin_add_and_del_on_a_running_switch(sockdir: str, example_installed: str
                                                      ) -> None:
    async with running_switch(sockdir) as sw, await RawConsole.connect(sw.options.mgmt) as c, \
            await AsyncVdeClient.connect(sw.options.sock) as a, \
            await AsyncVdeClient.connect(sw.options.sock) as b:
        await c.banner()
        assert await c.command("plugin/add example greeting=hi interval=0.01") == \
            "1000 Success\n"
        assert await c.command("plugin/add example") == "1017 File exists\n"
        assert await c.command("example/hello") == \
            "0000 DATA END WITH '.'\nhi from vdex\n.\n1000 Success\n"
        for _ in range(3):
            await a.send(eth_frame(BROADCAST, mac(1)))
            await b.recv()
        await b.send(eth_frame(mac(1), mac(2)))
        await a.recv()
        assert await c.command("example/counts") == (
            "0000 DATA END WITH '.'\nPort 0001 frames 3\nPort 0002 frames 1\n.\n1000 Success\n")
        assert await c.command("example/counts 9") == \
            "0000 DATA END WITH '.'\n.\n1006 No such device or address\n"
        from vdex_example_plugin import STATE

        state = sw.stash[STATE]
        await wait_until(lambda: state.ticks >= 2, what="the service to tick")
        assert state.ticker is not None
        assert await c.command("plugin/del example") == "1000 Success\n"
        assert state.ticker is None, "the service was cancelled"
        assert STATE not in sw.stash, "unconfigured"
        assert await c.command("example/hello") == "1038 Function not implemented\n"
        await a.send(eth_frame(BROADCAST, mac(1), b"still connected"))
        assert await b.recv() == eth_frame(BROADCAST, mac(1), b"still connected")
        assert await c.command("plugin/add example interval=-1") == "1022 Invalid argument\n"


async def test_loaded_at_start_through_the_entry_point(sockdir: str, example_installed: str
                                                       ) -> None:
    """A real ``vdex switch`` process with the package on its path loads it unasked."""
    ctl, mgmt = os.path.join(sockdir, "sw"), os.path.join(sockdir, "mgmt")
    async with switch_process(vdex_switch(ctl, "-M", mgmt), ctl) as proc:
        await wait_for_path(mgmt, proc=proc)
        async with await RawConsole.connect(mgmt) as c, \
                await AsyncVdeClient.connect(ctl) as a, await AsyncVdeClient.connect(ctl) as b:
            await c.banner()
            assert "\nexample                example: counts frames per port" in \
                await c.command("plugin/list")
            await a.send(eth_frame(BROADCAST, mac(1)))
            await b.recv()
            assert "Port 0001 frames 1" in await c.command("example/counts")
    async with switch_process(vdex_switch(ctl, "-M", mgmt, "-p", "no:example"), ctl) as proc:
        await wait_for_path(mgmt, proc=proc)
        async with await RawConsole.connect(mgmt) as c:
            await c.banner()
            assert await c.command("example/hello") == "1038 Function not implemented\n"
