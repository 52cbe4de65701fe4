"""vdex term against a real vde_switch -M and wirefilter -M: scripts, raw mode, and a pty."""

from __future__ import annotations

import os
import re
import select
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import pytest

from .helpers import PYTHON, RunningSwitch, stop_process
from .vdeclient_helper import VdeTestClient

pytestmark = pytest.mark.interop

TERM = [PYTHON, "-m", "vdex.tools.term"]


def script(sock: Path, text: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*TERM, *args, str(sock)], input=text, capture_output=True, text=True, timeout=30)


def test_script_prints_filtered_replies_and_waits_for_each(vde_switch: Callable[..., RunningSwitch]) -> None:
    switch = vde_switch("s", mgmt=True)
    assert switch.mgmt is not None
    result = script(switch.mgmt, "port/showinfo\n\n# a comment\nhash/showinfo\nds/showinfo\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "Numports=32\nHUB=false\ncounters=true\nSuccess\n"
        "Hash size 128\nGC interval 2 secs\nGC expire 100 secs\nMin persistence 3 secs\nSuccess\n"
        f"ctl dir {switch.dir}\nstd mode 0600\nSuccess\n"
    )


def test_script_errors_show_their_text(vde_switch: Callable[..., RunningSwitch]) -> None:
    switch = vde_switch("s", mgmt=True)
    assert switch.mgmt is not None
    result = script(switch.mgmt, "no/such/command\nvlan/create 0\nport/print 7\n")
    assert result.returncode == 0
    assert result.stdout == "Function not implemented\nInvalid argument\nNo such device or address\n"


