"""``udp://`` address syntax: vdeplug4's examples and rules, errors, properties."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vdex.errors import ConfigError
from vdex.vnl import parse_vnl
from vdex_plugins.udp._address import UdpAddress, format_udp_address, parse_udp_address


@pytest.mark.parametrize(("text", "expected"), [
    ("127.0.0.1:5001->127.0.0.1:5002", UdpAddress("127.0.0.1", 5001, "127.0.0.1", 5002)),
    ("5000->10.0.0.2:5000", UdpAddress(None, 5000, "10.0.0.2", 5000)),
    (":5000->10.0.0.2:5000", UdpAddress(None, 5000, "10.0.0.2", 5000)),
    ("0->peer.example.org:4000", UdpAddress(None, 0, "peer.example.org", 4000)),
    ("::1:5000->::1:5001", UdpAddress("::1", 5000, "::1", 5001)),
    (":::5000->fd00::2:5001", UdpAddress("::", 5000, "fd00::2", 5001)),
    ("fe80::1%eth0:5000->fe80::2%eth0:5000",
     UdpAddress("fe80::1%eth0", 5000, "fe80::2%eth0", 5000)),
    ("[::1]:5000->[::1]:5001", UdpAddress("::1", 5000, "::1", 5001)),
    ("host_1:1->host-2.lan.:65535", UdpAddress("host_1", 1, "host-2.lan.", 65535)),
])
def test_examples(text: str, expected: UdpAddress) -> None:
    assert parse_udp_address(text) == expected


def test_from_a_vnl() -> None:
    vnl = parse_vnl("udp://127.0.0.1:5001->127.0.0.1:5002")
    assert parse_udp_address(vnl.target) == UdpAddress("127.0.0.1", 5001, "127.0.0.1", 5002)


def test_format_is_what_vdeplug4_reads() -> None:
    assert format_udp_address(parse_udp_address("[::1]:5000->[::1]:5001")) == "::1:5000->::1:5001"
    assert str(UdpAddress(None, 5000, "10.0.0.2", 5000)) == "5000->10.0.0.2:5000"


@pytest.mark.parametrize(("text", "problem"), [
    ("", "no '->'"),
    ("5000", "no '->'"),
    ("5000>10.0.0.2:5000", "no '->'"),
    ("5000->10.0.0.2", "needs an address and a port"),
    ("5000->:5000", "destination address is missing"),
    ("->10.0.0.2:5000", "source port '' is not a number"),
    ("x:->10.0.0.2:5000", "source port '' is not a number"),
    ("5000->10.0.0.2:0", "destination port '0' is not a number from 1"),
    ("5000->10.0.0.2:65536", "destination port '65536'"),
    ("5000->10.0.0.2:http", "destination port 'http'"),
    ("5000 ->10.0.0.2:5000", "source port '5000 '"),
    ("5000->10.0.0.2:5000 ", "destination port '5000 '"),
    ("5000->10.0.0.2:\u0665", "destination port"),
    ("::1->::1:5001", "source address ':' is not"),
    ("[10.0.0.1]:1->10.0.0.2:2", "brackets are for IPv6"),
    ("bad host:1->10.0.0.2:2", "source address 'bad host'"),
    ("10.0.0.1:1->::1:2", "the source is IPv4 but the destination is IPv6"),
])
def test_errors_say_what_and_show_the_form(text: str, problem: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_udp_address(text)
    message = str(info.value)
    assert problem in message and "[src_addr:]src_port->dst_addr:dst_port" in message


hostnames = st.from_regex(r"[a-z][a-z0-9-]{0,10}[a-z0-9](\.[a-z][a-z0-9]{0,8}){0,3}",
                          fullmatch=True)
hosts = st.one_of(st.ip_addresses().map(str), hostnames)


@st.composite
def udp_addresses(draw: st.DrawFn) -> UdpAddress:
    dst = draw(hosts)
    src = draw(st.one_of(st.none(), hosts))
    if src is not None:
        try:
            versions = {ipaddress.ip_address(src).version, ipaddress.ip_address(dst).version}
        except ValueError:
            versions = set()
        if len(versions) == 2:
            src = None
    return UdpAddress(src, draw(st.integers(0, 65535)), dst, draw(st.integers(1, 65535)))


@given(udp_addresses())
def test_round_trip(address: UdpAddress) -> None:
    assert parse_udp_address(format_udp_address(address)) == address


@given(st.one_of(st.text(max_size=40),
                 st.tuples(st.text(max_size=15), st.text(max_size=15)).map("->".join)))
def test_arbitrary_text_never_crashes(text: str) -> None:
    try:
        address = parse_udp_address(text)
    except ConfigError:
        return
    assert 1 <= address.dst_port <= 65535 and 0 <= address.src_port <= 65535
    assert parse_udp_address(format_udp_address(address)) == address
