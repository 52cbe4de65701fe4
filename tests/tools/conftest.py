"""Fixtures for the tool tests: short temporary dirs and real Debian vde_switch / wirefilter."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .helpers import RunningSwitch, socket_accepts, stop_process, wait_for


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A short directory under /tmp: unix socket paths must fit in 108 bytes."""
    path = Path(tempfile.mkdtemp(prefix="vdxt", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def vde_switch(short_tmp: Path) -> Iterator[Callable[..., RunningSwitch]]:
    """Factory: ``vde_switch("a", mgmt=True)`` starts a switch and waits until it accepts."""
    if shutil.which("vde_switch") is None:
        pytest.fail("vde_switch (Debian package vde2) is required for the interop tests")
    started: list[RunningSwitch] = []

    def start(name: str, mgmt: bool = False) -> RunningSwitch:
        switch_dir = short_tmp / name
        mgmt_path = short_tmp / f"{name}.mgmt" if mgmt else None
        argv = ["vde_switch", "-s", str(switch_dir)]
        if mgmt_path is not None:
            argv += ["-M", str(mgmt_path)]
        proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        switch = RunningSwitch(dir=switch_dir, mgmt=mgmt_path, proc=proc)
        started.append(switch)
        wait_for(lambda: proc.poll() is not None or socket_accepts(switch_dir / "ctl"), what="vde_switch ctl")
        if mgmt_path is not None:
            wait_for(lambda: proc.poll() is not None or socket_accepts(mgmt_path), what="vde_switch -M")
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else "vde_switch died"
        return switch

    try:
        yield start
    finally:
        for switch in started:
            if switch.proc.stdin is not None:
                switch.proc.stdin.close()  # EOF on stdin: vde_switch cleans up and exits
            try:
                switch.proc.wait(5)
            except subprocess.TimeoutExpired:
                stop_process(switch.proc)
            if switch.proc.stderr is not None:
                switch.proc.stderr.close()


@pytest.fixture
def wirefilter_mgmt(short_tmp: Path) -> Iterator[Path]:
    """A real mono-stream ``wirefilter -M SOCK`` (stdin/stdout on pipes); yields the socket."""
    if shutil.which("wirefilter") is None:
        pytest.fail("wirefilter (Debian package vde2) is required for the interop tests")
    mgmt = short_tmp / "wf.mgmt"
    proc = subprocess.Popen(
        ["wirefilter", "-M", str(mgmt)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: proc.poll() is not None or socket_accepts(mgmt), what="wirefilter -M")
        assert proc.poll() is None, "wirefilter died"
        yield mgmt
    finally:
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                pipe.close()
        stop_process(proc)


