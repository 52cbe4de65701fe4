"""Property: whatever bytes a console client sends, in whatever writes, every line gets one
well-framed reply (or the session ends on logout), and the switch keeps serving.

One switch serves every example: hypothesis runs in a worker thread and drives each example
through the switch's trio loop with ``trio.from_thread.run``.
"""

from __future__ import annotations

import trio
from harness import PROMPT, RawConsole, check_framing
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from vdex.mgmt.protocol import LineBuffer, split_command
from vdex.testing import AsyncVdeClient, eth_frame, mac, running_switch
from vdex.testing.frames import BROADCAST

WORDS = [w.encode() for w in (
    "help", "showinfo", "ds/showinfo", "port/print", "port/allprint", "port/create",
    "port/createauto", "port/remove", "port/allocatable", "port/setuser", "port/setgroup",
    "port/resetcounter", "port/showinfo", "port/counters", "hash/find", "hash/print",
    "hash/showinfo", "hash/setexpire", "hash/setminper", "hash/setgcint", "debug/add",
    "debug/del", "debug/list", "logout", "root", "NONE", "nobody", "02:00:00:00:00:01",
    "1.2.3", "0x10", "010", "-1", "99999999999999999999999", "#", " ", "\t", "\r", "\n", "\n\n",
    "\r\n", "\x00", "\xff", "%s%n", "'", '"', "\\")]
FORBIDDEN = (b"shutdown", b"load", b"connect", b"plugin", b"tap", b"fstp", b"vlan", b"setnumports",
             b"sethub", b"epclose", b"wf/", b"setsize")
"""Commands with effects outside this property: stopping the switch, reading files, opening
ports or loading code, changing what the final check relies on."""

fragment = st.one_of(st.binary(max_size=24), st.sampled_from(WORDS))
chunk = st.lists(fragment, max_size=6).map(b"".join)


async def one_session(path: str, chunks: list[bytes]) -> None:
    data = b"".join(chunks) + b"\nport/showinfo\n"
    lines = LineBuffer().feed(data)
    commands = [split_command(line) if line is not None else "<too long>" for line in lines]
    ends = next((i for i, c in enumerate(commands) if c and c.startswith("logout")), None)
    async with await RawConsole.connect(path) as c:
        await c.banner()
        try:
            for piece in [*chunks, b"\nport/showinfo\n"]:
                if piece:
                    await c.send(piece)
        except trio.BrokenResourceError:
            # After a logout the switch closes the session; what we still send meets EPIPE.
            if ends is None:
                raise
        expected = len(lines) if ends is None else ends
        for _ in range(expected):
            reply = (await c.read_until(PROMPT, timeout=10))[: -len(PROMPT)].decode()
            check_framing(reply)
        if ends is None:
            assert "Numports=" in reply, reply
        else:
            assert await c.read_to_eof(timeout=10) == b"9999 END OF SESSION"


async def test_arbitrary_console_input_never_crashes_a_session_or_the_switch(sockdir: str
                                                                           ) -> None:
    async with running_switch(sockdir) as sw, \
            await AsyncVdeClient.connect(sw.options.sock) as a, \
            await AsyncVdeClient.connect(sw.options.sock) as b:
        token = trio.lowlevel.current_trio_token()

        @settings(max_examples=200, deadline=None, derandomize=False,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
        @given(st.lists(chunk, min_size=1, max_size=5))
        @example([b"logout\nport/print\x95\xa5\x86", b"F\x90e^t\x88A3\x10",
                  b"logout\nport/print", b"port/createport/allprintdebug/add"])  # CI, EPIPE
        def check(chunks: list[bytes]) -> None:
            joined = b"".join(chunks)
            assume(not any(word in joined.lower() for word in FORBIDDEN))
            trio.from_thread.run(one_session, sw.options.mgmt, chunks, trio_token=token)

        await trio.to_thread.run_sync(check)
        assert sw.running
        await a.send(eth_frame(BROADCAST, mac(1), b"still switching"))
        assert await b.recv() == eth_frame(BROADCAST, mac(1), b"still switching")
