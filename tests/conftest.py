"""Fixtures shared by every test folder."""

from __future__ import annotations

import logging
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


@pytest.fixture(autouse=True)
def _root_logging_restored() -> Iterator[None]:
    """Put the root logger back after each test: tests that run a CLI's main in-process get its
    ``setup_logging``, whose handler holds the sys.stderr pytest captured for that test (closed
    afterwards: later log records then fail with "I/O operation on closed file")."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def pytest_report_header() -> list[str]:
    tools = ["vde_switch", "vde_plug", "dpipe", "wirefilter", "unixterm", "slirpvde"]
    found = {t: shutil.which(t) is not None for t in tools}
    return ["reference tools: " + ", ".join(f"{t}={'yes' if ok else 'MISSING'}"
                                             for t, ok in found.items()),
            f"running as uid {os.geteuid()}"]
