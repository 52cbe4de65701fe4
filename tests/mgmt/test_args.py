"""The console's number parsing (vdex.mgmt.args) against the C library it imitates.

Two properties matter: the C emulations (``c_atoi``, ``c_scan_ints``) read text exactly as
glibc's ``atoi``/``sscanf("%i")`` do, and the strict parsers used by commands accept a word only
when C would read that whole word as the same number.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from vdex.errors import MgmtError
from vdex.mgmt.args import (
    c_atoi,
    c_scan_ints,
    parse_bool,
    parse_int,
    parse_ints,
    parse_optional_int,
    scan_c_int,
)

_LIBC = ctypes.CDLL(ctypes.util.find_library("c"))
_ARG_TEXT = st.text(alphabet="0123456789xXaAfFgz +-\t,_", max_size=9)
_WORD = st.text(alphabet="0123456789xXaAfF+-_8", min_size=1, max_size=8)


@pytest.mark.parametrize(("text", "value"), [
    ("", 0), ("abc", 0), ("  42", 42), ("42abc", 42), ("-7", -7), ("+3", 3), ("0x10", 0),
    ("010", 10), ("\t9", 9), ("1_0", 1), ("--5", 0)])
def test_c_atoi(text: str, value: int) -> None:
    assert c_atoi(text) == value


@pytest.mark.parametrize(("text", "values"), [
    ("1 2", [1, 2]), ("0x0a 1", [10, 1]), ("012 3", [10, 3]), ("10 1 junk", [10, 1]),
    ("10", None), ("10,1", None), ("", None), ("-1 -2", [-1, -2]), ("0 0", [0, 0]),
    ("0x 1", [0, 1]), ("08 1", [0, 8]), ("  7\t8", [7, 8])])
def test_c_scan_ints(text: str, values: list[int] | None) -> None:
    assert c_scan_ints(text, 2) == values


@given(_ARG_TEXT)
def test_c_atoi_matches_the_c_library(text: str) -> None:
    assert c_atoi(text) == _LIBC.atoi(text.encode())


@given(_ARG_TEXT)
def test_c_scan_ints_matches_the_c_library(text: str) -> None:
    a, b = ctypes.c_int(-99), ctypes.c_int(-99)
    matched = _LIBC.sscanf(text.encode(), b"%i %i", ctypes.byref(a), ctypes.byref(b))
    expected = [a.value, b.value] if matched == 2 else None
    assert c_scan_ints(text, 2) == expected


def _c_whole(word: str, conversion: bytes) -> int | None:
    """What C reads from ``word`` with ``conversion`` if it consumes the whole word."""
    value, used = ctypes.c_int(), ctypes.c_int(-1)
    matched = _LIBC.sscanf(word.encode(), conversion + b"%n", ctypes.byref(value),
                           ctypes.byref(used))
    return value.value if matched == 1 and used.value == len(word.encode()) else None


@given(_WORD)
@example("0x")
@example("08")
@example("1_0")
@example("--5")
def test_strict_parse_accepts_only_what_c_reads_whole(word: str) -> None:
    for base, conversion in ((0, b"%i"), (10, b"%d")):
        c_value = _c_whole(word, conversion)
        try:
            value = parse_int(word, base=base)
        except MgmtError as exc:
            assert exc.errno == errno.EINVAL
            assert c_value is None or word in ("0x", "0X", "+0x", "-0x", "+0X", "-0X")
        else:
            assert value == c_value, (word, base)


@pytest.mark.parametrize("word", ["٣", "1_0", "--5", "0x", "08", "", " ", "5 6", "1" * 65])
def test_strict_parse_refuses(word: str) -> None:
    with pytest.raises(MgmtError) as info:
        parse_int(word)
    assert info.value.errno == errno.EINVAL


def test_strict_parse_bases_and_helpers() -> None:
    assert parse_int("010") == 8
    assert parse_int("010", base=10) == 10
    assert parse_int(" 0x1F ") == 31
    with pytest.raises(MgmtError, match="decimal expected"):
        parse_int("0x10", base=10)
    with pytest.raises(MgmtError, match="leading 0 means octal"):
        parse_int("09")
    assert parse_ints("0x0a 012", 2, "N PORT") == [10, 10]
    assert parse_ints("010 2", 2, "N PORT", base=10) == [10, 2]
    with pytest.raises(MgmtError, match="expected N PORT"):
        parse_ints("1 2 3", 2, "N PORT")
    assert parse_optional_int("  ") is None
    assert parse_optional_int("010", base=10) == 10
    assert parse_bool("1") and parse_bool("010") and not parse_bool("0")
    with pytest.raises(MgmtError):
        parse_bool("yes")
    assert scan_c_int("x 12y", 1) == (12, 4)
    with pytest.raises(ValueError):
        scan_c_int("1", base=16)
