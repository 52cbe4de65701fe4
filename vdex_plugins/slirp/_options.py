"""slirpvde's command line, parsed into :class:`SlirpvdeCommand` (settings plus how to run).

Pure: no I/O, no libslirp. :func:`parse_slirpvde_args` keeps slirpvde's defaults and its
``getopt_long_only`` conventions, so existing command lines work. Where vdex deliberately
differs from Debian's slirpvde (each is documented in docs/slirp.md):

* forwards listen on 127.0.0.1 unless an address is given (slirpvde listened on 0.0.0.0), and
  accept an optional host address: ``[host_addr:]host_port:guest_addr:guest_port``;
* values slirpvde accepted silently but that cannot work are errors (see ``_settings.py``);
* IPv6 is on by default with libslirp's addresses (fd00::/64, host fd00::2, DNS fd00::3);
  ``--ipv6 ADDR/LEN`` moves it and ``--noipv6`` turns it off (slirpvde had no IPv6);
* ``-x`` defaults to the network's .4 (libslirp refuses slirp's own address);
* ``-X`` forwards host port 6000+N to guest port 6000+display, without slirpvde's byte-order bug.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address
from typing import Literal

import attrs

from vdex.errors import ConfigError, UsageError

from ._getopt import (
    NO_ARGUMENT,
    OPTIONAL_ARGUMENT,
    REQUIRED_ARGUMENT,
    LongOption,
    getopt_long_only,
)
from ._settings import (
    DEFAULT_NETWORK,
    DHCP_OFFSET,
    DNS_OFFSET,
    FORWARD_DEFAULT_HOST,
    HOST_OFFSET,
    HostForward,
    IPAddress,
    SlirpSettings,
    UnixForward,
    X11Forward,
    _nth,
)

PROGRAM = "slirpvde"


@attrs.frozen(kw_only=True)
class SlirpvdeCommand:
    """A parsed slirpvde command line."""

    settings: SlirpSettings
    switch: str | None = None
    """``-s``/``--sock``/... or the operand; ``-`` is stream mode; None: the default switch."""
    daemon: bool = False
    pidfile: str | None = None
    quiet: bool = False
    port: int | None = None
    group: str | None = None
    mode: int | None = None
    help: bool = False

    @property
    def stream(self) -> bool:
        """VDE stream encoding on stdin/stdout instead of a switch (``slirpvde -``)."""
        return self.switch == "-"


SHORT_OPTIONS = "Ds:n:H:p:g:m:L:U:X:x:t:N:dqh"
"""slirpvde's optstring (``-P`` exists only as ``--port``, as in slirpvde)."""
LONG_OPTIONS = (
    LongOption("socket", REQUIRED_ARGUMENT, "s"),
    LongOption("sock", REQUIRED_ARGUMENT, "s"),
    LongOption("vdesock", REQUIRED_ARGUMENT, "s"),
    LongOption("unix", REQUIRED_ARGUMENT, "s"),
    LongOption("pidfile", REQUIRED_ARGUMENT, "p"),
    LongOption("dhcp", OPTIONAL_ARGUMENT, "D"),
    LongOption("daemon", NO_ARGUMENT, "d"),
    LongOption("network", REQUIRED_ARGUMENT, "n"),
    LongOption("nameserver", REQUIRED_ARGUMENT, "N"),
    LongOption("dns", REQUIRED_ARGUMENT, "N"),
    LongOption("host", REQUIRED_ARGUMENT, "H"),
    LongOption("mod", REQUIRED_ARGUMENT, "m"),
    LongOption("group", REQUIRED_ARGUMENT, "g"),
    LongOption("port", REQUIRED_ARGUMENT, "P"),
    LongOption("tftp", REQUIRED_ARGUMENT, "t"),
    LongOption("quiet", NO_ARGUMENT, "q"),
    LongOption("help", NO_ARGUMENT, "h"),
    # vdex additions; their names share no prefix with slirpvde's options that would make an
    # abbreviation that used to work ambiguous.
    LongOption("ipv6", REQUIRED_ARGUMENT, "ipv6"),
    LongOption("noipv6", NO_ARGUMENT, "noipv6"),
)
"""slirpvde's long options, in its table order, plus vdex's IPv6 switches."""

