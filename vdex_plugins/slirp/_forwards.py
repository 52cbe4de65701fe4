"""Installing and removing forwards in a libslirp instance.

Host forwards (``-L``/``-U``) go through ``slirp_add_hostxfwd`` when the library has it (4.5 and
later: sockaddrs, so the host side may be IPv6), else through the IPv4-only
``slirp_add_hostfwd`` (ports in host byte order). Guest forwards to a unix socket (``-x``) use
``slirp_add_unix``. ``call`` is the bridge's guarded entry into libslirp, so that a callback
fired meanwhile never re-enters it.
"""

from __future__ import annotations

import ctypes
import errno
from collections.abc import Callable, Iterator
from ctypes import byref

import attrs

from vdex.errors import PortError

from . import _libslirp as C
from ._settings import (
    FORWARD_DEFAULT_HOST,
    X11_BASE_PORT,
    X11_HOST_PORTS,
    HostForward,
    UnixForward,
    X11Forward,
)

Call = Callable[..., int]


@attrs.frozen
class ForwardHandle:
    """What removing a host forward takes: the listening sockaddr (hostxfwd) and the flags."""

    sockaddr: C.SockaddrIn | C.SockaddrIn6 | None
    flags: int


def add_host_forward(
    lib: C.LibSlirp, slirp: int, forward: HostForward, call: Call
) -> ForwardHandle:
    """Listen for ``forward`` on the host.

    :raises PortError: EADDRINUSE when the host address cannot be bound, EAFNOSUPPORT for an
        IPv6 forward on a libslirp older than 4.5.
    """
    is_udp = forward.protocol == "udp"
    if lib.has_hostxfwd:
        haddr = C.sockaddr(forward.host_addr, forward.host_port)
        gaddr = C.sockaddr(forward.guest_addr, forward.guest_port)
        flags = C.SLIRP_HOSTFWD_UDP if is_udp else 0
        if forward.host_addr.version == 6:
            flags |= C.SLIRP_HOSTFWD_V6ONLY
        rc = call(
            lib.slirp_add_hostxfwd,
            slirp,
            byref(haddr),
            ctypes.sizeof(haddr),
            byref(gaddr),
            ctypes.sizeof(gaddr),
            flags,
        )
        handle = ForwardHandle(sockaddr=haddr, flags=flags)
    else:
        if forward.host_addr.version != 4 or forward.guest_addr.version != 4:
            raise PortError(
                f"forward {forward}: libslirp {lib.version} forwards IPv4 only; "
                f"IPv6 forwards need libslirp 4.5 or newer",
                errno=errno.EAFNOSUPPORT,
            )
        rc = call(
            lib.slirp_add_hostfwd,
            slirp,
            int(is_udp),
            C.in_addr(forward.host_addr),
            forward.host_port,
            C.in_addr(forward.guest_addr),
            forward.guest_port,
        )
        handle = ForwardHandle(sockaddr=None, flags=int(is_udp))
    if rc < 0:
        raise PortError(
            f"cannot listen for forward {forward}: the host address is in use or not "
            f"available; choose another host port or address",
            errno=errno.EADDRINUSE,
        )
    return handle


def remove_host_forward(
    lib: C.LibSlirp, slirp: int, forward: HostForward, handle: ForwardHandle, call: Call
) -> None:
    if handle.sockaddr is not None:
        call(
            lib.slirp_remove_hostxfwd,
            slirp,
            byref(handle.sockaddr),
            ctypes.sizeof(handle.sockaddr),
            handle.flags,
        )
    else:
        call(
            lib.slirp_remove_hostfwd,
            slirp,
            handle.flags,
            C.in_addr(forward.host_addr),  # type: ignore[arg-type]
            forward.host_port,
        )


def add_unix_forward(lib: C.LibSlirp, slirp: int, forward: UnixForward, call: Call) -> None:
    """Connect guest connections to ``forward.guest_addr:port`` to a host unix socket.

    :raises PortError: EADDRINUSE when libslirp refuses the guest address or port.
    """
    guest = C.in_addr(forward.guest_addr)
    if call(lib.slirp_add_unix, slirp, forward.path.encode(), byref(guest), forward.port) < 0:
        raise PortError(
            f"cannot forward guest {forward.guest_addr}:{forward.port} to {forward.path}: "
            f"the guest address or port is taken",
            errno=errno.EADDRINUSE,
        )


def x11_candidates(forward: X11Forward) -> Iterator[HostForward]:
    """The host forwards to try, in order, for ``-X``: the first that can listen wins."""
    for port in X11_HOST_PORTS:
        yield HostForward(
            protocol="tcp",
            host_addr=FORWARD_DEFAULT_HOST,
            host_port=port,
            guest_addr=forward.guest_addr,
            guest_port=X11_BASE_PORT + forward.display,
        )
