"""What one slirp instance serves: the virtual network, DHCP, TFTP and forwards.

Pure records with validation: no I/O, no libslirp, no parsing (``_options.py`` parses
slirpvde's command line into these). :class:`SlirpSettings` raises :class:`ConfigError` for a
value that cannot work, naming it; slirpvde accepted such values silently (a DHCP start or DNS
address outside the network, a forward to an address that is not a guest's).
"""

from __future__ import annotations

import re
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import Literal

import attrs

from vdex.errors import ConfigError

IPAddress = IPv4Address | IPv6Address

DEFAULT_NETWORK = IPv4Network("10.0.2.0/24")
DEFAULT_NETWORK6 = IPv6Network("fd00::/64")
HOST_OFFSET = 2
"""slirpvde's (and QEMU's) gateway is the network's .2 ..."""
DNS_OFFSET = 3
"""... its DNS proxy .3 ..."""
DHCP_OFFSET = 15
"""... and the first DHCP lease .15."""
FORWARD_DEFAULT_HOST = IPv4Address("127.0.0.1")
X11_BASE_PORT = 6000
X11_HOST_PORTS = range(6000, 6101)
MTU_MIN = 576
"""The smallest MTU (and MRU) accepted: IPv4's minimum datagram every host must take."""
MTU_MAX = 1500
"""The largest: a switch port carries frames of at most 1518 bytes (1500 + header + tag)."""
_LABEL_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9\-_]{0,61}[A-Za-z0-9])?$")


@attrs.frozen
class HostForward:
    """A host socket whose connections (TCP) or datagrams (UDP) go to a guest port."""

    protocol: Literal["tcp", "udp"]
    host_addr: IPAddress
    host_port: int
    guest_addr: IPAddress
    guest_port: int

    def __str__(self) -> str:
        return (
            f"{self.protocol} {_bracket(self.host_addr)}:{self.host_port}"
            f" -> {_bracket(self.guest_addr)}:{self.guest_port}"
        )

    def spec(self) -> str:
        """The ``-L``/``-U`` argument that parses back to this forward."""
        return (
            f"{_bracket(self.host_addr)}:{self.host_port}:"
            f"{_bracket(self.guest_addr)}:{self.guest_port}"
        )


@attrs.frozen
class UnixForward:
    """``-x``: guest connections to ``guest_addr:port`` are connected to a host unix socket.

    libslirp refuses such forwards on its own address, so unlike slirpvde (10.0.2.2:port) the
    default guest address is the network's .4, libslirp's own default for guest forwards.
    """

    guest_addr: IPv4Address
    port: int
    path: str


@attrs.frozen
class X11Forward:
    """``-X guest[:display[.screen]]``: the first free host port 6000..6100 -> guest 6000+display."""

    guest_addr: IPv4Address
    display: int = 0
    screen: int = 0


def _bracket(address: IPAddress) -> str:
    return f"[{address}]" if address.version == 6 else str(address)


def _nth(network: IPv4Network, offset: int) -> IPv4Address:
    return network.network_address + offset


