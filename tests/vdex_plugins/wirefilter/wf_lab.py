"""A lab of real processes for the wirefilter tests and benchmark: two Debian vde_switches joined
by a Debian dpipe cable with a filter (vdex's or the real wirefilter) in the middle, and clients
that send numbered, timestamped frames and see them arrive.

Everything started here is stopped by :meth:`Lab.close`, even when a test fails.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import attrs

from vdex.testing.blocking import port_sockets as port_sockets
from vdex.testing.blocking import socket_accepts as socket_accepts
from vdex.testing.blocking import wait_for as wait_for
from vdex.vde.client import SwitchConnection, connect_switch

PYTHON = sys.executable
REPO = Path(__file__).resolve().parents[3]
ETHERTYPE = 0x88B5  # IEEE local experimental
BROADCAST = b"\xff" * 6
_PAYLOAD = struct.Struct("!IQ")  # sequence number, send time in ns


def vdex_wirefilter_argv(*args: str) -> list[str]:
    """``vdex wirefilter ARGS`` run from this checkout (``python -m`` until installed)."""
    return [PYTHON, "-m", "vdex_plugins.wirefilter", *args]


def group_alive(pgid: int) -> bool:
    """Does any live (not zombie) process belong to process group ``pgid``?

    Orphans are reaped by init, which can take a second here: a zombie is finished work.
    """
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def make_frame(src: bytes, seq: int, size: int) -> bytes:
    """A broadcast frame of ``size`` bytes carrying ``seq`` and the send time."""
    head = BROADCAST + src + ETHERTYPE.to_bytes(2, "big")
    body = _PAYLOAD.pack(seq, time.monotonic_ns())
    return head + body + bytes(max(0, size - len(head) - len(body)))


def parse_frame(frame: bytes) -> tuple[int, int] | None:
    """``(seq, sent_ns)`` of a lab frame, None for anything else."""
    if len(frame) < 14 + _PAYLOAD.size or frame[12:14] != ETHERTYPE.to_bytes(2, "big"):
        return None
    seq, sent = _PAYLOAD.unpack_from(frame, 14)
    return seq, sent


@attrs.define(eq=False)
class Client:
    """One port on a switch, for sending and receiving lab frames."""

    conn: SwitchConnection
    mac: bytes

    @classmethod
    def join(cls, switch_dir: Path, index: int) -> Client:
        conn = connect_switch(str(switch_dir), description=f"wf-lab-{index}")
        conn.data.setblocking(False)
        conn.data.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        return cls(conn, bytes([2, 0, 0, 0x77, 0, index]))

    def send(self, frame: bytes) -> bool:
        try:
            self.conn.data.send(frame)
            return True
        except BlockingIOError:
            return False

    def recv_all(self) -> list[tuple[int, bytes]]:
        """Every frame queued now, with its arrival time (ns)."""
        got = []
        while True:
            try:
                frame = self.conn.data.recv(65536)
            except BlockingIOError:
                return got
            got.append((time.monotonic_ns(), frame))

    def wait_readable(self, timeout: float) -> bool:
        r, _, _ = select.select([self.conn.data], [], [], max(0.0, timeout))
        return bool(r)

    def close(self) -> None:
        self.conn.close()


@attrs.define(eq=False, kw_only=True)
class Lab:
    """Two switches, a cable between them, clients; :meth:`close` stops all of it."""

    root: Path
    switches: list[subprocess.Popen[bytes]] = attrs.Factory(list)
    cables: list[tuple[subprocess.Popen[bytes], Path]] = attrs.Factory(list)
    clients: list[Client] = attrs.Factory(list)
    _index: int = 0

    @classmethod
    def create(cls) -> Lab:
        for tool in ("vde_switch", "vde_plug", "dpipe"):
            if shutil.which(tool) is None:
                raise AssertionError(f"{tool} (Debian vde2/vdeplug) is required")
        return cls(root=Path(tempfile.mkdtemp(prefix="wfl", dir="/tmp")))

    def switch(self, name: str) -> Path:
        """Start a Debian vde_switch (stdin kept open on a pipe) and wait until it accepts."""
        directory = self.root / name
        proc = subprocess.Popen(["vde_switch", "-s", str(directory)], stdin=subprocess.PIPE,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.switches.append(proc)
        wait_for(lambda: proc.poll() is not None or socket_accepts(directory / "ctl"),
                 what="vde_switch to accept")
        assert proc.poll() is None, "vde_switch died"
        return directory

    def cable(self, left: Path, right: Path, middle: Sequence[str] = (), *,
              vdex_tools: bool = False) -> subprocess.Popen[bytes]:
        """``dpipe vde_plug LEFT [= MIDDLE] = vde_plug RIGHT``, started under a shell (Debian's
        dpipe refuses to be a session leader) and recorded with its process group.

        ``vdex_tools``: the same cable made of ``vdex dpipe`` and ``vdex plug``.
        """
        pgrp = self.root / f"cable{len(self.cables)}.pgrp"
        plug = [PYTHON, "-m", "vdex", "plug"] if vdex_tools else ["vde_plug"]
        chain = [*plug, str(left)]
        if middle:
            chain += ["=", *middle]
        chain += ["=", *plug, str(right)]
        dpipe = f"{PYTHON} -m vdex dpipe" if vdex_tools else "dpipe"
        script = dpipe + ' -P "$0" "$@"; exit $?'
        proc = subprocess.Popen(["bash", "-c", script, str(pgrp), *chain], cwd=str(REPO),
                                start_new_session=True, stdin=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        self.cables.append((proc, pgrp))
        wait_for(lambda: proc.poll() is not None or (pgrp.exists() and pgrp.read_text().strip()),
                 what="dpipe to start")
        wait_for(lambda: proc.poll() is not None or (len(port_sockets(left)) >= 1
                                                      and len(port_sockets(right)) >= 1),
                 timeout=15, what="both vde_plugs to join their switches")
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else "cable died"
        return proc

    def client(self, switch_dir: Path) -> Client:
        self._index += 1
        c = Client.join(switch_dir, self._index)
        self.clients.append(c)
        return c

    def stop_cable(self, proc: subprocess.Popen[bytes]) -> None:
        for i, (p, pgrp) in enumerate(self.cables):
            if p is proc:
                self._stop_cable(p, pgrp)
                del self.cables[i]
                return

    def _stop_cable(self, proc: subprocess.Popen[bytes], pgrp: Path) -> None:
        groups = [proc.pid]  # the shell leads its own session and group
        try:
            groups.append(-int(pgrp.read_text().strip()))  # dpipe's group (-P writes -pgid)
        except (OSError, ValueError):
            pass

        def gone() -> bool:  # poll() reaps the shell: a zombie still counts as a group member
            return proc.poll() is not None and not any(group_alive(g) for g in groups)

        for sig in (signal.SIGTERM, signal.SIGKILL):
            for g in groups:
                try:
                    os.killpg(g, sig)
                except ProcessLookupError:
                    pass
            try:
                wait_for(gone, timeout=5, what="the cable's processes to end")
                break
            except AssertionError:
                if sig == signal.SIGKILL:
                    raise
        if proc.stderr is not None:
            proc.stderr.close()

    def close(self) -> None:
        for c in self.clients:
            c.close()
        self.clients.clear()
        for proc, pgrp in self.cables:
            self._stop_cable(proc, pgrp)
        self.cables.clear()
        for proc in self.switches:
            if proc.stdin is not None:
                proc.stdin.close()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.switches.clear()
        shutil.rmtree(self.root, ignore_errors=True)


def await_path(sender: Client, receiver: Client, timeout: float = 15.0) -> None:
    """Send probes until one crosses (vde_plug and the switches settle), then drain."""
    deadline = time.monotonic() + timeout
    seq = 1 << 31
    while True:
        assert time.monotonic() < deadline, "no frame crossed the cable"
        sender.send(make_frame(sender.mac, seq, 64))
        if receiver.wait_readable(0.2) and any(parse_frame(f) for _t, f in receiver.recv_all()):
            break
        seq += 1
    time.sleep(0.3)  # let probes still in flight (delays) arrive, then forget them
    receiver.recv_all()
    sender.recv_all()


@attrs.frozen
class Arrivals:
    sent: int
    latencies_ms: dict[int, float]
    """Sequence number -> one-way latency of its first copy (ms)."""
    arrival_ns: list[tuple[int, int]]
    """(arrival time, seq) of every copy, in arrival order."""
    copies: int

    @property
    def received(self) -> int:
        return len(self.latencies_ms)


def paced_run(sender: Client, receiver: Client, *, count: int, interval: float, size: int,
              settle: float) -> Arrivals:
    """Send ``count`` frames every ``interval`` s; collect arrivals until ``settle`` s after."""
    latencies: dict[int, float] = {}
    arrivals: list[tuple[int, int]] = []
    copies = 0

    def collect() -> None:
        nonlocal copies
        for t, frame in receiver.recv_all():
            parsed = parse_frame(frame)
            if parsed is None or parsed[0] >= count:
                continue
            seq, sent = parsed
            copies += 1
            arrivals.append((t, seq))
            latencies.setdefault(seq, (t - sent) / 1e6)

    start = time.monotonic()
    for seq in range(count):
        due = start + seq * interval
        while True:
            left = due - time.monotonic()
            if left <= 0:
                break
            receiver.wait_readable(left)
            collect()
        sender.send(make_frame(sender.mac, seq, size))
    end = time.monotonic() + settle
    while time.monotonic() < end:
        receiver.wait_readable(end - time.monotonic())
        collect()
    return Arrivals(count, latencies, arrivals, copies)


# ---------------------------------------------------------------------- a filter on plain pipes


@attrs.define(eq=False, kw_only=True)
class FilterProcess:
    """A filter process on pipes: ``lr_in`` -> ``lr_out`` and, bidirectional, ``rl_in`` -> ``rl_out``
    (the test's ends: write to ``*_in``, read from ``*_out``)."""

    proc: subprocess.Popen[bytes]
    lr_in: int
    lr_out: int
    rl_in: int | None = None
    rl_out: int | None = None

    @classmethod
    def start(cls, argv: Sequence[str], *, bidirectional: bool = False,
              env: dict[str, str] | None = None) -> FilterProcess:
        """Start ``argv`` with stdin/stdout on pipes (and fds 3/4 as ALTERNATE_STDIN/STDOUT)."""
        stdin_r, stdin_w = os.pipe()
        stdout_r, stdout_w = os.pipe()
        environ = dict(os.environ if env is None else env)
        environ.pop("ALTERNATE_STDIN", None)
        environ.pop("ALTERNATE_STDOUT", None)
        if not bidirectional:
            proc = subprocess.Popen(list(argv), stdin=stdin_r, stdout=stdout_w, env=environ,
                                    cwd=str(REPO))
            os.close(stdin_r)
            os.close(stdout_w)
            return cls(proc=proc, lr_in=stdin_w, lr_out=stdout_r)
        # The filter reads LR on stdin and writes it to fd 4 (ALTERNATE_STDOUT); it reads RL on
        # fd 3 (ALTERNATE_STDIN) and writes it to stdout.
        alt_in_r, alt_in_w = os.pipe()
        alt_out_r, alt_out_w = os.pipe()
        environ["ALTERNATE_STDIN"], environ["ALTERNATE_STDOUT"] = "3", "4"
        script = f'exec "$@" 3<&{alt_in_r} 4>&{alt_out_w} {alt_in_r}<&- {alt_out_w}>&-'
        proc = subprocess.Popen(["bash", "-c", script, "filter", *argv], stdin=stdin_r,
                                stdout=stdout_w, env=environ, cwd=str(REPO),
                                pass_fds=(alt_in_r, alt_out_w))
        for fd in (stdin_r, stdout_w, alt_in_r, alt_out_w):
            os.close(fd)
        return cls(proc=proc, lr_in=stdin_w, lr_out=alt_out_r, rl_in=alt_in_w, rl_out=stdout_r)

    def close(self) -> None:
        for fd in (self.lr_in, self.lr_out, self.rl_in, self.rl_out):
            if fd is not None and fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def write_records(fd: int, frames: Sequence[bytes]) -> None:
    data = b"".join(len(f).to_bytes(2, "big") + f for f in frames)
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


class RecordReader:
    """Reads framed records from a pipe with deadlines, stamping each with its arrival time."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buf = b""
        self.eof = False

    def read(self, count: int, timeout: float) -> list[tuple[int, bytes]]:
        """Up to ``count`` records (fewer at the deadline or end of file)."""
        out: list[tuple[int, bytes]] = []
        deadline = time.monotonic() + timeout
        while len(out) < count and not self.eof:
            self._split(out, count)
            if len(out) >= count:
                break
            left = deadline - time.monotonic()
            if left <= 0:
                break
            r, _, _ = select.select([self.fd], [], [], left)
            if not r:
                break
            data = os.read(self.fd, 65536)
            if not data:
                self.eof = True
            self.buf += data
            self._split(out, count)
        return out

    def _split(self, out: list[tuple[int, bytes]], count: int) -> None:
        now = time.monotonic_ns()
        while len(out) < count and len(self.buf) >= 2:
            n = int.from_bytes(self.buf[:2], "big")
            if len(self.buf) < 2 + n:
                return
            out.append((now, self.buf[2:2 + n]))
            self.buf = self.buf[2 + n:]


class PromptConsole:
    """A blocking management-socket client that reads up to each ``prompt`` (``\\nVDEwf$ `` for
    wirefilter, ``\\nvde$ `` for a switch); :attr:`greeting` is what came before the first."""

    def __init__(self, path: Path, prompt: bytes) -> None:
        self.prompt = prompt
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(str(path))
        self.sock.settimeout(10)
        self.greeting = self.until(prompt)

    def until(self, marker: bytes) -> bytes:
        data = b""
        while not data.endswith(marker):
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            data += chunk
        return data

    def __call__(self, line: str) -> str:
        self.sock.sendall(line.encode() + b"\n")
        return self.until(self.prompt).decode()[: -len(self.prompt)]

    def close(self) -> None:
        self.sock.close()
