"""``slirp://`` VNLs: vdeplug_slirp's option style read into SlirpSettings and written back."""

from __future__ import annotations

import string
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vdex.errors import ConfigError
from vdex.vnl import parse_vnl
from vdex_plugins.slirp import (
    HostForward,
    SlirpSettings,
    UnixForward,
    X11Forward,
    format_slirp_vnl,
    parse_slirp_vnl,
    parse_slirpvde_args,
)
from vdex_plugins.slirp._settings import X11_BASE_PORT


def parsed(text: str) -> SlirpSettings:
    return parse_slirp_vnl(parse_vnl(text)).settings


def test_empty_vnl_is_slirpvde_without_dhcp() -> None:
    assert parsed("slirp://") == SlirpSettings()
    assert parsed("slirp:///") == SlirpSettings()
    assert format_slirp_vnl(SlirpSettings()) == "slirp://"


def test_the_documented_example() -> None:
    s = parsed("slirp:///host=10.0.2.2/24/dhcp/tcpfwd=8080:10.0.2.15:80")
    assert s == SlirpSettings(dhcp=True, forwards=(
        HostForward("tcp", IPv4Address("127.0.0.1"), 8080, IPv4Address("10.0.2.15"), 80),))
    assert format_slirp_vnl(s) == "slirp:///dhcp/tcpfwd=127.0.0.1:8080:10.0.2.15:80"


def test_vdeplug_slirp_keys_and_prefixes() -> None:
    s = parsed("slirp:///addr=10.1.0.1/16/dhcp=10.1.0.100/vnameserver=10.1.0.53"
               "/addr6=fd01::1/48/vnameserver6=fd01::53/hostname=vm/tftp_server_name=boot"
               "/tftp_path=/srv/tftp/bootfile=pxelinux.0/vdnssearch=a.example,b.org"
               "/vdomainname=lan/mtu=1400/mru=1450/disable_host_loopback/restricted")
    assert s.network == IPv4Network("10.1.0.0/16") and s.host == IPv4Address("10.1.0.1")
    assert s.dhcp and s.dhcp_start == IPv4Address("10.1.0.100")
    assert s.dns == IPv4Address("10.1.0.53")
    assert (s.network6, s.host6) == (IPv6Network("fd01::/48"), IPv6Address("fd01::1"))
    assert s.dns6 == IPv6Address("fd01::53")
    assert (s.hostname, s.tftp_server_name, s.tftp_root, s.bootfile, s.domain_name) == (
        "vm", "boot", "/srv/tftp", "pxelinux.0", "lan")
    assert s.dns_search == ("a.example", "b.org")
    assert (s.mtu, s.mru, s.host_loopback, s.restricted) == (1400, 1450, False, True)
    # a key may be shortened to a prefix, resolved in vdeplug_slirp's table order
    assert parsed("slirp:///d/h=10.1.0.1/16") == parsed("slirp:///host=10.1.0.1/16/dhcp")
    # ... except right after a value, where a bare word continues the value (written in full,
    # a key is a key everywhere)
    with pytest.raises(ConfigError, match="'16/d' is not a number"):
        parsed("slirp:///h=10.1.0.1/16/d")
    assert parsed("slirp:///tc=1:10.0.2.15:2") == parsed("slirp:///tcpfwd=1:10.0.2.15:2")


def test_v4_and_v6_select_the_families() -> None:
    assert (parsed("slirp:///v4").ipv4, parsed("slirp:///v4").ipv6) == (True, False)
    assert (parsed("slirp:///v6").ipv4, parsed("slirp:///v6").ipv6) == (False, True)
    both = parsed("slirp:///v4/v6")
    assert both.ipv4 and both.ipv6


def test_values_with_slashes_need_no_quotes_unless_a_part_is_an_option_name() -> None:
    s = parsed("slirp:///tftp_path=/srv/tftp/root/unixfwd=6000:/tmp/.X11-unix/X0/dhcp")
    assert s.tftp_root == "/srv/tftp/root" and s.dhcp
    assert s.unix_forwards == (UnixForward(IPv4Address("10.0.2.4"), 6000, "/tmp/.X11-unix/X0"),)
    # "/dhcp" is an option: quote a value holding it (or escape the slash)
    assert parsed("slirp:///tftp_path=/srv/dhcp").tftp_root == "/srv"
    assert parsed("slirp:///tftp_path='/srv/dhcp'").tftp_root == "/srv/dhcp"
    assert parsed("slirp:///tftp_path=/srv\\/dhcp").tftp_root == "/srv/dhcp"
    # a trailing slash ends a value
    assert parsed("slirp:///host=10.1.0.1/16/").host == IPv4Address("10.1.0.1")


