"""Network namespaces for tests: created by the test, always deleted, with the commands to use them.

Every privileged test that touches interfaces (taps, veths, VXLAN devices) or sends traffic that
is not on the host's loopback does it inside namespaces made here, so nothing it does can reach
the host. :class:`NetNsLab` owns a set of them and deletes every one in ``finally`` (deleting a
namespace removes every interface in it); the processes a test starts inside should come from
:mod:`vdex.testing.processes`, which stops their whole session.

Pathname unix sockets work across network namespaces: a switch process running inside one serves
clients (the test itself, vde_plug, QEMU) in any other.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

IP = "ip"

_TX_CHECKSUM = r"""
import ctypes, fcntl, socket, struct, sys
value = ctypes.create_string_buffer(struct.pack("II", 0x17, int(sys.argv[2])))  # ETHTOOL_STXCSUM
request = struct.pack("16sP16x", sys.argv[1].encode(), ctypes.addressof(value))
with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
    fcntl.ioctl(s.fileno(), 0x8946, request)  # SIOCETHTOOL
"""


def loopback_only_netns_fault(name: str) -> str | None:
    """Why this process is not somewhere it may turn virtual traffic into host connections
    (slirp, port forwards): ``outside network namespace NAME`` or ``next to interfaces [...]``;
    None inside the named namespace ``name`` holding only ``lo``, where a frame can never leave
    the machine."""
    try:
        same = os.stat(f"/run/netns/{name}").st_ino == os.stat("/proc/self/ns/net").st_ino
    except OSError:
        same = False
    if not same:
        return f"outside network namespace {name}"
    interfaces = sorted(os.listdir("/sys/class/net"))
    return None if interfaces == ["lo"] else f"next to interfaces {interfaces}"


def require_root(*tools: str) -> None:
    """Fail (never skip) when the test cannot do what it must: CI runs these as root."""
    import pytest

    if os.geteuid() != 0:
        pytest.fail("this test needs root (network namespaces, tap devices); CI runs it as root")
    missing = [t for t in ("ip", *tools) if shutil.which(t) is None]
    if missing:
        pytest.fail(f"missing tools: {', '.join(missing)} (contrib/setup.sh --test installs them)")


def unique_name(prefix: str, length: int = 15) -> str:
    """A name unique to this run, short enough for an interface (15 bytes)."""
    return f"{prefix}{secrets.token_hex(4)}"[:length]


class NetNs:
    """A named network namespace created for one test (``ip netns add``).

    ``script_dir``: where :meth:`run_python` finds scripts given by a relative path.
    """

    def __init__(self, prefix: str = "vdex-test", *, script_dir: str | Path | None = None) -> None:
        self.name = f"{prefix}-{os.getpid()}-{secrets.token_hex(3)}"
        self.script_dir = Path(script_dir) if script_dir is not None else None
        subprocess.run([IP, "netns", "add", self.name], check=True, capture_output=True)
        self.ip("link", "set", "lo", "up")

    def delete(self) -> None:
        """Delete the namespace (idempotent); processes still inside are killed first."""
        done = subprocess.run([IP, "netns", "pids", self.name], capture_output=True, text=True)
        for pid in done.stdout.split():
            try:
                os.kill(int(pid), 9)
            except (ProcessLookupError, ValueError):
                pass
        subprocess.run([IP, "netns", "delete", self.name], check=False, capture_output=True)

    def exists(self) -> bool:
        return os.path.exists(f"/run/netns/{self.name}")

    def exec_argv(self, argv: Sequence[str]) -> list[str]:
        """``argv`` run inside this namespace (for :mod:`vdex.testing.processes`)."""
        return [IP, "netns", "exec", self.name, *argv]

    def ip(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run ``ip -n NS ARGS``; with ``check``, fail the test with ip's own message."""
        done = subprocess.run([IP, "-n", self.name, *args], capture_output=True, text=True)
        if check and done.returncode != 0:
            raise AssertionError(f"ip -n {self.name} {' '.join(args)} failed: "
                                 f"{done.stderr.strip()}")
        return done

    def run(self, *argv: str, check: bool = True, timeout: float = 60,
            **kwargs: Any) -> subprocess.CompletedProcess[str]:
        """Run a command inside the namespace and wait for it (blocking: not in a trio test
        that runs a switch in-process; use ``trio.to_thread.run_sync`` there)."""
        done = subprocess.run(self.exec_argv(argv), capture_output=True, text=True,
                              timeout=timeout, **kwargs)
        if check and done.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} in {self.name} failed ({done.returncode}): "
                                 f"{done.stdout.strip()} {done.stderr.strip()}")
        return done

    def link_exists(self, name: str) -> bool:
        return self.ip("link", "show", "dev", name, check=False).returncode == 0

    def link_json(self, name: str) -> dict[str, Any]:
        shown = json.loads(self.ip("-j", "addr", "show", "dev", name).stdout)
        assert len(shown) == 1
        return dict(shown[0])

    def add_address(self, link: str, address: str, *, up: bool = True) -> None:
        self.ip("addr", "add", address, "dev", link)
        if up:
            self.ip("link", "set", link, "up")

    def set_tx_checksum(self, link: str, on: bool) -> None:
        """Turn transmit checksum offload of ``link`` on or off (``ethtool -K LINK tx off``).

        Why a test needs it: a kernel vxlan device over a veth leaves the inner TCP checksum to
        "hardware" that a veth never provides, so a user-space VXLAN endpoint in another
        namespace receives frames with unfinished checksums, which the host behind a tap then
        drops. A real NIC fills them in; with offload off the kernel does, as it would.
        """
        self.run(sys.executable, "-c", _TX_CHECKSUM, link, "1" if on else "0")

    def run_python(self, script: str | Path, request: dict[str, Any], *,
                   timeout: float = 60) -> dict[str, Any]:
        """Run ``script REQUEST-JSON`` with this interpreter inside the namespace and return the
        JSON object it prints last. A non-zero exit fails the test with the script's stderr."""
        path = Path(script)
        if not path.is_absolute() and self.script_dir is not None:
            path = self.script_dir / path
        done = subprocess.run(
            self.exec_argv([sys.executable, str(path), json.dumps(request)]),
            capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise AssertionError(f"{path.name} failed ({done.returncode}):\n{done.stderr}")
        return dict(json.loads(done.stdout.strip().splitlines()[-1]))

    def __repr__(self) -> str:
        return f"NetNs({self.name!r})"


def move_link(link: str, target: NetNs, *, source: NetNs | None = None) -> None:
    """Move interface ``link`` (from ``source``, default the caller's namespace) into ``target``."""
    prefix = [IP] if source is None else [IP, "-n", source.name]
    done = subprocess.run([*prefix, "link", "set", link, "netns", target.name],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise AssertionError(f"moving {link} into {target.name} failed: {done.stderr.strip()}")


class NetNsLab:
    """Namespaces made for one test; :meth:`close` deletes every one of them."""

    def __init__(self, prefix: str = "vdex") -> None:
        self.prefix = prefix
        self.namespaces: list[NetNs] = []

    def add(self, *, script_dir: str | Path | None = None) -> NetNs:
        ns = NetNs(self.prefix, script_dir=script_dir)
        self.namespaces.append(ns)
        return ns

    def veth(self, a: NetNs, a_addr: str, b: NetNs, b_addr: str, *,
             names: tuple[str, str] | None = None) -> tuple[str, str]:
        """A veth pair between ``a`` and ``b`` with the given addresses (``10.0.0.1/24``), up.

        Made inside ``a`` so that nothing ever appears in the caller's namespace."""
        a_name, b_name = names or (unique_name("vxa"), unique_name("vxb"))
        a.ip("link", "add", a_name, "type", "veth", "peer", "name", b_name, "netns", b.name)
        a.add_address(a_name, a_addr)
        b.add_address(b_name, b_addr)
        return a_name, b_name

    def close(self) -> None:
        errors = []
        for ns in reversed(self.namespaces):
            try:
                ns.delete()
            except Exception as exc:  # keep deleting the others
                errors.append(exc)
        self.namespaces.clear()
        if errors:
            raise errors[0]


@contextmanager
def netns_lab(prefix: str = "vdex") -> Iterator[NetNsLab]:
    """``with netns_lab() as lab: ns = lab.add()``: every namespace is deleted at the end."""
    lab = NetNsLab(prefix)
    try:
        yield lab
    finally:
        lab.close()


__all__ = ["NetNs", "NetNsLab", "move_link", "netns_lab", "require_root", "unique_name"]
