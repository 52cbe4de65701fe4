"""ctypes binding to the system libslirp (Debian package ``libslirp0``), nothing more.

Only the C types and function prototypes live here: the structures match libslirp 4.7's
``<slirp/libslirp.h>`` byte for byte (a test compiles the header and compares every offset), and
:func:`load_libslirp` finds ``libslirp.so.0`` at run time, so neither a compiler nor the -dev
package is needed to run vdex. How the callbacks are driven from trio is ``_bridge.py``'s job.

ABI notes that are easy to get wrong:

* ``struct in6_addr`` is a union whose widest member is ``uint32_t[4]``: it is 16 bytes with
  4-byte alignment, so it is declared as ``c_uint32 * 4`` (``c_uint8 * 16`` would shift every
  field after ``vprefix_len``).
* ``if_mtu``/``if_mru`` are ``size_t``, the two outbound addresses are pointers: 8 bytes each on
  64-bit Linux, with the padding that implies after the preceding ``bool``.
* ``struct in_addr`` holds the address in network byte order; host forward ports are passed in
  host byte order.
* libslirp keeps the ``SlirpCb`` pointer and calls back through it until ``slirp_cleanup``
  returns, so the structure and every ``CFUNCTYPE`` object stored in it must outlive the
  instance (the bridge owns them).
"""

from __future__ import annotations

import ctypes
import ipaddress
import socket
from ctypes import (
    CFUNCTYPE,
    POINTER,
    Structure,
    c_bool,
    c_char_p,
    c_int,
    c_int64,
    c_size_t,
    c_ssize_t,
    c_uint8,
    c_uint16,
    c_uint32,
    c_void_p,
)
from typing import Any

import attrs

from vdex.errors import PluginError

SONAME = "libslirp.so.0"
DEBIAN_PACKAGE = "libslirp0"
CONFIG_VERSION = 4
"""The SlirpConfig version we fill in: 4 adds ``disable_dhcp`` (DHCP only with ``-D``)."""

# Flags of SlirpAddPollCb / SlirpGetREventsCb.
SLIRP_POLL_IN = 1
SLIRP_POLL_OUT = 2
SLIRP_POLL_PRI = 4
SLIRP_POLL_ERR = 8
SLIRP_POLL_HUP = 16

# enum SlirpTimerId
SLIRP_TIMER_RA = 0

# Flags of slirp_add_hostxfwd.
SLIRP_HOSTFWD_UDP = 1
SLIRP_HOSTFWD_V6ONLY = 2


class InAddr(Structure):
    """``struct in_addr``: ``s_addr`` in network byte order."""

    _fields_ = [("s_addr", c_uint32)]


class In6Addr(Structure):
    """``struct in6_addr``: 16 bytes, 4-byte aligned (see the module docstring)."""

    _fields_ = [("s6_addr32", c_uint32 * 4)]


class SockaddrIn(Structure):
    _fields_ = [
        ("sin_family", c_uint16),
        ("sin_port", c_uint16),  # network byte order
        ("sin_addr", InAddr),
        ("sin_zero", c_uint8 * 8),
    ]


class SockaddrIn6(Structure):
    _fields_ = [
        ("sin6_family", c_uint16),
        ("sin6_port", c_uint16),  # network byte order
        ("sin6_flowinfo", c_uint32),
        ("sin6_addr", In6Addr),
        ("sin6_scope_id", c_uint32),
    ]


