"""``slirp://`` VNLs: vdeplug_slirp's option style, read into (and written from) SlirpSettings.

Pure: no I/O, no libslirp. The text after ``slirp://`` is ``/OPTION/OPTION...`` as in vdeplug4's
slirp module (``slirp:///host=10.0.2.2/24/dhcp/tcpfwd=8080:10.0.2.15:80``). Keys may be
abbreviated to a prefix, resolved in vdeplug_slirp's table order (``h=`` is ``host``). Quoting is
vdeplug4's (``'...'``, ``"..."``, ``\\x``, ``%XX``).

Where vdex reads more than vdeplug4 does, on purpose:

* A value may contain ``/`` without quotes: an element that is neither ``KEY=VALUE`` with a known
  key nor a known flag continues the previous value, so ``host=10.0.2.2/24``,
  ``tftp_path=/srv/tftp`` and ``unixfwd=6000:/tmp/.X11-unix/X0`` need no quotes (vdeplug4 reads
  ``24`` as an unknown key). A path component that is itself an option name (``/dhcp``) must be
  quoted: ``tftp_path='/srv/dhcp'``.
* Anything that cannot work is an error naming the option (vdeplug4 ignores what ``inet_pton``
  or ``atoi`` cannot read, and a bare ``dhcp`` leaves the default).
* DHCP is off unless ``dhcp`` (or ``dhcp=FIRST``) is given, as with slirpvde's ``-D``
  (vdeplug_slirp always answers DHCP). Forwards listen on 127.0.0.1 unless an address is given
  (vdeplug_slirp: 0.0.0.0).
* ``x11fwd=GADDR[:DISPLAY[.SCREEN]]`` is slirpvde's ``-X``; ``cmdfwd`` is refused (use
  ``unixfwd`` and a command behind the unix socket).
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Iterator
from ipaddress import IPv6Address, IPv6Network
from typing import Literal

import attrs

from vdex._vnl_quoting import cut_at, quote, unquote, unquoted_positions
from vdex.errors import ConfigError
from vdex.vnl import Vnl

from ._options import (
    _parse_ipv4,
    _parse_ipv6_spec,
    parse_forward,
    parse_host_network,
    parse_unix_forward,
    parse_x11_forward,
)
from ._settings import (
    DEFAULT_NETWORK,
    DEFAULT_NETWORK6,
    DHCP_OFFSET,
    DNS_OFFSET,
    HOST_OFFSET,
    SlirpSettings,
    UnixForward,
    X11Forward,
    _nth,
)

SCHEME = "slirp"


class Kind(enum.Enum):
    FLAG = "flag"
    VALUE = "value"
    OPTIONAL = "optional value"
    LIST = "comma-separated list"


KEYS: tuple[tuple[str, Kind], ...] = (
    # vdeplug_slirp's table, in its order (prefixes resolve to the first match)
    ("restricted", Kind.FLAG),
    ("v4", Kind.FLAG),
    ("v6", Kind.FLAG),
    ("host", Kind.VALUE),
    ("addr", Kind.VALUE),
    ("host6", Kind.VALUE),
    ("addr6", Kind.VALUE),
    ("hostname", Kind.VALUE),
    ("tftp_server_name", Kind.VALUE),
    ("tftp_path", Kind.VALUE),
    ("bootfile", Kind.VALUE),
    ("dhcp", Kind.OPTIONAL),
    ("vnameserver", Kind.VALUE),
    ("vnameserver6", Kind.VALUE),
    ("vdnssearch", Kind.LIST),
    ("vdomainname", Kind.VALUE),
    ("mtu", Kind.VALUE),
    ("mru", Kind.VALUE),
    ("disable_host_loopback", Kind.FLAG),
    ("tcpfwd", Kind.LIST),
    ("udpfwd", Kind.LIST),
    ("unixfwd", Kind.LIST),
    ("cmdfwd", Kind.LIST),
    ("verbose", Kind.FLAG),
    # vdex's addition
    ("x11fwd", Kind.LIST),
)
_KIND = dict(KEYS)
_NAMES = tuple(name for name, _ in KEYS)
_ALIASES = {"addr": "host", "addr6": "host6"}


@attrs.frozen(kw_only=True)
class SlirpVnl:
    """What a ``slirp://`` VNL asks for."""

    settings: SlirpSettings
    verbose: bool = False
    """``verbose``: log the configuration when the port opens (vdeplug_slirp prints it)."""


def _resolve_key(written: str) -> str | None:
    if written in _KIND:
        return written
    return next((name for name in _NAMES if name.startswith(written)), None)


@attrs.define
class _Option:
    key: str
    raw: list[str]
    """Raw (still quoted) pieces of the value, to be joined with ``/``; None-like for flags."""
    has_value: bool


