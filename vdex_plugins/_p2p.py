"""The connected point-to-point datagram endpoint of ``udp://`` and ``ptp://`` (vdeplug4's
``CONNECTED_P2P``), shared by the two plugins.

vdeplug4 gives both modules the same socket discipline, and vdex keeps it for compatibility:

* the socket is **connected on the first send**: until then it takes datagrams from anyone,
  afterwards only from its peer. The send path just calls ``send``; only when the kernel answers
  that the socket has no destination (EDESTADDRREQ/ENOTCONN) is it connected and the frame sent
  again, so a connected socket costs nothing per frame;
* a zero-length datagram dissolves the association (``connect(AF_UNSPEC)``), so a peer that
  restarted elsewhere is reached again on our next send;
* runts under 14 bytes and datagrams over 1518 bytes are counted and dropped on receive.

Fixed on purpose: a peer that is not there (ECONNREFUSED: an ICMP port unreachable, or a unix
socket nobody reads any more; ENOENT: its socket file is gone) is counted, never fatal, and the
next send connects afresh. vdeplug4's ptp stays connected to a dead peer and never recovers.
"""

from __future__ import annotations

import errno
import socket
from typing import Any

import attrs

from vdex._core.port import DropCounters
from vdex.runtime.endpoint import DRAIN_BATCH, FrameEndpoint

_NOT_CONNECTED = frozenset((errno.EDESTADDRREQ, errno.ENOTCONN))
PEER_ABSENT = frozenset((errno.ECONNREFUSED, errno.ENOENT, errno.EHOSTUNREACH,
                         errno.ENETUNREACH, errno.EPERM))
"""Errors meaning "nobody takes frames there now" (EPERM: a unix datagram peer that is
connected to someone else)."""
_RECONNECT = _NOT_CONNECTED | {errno.ECONNREFUSED, errno.EPERM}
_BATCH = range(DRAIN_BATCH)
_ONE = range(1)

DEFAULT_RCVBUF = 2 << 20
"""Receive buffer asked for on UDP cable sockets (udp://, vxlan://): 2 MiB.

The system default (net.core.rmem_default, 208 KiB: about 90 full-size frames) overflows under
one TCP stream: the receiving switch also delivers each frame into the host's TCP stack behind its
tap, so it drains more slowly than the sending one fills. Measured on a UDP cable between two
vdex switches: 42 000 of 250 000 frames lost to the buffer and 700 Mbit/s with the default; none
lost and 1 100 to 1 200 Mbit/s with 2 MiB (docs/performance.md). Idle latency is unchanged.
"""
SO_RCVBUFFORCE = 33
"""Linux: set the receive buffer beyond net.core.rmem_max (needs CAP_NET_ADMIN)."""

_libc: Any = None
_UNSPEC_SOCKADDR = bytes(16)
"""A ``struct sockaddr`` whose family is AF_UNSPEC (0)."""


def dissolve_association(fd: int) -> bool:
    """``connect(fd, {AF_UNSPEC})``: a connected datagram socket takes datagrams from anyone.

    Python's ``socket.connect`` has no spelling for an AF_UNSPEC address, so this one call goes
    through libc. Rare (a peer's zero-length datagram), never on the frame path.
    """
    global _libc
    if _libc is None:
        import ctypes

        _libc = ctypes.CDLL(None, use_errno=True)
    return bool(_libc.connect(fd, _UNSPEC_SOCKADDR, len(_UNSPEC_SOCKADDR)) == 0)


def grow_receive_buffer(sock: socket.socket, size: int = DEFAULT_RCVBUF, *,
                        exact: bool = False) -> int:
    """Ask for a ``size``-byte receive buffer: beyond ``rmem_max`` when allowed (root), else as
    much as ``rmem_max`` grants; only ever larger unless ``exact`` (a user's ``rcvbuf=``).
    Never fails; returns what the kernel gave (it doubles requests for its bookkeeping)."""
    if exact or sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) < size:
        try:
            sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, size)
        except OSError:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
            except OSError:
                pass
    granted: int = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    return granted


@attrs.define(eq=False, kw_only=True)
class PeerEndpoint(FrameEndpoint):
    """A bound datagram socket that talks to one peer address."""

    sock: socket.socket
    destination: Any
    """The peer's address, connected to on the first send (and after each disconnect)."""
    connects: int = 0
    disconnects: int = 0
    """Zero-length datagrams received (each dissolves the association)."""
    absent: int = 0
    """Sends and receives that found no peer (counted, never fatal)."""

    @classmethod
    def for_peer(cls, sock: socket.socket, destination: Any, **kwargs: Any) -> PeerEndpoint:
        sock.setblocking(False)
        return cls(fd=sock.fileno(), recv=sock.recv, write=sock.send, closer=sock.close,
                   sock=sock, destination=destination, **kwargs)

    # ------------------------------------------------------------------ error paths

    def _received_empty(self, count: int) -> None:
        """A zero-length datagram dissolves the association (vdeplug4's udp:// does so)."""
        self.disconnects += count
        dissolve_association(self.fd)

    def _recv_failed(self, exc: OSError) -> None:
        if exc.errno in PEER_ABSENT:
            self.absent += 1
        else:
            self.hang_up(exc)

    def _send_failed(self, drops: DropCounters, exc: OSError, frame: bytes) -> None:
        """The error path of a send: connect (first send, or a peer that came back) and retry
        once; a missing peer is counted, other errors are counted and logged."""
        if exc.errno in _RECONNECT:
            try:
                self.sock.connect(self.destination)
                self.connects += 1
                self.write(frame)
                return
            except BlockingIOError:
                drops.tx_full += 1
                return
            except OSError as again:
                exc = again
        if exc.errno in PEER_ABSENT:
            self.absent += 1
            drops.tx_error += 1
            return
        self._count_send_error(drops, exc)


__all__ = ["DEFAULT_RCVBUF", "PEER_ABSENT", "PeerEndpoint", "dissolve_association",
           "grow_receive_buffer"]
