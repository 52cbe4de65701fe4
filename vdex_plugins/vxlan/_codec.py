"""RFC 7348 VXLAN encapsulation, sans-I/O: the 8-byte header in front of each Ethernet frame.

``08 00 00 00 | VNI (24 bits, big-endian) | 00``: the I flag says the VNI is valid; the other
bits are reserved. Received packets are accepted as vdeplug4's vxlan module accepts them (so
that the two interoperate both ways): the flags byte must be exactly ``0x08`` and the VNI must be
ours; the reserved bytes are ignored, as RFC 7348 asks; the frame after the header must be longer
than 14 bytes (an Ethernet header with nothing behind it is dropped).

The data path receives with ``recvmsg_into([header, frame])`` and calls :meth:`VxlanCodec.accept`
on the two parts, so no frame is copied; it sends with ``sendmsg([codec.header, frame])``.
"""

from __future__ import annotations

import attrs

from vdex.errors import ConfigError, FrameError

VXLAN_PORT = 4789
"""IANA port, source and destination (vdeplug4 uses it for both)."""
HEADER_LEN = 8
FLAGS_VNI_VALID = 0x08
MAX_VNI = (1 << 24) - 1
MIN_FRAME_LEN = 15
"""Shortest frame accepted after the header: vdeplug4 drops frames of 14 bytes or less."""


def check_vni(vni: int) -> int:
    """``vni`` if it fits in 24 bits, else a :class:`ConfigError`."""
    if not 0 <= vni <= MAX_VNI:
        raise ConfigError(f"VXLAN VNI {vni} is out of range (0 to {MAX_VNI})")
    return vni


def encode_header(vni: int) -> bytes:
    """The 8-byte header for ``vni``."""
    return bytes((FLAGS_VNI_VALID, 0, 0, 0)) + check_vni(vni).to_bytes(3, "big") + b"\x00"


def decode_header(packet: bytes | bytearray | memoryview) -> int:
    """The VNI of a packet's header, for tools and tests (the data path uses :class:`VxlanCodec`).

    :raises FrameError: shorter than a header, or flags other than ``0x08``.
    """
    if len(packet) < HEADER_LEN:
        raise FrameError(f"VXLAN packet of {len(packet)} bytes is shorter than its header")
    if packet[0] != FLAGS_VNI_VALID:
        raise FrameError(f"VXLAN flags 0x{packet[0]:02x}, expected 0x08 (VNI valid)")
    return int.from_bytes(packet[4:7], "big")


@attrs.frozen
class VxlanDrops:
    """Received packets a :class:`VxlanCodec` refused, by reason."""

    short: int
    """No room for a header and a frame longer than 14 bytes."""
    bad_flags: int
    wrong_vni: int


@attrs.define(eq=False, kw_only=True)
class VxlanCodec:
    """Encapsulation for one VNI, counting what it refuses."""

    vni: int = attrs.field(converter=check_vni)
    header: bytes = attrs.field(init=False)
    """The header every sent frame carries."""
    _vni_bytes: bytes = attrs.field(init=False)
    _short: int = 0
    _bad_flags: int = 0
    _wrong_vni: int = 0

    def __attrs_post_init__(self) -> None:
        self.header = encode_header(self.vni)
        self._vni_bytes = self.header[4:7]

    def accept(self, header: bytes | bytearray | memoryview, frame_len: int) -> bool:
        """True if a packet received as ``header`` (8 bytes) plus ``frame_len`` frame bytes is
        ours; otherwise count why and return False. ``frame_len`` may be negative (a packet
        shorter than the header)."""
        if frame_len < MIN_FRAME_LEN:
            self._short += 1
            return False
        if header[0] != FLAGS_VNI_VALID:
            self._bad_flags += 1
            return False
        if header[4:7] != self._vni_bytes:
            self._wrong_vni += 1
            return False
        return True

    def decapsulate(self, packet: bytes | bytearray | memoryview) -> memoryview | None:
        """The frame inside ``packet`` (a view, no copy), or None if refused (and counted)."""
        view = memoryview(packet)
        if not self.accept(view[:HEADER_LEN], len(view) - HEADER_LEN):
            return None
        return view[HEADER_LEN:]

    def encapsulate(self, frame: bytes | bytearray | memoryview) -> bytes:
        """Header and frame in one buffer (the data path sends the two parts with sendmsg)."""
        return self.header + bytes(frame)

    def statistics(self) -> VxlanDrops:
        return VxlanDrops(short=self._short, bad_flags=self._bad_flags, wrong_vni=self._wrong_vni)


__all__ = [
    "HEADER_LEN",
    "MAX_VNI",
    "MIN_FRAME_LEN",
    "VXLAN_PORT",
    "VxlanCodec",
    "VxlanDrops",
    "check_vni",
    "decode_header",
    "encode_header",
]
