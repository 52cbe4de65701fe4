"""The ``vdex wirefilter`` console against wirefilter's transcripts (spec Appendix A, and replies
captured from Debian's wirefilter 2.3.2 on this machine), and the fixes for its faults."""

from __future__ import annotations

import random
from pathlib import Path

import attrs
import pytest
import trio
import trio.testing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vdex.mgmt.context import EndSession, Session
from vdex_plugins.wirefilter._console import BANNER, PROMPT, make_console, post_markov_change
from vdex_plugins.wirefilter._model import WireFilterModel
from vdex_plugins.wirefilter._values import LR, RL


@attrs.define(eq=False, kw_only=True)
class Target:
    model: WireFilterModel = attrs.Factory(lambda: WireFilterModel(rng=random.Random(1)))
    mono: bool = False
    blink: tuple[str, str] | None = None
    t: float = 0.0

    def now(self) -> float:
        return self.t


class Rig:
    def __init__(self, target: Target | None = None) -> None:
        self.target = target or Target()
        self.console = make_console(self.target)
        self.posted: list[str] = []
        self.session = self.console.new_session(self.posted.append)

    async def __call__(self, line: str, session: Session | None = None) -> str:
        return await self.console.execute(session or self.session, line)


DATA = "0000 DATA END WITH '.'\n"
OK = "1000 Success\n"
EINVAL = "1022 Invalid argument\n"

DEFAULT_SHOWINFO = (
    DATA
    + "WireFilter: bidirectional\n"
    "Loss   L->R 0+0U   R->L 0+0U\n"
    "Lburst L->R 0+0U   R->L 0+0U\n"
    "Delay  L->R 0+0U   R->L 0+0U\n"
    "Dup    L->R 0+0U   R->L 0+0U\n"
    "Bandw  L->R 0+0U   R->L 0+0U\n"
    "Speed  L->R 0+0U   R->L 0+0U\n"
    "Noise  L->R 0+0U   R->L 0+0U\n"
    "MTU    L->R 0     R->L 0   \n"
    "Cap.   L->R 0+0U   R->L 0+0U\n"
    "Current Delay Queue size:   L->R 0      R->L 0   \n"
    "Fifoness TRUE\n"
    "Waiting packets in delay queues 0\n"
    ".\n" + OK
)


async def test_banner_and_prompt_are_wirefilters() -> None:
    assert BANNER == "\nVDE wirefilter V.2.3.2\n(C) R.Davoli 2005,2006 - GPLv2\n"
    assert PROMPT == "\nVDEwf$ "


async def test_help_is_verbatim() -> None:
    reply = await Rig()("help")
    lines = reply.splitlines()
    assert lines[:4] == ["0000 DATA END WITH '.'", "COMMAND      HELP", "------------ ------------",
                         "help         print a summary of mgmt commands"]
    assert "markov-name n,name markov mode: set state's name" in lines
    assert lines[-3:] == ["showstats          show frame counters and drops", ".", "1000 Success"]


async def test_showinfo_defaults_byte_for_byte() -> None:
    assert await Rig()("showinfo") == DEFAULT_SHOWINFO


async def test_showinfo_after_settings_byte_for_byte() -> None:
    rig = Rig()
    for command in ("delay 100+20N", "loss LR10", "loss RL5.5", "bandwidth 128+64KN", "speed 1M",
                    "mtu 1500", "noise 8", "dup 1", "lostburst 3", "chanbufsize 64K", "fifo 0"):
        assert await rig(command) == OK, command
    assert await rig("showinfo") == (
        DATA
        + "WireFilter: bidirectional\n"
        "Loss   L->R 10+0U   R->L 5.5+0U\n"
        "Lburst L->R 3+0U   R->L 3+0U\n"
        "Delay  L->R 100+20N   R->L 100+20N\n"
        "Dup    L->R 1+0U   R->L 1+0U\n"
        "Bandw  L->R 131072+65536N   R->L 131072+65536N\n"
        "Speed  L->R 1.04858e+06+0U   R->L 1.04858e+06+0U\n"
        "Noise  L->R 8+0U   R->L 8+0U\n"
        "MTU    L->R 1500     R->L 1500   \n"
        "Cap.   L->R 65536+0U   R->L 65536+0U\n"
        "Current Delay Queue size:   L->R 0      R->L 0   \n"
        "Fifoness FALSE\n"
        "Waiting packets in delay queues 0\n"
        ".\n" + OK
    )
    assert await rig("band 2G") == OK
    assert "Bandw  L->R 2.14748e+09+0U   R->L 2.14748e+09+0U\n" in await rig("showinfo")


