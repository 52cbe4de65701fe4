"""Fixtures shared by every test folder."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator

import pytest


@pytest.fixture
def sockdir() -> Iterator[str]:
    """A short temporary directory for unix sockets (their paths must stay under 108 bytes,
    which pytest's tmp_path does not guarantee). Removed after the test, even when it fails."""
    path = tempfile.mkdtemp(prefix="vdex-", dir="/tmp")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def pytest_report_header() -> list[str]:
    tools = ["vde_switch", "vde_plug", "dpipe", "wirefilter", "unixterm", "slirpvde"]
    found = {t: shutil.which(t) is not None for t in tools}
    return ["reference tools: " + ", ".join(f"{t}={'yes' if ok else 'MISSING'}"
                                             for t, ok in found.items()),
            f"running as uid {os.geteuid()}"]
