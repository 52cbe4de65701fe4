"""The code base type-checks (mypy) and lints clean (ruff): part of the suite, so part of CI."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *argv], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)


@pytest.mark.slow
def test_mypy() -> None:
    result = run("mypy")  # packages and options from pyproject.toml
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff() -> None:
    result = run("ruff", "check", "vdex", "vdex_plugins", "tests", "bench", "contrib")
    assert result.returncode == 0, result.stdout + result.stderr
