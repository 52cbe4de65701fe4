"""Link settings of a tap through netlink (pyroute2): MTU, addresses, up.

Blocking netlink round trips, a few milliseconds each: call them when a port is added, from a
worker thread under trio, never on the data path. They act in the caller's network namespace.
"""

from __future__ import annotations

import errno
import ipaddress
from collections.abc import Iterable
from typing import Any

from pyroute2 import IPRoute, NetlinkError

from vdex.errors import ConfigError, PortError

Address = str | ipaddress.IPv4Interface | ipaddress.IPv6Interface


def _interfaces(addresses: Iterable[Address]) -> list[ipaddress.IPv4Interface | ipaddress.IPv6Interface]:
    result = []
    for address in addresses:
        try:
            result.append(ipaddress.ip_interface(address))
        except ValueError:
            raise ConfigError(f"{address!r} is not an address with a prefix length, "
                              "such as 10.0.0.1/24 or fd00::1/64") from None
    return result


def _index(ipr: Any, name: str) -> int:
    found = ipr.link_lookup(ifname=name)
    if not found:
        raise PortError(f"interface {name!r} does not exist", errno=errno.ENODEV)
    return int(found[0])


def configure_link(name: str, *, mtu: int | None = None, up: bool = True,
                   addresses: Iterable[Address] = ()) -> None:
    """Set the MTU, add addresses (already present ones are fine) and bring ``name`` up.

    :raises ConfigError: an address that cannot be parsed.
    :raises PortError: netlink refused (not permitted, MTU out of range, no such interface).
    """
    interfaces = _interfaces(addresses)
    step = "look up"
    try:
        with IPRoute() as ipr:
            index = _index(ipr, name)
            if mtu is not None:
                step = f"set MTU {mtu} on"
                ipr.link("set", index=index, mtu=mtu)
            for interface in interfaces:
                step = f"add address {interface} to"
                try:
                    ipr.addr("add", index=index, address=str(interface.ip),
                             prefixlen=interface.network.prefixlen)
                except NetlinkError as exc:
                    if exc.code != errno.EEXIST:
                        raise
            if up:
                step = "bring up"
                ipr.link("set", index=index, state="up")
    except NetlinkError as exc:
        code = exc.code or errno.EIO
        hint = {errno.EPERM: ": run as root (CAP_NET_ADMIN)",
                errno.EINVAL: ": the kernel refused the value"}.get(code, "")
        raise PortError(f"cannot {step} {name!r}: {exc.args[-1] if exc.args else code}{hint}",
                        errno=code) from None


def link_kind(name: str) -> str | None:
    """The netlink kind of ``name`` (``veth``, ``bridge``, ``tun``...), None if it has none."""
    with IPRoute() as ipr:
        links = ipr.get_links(ifname=name)
        if not links:
            return None
        info = links[0].get_attr("IFLA_LINKINFO")
        return None if info is None else info.get_attr("IFLA_INFO_KIND")


__all__ = ["configure_link", "link_kind"]