USAGE = """\
Usage: slirpvde [OPTIONS] [SWITCH]
  -s, --sock SWITCH        switch to attach to (any VNL); '-' = VDE stream on stdin/stdout
  -D, --dhcp[=ADDR]        answer DHCP, first lease ADDR (default: the network's .15)
  -H, -n, --host ADDR[/LEN]  slirp's own address and network (default 10.0.2.2/24)
  -N, --dns ADDR           DNS proxy address (default: the network's .3)
  -L [HADDR:]HPORT:GADDR:GPORT  TCP forward from the host (HADDR defaults to 127.0.0.1)
  -U [HADDR:]HPORT:GADDR:GPORT  UDP forward from the host
  -x [GADDR:]PORT:PATH     guest connections to GADDR:PORT go to unix socket PATH
  -X GADDR[:DISPLAY[.SCREEN]]  X11: host port 6000..6100 to guest port 6000+DISPLAY
  -t, --tftp DIR           read-only TFTP server rooted at DIR
      --ipv6 ADDR/LEN      slirp's IPv6 address and prefix (default fd00::2/64)
      --noipv6             no IPv6
  -p, --pidfile FILE       write the process id to FILE
  -d, --daemon             run in the background, log to syslog
  -q, --quiet              no banner
      --port N, -g, --group GROUP, -m, --mod MODE   switch port, group, socket mode
  -h, --help               this text
Long options also work with a single dash (-sock, -dhcp), as in VDE.
"""


def parse_slirpvde_args(args: Sequence[str]) -> SlirpvdeCommand:
    """Parse a slirpvde command line (without the program name).

    :raises UsageError: for an unknown, ambiguous or incomplete option, or a second operand.
    :raises ConfigError: for a value that cannot work, with what to write instead.
    """
    parsed = getopt_long_only(args, SHORT_OPTIONS, LONG_OPTIONS, program=PROGRAM)
    switch: str | None = None
    host = "10.0.2.2/24"
    dns: str | None = None
    dhcp = False
    dhcp_start: str | None = None
    forward_specs: list[tuple[Literal["tcp", "udp"], str]] = []
    unix_specs: list[str] = []
    x11_specs: list[str] = []
    extra: dict[str, object] = {}
    ipv6 = True
    ipv6_spec: str | None = None
    for key, value in parsed.options:
        match key:
            case "s":
                switch = value
            case "D":
                dhcp = True
                if value is not None:
                    dhcp_start = value
            case "n" | "H":
                assert value is not None
                host = value
            case "N":
                dns = value
            case "L":
                forward_specs.append(("tcp", value or ""))
            case "U":
                forward_specs.append(("udp", value or ""))
            case "x":
                unix_specs.append(value or "")
            case "X":
                x11_specs.append(value or "")
            case "t":
                if not value:
                    raise ConfigError("-t needs a directory")
                extra["tftp_root"] = value
            case "p":
                extra["pidfile"] = value
            case "d":
                extra["daemon"] = True
            case "q":
                extra["quiet"] = True
            case "P":
                extra["port"] = _parse_int(value, "--port", 0, 2**31 - 1)
            case "g":
                extra["group"] = value
            case "m":
                extra["mode"] = _parse_mode(value)
            case "h":
                extra["help"] = True
            case "ipv6":
                ipv6, ipv6_spec = True, value
            case "noipv6":
                ipv6 = False
    if len(parsed.operands) > 1:
        raise UsageError(
            f"{PROGRAM}: only one switch may be given, got {', '.join(parsed.operands)}"
        )
    if parsed.operands:
        if switch is not None:
            raise UsageError(
                f"{PROGRAM}: the switch is given twice ({switch} and {parsed.operands[0]})"
            )
        switch = parsed.operands[0]
    network, host_addr = parse_host_network(host)
    v6: dict[str, object] = {"ipv6": ipv6}
    if ipv6_spec is not None:
        v6.update(_parse_ipv6_spec(ipv6_spec))
    settings_fields: dict[str, object] = {
        "network": network,
        "host": host_addr,
        "dns": _parse_ipv4(dns, "-N") if dns is not None else _nth(network, DNS_OFFSET),
        "dhcp": dhcp,
        "dhcp_start": (
            _parse_ipv4(dhcp_start, "--dhcp") if dhcp_start else _nth(network, DHCP_OFFSET)
        ),
        "forwards": tuple(parse_forward(proto, spec) for proto, spec in forward_specs),
        "unix_forwards": tuple(parse_unix_forward(spec, network) for spec in unix_specs),
        "x11_forwards": tuple(parse_x11_forward(spec) for spec in x11_specs),
        **v6,
    }
    if "tftp_root" in extra:
        settings_fields["tftp_root"] = extra.pop("tftp_root")
    settings = SlirpSettings(**settings_fields)  # type: ignore[arg-type]
    return SlirpvdeCommand(settings=settings, switch=switch, **extra)  # type: ignore[arg-type]