class SlirpConfig(Structure):
    """``SlirpConfig`` up to version 4, in ABI order."""

    _fields_ = [
        ("version", c_uint32),
        # version 1
        ("restricted", c_int),
        ("in_enabled", c_bool),
        ("vnetwork", InAddr),
        ("vnetmask", InAddr),
        ("vhost", InAddr),
        ("in6_enabled", c_bool),
        ("vprefix_addr6", In6Addr),
        ("vprefix_len", c_uint8),
        ("vhost6", In6Addr),
        ("vhostname", c_char_p),
        ("tftp_server_name", c_char_p),
        ("tftp_path", c_char_p),
        ("bootfile", c_char_p),
        ("vdhcp_start", InAddr),
        ("vnameserver", InAddr),
        ("vnameserver6", In6Addr),
        ("vdnssearch", POINTER(c_char_p)),
        ("vdomainname", c_char_p),
        ("if_mtu", c_size_t),
        ("if_mru", c_size_t),
        ("disable_host_loopback", c_bool),
        ("enable_emu", c_bool),
        # version 2
        ("outbound_addr", c_void_p),  # struct sockaddr_in *
        ("outbound_addr6", c_void_p),  # struct sockaddr_in6 *
        # version 3
        ("disable_dns", c_bool),
        # version 4
        ("disable_dhcp", c_bool),
    ]


# Callback types. Pointers the bridge only passes back are c_void_p (Python ints).
SendPacketFn = CFUNCTYPE(c_ssize_t, c_void_p, c_size_t, c_void_p)
GuestErrorFn = CFUNCTYPE(None, c_char_p, c_void_p)
ClockGetNsFn = CFUNCTYPE(c_int64, c_void_p)
TimerCbFn = CFUNCTYPE(None, c_void_p)
TimerNewFn = CFUNCTYPE(c_void_p, c_void_p, c_void_p, c_void_p)  # (SlirpTimerCb, cb_opaque, opaque)
TimerFreeFn = CFUNCTYPE(None, c_void_p, c_void_p)
TimerModFn = CFUNCTYPE(None, c_void_p, c_int64, c_void_p)
PollFdFn = CFUNCTYPE(None, c_int, c_void_p)
NotifyFn = CFUNCTYPE(None, c_void_p)
InitCompletedFn = CFUNCTYPE(None, c_void_p, c_void_p)
# (SlirpTimerId, cb_opaque, opaque)
TimerNewOpaqueFn = CFUNCTYPE(c_void_p, c_int, c_void_p, c_void_p)
AddPollFn = CFUNCTYPE(c_int, c_int, c_int, c_void_p)
GetREventsFn = CFUNCTYPE(c_int, c_int, c_void_p)


class SlirpCb(Structure):
    """``SlirpCb``, including the two version-4 members."""

    _fields_ = [
        ("send_packet", SendPacketFn),
        ("guest_error", GuestErrorFn),
        ("clock_get_ns", ClockGetNsFn),
        ("timer_new", TimerNewFn),
        ("timer_free", TimerFreeFn),
        ("timer_mod", TimerModFn),
        ("register_poll_fd", PollFdFn),
        ("unregister_poll_fd", PollFdFn),
        ("notify", NotifyFn),
        ("init_completed", InitCompletedFn),
        ("timer_new_opaque", TimerNewOpaqueFn),
    ]


_PROTOTYPES: dict[str, tuple[Any, list[Any]]] = {
    "slirp_new": (c_void_p, [POINTER(SlirpConfig), POINTER(SlirpCb), c_void_p]),
    "slirp_cleanup": (None, [c_void_p]),
    "slirp_input": (None, [c_void_p, c_void_p, c_int]),
    "slirp_pollfds_fill": (None, [c_void_p, POINTER(c_uint32), AddPollFn, c_void_p]),
    "slirp_pollfds_poll": (None, [c_void_p, c_int, GetREventsFn, c_void_p]),
    "slirp_handle_timer": (None, [c_void_p, c_int, c_void_p]),
    "slirp_add_hostfwd": (c_int, [c_void_p, c_int, InAddr, c_int, InAddr, c_int]),
    "slirp_remove_hostfwd": (c_int, [c_void_p, c_int, InAddr, c_int]),
    "slirp_add_unix": (c_int, [c_void_p, c_char_p, POINTER(InAddr), c_int]),
    "slirp_remove_guestfwd": (c_int, [c_void_p, InAddr, c_int]),
    "slirp_connection_info": (c_void_p, [c_void_p]),
    "slirp_version_string": (c_char_p, []),
}
_OPTIONAL_PROTOTYPES: dict[str, tuple[Any, list[Any]]] = {
    # libslirp >= 4.5: forwards with sockaddrs, the only way to forward over IPv6.
    "slirp_add_hostxfwd": (c_int, [c_void_p, c_void_p, c_uint32, c_void_p, c_uint32, c_int]),
    "slirp_remove_hostxfwd": (c_int, [c_void_p, c_void_p, c_uint32, c_int]),
    "slirp_neighbor_info": (c_void_p, [c_void_p]),
    "g_free": (None, [c_void_p]),  # from glib, which libslirp links
}


