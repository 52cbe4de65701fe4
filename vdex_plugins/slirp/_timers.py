"""libslirp's timers as a table of deadlines: sans-I/O, the clock is an argument.

libslirp creates timers through a callback (``timer_new_opaque`` or ``timer_new``), arms them
with an absolute expiry in milliseconds on the ``clock_get_ns`` timebase (``timer_mod``) and frees
them (``timer_free``). The handle we return is an opaque non-NULL pointer to libslirp; here it is
a small integer. The bridge asks :meth:`TimerTable.next_deadline` before it sleeps and fires
what :meth:`TimerTable.pop_due` returns when it wakes.
"""

from __future__ import annotations

from typing import Any

import attrs


@attrs.define(eq=False)
class _Timer:
    timer_id: int
    """``SlirpTimerId`` for ``slirp_handle_timer``; -1 for a ``timer_new`` timer."""
    cb_opaque: int | None
    callback: Any
    """The C callback of a ``timer_new`` timer (called with ``cb_opaque``), else None."""
    expire_ms: int | None = None


@attrs.define(eq=False)
class TimerTable:
    _timers: dict[int, _Timer] = attrs.field(factory=dict)
    _next_handle: int = 1

    def new(self, *, timer_id: int, cb_opaque: int | None, callback: Any) -> int:
        """Create a disarmed timer and return its handle (never 0: libslirp treats NULL as none)."""
        handle = self._next_handle
        self._next_handle += 1
        self._timers[handle] = _Timer(timer_id=timer_id, cb_opaque=cb_opaque, callback=callback)
        return handle

    def free(self, handle: int) -> None:
        self._timers.pop(handle, None)

    def arm(self, handle: int, expire_ms: int) -> bool:
        """Set the absolute expiry of a timer; False if the handle is unknown."""
        timer = self._timers.get(handle)
        if timer is None:
            return False
        timer.expire_ms = expire_ms
        return True

    def next_deadline(self) -> int | None:
        """The earliest armed expiry in ms, or None when nothing is armed."""
        deadlines = [t.expire_ms for t in self._timers.values() if t.expire_ms is not None]
        return min(deadlines) if deadlines else None

    def pop_due(self, now_ms: int) -> list[tuple[int, int | None, Any]]:
        """Disarm and return ``(timer_id, cb_opaque, callback)`` of every timer due at ``now_ms``.

        A timer fires once per arming; libslirp re-arms its periodic timers from the handler.
        """
        due = []
        for timer in self._timers.values():
            if timer.expire_ms is not None and timer.expire_ms <= now_ms:
                timer.expire_ms = None
                due.append((timer.timer_id, timer.cb_opaque, timer.callback))
        return due

    def clear(self) -> None:
        self._timers.clear()

    def __len__(self) -> int:
        return len(self._timers)
