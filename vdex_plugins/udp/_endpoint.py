"""The ``udp://`` endpoint: one raw Ethernet frame per UDP datagram, as vdeplug4's udp module.

Wire and socket behaviour follow vdeplug4 4.0.1 so that a vdex end and a ``vde_plug udp://`` end
work together (the socket discipline, shared with ``ptp://``, is :mod:`vdex_plugins._p2p`):

* the socket is bound to the source (any address of the destination's family when none is
  given) and is **connected on the first send**: until then it takes datagrams from anyone,
  afterwards only from the destination. Like vdeplug4, the send path just calls ``send`` and
  connects only when the kernel says the socket has no destination (EDESTADDRREQ), so a
  connected socket costs nothing per frame;
* a zero-length datagram disconnects it again (``connect(AF_UNSPEC)``): a peer that moved can be
  reached once we send again;
* no header, no length check on the wire: runts under 14 bytes and datagrams over 1518 bytes are
  counted and dropped on receive.

Unlike vdeplug4, an ICMP "port unreachable" (the peer is not running yet) is counted and
ignored: the next recv on a connected UDP socket reports ECONNREFUSED once, which must not end
the cable. The socket asks for a 2 MiB receive buffer (:data:`vdex_plugins._p2p.DEFAULT_RCVBUF`
says why); vdeplug4 keeps the system default.
"""

from __future__ import annotations

import errno
import logging
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import trio

from vdex.errors import PortError
from vdex_plugins._p2p import PeerEndpoint, grow_receive_buffer

from ._address import UdpAddress, parse_udp_address

if TYPE_CHECKING:
    from vdex.runtime.switch import Switch
    from vdex.vnl import Vnl

log = logging.getLogger("vdex.udp")

MODULE = "udp"


def resolve(address: UdpAddress) -> tuple[socket.socket, tuple[Any, ...]]:
    """Resolve the destination, bind a socket to the source in the same family (blocking: DNS).

    :raises PortError: the destination does not resolve, or the source cannot be bound.
    """
    try:
        dst = socket.getaddrinfo(address.dst_host, address.dst_port, type=socket.SOCK_DGRAM)
    except socket.gaierror as exc:
        raise PortError(f"udp: cannot resolve {address.dst_host!r}: {exc.strerror}",
                        errno=errno.EHOSTUNREACH) from None
    family, _type, proto, _name, destination = dst[0]
    try:
        src = socket.getaddrinfo(address.src_host, address.src_port, family=family,
                                 type=socket.SOCK_DGRAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise PortError(f"udp: cannot resolve the source {address.src_host!r}: {exc.strerror}",
                        errno=errno.EADDRNOTAVAIL) from None
    last: OSError | None = None
    for s_family, s_type, s_proto, _name, s_addr in src:
        sock = socket.socket(s_family, s_type | socket.SOCK_CLOEXEC, s_proto)
        try:
            sock.bind(s_addr)
        except OSError as exc:
            sock.close()
            last = exc
            continue
        grow_receive_buffer(sock)
        return sock, destination
    assert last is not None
    hint = " (is another cable or vde_plug using it?)" if last.errno == errno.EADDRINUSE else ""
    raise PortError(f"udp: cannot bind {format_source(address)}: {last.strerror}{hint}",
                    errno=last.errno or errno.EADDRNOTAVAIL)


def format_source(address: UdpAddress) -> str:
    host = address.src_host or "*"
    return f"[{host}]:{address.src_port}" if ":" in host else f"{host}:{address.src_port}"


@asynccontextmanager
async def open_udp(switch: Switch | None, vnl: Vnl) -> AsyncIterator[PeerEndpoint]:
    """``udp://[SRC:]PORT->DST:PORT``: the :class:`~vdex.records.PortType` opener."""
    address = parse_udp_address(vnl.args)
    sock, destination = await trio.to_thread.run_sync(resolve, address)
    endpoint = PeerEndpoint.for_peer(sock, destination, id=sock.fileno(), module=MODULE,
                                     description=vnl.text)
    try:
        yield endpoint
    finally:
        endpoint.close()


__all__ = ["MODULE", "open_udp", "resolve"]
