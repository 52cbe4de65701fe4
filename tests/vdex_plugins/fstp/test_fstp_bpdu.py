"""The BPDU codec against the frames captured from vde_switch (spec Appendix B.3)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vdex.errors import FrameError
from vdex_plugins.fstp._bpdu import (
    BPDU_LEN,
    TAGGED_BPDU_LEN,
    Bpdu,
    bridge_id,
    decode_bpdu,
    encode_bpdu,
    port_id,
)

MAC = bytes.fromhex("02aabbccdd01")
BID = bridge_id(0x1234, MAC)

# B.3, switch "-F --macaddr 02:aa:bb:cc:dd:01 --priority 0x1234"
P_JOIN = bytes.fromhex("0180c200000002aabbccdd010027424203000002023c123402aabbccdd0100000000"
                       "123402aabbccdd018001000028000400000000")
P_HELLO = bytes.fromhex("0180c200000002aabbccdd010027424203000002027c123402aabbccdd0100000000"
                        "123402aabbccdd018001000028000400000000")
P_JOIN_TAGGED = bytes.fromhex("0180c200000002aabbccdd018100000a0027424203000002023c123402aabbcc"
                              "dd0100000000123402aabbccdd018001000028000400000000")
Q_JOIN_PORT17 = bytes.fromhex("0180c200000002aabbccdd010027424203000002023c123402aabbccdd010000"
                              "0000123402aabbccdd018111000028000400000000")


def root_bpdu(flags: int, port: int) -> Bpdu:
    return Bpdu(flags=flags, root=BID, cost=0, bridge=BID, port_id=port_id(port))


def test_encode_matches_the_captured_join_and_hello_frames():
    assert encode_bpdu(root_bpdu(0x3C, 1), src=MAC) == P_JOIN
    assert encode_bpdu(root_bpdu(0x7C, 1), src=MAC) == P_HELLO
    assert len(P_JOIN) == BPDU_LEN


def test_encode_tagged_matches_the_captured_frame():
    frame = encode_bpdu(root_bpdu(0x3C, 1), src=MAC, vid=10)
    assert frame == P_JOIN_TAGGED
    assert len(frame) == TAGGED_BPDU_LEN


def test_decode_captured_frames():
    hello = decode_bpdu(P_HELLO)
    assert hello == root_bpdu(0x7C, 1)
    assert (hello.max_age, hello.hello, hello.forward_delay) == (40.0, 4.0, 0.0)
    assert decode_bpdu(P_JOIN_TAGGED, tagged=True) == root_bpdu(0x3C, 1)


def test_port_ids_from_16_on_are_standard_and_vde_switch_ones_still_decode():
    """vde_switch writes port 17 as 81 11; vdex writes the 802.1D 80 11 (docs/fstp.md)."""
    assert port_id(17) == 0x8011
    ours = encode_bpdu(root_bpdu(0x3C, 17), src=MAC)
    assert ours[42:44] == bytes.fromhex("8011")
    assert ours[:42] == Q_JOIN_PORT17[:42] and ours[44:] == Q_JOIN_PORT17[44:]
    assert decode_bpdu(Q_JOIN_PORT17).port_id == 0x8111


def test_port_ids_keep_the_order_of_port_numbers():
    ids = [port_id(n) for n in range(4096)]
    assert ids == sorted(ids) and len(set(ids)) == 4096


def test_vde_switch_whole_second_ages_read_as_seconds():
    frame = bytearray(P_HELLO)
    frame[44:46] = bytes((7, 0))  # vde_switch: age 7 s as [7, 7 >> 8]
    assert decode_bpdu(bytes(frame)).age == 7.0
    assert encode_bpdu(Bpdu(flags=0, root=BID, cost=0, bridge=BID, port_id=1, age=7),
                       src=MAC)[44:46] == bytes((7, 0))


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda f: f[:52], "shorter"),
    (lambda f: b"\x01\x80\xc2\x00\x00\x0e" + f[6:], "spanning tree group"),
    (lambda f: f[:12] + b"\x08\x00" + f[14:], "EtherType"),
    (lambda f: f[:14] + b"\xaa\xaa\x03" + f[17:], "LLC"),
    (lambda f: f[:17] + b"\x00\x01" + f[19:], "protocol"),
    (lambda f: f[:19] + b"\x00\x00" + f[21:], "version 0 type 0"),
    (lambda f: f[:19] + b"\x02\x80" + f[21:], "version 2 type 128"),
])
def test_decode_refuses_what_is_not_a_vde_bpdu(mutate, message):
    with pytest.raises(FrameError, match=message):
        decode_bpdu(mutate(P_HELLO))


def test_tagged_decode_needs_a_tag():
    with pytest.raises(FrameError, match="tag"):
        decode_bpdu(P_HELLO + b"\0" * 4, tagged=True)
    with pytest.raises(FrameError, match="shorter"):
        decode_bpdu(P_HELLO, tagged=True)


@given(st.binary(max_size=80), st.booleans())
def test_decode_of_arbitrary_bytes_returns_or_raises_frame_error(data, tagged):
    try:
        bpdu = decode_bpdu(data, tagged=tagged)
    except FrameError as e:
        assert str(e)
    else:
        assert len(bpdu.root) == 8 and len(bpdu.bridge) == 8


@given(st.binary(min_size=BPDU_LEN - 21, max_size=BPDU_LEN + 20), st.booleans())
def test_any_body_behind_a_valid_header_decodes(body, tagged):
    """Flags, ids, cost and timers may hold any bytes (and padding may follow): they decode."""
    head = P_JOIN_TAGGED[:25] if tagged else P_JOIN[:21]
    bpdu = decode_bpdu(head + body, tagged=tagged)
    assert bpdu.flags == body[0]


_ID = st.binary(min_size=8, max_size=8)


@given(flags=st.integers(0, 255), root=_ID, cost=st.integers(0, 2**32 - 1), bridge=_ID,
       pid=st.integers(0, 0xFFFF), age=st.integers(0, 255), vid=st.none() | st.integers(0, 4094))
def test_round_trip(flags, root, cost, bridge, pid, age, vid):
    bpdu = Bpdu(flags=flags, root=root, cost=cost, bridge=bridge, port_id=pid, age=age)
    frame = encode_bpdu(bpdu, src=MAC, vid=vid)
    assert len(frame) == (BPDU_LEN if vid is None else TAGGED_BPDU_LEN)
    assert decode_bpdu(frame, tagged=vid is not None) == bpdu


def test_bridge_id_checks_its_inputs():
    assert bridge_id(0x8000, MAC) == bytes.fromhex("800002aabbccdd01")
    with pytest.raises(ValueError, match="16 bits"):
        bridge_id(0x10000, MAC)
    with pytest.raises(ValueError, match="6 bytes"):
        bridge_id(1, b"\0")
