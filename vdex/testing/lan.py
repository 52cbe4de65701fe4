"""Traffic between network namespaces for tests: ping and a checked TCP transfer.

These run real programs inside namespaces made with :mod:`vdex.testing.netns` and wait for them
with trio, so a test can run them while it talks to switches. Each check has a deadline and fails
with what the programs printed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import trio

from .netns import NetNs
from .processes import switch_process, vdex_switch

TCP_PORT = 5201

_SERVER = r"""
import hashlib, json, socket, sys
port, size = int(sys.argv[1]), int(sys.argv[2])
srv = socket.create_server(("0.0.0.0", port))
print("listening", flush=True)
conn, peer = srv.accept()
digest, got = hashlib.sha256(), 0
while got < size:
    chunk = conn.recv(1 << 16)
    if not chunk:
        break
    digest.update(chunk)
    got += len(chunk)
conn.sendall(b"ok")
conn.close()
print(json.dumps({"bytes": got, "sha256": digest.hexdigest(), "peer": peer[0]}), flush=True)
"""

_CLIENT = r"""
import hashlib, json, random, socket, sys, time
host, port, size, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
data = random.Random(seed).randbytes(size)
start = time.monotonic()
s = socket.create_connection((host, port), timeout=30)
s.sendall(data)
s.shutdown(socket.SHUT_WR)
assert s.recv(2) == b"ok"
elapsed = time.monotonic() - start
print(json.dumps({"sha256": hashlib.sha256(data).hexdigest(), "seconds": elapsed}))
"""


async def ping(ns: NetNs, address: str, *, count: int = 3, timeout: float = 20.0,
               interval: float = 0.2) -> str:
    """Ping ``address`` from ``ns`` until ``count`` replies in a row arrive (the first pings of a
    fresh LAN may be lost to ARP); return ping's output. Fails after ``timeout`` seconds."""
    argv = ns.exec_argv(["ping", "-n", "-c", str(count), "-i", str(interval), "-W", "1",
                         address])
    last = ""
    with trio.move_on_after(timeout):
        while True:
            done = await trio.run_process(argv, capture_stdout=True, capture_stderr=True,
                                          check=False)
            last = done.stdout.decode() + done.stderr.decode()
            if done.returncode == 0 and f"{count} received" in last:
                return last
            await trio.sleep(0.2)
    raise AssertionError(f"no ping replies from {address} in {ns.name} within {timeout}s:\n{last}")


async def tcp_transfer(server: NetNs, client: NetNs, address: str, size: int, *,
                       port: int = TCP_PORT, timeout: float = 60.0, seed: int = 7) -> dict:
    """Send ``size`` random bytes over TCP from ``client`` to ``server`` (listening on
    ``address``); assert every byte arrived intact. Returns the server's report and the time."""
    server_argv = server.exec_argv([sys.executable, "-c", _SERVER, str(port), str(size)])
    client_argv = client.exec_argv([sys.executable, "-c", _CLIENT, address, str(port),
                                    str(size), str(seed)])
    with trio.fail_after(timeout):
        proc = await trio.lowlevel.open_process(server_argv, stdout=subprocess.PIPE,
                                                stderr=subprocess.PIPE)
        try:
            assert proc.stdout is not None
            first = b""
            while b"\n" not in first:
                chunk = await proc.stdout.receive_some(4096)
                if not chunk:
                    raise AssertionError("the TCP server did not start")
                first += chunk
            sent = await trio.run_process(client_argv, capture_stdout=True,
                                          capture_stderr=True, check=False)
            if sent.returncode != 0:
                raise AssertionError(f"TCP client failed: {sent.stderr.decode()}")
            rest = first.split(b"\n", 1)[1]
            while True:
                chunk = await proc.stdout.receive_some(4096)
                if not chunk:
                    break
                rest += chunk
            await proc.wait()
        finally:
            if proc.returncode is None:
                proc.kill()
                with trio.CancelScope(shield=True):
                    await proc.wait()
    report = json.loads(rest.decode().strip().splitlines()[-1])
    client_report = json.loads(sent.stdout.decode().strip().splitlines()[-1])
    assert report["bytes"] == size, f"{report['bytes']} of {size} bytes arrived"
    assert report["sha256"] == client_report["sha256"], "the bytes arrived corrupted"
    report["seconds"] = client_report["seconds"]
    return dict(report)


@asynccontextmanager
async def switch_with_tap(ns: NetNs, directory: str, tap: str, address: str | None,
                          *args: str) -> AsyncIterator[str]:
    """A ``vdex switch`` process inside ``ns`` with tap ``tap`` (``-t``), given ``address``
    (``198.18.0.1/24``) and brought up in the same namespace: a host on a vdex LAN. Yields the
    console socket path (``directory/mgmt``); the switch's data socket is ``directory/sw``."""
    sock, mgmt = os.path.join(directory, "sw"), os.path.join(directory, "mgmt")
    argv = vdex_switch(sock, "--nostdin", "-M", mgmt, "-t", tap, *args)
    async with switch_process(ns.exec_argv(argv), sock):
        if address is not None:
            ns.add_address(tap, address)
        yield mgmt


__all__ = ["TCP_PORT", "ping", "switch_with_tap", "tcp_transfer"]
