"""Socket and directory permissions and identities, as vde_switch sets them (spec §1.9, §1.10).

Defaults are restrictive: the control directory is ``02700`` and the sockets ``0600``, so only the
switch's user can connect until ``-m``/``--dirmode``/``-g`` open it up.
"""

from __future__ import annotations

import grp
import os
import pwd

import attrs

from ..errors import UsageError

DEFAULT_MODE = 0o600
DEFAULT_DIRMODE = 0o2700


@attrs.frozen
class SocketModes:
    """Modes of the control directory and of the sockets inside it."""

    dirmode: int = DEFAULT_DIRMODE
    mode: int = DEFAULT_MODE
    gid: int | None = None


def derive_modes(mode: int | None, dirmode: int | None, gid: int | None = None) -> SocketModes:
    """Combine ``-m`` and ``--dirmode`` as vde_switch does.

    ``-m M`` alone: the directory gets, per user/group/other, the read-write bits of M plus x if
    any is set, and setgid. ``--dirmode D`` alone: the sockets get ``D & 0666``.
    """
    if mode is None and dirmode is None:
        return SocketModes(gid=gid)
    if dirmode is None:
        assert mode is not None
        derived = 0o2000
        for shift in (6, 3, 0):
            rw = (mode >> shift) & 0o6
            if rw:
                derived |= (rw | 0o1) << shift
        return SocketModes(dirmode=derived, mode=mode, gid=gid)
    if mode is None:
        return SocketModes(dirmode=dirmode, mode=dirmode & 0o666, gid=gid)
    return SocketModes(dirmode=dirmode, mode=mode, gid=gid)


def parse_mode(text: str) -> int:
    """An octal mode such as ``0660`` or ``660``; raises UsageError with the expected form."""
    try:
        value = int(text, 8)
    except ValueError:
        raise UsageError(f"{text!r} is not an octal mode (expected something like 0660)") from None
    if not 0 <= value <= 0o7777:
        raise UsageError(f"mode {text!r} is out of range (0000 to 7777)")
    return value


def group_id(name: str) -> int:
    """A group name or number; raises UsageError if there is no such group."""
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        if name.isdigit():
            return int(name)
        raise UsageError(f"no such group: {name!r} (expected a group name or number)") from None


def user_id(name: str) -> int:
    try:
        return pwd.getpwnam(name).pw_uid
    except KeyError:
        if name.isdigit():
            return int(name)
        raise UsageError(f"no such user: {name!r} (expected a login name or number)") from None


def user_name(uid: int | None) -> str:
    """How ``port/print`` shows a user: its login name, else the number, NONE for nobody."""
    if uid is None or uid < 0:
        return "NONE"
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def group_name(gid: int | None) -> str:
    if gid is None or gid < 0:
        return "NONE"
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def user_in_group(uid: int, gid: int) -> bool:
    """Primary group from passwd, or a supplementary member in the group file."""
    try:
        entry = pwd.getpwuid(uid)
    except KeyError:
        return False
    if entry.pw_gid == gid:
        return True
    try:
        return entry.pw_name in grp.getgrgid(gid).gr_mem
    except KeyError:
        return False


def client_uid(path: bytes) -> int:
    """The owner of a client's socket file, after checking the switch may read and write it.

    :raises PermissionError: the switch cannot access the file (vde_switch refuses such clients).
    :raises FileNotFoundError: there is no such file.
    """
    owner = os.stat(path).st_uid  # first, so a missing file is reported as missing
    if not os.access(path, os.R_OK | os.W_OK):
        raise PermissionError(f"cannot access client socket {path!r}")
    return owner
