"""vde_switch's MAC table bucket function, so ``hash/print`` lists entries where it would.

The bucket only decides the order and the ``Hash: NNNN`` column of ``hash/print``: vdex keeps its
entries in dictionaries and never suffers collisions. The function is the murmur3 64-bit finaliser
over (MAC bytes 0-3 little-endian, bytes 4-5 little-endian, VLAN), see spec §4.3.
"""

from __future__ import annotations

_M64 = (1 << 64) - 1


def mac_bucket(mac: bytes, vlan: int, size: int) -> int:
    """Return the bucket vde_switch would use for (mac, vlan) in a table of ``size`` buckets."""
    x = int.from_bytes(mac[0:4], "little") | (int.from_bytes(mac[4:6], "little") << 32) | (vlan << 48)
    x ^= x >> 33
    x = (x * 0xFF51AFD7ED558CCD) & _M64
    x ^= x >> 33
    x = (x * 0xC4CEB9FE1A85EC53) & _M64
    return x & (size - 1)


def round_hash_size(n: int) -> int:
    """Round ``n`` up to a power of two, as ``--hashsize`` and ``hash/setsize`` do."""
    if n <= 0:
        raise ValueError("hash size must be positive")
    return 1 << (n - 1).bit_length()
