"""``vdex slirp``: slirpvde's command line as a real process.

Stream mode under a real dpipe with vdeplug4's ``vde_plug``, exit when the switch closes the
port or at EOF, the banner against Debian's slirpvde itself, the pid file, help and usage errors,
and the error naming the package when libslirp is missing. Whatever runs slirp runs in a
namespace holding only ``lo``.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from slirp_lab import (
    HTTP_PORT,
    PYTHON,
    Namespace,
    lab_files,
    read_lease,
    require_root,
    start_services,
    udhcpc,
    unique,
    wait_for,
)
from slirp_switch_lab import (
    VDEX,
    Session,
    assert_only_loopback,
    attach_guest,
    console,
    reference_switch,
    short_dir,
    vdex_switch,
)

from vdex.cli import main

pytestmark = [pytest.mark.privileged, pytest.mark.interop, pytest.mark.slow]

LIBSLIRP = "/usr/lib/x86_64-linux-gnu/libslirp.so.0"


@pytest.fixture
def stack() -> Iterator[contextlib.ExitStack]:
    with contextlib.ExitStack() as stack:
        yield stack


@pytest.fixture
def slirp_ns(stack: contextlib.ExitStack) -> Namespace:
    require_root()
    ns = Namespace(unique("vxsl-"), resolv_conf="nameserver 127.0.0.1\n")
    stack.callback(ns.delete)
    return ns


def test_stream_mode_under_dpipe_with_a_real_vde_plug(stack: contextlib.ExitStack,
                                                      slirp_ns: Namespace) -> None:
    """``dpipe vdex slirp - -D = vde_plug SW`` on Debian's vde_switch: a guest gets a lease,
    pings and downloads; when the switch goes away, vde_plug ends, vdex slirp reads EOF and the
    whole chain exits."""
    root = stack.enter_context(lab_files())
    (root / "www" / "hello.txt").write_text("hello through dpipe\n")
    start_services(stack, slirp_ns, root)
    directory = short_dir(stack)
    switch = reference_switch(stack, slirp_ns, directory)
    slirp = shlex.join([*VDEX, "slirp", "-", "-D"])
    chain = Session(stack, slirp_ns.argv(
        "bash", "-c", f"dpipe {slirp} = vde_plug vde://{directory}/sw; exit $?"))
    assert_only_loopback(slirp_ns)
    guest = Namespace(unique("vxg-"))
    stack.callback(guest.delete)
    tap = unique("vxt")
    attach_guest(stack, guest, directory, tap)
    done = udhcpc(guest, tap, root / "lease")
    assert done.returncode == 0, f"udhcpc failed:\n{done.stdout}\n{done.stderr}"
    assert read_lease(root / "lease")["ip"] == "10.0.2.15"
    assert "2 packets received" in guest.run("busybox", "ping", "-c", "2", "-W", "3",
                                             "10.0.2.2").stdout
    page = guest.run("busybox", "wget", "-q", "-O", "-",
                     f"http://10.0.2.2:{HTTP_PORT}/hello.txt").stdout
    assert page == "hello through dpipe\n"
    assert "Starting slirpvde" not in chain.stderr_seen  # no banner in stream mode
    switch.stop()
    assert chain.wait_exit(15) == 0


def test_exits_when_the_switch_closes_its_port(stack: contextlib.ExitStack,
                                               slirp_ns: Namespace) -> None:
    directory = short_dir(stack)
    vdex_switch(stack, slirp_ns, directory)
    pidfile = os.path.join(directory, "slirp.pid")
    slirp = Session(stack, slirp_ns.argv(*VDEX, "slirp", "-q", "-p", pidfile,
                                         "--port", "7", os.path.join(directory, "sw")))
    wait_for(lambda: os.path.exists(pidfile) and Path(pidfile).read_text().endswith("\n"),
             what="the pid file")
    assert int(Path(pidfile).read_text()) == slirp.pid
    (printed,) = console(os.path.join(directory, "mgmt"), "port/print 7")
    assert printed.ok and ": vdex slirp: user=root" in "\n".join(printed.data)
    endpoint = next(int(line.split()[3]) for line in printed.data
                    if line.strip().startswith("-- endpoint ID"))
    (closed,) = console(os.path.join(directory, "mgmt"), f"port/epclose 7 {endpoint}")
    assert closed.ok
    assert slirp.wait_exit(15) == 0
    assert not os.path.exists(pidfile)
    assert slirp.proc.stderr is not None and slirp.proc.stderr.read() == b"", "-q: no banner"


BANNER_CASES = [
    ["-D", "-L", "18080:10.0.2.15:8080", "-U", "15353:10.0.2.15:5353", "-t", "/tmp"],
    ["-H", "10.1.0.0/16", "-N", "10.1.0.53", "-dhcp", "-X", "10.1.0.15:1"],
    ["-network", "192.168.7.9/24", "-L", "2222:192.168.7.20:22"],
    ["-x", "6001:/tmp/none.sock"],
]


@pytest.mark.parametrize("args", BANNER_CASES, ids=[" ".join(a) for a in BANNER_CASES])
def test_banner_is_slirpvdes(stack: contextlib.ExitStack, slirp_ns: Namespace,
                             args: list[str]) -> None:
    """Debian's slirpvde and vdex slirp, same options, same switch: the same banner."""
    directory = short_dir(stack)
    reference_switch(stack, slirp_ns, directory)
    sw = os.path.join(directory, "sw")
    # host, DNS, dhcp_start (-D), tftp prefix (-t), vde switch, one per -L/-U/-X
    lines = 3 + sum(args.count(opt) for opt in ("-D", "-dhcp", "-t", "-L", "-U", "-X"))
    banners = []
    for argv in (["slirpvde", "-s", sw, *args], [*VDEX, "slirp", "-s", sw, *args]):
        with contextlib.ExitStack() as inner:
            tool = Session(inner, slirp_ns.argv(*argv))
            banners.append(tool.wait_lines(lines))
    assert banners[1] == banners[0]
    assert banners[0].startswith("Starting slirpvde: virtual_host=")