def test_forward_lists_keep_their_order_across_keys() -> None:
    s = parsed("slirp:///udpfwd=5353:10.0.2.15:53/tcpfwd=8080:10.0.2.15:80,[::1]:8443:"
               "10.0.2.16:443/udpfwd=0.0.0.0:69:10.0.2.16:69")
    assert [str(f) for f in s.forwards] == [
        "udp 127.0.0.1:5353 -> 10.0.2.15:53",
        "tcp 127.0.0.1:8080 -> 10.0.2.15:80",
        "tcp [::1]:8443 -> 10.0.2.16:443",
        "udp 0.0.0.0:69 -> 10.0.2.16:69",
    ]
    assert parsed(format_slirp_vnl(s)) == s


def test_x11_forward_is_vdex_addition() -> None:
    s = parsed("slirp:///x11fwd=10.0.2.15:1")
    assert s.x11_forwards == (X11Forward(IPv4Address("10.0.2.15"), 1, 0),)
    assert format_slirp_vnl(s) == "slirp:///x11fwd=10.0.2.15:1.0"


def test_verbose_flag() -> None:
    found = parse_slirp_vnl(parse_vnl("slirp:///verbose/dhcp"))
    assert found.verbose and found.settings.dhcp
    assert format_slirp_vnl(found.settings, verbose=True) == "slirp:///dhcp/verbose"


BAD = [
    ("slirp:///nonsense", "unknown option 'nonsense' (known: restricted, v4"),
    ("slirp://dhcp", "slirp:// takes options after a slash, e.g. slirp:///dhcp"),
    ("slirp:///cmdfwd=6000:xterm", "cmdfwd is not supported by vdex; forward to a unix socket"),
    ("slirp:///v4=1", "v4 is a flag and takes no value"),
    ("slirp:///tcpfwd", "tcpfwd needs a value"),
    ("slirp:///mtu=9000", "MTU 9000 is not between 576 and 1500"),
    ("slirp:///mtu=big", "mtu='big' is not a number"),
    ("slirp:///host=10.0.2.2/24/host=10.0.3.2", "host is given twice"),
    ("slirp:///addr=300.1.1.1", "'300.1.1.1' is not an IPv4 address"),
    ("slirp:///dhcp=10.9.9.9", "DHCP start 10.9.9.9 is not a host address of 10.0.2.0/24"),
    ("slirp:///tcpfwd=8080:10.0.3.15:80", "guest address 10.0.3.15 is not a guest address"),
    ("slirp:///tcpfwd=8080::80", "an IP address must be specified for the guest"),
    ("slirp:///v6/dhcp", "DHCP is IPv4: it needs IPv4 turned on"),
    ("slirp:///vnameserver6=nope", "vnameserver6='nope' is not an IPv6 address"),
    ("slirp:///vdnssearch=a..b", "DNS search domain 'a..b' is not a domain name"),
    ("slirp:///hostname=" + "h" * 40, "longer than libslirp's 32 bytes"),
    ("slirp:///tftp_path='unterminated", "unterminated ' quote"),
]


@pytest.mark.parametrize(("text", "message"), BAD, ids=[t for t, _ in BAD])
def test_bad_vnls_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match="^.?slirp://") as info:
        parsed(text)
    assert message in str(info.value)


def test_slirpvde_options_become_the_same_settings_through_a_vnl() -> None:
    """What slirp/add does: slirpvde's options -> settings -> VNL -> the same settings."""
    argv = ["-D", "-H", "10.1.0.0/16", "-N", "10.1.0.53", "-L", "2222:10.1.0.15:22",
            "-U", "[::1]:5353:10.1.0.15:53", "-x", "6001:/tmp/x,y.sock", "-X", "10.1.0.15:2.1",
            "-t", "/srv/tftp", "--ipv6", "fd05::2/64"]
    s = parse_slirpvde_args(argv).settings
    assert parsed(format_slirp_vnl(s)) == s


# ---------------------------------------------------------------------------- properties

_WORDS = st.text(alphabet=string.ascii_letters + string.digits + "-_./,=:%'\"\\ é", min_size=1,
                 max_size=12).filter(lambda t: "\0" not in t)


