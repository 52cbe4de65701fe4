"""Starting and stopping slirp in namespaces: DHCP only with -D, clean exit, the safety check."""

from __future__ import annotations

import contextlib
import subprocess

import pytest
from slirp_lab import (
    HERE,
    HTTP_PORT,
    PYTHON,
    Namespace,
    SlirpHost,
    lab_files,
    require_root,
    start_services,
    udhcpc,
    unique,
    wait_for,
)

pytestmark = [pytest.mark.privileged, pytest.mark.slow]


def test_no_dhcp_without_dash_d_but_static_guest_works() -> None:
    """slirpvde answers DHCP only with -D; the rest of slirp works for a static guest."""
    require_root()
    with contextlib.ExitStack() as stack:
        root = stack.enter_context(lab_files())
        (root / "www" / "hello.txt").write_text("static\n")
        slirp_ns = Namespace(unique("vxsl-"), resolv_conf="nameserver 127.0.0.1\n")
        stack.callback(slirp_ns.delete)
        guest = Namespace(unique("vxg-"))
        stack.callback(guest.delete)
        start_services(stack, slirp_ns, root)
        tap = unique("vxt")
        SlirpHost(stack, slirp_ns, tap, guest, [])
        guest.ip("link", "set", tap, "up")
        done = udhcpc(guest, tap, root / "lease", tries=2)
        assert done.returncode != 0
        assert not (root / "lease").exists()
        guest.ip("addr", "add", "10.0.2.15/24", "dev", tap)
        guest.ip("route", "add", "default", "via", "10.0.2.2")
        page = guest.run(
            "busybox", "wget", "-q", "-O", "-", f"http://10.0.2.2:{HTTP_PORT}/hello.txt"
        ).stdout
        assert page == "static\n"


def test_stopping_leaves_no_thread_tap_or_socket() -> None:
    require_root()
    with contextlib.ExitStack() as stack:
        root = stack.enter_context(lab_files())
        (root / "www" / "hello.txt").write_text("bye\n")
        slirp_ns = Namespace(unique("vxsl-"), resolv_conf="nameserver 127.0.0.1\n")
        stack.callback(slirp_ns.delete)
        guest = Namespace(unique("vxg-"))
        stack.callback(guest.delete)
        start_services(stack, slirp_ns, root)
        tap = unique("vxt")
        host = SlirpHost(stack, slirp_ns, tap, guest, ["-D", "-L", "18099:10.0.2.15:80"])
        guest.ip("link", "set", tap, "up")
        assert udhcpc(guest, tap, root / "lease").returncode == 0
        guest.run("busybox", "wget", "-q", "-O", "-", f"http://10.0.2.2:{HTTP_PORT}/hello.txt")
        assert "127.0.0.1:18099" in slirp_ns.run("ss", "-Hltn").stdout
        report = host.stop()
        assert report["threads_after"] == report["threads_before"] == 1
        assert report["frames_from_guest"] > 0 and report["frames_to_guest"] > 0
        assert report["dropped_from_guest"] == report["dropped_to_guest"] == 0
        assert report["version"].startswith("4.")
        wait_for(lambda: tap not in guest.interfaces(), what="the tap to disappear")
        assert "18099" not in slirp_ns.run("ss", "-Hltn").stdout


def test_helper_refuses_a_namespace_with_more_than_loopback() -> None:
    """The guard of slirp_tap_host.py: slirp never runs next to a real interface."""
    require_root()
    with contextlib.ExitStack() as stack:
        slirp_ns = Namespace(unique("vxsl-"))
        stack.callback(slirp_ns.delete)
        guest = Namespace(unique("vxg-"))
        stack.callback(guest.delete)
        slirp_ns.ip("link", "add", "vxa", "type", "veth", "peer", "name", "vxb")
        done = subprocess.run(
            slirp_ns.argv(
                PYTHON, HERE / "slirp_tap_host.py", "--netns", slirp_ns.name,
                "--tap", unique("vxt"), "--to", guest.name,
            ),
            capture_output=True, text=True, timeout=20, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        assert done.returncode != 0
        assert "refusing to run next to interfaces ['lo', 'vxa', 'vxb']" in done.stderr
