"""Management commands by path, with their owners, in vde_switch's lookup and help order.

Lookup is vde_switch's: the first command whose path is a prefix of the input wins, and the rest
of the line (blanks skipped) is its argument. Menus are ordered as in vde_switch's ``help``; a
plugin's commands for an existing menu go at the end of that menu, new menus after the known ones.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from ..errors import PluginError
from ..records import MgmtCommand

KNOWN_MENUS = ("ds", "", "debug", "plugin", "hash", "fstp", "port", "vlan")
"""vde_switch's help order; ``""`` stands for the top-level commands (help, logout, ...)."""

HELP_HEADER = [
    "COMMAND PATH       SYNTAX          HELP",
    "------------       --------------  ------------",
]


VDE_SWITCH_ORDER = (
    "ds/showinfo", "help", "logout", "shutdown", "showinfo", "load",
    "debug/list", "debug/add", "debug/del", "plugin/list", "plugin/add", "plugin/del",
    "hash/showinfo", "hash/setsize", "hash/setgcint", "hash/setexpire", "hash/setminper",
    "hash/print", "hash/find",
    "fstp/showinfo", "fstp/setfstp", "fstp/setedge", "fstp/bonus", "fstp/print",
    "port/showinfo", "port/setnumports", "port/sethub", "port/setvlan", "port/createauto",
    "port/create", "port/remove", "port/allocatable", "port/setuser", "port/setgroup",
    "port/epclose", "port/resetcounter", "port/print", "port/allprint",
    "vlan/create", "vlan/remove", "vlan/addport", "vlan/delport", "vlan/print", "vlan/allprint",
)
"""vde_switch's commands in its registration order, whichever plugin provides them here (the VLAN
plugin's ``port/setvlan`` sits in the port menu where vde_switch lists it). Others follow."""
_VDE_RANK = {path: rank for rank, path in enumerate(VDE_SWITCH_ORDER)}


def _menu_of(command: MgmtCommand) -> str:
    path = command.path
    if "/" in path:
        return path.split("/", 1)[0]
    # A menu header is its own menu; any other top-level path belongs with help, logout, ...
    return path if command.is_menu else ""


@attrs.frozen
class Registered:
    owner: str
    command: MgmtCommand
    seq: int


class CommandRegistry:
    """The commands of one console, each owned by the plugin that contributed it."""

    def __init__(self) -> None:
        self._entries: list[Registered] = []
        self._seq = 0
        self._ordered: list[Registered] | None = None

    def add(self, owner: str, commands: Iterable[MgmtCommand]) -> None:
        """Register ``commands`` for ``owner``; refuse a path someone else owns, naming both."""
        new = list(commands)
        taken = {e.command.path: e.owner for e in self._entries}
        seen: set[str] = set()
        for cmd in new:
            if cmd.path in seen:
                raise PluginError(f"contributes command {cmd.path!r} twice", plugin=owner)
            seen.add(cmd.path)
            other = taken.get(cmd.path)
            if other is not None and not (cmd.is_menu and other != owner):
                raise PluginError(
                    f"command {cmd.path!r} is already provided by plugin {other!r}", plugin=owner
                )
        for cmd in new:
            if cmd.is_menu and cmd.path in taken:
                continue  # two plugins adding to one menu: the first header stays
            self._seq += 1
            self._entries.append(Registered(owner, cmd, self._seq))
        self._ordered = None

    def remove_owner(self, owner: str) -> list[MgmtCommand]:
        removed = [e.command for e in self._entries if e.owner == owner]
        self._entries = [e for e in self._entries if e.owner != owner]
        self._ordered = None
        return removed

    def owner_of(self, path: str) -> str | None:
        for entry in self._entries:
            if entry.command.path == path:
                return entry.owner
        return None

    def ordered(self) -> list[Registered]:
        """Every entry in help and lookup order."""
        if self._ordered is None:
            menu_rank: dict[str, int] = {m: i for i, m in enumerate(KNOWN_MENUS)}
            for entry in self._entries:
                menu_rank.setdefault(_menu_of(entry.command), len(menu_rank))
            self._ordered = sorted(
                self._entries,
                key=lambda e: (
                    menu_rank[_menu_of(e.command)],
                    not e.command.is_menu,
                    _VDE_RANK.get(e.command.path, len(_VDE_RANK)),
                    e.seq,
                ),
            )
        return self._ordered

    def lookup(self, text: str) -> tuple[MgmtCommand, str] | None:
        """The command ``text`` runs and its argument, or None (ENOSYS)."""
        for entry in self.ordered():
            cmd = entry.command
            if not cmd.is_menu and text.startswith(cmd.path):
                return cmd, text[len(cmd.path) :].lstrip(" \t")
        return None

    def help_lines(self, prefix: str = "") -> list[str]:
        lines = list(HELP_HEADER)
        for entry in self.ordered():
            cmd = entry.command
            if not cmd.path.startswith(prefix):
                continue
            syntax = "============" if cmd.is_menu else cmd.syntax
            lines.append(f"{cmd.path:<18} {syntax:<15} {cmd.help}".rstrip())
        return lines
