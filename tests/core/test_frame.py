"""Ethernet frame facts and the frame parser (vdex._core.frame)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vdex._core.frame import (
    BROADCAST_MAC,
    ETH_HEADER_LEN,
    MAX_FRAME_LEN,
    EthernetFrame,
    format_mac,
    is_multicast,
    parse_frame,
    parse_mac,
)
from vdex.errors import FrameError

DST = bytes.fromhex("ffffffffffff")
SRC = bytes.fromhex("020000000001")


def test_untagged_frame_fields() -> None:
    frame = parse_frame(DST + SRC + b"\x88\xb5" + b"payload")
    assert frame == EthernetFrame(DST, SRC, 0x88B5, b"payload")
    assert frame.vid is None and frame.pcp is None


def test_tagged_frame_fields_keep_pcp_and_vid() -> None:
    frame = parse_frame(DST + SRC + b"\x81\x00\xa0\x0a" + b"\x08\x00" + b"ip")
    assert (frame.tci, frame.vid, frame.pcp, frame.ethertype, frame.payload) == \
        (0xA00A, 10, 5, 0x0800, b"ip")


def test_only_0x8100_is_a_tag() -> None:
    """0x88a8 (QinQ outer tag) frames are ordinary untagged frames for vde_switch (spec §4.2)."""
    frame = parse_frame(DST + SRC + b"\x88\xa8\x00\x0a\x08\x00")
    assert frame.tci is None and frame.ethertype == 0x88A8


def test_shortest_frame_is_a_bare_header() -> None:
    frame = parse_frame(DST + SRC + b"\x08\x00")
    assert len(DST + SRC + b"\x08\x00") == ETH_HEADER_LEN
    assert frame.payload == b""


@pytest.mark.parametrize("length", [0, 1, 13])
def test_frames_under_14_bytes_are_refused(length: int) -> None:
    with pytest.raises(FrameError, match="shorter than an Ethernet header"):
        parse_frame(bytes(length))


@pytest.mark.parametrize("length", [14, 15, 17])
def test_tagged_frames_under_18_bytes_are_refused(length: int) -> None:
    """vde_switch reads the VID of such frames from stale bytes (spec §5): refuse them."""
    data = (DST + SRC + b"\x81\x00" + bytes(4))[:length]
    with pytest.raises(FrameError, match="18-byte header"):
        parse_frame(data)


def test_longest_frames() -> None:
    assert len(parse_frame(DST + SRC + b"\x88\xb5" + bytes(MAX_FRAME_LEN - 14)).payload) == 1504
    tagged = DST + SRC + b"\x81\x00\x00\x0a\x88\xb5" + bytes(MAX_FRAME_LEN - 14)
    assert len(tagged) == 1522
    assert parse_frame(tagged).vid == 10
    with pytest.raises(FrameError, match="longer than 1522"):
        parse_frame(tagged + b"x")


@given(st.binary(max_size=1600))
def test_parse_frame_parses_or_raises_frame_error(data: bytes) -> None:
    try:
        frame = parse_frame(data)
    except FrameError:
        assert len(data) < 14 or len(data) > 1522 or (data[12:14] == b"\x81\x00" and len(data) < 18)
        return
    assert frame.to_bytes() == data


@given(st.binary(min_size=6, max_size=6), st.binary(min_size=6, max_size=6),
       st.integers(0, 0xFFFF).filter(lambda t: t != 0x8100), st.binary(max_size=64),
       st.none() | st.integers(0, 0xFFFF))
def test_to_bytes_and_parse_round_trip(dst: bytes, src: bytes, ethertype: int, payload: bytes,
                                       tci: int | None) -> None:
    frame = EthernetFrame(dst, src, ethertype, payload, tci)
    assert parse_frame(frame.to_bytes()) == frame


def test_multicast_is_the_ig_bit() -> None:
    assert is_multicast(BROADCAST_MAC)
    assert is_multicast(bytes.fromhex("01005e000001"))
    assert is_multicast(bytes.fromhex("0180c2000000"))
    assert is_multicast(bytes.fromhex("333300000001"))
    assert not is_multicast(SRC)
    assert not is_multicast(bytes.fromhex("00ff01c34947"))


def test_mac_text_forms() -> None:
    assert format_mac(bytes.fromhex("00ff01c34947")) == "00:ff:01:c3:49:47"
    assert parse_mac("02:00:00:00:00:01") == bytes.fromhex("020000000001")
    assert parse_mac("2.0.0.0.0.a") == bytes.fromhex("02000000000a")
    assert parse_mac(" 2:0:0:0:0:FF ") == bytes.fromhex("0200000000ff")


@pytest.mark.parametrize("text", ["zz", "", "02:00:00:00:00", "02:00:00:00:00:00:00",
                                  "020:00:00:00:00:01", "0g:00:00:00:00:01", "02-00-00-00-00-01"])
def test_bad_mac_text_says_what_is_expected(text: str) -> None:
    with pytest.raises(ValueError, match="expected six hex bytes"):
        parse_mac(text)


@given(st.binary(min_size=6, max_size=6))
def test_mac_text_round_trip(mac: bytes) -> None:
    assert parse_mac(format_mac(mac)) == mac


@given(st.text(max_size=40))
def test_parse_mac_never_fails_otherwise(text: str) -> None:
    try:
        assert len(parse_mac(text)) == 6
    except ValueError:
        pass
