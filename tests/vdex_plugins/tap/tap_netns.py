"""The namespace helper now lives in :mod:`vdex.testing.netns`; this keeps the tap tests' import
and points :meth:`NetNs.run_python` at the scripts of this folder."""

from __future__ import annotations

from pathlib import Path

from vdex.testing.netns import NetNs as _NetNs

HERE = Path(__file__).resolve().parent


class NetNs(_NetNs):
    def __init__(self, prefix: str = "vdex-test") -> None:
        super().__init__(prefix, script_dir=HERE)
