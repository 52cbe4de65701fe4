"""``ptp://PATH``: a point-to-point cable over unix datagram sockets, as vdeplug4 4.0.1 (Debian).

Two endpoints, no switch between them, raw frames one per datagram:

* the **first** endpoint binds ``PATH`` and will send to ``PATH+``;
* the **second** finds ``PATH`` alive (a probe connect succeeds), connects to it and binds
  ``PATH+``;
* a third finds both alive and is refused (EADDRINUSE);
* a stale socket file (connect answers ECONNREFUSED) is removed and reused.

Sockets are connected on the first send (see :mod:`vdex_plugins._p2p`); socket files get mode
0700 (only their owner may send to them) and are removed on close. vdeplug4 HEAD (2025) turned
ptp into a SOCK_SEQPACKET protocol with a status byte; Debian ships 4.0.1, which this matches so
that ``vde_plug ptp://PATH`` on Debian is the other end.
"""

from __future__ import annotations

import errno
import logging
import os
import socket
import stat
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import attrs
import trio

from vdex.errors import ConfigError, PortError
from vdex_plugins._p2p import PeerEndpoint

if TYPE_CHECKING:
    from vdex.runtime.switch import Switch
    from vdex.vnl import Vnl

log = logging.getLogger("vdex.ptp")

MODULE = "ptp"
SOCKET_MODE = 0o700
MAX_PATH = 107
"""sun_path holds 108 bytes with the NUL; ``PATH+`` must fit too."""


@attrs.define(eq=False, kw_only=True)
class PtpEndpoint(PeerEndpoint):
    bound_path: str
    """Our socket file (PATH or PATH+), removed on close."""
    role: str
    """``first`` (bound PATH) or ``second`` (bound PATH+)."""

    def close(self) -> None:
        try:
            if stat.S_ISSOCK(os.lstat(self.bound_path).st_mode):
                os.unlink(self.bound_path)
        except OSError:
            pass
        super().close()


def _alive(path: str) -> bool:
    """Is someone reading on the socket file ``path``? A stale file is removed (vdeplug4)."""
    try:
        if not stat.S_ISSOCK(os.stat(path).st_mode):
            return False
    except FileNotFoundError:
        return False
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
    try:
        probe.connect(path)
        return True
    except ConnectionRefusedError:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        return False
    except OSError:
        return False
    finally:
        probe.close()


def _bind(sock: socket.socket, path: str) -> None:
    try:
        sock.bind(path)
    except OSError as exc:
        raise PortError(f"ptp://{path}: cannot bind: {exc.strerror}",
                        errno=exc.errno or errno.EADDRINUSE) from None
    try:
        os.chmod(path, SOCKET_MODE)
    except OSError as exc:
        os.unlink(path)
        raise PortError(f"ptp://{path}: cannot set the mode of the socket: {exc.strerror}",
                        errno=exc.errno or errno.EPERM) from None


def open_ptp_socket(path: str) -> tuple[socket.socket, str, str, str]:
    """Take the free end of the cable at ``path``: (socket, bound path, peer path, role).

    Blocking but quick (file system and local sockets only).
    """
    if not path:
        raise ConfigError("ptp:// needs a path: ptp:///tmp/cable")
    if len(os.fsencode(path)) + 1 > MAX_PATH:
        raise ConfigError(f"ptp://{path}: the path is too long for a unix socket "
                          f"(at most {MAX_PATH - 1} bytes, to leave room for '+')")
    plus = path + "+"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
    try:
        if not _alive(path):
            try:
                _bind(sock, path)
                return sock, path, plus, "first"
            except PortError as exc:
                if exc.errno != errno.EADDRINUSE:
                    raise
        # someone holds PATH: be the second end
        try:
            sock.connect(path)
        except OSError as exc:
            raise PortError(f"ptp://{path}: cannot reach the first end: {exc.strerror}",
                            errno=exc.errno or errno.ECONNREFUSED) from None
        if _alive(plus):
            raise PortError(f"ptp://{path}: both ends are already in use ({path} and {plus}); "
                            "a ptp cable joins exactly two endpoints", errno=errno.EADDRINUSE)
        _bind(sock, plus)
        return sock, plus, path, "second"
    except BaseException:
        sock.close()
        raise


@asynccontextmanager
async def open_ptp(switch: Switch | None, vnl: Vnl) -> AsyncIterator[PtpEndpoint]:
    """``ptp://PATH``: the :class:`~vdex.records.PortType` opener."""
    path = os.path.abspath(vnl.args) if vnl.args else ""
    sock, bound, peer, role = await trio.to_thread.run_sync(open_ptp_socket, path)
    sock.setblocking(False)
    endpoint = PtpEndpoint(fd=sock.fileno(), recv=sock.recv, write=sock.send, closer=sock.close,
                           sock=sock, destination=peer, bound_path=bound, role=role,
                           id=sock.fileno(), module=MODULE, description=vnl.text,
                           uid=os.geteuid())
    log.info("ptp %s: %s end (socket %s)", path, role, bound)
    try:
        yield endpoint
    finally:
        endpoint.close()


__all__ = ["MODULE", "PtpEndpoint", "open_ptp", "open_ptp_socket"]
