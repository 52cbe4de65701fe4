"""Our getopt_long_only against glibc's own, driven through ctypes on the same arguments."""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from ctypes import POINTER, Structure, c_char_p, c_int

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vdex.errors import UsageError
from vdex_plugins.slirp._getopt import LongOption, getopt_long_only
from vdex_plugins.slirp._options import LONG_OPTIONS, SHORT_OPTIONS


class COption(Structure):
    _fields_ = [("name", c_char_p), ("has_arg", c_int), ("flag", POINTER(c_int)), ("val", c_int)]


LIBC = ctypes.CDLL(None)
LIBC.getopt_long_only.argtypes = [
    c_int,
    POINTER(c_char_p),
    c_char_p,
    POINTER(COption),
    POINTER(c_int),
]
LIBC.getopt_long_only.restype = c_int


def _val(key: str, index: int) -> int:
    return ord(key) if len(key) == 1 else 0x100 + index


def glibc(
    args: Sequence[str], shortopts: str, longopts: Sequence[LongOption]
) -> tuple[list[tuple[str, str | None]], list[str]] | None:
    """glibc's verdict: (options, operands), or None if it reported any error."""
    keys = {_val(opt.key, i): opt.key for i, opt in enumerate(longopts)}
    table = (COption * (len(longopts) + 1))(
        *[
            COption(opt.name.encode(), opt.has_arg, None, _val(opt.key, i))
            for i, opt in enumerate(longopts)
        ],
        COption(None, 0, None, 0),
    )
    argc = len(args) + 1
    argv = (c_char_p * (argc + 1))(b"prog", *[a.encode() for a in args], None)
    optind = c_int.in_dll(LIBC, "optind")
    opterr = c_int.in_dll(LIBC, "opterr")
    optarg = c_char_p.in_dll(LIBC, "optarg")
    optind.value = 0  # glibc: 0 means start over and re-read its settings
    opterr.value = 0
    options: list[tuple[str, str | None]] = []
    failed = False
    while (code := LIBC.getopt_long_only(argc, argv, shortopts.encode(), table, None)) != -1:
        if code in (ord("?"), ord(":")):
            failed = True
            continue
        value = optarg.value
        options.append((keys.get(code, chr(code)), None if value is None else value.decode()))
    if failed:
        return None
    operands = [argv[i].decode() for i in range(optind.value, argc)]  # type: ignore[union-attr]
    return options, operands


def ours(
    args: Sequence[str], shortopts: str, longopts: Sequence[LongOption]
) -> tuple[list[tuple[str, str | None]], list[str]] | None:
    try:
        parsed = getopt_long_only(args, shortopts, longopts, program="prog")
    except UsageError:
        return None
    return list(parsed.options), list(parsed.operands)


@pytest.fixture(autouse=True)
def _no_posixly_correct(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POSIXLY_CORRECT", raising=False)


NAMES = [opt.name for opt in LONG_OPTIONS]
TOKENS = st.one_of(
    st.builds(
        lambda dashes, name, cut: dashes + name[:cut],
        st.sampled_from(["-", "--"]),
        st.sampled_from(NAMES),
        st.integers(1, 12),
    ),
    st.builds(
        lambda dashes, name, value: f"{dashes}{name}={value}",
        st.sampled_from(["-", "--"]),
        st.sampled_from(NAMES),
        st.text(alphabet="ab10.:/", max_size=4),
    ),
    st.builds(
        lambda letters: "-" + "".join(letters),
        st.lists(st.sampled_from(list("DsnHpgmLUXxtNdqhzP:;W")), min_size=1, max_size=4),
    ),
    st.sampled_from(["-", "--", "", "sw", "/tmp/sw", "10.0.2.2/24", "8080:10.0.2.15:80"]),
    st.text(alphabet="-abcdDnsq=:", max_size=6),
)


@settings(max_examples=1500, deadline=None)
@given(st.lists(TOKENS, max_size=8))
def test_same_verdict_as_glibc(args: list[str]) -> None:
    assert ours(args, SHORT_OPTIONS, LONG_OPTIONS) == glibc(args, SHORT_OPTIONS, LONG_OPTIONS)


@pytest.mark.parametrize(
    "args",
    [
        ["-dhcp", "-sock", "/tmp/sw"],
        ["-dq", "sw"],
        ["-so", "x"],  # ambiguous: socket, sock
        ["-sock=x", "-daemon"],
        ["-D", "--dhcp=10.0.2.40", "-dhcp", "10.0.2.40"],  # optional argument only after '='
        ["-s/tmp/sw", "-n10.0.2.0/24", "-Lx"],
        ["-ne", "10.1.0.0/16", "-na", "1.2.3.4", "-no"],
        ["--", "-D"],
        ["-P", "3"],
        ["-port", "3", "-mod", "0660", "-g", "vde"],
        ["-:", "-W", "x"],
        ["-t"],
    ],
)
def test_known_command_lines_match_glibc(args: list[str]) -> None:
    assert ours(args, SHORT_OPTIONS, LONG_OPTIONS) == glibc(args, SHORT_OPTIONS, LONG_OPTIONS)


def test_single_dash_long_options_and_fallback_to_short() -> None:
    parsed = getopt_long_only(
        ["-dhcp", "-sock", "/tmp/sw", "-dq", "extra"], SHORT_OPTIONS, LONG_OPTIONS, program="p"
    )
    assert parsed.options == (("D", None), ("s", "/tmp/sw"), ("d", None), ("q", None))
    assert parsed.operands == ("extra",)


def test_ambiguous_prefix_names_the_candidates() -> None:
    with pytest.raises(UsageError, match="'-so' is ambiguous; possibilities: -socket, -sock"):
        getopt_long_only(["-so", "x"], SHORT_OPTIONS, LONG_OPTIONS, program="slirpvde")