@attrs.frozen
class LibSlirp:
    """The loaded library with typed functions, and what this version can do."""

    cdll: ctypes.CDLL
    version: str
    has_hostxfwd: bool

    def __getattr__(self, name: str) -> Any:
        return getattr(self.cdll, name)

    def take_string(self, pointer: int | None) -> str:
        """Copy a malloc'd C string returned by libslirp and free it."""
        if not pointer:
            return ""
        try:
            return ctypes.string_at(pointer).decode("utf-8", "replace")
        finally:
            self.cdll.g_free(pointer)


_loaded: LibSlirp | None = None


def load_libslirp(name: str = SONAME) -> LibSlirp:
    """Load libslirp once per process and declare its prototypes.

    :raises PluginError: naming the Debian package when the library is missing or too old.
    """
    global _loaded
    if _loaded is not None and name == SONAME:
        return _loaded
    try:
        cdll = ctypes.CDLL(name)
    except OSError as exc:
        raise PluginError(
            f"cannot load {name} ({exc}); install the Debian package {DEBIAN_PACKAGE} "
            f"(apt-get install {DEBIAN_PACKAGE}) or your distribution's libslirp",
            plugin="slirp",
        ) from None
    for fn_name, (restype, argtypes) in _PROTOTYPES.items():
        try:
            fn = getattr(cdll, fn_name)
        except AttributeError:
            raise PluginError(
                f"{name} has no {fn_name}(); it is not libslirp 4.x. "
                f"Install the Debian package {DEBIAN_PACKAGE} (libslirp 4.7 or newer)",
                plugin="slirp",
            ) from None
        fn.restype = restype
        fn.argtypes = argtypes
    present = set()
    for fn_name, (restype, argtypes) in _OPTIONAL_PROTOTYPES.items():
        fn = getattr(cdll, fn_name, None)
        if fn is not None:
            fn.restype = restype
            fn.argtypes = argtypes
            present.add(fn_name)
    if "g_free" not in present:
        # A static glib would be odd, but plain free() releases what g_malloc returned since 2.46.
        libc = ctypes.CDLL(None)
        libc.free.argtypes = [c_void_p]
        libc.free.restype = None
        cdll.g_free = libc.free  # type: ignore[attr-defined]
    version = (cdll.slirp_version_string() or b"?").decode("ascii", "replace")
    lib = LibSlirp(
        cdll=cdll,
        version=version,
        has_hostxfwd={"slirp_add_hostxfwd", "slirp_remove_hostxfwd"} <= present,
    )
    if name == SONAME:
        _loaded = lib
    return lib


def in_addr(address: ipaddress.IPv4Address | str) -> InAddr:
    """``struct in_addr`` from an address (network byte order, as the kernel keeps it)."""
    packed = ipaddress.IPv4Address(address).packed
    return InAddr(int.from_bytes(packed, "little"))


def in6_addr(address: ipaddress.IPv6Address | str) -> In6Addr:
    value = In6Addr()
    ctypes.memmove(ctypes.byref(value), ipaddress.IPv6Address(address).packed, 16)
    return value


def sockaddr(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, port: int
) -> SockaddrIn | SockaddrIn6:
    """A ``sockaddr_in``/``sockaddr_in6`` for ``slirp_add_hostxfwd``."""
    if address.version == 4:
        return SockaddrIn(
            sin_family=socket.AF_INET, sin_port=socket.htons(port), sin_addr=in_addr(address)
        )
    return SockaddrIn6(
        sin6_family=socket.AF_INET6, sin6_port=socket.htons(port), sin6_addr=in6_addr(address)
    )
