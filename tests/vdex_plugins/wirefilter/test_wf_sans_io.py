"""The model modules are sans-I/O: no event loop, sockets, clocks, threads or global RNG."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PLUGIN = Path(__file__).resolve().parents[3] / "vdex_plugins" / "wirefilter"
SANS_IO = ("_values.py", "_draws.py", "_markov.py", "_model.py", "_commands.py")
BANNED = {"trio", "socket", "select", "selectors", "time", "threading", "asyncio", "os"}


@pytest.mark.parametrize("name", SANS_IO)
def test_module_imports_no_io(name: str) -> None:
    tree = ast.parse((PLUGIN / name).read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            imported.add(node.module.split(".")[0])
    assert not imported & BANNED


@pytest.mark.parametrize("name", SANS_IO)
def test_module_uses_no_global_random_state(name: str) -> None:
    source = (PLUGIN / name).read_text()
    for call in ("random.random(", "random.gauss(", "random.seed(", "random.uniform("):
        assert call not in source