def test_help_and_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["slirp", "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: vdex slirp [OPTIONS] [SWITCH]\n")
    assert "-D, --dhcp[=ADDR]" in out and "-L [HADDR:]HPORT:GADDR:GPORT" in out
    assert main(["slirp", "-h"]) == 0
    for args, message in ((["-Z"], "vdex slirp: unrecognized option '-Z' (see vdex slirp --help)"),
                          (["-H", "10.0.0.0/40"], "vdex slirp: -H prefix length: 40 is not"),
                          (["-L", "8080:80"], "expected [host_addr:]host_port:guest_addr"),
                          (["-", "--port", "3"], "--port, -g and -m apply to a switch, not")):
        assert main(["slirp", *args]) == 2, args
        assert message in capsys.readouterr().err


def test_missing_libslirp_is_named(stack: contextlib.ExitStack, slirp_ns: Namespace) -> None:
    """With libslirp hidden (a private mount namespace binds /dev/null over it), vdex slirp and
    plugin/add slirp both say which package to install."""
    assert os.path.exists(LIBSLIRP)

    def hidden(argv: list[str]) -> list[str]:
        return ["unshare", "--mount", "--", "sh", "-c",
                f"mount --bind /dev/null {LIBSLIRP} && exec {shlex.join(argv)}"]

    done = subprocess.run(slirp_ns.argv(*hidden([*VDEX, "slirp", "-s", "/nonexistent"])),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done
    assert "install the Debian package libslirp0 (apt-get install libslirp0)" in done.stderr
    directory = short_dir(stack)
    sw, mgmt = os.path.join(directory, "sw"), os.path.join(directory, "mgmt")
    switch = Session(stack, slirp_ns.argv(*hidden([*VDEX, "switch", "-s", sw, "-M", mgmt,
                                                   "--nostdin", "-f", os.devnull])))
    wait_for(lambda: os.path.exists(mgmt), what="the console socket")
    (reply,) = console(mgmt, "plugin/add slirp")
    assert reply.status == 1022, reply
    assert "libslirp0" in switch.wait_stderr("libslirp0")


def test_vdex_plug_opens_slirp_urls_too(stack: contextlib.ExitStack, slirp_ns: Namespace) -> None:
    """``vdex plug SW slirp:///dhcp`` is the same thing as ``vdex slirp -s SW -D``."""
    directory = short_dir(stack)
    vdex_switch(stack, slirp_ns, directory)
    root = stack.enter_context(lab_files())
    guest = Namespace(unique("vxg-"))
    stack.callback(guest.delete)
    Session(stack, slirp_ns.argv(*VDEX, "plug", os.path.join(directory, "sw"), "slirp:///dhcp"))
    tap = unique("vxt")
    attach_guest(stack, guest, directory, tap)
    done = udhcpc(guest, tap, root / "lease")
    assert done.returncode == 0, done.stderr
    assert read_lease(root / "lease")["ip"] == "10.0.2.15"


def test_module_runs_without_the_console_script() -> None:
    done = subprocess.run([PYTHON, "-m", "vdex", "slirp", "--help"], capture_output=True,
                          text=True, timeout=60, env={**os.environ, "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0 and done.stdout.startswith("usage: vdex slirp")
    assert sys.executable == PYTHON


def test_a_forward_on_a_busy_port_exits_1(stack: contextlib.ExitStack,
                                          slirp_ns: Namespace) -> None:
    root = stack.enter_context(lab_files())
    start_services(stack, slirp_ns, root)  # the HTTP server holds 127.0.0.1:8080
    directory = short_dir(stack)
    vdex_switch(stack, slirp_ns, directory)
    done = subprocess.run(slirp_ns.argv(*VDEX, "slirp", "-s", os.path.join(directory, "sw"),
                                        "-L", f"{HTTP_PORT}:10.0.2.15:80"),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done
    assert (f"vdex slirp: cannot listen for forward tcp 127.0.0.1:{HTTP_PORT} -> 10.0.2.15:80: "
            "the host address is in use") in done.stderr
    assert "Starting slirpvde" not in done.stderr