def settings_for_host(
    host: str = "10.0.2.2/24",
    *,
    dns: str | None = None,
    dhcp: bool = False,
    dhcp_start: str | None = None,
    **kwargs: object,
) -> SlirpSettings:
    """Settings derived like slirpvde's: ``host`` is ``-H``'s ``ADDR[/LEN]``, DNS defaults to
    the network's .3 and the first lease to its .15. ``kwargs`` are further SlirpSettings fields.
    """
    network, host_addr = parse_host_network(host)
    return SlirpSettings(
        network=network,
        host=host_addr,
        dns=_parse_ipv4(dns, "-N") if dns is not None else _nth(network, DNS_OFFSET),
        dhcp=dhcp,
        dhcp_start=(
            _parse_ipv4(dhcp_start, "--dhcp")
            if dhcp_start is not None
            else _nth(network, DHCP_OFFSET)
        ),
        **kwargs,  # type: ignore[arg-type]
    )


_IPV4_RE = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")


def _parse_ipv4(text: str, option: str) -> IPv4Address:
    if not _IPV4_RE.match(text):
        raise ConfigError(f"{option}: {text!r} is not an IPv4 address like 10.0.2.3")
    try:
        return IPv4Address(text)
    except ValueError:
        raise ConfigError(f"{option}: {text!r} is not an IPv4 address like 10.0.2.3") from None


def _parse_int(text: str | None, option: str, low: int, high: int) -> int:
    if text is None or not text.strip().isdigit():
        raise ConfigError(f"{option}: {text!r} is not a number")
    value = int(text)
    if not low <= value <= high:
        raise ConfigError(f"{option}: {value} is not between {low} and {high}")
    return value


def _parse_mode(text: str | None) -> int:
    if text is None or not re.fullmatch(r"[0-7]{1,4}", text):
        raise ConfigError(f"--mod: {text!r} is not an octal mode like 0660")
    return int(text, 8)


def parse_host_network(text: str) -> tuple[IPv4Network, IPv4Address]:
    """``-H ADDR[/LEN]``: slirp's address and its network; LEN defaults to 24.

    A zero host part means the network's .2, as in slirpvde (``-H 10.1.0.0/16`` is 10.1.0.2).
    """
    addr_text, slash, len_text = text.partition("/")
    addr = _parse_ipv4(addr_text, "-H")
    prefix = _parse_int(len_text, "-H prefix length", 1, 30) if slash else 24
    network = IPv4Network(f"{addr}/{prefix}", strict=False)
    if addr == network.network_address:
        addr = _nth(network, HOST_OFFSET)
    return network, addr


def _parse_ipv6_spec(text: str) -> dict[str, object]:
    addr_text, slash, len_text = text.partition("/")
    try:
        addr = IPv6Address(addr_text.strip("[]"))
    except ValueError:
        raise ConfigError(f"--ipv6: {addr_text!r} is not an IPv6 address like fd00::2") from None
    prefix = _parse_int(len_text, "--ipv6 prefix length", 1, 126) if slash else 64
    network6 = IPv6Network(f"{addr}/{prefix}", strict=False)
    if addr == network6.network_address:
        addr = network6.network_address + HOST_OFFSET
    return {
        "network6": network6,
        "host6": addr,
        "dns6": network6.network_address + DNS_OFFSET,
    }


