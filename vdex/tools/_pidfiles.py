"""Pid and process-group files of dpipe, removed only if they still hold what we wrote."""

from __future__ import annotations

import os
from pathlib import Path

import attrs


@attrs.define(eq=False, kw_only=True)
class PidFiles:
    """The ``-p PIDFILE`` / ``-P PGRPFILE`` files of one dpipe run.

    ``remove()`` leaves a file alone if someone else has rewritten it since (a second dpipe
    started with the same pid file), so cleanup never deletes a file that is not ours.
    """

    pidfile: Path | None = None
    pgrpfile: Path | None = None
    _written: dict[Path, str] = attrs.field(factory=dict)

    def absolute(self) -> PidFiles:
        """The same files with absolute paths, for a daemon that will ``chdir("/")``."""
        return PidFiles(
            pidfile=None if self.pidfile is None else self.pidfile.absolute(),
            pgrpfile=None if self.pgrpfile is None else self.pgrpfile.absolute(),
        )

    @property
    def any(self) -> bool:
        return self.pidfile is not None or self.pgrpfile is not None

    def write(self) -> None:
        """Write ``pid`` and ``-pgrp`` (the negative group id, ready for ``kill``).

        Raises OSError; the caller reports it before any command is started.
        """
        if self.pidfile is not None:
            self._write(self.pidfile, f"{os.getpid()}\n")
        if self.pgrpfile is not None:
            self._write(self.pgrpfile, f"-{os.getpgrp()}\n")

    def _write(self, path: Path, text: str) -> None:
        path.write_text(text)
        self._written[path] = text

    def remove(self) -> None:
        """Remove the files written by :meth:`write`; never raises."""
        for path, text in list(self._written.items()):
            try:
                if path.read_text() == text:
                    path.unlink()
            except OSError:
                pass
            del self._written[path]
