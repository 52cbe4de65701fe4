"""Port slots: allocation, numbering and access control, with vde_switch's rules (spec §4.1, §1.10).

Slots are numbered 0 to ``numports - 1``, as in Debian's vde_switch (``-n 4`` gives clients the
ports 1, 2 and 3). Port 0 is reserved for clients that ask for it explicitly (REQ_NEW_PORT0).
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Iterator

from ..errors import PortError
from .port import Port

UserInGroup = Callable[[int, int], bool]


def _nobody_in_groups(_uid: int, _gid: int) -> bool:
    return False


class PortTable:
    """The allocated port slots of one switch."""

    def __init__(self, numports: int = 32, *, user_in_group: UserInGroup = _nobody_in_groups) -> None:
        if numports <= 0:
            raise PortError("the number of ports must be positive", errno=errno.EINVAL)
        self.numports = numports
        self._ports: dict[int, Port] = {}
        self.user_in_group = user_in_group

    # ------------------------------------------------------------------ queries

    def get(self, number: int) -> Port | None:
        return self._ports.get(number)

    def __iter__(self) -> Iterator[Port]:
        """Allocated ports in number order."""
        return iter([self._ports[n] for n in sorted(self._ports)])

    def __len__(self) -> int:
        return len(self._ports)

    def active(self) -> list[Port]:
        return [p for p in self if p.active]

    def check_range(self, number: int) -> None:
        if not 0 <= number < self.numports:
            raise PortError(
                f"port {number} is out of range 0..{self.numports - 1}", errno=errno.EINVAL
            )

    # ------------------------------------------------------------------ allocation

    def _new(self, number: int, *, allocatable: bool) -> Port:
        port = Port(number=number, allocatable=allocatable)
        self._ports[number] = port
        return port

    def choose_for_client(self, uid: int | None, requested: int) -> tuple[Port, bool]:
        """Pick the port a connecting client gets, creating it if needed.

        :param uid: the client's uid (owner of its socket file), None if unknown.
        :param requested: 0 for any free port, N for exactly port N, -1 for port 0.
        :return: the port and whether it was created by this call (so a refused client can undo).
        :raises PortError: ENOSPC (no free port), EINVAL (out of range), EPERM (access control),
            EADDRINUSE (port held by another user).
        """
        if requested == 0:
            for number in range(1, self.numports):
                port = self._ports.get(number)
                if port is None:
                    return self._new(number, allocatable=True), True
                if port.allocatable and not port.active and self.may_use(port, uid):
                    return port, False
            raise PortError("no free port: all ports are in use", errno=errno.ENOSPC)
        number = 0 if requested < 0 else requested
        self.check_range(number)
        port = self._ports.get(number)
        created = port is None
        if port is None:
            port = self._new(number, allocatable=True)
        try:
            self.check_access(port, uid)
        except PortError:
            if created:
                del self._ports[number]
            raise
        return port, created

    def may_use(self, port: Port, uid: int | None) -> bool:
        try:
            self.check_access(port, uid)
        except PortError:
            return False
        return True

    def check_access(self, port: Port, uid: int | None) -> None:
        """May ``uid`` add an endpoint to ``port``? Raise PortError if not.

        An active port takes more endpoints only from the user already on it (root included). An
        inactive port takes anybody if unrestricted, root, its user, or a member of its group.
        """
        if port.active:
            if uid != port.curuser:
                raise PortError(
                    f"port {port.number} is in use by another user", errno=errno.EADDRINUSE
                )
            return
        if port.user is None and port.group is None:
            return
        if uid == 0 or (uid is not None and uid == port.user):
            return
        if uid is not None and port.group is not None and self.user_in_group(uid, port.group):
            return
        raise PortError(f"port {port.number} is restricted by port/setuser or port/setgroup",
                        errno=errno.EPERM)

    def create(self, number: int) -> Port:
        """``port/create N``: a new slot, not allocatable automatically.

        ``port/create 0`` is ``port/createauto`` without output, as in vde_switch: port 0 exists
        only for clients that ask for it (REQ_NEW_PORT0).
        """
        if number == 0:
            return self.create_auto()
        self.check_range(number)
        if number in self._ports:
            raise PortError(f"port {number} exists", errno=errno.EEXIST)
        return self._new(number, allocatable=False)

    def create_auto(self) -> Port:
        """``port/createauto``: the lowest empty slot from 1, not allocatable automatically."""
        for number in range(1, self.numports):
            if number not in self._ports:
                return self._new(number, allocatable=False)
        raise PortError("no free port", errno=errno.ENOSPC)

    def remove(self, number: int) -> Port:
        """``port/remove N``: refuse active ports (EADDRINUSE) and unknown ones (ENXIO)."""
        self.check_range(number)
        port = self._ports.get(number)
        if port is None:
            raise PortError(f"port {number} does not exist", errno=errno.ENXIO)
        if port.active:
            raise PortError(f"port {number} is active", errno=errno.EADDRINUSE)
        del self._ports[number]
        return port

    def set_numports(self, numports: int) -> list[Port]:
        """``port/setnumports N``: refuse (EADDRINUSE) to cut off an allocated port, active or
        not, as vde_switch does: ``port/remove`` it first. Returns the removed slots (none)."""
        if numports <= 0:
            raise PortError("the number of ports must be positive", errno=errno.EINVAL)
        cut = sorted(n for n in self._ports if n >= numports)
        if cut:
            raise PortError(f"port {cut[0]} would be cut off: remove it first",
                            errno=errno.EADDRINUSE)
        self.numports = numports
        return []

    def lookup(self, number: int) -> Port:
        """The allocated port ``number``: EINVAL out of range, ENXIO not allocated."""
        self.check_range(number)
        port = self._ports.get(number)
        if port is None:
            raise PortError(f"port {number} does not exist", errno=errno.ENXIO)
        return port
