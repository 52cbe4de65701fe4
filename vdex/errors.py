"""The one error tree of vdex.

Foreign exceptions (OSError, trio errors, pluggy errors) are mapped to these at the boundary where
they happen, so callers only need to know this module. Every message should say what to do next.
"""

from __future__ import annotations

import errno as _errno
import os


class VdexError(Exception):
    """Base class of every error vdex raises on purpose."""


class UsageError(VdexError):
    """A command line or option that cannot work; the CLI prints it and exits with status 2."""


class ConfigError(VdexError):
    """A bad rc file, option value or plugin argument."""


class PluginError(VdexError):
    """A plugin could not be found, loaded, validated or unloaded."""

    def __init__(self, message: str, *, plugin: str | None = None) -> None:
        super().__init__(message if plugin is None else f"plugin {plugin!r}: {message}")
        self.plugin = plugin


class PortError(VdexError):
    """A port or endpoint could not be opened, attached or found.

    ``errno`` says why in the terms vde_switch uses (EADDRINUSE: port held by another user, ENOSPC:
    no free port, ...); the console turns it into the same ``1NNN`` status line.
    """

    def __init__(self, message: str, *, errno: int = _errno.EINVAL) -> None:
        super().__init__(message)
        self.errno = errno


class FrameError(VdexError):
    """A frame that cannot be parsed (too short, too long, malformed header)."""


class MgmtError(VdexError):
    """A management command failed; rendered on the console as ``1NNN strerror``.

    ``errno`` is the POSIX error number vde_switch uses for the same failure, so scripts written
    against vde_switch see the same status line. ``detail`` is for logs only: the VDE console
    protocol has no place for it.
    """

    def __init__(self, errno: int, detail: str = "", *, output: list[str] | None = None
                 ) -> None:
        super().__init__(detail or os.strerror(errno))
        self.errno = errno
        self.detail = detail
        self.output = output
        """Data lines to show before the status anyway: vde_switch prints a table's header even
        when it then fails (``debug/list nomatch``, an empty ``plugin/list``)."""

    @classmethod
    def invalid(cls, detail: str = "") -> MgmtError:
        return cls(_errno.EINVAL, detail)

    @classmethod
    def no_such_device(cls, detail: str = "") -> MgmtError:
        return cls(_errno.ENXIO, detail)
