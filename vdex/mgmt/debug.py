"""Debug event categories and who subscribed to them (``debug/list``, ``debug/add``, ``debug/del``).

:meth:`DebugHub.emit` is called from the data path (a MAC learnt, a port added), so it returns at
once when nobody listens, and never blocks when somebody does: a session whose client does not
read loses debug lines, not the switch its speed.
"""

from __future__ import annotations

import errno
from collections.abc import Iterable

from ..errors import MgmtError, PluginError
from ..records import DebugCategory
from .context import Session
from .protocol import render_debug
from .registry import KNOWN_MENUS

LIST_HEADER = [
    "CATEGORY               TAG STATUS HELP",
    "------------           --- ------ ----",
]


class DebugHub:
    def __init__(self) -> None:
        self._categories: dict[str, tuple[str, DebugCategory]] = {}
        self._subscribers: dict[str, set[Session]] = {}

    def add(self, owner: str, categories: Iterable[DebugCategory]) -> None:
        new = list(categories)
        for cat in new:
            if cat.path in self._categories:
                other = self._categories[cat.path][0]
                raise PluginError(f"debug category {cat.path!r} is already provided by {other!r}",
                                  plugin=owner)
        for cat in new:
            self._categories[cat.path] = (owner, cat)

    def remove_owner(self, owner: str) -> None:
        for path in [p for p, (o, _c) in self._categories.items() if o == owner]:
            del self._categories[path]
            self._subscribers.pop(path, None)

    def emit(self, path: str, message: str) -> None:
        """Send an event to every session subscribed to ``path``."""
        sessions = self._subscribers.get(path)
        if not sessions:
            return
        line = render_debug(self._categories[path][1].tag, path, message)
        for session in list(sessions):
            session.post(line)

    def listening(self, path: str) -> bool:
        """True if an event would reach anybody: skip building expensive messages otherwise."""
        return bool(self._subscribers.get(path))

    def _matching(self, prefix: str) -> list[str]:
        """Categories starting with ``prefix`` (all for ``""``), in vde_switch's order: by menu
        as in ``help`` (hash, fstp, port, ...), then as registered."""
        rank = {menu: i for i, menu in enumerate(KNOWN_MENUS)}
        found = [(rank.get(p.split("/", 1)[0], len(rank)), i, p)
                 for i, p in enumerate(self._categories) if p.startswith(prefix)]
        return [p for _r, _i, p in sorted(found)]

    def list_lines(self, session: Session, prefix: str = "") -> list[str]:
        matching = self._matching(prefix)
        if not matching:
            raise MgmtError(errno.ENOENT, f"no debug category starts with {prefix!r}",
                            output=list(LIST_HEADER))
        lines = list(LIST_HEADER)
        for path in matching:
            cat = self._categories[path][1]
            status = "ON" if path in session.debug else "OFF"
            lines.append(f"{path:<22} {cat.tag:03o} {status:<6} {cat.help}")
        return lines

    def subscribe(self, session: Session, prefix: str) -> None:
        matching = self._matching(prefix)  # "" is every category, as in vde_switch
        if not matching:
            raise MgmtError(errno.EINVAL, f"no debug category starts with {prefix!r}")
        fresh = [p for p in matching if p not in session.debug]
        if not fresh:
            raise MgmtError(errno.EEXIST, "already subscribed")
        for path in fresh:
            session.debug.add(path)
            self._subscribers.setdefault(path, set()).add(session)

    def unsubscribe(self, session: Session, prefix: str) -> None:
        matching = self._matching(prefix)
        if not matching:
            raise MgmtError(errno.EINVAL, f"no debug category starts with {prefix!r}")
        subscribed = [p for p in matching if p in session.debug]
        if not subscribed:
            raise MgmtError(errno.ENOENT, "not subscribed")
        for path in subscribed:
            session.debug.discard(path)
            self._subscribers.get(path, set()).discard(session)

    def drop_session(self, session: Session) -> None:
        for path in session.debug:
            self._subscribers.get(path, set()).discard(session)
        session.debug.clear()
