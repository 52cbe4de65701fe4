"""The ``vdex`` command line: help, refusal of bad flags and values, daemon and pid file,
signals, stdin console and EOF, the ``-p`` pid-file-or-plugin rule."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
import trio
from harness import RawConsole, sockets_in, wait_until

from vdex.cli import main
from vdex.testing.processes import VDEX, process, switch_process, vdex_switch, wait_for_path

SUBCOMMANDS = ["switch", "plug", "dpipe", "term", "plug2tap", "wirefilter"]


def run(*args: str, cwd: str | None = None) -> subprocess.CompletedProcess[str]:
    """``vdex ARGS`` as a real process."""
    return subprocess.run([*VDEX, *args], capture_output=True, text=True, timeout=60, cwd=cwd,
                          stdin=subprocess.DEVNULL)


def run_here(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``vdex ARGS`` in this process (for what stops before anything starts: help, usage
    errors); returns the exit status, stdout and stderr."""
    try:
        code = main(list(args))
    except SystemExit as exc:  # argparse's --help
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_vdex_help_lists_every_command() -> None:
    result = run("--help")
    assert result.returncode == 0
    assert result.stdout.startswith("vdex 0.1.0: Virtual Distributed Ethernet")
    for name in SUBCOMMANDS:
        assert f"\n  {name} " in result.stdout, name


