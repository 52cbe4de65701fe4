"""Two guest namespaces on a vdex switch, served by slirp in both of its forms.

* ``vdex slirp -s SW -D ...``: slirpvde's replacement, a process attached to the switch;
* ``slirp/add -D ...`` on the console of the switch (after ``plugin/add slirp``): the slirp port
  inside the switch process.

Layout: the slirp namespace (``lo`` only) holds the stub DNS and HTTP servers, the vdex switch
and slirp; each guest namespace attaches to the switch through a tap made by vdeplug4's
``vde_plug vde://SW tap://NAME`` run inside it (unix sockets work across namespaces). The guests
do what VMs behind slirpvde do: DHCP (10.0.2.15 and 10.0.2.16), ping 10.0.2.2, HTTP to the slirp
namespace's loopback through 10.0.2.2, DNS through 10.0.2.3; host-side forwards reach servers in
the guests.
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
    TEST_NAME,
    TEST_NAME_ADDR,
    Namespace,
    lab_files,
    read_lease,
    require_root,
    start_guest_server,
    start_services,
    udhcpc,
    unique,
)
from slirp_switch_lab import (
    VDEX,
    Session,
    assert_only_loopback,
    attach_guest,
    console,
    short_dir,
    vdex_switch,
)

pytestmark = [pytest.mark.privileged, pytest.mark.interop, pytest.mark.slow]

BLOB = os.urandom(4 << 20)
SLIRP_OPTIONS = ["-D", "-L", "18015:10.0.2.15:8080", "-L", "18016:10.0.2.16:8080",
                 "-U", "15353:10.0.2.15:5353"]


@attrs.define
class Lan:
    form: str
    slirp_ns: Namespace
    guests: list[Namespace]
    taps: list[str]
    leases: list[dict[str, str]]
    directory: str
    root: Path
    dns_log: Path
    stack: contextlib.ExitStack
    slirp: Session | None

    @property
    def mgmt(self) -> str:
        return os.path.join(self.directory, "mgmt")


@pytest.fixture(scope="module", params=["vdex-slirp-process", "slirp-add-on-the-console"])
def lan(request: pytest.FixtureRequest) -> Iterator[Lan]:
    require_root()
    with contextlib.ExitStack() as stack:
        root = stack.enter_context(lab_files())
        (root / "www" / "hello.txt").write_text("hello through the vdex switch\n")
        (root / "www" / "blob.bin").write_bytes(BLOB)
        slirp_ns = Namespace(unique("vxsl-"), resolv_conf="nameserver 127.0.0.1\n")
        stack.callback(slirp_ns.delete)
        guests = [Namespace(unique("vxg-")) for _ in range(2)]
        for guest in guests:
            stack.callback(guest.delete)
        dns_log = start_services(stack, slirp_ns, root)
        directory = short_dir(stack)
        vdex_switch(stack, slirp_ns, directory)
        slirp: Session | None = None
        if request.param == "vdex-slirp-process":
            slirp = Session(stack, slirp_ns.argv(*VDEX, "slirp", "-s",
                                                 os.path.join(directory, "sw"), *SLIRP_OPTIONS))
            banner = slirp.wait_stderr("redir UDP")
            assert banner.startswith("Starting slirpvde: virtual_host=10.0.2.2/24\n"), banner
        else:
            added, port = console(os.path.join(directory, "mgmt"), "plugin/add slirp",
                                  "slirp/add " + " ".join(SLIRP_OPTIONS))
            assert added.ok and port.ok, (added, port)
            assert port.data[0].startswith("Port 0001 endpoint ")
        assert_only_loopback(slirp_ns)
        taps = [unique("vxt") for _ in guests]
        for guest, tap in zip(guests, taps, strict=True):
            attach_guest(stack, guest, directory, tap)
        running = [udhcpc(guest, tap, root / f"lease{i}", background=True)
                   for i, (guest, tap) in enumerate(zip(guests, taps, strict=True))]
        for proc in running:  # both guests ask at the same time
            assert isinstance(proc, subprocess.Popen)
            stack.callback(proc.kill)
            out, err = proc.communicate(timeout=40)
            assert proc.returncode == 0, f"udhcpc failed:\n{out}\n{err}"
        leases = [read_lease(root / f"lease{i}") for i in range(len(guests))]
        yield Lan(form=request.param, slirp_ns=slirp_ns, guests=guests, taps=taps,
                  leases=leases, directory=directory, root=root, dns_log=dns_log, stack=stack,
                  slirp=slirp)


def by_address(lan: Lan) -> list[tuple[Namespace, str]]:
    """(guest, its address), ordered by address."""
    pairs = [(guest, lease["ip"]) for guest, lease in zip(lan.guests, lan.leases, strict=True)]
    return sorted(pairs, key=lambda pair: pair[1])


def test_two_guests_get_distinct_leases(lan: Lan) -> None:
    assert sorted(lease["ip"] for lease in lan.leases) == ["10.0.2.15", "10.0.2.16"]
    for lease in lan.leases:
        assert (lease["mask"], lease["router"], lease["serverid"]) == ("24", "10.0.2.2",
                                                                      "10.0.2.2")
        assert lease["dns"].split() == ["10.0.2.3"]


def test_slirp_namespace_still_has_only_loopback(lan: Lan) -> None:
    assert_only_loopback(lan.slirp_ns)
    for guest, tap in zip(lan.guests, lan.taps, strict=True):
        assert tap in guest.interfaces()


def test_each_guest_pings_the_gateway(lan: Lan) -> None:
    for guest in lan.guests:
        out = guest.run("busybox", "ping", "-c", "2", "-W", "3", "10.0.2.2").stdout
        assert "2 packets received" in out


def test_http_to_the_slirp_namespace_loopback(lan: Lan) -> None:
    for guest in lan.guests:
        out = guest.run("busybox", "wget", "-q", "-O", "-",
                        f"http://10.0.2.2:{HTTP_PORT}/hello.txt").stdout
        assert out == "hello through the vdex switch\n"


def test_simultaneous_downloads_are_intact(lan: Lan) -> None:
    procs = [subprocess.Popen(guest.argv("busybox", "wget", "-q", "-O", "-",
                                         f"http://10.0.2.2:{HTTP_PORT}/blob.bin"),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for guest in lan.guests]
    for proc in procs:
        lan.stack.callback(proc.kill)
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert hashlib.sha256(out).digest() == hashlib.sha256(BLOB).digest()


def test_dns_through_10_0_2_3_reaches_the_stub(lan: Lan) -> None:
    for guest in lan.guests:
        out = guest.run("busybox", "nslookup", TEST_NAME, "10.0.2.3").stdout
        assert TEST_NAME_ADDR in out
    assert f"{TEST_NAME} 1" in lan.dns_log.read_text().splitlines()


def test_host_forwards_reach_each_guest(lan: Lan) -> None:
    with contextlib.ExitStack() as stack:
        for guest, ip in by_address(lan):
            start_guest_server(stack, guest, GUEST_TCP_SERVER, "8080", f"I am {ip}")
        for port, ip in (("18015", "10.0.2.15"), ("18016", "10.0.2.16")):
            out = lan.slirp_ns.python(HOST_TCP_CLIENT, "127.0.0.1", port)
            assert out.strip() == f"I am {ip} from 10.0.2.2"
        first = by_address(lan)[0][0]
        start_guest_server(stack, first, GUEST_UDP_ECHO, "5353", "echo")
        out = lan.slirp_ns.python(HOST_UDP_CLIENT, "127.0.0.1", "15353")
        assert out.strip() == "echo:ping"
    listening = lan.slirp_ns.run("ss", "-Hltn").stdout
    assert "127.0.0.1:18015" in listening and "0.0.0.0:18015" not in listening


def test_the_console_shows_slirp_and_adds_forwards(lan: Lan) -> None:
    (printed,) = console(lan.mgmt, "port/print")
    text = "\n".join(printed.data)
    if lan.form == "vdex-slirp-process":
        assert ": vdex slirp: user=root pid=" in text, text
        return
    assert "slirp:///dhcp/tcpfwd=127.0.0.1:18015:10.0.2.15:8080,127.0.0.1:18016:10.0.2.16:8080" \
           "/udpfwd=127.0.0.1:15353:10.0.2.15:5353" in text, text
    (shown,) = console(lan.mgmt, "slirp/print 1")
    table = "\n".join(shown.data).split("guests (libslirp's ARP/NDP table):")[1]
    assert "10.0.2.15" in table and "10.0.2.16" in table
    guest, ip = by_address(lan)[1]
    with contextlib.ExitStack() as stack:
        start_guest_server(stack, guest, GUEST_TCP_SERVER, "9090", "added later")
        (added,) = console(lan.mgmt, f"slirp/fwadd 1 -L 19090:{ip}:9090")
        assert added.ok, added
        out = lan.slirp_ns.python(HOST_TCP_CLIENT, "127.0.0.1", "19090")
        assert out.strip() == "added later from 10.0.2.2"
        (removed,) = console(lan.mgmt, f"slirp/fwdel 1 -L 19090:{ip}:9090")
        assert removed.ok
    assert "127.0.0.1:19090" not in lan.slirp_ns.run("ss", "-Hltn").stdout
