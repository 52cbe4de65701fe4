"""Plugins made for one test: a module on sys.path, installed (a dist-info with a ``vdex``
entry point, as pip would leave it) or not."""

from __future__ import annotations

import importlib
import itertools
import os
import sys
import textwrap
from collections.abc import Callable, Iterator

import pytest

_names = itertools.count()


@pytest.fixture
def plugin_site(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
                ) -> Iterator[Callable[..., str]]:
    """``make(source, installed=True) -> name``: write a plugin module under a fresh unique name
    (so no test sees another's module) into a directory on sys.path; ``installed`` adds the
    dist-info that makes it an entry point of group ``vdex`` named like the module.

    The directory is also exported in PYTHONPATH for child processes. Everything is removed
    after the test."""
    site = tmp_path_factory.mktemp("plugin-site")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [str(site), *filter(None, [os.environ.get("PYTHONPATH")])]))
    made: list[str] = []

    def make(source: str, *, installed: bool = True, name: str | None = None) -> str:
        name = name or f"vdextestplug{os.getpid()}x{next(_names)}"
        (site / f"{name}.py").write_text(textwrap.dedent(source))
        if installed:
            info = site / f"{name}-0.0.dist-info"
            info.mkdir()
            (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.0\n")
            (info / "entry_points.txt").write_text(f"[vdex]\n{name} = {name}\n")
        importlib.invalidate_caches()
        made.append(name)
        return name

    try:
        yield make
    finally:
        for name in made:
            sys.modules.pop(name, None)
        importlib.invalidate_caches()
