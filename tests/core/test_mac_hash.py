"""vde_switch's MAC table bucket function: every bucket number seen in the spec's transcripts."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vdex._core.frame import parse_mac
from vdex._core.mac_hash import mac_bucket, round_hash_size

# (bucket, MAC, VLAN) from ``hash/print`` of the real vde_switch, hash size 128.
TRANSCRIPT_BUCKETS = [
    (43, "02:00:00:00:00:01", 0),  # A.1
    (60, "02:00:00:00:00:02", 0),  # A.1
    (9, "02:00:00:00:00:0a", 0),  # B.8
    (32, "02:00:00:00:00:0b", 10),
    (83, "02:00:00:00:00:0d", 0),
    (100, "02:00:00:00:00:0e", 0),
    (125, "02:00:00:00:00:0c", 10),
    (2, "02:00:00:00:00:77", 0),
    (119, "02:00:00:00:00:ee", 10),
]


@pytest.mark.parametrize(("bucket", "mac", "vlan"), TRANSCRIPT_BUCKETS)
def test_bucket_matches_vde_switch(bucket: int, mac: str, vlan: int) -> None:
    assert mac_bucket(parse_mac(mac), vlan, 128) == bucket


def test_the_vlan_is_part_of_the_key() -> None:
    mac = parse_mac("02:00:00:00:00:0b")
    assert mac_bucket(mac, 10, 128) != mac_bucket(mac, 0, 128)


@given(st.binary(min_size=6, max_size=6), st.integers(0, 4095), st.integers(0, 16))
def test_smaller_tables_take_the_low_bits(mac: bytes, vlan: int, bits: int) -> None:
    full = mac_bucket(mac, vlan, 1 << 16)
    assert mac_bucket(mac, vlan, 1 << bits) == full & ((1 << bits) - 1)


@pytest.mark.parametrize(("n", "size"), [(1, 1), (2, 2), (3, 4), (100, 128), (128, 128),
                                         (129, 256), (1000, 1024)])
def test_sizes_round_up_to_a_power_of_two(n: int, size: int) -> None:
    assert round_hash_size(n) == size


@pytest.mark.parametrize("n", [0, -1])
def test_sizes_must_be_positive(n: int) -> None:
    with pytest.raises(ValueError, match="positive"):
        round_hash_size(n)
