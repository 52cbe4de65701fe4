"""docs/hooks.md documents every hook of vdex/hookspecs.py under a heading with its exact
signature, and documents no hook that does not exist."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from vdex.hookspecs import VdexSpecs

DOC = Path(__file__).resolve().parents[2] / "docs" / "hooks.md"
HEADING = re.compile(r"^## `(vdex_\w+)\((.*)\)( -> .*)?`$", re.M)


def signature_text(name: str) -> str:
    """``vdex_configure(switch: Switch, ...) -> None`` as written in the hookspec."""
    fn = getattr(VdexSpecs, name)
    params = [p for p in inspect.signature(fn).parameters.values() if p.name != "self"]
    annotations = fn.__annotations__  # strings: hookspecs.py uses postponed annotations
    args = ", ".join(f"{p.name}: {annotations[p.name]}" for p in params)
    return f"{name}({args}) -> {annotations['return']}"


def hook_names() -> list[str]:
    return [name for name in vars(VdexSpecs) if name.startswith("vdex_")]


def documented() -> dict[str, str]:
    text = DOC.read_text()
    return {m.group(1): m.group(0)[4:-1] for m in HEADING.finditer(text)}


def test_there_are_hooks() -> None:
    assert len(hook_names()) >= 18
    assert signature_text("vdex_configure") == (
        "vdex_configure(switch: Switch, options: argparse.Namespace, args: Mapping[str, str])"
        " -> None")


def test_every_hook_has_a_heading_with_its_exact_signature() -> None:
    headings = documented()
    missing = [name for name in hook_names() if name not in headings]
    assert not missing, f"hooks without a heading in docs/hooks.md: {missing}"
    wrong = {name: (headings[name], signature_text(name)) for name in hook_names()
             if headings[name] != signature_text(name)}
    assert not wrong, f"signatures differ (doc, code): {wrong}"


def test_no_heading_for_a_hook_that_does_not_exist() -> None:
    assert sorted(set(documented()) - set(hook_names())) == []


def test_each_hook_section_has_an_example() -> None:
    text = DOC.read_text()
    sections = re.split(r"^## ", text, flags=re.M)[1:]
    for section in sections:
        name = section.split("(", 1)[0].strip("`")
        if name.startswith("vdex_"):
            assert "```python" in section, f"{name}: no example"
            assert f"def {name}(" in section, f"{name}: the example does not implement it"
