"""Open a tap interface: ``/dev/net/tun`` and TUNSETIFF with ``IFF_TAP | IFF_NO_PI``.

The same call creates the interface (needs CAP_NET_ADMIN in the interface's network namespace)
or attaches to an existing persistent tap (``ip tuntap add dev NAME mode tap user USER``) that
belongs to the caller. One frame per ``read``/``write``, no packet-information header. The
descriptor is non-blocking: the dataplane drains it until EAGAIN.

Kernel facts this module relies on (checked on Linux 6.x): TUNSETIFF answers EPERM when not
permitted, EBUSY when another descriptor already holds a single-queue tap, EINVAL when the name
belongs to something that is not a single-queue tap (a veth, a tun, a multi-queue tap) or is not
a valid interface name. A write to a tap whose link is down fails with EIO (count it, do not hang
up); a read then answers EAGAIN. Closing the descriptor deletes a tap that is not persistent.

Link settings (MTU, up, addresses) go through netlink in :mod:`._link`, not here.
"""

from __future__ import annotations

import errno
import fcntl
import os
import socket
import struct

import attrs

from vdex.errors import PortError

TUN_PATH = "/dev/net/tun"
TUNSETIFF = 0x400454CA
"""``_IOW('T', 202, int)``."""
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
IFNAMSIZ = 16
_IFREQ = struct.Struct("16sH22x")
"""``struct ifreq`` (40 bytes on 64-bit Linux): the name, then ``ifr_flags``."""


@attrs.define(eq=False, kw_only=True)
class TapDevice:
    """An open tap: the non-blocking descriptor and the interface name the kernel gave it."""

    fd: int
    name: str
    existed: bool
    """True if the interface was there before (a persistent tap we attached to): closing the
    descriptor leaves it in place. False: we created it, and closing deletes it."""

    def fileno(self) -> int:
        return self.fd

    @property
    def closed(self) -> bool:
        return self.fd < 0

    def close(self) -> None:
        """Close the descriptor (idempotent)."""
        fd, self.fd = self.fd, -1
        if fd >= 0:
            os.close(fd)

    def __enter__(self) -> TapDevice:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def check_interface_name(name: str) -> bytes:
    """The name as the kernel wants it, or a :class:`PortError` saying what is wrong with it.

    Linux accepts 1 to 15 bytes, not ``.`` or ``..``, without ``/``, ``:`` or white space.
    A ``%d`` lets the kernel pick the number (``vdex%d`` gives ``vdex0``, ``vdex1``, ...).
    """
    raw = os.fsencode(name)
    problem = None
    if not raw:
        problem = "is empty"
    elif len(raw) >= IFNAMSIZ:
        problem = f"is {len(raw)} bytes long (at most {IFNAMSIZ - 1})"
    elif raw in (b".", b".."):
        problem = "is reserved"
    elif any(c in raw for c in b"/:\0") or any(chr(c).isspace() for c in raw):
        problem = "contains '/', ':', a NUL or white space"
    if problem:
        raise PortError(f"interface name {name!r} {problem}; choose a name such as tap0",
                        errno=errno.EINVAL)
    return raw


