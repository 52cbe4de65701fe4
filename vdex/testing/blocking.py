"""Blocking helpers for tests that drive real processes without trio (``subprocess.Popen``
and plain sockets): every wait has a deadline and fails the test with what it waited for."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path


def wait_for(condition: Callable[[], object], timeout: float = 10.0, what: str = "condition") -> None:
    """Poll ``condition`` until it is true; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.01)


def socket_accepts(path: Path) -> bool:
    """Does the unix stream socket at ``path`` accept a connection (a switch's ``ctl``)?"""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        try:
            sock.connect(str(path))
        except OSError:
            return False
    return True


def port_sockets(switch_dir: Path) -> list[Path]:
    """The per-port data sockets (``NNN.F``) of a vde_switch directory."""
    return sorted(p for p in switch_dir.iterdir() if p.name[:1].isdigit())
