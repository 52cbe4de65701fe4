"""Frame builders for tests."""

from __future__ import annotations

TEST_ETHERTYPE = 0x88B5
"""IEEE local experimental EtherType: never mistaken for real traffic."""


def mac(n: int) -> bytes:
    """A locally administered unicast MAC ``02:00:00:00:xx:xx`` from a small number."""
    return b"\x02\x00\x00\x00" + n.to_bytes(2, "big")


BROADCAST = b"\xff" * 6


def eth_frame(dst: bytes, src: bytes, payload: bytes = b"test", *,
              ethertype: int = TEST_ETHERTYPE, vid: int | None = None, pcp: int = 0) -> bytes:
    """An Ethernet frame (no FCS), 802.1Q tagged when ``vid`` is given."""
    tag = b"" if vid is None else b"\x81\x00" + ((pcp << 13) | vid).to_bytes(2, "big")
    return dst + src + tag + ethertype.to_bytes(2, "big") + payload
