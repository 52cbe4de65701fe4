"""The same VNL text means the same switch and port to vdeplug4's vde_plug and to vdex.

A real vde_switch listens in a directory whose name needs quoting (a space and brackets); for
each spelling, vde_plug (libvdeplug4) connects and the switch's per-port data socket shows which
port it got; vdex's parser must read the same path and port from the same text.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from vdex.vnl import parse_vnl, resolve_options

pytestmark = pytest.mark.interop

VDE_KEYS = ("", "port", "portgroup", "group", "mode")


@pytest.fixture
def switch_dir() -> Iterator[Path]:
    base = Path(tempfile.mkdtemp(prefix="vnl-"))
    directory = base / "my sw[a]"
    switch = subprocess.Popen(["vde_switch", "-s", str(directory)], stdin=subprocess.PIPE,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: (directory / "ctl").exists(), "vde_switch's ctl socket")
        yield directory
    finally:
        switch.terminate()
        switch.wait(10)
        assert switch.stdin is not None
        switch.stdin.close()
        shutil.rmtree(base)


def wait_until(condition: object, what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def port_taken_by_vde_plug(directory: Path, vnl: str) -> int:
    """Connect vde_plug to ``vnl`` and return the port number the switch gave it."""
    before = {p.name for p in directory.iterdir()}
    plug = subprocess.Popen(["vde_plug", vnl], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        new: list[str] = []

        def connected() -> bool:
            if plug.poll() is not None:
                assert plug.stderr is not None
                raise AssertionError(f"vde_plug {vnl!r} exited: {plug.stderr.read()!r}")
            new[:] = [p.name for p in directory.iterdir()
                      if p.name not in before and p.name[:1].isdigit()]
            return bool(new)

        wait_until(connected, f"vde_plug {vnl!r} to get a port")
        return int(new[0].split(".")[0])
    finally:
        plug.terminate()
        plug.wait(10)
        for stream in (plug.stdin, plug.stdout, plug.stderr):
            if stream is not None:
                stream.close()


@pytest.mark.parametrize(("template", "port"), [
    ("vde://'{dir}'[5]", 5),
    ("'{dir}'[port=6]", 6),
    ('vde://"{dir}"[p=7]', 7),
    ("vde://{pct}[po=8]", 8),
    ("vde://{esc}['9']", 9),
])
def test_same_path_and_port_as_vdeplug4(switch_dir: Path, template: str, port: int) -> None:
    directory = str(switch_dir)
    text = template.format(
        dir=directory,
        pct=directory.replace(" ", "%20").replace("[", "%5B").replace("]", "%5d"),
        esc=directory.replace(" ", "\\ ").replace("[", "\\["))
    vnl = parse_vnl(text)
    options = resolve_options(vnl, VDE_KEYS)
    assert vnl.path == directory
    assert int(options.get("port", options.get(""))) == port
    assert port_taken_by_vde_plug(switch_dir, text) == port