_FORWARD_HOSTS: list[IPv4Address | IPv6Address] = [
    IPv4Address("127.0.0.1"), IPv4Address("0.0.0.0"), IPv6Address("::1")]


@st.composite
def slirp_settings(draw: st.DrawFn) -> SlirpSettings:
    prefix = draw(st.integers(8, 27))
    network = IPv4Network((draw(st.integers(0, 2**32 - 1)), prefix), strict=False)
    size = network.num_addresses
    offsets = draw(st.lists(st.integers(1, size - 2), min_size=4, max_size=4, unique=True))
    host, dns, start, guest = (network.network_address + o for o in offsets)
    dhcp = draw(st.booleans())
    ipv6 = draw(st.booleans())
    ipv4 = not ipv6 or dhcp or draw(st.booleans())
    fields: dict[str, object] = {
        "network": network, "host": host, "dns": dns, "dhcp": dhcp,
        "dhcp_start": start if dhcp else network.network_address + 15,
        "ipv4": ipv4, "ipv6": ipv6,
    }
    if ipv6 and draw(st.booleans()):
        net6 = IPv6Network((draw(st.integers(0, 2**128 - 1)), draw(st.integers(16, 120))),
                           strict=False)
        fields.update(network6=net6, host6=net6.network_address + 2,
                      dns6=net6.network_address + draw(st.integers(1, 3)))
    for name in ("hostname", "tftp_server_name", "bootfile", "domain_name", "tftp_root"):
        if draw(st.booleans()):
            fields[name] = draw(_WORDS.filter(lambda t: len(t.encode()) <= 32))
    fields["dns_search"] = tuple(draw(st.lists(st.from_regex(r"\A[a-z0-9]{1,8}(\.[a-z]{2,5}){0,2}\Z"),
                                               max_size=3)))
    fields["mtu"] = draw(st.sampled_from([0, 576, 1400, 1500]))
    fields["mru"] = draw(st.sampled_from([0, 1000, 1500]))
    fields["host_loopback"] = draw(st.booleans())
    fields["restricted"] = draw(st.booleans())
    if ipv4:
        ports = draw(st.lists(st.integers(1, 65535), unique=True, max_size=4))
        fields["forwards"] = tuple(HostForward(
            draw(st.sampled_from(["tcp", "udp"])),
            draw(st.sampled_from(_FORWARD_HOSTS)),
            port, guest, draw(st.integers(1, 65535))) for port in ports)
        fields["unix_forwards"] = tuple(
            UnixForward(guest, draw(st.integers(1, 65535)), "/" + draw(_WORDS))
            for _ in range(draw(st.integers(0, 2))))
        fields["x11_forwards"] = tuple(
            X11Forward(guest, draw(st.integers(0, 99)), draw(st.integers(0, 99)))
            for _ in range(draw(st.integers(0, 1))))
    return SlirpSettings(**fields)  # type: ignore[arg-type]


@settings(max_examples=400, deadline=None)
@given(s=slirp_settings(), verbose=st.booleans())
def test_formatted_vnl_parses_back(s: SlirpSettings, verbose: bool) -> None:
    text = format_slirp_vnl(s, verbose=verbose)
    found = parse_slirp_vnl(parse_vnl(text))
    assert found.settings == s, text
    assert found.verbose == verbose
    # ... and through the text after "slirp://" alone, as a VNL of another style would pass it
    assert parse_slirp_vnl(text.removeprefix("slirp://")).settings == s


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=40)
       | st.lists(st.sampled_from(["", "dhcp", "host=10.0.2.2", "24", "v4", "v6", "h=", "tcpfwd=",
                                   "8080:10.0.2.15:80", "'", "\\", "%41", "/", "x=y", "tftp_path=",
                                   "mtu=1400", "unixfwd=1:/a", ",", "verbose"]), max_size=8)
       .map("/".join))
def test_any_text_parses_or_fails_with_a_config_error(text: str) -> None:
    try:
        found = parse_slirp_vnl(text)
    except ConfigError as exc:
        assert str(exc).lstrip("\"'").startswith("slirp://")
        return
    assert parse_slirp_vnl(format_slirp_vnl(found.settings).removeprefix("slirp://")) == \
        attrs.evolve(found, verbose=False)


def test_x11_display_maps_to_guest_port() -> None:
    s = parsed("slirp:///x11fwd=10.0.2.15:3.1")
    assert s.x11_forwards[0].display + X11_BASE_PORT == 6003
