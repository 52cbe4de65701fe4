"""vdex dpipe as a process: pipes and fds, process group, exit codes, pid files, signals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from .helpers import PYTHON, dpipe_argv, group_is_empty, stop_process, wait_for

SCRIPTS = Path(__file__).parent / "scripts"
FDREPORT = [PYTHON, str(SCRIPTS / "fdreport.py")]
ENV = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}


def run_dpipe(*args: str, timeout: float = 30, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        dpipe_argv(*args), capture_output=True, text=True, timeout=timeout, env=ENV, **kwargs  # type: ignore[call-overload]
    )


def reports(path: Path) -> dict[str, dict]:
    return {r["name"]: r for r in map(json.loads, path.read_text().splitlines())}


def test_three_commands_get_the_documented_pipes_and_alternate_fds(tmp_path: Path) -> None:
    out = tmp_path / "fds.jsonl"
    result = run_dpipe(*FDREPORT, str(out), "A", "=", *FDREPORT, str(out), "B", "=", *FDREPORT, str(out), "C")
    assert result.returncode == 0, result.stderr
    r = reports(out)
    a, b, c = (r[n]["fds"] for n in "ABC")
    assert {x["alt_in"] for x in r.values()} == {"3"}  # exported to every command
    assert {x["alt_out"] for x in r.values()} == {"4"}
    assert a["1"] == b["0"] and b["1"] == a["0"]  # A <-> B on stdin/stdout
    assert b["4"] == c["0"] and c["1"] == b["3"]  # B's alternates <-> C
    assert "3" not in a and "4" not in a and "3" not in c and "4" not in c
    assert len({a["0"], a["1"], b["3"], b["4"]}) == 4 and all(p.startswith("pipe:") for p in b.values() if p != b["2"])
    assert len({x["pgrp"] for x in r.values()}) == 1


def test_alternate_fds_skip_descriptors_the_children_inherit(tmp_path: Path) -> None:
    out = tmp_path / "fds.jsonl"
    script = " ".join(
        [f"exec 3</dev/null; exec {PYTHON} -m vdex.tools.dpipe"]
        + [f"{PYTHON} {SCRIPTS / 'fdreport.py'} {out} {n} {'=' if n != 'C' else ''}" for n in "ABC"]
    )
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=ENV, timeout=30)
    assert result.returncode == 0, result.stderr
    r = reports(out)
    assert (r["B"]["alt_in"], r["B"]["alt_out"]) == ("4", "5")
    assert r["A"]["fds"]["3"] == "/dev/null" and r["B"]["fds"]["3"] == "/dev/null"


def test_data_flows_both_ways(tmp_path: Path) -> None:
    ask = "import sys; print('ping', flush=True); print(sys.stdin.readline().strip(), file=sys.stderr)"
    answer = "import sys; line = sys.stdin.readline().strip(); print(line + '-pong', flush=True)"
    result = run_dpipe(PYTHON, "-c", ask, "=", PYTHON, "-c", answer)
    assert result.returncode == 0
    assert result.stderr.strip() == "ping-pong"


def test_exit_status_is_the_last_commands() -> None:
    assert run_dpipe("true", "=", "sh", "-c", "exit 7").returncode == 7
    assert run_dpipe("sh", "-c", "exit 7", "=", "true").returncode == 0


def test_last_command_killed_by_a_signal_gives_128_plus_signal() -> None:
    assert run_dpipe("true", "=", "sh", "-c", "kill -9 $$").returncode == 128 + 9


def test_missing_command_is_127_with_a_clear_message_and_nothing_left_running(tmp_path: Path) -> None:
    pgrp = tmp_path / "pgrp"
    result = run_dpipe("-P", str(pgrp), "cat", "=", "no-such-command-vdex", "x")
    assert result.returncode == 127
    assert "cannot run 'no-such-command-vdex'" in result.stderr
    assert not pgrp.exists()


@pytest.mark.parametrize("args", [["-h"], ["--help"], ["a", "="], ["a"], ["a", "=}", "b", "=", "c"], ["--bogus"]])
def test_usage_errors_and_help_do_not_kill_the_callers_process_group(args: list[str]) -> None:
    # The reference sends SIGTERM to the caller's process group here; the shell must survive.
    shell = f"{PYTHON} -m vdex.tools.dpipe {' '.join(repr(a) for a in args)}; echo rc=$?; echo survived"
    result = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, env=ENV, timeout=30)
    assert "survived" in result.stdout
    expected = 0 if args[0] in ("-h", "--help") else 2
    assert f"rc={expected}" in result.stdout
    assert "usage" in (result.stdout + result.stderr).lower()


def test_runs_as_a_session_leader_and_creates_a_group_otherwise(tmp_path: Path) -> None:
    out = tmp_path / "fds.jsonl"
    # As a session leader (the reference fails with "cannot create pgrp").
    result = run_dpipe(*FDREPORT, str(out), "A", "=", *FDREPORT, str(out), "B", start_new_session=True)
    assert result.returncode == 0, result.stderr
    # Started inside our process group: dpipe moves the chain into a new one.
    out2 = tmp_path / "fds2.jsonl"
    result = run_dpipe(*FDREPORT, str(out2), "A", "=", *FDREPORT, str(out2), "B")
    assert result.returncode == 0
    groups = {r["pgrp"] for r in reports(out2).values()}
    assert len(groups) == 1 and os.getpgrp() not in groups


def test_children_get_default_sigpipe(tmp_path: Path) -> None:
    status = tmp_path / "status"
    result = run_dpipe("sh", "-c", f"grep SigIgn /proc/self/status > {status}", "=", "true")
    assert result.returncode == 0
    ignored = int(status.read_text().split()[1], 16)
    assert not ignored & (1 << (signal.SIGPIPE - 1))


def start_long_chain(tmp_path: Path, *extra: str, chain: list[str] | None = None) -> tuple[subprocess.Popen[bytes], Path, Path]:
    pidfile, pgrpfile = tmp_path / "dpipe.pid", tmp_path / "dpipe.pgrp"
    argv = dpipe_argv("-p", str(pidfile), "-P", str(pgrpfile), *extra, *(chain or ["cat", "=", "cat"]))
    proc = subprocess.Popen(argv, env=ENV, stderr=subprocess.PIPE)
    wait_for(lambda: pgrpfile.exists() and pgrpfile.read_text().endswith("\n"), what="pgrp file")
    return proc, pidfile, pgrpfile


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_terminating_signal_stops_every_command_and_removes_the_files(tmp_path: Path, sig: int) -> None:
    proc, pidfile, pgrpfile = start_long_chain(tmp_path)
    try:
        assert int(pidfile.read_text()) == proc.pid
        pgid = -int(pgrpfile.read_text())
        assert pgid == proc.pid
        wait_for(lambda: _children(proc.pid) == 2, what="two commands")
        proc.send_signal(sig)
        assert proc.wait(10) == 128 + sig
        assert group_is_empty(pgid), "a command was left running"
        assert not pidfile.exists() and not pgrpfile.exists()
    finally:
        stop_process(proc)


def stubborn_command(ready: Path) -> list[str]:
    """A command that ignores SIGTERM and says so by creating ``ready``."""
    code = (
        "import pathlib, signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "pathlib.Path(sys.argv[1]).touch(); time.sleep(600)"
    )
    return [PYTHON, "-c", code, str(ready)]


def test_commands_ignoring_sigterm_are_killed_after_the_grace_period(tmp_path: Path) -> None:
    ready = tmp_path / "ignoring"
    proc, _pidfile, pgrpfile = start_long_chain(
        tmp_path, "--kill-after", "0.3", chain=[*stubborn_command(ready), "=", "cat"]
    )
    try:
        pgid = -int(pgrpfile.read_text())
        wait_for(ready.exists, what="the stubborn command to ignore SIGTERM")
        proc.terminate()
        assert proc.wait(10) == 128 + signal.SIGTERM
        assert group_is_empty(pgid)
    finally:
        stop_process(proc)


def test_a_second_signal_kills_at_once(tmp_path: Path) -> None:
    ready = tmp_path / "ignoring"
    proc, _pidfile, pgrpfile = start_long_chain(
        tmp_path, "--kill-after", "600", chain=[*stubborn_command(ready), "=", "cat"]
    )
    try:
        pgid = -int(pgrpfile.read_text())
        wait_for(lambda: ready.exists() and _children(proc.pid) == 2, what="two commands")
        proc.terminate()
        wait_for(lambda: _children(proc.pid) == 1, what="cat to end")  # the stubborn one is left
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 128 + signal.SIGTERM  # the first signal is what stopped dpipe
        assert group_is_empty(pgid)
    finally:
        stop_process(proc)


def test_start_failure_also_stops_commands_that_ignore_sigterm(tmp_path: Path) -> None:
    # The first command may not have ignored SIGTERM yet when the second fails to start; either
    # way dpipe must not return while it runs (run_dpipe waits for the pipes dpipe holds).
    pgrp = tmp_path / "pgrp"
    result = run_dpipe(
        "-P", str(pgrp), "--kill-after", "0.2", *stubborn_command(tmp_path / "ignoring"), "=",
        "no-such-command-vdex",
    )
    assert result.returncode == 127
    assert not pgrp.exists()


def _children(pid: int) -> int:
    try:
        return len(Path(f"/proc/{pid}/task/{pid}/children").read_text().split())
    except OSError:
        return -1


def test_nowrapproc_execs_the_last_command_and_a_cleaner_removes_the_files(tmp_path: Path) -> None:
    proc, pidfile, pgrpfile = start_long_chain(tmp_path, "-n")
    try:
        assert int(pidfile.read_text()) == proc.pid
        wait_for(lambda: Path(f"/proc/{proc.pid}/cmdline").read_bytes() == b"cat\0", what="exec of the last command")
        proc.terminate()  # the last command (cat) dies; the cleanup process notices
        proc.wait(10)
        wait_for(lambda: not pidfile.exists() and not pgrpfile.exists(), what="pid files removed")
    finally:
        stop_process(proc)
        pgid = proc.pid
        if not group_is_empty(pgid):
            os.killpg(pgid, signal.SIGTERM)


def test_nowrapnoclean_leaves_the_files(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    result = run_dpipe("-N", "-p", str(pidfile), "true", "=", "true")
    assert result.returncode == 0
    assert pidfile.exists()


def test_daemon_returns_once_running_and_stops_cleanly(tmp_path: Path) -> None:
    pidfile, pgrpfile = tmp_path / "d.pid", tmp_path / "d.pgrp"
    result = run_dpipe("-d", "-p", str(pidfile), "-P", str(pgrpfile), "cat", "=", "cat", timeout=30)
    assert result.returncode == 0, result.stderr
    pid = int(pidfile.read_text())  # written before the caller returned
    pgid = -int(pgrpfile.read_text())
    try:
        assert pgid == pid == os.getsid(pid)  # daemon: its own session and group
        os.kill(pid, signal.SIGTERM)
        wait_for(lambda: group_is_empty(pgid), what="daemon chain gone")
        assert not pidfile.exists() and not pgrpfile.exists()
    finally:
        if not group_is_empty(pgid):
            os.killpg(pgid, signal.SIGKILL)


def test_daemon_reports_a_start_failure_to_the_caller(tmp_path: Path) -> None:
    result = run_dpipe("-d", "cat", "=", "no-such-command-vdex", timeout=30)
    assert result.returncode == 1
    assert "cannot run 'no-such-command-vdex'" in result.stderr


def test_unwritable_pidfile_is_an_error_before_anything_runs(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    result = run_dpipe("-p", str(tmp_path / "missing" / "pid"), "touch", str(marker), "=", "true")
    assert result.returncode == 1
    assert "No such file or directory" in result.stderr
    assert not marker.exists()