def test_logout_ends_the_session_and_later_lines_are_not_sent(vde_switch: Callable[..., RunningSwitch]) -> None:
    switch = vde_switch("s", mgmt=True)
    assert switch.mgmt is not None
    result = script(switch.mgmt, "port/showinfo\nlogout\nshutdown\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith("Success\n")
    assert switch.proc.poll() is None  # 'shutdown' after logout was never sent


def test_shutdown_stops_the_switch(vde_switch: Callable[..., RunningSwitch]) -> None:
    switch = vde_switch("s", mgmt=True)
    assert switch.mgmt is not None
    assert script(switch.mgmt, "shutdown\n").returncode == 0
    assert switch.proc.wait(10) == 0


def test_raw_mode_shows_the_protocol_like_unixterm(vde_switch: Callable[..., RunningSwitch]) -> None:
    switch = vde_switch("s", mgmt=True)
    assert switch.mgmt is not None
    result = script(switch.mgmt, "vlan/create 0\nport/showinfo\n", "--raw")
    assert result.returncode == 0
    assert result.stdout.startswith("VDE switch V.2.3.2\n")
    assert "\nvde$ 1022 Invalid argument\n\nvde$ 0000 DATA END WITH '.'\nNumports=32\n" in result.stdout
    assert result.stdout.endswith(".\n1000 Success\n\nvde$ ")


def test_wirefilter_console(wirefilter_mgmt: Path) -> None:
    result = script(wirefilter_mgmt, "delay 20\nshowinfo\nfoo\nlogout\n")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "Success"
    assert "WireFilter: monodirectional" in lines and "Delay  20+0U" in lines
    assert lines[-1] == "Function not implemented"  # logout's "1-01 Unknown error -1" is not shown
    assert "Unknown error -1" in script(wirefilter_mgmt, "logout\n", "--raw").stdout


def test_connection_errors_are_clear(short_tmp: Path) -> None:
    result = script(short_tmp / "nothing.mgmt", "help\n")
    assert result.returncode == 1
    assert "cannot connect to" in result.stderr and "No such file or directory" in result.stderr


def test_server_going_away_mid_script_is_an_error(vde_switch: Callable[..., RunningSwitch]) -> None:
    switch = vde_switch("s", mgmt=True)
    assert switch.mgmt is not None
    proc = subprocess.Popen([*TERM, str(switch.mgmt)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, bufsize=0)
    try:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(b"port/showinfo\n")
        assert read_lines(proc.stdout, 4) == ["Numports=32", "HUB=false", "counters=true", "Success"]
        assert switch.proc.stdin is not None
        switch.proc.stdin.close()  # the switch exits
        switch.proc.wait(10)
        _out, err = proc.communicate(b"hash/showinfo\n", timeout=10)
        assert proc.returncode == 1
        assert b"closed the connection" in err
    finally:
        stop_process(proc)


def read_lines(stream: IO[bytes], count: int, timeout: float = 10.0) -> list[str]:
    """``count`` lines from an unbuffered subprocess pipe; fails after ``timeout``, never hangs."""
    data = b""
    deadline = time.monotonic() + timeout
    while data.count(b"\n") < count:
        assert select.select([stream], [], [], max(0.0, deadline - time.monotonic()))[0], data
        chunk = os.read(stream.fileno(), 4096)
        assert chunk, data
        data += chunk
    return data.decode().splitlines()


# -- interactive, on a pseudo terminal ----------------------------------------------------------

_ESCAPES = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")


@contextmanager
def on_pty(argv: list[str], home: Path) -> Iterator[tuple[subprocess.Popen[bytes], Callable[..., bytes], int]]:
    master, slave = os.openpty()
    env = {**os.environ, "HOME": str(home), "TERM": "xterm", "INPUTRC": "/dev/null"}
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True)
    os.close(slave)
    seen = bytearray()

    def expect(pattern: bytes, timeout: float = 10.0) -> bytes:
        """Read until ``pattern`` (terminal escapes removed) appears; return the text up to it."""
        deadline = time.monotonic() + timeout
        while pattern not in _ESCAPES.sub(b"", bytes(seen)):
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{pattern!r} not seen; got {bytes(seen)!r}")
            if select.select([master], [], [], left)[0]:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: the other side is gone
                    chunk = b""
                if not chunk:
                    raise AssertionError(f"{pattern!r} not seen before EOF; got {bytes(seen)!r}")
                seen.extend(chunk)
        text = _ESCAPES.sub(b"", bytes(seen))
        end = text.index(pattern) + len(pattern)
        seen[:] = text[end:]  # what came after the pattern is for the next expect
        return text[:end]

    try:
        yield proc, expect, master
    finally:
        stop_process(proc)
        os.close(master)


def test_interactive_console_redraws_the_line_around_async_messages(
    vde_switch: Callable[..., RunningSwitch], tmp_path: Path
) -> None:
    switch = vde_switch("s", mgmt=True)
    assert switch.mgmt is not None
    prompt = f"vde[{switch.mgmt}]: ".encode()
    with on_pty([*TERM, str(switch.mgmt)], tmp_path) as (proc, expect, master):
        banner = expect(prompt)
        assert banner.startswith(b"VDE switch V.2.3.2\r\n(C) Virtual Square Team")
        os.write(master, b"debug/add port\r")
        assert b"Success\r\n" + prompt in expect(b"Success\r\n" + prompt)
        os.write(master, b"hash/sh")  # half a command, not sent yet
        expect(b"hash/sh")
        with VdeTestClient(switch_dir=switch.dir):
            # The async line erases the input line and the prompt comes back with the typed text.
            out = expect(b"** DBG MSG: port/+ 01")
            out += expect(prompt + b"hash/sh")
            assert re.search(rb"\r\*\* DBG MSG: port/\+ 01\r+\n" + re.escape(prompt) + rb"hash/sh", out), out
            expect(b'-> "vdex-test-client"\r\r\n' + prompt + b"hash/sh")  # the last of the three
            os.write(master, b"owinfo\r")  # completes "hash/showinfo": the edit buffer survived
            assert b"Hash size 128" in expect(b"Min persistence 3 secs\r\nSuccess\r\n" + prompt)
        expect(b"** DBG MSG: port/- 01")  # the client left; let those messages pass
        os.write(master, b"port/showi\t")  # TAB completion from 'help'
        expect(b"port/showinfo")
        os.write(master, b"\r")
        expect(b"Numports=32")
        os.write(master, b"bogus\r")
        expect(b"Function not implemented\r\n" + prompt)
        os.write(master, b"logout\r")
        assert proc.wait(10) == 0
    history = (tmp_path / ".vdex_history" / "term")
    assert history.read_text().split("\n")[:4] == ["debug/add port", "hash/showinfo", "port/showinfo", "bogus"]
    assert history.stat().st_mode & 0o777 == 0o600


def test_interactive_console_exits_on_ctrl_d_and_when_the_switch_dies(
    vde_switch: Callable[..., RunningSwitch], tmp_path: Path
) -> None:
    first = vde_switch("s1", mgmt=True)
    with on_pty([*TERM, "--no-history", str(first.mgmt)], tmp_path) as (proc, expect, master):
        expect(b"]: ")
        os.write(master, b"\x04")
        assert proc.wait(10) == 0
    second = vde_switch("s2", mgmt=True)
    with on_pty([*TERM, "--no-history", str(second.mgmt)], tmp_path) as (proc, expect, master):
        expect(b"]: ")
        assert second.proc.stdin is not None
        second.proc.stdin.close()  # the switch exits while the user is at the prompt
        expect(b"the server closed the connection")
        assert proc.wait(10) == 1
    assert not (tmp_path / ".vdex_history").exists()