def test_vdex_without_a_command_prints_usage_and_fails(capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    code, out, _err = run_here(capsys)
    assert code == 2
    assert "usage: vdex COMMAND" in out


def test_an_unknown_command_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = run_here(capsys, "nosuch")
    assert code == 2
    assert "unknown command 'nosuch'" in err
    assert "usage: vdex COMMAND" in err


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_every_subcommand_has_help(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_here(capsys, name, "--help")
    assert code == 0, err
    assert out.startswith(f"usage: vdex {name} ")


def test_switch_help_shows_vde_switch_flags_and_plugin_options(
        capsys: pytest.CaptureFixture[str]) -> None:
    _code, out, _err = run_here(capsys, "switch", "--help")
    for flag in ("-s DIR", "--sock DIR", "-n N", "--numports N", "-x", "--hub", "--macaddr MAC",
                 "--hashsize N", "-m MODE", "--dirmode MODE", "-g GROUP", "-d", "--daemon",
                 "-p FILE", "--pidfile FILE", "-f FILE", "--rcfile FILE", "-M SOCK",
                 "--mgmt SOCK", "--mgmtmode MODE", "--mgmtgroup GROUP", "--nostdin",
                 "--plugin NAME", "--allow-plugin-modules"):
        assert flag in out, flag
    assert "-t TAP" in out and "-F" in out, "plugins add their options (tap, fstp)"


BAD_SWITCH_ARGS = [
    (["-n", "abc"], "argument -n/--numports: 'abc' is not a number"),
    (["-n", "0"], "'0' must be a positive number"),
    (["--hashsize", "-4"], "'-4' must be a positive number"),
    (["--macaddr", "zz"], "expected six hex bytes like 02:00:00:00:00:01"),
    (["-m", "999"], "'999' is not an octal mode (expected something like 0660)"),
    (["--dirmode", "rwx"], "'rwx' is not an octal mode"),
    (["--mgmtmode", "77777"], "out of range (0000 to 7777)"),
    (["-g", "nosuchgroup"], "-g/--group: no such group: 'nosuchgroup' (expected a group name"),
    (["--mgmtgroup", "nosuchgroup"], "--mgmtgroup: no such group: 'nosuchgroup'"),
    (["--bogus"], "unrecognized arguments: --bogus"),
    (["-s"], "-s/--sock/--vdesock/--unix: expected one argument"),
    (["--log-level", "chatty"], "'chatty' is not a log level (expected one of DEBUG, INFO"),
    (["-p", "no:core"], "'core': is essential and cannot be blocked"),
    (["--plugin", "nosuch"], "'nosuch': no such plugin (installed: "),
]


@pytest.mark.parametrize(("args", "message"), BAD_SWITCH_ARGS,
                         ids=[" ".join(a) for a, _m in BAD_SWITCH_ARGS])
def test_bad_switch_flags_say_what_is_expected(args: list[str], message: str, sockdir: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = run_here(capsys, "switch", "-s", os.path.join(sockdir, "sw"), *args)
    assert code == 2, err
    assert message in err
    assert err.startswith("vdex switch: ")
    assert not os.path.exists(os.path.join(sockdir, "sw")), "nothing was created"


def test_a_bad_flag_exits_2_from_a_real_process(sockdir: str) -> None:
    result = run("switch", "-s", os.path.join(sockdir, "sw"), "--bogus")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == "vdex switch: unrecognized arguments: --bogus (see vdex switch --help)\n"


@pytest.mark.parametrize(("args", "message"), [
    (["plug", "--bogus"], "unrecognized arguments: --bogus"),
    (["plug", "-m", "abc", "/tmp/x"], "abc"),
    (["term"], "the following arguments are required: MGMT_SOCKET"),
    (["dpipe", "cat", "="], "usage"),
])
def test_bad_flags_of_other_tools(args: list[str], message: str,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = run_here(capsys, *args)
    assert code == 2, err
    assert message in err


# ---------------------------------------------------------------------- running switches


async def stopped_cleanly(proc: trio.Process, ctl: str, *others: str) -> None:
    with trio.fail_after(10):
        code = await proc.wait()
    assert code == 0
    assert not os.path.exists(ctl), sockets_in(ctl)
    for path in others:
        assert not os.path.exists(path), path


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_signals_shut_down_cleanly(sockdir: str, signum: int) -> None:
    ctl, mgmt = os.path.join(sockdir, "sw"), os.path.join(sockdir, "mgmt")
    from vdex.testing import AsyncVdeClient

    async with switch_process(vdex_switch(ctl, "-M", mgmt), ctl) as proc:
        await wait_for_path(mgmt, proc=proc)
        async with await AsyncVdeClient.connect(ctl) as client:
            assert len(sockets_in(ctl)) == 2
            proc.send_signal(signum)
            await client.wait_closed()
            await stopped_cleanly(proc, ctl, mgmt)


async def test_sighup_does_not_stop_the_switch(sockdir: str) -> None:
    ctl, mgmt = os.path.join(sockdir, "sw"), os.path.join(sockdir, "mgmt")
    async with switch_process(vdex_switch(ctl, "-M", mgmt), ctl) as proc:
        await wait_for_path(mgmt, proc=proc)
        proc.send_signal(signal.SIGHUP)
        async with await RawConsole.connect(mgmt) as console:
            await console.banner()
            assert "Numports=32" in await console.command("port/showinfo")
        assert proc.returncode is None


async def test_eof_on_stdin_stops_the_switch(sockdir: str) -> None:
    ctl = os.path.join(sockdir, "sw")
    async with switch_process(vdex_switch(ctl), ctl, stderr=subprocess.PIPE) as proc:
        assert proc.stdin is not None and proc.stderr is not None
        await proc.stdin.aclose()
        await stopped_cleanly(proc, ctl)
        err = b""
        with trio.fail_after(5):
            while chunk := await proc.stderr.receive_some(4096):
                err += chunk
        assert b"EOF on stdin, cleaning up and exiting" in err


async def test_the_stdin_console_answers_on_stdout(sockdir: str) -> None:
    ctl = os.path.join(sockdir, "sw")
    async with switch_process(vdex_switch(ctl), ctl, stdout=subprocess.PIPE) as proc:
        assert proc.stdin is not None and proc.stdout is not None
        await proc.stdin.send_all(b"port/showinfo\nfoo/bar\n")
        out = b""
        with trio.fail_after(5):
            while not out.endswith(b"1038 Function not implemented\n"):
                out += await proc.stdout.receive_some(4096)
        assert out == (b"0000 DATA END WITH '.'\nNumports=32\nHUB=false\ncounters=true\n.\n"
                       b"1000 Success\n1038 Function not implemented\n"), \
            "as vde_switch on a pipe: replies on stdout, no banner, no prompt"
        await proc.stdin.send_all(b"shutdown\n")
        await stopped_cleanly(proc, ctl)


async def test_nostdin_ignores_stdin(sockdir: str) -> None:
    ctl, mgmt = os.path.join(sockdir, "sw"), os.path.join(sockdir, "mgmt")
    async with switch_process(vdex_switch(ctl, "--nostdin", "-M", mgmt), ctl,
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE) as proc:
        await wait_for_path(mgmt, proc=proc)
        async with await RawConsole.connect(mgmt) as console:
            await console.banner()
            assert "Numports=32" in await console.command("port/showinfo")
        assert proc.returncode is None, "stdin at EOF from the start, still running"
        proc.send_signal(signal.SIGTERM)
        await stopped_cleanly(proc, ctl, mgmt)


async def test_daemon_with_pid_file(sockdir: str) -> None:
    ctl, mgmt = os.path.join(sockdir, "sw"), os.path.join(sockdir, "mgmt")
    pidfile = os.path.join(sockdir, "switch.pid")
    result = await trio.run_process(
        [*vdex_switch(ctl, "-d", "-p", pidfile, "-M", mgmt)], capture_stderr=True,
        stdin=subprocess.DEVNULL)
    assert result.returncode == 0, "the parent returns at once"
    pid = None
    try:
        await wait_until(lambda: os.path.exists(mgmt) and os.path.exists(pidfile),
                         timeout=10, what="the daemon's sockets and pid file")
        with open(pidfile) as f:
            pid = int(f.read())
        os.kill(pid, 0)
        assert os.getsid(pid) != os.getsid(0), "detached from our session"
        async with await RawConsole.connect(mgmt) as console:
            await console.banner()
            assert f"pid {pid} MAC" in await console.command("showinfo")
        os.kill(pid, signal.SIGTERM)
        await wait_until(lambda: not os.path.exists(pidfile), timeout=10,
                         what="the pid file to be removed")
        await wait_until(lambda: not os.path.exists(ctl) and not os.path.exists(mgmt),
                         timeout=10, what="the sockets to be removed")
    finally:
        if pid is not None:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.mark.parametrize("relative", [False, True], ids=["absolute", "relative"])
async def test_p_is_a_pid_file_or_a_plugin(sockdir: str, relative: bool) -> None:
    """``-p NAME`` loads plugin NAME, ``-p no:NAME`` blocks it, anything else is a pid file
    (vde_switch's meaning), with or without a slash."""
    ctl, mgmt = os.path.join(sockdir, "sw"), os.path.join(sockdir, "mgmt")
    pidfile = os.path.join(sockdir, "x.pid")
    argv = vdex_switch(ctl, "-M", mgmt, "-p", "no:vlan", "-p", "udp", "-p",
                       "x.pid" if relative else pidfile)
    async with switch_process(argv, ctl, cwd=sockdir) as proc:
        await wait_for_path(mgmt, proc=proc)
        await wait_until(lambda: os.path.exists(pidfile), what="the pid file")
        with open(pidfile) as f:
            assert int(f.read()) == proc.pid
        async with await RawConsole.connect(mgmt) as console:
            await console.banner()
            plugins = await console.command("plugin/list")
            assert "\nudp " in plugins and "\nvlan " not in plugins and "\nfstp " in plugins
            assert "vlan/create" not in await console.command("help vlan")
        assert sorted(os.listdir(sockdir)) == ["mgmt", "sw", "x.pid"], "no file for a plugin"
        proc.send_signal(signal.SIGTERM)
        await stopped_cleanly(proc, ctl, mgmt, pidfile)


async def test_a_live_switch_directory_makes_the_start_fail(sockdir: str) -> None:
    ctl = os.path.join(sockdir, "sw")
    async with switch_process(vdex_switch(ctl), ctl):
        result = await trio.run_process(vdex_switch(ctl), capture_stderr=True,
                                        stdin=subprocess.DEVNULL, check=False)
        assert result.returncode == 1
        assert b"in use by another running program" in result.stderr
        assert sockets_in(ctl) == ["ctl"]


async def test_a_missing_rc_file_is_refused(sockdir: str) -> None:
    result = await trio.run_process(
        vdex_switch(os.path.join(sockdir, "sw"), "-f", "/nonexistent/rc"), capture_stderr=True,
        stdin=subprocess.DEVNULL, check=False)
    assert result.returncode == 1
    assert b"cannot read /nonexistent/rc: No such file or directory" in result.stderr
    assert not os.path.exists(os.path.join(sockdir, "sw"))


def test_python_dash_m_and_console_script_agree() -> None:
    script = os.path.join(os.path.dirname(sys.executable), "vdex")
    assert os.path.exists(script)
    assert subprocess.run([script, "--version"], capture_output=True, text=True).stdout == \
        run("--version").stdout == "vdex 0.1.0\n"


async def test_vdex_plug_stops_with_its_stdin(sockdir: str) -> None:
    from vdex.testing import running_switch

    async with running_switch(sockdir) as sw, \
            process([*VDEX, "plug", sw.options.sock], stdout=subprocess.DEVNULL) as plug:
        await wait_until(lambda: sw.engine.ports.get(1) is not None
                         and sw.engine.ports.get(1).active, what="vdex plug on port 1")
        assert plug.stdin is not None
        await plug.stdin.aclose()
        with trio.fail_after(5):
            assert await plug.wait() == 0
        await wait_until(lambda: not sw.engine.ports.get(1).active, what="port 1 freed")
