"""A throwaway lab of network namespaces for the slirp tests.

Safety first: slirp turns guest traffic into real host connections. So the slirp side always runs
in a namespace made here whose only interface is ``lo`` (slirp_tap_host.py checks this again
before it starts), and its DNS goes to a stub on that loopback: ``ip netns exec`` bind-mounts
/etc/netns/NAME/resolv.conf (``nameserver 127.0.0.1``) over /etc/resolv.conf, which is where
libslirp looks. Guests live in other namespaces and reach slirp only through the tap.

Everything is synchronous (subprocess) and every resource is registered on an ExitStack as soon
as it exists, so namespaces, processes, /etc/netns entries and files go away whatever happens.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
PYTHON = sys.executable
UDHCPC_SCRIPT = HERE / "slirp_udhcpc.sh"
TEST_NAME = "vdex-test.example"
TEST_NAME_ADDR = "192.0.2.77"
HTTP_PORT = 8080


def require_root() -> None:
    if os.geteuid() != 0:
        pytest.fail("the slirp namespace tests need root (CI runs them as root)")
    for tool in ("ip", "busybox"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is required (Debian packages iproute2, busybox)")


def unique(prefix: str) -> str:
    """A name unique to this run, short enough for an interface (15 bytes)."""
    return f"{prefix}{secrets.token_hex(4)}"[:15]


def wait_for(predicate: Callable[[], bool], *, timeout: float = 10.0, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


class Namespace:
    """A network namespace with ``lo`` up and nothing else, until the test adds something."""

    def __init__(self, name: str, *, resolv_conf: str | None = None) -> None:
        self.name = name
        self.etc = Path("/etc/netns") / name
        if resolv_conf is not None:
            self.etc.mkdir(parents=True, exist_ok=False)
            (self.etc / "resolv.conf").write_text(resolv_conf)
        subprocess.run(["ip", "netns", "add", name], check=True, capture_output=True)
        self.ip("link", "set", "lo", "up")

    def delete(self) -> None:
        subprocess.run(["ip", "netns", "delete", self.name], capture_output=True)
        shutil.rmtree(self.etc, ignore_errors=True)

    def ip(self, *args: str) -> str:
        done = subprocess.run(["ip", "-n", self.name, *args], capture_output=True, text=True)
        if done.returncode != 0:
            raise AssertionError(f"ip -n {self.name} {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout

    def argv(self, *args: str | Path) -> list[str]:
        return ["ip", "netns", "exec", self.name, *map(str, args)]

    def run(
        self,
        *args: str | Path,
        timeout: float = 20,
        env: dict[str, str] | None = None,
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            self.argv(*args),
            capture_output=True,
            text=True,
            timeout=timeout,
            env=None if env is None else {**os.environ, **env},
        )
        if check and done.returncode != 0:
            raise AssertionError(
                f"in {self.name}: {' '.join(map(str, args))} exited {done.returncode}\n"
                f"stdout: {done.stdout}\nstderr: {done.stderr}"
            )
        return done

    def python(self, code: str, *args: str, timeout: float = 20) -> str:
        return self.run(PYTHON, "-c", code, *args, timeout=timeout).stdout

    def interfaces(self) -> list[str]:
        shown = json.loads(self.ip("-j", "link", "show"))
        return sorted(link["ifname"] for link in shown)


def stop_process(proc: subprocess.Popen[Any], grace: float = 5.0) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(grace)
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


def read_line(proc: subprocess.Popen[str], timeout: float) -> str:
    """The next stdout line of ``proc``, or an AssertionError with its stderr."""
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    line = proc.stdout.readline() if ready else ""
    if not line:
        proc.kill()
        _, err = proc.communicate(timeout=5)
        raise AssertionError(f"{proc.args} gave no output (exit {proc.returncode}):\n{err}")
    return line.strip()


class SlirpHost:
    """slirp_tap_host.py running in the slirp namespace, serving a tap moved elsewhere."""

    def __init__(
        self,
        stack: contextlib.ExitStack,
        slirp_ns: Namespace,
        tap: str,
        tap_ns: Namespace,
        options: Sequence[str],
    ) -> None:
        self.tap = tap
        self.report: dict[str, Any] | None = None
        self.proc = subprocess.Popen(
            slirp_ns.argv(
                PYTHON,
                HERE / "slirp_tap_host.py",
                "--netns",
                slirp_ns.name,
                "--tap",
                tap,
                "--to",
                tap_ns.name,
                "--",
                *options,
            ),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        stack.callback(stop_process, self.proc)
        assert read_line(self.proc, 15) == "READY"

    def stop(self) -> dict[str, Any]:
        """Close stdin (the helper's signal to stop) and return its final statistics."""
        if self.report is None:
            out, err = self.proc.communicate(timeout=15)  # closes stdin first
            assert self.proc.returncode == 0, err
            self.report = json.loads(out.strip().splitlines()[-1])
        return self.report


@contextlib.contextmanager
def lab_files() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="vdex-slirp-"))
    try:
        (root / "www").mkdir()
        (root / "tftp").mkdir()
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def start_services(stack: contextlib.ExitStack, slirp_ns: Namespace, root: Path) -> Path:
    """The stub DNS and HTTP servers on the slirp namespace's loopback; returns the DNS log."""
    dns_log = root / "dns.log"
    dns_log.touch()
    config = {
        "root": str(root / "www"),
        "http_port": HTTP_PORT,
        "dns_log": str(dns_log),
        "names": {TEST_NAME: TEST_NAME_ADDR},
    }
    proc = subprocess.Popen(
        slirp_ns.argv(PYTHON, HERE / "slirp_services.py", json.dumps(config)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    stack.callback(stop_process, proc)
    assert read_line(proc, 15) == "READY"
    return dns_log


def udhcpc(
    guest: Namespace, interface: str, lease_file: Path, *, tries: int = 5, background: bool = False
) -> subprocess.CompletedProcess[str] | subprocess.Popen[str]:
    """busybox udhcpc with our script; the lease lands in ``lease_file``."""
    argv = [
        "env",
        f"LEASE_FILE={lease_file}",
        "busybox",
        "udhcpc",
        "-i",
        interface,
        "-s",
        str(UDHCPC_SCRIPT),
        "-f",
        "-q",
        "-n",
        "-t",
        str(tries),
        "-T",
        "1",
        "-A",
        "1",
    ]
    if background:
        return subprocess.Popen(
            guest.argv(*argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
    return guest.run(*argv, timeout=tries * 3 + 10, check=False)


def read_lease(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


GUEST_TCP_SERVER = """
import socket, sys
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("0.0.0.0", int(sys.argv[1])))
srv.listen()
print("READY", flush=True)
while True:
    conn, peer = srv.accept()
    with conn:
        conn.sendall(f"{sys.argv[2]} from {peer[0]}".encode())
"""

GUEST_UDP_ECHO = """
import socket, sys
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind(("0.0.0.0", int(sys.argv[1])))
print("READY", flush=True)
while True:
    data, peer = sock.recvfrom(2048)
    sock.sendto(sys.argv[2].encode() + b":" + data, peer)
"""

HOST_TCP_CLIENT = """
import socket, sys
with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10) as conn:
    data = b""
    while chunk := conn.recv(4096):
        data += chunk
print(data.decode())
"""

HOST_UDP_CLIENT = """
import socket, sys
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.settimeout(1)
for _ in range(10):
    sock.sendto(b"ping", (sys.argv[1], int(sys.argv[2])))
    try:
        print(sock.recv(2048).decode())
        break
    except TimeoutError:
        continue
"""


def start_guest_server(
    stack: contextlib.ExitStack, guest: Namespace, code: str, *args: str
) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        guest.argv(PYTHON, "-c", code, *args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    stack.callback(stop_process, proc)
    assert read_line(proc, 10) == "READY"
    return proc
