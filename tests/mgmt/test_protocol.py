"""The console protocol without I/O: status lines, framing, debug lines, the line buffer."""

from __future__ import annotations

import errno

from hypothesis import given
from hypothesis import strategies as st

from vdex.mgmt.protocol import (
    MAX_LINE,
    SWITCH_BANNER,
    SWITCH_PROMPT,
    LineBuffer,
    render_debug,
    render_reply,
    split_command,
    status_line,
)


def test_banner_and_prompt_are_vde_switchs() -> None:
    assert SWITCH_BANNER == ("VDE switch V.2.3.2\n(C) Virtual Square Team (coord. R. Davoli) "
                             "2005,2006,2007 - GPLv2\n")
    assert SWITCH_PROMPT == "\nvde$ "


def test_status_lines_are_errno_and_glibc_strerror() -> None:
    assert status_line(0) == "1000 Success"
    assert status_line(errno.ENOENT) == "1002 No such file or directory"
    assert status_line(errno.ENXIO) == "1006 No such device or address"
    assert status_line(errno.EEXIST) == "1017 File exists"
    assert status_line(errno.ENODEV) == "1019 No such device"
    assert status_line(errno.EINVAL) == "1022 Invalid argument"
    assert status_line(errno.ENOSPC) == "1028 No space left on device"
    assert status_line(errno.ENOSYS) == "1038 Function not implemented"
    assert status_line(errno.EADDRINUSE) == "1098 Address already in use"


def test_reply_framing() -> None:
    assert render_reply(["a", "b"], data_block=True, errno=0) == \
        "0000 DATA END WITH '.'\na\nb\n.\n1000 Success\n"
    assert render_reply(None, data_block=True, errno=errno.ENXIO) == \
        "0000 DATA END WITH '.'\n.\n1006 No such device or address\n", "framed even on failure"
    assert render_reply(None, data_block=False, errno=errno.ENOSYS) == \
        "1038 Function not implemented\n"


def test_debug_lines_have_an_octal_tag() -> None:
    assert render_debug(0o21, "port/+", "04") == "3021 port/+ 04\n"
    assert render_debug(0o101, "dump/packetin", "Pkt") == "3101 dump/packetin Pkt\n"
    assert render_debug(0o11, "hash/+", "02:00:00:00:00:03 VLAN 00:00 Port 4") == \
        "3011 hash/+ 02:00:00:00:00:03 VLAN 00:00 Port 4\n"


def test_split_command_skips_blanks_comments_and_line_ends() -> None:
    assert split_command("  \tport/print 3\r\n") == "port/print 3"
    assert split_command("") is None
    assert split_command("   ") is None
    assert split_command("# comment") is None
    assert split_command("   # indented comment") is None


def feed_all(chunks: list[bytes]) -> list[str | None]:
    buffer = LineBuffer()
    lines: list[str | None] = []
    for chunk in chunks:
        lines.extend(buffer.feed(chunk))
    return lines


def test_several_commands_in_one_write() -> None:
    assert feed_all([b"ds/showinfo\nport/showinfo\n"]) == ["ds/showinfo", "port/showinfo"]


def test_one_command_split_across_writes() -> None:
    assert feed_all([b"port/sh", b"owinfo", b"\n"]) == ["port/showinfo"]


def test_crlf_and_invalid_utf8() -> None:
    assert feed_all([b"help\r\n", b"\xff\xfe\n"]) == ["help", "\ufffd\ufffd"]


def test_flush_returns_an_unterminated_last_line() -> None:
    buffer = LineBuffer()
    assert buffer.feed(b"help\nshowinfo") == ["help"]
    assert buffer.flush() == "showinfo"
    assert buffer.flush() is None


def test_an_over_long_line_is_refused_once_and_its_bytes_dropped() -> None:
    buffer = LineBuffer()
    out = buffer.feed(b"x" * (MAX_LINE + 10))
    assert out == [None]
    assert buffer.feed(b"y" * (MAX_LINE * 3)) == [], "refused once, not once per chunk"
    assert buffer.feed(b"tail\nhelp\n") == ["help"], "the rest of the long line is dropped"
    assert buffer.flush() is None


def test_an_over_long_line_in_one_chunk_is_refused_once() -> None:
    assert feed_all([b"z" * (MAX_LINE + 1) + b"\nhelp\n"]) == [None, "help"]
    assert feed_all([b"z" * MAX_LINE + b"\nhelp\n"]) == ["z" * MAX_LINE, "help"]


line_text = st.text(alphabet=st.characters(blacklist_characters="\n\r",
                                            blacklist_categories=("Cs",)), max_size=60)


@given(st.lists(line_text, max_size=8), st.lists(st.integers(0, 10_000), max_size=12))
def test_any_split_of_several_commands_gives_the_same_lines(lines: list[str],
                                                             cuts: list[int]) -> None:
    data = "".join(f"{line}\n" for line in lines).encode()
    points = sorted({c % (len(data) + 1) for c in cuts})
    bounds = [0, *points, len(data)]
    chunks = [data[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]
    assert feed_all(chunks) == lines


@given(st.lists(st.binary(max_size=600), max_size=20))
def test_arbitrary_bytes_never_grow_the_buffer_past_the_limit(chunks: list[bytes]) -> None:
    buffer = LineBuffer()
    for chunk in chunks:
        for line in buffer.feed(chunk):
            assert line is None or len(line.encode("utf-8", "surrogatepass")) <= MAX_LINE * 3
        assert len(buffer._buf) <= MAX_LINE, "a client without newlines cannot grow memory"