async def test_showinfo_counts_queued_bytes_with_headers() -> None:
    """Captured: 5 frames of 100 bytes LR and 3 RL with -d 2000."""
    rig = Rig()
    await rig("delay 2000")
    for _i in range(5):
        rig.target.model.submit(LR, bytes(100), 0.0)
    for _i in range(3):
        rig.target.model.submit(RL, bytes(100), 0.0)
    reply = await rig("showinfo")
    assert "Current Delay Queue size:   L->R 510      R->L 306   \n" in reply
    assert "Waiting packets in delay queues 8\n" in reply


async def test_mono_showinfo_with_markov_and_blink() -> None:
    rig = Rig(Target(mono=True, blink=("/tmp/wfx/bl", "010408")))
    for command in ("markov-numnodes 2", "loss 3", "delay 20+5N"):
        assert await rig(command) == OK
    assert await rig("showinfo") == (
        DATA
        + "WireFilter: monodirectional\n"
        'Node 0 "" (0,..,1) Markov-time 100\n'
        "Loss   3+0U\nLburst 0+0U\nDelay  20+5N\nDup    0+0U\nBandw  0+0U\nSpeed  0+0U\n"
        "Noise  0+0U\nMTU    0\nCap.   0+0U\n"
        "Current Delay Queue size:   0\n"
        "Fifoness TRUE\n"
        "Waiting packets in delay queues 0\n"
        "Blink socket: /tmp/wfx/bl\n"
        "Blink id:     010408 \n"
        ".\n" + OK
    )


async def test_mtu_shows_its_minimum() -> None:
    rig = Rig(Target(mono=True))
    await rig("mtu 100+10")
    assert "MTU    90\n" in await rig("showinfo")


async def test_markov_commands_and_their_errors() -> None:
    rig = Rig()
    assert await rig("markov-numnodes 3") == OK
    assert await rig("markov-name 0,good") == OK
    assert await rig("markov-name 1,bad") == OK
    assert await rig("setedge 0,1,30") == OK
    assert await rig("showedges") == (DATA + 'Edge 0 ->0  "good"->"good" weigth 70\n'
                                      'Edge 0 ->1  "good"->"bad" weigth 30\n.\n' + OK)
    assert await rig("showcurrent") == DATA + 'Current Markov Node 0 "good" (0,..,2)\n.\n' + OK
    assert await rig("delay LR500+10U[1]") == OK
    reply = await rig("showinfo 1")
    assert 'Node 1 "bad" (0,..,2) Markov-time 100\n' in reply
    assert "Delay  L->R 500+10U   R->L 0+0U\n" in reply
    assert await rig("showinfo 5") == DATA + ".\n" + EINVAL
    for bad in ("markov-setnode 9", "markov-time 0", "markov-numnodes 0", "setedge 0,5,1",
                "loss 5[3]"):
        assert await rig(bad) == EINVAL, bad
    assert await rig("foo") == "1038 Function not implemented\n"
    assert await rig("markov-time 0.5") == OK
    assert "Markov-time 0.5\n" in await rig("showinfo")


async def test_setedge_refuses_self_loops_and_more_than_one_hundred_percent() -> None:
    rig = Rig()
    await rig("markov-numnodes 3")
    assert await rig("setedge 0,1,80") == OK
    assert await rig("setedge 0,2,30") == EINVAL
    assert await rig("setedge 0,0,5") == EINVAL
    assert await rig("setedge 0,1,10") == OK
    assert await rig("showedges 0") == (DATA + 'Edge 0 ->0  ""->"" weigth 90\n'
                                        'Edge 0 ->1  ""->"" weigth 10\n.\n' + OK)


@pytest.mark.parametrize(
    "line",
    ["loss abc", "lossy 5", "showinfoXYZ", "fifo abc", "delay", "mtu -5", "delay 10 20",
     "bandwidth 1T", "markov-name 1", "setedge 0,1", "markov-debug x", "speed LR", "dup 5%"],
)
async def test_bad_values_get_a_console_error_and_change_nothing(line: str) -> None:
    """wirefilter answers 1000 Success to all of these and silently does nothing."""
    rig = Rig()
    before = await rig("showinfo")
    reply = await rig(line)
    assert reply.endswith(EINVAL)
    assert await rig("showinfo") == before


async def test_blank_lines_and_comments_print_nothing() -> None:
    rig = Rig()
    assert await rig("") == ""
    assert await rig("   ") == ""
    assert await rig("# delay 100") == ""


async def test_commands_match_by_prefix_in_wirefilters_order() -> None:
    rig = Rig()
    assert await rig("bandwidth 100") == OK
    assert await rig("band 200") == OK
    assert await rig("capacity 1K") == OK
    model = rig.target.model
    assert model.value(4, LR).value == 200 and model.value(8, RL).value == 1024