def _elements(args: str, where: str) -> Iterator[_Option]:
    """Split ``/OPTION/OPTION...`` into options, gluing value continuations (module docstring)."""
    pieces = cut_at(args, unquoted_positions(args, "/", where))
    if unquote(pieces[0], where):
        raise ConfigError(
            f"{where}: slirp:// takes options after a slash, e.g. slirp:///dhcp or "
            f"slirp:///host=10.1.0.2/16; there is nothing to name before them "
            f"(got {unquote(pieces[0], where)!r})"
        )
    current: _Option | None = None
    last = len(pieces) - 1
    for index, raw in enumerate(pieces[1:], start=1):
        eq = unquoted_positions(raw, "=", where)
        if eq:
            written = unquote(raw[: eq[0]], where)
            key = _resolve_key(written) if written else None
            if key is not None:
                if current is not None:
                    yield current
                current = _Option(key, [raw[eq[0] + 1 :]], True)
                continue
        else:
            written = unquote(raw, where)
            if written in _KIND or (
                written and (current is None or not current.has_value) and _resolve_key(written)
            ):
                key = _resolve_key(written)
                assert key is not None
                if current is not None:
                    yield current
                current = _Option(key, [], False)
                continue
        if current is not None and current.has_value:
            if raw or index != last:  # a trailing slash ends the value
                current.raw.append(raw)
            continue
        if not raw:
            continue  # empty elements (a//b, a trailing /) mean nothing
        known = ", ".join(_NAMES)
        raise ConfigError(f"{where}: unknown option {unquote(raw, where)!r} (known: {known})")
    if current is not None:
        yield current


def _items(option: _Option, where: str) -> list[str]:
    """A LIST value's items: split at unquoted commas, each unquoted."""
    raw = "/".join(option.raw)
    return [unquote(item, where) for item in cut_at(raw, unquoted_positions(raw, ",", where))
            if item]


def _value(option: _Option, where: str) -> str:
    return unquote("/".join(option.raw), where)


def _int(text: str, what: str) -> int:
    if not text.isascii() or not text.isdigit():
        raise ConfigError(f"{what}={text!r} is not a number")
    return int(text)


def parse_slirp_vnl(vnl: Vnl | str) -> SlirpVnl:
    """Read a ``slirp://`` VNL (or the text after ``slirp://``).

    :raises ConfigError: naming the option that cannot work and what to write instead.
    """
    if isinstance(vnl, Vnl):
        if vnl.scheme != SCHEME:
            raise ConfigError(f"{vnl.text}: not a slirp:// VNL")
        args, where = vnl.args, vnl.text
    else:
        args, where = vnl, f"slirp://{vnl}"
    found = _Found()
    for option in _elements(args, where):
        key = _ALIASES.get(option.key, option.key)
        kind = _KIND[option.key]
        if kind is Kind.FLAG:
            if option.has_value:
                raise ConfigError(f"{where}: {key} is a flag and takes no value "
                                  f"(write /{key}/, not /{key}=...)")
            found.flags.add(key)
        elif kind is Kind.LIST:
            if not option.has_value:
                raise ConfigError(f"{where}: {key} needs a value ({key}=...)")
            found.lists.extend((key, item) for item in _items(option, where))
        elif kind is Kind.OPTIONAL and not option.has_value:
            found.flags.add(key)
        else:
            if not option.has_value:
                raise ConfigError(f"{where}: {key} needs a value ({key}=...)")
            if key in found.values:
                raise ConfigError(f"{where}: {key} is given twice")
            found.values[key] = _value(option, where)
    if any(key == "cmdfwd" for key, _ in found.lists):
        raise ConfigError(
            f"{where}: cmdfwd is not supported by vdex; forward to a unix socket with "
            f"unixfwd=PORT:PATH and run the command behind it (socat UNIX-LISTEN:PATH,fork ...)"
        )
    try:
        settings = _settings(found)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    return SlirpVnl(settings=settings, verbose="verbose" in found.flags)


@attrs.define
class _Found:
    values: dict[str, str] = attrs.Factory(dict)
    lists: list[tuple[str, str]] = attrs.Factory(list)
    """(key, item) of the list options, in the order given (forwards are installed so)."""
    flags: set[str] = attrs.Factory(set)

    def items(self, key: str) -> list[str]:
        return [item for k, item in self.lists if k == key]


_FORWARD_KEYS: dict[str, Literal["tcp", "udp"]] = {"tcpfwd": "tcp", "udpfwd": "udp"}


