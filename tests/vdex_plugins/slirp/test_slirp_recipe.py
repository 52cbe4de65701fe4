"""The QEMU-Slirp recipe of Debian's vde2 README.Debian, with vdex in place of vde_switch and
slirpvde.

The recipe puts ``vde2-switch -`` and ``vde2-slirp -dhcp`` in /etc/network/interfaces; Debian's
/etc/network/if-pre-up.d/vde2 turns them into (RUNDIR=/var/run/vde2, IFACE=vde0)::

    vde_switch -s RUNDIR/vde0.ctl -m 660 -g vde2-net -p RUNDIR/vde0.pid \\
               -M RUNDIR/vde0.mgmt --mgmtmode 660 -d
    slirpvde   -s RUNDIR/vde0.ctl -m 660 -p RUNDIR/vde0-slirp.pid -d -dhcp   (as user vde2-net)

and two QEMUs with different MAC addresses join with ``-net vde,sock=RUNDIR/vde0.ctl`` and run
DHCP. Here the same two command lines run with ``vdex switch`` and ``vdex slirp``, in the slirp
namespace (``lo`` only), and two guest namespaces stand in for the QEMUs: vdeplug4's
``vde_plug`` joins each to the switch through libvdeplug, the library behind QEMU's ``-net vde``.
Both get a lease at once (Debian's slirpvde serves one guest MAC at a time) and reach the host.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import signal
import subprocess
from pathlib import Path

import pytest
from slirp_lab import (
    HTTP_PORT,
    Namespace,
    lab_files,
    read_lease,
    require_root,
    start_services,
    udhcpc,
    unique,
    wait_for,
)
from slirp_switch_lab import VDEX, assert_only_loopback, attach_guest, short_dir

pytestmark = [pytest.mark.privileged, pytest.mark.interop, pytest.mark.slow]

USER = GROUP = "vde2-net"


def kill_namespace_processes(ns: Namespace) -> None:
    """The daemons left their sessions: stop whatever still runs in the namespace."""
    done = subprocess.run(["ip", "netns", "pids", ns.name], capture_output=True, text=True)
    for pid in done.stdout.split():
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), signal.SIGKILL)


def test_qemu_slirp_recipe_with_vdex() -> None:
    require_root()
    try:
        user, group = pwd.getpwnam(USER), grp.getgrnam(GROUP)
    except KeyError:
        pytest.fail("the vde2-net user and group come with Debian's vde2 package: install it")
    with contextlib.ExitStack() as stack:
        root = stack.enter_context(lab_files())
        (root / "www" / "hello.txt").write_text("hello, QEMU\n")
        slirp_ns = Namespace(unique("vxsl-"), resolv_conf="nameserver 127.0.0.1\n")
        stack.callback(slirp_ns.delete)
        stack.callback(kill_namespace_processes, slirp_ns)
        start_services(stack, slirp_ns, root)
        rundir = Path(short_dir(stack))
        os.chown(rundir, user.pw_uid, group.gr_gid)
        rundir.chmod(0o2770)
        ctl, mgmt = rundir / "vde0.ctl", rundir / "vde0.mgmt"
        switch_pid, slirp_pid = rundir / "vde0.pid", rundir / "vde0-slirp.pid"
        switch = subprocess.run(slirp_ns.argv(
            *VDEX, "switch", "-s", ctl, "-m", "660", "-g", GROUP, "-p", switch_pid,
            "-M", mgmt, "--mgmtmode", "660", "-d", "-f", os.devnull),
            capture_output=True, text=True, timeout=30)
        assert switch.returncode == 0, switch.stderr
        wait_for(lambda: (ctl / "ctl").exists() and os.path.exists(mgmt),
                 what="the switch's ctl and console sockets")
        slirp = subprocess.run(slirp_ns.argv(
            "runuser", "-u", USER, "--", *VDEX, "slirp", "-s", ctl, "-m", "660",
            "-p", slirp_pid, "-d", "-dhcp"), capture_output=True, text=True, timeout=30)
        assert slirp.returncode == 0, slirp.stderr
        wait_for(lambda: slirp_pid.exists() and slirp_pid.read_text().endswith("\n"),
                 what="slirp's pid file")
        assert os.stat(f"/proc/{int(slirp_pid.read_text())}").st_uid == user.pw_uid
        assert oct(os.stat(mgmt).st_mode & 0o777) == "0o660"
        assert_only_loopback(slirp_ns)
        guests = [Namespace(unique("vxq-")) for _ in range(2)]
        for guest in guests:
            stack.callback(guest.delete)
        taps = [unique("vxt") for _ in guests]
        for guest, tap, mac in zip(guests, taps, ("52:54:00:12:01:00", "52:54:00:12:02:00"),
                                   strict=True):
            attach_guest(stack, guest, str(rundir), tap, switch_dir_name="vde0.ctl")
            guest.ip("link", "set", tap, "address", mac)
        running = [udhcpc(guest, tap, root / f"lease{i}", background=True)
                   for i, (guest, tap) in enumerate(zip(guests, taps, strict=True))]
        for proc in running:
            assert isinstance(proc, subprocess.Popen)
            stack.callback(proc.kill)
            out, err = proc.communicate(timeout=40)
            assert proc.returncode == 0, f"udhcpc failed:\n{out}\n{err}"
        leases = sorted(read_lease(root / f"lease{i}")["ip"] for i in range(2))
        assert leases == ["10.0.2.15", "10.0.2.16"]
        for guest in guests:
            page = guest.run("busybox", "wget", "-q", "-O", "-",
                             f"http://10.0.2.2:{HTTP_PORT}/hello.txt").stdout
            assert page == "hello, QEMU\n"
        # ifdown: the post-down script kills the pid files' processes
        for pidfile in (slirp_pid, switch_pid):
            os.kill(int(pidfile.read_text()), signal.SIGTERM)
            wait_for(lambda p=pidfile: not p.exists(), what=f"{pidfile.name} removed at exit")
        assert not (ctl / "ctl").exists()
