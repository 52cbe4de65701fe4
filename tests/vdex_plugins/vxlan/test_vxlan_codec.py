"""The VXLAN header: vdeplug4's capture, acceptance rules, drop counters, properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vdex.errors import ConfigError, FrameError
from vdex_plugins.vxlan._codec import (
    MAX_VNI,
    VxlanCodec,
    VxlanDrops,
    decode_header,
    encode_header,
)

FRAME = bytes.fromhex("ffffffffffff 020000000001 0806") + bytes(28)


def test_header_matches_vdeplug4_capture() -> None:
    # spec §5.5: VNI 42 was captured as 08 00 00 00 00 00 2a 00
    assert encode_header(42) == bytes.fromhex("080000000000 2a00")
    assert encode_header(1) == bytes.fromhex("08000000 000001 00")
    assert encode_header(MAX_VNI) == bytes.fromhex("08000000 ffffff 00")
    assert decode_header(encode_header(42) + FRAME) == 42


@pytest.mark.parametrize("vni", [-1, MAX_VNI + 1])
def test_vni_out_of_range(vni: int) -> None:
    with pytest.raises(ConfigError, match="out of range"):
        encode_header(vni)
    with pytest.raises(ConfigError, match="out of range"):
        VxlanCodec(vni=vni)


def test_decode_header_errors() -> None:
    with pytest.raises(FrameError, match="shorter than its header"):
        decode_header(b"\x08\x00\x00")
    with pytest.raises(FrameError, match="flags 0x0c"):
        decode_header(bytes.fromhex("0c000000 00002a 00"))


def test_accepts_own_vni_and_ignores_reserved_bytes() -> None:
    codec = VxlanCodec(vni=42)
    frame = codec.decapsulate(codec.encapsulate(FRAME))
    assert frame is not None and bytes(frame) == FRAME
    noisy = bytes.fromhex("08ffffff 00002a ff") + FRAME
    frame = codec.decapsulate(noisy)
    assert frame is not None and bytes(frame) == FRAME
    assert codec.statistics() == VxlanDrops(short=0, bad_flags=0, wrong_vni=0)


def test_refusals_are_counted() -> None:
    codec = VxlanCodec(vni=42)
    assert codec.decapsulate(encode_header(1) + FRAME) is None            # another VNI
    assert codec.decapsulate(bytes.fromhex("0c000000 00002a 00") + FRAME) is None  # flags
    assert codec.decapsulate(bytes.fromhex("00000000 00002a 00") + FRAME) is None  # no I flag
    assert codec.decapsulate(codec.header + FRAME[:14]) is None           # 14 bytes: too short
    assert codec.decapsulate(codec.header) is None                        # header only (vxvde bye)
    assert codec.decapsulate(b"\x08") is None                             # not even a header
    assert codec.decapsulate(b"") is None
    assert codec.decapsulate(codec.header + FRAME[:15]) is not None       # 15 bytes: accepted
    assert codec.statistics() == VxlanDrops(short=4, bad_flags=2, wrong_vni=1)


def test_accept_on_split_buffers() -> None:
    codec = VxlanCodec(vni=7)
    header = bytearray(codec.header)
    assert codec.accept(header, len(FRAME))
    assert not codec.accept(header, 14)
    assert not codec.accept(memoryview(encode_header(8)), len(FRAME))


@given(st.integers(0, MAX_VNI), st.binary(min_size=15, max_size=64))
def test_round_trip(vni: int, frame: bytes) -> None:
    codec = VxlanCodec(vni=vni)
    packet = codec.encapsulate(frame)
    assert len(packet) == 8 + len(frame) and decode_header(packet) == vni
    out = codec.decapsulate(packet)
    assert out is not None and bytes(out) == frame


@given(st.binary(max_size=80), st.integers(0, MAX_VNI))
def test_arbitrary_packets_never_crash(packet: bytes, vni: int) -> None:
    codec = VxlanCodec(vni=vni)
    frame = codec.decapsulate(packet)
    drops = codec.statistics()
    if frame is None:
        assert drops.short + drops.bad_flags + drops.wrong_vni == 1
    else:
        assert packet[0] == 8 and packet[4:7] == vni.to_bytes(3, "big") and len(frame) > 14
        assert bytes(frame) == packet[8:]
