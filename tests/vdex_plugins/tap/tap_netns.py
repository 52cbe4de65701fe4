"""Network namespaces for tests, and running a Python script inside one.

Each test gets its own namespace, so nothing it does (taps, veths, addresses, traffic) can touch
the host; the fixture deletes it whatever happens, which also removes every interface in it.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


class NetNs:
    """A named network namespace created for one test (``ip netns add``)."""

    def __init__(self, prefix: str = "vdex-test") -> None:
        self.name = f"{prefix}-{os.getpid()}-{secrets.token_hex(3)}"
        subprocess.run(["ip", "netns", "add", self.name], check=True, capture_output=True)

    def delete(self) -> None:
        subprocess.run(["ip", "netns", "delete", self.name], check=False, capture_output=True)

    def ip(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run ``ip -n NS ARGS``; with ``check``, fail the test with ip's own message."""
        done = subprocess.run(["ip", "-n", self.name, *args], capture_output=True, text=True)
        if check and done.returncode != 0:
            raise AssertionError(f"ip {' '.join(args)} failed: {done.stderr.strip()}")
        return done

    def link_exists(self, name: str) -> bool:
        return self.ip("link", "show", "dev", name, check=False).returncode == 0

    def link_json(self, name: str) -> dict[str, Any]:
        shown = json.loads(self.ip("-j", "addr", "show", "dev", name).stdout)
        assert len(shown) == 1
        return dict(shown[0])

    def run_python(self, script: str | Path, request: dict[str, Any], *,
                   timeout: float = 60) -> dict[str, Any]:
        """Run ``script REQUEST-JSON`` with this interpreter inside the namespace and return the
        JSON object it prints last. A non-zero exit fails the test with the script's stderr."""
        done = subprocess.run(
            ["ip", "netns", "exec", self.name, sys.executable, str(HERE / script),
             json.dumps(request)],
            capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise AssertionError(f"{script} failed ({done.returncode}):\n{done.stderr}")
        return dict(json.loads(done.stdout.strip().splitlines()[-1]))
