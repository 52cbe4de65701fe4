"""``udp://[src_addr:]src_port->dst_addr:dst_port``: the address syntax of vdeplug4's udp module.

As in vdeplug4: the text is cut at the first ``->``; in each half the *last* colon separates the
port, so IPv6 literals are written plainly (``udp://::1:5000->::1:5001``); a source without an
address (``5000`` or ``:5000``) means any address of the destination's family. Resolving names
and binding are the endpoint's job; this module only reads and checks the text.

Beyond vdeplug4: bracketed IPv6 literals are accepted too (``[::1]:5000``; written back without
brackets, as vdeplug4 wants them); ports are decimal numbers (vdeplug4 also takes service names
from /etc/services); source and destination literals of different IP versions are an error here
rather than a failed bind later.
"""

from __future__ import annotations

import ipaddress
import re

import attrs

from vdex.errors import ConfigError

_PORT_RE = re.compile(r"[0-9]{1,5}\Z")
_HOSTNAME_RE = re.compile(
    r"(?=.{1,253}\.?\Z)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
    r"(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?\Z")
EXAMPLE = "udp://5000->192.0.2.2:5000"


@attrs.frozen
class UdpAddress:
    """Both ends of a UDP cable, as written."""

    src_host: str | None
    """Local address or host name to bind; None: any address."""
    src_port: int
    """Local port; 0: the kernel picks one."""
    dst_host: str
    dst_port: int

    def __str__(self) -> str:
        return format_udp_address(self)


def _fail(args: str, problem: str) -> ConfigError:
    return ConfigError(f"udp://{args}: {problem} (the form is [src_addr:]src_port->dst_addr:"
                       f"dst_port, e.g. {EXAMPLE}; quote the > in a shell)")


def _port(args: str, text: str, what: str, low: int) -> int:
    if not _PORT_RE.match(text) or not low <= int(text) <= 65535:
        raise _fail(args, f"{what} port {text!r} is not a number from {low} to 65535")
    return int(text)


def _ip_version(host: str) -> int | None:
    try:
        return ipaddress.ip_address(host).version
    except ValueError:
        return None


def _host(args: str, text: str, what: str) -> str:
    if text.startswith("[") and text.endswith("]"):
        inner = text[1:-1]
        if _ip_version(inner) != 6:
            raise _fail(args, f"{what} address {text!r}: brackets are for IPv6 literals")
        return inner
    if _ip_version(text) is not None or _HOSTNAME_RE.match(text):
        return text
    raise _fail(args, f"{what} address {text!r} is not an IP address or host name")


def parse_udp_address(args: str) -> UdpAddress:
    """Read the text after ``udp://``. :raises ConfigError: saying what is wrong."""
    src, arrow, dst = args.partition("->")
    if not arrow:
        raise _fail(args, "no '->' between source and destination")
    dst_host, colon, dst_port = dst.rpartition(":")
    if not colon:
        raise _fail(args, "the destination needs an address and a port")
    if not dst_host:
        raise _fail(args, "the destination address is missing")
    src_host, colon, src_port = src.rpartition(":")
    if not colon:
        src_host, src_port = "", src
    address = UdpAddress(
        src_host=_host(args, src_host, "source") if src_host else None,
        src_port=_port(args, src_port, "source", 0),
        dst_host=_host(args, dst_host, "destination"),
        dst_port=_port(args, dst_port, "destination", 1))
    if address.src_host is not None:
        src_version, dst_version = _ip_version(address.src_host), _ip_version(address.dst_host)
        if src_version and dst_version and src_version != dst_version:
            raise _fail(args, f"the source is IPv{src_version} but the destination "
                              f"is IPv{dst_version}")
    return address


def format_udp_address(address: UdpAddress) -> str:
    """The text after ``udp://``, in the form vdeplug4 reads (IPv6 literals without brackets)."""
    src = str(address.src_port) if address.src_host is None else \
        f"{address.src_host}:{address.src_port}"
    return f"{src}->{address.dst_host}:{address.dst_port}"


__all__ = ["UdpAddress", "format_udp_address", "parse_udp_address"]
