"""Helpers shared by the tool tests (importable; the fixtures are in conftest.py)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import attrs

PYTHON = sys.executable


def wait_for(condition: Callable[[], object], timeout: float = 10.0, what: str = "condition") -> None:
    """Poll ``condition`` until it is true; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.01)


def socket_accepts(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        try:
            sock.connect(str(path))
        except OSError:
            return False
    return True


def port_sockets(switch_dir: Path) -> list[Path]:
    """The per-port data sockets (``NNN.F``) of a vde_switch directory."""
    return sorted(p for p in switch_dir.iterdir() if p.name[:1].isdigit())


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 5.0) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def dpipe_argv(*args: str) -> list[str]:
    """The command line that runs vdex's dpipe in a fresh interpreter."""
    return [PYTHON, "-m", "vdex.tools.dpipe", *args]


def group_is_empty(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


@attrs.define(eq=False, kw_only=True)
class RunningSwitch:
    """A real ``vde_switch -s DIR [-M MGMT]`` with its stdin kept open on a pipe."""

    dir: Path
    mgmt: Path | None
    proc: subprocess.Popen[bytes]