@attrs.frozen(kw_only=True)
class SlirpSettings:
    """One virtual network served by libslirp: what ``slirp_new`` and the forwards need.

    ``_options.settings_for_host()`` derives the addresses from ``-H`` as slirpvde does; the
    constructor validates whatever it is given and raises :class:`ConfigError` naming the bad
    value.
    """

    ipv4: bool = True
    """IPv4 service (``slirp:///v6`` turns it off; slirpvde always had it)."""
    network: IPv4Network = DEFAULT_NETWORK
    host: IPv4Address = _nth(DEFAULT_NETWORK, HOST_OFFSET)
    dns: IPv4Address = _nth(DEFAULT_NETWORK, DNS_OFFSET)
    dhcp: bool = False
    """slirpvde answers DHCP only with ``-D``; libslirp's ``disable_dhcp`` does the rest."""
    dhcp_start: IPv4Address = _nth(DEFAULT_NETWORK, DHCP_OFFSET)
    ipv6: bool = True
    network6: IPv6Network = DEFAULT_NETWORK6
    host6: IPv6Address = IPv6Address("fd00::2")
    dns6: IPv6Address = IPv6Address("fd00::3")
    tftp_root: str | None = None
    forwards: tuple[HostForward, ...] = ()
    unix_forwards: tuple[UnixForward, ...] = ()
    x11_forwards: tuple[X11Forward, ...] = ()
    # libslirp settings slirpvde had no option for; the slirp:// VNL sets them (vdeplug_slirp's
    # names in brackets).
    hostname: str | None = None
    """Host name offered to DHCP clients (``hostname``)."""
    tftp_server_name: str | None = None
    """TFTP server name offered by DHCP (``tftp_server_name``)."""
    bootfile: str | None = None
    """Boot file name offered by DHCP, for network boots (``bootfile``)."""
    dns_search: tuple[str, ...] = ()
    """DNS search domains offered by DHCP (``vdnssearch``)."""
    domain_name: str | None = None
    """Domain name offered by DHCP (``vdomainname``)."""
    mtu: int = 0
    """Interface MTU libslirp assumes for the guests; 0: libslirp's default, 1500 (``mtu``)."""
    mru: int = 0
    """Largest frame payload libslirp accepts from the guests; 0: 1500 (``mru``)."""
    host_loopback: bool = True
    """Connections to slirp's own address reach the host's loopback (``disable_host_loopback``
    turns it off)."""
    restricted: bool = False
    """Guests may reach nothing outside slirp but the forwards (``restricted``)."""

    def __attrs_post_init__(self) -> None:
        if not (self.ipv4 or self.ipv6):
            raise ConfigError("slirp needs IPv4 or IPv6 (or both); do not turn both off")
        if self.dhcp and not self.ipv4:
            raise ConfigError("DHCP is IPv4: it needs IPv4 turned on")
        for what, size in (("MTU", self.mtu), ("MRU", self.mru)):
            if size and not MTU_MIN <= size <= MTU_MAX:
                raise ConfigError(f"{what} {size} is not between {MTU_MIN} and {MTU_MAX} "
                                  f"(0 means the default, 1500)")
        for what, text in (("host name", self.hostname),
                           ("TFTP server name", self.tftp_server_name),
                           ("boot file", self.bootfile), ("domain name", self.domain_name),
                           ("TFTP root", self.tftp_root)):
            if text is not None and (not text or "\0" in text):
                raise ConfigError(f"the {what} must be non-empty text without NUL bytes")
        if self.hostname is not None and len(self.hostname.encode()) > 32:
            raise ConfigError(f"host name {self.hostname!r} is longer than libslirp's 32 bytes")
        for domain in self.dns_search:
            labels = domain.rstrip(".").split(".")
            if len(domain) > 253 or not all(_LABEL_RE.match(label) for label in labels):
                raise ConfigError(f"DNS search domain {domain!r} is not a domain name "
                                  f"like example.org")
        net = self.network
        if net.prefixlen > 30:
            raise ConfigError(f"network {net} is too small: use a prefix length of 30 or less")
        usable = (net.network_address, net.broadcast_address)
        for what, addr in (("host", self.host), ("DNS", self.dns)):
            if addr not in net or addr in usable:
                raise ConfigError(f"{what} address {addr} is not a host address of {net}")
        if self.dns == self.host:
            raise ConfigError(f"DNS address {self.dns} must differ from the host address")
        if self.dhcp and (self.dhcp_start not in net or self.dhcp_start in usable):
            raise ConfigError(
                f"DHCP start {self.dhcp_start} is not a host address of {net}; "
                f"give one with --dhcp=ADDR"
            )
        if self.dhcp and self.dhcp_start in (self.host, self.dns):
            raise ConfigError(f"DHCP start {self.dhcp_start} is slirp's own address")
        if self.ipv6:
            if self.network6.prefixlen > 126:
                raise ConfigError(f"IPv6 prefix {self.network6} is too small")
            for what, addr6 in (("IPv6 host", self.host6), ("IPv6 DNS", self.dns6)):
                if addr6 not in self.network6:
                    raise ConfigError(f"{what} address {addr6} is outside {self.network6}")
        seen: set[tuple[str, IPAddress, int]] = set()
        for fwd in self.forwards:
            key = (fwd.protocol, fwd.host_addr, fwd.host_port)
            if key in seen:
                raise ConfigError(f"two forwards listen on {fwd.protocol} {fwd.spec()}")
            seen.add(key)
            self._check_guest(fwd.guest_addr, f"forward {fwd.spec()}")
        for ufwd in self.unix_forwards:
            if ufwd.guest_addr in (self.host, self.dns):
                raise ConfigError(
                    f"-x: libslirp cannot attach a unix forward to its own address "
                    f"{ufwd.guest_addr}; use another address of {net}, such as {_nth(net, 4)}"
                )
            if ufwd.guest_addr not in net or ufwd.guest_addr in usable:
                raise ConfigError(f"-x: {ufwd.guest_addr} is not a host address of {net}")
        for xfwd in self.x11_forwards:
            self._check_guest(xfwd.guest_addr, "X11 forward")

    def _check_guest(self, addr: IPAddress, what: str) -> None:
        if addr.version == 4:
            net = self.network
            ok = self.ipv4 and addr in net and addr not in (
                net.network_address,
                net.broadcast_address,
                self.host,
                self.dns,
            )
        else:
            ok = self.ipv6 and addr in self.network6 and addr not in (self.host6, self.dns6)
        if not ok:
            nets = " or ".join([str(self.network)] * self.ipv4 + [str(self.network6)] * self.ipv6)
            raise ConfigError(f"{what}: guest address {addr} is not a guest address in {nets}")
