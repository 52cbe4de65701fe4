"""slirpvde's command line parsed into SlirpSettings: defaults, spellings, forwards, errors."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from vdex.errors import ConfigError, UsageError, VdexError
from vdex_plugins.slirp import (
    USAGE,
    HostForward,
    SlirpSettings,
    UnixForward,
    X11Forward,
    parse_forward,
    parse_slirpvde_args,
    settings_for_host,
)


def test_defaults_are_slirpvdes() -> None:
    command = parse_slirpvde_args([])
    s = command.settings
    assert s.network == IPv4Network("10.0.2.0/24")
    assert s.host == IPv4Address("10.0.2.2")
    assert s.dns == IPv4Address("10.0.2.3")
    assert s.dhcp is False  # slirpvde answers DHCP only with -D
    assert s.dhcp_start == IPv4Address("10.0.2.15")
    assert s.ipv6 and s.network6 == IPv6Network("fd00::/64")
    assert s.host6 == IPv6Address("fd00::2") and s.dns6 == IPv6Address("fd00::3")
    assert s.forwards == () and s.tftp_root is None
    assert command.switch is None and not command.stream
    assert not (command.daemon or command.quiet or command.help)
    assert s == SlirpSettings()


def test_spec_banner_example() -> None:
    command = parse_slirpvde_args(
        [
            "-s",
            "/tmp/sl/sw3",
            "-D",
            "-t",
            "/tmp/sl/tftp",
            "-L",
            "18080:10.0.2.15:8080",
            "-U",
            "15353:10.0.2.15:5353",
            "-x",
            "6001:/tmp/sl/unixsrv",
        ]
    )
    s = command.settings
    assert command.switch == "/tmp/sl/sw3"
    assert s.dhcp and s.dhcp_start == IPv4Address("10.0.2.15")
    assert s.tftp_root == "/tmp/sl/tftp"
    assert [str(f) for f in s.forwards] == [
        "tcp 127.0.0.1:18080 -> 10.0.2.15:8080",
        "udp 127.0.0.1:15353 -> 10.0.2.15:5353",
    ]
    assert s.unix_forwards == (
        UnixForward(guest_addr=IPv4Address("10.0.2.4"), port=6001, path="/tmp/sl/unixsrv"),
    )


@pytest.mark.parametrize("spelling", [["-H", "10.1.0.0/16"], ["-n", "10.1.0.0/16"],
                                      ["-host", "10.1.0.0/16"], ["--network=10.1.0.0/16"],
                                      ["-H10.1.0.0/16"]])  # fmt: skip
def test_host_network_derives_dns_and_dhcp(spelling: list[str]) -> None:
    s = parse_slirpvde_args([*spelling, "-D"]).settings
    assert (s.network, s.host) == (IPv4Network("10.1.0.0/16"), IPv4Address("10.1.0.2"))
    assert s.dns == IPv4Address("10.1.0.3")
    assert s.dhcp_start == IPv4Address("10.1.0.15")


def test_host_address_without_length_is_a_slash_24() -> None:
    s = parse_slirpvde_args(["-H", "192.168.55.1", "-N", "192.168.55.53"]).settings
    assert s.network == IPv4Network("192.168.55.0/24")
    assert s.host == IPv4Address("192.168.55.1")
    assert s.dns == IPv4Address("192.168.55.53")


@pytest.mark.parametrize("args", [["-"], ["-s", "-"], ["--sock=-"], ["-sock", "-"]])
def test_stream_mode(args: list[str]) -> None:
    assert parse_slirpvde_args(args).stream


def test_switch_as_operand_and_flags() -> None:
    command = parse_slirpvde_args(
        ["-dq", "/tmp/sw", "-p", "/run/s.pid", "-port", "4", "-mod", "660"]
    )
    assert command.switch == "/tmp/sw"
    assert command.daemon and command.quiet
    assert command.pidfile == "/run/s.pid"
    assert command.port == 4 and command.mode == 0o660


def test_dhcp_with_start_address() -> None:
    s = parse_slirpvde_args(["-dhcp=10.0.2.100"]).settings
    assert s.dhcp and s.dhcp_start == IPv4Address("10.0.2.100")


def test_ipv6_options() -> None:
    s = parse_slirpvde_args(["--ipv6", "fd42:1::/64"]).settings
    assert s.network6 == IPv6Network("fd42:1::/64")
    assert s.host6 == IPv6Address("fd42:1::2") and s.dns6 == IPv6Address("fd42:1::3")
    assert not parse_slirpvde_args(["-noipv6"]).settings.ipv6


def test_x11_forward_parses_display_and_screen() -> None:
    s = parse_slirpvde_args(["-X", "10.0.2.15:1.2"]).settings
    assert s.x11_forwards == (X11Forward(guest_addr=IPv4Address("10.0.2.15"), display=1, screen=2),)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("8080:10.0.2.15:80", ("127.0.0.1", 8080, "10.0.2.15", 80)),
        ("0.0.0.0:8080:10.0.2.15:80", ("0.0.0.0", 8080, "10.0.2.15", 80)),
        ("[::1]:8080:10.0.2.15:80", ("::1", 8080, "10.0.2.15", 80)),
        ("[::]:8080:[fd00::15]:80", ("::", 8080, "fd00::15", 80)),
    ],
)
def test_forward_syntax(spec: str, expected: tuple[str, int, str, int]) -> None:
    fwd = parse_forward("tcp", spec)
    assert (str(fwd.host_addr), fwd.host_port, str(fwd.guest_addr), fwd.guest_port) == expected


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        (["-L", "8080::80"], ConfigError, "an IP address must be specified"),
        (["-L", "8080:80"], ConfigError, "expected [host_addr:]host_port:guest_addr:guest_port"),
        (["-L", "0:10.0.2.15:80"], ConfigError, "not between 1 and 65535"),
        (["-L", ":8080:10.0.2.15:80"], ConfigError, "leave it out for 127.0.0.1"),
        (["-L", "8080:10.9.9.9:80"], ConfigError, "not a guest address in 10.0.2.0/24"),
        (["-L", "8080:10.0.2.2:80"], ConfigError, "not a guest address"),
        (["-L", "8080:10.0.2.3:80"], ConfigError, "not a guest address"),
        (["-L", "8080:10.0.2.255:80"], ConfigError, "not a guest address"),
        (["-L", "::1:8080:10.0.2.15:80"], ConfigError, "in brackets"),
        (["-L", "1:10.0.2.15:1", "-L", "1:10.0.2.16:2"], ConfigError, "two forwards listen"),
        (["-H", "10.0.2.2/31"], ConfigError, "between 1 and 30"),
        (["-H", "ten.0.2.2"], ConfigError, "not an IPv4 address"),
        (["-N", "10.0.3.3"], ConfigError, "not a host address of 10.0.2.0/24"),
        (["-N", "10.0.2.2"], ConfigError, "must differ"),
        (["--dhcp=10.0.9.1"], ConfigError, "give one with --dhcp=ADDR"),
        (["-x", "10.0.2.2:6000:/tmp/x"], ConfigError, "its own address"),
        (["-mod", "999"], ConfigError, "octal"),
        (["-z"], UsageError, "unrecognized option '-z'"),
        (["-s"], UsageError, "requires an argument"),
        (["a", "b"], UsageError, "only one switch"),
        (["-s", "a", "b"], UsageError, "given twice"),
        (["-quiet=1"], UsageError, "doesn't allow an argument"),
    ],
)
def test_errors_say_what_is_wrong(args: list[str], error: type[Exception], message: str) -> None:
    with pytest.raises(error) as exc:
        parse_slirpvde_args(args)
    assert message in str(exc.value)


# ---------------------------------------------------------------------------- properties


@settings(max_examples=500, deadline=None)
@given(st.lists(st.text(max_size=12), max_size=8))
def test_any_command_line_parses_or_fails_cleanly(args: list[str]) -> None:
    try:
        parse_slirpvde_args(args)
    except VdexError:
        pass


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(["-D", "-dhcp", "-L", "-U", "-H", "-N", "-t", "-s", "-x", "-X", "-q"])
        | st.from_regex(r"\A[0-9a-f.:\[\]/]{0,20}\Z"),
        max_size=8,
    )
)
def test_option_soup_parses_or_fails_cleanly(args: list[str]) -> None:
    try:
        parse_slirpvde_args(args)
    except VdexError:
        pass


@st.composite
def networks(draw: st.DrawFn) -> tuple[IPv4Network, int]:
    prefix = draw(st.integers(8, 27))
    network = IPv4Network((draw(st.integers(0, 2**32 - 1)), prefix), strict=False)
    host_offset = draw(st.integers(1, network.num_addresses - 2))
    return network, host_offset


def _flag(style: int, short: str, long: str, value: str) -> list[str]:
    return [
        [short, value],
        [short + value],
        [f"-{long}", value],
        [f"--{long}={value}"],
    ][style % 4]


@settings(max_examples=300, deadline=None)
@given(data=st.data(), net=networks())
def test_rendered_settings_parse_back(data: st.DataObject, net: tuple[IPv4Network, int]) -> None:
    network, host_offset = net
    size = network.num_addresses
    host = network.network_address + host_offset
    dns_offset = data.draw(st.integers(1, size - 2).filter(lambda o: o != host_offset))
    dns = network.network_address + dns_offset
    dhcp = data.draw(st.booleans())
    start_offset = data.draw(
        st.integers(1, size - 2).filter(lambda o: o not in (host_offset, dns_offset))
    )
    start = network.network_address + start_offset
    guests = st.integers(1, size - 2).filter(lambda o: o not in (host_offset, dns_offset))
    forwards: list[HostForward] = []
    for port in data.draw(st.lists(st.integers(1, 65535), unique=True, max_size=3)):
        forwards.append(
            HostForward(
                protocol=data.draw(st.sampled_from(["tcp", "udp"])),
                host_addr=data.draw(st.sampled_from([IPv4Address("127.0.0.1"),
                                                     IPv4Address("0.0.0.0"),
                                                     IPv6Address("::1")])),
                host_port=port,
                guest_addr=network.network_address + data.draw(guests),
                guest_port=data.draw(st.integers(1, 65535)),
            )
        )  # fmt: skip
    switch = data.draw(st.sampled_from([None, "-", "/tmp/sw", "vde:///tmp/x"]))
    quiet = data.draw(st.booleans())
    style = data.draw(st.integers(0, 3))

    args: list[str] = []
    args += _flag(style, "-H", "host", f"{host}/{network.prefixlen}")
    args += _flag(style + 1, "-N", "dns", str(dns))
    if dhcp:
        args += [f"--dhcp={start}"] if style % 2 else ["-D", f"-dhcp={start}"]
    for fwd in forwards:
        args += ["-L" if fwd.protocol == "tcp" else "-U", fwd.spec()]
    if quiet:
        args += ["-q"] if style % 2 else ["-quiet"]
    if switch is not None:
        args += [switch] if style % 2 else _flag(style, "-s", "sock", switch)
    assume(not (switch == "-" and style % 4 == 1))  # "-s-" is -s with argument "-": fine too

    command = parse_slirpvde_args(args)
    expected = SlirpSettings(
        network=network,
        host=host,
        dns=dns,
        dhcp=dhcp,
        dhcp_start=start if dhcp else network.network_address + 15,
        forwards=tuple(forwards),
    )
    assert command.settings == expected
    assert command.switch == switch
    assert command.quiet == quiet


@settings(max_examples=300, deadline=None)
@given(
    protocol=st.sampled_from(["tcp", "udp"]),
    host=st.ip_addresses(),
    host_port=st.integers(1, 65535),
    guest_offset=st.integers(3, 254),
    guest_port=st.integers(1, 65535),
)
def test_forward_spec_round_trips(
    protocol: str, host: IPv4Address | IPv6Address, host_port: int, guest_offset: int,
    guest_port: int,
) -> None:  # fmt: skip
    fwd = HostForward(
        protocol=protocol,  # type: ignore[arg-type]
        host_addr=host,
        host_port=host_port,
        guest_addr=IPv4Address("10.0.2.0") + guest_offset,
        guest_port=guest_port,
    )
    assert parse_forward(fwd.protocol, fwd.spec()) == fwd


def test_help_flag_and_usage_text() -> None:
    assert parse_slirpvde_args(["-h"]).help
    assert parse_slirpvde_args(["-help"]).help
    for option in ("-s", "-D", "-H", "-N", "-L", "-U", "-x", "-X", "-t", "-p", "-d", "-q"):
        assert f"{option}" in USAGE


def test_settings_for_host_derives_like_dash_h() -> None:
    s = settings_for_host("10.1.0.0/16", dhcp=True)
    assert s == parse_slirpvde_args(["-H", "10.1.0.0/16", "-D"]).settings
    assert settings_for_host() == SlirpSettings()