async def test_load_echoes_each_line_then_its_reply(tmp_path: Path) -> None:
    rc = tmp_path / "rc1"
    rc.write_text("delay 20+5N\n# comment\nloss LR3\nbogus\n")
    rig = Rig()
    assert await rig(f"load {rc}") == (
        DATA
        + f"\nVDEwf$  ({rc}) delay 20+5N\n{OK}"
        + f"\nVDEwf$  ({rc}) # comment\n"
        + f"\nVDEwf$  ({rc}) loss LR3\n{OK}"
        + f"\nVDEwf$  ({rc}) bogus\n1038 Function not implemented\n"
        + ".\n" + OK
    )
    assert rig.target.model.value(2, RL).format() == "20+5N"
    assert await rig("load /nonexistent") == DATA + ".\n1002 No such file or directory\n"


async def test_logout_and_shutdown_end_the_session() -> None:
    rig = Rig()
    with pytest.raises(EndSession) as logout:
        await rig("logout")
    assert not logout.value.shutdown
    with pytest.raises(EndSession) as shutdown:
        await rig("shutdown")
    assert shutdown.value.shutdown


async def test_markov_debug_lines_go_to_subscribed_sessions_only() -> None:
    rig = Rig()
    other: list[str] = []
    rig.console.new_session(other.append)
    await rig("markov-numnodes 2")
    await rig("markov-name 1,second")
    assert await rig("markov-debug 1") == OK
    post_markov_change(rig.console, rig.target.model, 0, 1)
    post_markov_change(rig.console, rig.target.model, 1, 0)
    assert rig.posted == ['3801 Node 0 "" -> 1 "second"\n', '3800 Node 1 "second" -> 0 ""\n']
    assert other == []
    await rig("markov-debug 0")
    post_markov_change(rig.console, rig.target.model, 0, 1)
    assert len(rig.posted) == 2


async def converse(chunks: list[bytes]) -> bytes:
    """A whole socket conversation: the chunks as separate writes, then end of file."""
    console = make_console(Target())
    client, server = trio.testing.memory_stream_pair()
    received = bytearray()

    async def serve() -> None:
        async with server:
            await console.converse(server.receive_some, server.send_all)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve)
        for chunk in chunks:
            await client.send_all(chunk)
        await client.send_eof()
        while data := await client.receive_some(65536):
            received += data
    return bytes(received)


async def test_several_commands_in_one_write_all_run() -> None:
    """wirefilter runs only the first command of a read(); vdex runs every line."""
    out = await converse([b"delay 10\nloss 5\nshowinfo\n"])
    assert out.startswith((BANNER + PROMPT).encode())
    assert out.count(b"1000 Success") == 3
    assert b"Loss   L->R 5+0U   R->L 5+0U\n" in out
    assert b"Delay  L->R 10+0U   R->L 10+0U\n" in out


async def test_logout_replies_success_and_closes() -> None:
    """wirefilter replies '1-01 Unknown error -1'."""
    out = await converse([b"logout\nshowinfo\n"])
    assert out == (BANNER + PROMPT + "1000 Success\n").encode()


_LINE = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\n"),
                max_size=30)
_COMMANDS = st.sampled_from(["loss ", "delay ", "showinfo", "markov-numnodes ", "setedge ",
                             "fifo ", "", "# ", "showedges ", "mtu ", "help", "dup "])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(_COMMANDS, _LINE), max_size=8))
async def test_any_line_gets_exactly_one_status_line_or_nothing(
    lines: list[tuple[str, str]]
) -> None:
    rig = Rig()
    for command, rest in lines:
        line = command + rest
        reply = await rig(line)
        if not reply:
            assert not line.strip(" \t") or line.lstrip(" \t").startswith("#")
            continue
        status = [x for x in reply.splitlines()
                  if x[:1] == "1" and x[1:4].isdigit() and x[4:5] == " "]
        assert len(status) == 1 and reply.endswith(status[0] + "\n"), reply


@settings(max_examples=60, deadline=None)
@given(st.data())
async def test_write_boundaries_do_not_change_the_conversation(data: st.DataObject) -> None:
    script = b"delay 10+5N\nloss LR3\r\n\n# c\nshowinfo\nbogus\nmtu 1500\nshowinfo\n"
    cuts = sorted(data.draw(st.sets(st.integers(1, len(script) - 1), max_size=12)))
    chunks = [script[a:b] for a, b in zip([0, *cuts], [*cuts, len(script)], strict=True)]
    assert await converse(chunks) == await converse([script])