def _settings(found: _Found) -> SlirpSettings:
    values, flags = found.values, found.flags
    network, host = parse_host_network(values.get("host", "10.0.2.2/24"))
    fields: dict[str, object] = {"network": network, "host": host}
    dns = values.get("vnameserver")
    fields["dns"] = _parse_ipv4(dns, "vnameserver") if dns else _nth(network, DNS_OFFSET)
    dhcp_start = values.get("dhcp")
    fields["dhcp"] = "dhcp" in flags or dhcp_start is not None
    fields["dhcp_start"] = (_parse_ipv4(dhcp_start, "dhcp") if dhcp_start
                            else _nth(network, DHCP_OFFSET))
    v4, v6 = "v4" in flags, "v6" in flags
    fields["ipv4"] = v4 or not v6
    fields["ipv6"] = v6 or not v4
    if "host6" in values:
        fields.update(_parse_ipv6_spec(values["host6"]))
    if "vnameserver6" in values:
        try:
            fields["dns6"] = IPv6Address(values["vnameserver6"].strip("[]"))
        except ValueError:
            raise ConfigError(f"vnameserver6={values['vnameserver6']!r} is not an IPv6 "
                              f"address like fd00::3") from None
    for key, field in (("hostname", "hostname"), ("tftp_server_name", "tftp_server_name"),
                       ("tftp_path", "tftp_root"), ("bootfile", "bootfile"),
                       ("vdomainname", "domain_name")):
        if key in values:
            fields[field] = values[key]
    for key in ("mtu", "mru"):
        if key in values:
            fields[key] = _int(values[key], key)
    fields["dns_search"] = tuple(found.items("vdnssearch"))
    fields["host_loopback"] = "disable_host_loopback" not in flags
    fields["restricted"] = "restricted" in flags
    fields["forwards"] = tuple(parse_forward(_FORWARD_KEYS[key], spec)
                               for key, spec in found.lists if key in _FORWARD_KEYS)
    fields["unix_forwards"] = tuple(parse_unix_forward(spec, network)
                                    for spec in found.items("unixfwd"))
    fields["x11_forwards"] = tuple(parse_x11_forward(spec) for spec in found.items("x11fwd"))
    return SlirpSettings(**fields)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- formatting


def _plain(text: str, special: str) -> str:
    """``text`` as it reads back through :func:`parse_slirp_vnl`: unquoted when that is safe."""
    segments = text.split("/")
    safe = (
        text
        and not any(c in text for c in "\\'\"%" + special)
        and all(0x20 <= ord(c) != 0x7F and not 0xDC80 <= ord(c) <= 0xDCFF for c in text)
        and not text.endswith("/")
        and all("=" not in seg and seg not in _KIND for seg in segments[1:])
    )
    return text if safe else quote(text, "/=" + special)


def _unix_spec(forward: UnixForward) -> str:
    return f"{forward.guest_addr}:{forward.port}:{forward.path}"


def _x11_spec(forward: X11Forward) -> str:
    return f"{forward.guest_addr}:{forward.display}.{forward.screen}"


def format_slirp_vnl(settings: SlirpSettings, *, verbose: bool = False) -> str:
    """The shortest ``slirp://`` VNL that :func:`parse_slirp_vnl` reads back as ``settings``.

    Defaults are left out (``slirp://`` alone is slirpvde without ``-D``). The first DHCP
    address of settings without DHCP cannot be written, and does not matter.
    """
    s = settings
    net = s.network
    parts: list[str] = []
    if (net, s.host) != (DEFAULT_NETWORK, _nth(DEFAULT_NETWORK, HOST_OFFSET)):
        parts.append(f"host={s.host}/{net.prefixlen}")
    if s.dhcp:
        parts.append("dhcp" if s.dhcp_start == _nth(net, DHCP_OFFSET)
                     else f"dhcp={s.dhcp_start}")
    if s.dns != _nth(net, DNS_OFFSET):
        parts.append(f"vnameserver={s.dns}")
    if not s.ipv6:
        parts.append("v4")
    if not s.ipv4:
        parts.append("v6")
    net6 = s.network6
    if (net6, s.host6) != (DEFAULT_NETWORK6, IPv6Address("fd00::2")):
        parts.append(f"host6={s.host6}/{net6.prefixlen}")
    if s.dns6 != _default_dns6(net6):
        parts.append(f"vnameserver6={s.dns6}")
    for key, text in (("hostname", s.hostname), ("tftp_server_name", s.tftp_server_name),
                      ("tftp_path", s.tftp_root), ("bootfile", s.bootfile),
                      ("vdomainname", s.domain_name)):
        if text is not None:
            parts.append(f"{key}={_plain(text, '')}")
    if s.dns_search:
        parts.append("vdnssearch=" + ",".join(_plain(d, ",") for d in s.dns_search))
    for key, size in (("mtu", s.mtu), ("mru", s.mru)):
        if size:
            parts.append(f"{key}={size}")
    if not s.host_loopback:
        parts.append("disable_host_loopback")
    if s.restricted:
        parts.append("restricted")
    # Consecutive forwards of one protocol share a key; the order given is kept.
    for protocol, group in itertools.groupby(s.forwards, key=lambda f: f.protocol):
        parts.append(f"{protocol}fwd=" + ",".join(_plain(f.spec(), ",") for f in group))
    if s.unix_forwards:
        parts.append("unixfwd=" + ",".join(_plain(_unix_spec(f), ",") for f in s.unix_forwards))
    if s.x11_forwards:
        parts.append("x11fwd=" + ",".join(_x11_spec(f) for f in s.x11_forwards))
    if verbose:
        parts.append("verbose")
    return "slirp://" + "".join("/" + part for part in parts)


def _default_dns6(net6: IPv6Network) -> IPv6Address:
    return net6.network_address + DNS_OFFSET


__all__ = ["KEYS", "SCHEME", "Kind", "SlirpVnl", "format_slirp_vnl", "parse_slirp_vnl"]
