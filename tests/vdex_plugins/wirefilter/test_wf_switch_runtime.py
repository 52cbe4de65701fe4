"""wirefilter on a port of a running ``vdex switch``: attach, change and detach it from the console,
and measure what two real clients see."""

from __future__ import annotations

import shutil
import statistics
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from wf_lab import (
    PYTHON,
    REPO,
    Client,
    PromptConsole,
    await_path,
    paced_run,
    socket_accepts,
    wait_for,
)

pytestmark = pytest.mark.slow


@pytest.fixture(params=[["--plugin", "wirefilter"]], ids=["with-plugin"])
def switch(request: pytest.FixtureRequest) -> Iterator[tuple[Path, PromptConsole]]:
    root = Path(tempfile.mkdtemp(prefix="wfs", dir="/tmp"))
    directory, mgmt = root / "sw", root / "sw.mgmt"
    proc = subprocess.Popen(
        [PYTHON, "-m", "vdex", "switch", "-s", str(directory), "-M", str(mgmt), "--nostdin",
         *request.param],
        cwd=str(REPO), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE)
    console = None
    try:
        # Wait on the data socket: a probe connection to the console would open a session.
        wait_for(lambda: proc.poll() is not None or socket_accepts(directory / "ctl"),
                 what="vdex switch to accept clients")
        wait_for(lambda: proc.poll() is not None or mgmt.exists(), what="the console socket")
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else "died"
        console = PromptConsole(mgmt, b"\nvde$ ")
        yield directory, console
    finally:
        if console is not None:
            console.close()
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()
        shutil.rmtree(root, ignore_errors=True)


def test_wf_commands_on_a_running_switch(switch: tuple[Path, PromptConsole]) -> None:
    directory, console = switch
    sender, receiver = Client.join(directory, 1), Client.join(directory, 2)
    try:
        port = sender.conn.port
        await_path(sender, receiver)
        assert console(f"wf/add {port} delay=LR30") == "1000 Success\n"
        assert console(f"wf/add {port} delay=1").endswith("1017 File exists\n")
        result = paced_run(sender, receiver, count=50, interval=0.01, size=100, settle=0.3)
        assert result.received == 50
        assert min(result.latencies_ms.values()) >= 30.0
        assert statistics.median(result.latencies_ms.values()) < 35.0

        assert console(f"wf/set {port} delay LR5") == "1000 Success\n"
        assert console(f"wf/set {port} loss abc") == "1022 Invalid argument\n"
        result = paced_run(sender, receiver, count=20, interval=0.01, size=100, settle=0.3)
        assert 5.0 <= statistics.median(result.latencies_ms.values()) < 10.0

        show = console(f"wf/show {port}")
        assert "Delay  L->R 5+0U   R->L 0+0U\n" in show
        assert console("wf/show").splitlines()[1].startswith("PORT DIR")

        assert console("debug/add wf/markov") == "1000 Success\n"
        for line in (f"wf/set {port} markov-numnodes 2", f"wf/set {port} setedge 0,1,100",
                     f"wf/set {port} markov-name 1,bad", f"wf/set {port} markov-time 30"):
            assert console(line) == "1000 Success\n", line
        events = b""
        while b"\n" not in events:
            events += console.sock.recv(4096)
        assert events.startswith(f'3070 wf/markov Port {port:02d}: Node 0 "" -> 1 "bad"'.encode())
        console.sock.sendall(b"debug/del wf/markov\n")
        console.until(b"1000 Success\n\nvde$ ")

        assert console(f"wf/del {port}") == "1000 Success\n"
        result = paced_run(sender, receiver, count=20, interval=0.01, size=100, settle=0.3)
        assert statistics.median(result.latencies_ms.values()) < 5.0
        assert console(f"wf/del {port}") == "1002 No such file or directory\n"
    finally:
        sender.close()
        receiver.close()


@pytest.mark.parametrize("switch", [[]], ids=["without-plugin"], indirect=True)
def test_plugin_added_and_removed_at_runtime(switch: tuple[Path, PromptConsole]) -> None:
    directory, console = switch
    sender, receiver = Client.join(directory, 1), Client.join(directory, 2)
    try:
        port = sender.conn.port
        await_path(sender, receiver)
        assert console("wf/show").endswith("1038 Function not implemented\n")
        assert console("plugin/add wirefilter seed=3") == "1000 Success\n"
        assert console(f"wf/add {port} delay=LR20") == "1000 Success\n"
        result = paced_run(sender, receiver, count=20, interval=0.01, size=100, settle=0.3)
        assert min(result.latencies_ms.values()) >= 20.0
        assert console("plugin/del wirefilter") == "1000 Success\n"
        assert console("wf/show").endswith("1038 Function not implemented\n")
        result = paced_run(sender, receiver, count=20, interval=0.01, size=100, settle=0.3)
        assert result.received == 20
        assert statistics.median(result.latencies_ms.values()) < 5.0
    finally:
        sender.close()
        receiver.close()
