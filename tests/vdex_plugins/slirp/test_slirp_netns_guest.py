"""One guest namespace on a tap served by the vdex slirp bridge, everything in namespaces.

Layout: the slirp namespace (``lo`` only) runs the stub DNS, the HTTP servers and the bridge;
the tap the bridge opened there is moved into the guest namespace. The guest then does what a
VM behind slirpvde does: DHCP, ping the gateway, HTTP to the host's loopback through 10.0.2.2,
DNS through 10.0.2.3, and it is reached through host-side forwards.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
from slirp_lab import (
    GUEST_TCP_SERVER,
    GUEST_UDP_ECHO,
    HOST_TCP_CLIENT,
    HOST_UDP_CLIENT,
    HTTP_PORT,
    PYTHON,
    TEST_NAME,
    TEST_NAME_ADDR,
    Namespace,
    SlirpHost,
    lab_files,
    read_lease,
    read_line,
    require_root,
    start_guest_server,
    start_services,
    stop_process,
    udhcpc,
    unique,
    wait_for,
)

pytestmark = [pytest.mark.privileged, pytest.mark.slow]


@attrs.define
class OneGuest:
    slirp_ns: Namespace
    guest: Namespace
    host: SlirpHost
    root: Path
    dns_log: Path
    lease: dict[str, str]
    udhcpc_output: str
    www_digest: str


FORWARDS = [
    "-L",
    "18080:10.0.2.15:8080",  # no host address: 127.0.0.1
    "-L",
    "127.0.0.1:18081:10.0.2.15:8080",
    "-U",
    "15353:10.0.2.15:5353",
]


UNIX_SERVER = """
import os, socket, sys
srv = socket.socket(socket.AF_UNIX)
srv.bind(sys.argv[1])
srv.listen()
print("READY", flush=True)
while True:
    conn, _ = srv.accept()
    with conn:
        conn.sendall(b"unix socket says hi")
"""


def start_unix_server(stack: contextlib.ExitStack, ns: Namespace, path: Path) -> Path:
    proc = subprocess.Popen(ns.argv(PYTHON, "-c", UNIX_SERVER, path), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    stack.callback(stop_process, proc)
    assert read_line(proc, 10) == "READY"
    return path


@pytest.fixture(scope="module")
def lab() -> Iterator[OneGuest]:
    require_root()
    with contextlib.ExitStack() as stack:
        root = stack.enter_context(lab_files())
        (root / "www" / "hello.txt").write_text("hello from the slirp namespace\n")
        payload = os.urandom(3 << 20)
        (root / "www" / "blob.bin").write_bytes(payload)
        (root / "tftp" / "boot.txt").write_text("tftp works\n")
        # libslirp relays 10.0.2.3 to the first IPv4 nameserver and fd00::3 to the first IPv6
        # one; without an IPv6 entry, libslirp 4.7 drops DNS queries to fd00::3.
        slirp_ns = Namespace(unique("vxsl-"), resolv_conf="nameserver 127.0.0.1\nnameserver ::1\n")
        stack.callback(slirp_ns.delete)
        guest = Namespace(unique("vxg-"))
        stack.callback(guest.delete)
        dns_log = start_services(stack, slirp_ns, root)
        tap = unique("vxt")
        unix_server = start_unix_server(stack, slirp_ns, root / "unix.sock")
        host = SlirpHost(
            stack,
            slirp_ns,
            tap,
            guest,
            ["-D", "-t", str(root / "tftp"), *FORWARDS, "-x", f"6001:{unix_server}",
             "-X", "10.0.2.15:1"],
        )  # fmt: skip
        guest.ip("link", "set", tap, "up")
        done = udhcpc(guest, tap, root / "lease")
        assert done.returncode == 0, f"udhcpc failed:\n{done.stdout}\n{done.stderr}"
        yield OneGuest(
            slirp_ns=slirp_ns,
            guest=guest,
            host=host,
            root=root,
            dns_log=dns_log,
            lease=read_lease(root / "lease"),
            udhcpc_output=done.stderr + done.stdout,
            www_digest=hashlib.sha256(payload).hexdigest(),
        )


def test_slirp_namespace_has_only_loopback(lab: OneGuest) -> None:
    assert lab.slirp_ns.interfaces() == ["lo"]
    assert lab.host.tap in lab.guest.interfaces()


def test_dhcp_gives_first_lease_with_router_and_dns(lab: OneGuest) -> None:
    assert lab.lease["ip"] == "10.0.2.15"
    assert lab.lease["mask"] == "24"
    assert lab.lease["router"] == "10.0.2.2"
    assert lab.lease["dns"].split() == ["10.0.2.3"]
    assert lab.lease["serverid"] == "10.0.2.2"
    assert "10.0.2.15/24" in lab.guest.ip("addr", "show", "dev", lab.host.tap)


def test_ping_gateway(lab: OneGuest) -> None:
    out = lab.guest.run("busybox", "ping", "-c", "2", "-W", "3", "10.0.2.2").stdout
    assert "2 packets received" in out


def test_http_to_host_loopback_through_gateway(lab: OneGuest) -> None:
    out = lab.guest.run(
        "busybox", "wget", "-q", "-O", "-", f"http://10.0.2.2:{HTTP_PORT}/hello.txt"
    ).stdout
    assert out == "hello from the slirp namespace\n"


def test_http_download_is_intact(lab: OneGuest) -> None:
    target = lab.root / "guest-blob.bin"
    lab.guest.run(
        "busybox",
        "wget",
        "-q",
        "-O",
        str(target),
        f"http://10.0.2.2:{HTTP_PORT}/blob.bin",
        timeout=60,
    )
    assert hashlib.sha256(target.read_bytes()).hexdigest() == lab.www_digest


GUEST_TCP_CLIENT = HOST_TCP_CLIENT

MANY_REQUESTS = """
import sys, time, urllib.request
start = time.monotonic()
for i in range(int(sys.argv[2])):
    with urllib.request.urlopen(sys.argv[1], timeout=5) as reply:
        assert reply.read() == b"hello from the slirp namespace\\n"
