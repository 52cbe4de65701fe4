"""Helpers shared by the tool tests (importable; the fixtures are in conftest.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import attrs

from vdex.testing.blocking import port_sockets as port_sockets
from vdex.testing.blocking import socket_accepts as socket_accepts
from vdex.testing.blocking import wait_for as wait_for

PYTHON = sys.executable


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
