"""The management-stream parser: events from the bytes a vde_switch console sends."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from vdex.tools._mgmt_stream import (
    Banner,
    DataLine,
    DebugMessage,
    Event,
    MgmtStreamParser,
    Prompt,
    SessionEnd,
    Status,
    TextLine,
    help_commands,
    render,
)

# Verbatim from the real vde_switch 2.3.2 (spec vde_switch.md §3 and a capture on this machine).
SWITCH_BANNER = b"VDE switch V.2.3.2\n(C) Virtual Square Team (coord. R. Davoli) 2005,2006,2007 - GPLv2\n\nvde$ "
SWITCH_SESSION = SWITCH_BANNER + (
    b"0000 DATA END WITH '.'\nNumports=32\nHUB=false\ncounters=true\n.\n1000 Success\n\nvde$ "
    b"1038 Function not implemented\n\nvde$ "
    b"1000 Success\n\nvde$ 3021 port/+ 01\n3031 port/ep/+ Port 01 FD  6\n"
    b"vde[/tmp/rc]: port/showinfo\n0000 DATA END WITH '.'\n.\n1006 No such device or address\n\nvde$ "
    b"9999 END OF SESSION"
)
WIREFILTER_BANNER = b"\nVDE wirefilter V.2.3.2\n(C) R.Davoli 2005,2006 - GPLv2\n\nVDEwf$ "


def parse_all(chunks: list[bytes]) -> list[Event]:
    parser = MgmtStreamParser()
    events: list[Event] = []
    for chunk in chunks:
        events += parser.feed(chunk)
    return events + parser.close()


def test_a_whole_switch_session() -> None:
    prompt = Prompt("vde$ ")
    assert parse_all([SWITCH_SESSION]) == [
        Banner(("VDE switch V.2.3.2", "(C) Virtual Square Team (coord. R. Davoli) 2005,2006,2007 - GPLv2", "")),
        prompt,
        DataLine("Numports=32"), DataLine("HUB=false"), DataLine("counters=true"),
        Status(0, "Success"), TextLine(""), prompt,
        Status(38, "Function not implemented"), TextLine(""), prompt,
        Status(0, "Success"), TextLine(""), prompt,
        DebugMessage("3021", "port/+ 01"), DebugMessage("3031", "port/ep/+ Port 01 FD  6"),
        TextLine("vde[/tmp/rc]: port/showinfo"), Status(6, "No such device or address"), TextLine(""), prompt,
        SessionEnd("END OF SESSION"),
    ]


def test_wirefilter_banner_and_prompt_name() -> None:
    parser = MgmtStreamParser()
    events = parser.feed(WIREFILTER_BANNER)
    assert events == [
        Banner(("", "VDE wirefilter V.2.3.2", "(C) R.Davoli 2005,2006 - GPLv2", "")),
        Prompt("VDEwf$ "),
    ]
    assert Prompt("VDEwf$ ").name == "VDEwf"
    assert parser.feed(b"1-01 Unknown error -1\n") == [Status(-1, "Unknown error -1")]


def test_prompt_is_reported_once_when_it_arrives_alone_and_async_text_follows() -> None:
    parser = MgmtStreamParser()
    parser.feed(SWITCH_BANNER)
    assert parser.feed(b"1000 Success\n\nvde$ ") == [Status(0, "Success"), TextLine(""), Prompt("vde$ ")]
    assert parser.feed(b"3021 port/+ 01\n") == [DebugMessage("3021", "port/+ 01")]


def test_prompt_lookalike_inside_a_data_block_is_data() -> None:
    # wirefilter's load echoes "\nVDEwf$  (file) command" inside its data block.
    parser = MgmtStreamParser()
    parser.feed(WIREFILTER_BANNER)
    events = parser.feed(b"0000 DATA END WITH '.'\n\nVDEwf$  (/tmp/rc) delay 20\n1000 Success\n.\n1000 Success\n\nVDEwf$ ")
    assert events == [
        DataLine(""), DataLine("VDEwf$  (/tmp/rc) delay 20"), DataLine("1000 Success"),
        Status(0, "Success"), TextLine(""), Prompt("VDEwf$ "),
    ]


def test_render_hides_codes_like_vdeterm() -> None:
    assert render(Status(0, "Success")) == "Success"
    assert render(Status(38, "Function not implemented")) == "Function not implemented"
    assert render(DebugMessage("3021", "port/+ 01")) == "** DBG MSG: port/+ 01"
    assert render(DataLine("")) == ""
    assert render(TextLine("")) is None
    assert render(TextLine("vde[/tmp/rc]: x")) == "vde[/tmp/rc]: x"
    assert render(SessionEnd("END OF SESSION")) is None
    assert render(Prompt("vde$ ")) is None


def test_help_commands_skip_menu_headers_and_keep_one_of_each() -> None:
    switch_help = [
        "COMMAND PATH       SYNTAX          HELP",
        "------------       --------------  ------------",
        "ds                 ============    DATA SOCKET MENU",
        "ds/showinfo                        show ds info",
        "help               [arg]           Help (limited to arg when specified)",
        "port               ============    PORT STATUS MENU",
        "port/print         [N]             print the port/endpoint table",
    ]
    assert help_commands(switch_help) == ["ds/showinfo", "help", "port/print"]
    wirefilter_help = ["COMMAND      HELP", "------------ ------------", "showinfo     show status",
                       "loss         set loss", "showinfo n         markov mode: show parameter values"]
    assert help_commands(wirefilter_help) == ["loss", "showinfo"]


@given(st.lists(st.integers(min_value=0, max_value=len(SWITCH_SESSION)), max_size=30))
def test_events_do_not_depend_on_how_the_stream_is_chunked(cuts: list[int]) -> None:
    points = sorted(set(cuts))
    chunks = [SWITCH_SESSION[a:b] for a, b in zip([0, *points], [*points, len(SWITCH_SESSION)], strict=True)]
    assert parse_all(chunks) == parse_all([SWITCH_SESSION])


@given(st.lists(st.binary(max_size=40), max_size=20))
def test_arbitrary_bytes_never_break_the_parser(chunks: list[bytes]) -> None:
    parser = MgmtStreamParser()
    for chunk in [SWITCH_BANNER, *chunks]:
        for event in parser.feed(chunk):
            render(event)
    parser.close()
