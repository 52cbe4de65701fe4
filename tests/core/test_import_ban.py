"""The switching core is sans-I/O: no module under vdex/_core imports an I/O, clock, thread or
global-RNG module, directly or through the vdex modules it imports at run time."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import vdex

BANNED = {"trio", "socket", "select", "selectors", "time", "threading", "asyncio", "random"}
PACKAGE_ROOT = Path(vdex.__file__).parent
CORE = PACKAGE_ROOT / "_core"


def _module_name(path: Path) -> str:
    if not path.is_relative_to(PACKAGE_ROOT.parent):
        return path.stem
    rel = path.relative_to(PACKAGE_ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _module_path(name: str) -> Path | None:
    base = PACKAGE_ROOT.parent.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def runtime_imports(path: Path) -> set[str]:
    """Absolute names of every module ``path`` imports when it runs (TYPE_CHECKING blocks skipped)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = _module_name(path) if path.name == "__init__.py" else \
        _module_name(path).rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.add(module)
            for alias in node.names:  # ``from . import x`` may name a submodule
                if _module_path(f"{module}.{alias.name}") is not None:
                    found.add(f"{module}.{alias.name}")
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _closure(start: Path) -> dict[str, set[str]]:
    """Every vdex module reached from ``start`` at run time, with its imports."""
    seen: dict[str, set[str]] = {}
    todo = [start]
    while todo:
        path = todo.pop()
        name = _module_name(path)
        if name in seen:
            continue
        seen[name] = imports = runtime_imports(path)
        for module in imports:
            if module.split(".")[0] == "vdex" and module != "vdex":
                target = _module_path(module)
                if target is not None:
                    todo.append(target)
    return seen


CORE_MODULES = sorted(CORE.glob("*.py"))


def test_the_core_has_modules() -> None:
    assert {p.name for p in CORE_MODULES} >= {"engine.py", "frame.py", "mac_table.py",
                                              "port.py", "port_table.py", "stream.py"}


@pytest.mark.parametrize("path", CORE_MODULES, ids=lambda p: p.name)
def test_core_module_imports_no_io_clock_or_threads(path: Path) -> None:
    offenders = {
        f"{module} imports {imported}"
        for module, imports in _closure(path).items()
        for imported in imports
        if imported.split(".")[0] in BANNED
    }
    assert not offenders, sorted(offenders)


def test_the_checker_sees_banned_imports(tmp_path: Path) -> None:
    """A checker that cannot fail proves nothing: it must see every import form."""
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import os, time\n"
        "from socket import socket\n"
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    import trio\n"
        "def f():\n    import random\n"
        "try:\n    import selectors\nexcept ImportError:\n    pass\n"
    )
    found = runtime_imports(sample)
    assert {"time", "socket", "random", "selectors"} <= found
    assert "trio" not in found
