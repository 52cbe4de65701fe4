"""FSTP BPDUs: vde_switch's frames, an 802.1w RST BPDU layout with VDE's own meanings (spec §6.2).

Untagged, 53 bytes::

    0  dst 01:80:c2:00:00:00      6  src (switch MAC)      12 802.3 length 00 27
    14 LLC 42 42 03               17 protocol 00 00        19 version 2   20 type 2
    21 flags                      22 root id (8)           30 root path cost (4, big-endian)
    34 bridge id (8)              42 port id (2)           44 message age (2)
    46 max age (2)                48 hello time (2)        50 forward delay (2)
    52 version-1 length 0

On a tagged member port ``81 00`` + TCI (PCP 0, VID) follows the source address: 57 bytes.

Times are 802.1D's big-endian 1/256 s units. vde_switch writes whole seconds as ``[s, s >> 8]``,
which is the same bytes for any time under 256 s, so vdex writes standard values and reads both.

Flags: bit 0 topology change, bit 1 "proposal" (vde_switch: the port is blocked), bits 2-3 role,
bits 4-5 learning/forwarding, bit 6 agreement, bit 7 TC ack. The role bits follow vde_switch,
not 802.1w: see ``_machine`` and docs/fstp.md.
"""

from __future__ import annotations

import attrs

from vdex.errors import FrameError

BPDU_MAC = b"\x01\x80\xc2\x00\x00\x00"
BPDU_LEN = 53
TAGGED_BPDU_LEN = 57
_LLC = b"\x42\x42\x03"
_LENGTH_FIELD = b"\x00\x27"
"""802.3 length of an RST BPDU: LLC (3) + BPDU (36)."""

FLAG_TC = 0x01
FLAG_PROPOSAL = 0x02
ROLE_MASK = 0x0C
ROLE_VDE_ROOT = 0x04
"""What vde_switch sends on its root port (802.1w would read "Alternate/Backup")."""
ROLE_VDE_BLOCKED = 0x08
"""What vde_switch sends on a blocked non-root port (802.1w would read "Root")."""
ROLE_DESIGNATED = 0x0C
FLAG_LEARNING = 0x10
FLAG_FORWARDING = 0x20
FLAG_AGREEMENT = 0x40
FLAG_TC_ACK = 0x80

DEFAULT_MAX_AGE = 40.0
DEFAULT_HELLO = 4.0


def bridge_id(priority: int, mac: bytes) -> bytes:
    """The 8-byte bridge id: priority (16 bits, big-endian) then the switch MAC."""
    if not 0 <= priority <= 0xFFFF:
        raise ValueError(f"priority {priority} does not fit in 16 bits (0..65535)")
    if len(mac) != 6:
        raise ValueError(f"a MAC address has 6 bytes, not {len(mac)}")
    return priority.to_bytes(2, "big") + bytes(mac)


def port_id(number: int) -> int:
    """802.1D port id: priority 0x8 in the top 4 bits, the port number in the low 12.

    vde_switch writes ``0x80 | (port >> 4)`` in the first byte, wrong from port 16 on; only the
    order of a switch's own port ids matters to its neighbours, and both encodings keep it.
    """
    return 0x8000 | (number & 0x0FFF)


@attrs.frozen
class Bpdu:
    """One received or to-be-sent BPDU, without its Ethernet header."""

    flags: int
    root: bytes
    """Root bridge id (8 bytes)."""
    cost: int
    """Root path cost as advertised by the sender."""
    bridge: bytes
    """Sender's bridge id (8 bytes)."""
    port_id: int
    """Sender's port id (16 bits)."""
    age: float = 0.0
    """Message age, seconds."""
    max_age: float = DEFAULT_MAX_AGE
    hello: float = DEFAULT_HELLO
    forward_delay: float = 0.0

    @property
    def role_bits(self) -> int:
        return self.flags & ROLE_MASK


def _time_bytes(seconds: float) -> bytes:
    units = max(0, min(0xFFFF, round(seconds * 256)))
    return units.to_bytes(2, "big")


def encode_bpdu(bpdu: Bpdu, *, src: bytes, vid: int | None = None) -> bytes:
    """The frame vde_switch would send: untagged (53 bytes) or tagged with ``vid`` (57 bytes)."""
    header = BPDU_MAC + bytes(src)
    if vid is not None:
        header += bytes((0x81, 0x00, (vid >> 8) & 0x0F, vid & 0xFF))
    return b"".join((
        header, _LENGTH_FIELD, _LLC, b"\x00\x00\x02\x02", bytes((bpdu.flags & 0xFF,)),
        bpdu.root, min(bpdu.cost, 0xFFFFFFFF).to_bytes(4, "big"), bpdu.bridge,
        (bpdu.port_id & 0xFFFF).to_bytes(2, "big"), _time_bytes(bpdu.age),
        _time_bytes(bpdu.max_age), _time_bytes(bpdu.hello), _time_bytes(bpdu.forward_delay),
        b"\x00",
    ))


def is_bpdu_frame(frame: bytes) -> bool:
    """Is this frame addressed to the spanning tree group (01:80:c2:00:00:00)?"""
    return frame[:6] == BPDU_MAC


def decode_bpdu(frame: bytes, *, tagged: bool = False) -> Bpdu:
    """Parse an FSTP BPDU from a whole Ethernet frame (``tagged``: it carries an 802.1Q tag).

    :raises FrameError: saying what is wrong, for anything that is not an RST BPDU as vde_switch
        sends it (too short, wrong address, LLC, protocol, version or type).
    """
    data = bytes(frame)
    offset = 4 if tagged else 0
    need = BPDU_LEN + offset
    if len(data) < need:
        raise FrameError(f"BPDU of {len(data)} bytes is shorter than the {need} bytes of an "
                         f"RST BPDU{' with its VLAN tag' if tagged else ''}")
    if data[:6] != BPDU_MAC:
        raise FrameError(f"not addressed to the spanning tree group 01:80:c2:00:00:00 "
                         f"(got {data[:6].hex(':')})")
    if tagged and data[12:14] != b"\x81\x00":
        raise FrameError("said to be tagged but carries no 802.1Q tag")
    b = data[offset:]
    length = int.from_bytes(b[12:14], "big")
    if length >= 0x0600:
        raise FrameError(f"EtherType 0x{length:04x} where an 802.3 length was expected: not STP")
    if b[14:17] != _LLC:
        raise FrameError(f"LLC header {b[14:17].hex()} is not 424203 (spanning tree)")
    if b[17:19] != b"\x00\x00":
        raise FrameError(f"protocol id {b[17:19].hex()} is not 0000 (spanning tree)")
    version, kind = b[19], b[20]
    if version != 2 or kind != 2:
        raise FrameError(f"version {version} type {kind} is not an RST BPDU (version 2, type 2): "
                         "FSTP only understands vde_switch's BPDUs (802.1D bridges are ignored)")
    return Bpdu(
        flags=b[21],
        root=b[22:30],
        cost=int.from_bytes(b[30:34], "big"),
        bridge=b[34:42],
        port_id=int.from_bytes(b[42:44], "big"),
        age=int.from_bytes(b[44:46], "big") / 256,
        max_age=int.from_bytes(b[46:48], "big") / 256,
        hello=int.from_bytes(b[48:50], "big") / 256,
        forward_delay=int.from_bytes(b[50:52], "big") / 256,
    )


def format_bridge_id(bid: bytes) -> str:
    """``12:34:02:aa:bb:cc:dd:01``, as fstp/print shows ids."""
    return ":".join(f"{x:02x}" for x in bid)
