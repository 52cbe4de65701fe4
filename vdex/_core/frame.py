"""Ethernet frame facts and the frame parser used outside the per-frame path.

The forwarding path never builds a parsed object: it indexes the bytes it receives. This module
holds the constants it relies on, MAC address text conversion, and :func:`parse_frame`, the full
parser for tools, debugging and tests.
"""

from __future__ import annotations

import attrs

from ..errors import FrameError

ETH_HEADER_LEN = 14
"""Destination MAC, source MAC, EtherType: the shortest datagram a VDE switch accepts."""
MAX_FRAME_LEN = 1518
"""vde_switch's receive buffer: 14 header bytes plus 1504. Longer datagrams are refused."""
DOT1Q_TAG_LEN = 4
TPID_8021Q = 0x8100
TPID_8021Q_BYTES = b"\x81\x00"
VID_MASK = 0x0FFF
BROADCAST_MAC = b"\xff" * 6
BPDU_MAC = b"\x01\x80\xc2\x00\x00\x00"


def is_multicast(mac: bytes) -> bool:
    """True for group addresses (I/G bit set), broadcast included."""
    return bool(mac[0] & 1)


def format_mac(mac: bytes) -> str:
    """``02:00:00:00:00:01``, the form vde_switch prints."""
    return ":".join(f"{b:02x}" for b in mac)


def parse_mac(text: str) -> bytes:
    """Parse ``a:b:c:d:e:f`` or ``a.b.c.d.e.f`` (hex bytes, one or two digits each).

    :raises ValueError: with a message naming the expected forms.
    """
    parts = text.strip().split(":") if ":" in text else text.strip().split(".")
    if len(parts) != 6 or not all(1 <= len(p) <= 2 for p in parts):
        raise ValueError(f"{text!r} is not a MAC address: expected six hex bytes like 02:00:00:00:00:01")
    try:
        return bytes(int(p, 16) for p in parts)
    except ValueError:
        raise ValueError(
            f"{text!r} is not a MAC address: expected six hex bytes like 02:00:00:00:00:01"
        ) from None


@attrs.frozen
class EthernetFrame:
    """A parsed frame: addresses, optional 802.1Q tag, EtherType (or 802.3 length), payload."""

    dst: bytes
    src: bytes
    ethertype: int
    payload: bytes
    tci: int | None = None
    """The 802.1Q tag control information (PCP, DEI, VID), or None if untagged."""

    @property
    def vid(self) -> int | None:
        return None if self.tci is None else self.tci & VID_MASK

    @property
    def pcp(self) -> int | None:
        return None if self.tci is None else self.tci >> 13

    def to_bytes(self) -> bytes:
        tag = b"" if self.tci is None else TPID_8021Q_BYTES + self.tci.to_bytes(2, "big")
        return self.dst + self.src + tag + self.ethertype.to_bytes(2, "big") + self.payload


def parse_frame(data: bytes) -> EthernetFrame:
    """Parse one Ethernet frame as it travels between VDE endpoints (no preamble, no FCS).

    :raises FrameError: for frames shorter than 14 bytes, longer than 1522 bytes (1518 plus one
        802.1Q tag), or tagged frames too short to hold the tag and an EtherType.
    """
    n = len(data)
    if n < ETH_HEADER_LEN:
        raise FrameError(f"frame of {n} bytes is shorter than an Ethernet header (14 bytes)")
    if n > MAX_FRAME_LEN + DOT1Q_TAG_LEN:
        raise FrameError(f"frame of {n} bytes is longer than {MAX_FRAME_LEN + DOT1Q_TAG_LEN} bytes")
    dst, src = bytes(data[0:6]), bytes(data[6:12])
    ethertype = int.from_bytes(data[12:14], "big")
    if ethertype != TPID_8021Q:
        return EthernetFrame(dst, src, ethertype, bytes(data[14:]))
    if n < ETH_HEADER_LEN + DOT1Q_TAG_LEN:
        raise FrameError(f"802.1Q tagged frame of {n} bytes is shorter than its 18-byte header")
    tci = int.from_bytes(data[14:16], "big")
    inner = int.from_bytes(data[16:18], "big")
    return EthernetFrame(dst, src, inner, bytes(data[18:]), tci)