def open_tun(tun_path: str = TUN_PATH) -> int:
    """Open the tun clone device, non-blocking and close-on-exec, with clear errors."""
    try:
        return os.open(tun_path, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise PortError(f"{tun_path} does not exist: load the tun driver (modprobe tun), or "
                        f"give the container the device (--device {TUN_PATH})",
                        errno=errno.ENOENT) from None
    except PermissionError as exc:
        raise PortError(f"no permission to open {tun_path}: run as root, or give your user "
                        "read and write access to it", errno=exc.errno or errno.EACCES) from None
    except OSError as exc:
        if exc.errno in (errno.ENODEV, errno.ENXIO):
            raise PortError(f"{tun_path}: the tun driver is not available (modprobe tun)",
                            errno=exc.errno) from None
        raise PortError(f"cannot open {tun_path}: {exc.strerror}",
                        errno=exc.errno or errno.EIO) from None


def _interface_exists(name: str) -> bool:
    try:
        socket.if_nametoindex(name)
    except OSError:
        return False
    return True


def bind_tap(fd: int, name: str) -> TapDevice:
    """Make ``fd`` (an open tun clone device) the tap ``name``, creating it if needed.

    The caller keeps ownership of ``fd`` if this fails. A privileged helper may open the device
    and hand the descriptor over: attaching only needs the tap to belong to the caller.
    """
    raw = check_interface_name(name)
    existed = "%" not in name and _interface_exists(name)
    try:
        result = fcntl.ioctl(fd, TUNSETIFF, _IFREQ.pack(raw, IFF_TAP | IFF_NO_PI))
    except OSError as exc:
        raise _tunsetiff_error(name, existed, exc) from None
    actual = os.fsdecode(_IFREQ.unpack(result)[0].rstrip(b"\0"))
    return TapDevice(fd=fd, name=actual, existed=existed)


def open_tap(name: str, *, tun_path: str = TUN_PATH) -> TapDevice:
    """Create the tap ``name``, or attach to it if it is a persistent tap of ours.

    :raises PortError: not permitted, no tun device, name in use or invalid; the message says
        what to do.
    """
    check_interface_name(name)
    fd = open_tun(tun_path)
    try:
        return bind_tap(fd, name)
    except BaseException:
        os.close(fd)
        raise


SIOCGIFMTU = 0x8921
_IFREQ_MTU = struct.Struct("16si20x")


def interface_mtu(name: str) -> int:
    """The MTU of interface ``name`` in the caller's namespace (one ioctl, no netlink).

    :raises PortError: no such interface (ENODEV).
    """
    raw = check_interface_name(name)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            result = fcntl.ioctl(sock.fileno(), SIOCGIFMTU, _IFREQ_MTU.pack(raw, 0))
        except OSError as exc:
            raise PortError(f"interface {name!r}: {exc.strerror}",
                            errno=exc.errno or errno.ENODEV) from None
    mtu: int = _IFREQ_MTU.unpack(result)[1]
    return mtu


def _tunsetiff_error(name: str, existed: bool, exc: OSError) -> PortError:
    code = exc.errno or errno.EIO
    if code == errno.EPERM:
        if existed:
            message = (f"tap {name!r} exists and belongs to another user: open it as its owner "
                       "or as root, or recreate it for your user "
                       f"(ip tuntap add dev {name} mode tap user $USER)")
        else:
            message = (f"creating tap {name!r} is not permitted: run as root (CAP_NET_ADMIN), "
                       f"or have root create it once for your user "
                       f"(ip tuntap add dev {name} mode tap user $USER)")
    elif code == errno.EBUSY:
        message = (f"tap {name!r} is already open elsewhere (vde_switch, qemu, another vdex?): "
                   "a tap has one reader; close the other one or choose another name")
    elif code == errno.EINVAL and existed:
        kind = _link_kind(name)
        what = f"a {kind} interface" if kind and kind != "tun" else \
            "a tun device of another type (a layer-3 tun or a multi-queue tap)" if kind else \
            "not a single-queue tap"
        message = (f"the name {name!r} is in use by {what}; choose another name, "
                   f"or delete it (ip link del {name})")
    elif code == errno.ENOTTY:
        message = f"the device opened for tap {name!r} is not the tun device ({TUN_PATH})"
    else:
        message = f"cannot open tap {name!r}: {exc.strerror or os.strerror(code)}"
    return PortError(message, errno=code)


def _link_kind(name: str) -> str | None:
    """The netlink kind of an existing interface (``veth``, ``bridge``, ``tun``...), if known."""
    try:
        from ._link import link_kind
        return link_kind(name)
    except Exception:  # a diagnostic only: never hide the real error behind another one
        return None


__all__ = [
    "IFF_NO_PI",
    "IFF_TAP",
    "TUNSETIFF",
    "TUN_PATH",
    "TapDevice",
    "bind_tap",
    "check_interface_name",
    "interface_mtu",
    "open_tap",
    "open_tun",
]
