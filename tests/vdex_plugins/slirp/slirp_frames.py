"""Hand-built Ethernet frames for feeding a slirp bridge directly (ARP, ICMP echo, DHCP).

Just enough of each protocol to play a guest without a kernel: libslirp checks the IPv4 header
checksum, and accepts a UDP checksum of zero.
"""

from __future__ import annotations

import struct
from ipaddress import IPv4Address

BROADCAST = b"\xff" * 6
ETH_ARP = 0x0806
ETH_IPV4 = 0x0800
ETH_IPV6 = 0x86DD
GATEWAY_MAC = bytes.fromhex("52550a000202")
"""libslirp's MAC for 10.0.2.2: 52:55 followed by the address."""


def mac(n: int) -> bytes:
    """A locally administered unicast MAC numbered ``n``."""
    return bytes([0x02, 0, 0, 0, 0, n])


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ethernet(dst: bytes, src: bytes, ethertype: int, payload: bytes) -> bytes:
    return dst + src + struct.pack("!H", ethertype) + payload


def ipv4(src: str, dst: str, proto: int, payload: bytes, ttl: int = 64) -> bytes:
    header = struct.pack(
        "!BBHHHBBH4s4s",
        0x45, 0, 20 + len(payload), 0x1234, 0, ttl, proto, 0,
        IPv4Address(src).packed, IPv4Address(dst).packed,
    )  # fmt: skip
    header = header[:10] + struct.pack("!H", checksum(header)) + header[12:]
    return header + payload


def udp(sport: int, dport: int, payload: bytes) -> bytes:
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def arp_request(src_mac: bytes, src_ip: str, target_ip: str) -> bytes:
    body = struct.pack(
        "!HHBBH6s4s6s4s",
        1, ETH_IPV4, 6, 4, 1, src_mac, IPv4Address(src_ip).packed, b"\0" * 6,
        IPv4Address(target_ip).packed,
    )  # fmt: skip
    return ethernet(BROADCAST, src_mac, ETH_ARP, body)


def icmp_echo(
    src_mac: bytes, dst_mac: bytes, src_ip: str, dst_ip: str, ident: int, seq: int
) -> bytes:
    body = struct.pack("!BBHHH", 8, 0, 0, ident, seq) + b"vdex-ping"
    body = body[:2] + struct.pack("!H", checksum(body)) + body[4:]
    return ethernet(dst_mac, src_mac, ETH_IPV4, ipv4(src_ip, dst_ip, 1, body))


def dhcp(client_mac: bytes, xid: int, message_type: int, options: bytes = b"") -> bytes:
    """A DHCP client message from ``client_mac`` (0.0.0.0 -> 255.255.255.255:67)."""
    bootp = struct.pack(
        "!BBBBIHH4s4s4s4s16s64s128s",
        1, 1, 6, 0, xid, 0, 0x8000, b"\0" * 4, b"\0" * 4, b"\0" * 4, b"\0" * 4,
        client_mac.ljust(16, b"\0"), b"", b"",
    )  # fmt: skip
    opts = b"\x63\x82\x53\x63" + bytes([53, 1, message_type]) + options + b"\xff"
    payload = udp(68, 67, bootp + opts)
    return ethernet(
        BROADCAST, client_mac, ETH_IPV4, ipv4("0.0.0.0", "255.255.255.255", 17, payload)
    )


def dhcp_discover(client_mac: bytes, xid: int) -> bytes:
    return dhcp(client_mac, xid, 1)


def dhcp_request(client_mac: bytes, xid: int, requested: str, server: str) -> bytes:
    options = (
        bytes([50, 4]) + IPv4Address(requested).packed + bytes([54, 4]) + IPv4Address(server).packed
    )
    return dhcp(client_mac, xid, 3, options)


def parse_dhcp_reply(frame: bytes) -> dict[str, object] | None:
    """``{"to", "chaddr", "xid", "yiaddr", "type" (2 offer, 5 ack, 6 nak), "options"}``."""
    if len(frame) < 14 + 20 + 8 + 240 or frame[12:14] != b"\x08\x00" or frame[23] != 17:
        return None
    ihl = (frame[14] & 0x0F) * 4
    udp_at = 14 + ihl
    sport, dport = struct.unpack("!HH", frame[udp_at : udp_at + 4])
    if (sport, dport) != (67, 68):
        return None
    bootp = frame[udp_at + 8 :]
    xid = struct.unpack("!I", bootp[4:8])[0]
    yiaddr = str(IPv4Address(bootp[16:20]))
    options: dict[int, bytes] = {}
    pos = 240
    while pos < len(bootp) and bootp[pos] != 255:
        if bootp[pos] == 0:
            pos += 1
            continue
        code, length = bootp[pos], bootp[pos + 1]
        options[code] = bootp[pos + 2 : pos + 2 + length]
        pos += 2 + length
    return {
        "to": frame[0:6],
        "chaddr": bootp[28:34],
        "xid": xid,
        "yiaddr": yiaddr,
        "type": options.get(53, b"\0")[0],
        "options": options,
    }


def is_arp_reply(frame: bytes, sender_ip: str, target_ip: str) -> bool:
    return (
        frame[12:14] == b"\x08\x06"
        and frame[20:22] == b"\x00\x02"
        and frame[28:32] == IPv4Address(sender_ip).packed
        and frame[38:42] == IPv4Address(target_ip).packed
    )


def is_echo_reply(frame: bytes, ident: int, seq: int) -> bool:
    if frame[12:14] != b"\x08\x00" or frame[23] != 1:
        return False
    icmp_at = 14 + (frame[14] & 0x0F) * 4
    kind, _code, _sum, got_ident, got_seq = struct.unpack("!BBHHH", frame[icmp_at : icmp_at + 8])
    return kind == 0 and (got_ident, got_seq) == (ident, seq)


def is_router_advertisement(frame: bytes) -> bool:
    return frame[12:14] == b"\x86\xdd" and frame[20] == 58 and frame[54] == 134
