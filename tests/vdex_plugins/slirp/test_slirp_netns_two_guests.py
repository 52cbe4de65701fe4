"""Two guests behind one slirp at once (Debian's slirpvde serves only one guest MAC).

The switch does not exist yet, so a Linux bridge in a "lan" namespace stands in for it: the
bridge's tap is moved there and enslaved to ``br0`` together with one veth per guest namespace.
libslirp keeps DHCP leases and ARP entries per MAC address, and nothing in the bridge assumes a
single guest, so both guests get their own lease and their own traffic.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
from collections.abc import Iterator

import attrs
import pytest
from slirp_lab import (
    GUEST_TCP_SERVER,
    HOST_TCP_CLIENT,
    HTTP_PORT,
    TEST_NAME,
    TEST_NAME_ADDR,
    Namespace,
    SlirpHost,
    lab_files,
    read_lease,
    require_root,
    start_guest_server,
    start_services,
    udhcpc,
    unique,
)

pytestmark = [pytest.mark.privileged, pytest.mark.slow]

BLOB = os.urandom(4 << 20)


@attrs.define
class TwoGuests:
    slirp_ns: Namespace
    guests: list[Namespace]
    leases: list[dict[str, str]]
    stack: contextlib.ExitStack
    host: SlirpHost


@pytest.fixture
def two_guests() -> Iterator[TwoGuests]:
    require_root()
    with contextlib.ExitStack() as stack:
        root = stack.enter_context(lab_files())
        (root / "www" / "hello.txt").write_text("hello to every guest\n")
        (root / "www" / "blob.bin").write_bytes(BLOB)
        slirp_ns = Namespace(unique("vxsl-"), resolv_conf="nameserver 127.0.0.1\n")
        stack.callback(slirp_ns.delete)
        lan = Namespace(unique("vxlan-"))
        stack.callback(lan.delete)
        guests = []
        for _ in range(2):
            guest = Namespace(unique("vxg-"))
            stack.callback(guest.delete)
            guests.append(guest)
        start_services(stack, slirp_ns, root)
        tap = unique("vxt")
        host = SlirpHost(
            stack,
            slirp_ns,
            tap,
            lan,
            ["-D", "-L", "18015:10.0.2.15:8080", "-L", "18016:10.0.2.16:8080"],
        )
        lan.ip("link", "add", "br0", "type", "bridge")
        lan.ip("link", "set", tap, "master", "br0")
        for index, guest in enumerate(guests):
            lan.ip("link", "add", f"g{index}", "type", "veth", "peer", "name", "eth0")
            lan.ip("link", "set", "eth0", "netns", guest.name)
            lan.ip("link", "set", f"g{index}", "master", "br0")
            lan.ip("link", "set", f"g{index}", "up")
        lan.ip("link", "set", tap, "up")
        lan.ip("link", "set", "br0", "up")
        # Both guests ask at the same time.
        running = [
            udhcpc(guest, "eth0", root / f"lease{index}", background=True)
            for index, guest in enumerate(guests)
        ]
        for proc in running:
            assert isinstance(proc, subprocess.Popen)
            stack.callback(proc.kill)
            out, err = proc.communicate(timeout=30)
            assert proc.returncode == 0, f"udhcpc failed:\n{out}\n{err}"
        leases = [read_lease(root / f"lease{index}") for index in range(2)]
        yield TwoGuests(slirp_ns=slirp_ns, guests=guests, leases=leases, stack=stack, host=host)


def test_two_guests_get_distinct_leases_and_both_work(two_guests: TwoGuests) -> None:
    addresses = sorted(lease["ip"] for lease in two_guests.leases)
    assert addresses == ["10.0.2.15", "10.0.2.16"]
    for lease in two_guests.leases:
        assert lease["router"] == "10.0.2.2"
        assert lease["dns"].split() == ["10.0.2.3"]
    for guest, lease in zip(two_guests.guests, two_guests.leases, strict=True):
        ping = guest.run("busybox", "ping", "-c", "1", "-W", "3", "10.0.2.2").stdout
        assert "1 packets received" in ping
        page = guest.run(
            "busybox", "wget", "-q", "-O", "-", f"http://10.0.2.2:{HTTP_PORT}/hello.txt"
        ).stdout
        assert page == "hello to every guest\n"
        answer = guest.run("busybox", "nslookup", TEST_NAME, "10.0.2.3").stdout
        assert TEST_NAME_ADDR in answer, f"guest {lease['ip']}: {answer}"


def test_forwards_reach_each_guest_by_its_lease(two_guests: TwoGuests) -> None:
    for guest, lease in zip(two_guests.guests, two_guests.leases, strict=True):
        start_guest_server(two_guests.stack, guest, GUEST_TCP_SERVER, "8080", f"I am {lease['ip']}")
    for port, ip in (("18015", "10.0.2.15"), ("18016", "10.0.2.16")):
        out = two_guests.slirp_ns.python(HOST_TCP_CLIENT, "127.0.0.1", port)
        assert out.strip() == f"I am {ip} from 10.0.2.2"


def test_simultaneous_downloads(two_guests: TwoGuests) -> None:
    """Both guests download at once; each gets the whole file, intact."""
    procs = [
        subprocess.Popen(
            guest.argv("busybox", "wget", "-q", "-O", "-", f"http://10.0.2.2:{HTTP_PORT}/blob.bin"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for guest in two_guests.guests
    ]
    for proc in procs:
        two_guests.stack.callback(proc.kill)
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert hashlib.sha256(out).digest() == hashlib.sha256(BLOB).digest()