print(time.monotonic() - start)
"""


def test_many_short_connections(lab: OneGuest) -> None:
    """Hundreds of connections opened and closed in a row: libslirp closes a socket and reuses
    its descriptor number for the next one, which the bridge's epoll set must follow."""
    url = f"http://10.0.2.2:{HTTP_PORT}/hello.txt"
    elapsed = float(lab.guest.python(MANY_REQUESTS, url, "300", timeout=60))
    assert elapsed < 30


def test_dns_through_slirp_reaches_the_stub(lab: OneGuest) -> None:
    out = lab.guest.run("busybox", "nslookup", TEST_NAME, "10.0.2.3").stdout
    assert TEST_NAME_ADDR in out
    assert f"{TEST_NAME} 1" in lab.dns_log.read_text().splitlines()


def test_dns_unknown_name_is_nxdomain(lab: OneGuest) -> None:
    done = lab.guest.run("busybox", "nslookup", "nope.invalid", "10.0.2.3", check=False)
    assert TEST_NAME_ADDR not in done.stdout
    assert "nope.invalid 1" in lab.dns_log.read_text().splitlines()


def test_tftp_read(lab: OneGuest) -> None:
    target = lab.root / "tftp-got.txt"
    lab.guest.run("busybox", "tftp", "-g", "-r", "boot.txt", "-l", str(target), "10.0.2.2")
    assert target.read_text() == "tftp works\n"


def test_tcp_forwards_listen_on_loopback_only(lab: OneGuest) -> None:
    listening = lab.slirp_ns.run("ss", "-Hltn").stdout
    assert "127.0.0.1:18080" in listening
    assert "127.0.0.1:18081" in listening
    assert "0.0.0.0:18080" not in listening and "*:18080" not in listening


def test_tcp_forward_reaches_guest_server(lab: OneGuest) -> None:
    with contextlib.ExitStack() as stack:
        start_guest_server(stack, lab.guest, GUEST_TCP_SERVER, "8080", "guest-one")
        for port in ("18080", "18081"):
            out = lab.slirp_ns.python(HOST_TCP_CLIENT, "127.0.0.1", port)
            # The guest sees forwarded connections coming from slirp's address.
            assert out.strip() == "guest-one from 10.0.2.2"


def test_udp_forward_reaches_guest_and_back(lab: OneGuest) -> None:
    with contextlib.ExitStack() as stack:
        start_guest_server(stack, lab.guest, GUEST_UDP_ECHO, "5353", "echo")
        out = lab.slirp_ns.python(HOST_UDP_CLIENT, "127.0.0.1", "15353")
        assert out.strip() == "echo:ping"


def test_ipv6_slaac_ping_and_http(lab: OneGuest) -> None:
    """libslirp's IPv6: a router advertisement gives the guest fd00::/64, fd00::2 is the host."""
    tap = lab.host.tap

    def has_global_v6() -> bool:
        return "inet6 fd00::" in lab.guest.ip("-6", "addr", "show", "dev", tap)

    wait_for(has_global_v6, timeout=15, what="a SLAAC address in fd00::/64")
    out = lab.guest.run("busybox", "ping6", "-c", "2", "-W", "3", "fd00::2").stdout
    assert "2 packets received" in out
    out = lab.guest.run(
        "busybox", "wget", "-q", "-O", "-", f"http://[fd00::2]:{HTTP_PORT}/hello.txt"
    ).stdout
    assert out == "hello from the slirp namespace\n"
    # DNS over IPv6 to fd00::3, relayed to resolv.conf's "nameserver ::1": the stub.
    out = lab.guest.run("busybox", "nslookup", TEST_NAME, "fd00::3").stdout
    assert TEST_NAME_ADDR in out


def test_unix_forward_from_guest(lab: OneGuest) -> None:
    """-x 6001:PATH: a guest connecting to 10.0.2.4:6001 reaches the host's unix socket."""
    out = lab.guest.python(GUEST_TCP_CLIENT, "10.0.2.4", "6001")
    assert out.strip() == "unix socket says hi"


def test_x11_forward_uses_port_6000_for_display_1(lab: OneGuest) -> None:
    """-X 10.0.2.15:1: host 127.0.0.1:6000 (the first free port) to guest port 6001."""
    with contextlib.ExitStack() as stack:
        start_guest_server(stack, lab.guest, GUEST_TCP_SERVER, "6001", "x11")
        out = lab.slirp_ns.python(HOST_TCP_CLIENT, "127.0.0.1", "6000")
        assert out.strip() == "x11 from 10.0.2.2"