_ADDR = r"(?:\[[^\]]*\]|[^:\[\]]*)"
_FORWARD_RE = re.compile(
    rf"^(?:(?P<haddr>{_ADDR}):)?(?P<hport>[^:\[\]]*):(?P<gaddr>{_ADDR}):(?P<gport>[^:\[\]]*)$"
)


def _parse_address(text: str, what: str, spec: str) -> IPAddress:
    bracketed = text.startswith("[") and text.endswith("]")
    inner = text[1:-1] if bracketed else text
    try:
        addr = ip_address(inner)
    except ValueError:
        addr = None
    if (
        addr is None
        or (addr.version == 6) != bracketed
        or (addr.version == 4 and not _IPV4_RE.match(inner))
    ):
        raise ConfigError(
            f"forward {spec!r}: {what} {text!r} is not an address "
            f"(IPv4 like 10.0.2.15, IPv6 in brackets like [fd00::15])"
        )
    return addr


def parse_forward(protocol: Literal["tcp", "udp"], spec: str) -> HostForward:
    """``-L``/``-U``: ``[host_addr:]host_port:guest_addr:guest_port``."""
    option = "-L" if protocol == "tcp" else "-U"
    match = _FORWARD_RE.match(spec)
    if match is None:
        raise ConfigError(
            f"{option} {spec!r}: expected [host_addr:]host_port:guest_addr:guest_port, "
            f"for example 8080:10.0.2.15:80 (IPv6 addresses in brackets: [::1]:8080:...)"
        )
    haddr_text = match["haddr"]
    if match["gaddr"] == "":
        raise ConfigError(
            f"{option} {spec!r}: an IP address must be specified for the guest, "
            f"for example 8080:10.0.2.15:80"
        )
    if haddr_text is not None and haddr_text == "":
        raise ConfigError(f"{option} {spec!r}: empty host address; leave it out for 127.0.0.1")
    host_addr = (
        FORWARD_DEFAULT_HOST
        if haddr_text is None
        else _parse_address(haddr_text, "host address", spec)
    )
    return HostForward(
        protocol=protocol,
        host_addr=host_addr,
        host_port=_parse_int(match["hport"], f"{option} {spec!r} host port", 1, 65535),
        guest_addr=_parse_address(match["gaddr"], "guest address", spec),
        guest_port=_parse_int(match["gport"], f"{option} {spec!r} guest port", 1, 65535),
    )


def parse_unix_forward(spec: str, network: IPv4Network = DEFAULT_NETWORK) -> UnixForward:
    """``-x [guest_addr:]port:path`` (the path may itself contain colons)."""
    head, sep, path = spec.partition(":")
    if not sep:
        raise ConfigError(
            f"-x {spec!r}: expected [guest_addr:]port:path, e.g. 6000:/tmp/.X11-unix/X0"
        )
    if _IPV4_RE.match(head):
        guest = _parse_ipv4(head, "-x")
        port_text, sep, path = path.partition(":")
        if not sep:
            raise ConfigError(f"-x {spec!r}: expected guest_addr:port:path")
    else:
        guest, port_text = _nth(network, 4), head
    if not path:
        raise ConfigError(f"-x {spec!r}: the unix socket path is empty")
    return UnixForward(
        guest_addr=guest, port=_parse_int(port_text, f"-x {spec!r} port", 1, 65535), path=path
    )


def parse_x11_forward(spec: str) -> X11Forward:
    """``-X guest_addr[:display[.screen]]``."""
    addr_text, _, rest = spec.partition(":")
    guest = _parse_ipv4(addr_text, "-X")
    display_text, dot, screen_text = rest.partition(".")
    display = _parse_int(display_text, f"-X {spec!r} display", 0, 99) if rest else 0
    screen = _parse_int(screen_text, f"-X {spec!r} screen", 0, 99) if dot else 0
    return X11Forward(guest_addr=guest, display=display, screen=screen)
