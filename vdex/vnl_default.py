"""Which VNL an empty or file-like VNL stands for: vdeplug4's resolution rules, before parsing.

vdeplug4 looks at the file system for a VNL without ``://``:

1. the empty VNL means ``$HOME/.vdeplug/default`` if it exists (even as a dangling symlink),
   else ``$HOME/.vde2/default.switch``, else stays empty;
2. if that text names a regular file (symlinks followed), the file's first line is the VNL
   (read once: the line is not resolved again);
3. whatever is left goes to module ``vde``, whose empty path means the first of
   :data:`DEFAULT_SWITCH_PATHS` that accepts a connection.

The rules are pure functions over a :class:`VnlLookups` record, so tests hand in a fake file
system; :func:`host_lookups` is the one place that touches the real one.
"""

from __future__ import annotations

import os
import posixpath
import stat
from collections.abc import Callable, Mapping

import attrs

from .errors import ConfigError

DEFAULT_VNL_FILES = (".vdeplug/default", ".vde2/default.switch")
"""Relative to ``$HOME``, tried in order for the empty VNL."""
DEFAULT_SWITCH_PATHS = ("/var/run/vde.ctl", "/tmp/vde.ctl")
"""Where ``vde://`` with an empty path looks for a switch, in order."""
MAX_VNL_LINE = 4096
"""vdeplug4 reads at most PATH_MAX bytes of the first line."""


@attrs.frozen(kw_only=True)
class VnlLookups:
    """The file system queries VNL resolution needs."""

    home: str | None
    """``$HOME``; None or empty: no per-user default."""
    exists: Callable[[str], bool]
    """True if the path exists, without following a final symlink (``lstat``)."""
    read_first_line: Callable[[str], str | None]
    """The first line, without its newline, if the path is a regular file (symlinks
    followed); None otherwise. May raise :class:`ConfigError` if the file cannot be read."""


def resolve_vnl(text: str, lookups: VnlLookups) -> str:
    """The VNL that ``text`` stands for (still to be parsed with :func:`vdex.vnl.parse_vnl`).

    :raises ConfigError: a VNL file whose first line is empty.
    """
    if "://" in text:
        return text
    path = text
    if not path and lookups.home:
        for relative in DEFAULT_VNL_FILES:
            candidate = posixpath.join(lookups.home, relative)
            if lookups.exists(candidate):
                path = candidate
                break
    if not path:
        return ""
    line = lookups.read_first_line(path)
    if line is None:
        return path
    if not line:
        raise ConfigError(f"{path}: the first line is empty; write a VNL there, "
                          "such as vde:///run/vde/switch.ctl or vxlan://239.0.0.1")
    return line


def default_switch_paths(path: str) -> tuple[str, ...]:
    """Switch directories to try for a ``vde://`` path: the path itself, or the defaults."""
    return (path,) if path else DEFAULT_SWITCH_PATHS


# ---------------------------------------------------------------------------- the real host


def _read_first_line(path: str) -> str | None:
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return None
        with open(path, "rb") as f:
            raw = f.readline(MAX_VNL_LINE)
    except (FileNotFoundError, NotADirectoryError, ValueError):  # ValueError: a NUL in the path
        return None
    except OSError as exc:
        raise ConfigError(f"cannot read the VNL in {path}: {exc.strerror}; "
                          "it should be a readable text file whose first line is a VNL") from None
    return os.fsdecode(raw.rstrip(b"\n").rstrip(b"\r"))


def host_lookups(environ: Mapping[str, str] | None = None) -> VnlLookups:
    """Lookups on the real file system, with ``$HOME`` from ``environ`` (default: os.environ)."""
    env = os.environ if environ is None else environ
    return VnlLookups(home=env.get("HOME") or None, exists=os.path.lexists,
                      read_first_line=_read_first_line)


__all__ = [
    "DEFAULT_SWITCH_PATHS",
    "DEFAULT_VNL_FILES",
    "VnlLookups",
    "default_switch_paths",
    "host_lookups",
    "resolve_vnl",
]
