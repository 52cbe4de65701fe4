"""Run inside_netns/ (libslirp in the test process itself) in a namespace holding only ``lo``.

The inner session's own conftest refuses to collect that folder anywhere else, so the only way
those tests run is through this one, which fails with the inner report if any of them fails.
"""

from __future__ import annotations

import os
import re
import subprocess

import pytest
from slirp_isolation import NETNS_ENV
from slirp_lab import HERE, PYTHON, Namespace, require_root, unique

pytestmark = [pytest.mark.privileged, pytest.mark.slow]

REPO = HERE.parents[2]


def test_bridge_suite_inside_isolated_namespace() -> None:
    require_root()
    expected = len(re.findall(r"^async def test_|^def test_", _inner_sources(), re.M))
    ns = Namespace(unique("vxin-"), resolv_conf="nameserver 127.0.0.1\n")
    try:
        done = subprocess.run(
            ns.argv(
                PYTHON, "-m", "pytest", HERE / "inside_netns", "-q", "-p", "no:cacheprovider",
                "-o", "addopts=-ra --strict-markers --strict-config",
            ),
            env={**os.environ, NETNS_ENV: ns.name},
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=300,
        )  # fmt: skip
    finally:
        ns.delete()
    report = done.stdout + done.stderr
    assert done.returncode == 0, report
    assert re.search(rf"\b{expected} passed\b", done.stdout), report


def _inner_sources() -> str:
    return "".join(path.read_text() for path in sorted((HERE / "inside_netns").glob("test_*.py")))
