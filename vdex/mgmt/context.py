"""What a management command handler gets: the switch, the session it runs for, and exits."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from .console import Console


class RawOutput(str):
    """Text a command writes before its status line, unframed (``load`` echoes scripts so)."""


class EndSession(Exception):
    """Raised by ``logout`` and ``shutdown``: the console ends the session after the reply."""

    def __init__(self, *, shutdown: bool = False) -> None:
        super().__init__("end of session")
        self.shutdown = shutdown


@attrs.define(eq=False, kw_only=True)
class Session:
    """One console conversation: a socket client, the stdin console, or an rc file run."""

    id: int
    """The session's descriptor number where there is one (shown by debug events), else a count."""
    post: Callable[[str], None]
    """Queue text for the client without blocking (debug events use this; may drop)."""
    interactive: bool = True
    """False for rc files at start-up: no output at all."""
    debug: set[str] = attrs.Factory(set)
    """Debug categories this session subscribed to."""
    script_depth: int = 0
    """How many ``load`` scripts deep this command runs (``logout`` is ignored inside one)."""


@attrs.define(eq=False, kw_only=True)
class CommandContext:
    """Passed to every handler as ``ctx``."""

    switch: Any
    """The :class:`vdex.runtime.switch.Switch` (or the tool that owns the console)."""
    session: Session
    console: Console
