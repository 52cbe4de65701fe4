"""``vxlan://[group][/v4|/v6][/port=N][/vni=N][/ttl=N][/rcvbuf=N][/hashsize=N][/expiretime=S][/if=NAME][/bind=ADDR]``.

The key table and its order are vdeplug4's, so the same abbreviations work (``p=`` is port,
``v=`` is vni). vdeplug4 reads vni, ttl, hashsize and expiretime with ``atoi`` (decimal: a
leading 0 is not octal) and rcvbuf with K/M/G suffixes; so does this module.

vdex adds ``bind=ADDR`` (last in the table, so no vdeplug4 abbreviation changes meaning): bind
the socket to one local address instead of any, for a host with several addresses, or two
endpoints on one host (``127.0.0.1`` and ``127.0.0.2``). A socket bound to a unicast address
receives no multicast, so ``bind`` goes with a unicast group (a peer's address).

Fixed on purpose: ``v4``/``v6`` choose the address family of the group, not only the default
group (vdeplug4 applies them before reading the options); values out of range are errors instead
of being truncated (a VNI above 2^24, a TTL above 255); an expiretime of 0 is an error, not a
silent 128.
"""

from __future__ import annotations

import re

import attrs

from vdex.errors import ConfigError
from vdex.vnl import Vnl, parse_number, resolve_options

from ._codec import MAX_VNI, VXLAN_PORT
from ._learning import DEFAULT_EXPIRE, DEFAULT_MAX_ENTRIES

VXLAN_KEYS = ("port", "vni", "ttl", "rcvbuf", "v6", "v4", "hashsize", "expiretime", "if",
              "bind")
DEFAULT_GROUP_V4 = "239.0.0.1"
DEFAULT_GROUP_V6 = "ff05:56de::1"
DEFAULT_VNI = 1
DEFAULT_TTL = 1


def _decimal(text: str, what: str, low: int, high: int) -> int:
    if not re.fullmatch(r"[0-9]{1,10}", text):
        raise ConfigError(f"vxlan://: {what} {text!r} is not a decimal number")
    value = int(text)
    if not low <= value <= high:
        raise ConfigError(f"vxlan://: {what} {value} is out of range ({low} to {high})")
    return value


@attrs.frozen(kw_only=True)
class VxlanConfig:
    """What a ``vxlan://`` VNL asks for, checked; resolving and binding are the endpoint's job."""

    group: str = DEFAULT_GROUP_V4
    """Multicast group (or any address or host name getaddrinfo understands)."""
    ip_version: int | None = None
    """4 with ``/v4``, 6 with ``/v6``, None (either) with neither or both."""
    port: int = VXLAN_PORT
    vni: int = DEFAULT_VNI
    ttl: int = DEFAULT_TTL
    """Multicast TTL (hops)."""
    rcvbuf: int | None = None
    """SO_RCVBUF in bytes, None: the system default."""
    max_entries: int = DEFAULT_MAX_ENTRIES
    """``hashsize``: how many MAC addresses are learned at most."""
    expire: int = DEFAULT_EXPIRE
    """``expiretime``: seconds a learned MAC stays valid."""
    interface: str | None = None
    """``if``: the interface for multicast, None: the kernel's choice."""
    bind: str | None = None
    """``bind``: the local address to bind (vdex only), None: any address."""

    @classmethod
    def from_vnl(cls, vnl: Vnl) -> VxlanConfig:
        """Read a parsed ``vxlan://`` VNL. :raises ConfigError: a bad key or value."""
        options = resolve_options(vnl, VXLAN_KEYS)
        v4, v6 = "v4" in options, "v6" in options
        ip_version = 4 if v4 and not v6 else 6 if v6 and not v4 else None
        group = vnl.address or (DEFAULT_GROUP_V6 if ip_version == 6 else DEFAULT_GROUP_V4)
        interface = options.get("if") or None
        if interface is not None and (len(interface.encode()) > 15 or "/" in interface):
            raise ConfigError(f"vxlan://: if={interface!r} is not an interface name")
        rcvbuf = options.get("rcvbuf")
        return cls(
            group=group, ip_version=ip_version,
            port=_decimal(options.get("port", str(VXLAN_PORT)), "port", 1, 65535),
            vni=_decimal(options.get("vni", str(DEFAULT_VNI)), "vni", 0, MAX_VNI),
            ttl=_decimal(options.get("ttl", str(DEFAULT_TTL)), "ttl", 0, 255),
            rcvbuf=None if rcvbuf is None else parse_number(
                rcvbuf, what="vxlan:// rcvbuf", maximum=(1 << 31) - 1),
            max_entries=_decimal(options.get("hashsize", str(DEFAULT_MAX_ENTRIES)),
                                 "hashsize", 1, 1 << 24),
            expire=_decimal(options.get("expiretime", str(DEFAULT_EXPIRE)),
                            "expiretime", 1, 1 << 31),
            interface=interface, bind=options.get("bind") or None)


__all__ = ["DEFAULT_GROUP_V4", "DEFAULT_GROUP_V6", "VXLAN_KEYS", "VxlanConfig"]
