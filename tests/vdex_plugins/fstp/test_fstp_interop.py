"""FSTP against a real ``vde_switch -F``: two cables between it and a vdex engine converge.

The vdex side is a SwitchEngine with the VLAN and FSTP stages, driven by a plain select loop
over real unix datagram sockets connected to vde_switch's ports (the VDE handshake of spec §1.3).
The trio runtime is not needed for this: the plugin is sans-I/O.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import socket
import struct
import subprocess
import tempfile
import time

import pytest

from vdex._core.engine import SwitchEngine
from vdex_plugins.fstp._commands import fstp_print
from vdex_plugins.fstp._controller import FstpController
from vdex_plugins.vlan._commands import vlan_print
from vdex_plugins.vlan._dot1q import dot1q_stage

pytestmark = [pytest.mark.interop, pytest.mark.slow]

BPDU_MAC = bytes.fromhex("0180c2000000")


class RealSwitch:
    """``vde_switch -F`` in a private directory, with a management socket."""

    def __init__(self, directory: str, priority: int) -> None:
        self.ctl, self.mgmt_path = f"{directory}/s.ctl", f"{directory}/m.mgmt"
        self.dir = directory
        self.proc = subprocess.Popen(
            ["vde_switch", "-F", "--macaddr", "02:00:00:00:5a:01", "--priority", str(priority),
             "-s", self.ctl, "-M", self.mgmt_path],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 5
        while not os.path.exists(self.mgmt_path):
            assert time.monotonic() < deadline, "vde_switch did not create its mgmt socket"
            time.sleep(0.02)
        self.keep: list[socket.socket] = []

    def connect(self, port: int, name: str) -> socket.socket:
        """A client on ``port``: returns the connected, non-blocking data socket."""
        ctl = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        ctl.connect(f"{self.ctl}/ctl")
        data = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        path = f"{self.dir}/.{name}"
        data.bind(path)
        ctl.send(struct.pack("=III", 0xFEEDFACE, 3, port << 8)
                 + struct.pack("=H108s", socket.AF_UNIX, path.encode()) + name.encode())
        _family, where = struct.unpack("=H108s", ctl.recv(110))
        data.connect(where.rstrip(b"\0").decode())
        data.setblocking(False)
        self.keep += [ctl, data]
        return data

    def command(self, line: str) -> list[str]:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.connect(self.mgmt_path)
            s.settimeout(2)
            self._read_prompt(s)
            s.sendall(line.encode() + b"\n")
            text = self._read_prompt(s).decode()
        return [x for x in text.replace("vde$ ", "").splitlines() if x.strip()]

    @staticmethod
    def _read_prompt(s: socket.socket) -> bytes:
        buf = b""
        while not buf.endswith(b"vde$ "):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        return buf

    def close(self) -> None:
        for sock in self.keep:
            sock.close()
        self.proc.terminate()
        self.proc.wait(timeout=5)


class SocketEndpoint:
    def __init__(self, sock: socket.socket, number: int) -> None:
        self.sock, self.id, self.uid = sock, number, 0

    def send(self, frame: bytes) -> None:
        # a full or vanished peer loses the frame, as the runtime does
        with contextlib.suppress(BlockingIOError, ConnectionRefusedError):
            self.sock.send(frame)


class Station:
    def __init__(self) -> None:
        self.id, self.uid, self.frames = 1, 0, []

    def send(self, frame: bytes) -> None:
        if frame[:6] != BPDU_MAC:
            self.frames.append(frame)


class Rig:
    """vde_switch S1 and vdex S2 joined by two cables (ports 5 and 6 on both), a host on each."""

    def __init__(self, real: RealSwitch, vdex_priority: int) -> None:
        self.real = real
        self.engine = SwitchEngine()
        self.fstp = FstpController(self.engine, mac=bytes.fromhex("020000005a02"),
                                   priority=vdex_priority)
        self.engine.set_stages([("vlan", dot1q_stage()), ("fstp", self.fstp.frame_stage())])
        self.fstp.set_enabled(True, 0)
        self.station = Station()
        self.host_port = self._port(1, self.station)
        self.real_host = real.connect(1, "host")
        self.cables: dict[socket.socket, object] = {}
        for number in (5, 6):
            sock = real.connect(number, f"cable{number}")
            self.cables[sock] = self._port(number, SocketEndpoint(sock, number))
        self.fstp.sync(0)
        self.start = time.monotonic()
        self.real_host_frames: list[bytes] = []

    def _port(self, number: int, endpoint):
        port, _ = self.engine.ports.choose_for_client(0, number)
        self.engine.add_port(port)
        self.engine.attach(port, endpoint)
        return port

    def pump(self, seconds: float, until=None) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end and not (until and until()):
            readable, _, _ = select.select([*self.cables, self.real_host], [], [], 0.02)
            for sock in readable:
                try:
                    frame = sock.recv(2048)
                except BlockingIOError:
                    continue
                if sock is self.real_host:
                    if frame[:6] != BPDU_MAC:
                        self.real_host_frames.append(frame)
                else:
                    self.cables[sock].receive(frame)
            now = int(time.monotonic() - self.start)
            if now != self.engine.now:
                self.engine.tick(now)
                self.fstp.tick(now)


@pytest.fixture
def workdir():
    directory = tempfile.mkdtemp(prefix="vdex-fstp-")
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def converged(rig: Rig) -> bool:
    return ("-- Port 0006 tagged=0 active=1 status=Discarding" in
            " ".join(rig.real.command("vlan/print")) and rig.fstp.machine.vlans[0].root_port
            in (None, 5))


BROADCAST = bytes.fromhex("ffffffffffff02000000beef88b5") + b"\x50" * 50


def one_broadcast_each_way(rig: Rig) -> tuple[int, int]:
    rig.station.frames.clear()
    rig.real_host.send(BROADCAST)
    rig.pump(1.5)
    from_real = sum(1 for f in rig.station.frames if f == BROADCAST)
    rig.real_host_frames.clear()
    rig.host_port.receive(BROADCAST)
    rig.pump(1.5)
    return from_real, len(rig.real_host_frames)


@pytest.mark.parametrize(("real_priority", "vdex_is_root"), [(0x8000, False), (0x9000, True)])
def test_vde_switch_and_vdex_with_two_cables_converge(workdir, real_priority, vdex_is_root):
    real = RealSwitch(workdir, real_priority)
    try:
        rig = Rig(real, 0x8000)
        rig.pump(20, until=lambda: converged(rig))
        assert converged(rig), real.command("fstp/print")
        tree = rig.fstp.machine.vlans[0]
        if vdex_is_root:
            assert tree.root == rig.fstp.machine.bridge_id
            assert real.command("fstp/print")[4].startswith(" ++ rootport 0005 cost 20000000 ")
            # vdex is the designated end of the second cable: only vde_switch's end blocks
            assert rig.engine.is_forwarding(rig.engine.ports.get(6), 0)
        else:
            assert fstp_print(rig.fstp, "")[5:] == [
                " -- Port 0005 tagged=0 portcost=20000000 role=Root",
                " -- Port 0006 tagged=0 portcost=20000000 role=Alternate/Backup"]
            assert vlan_print(rig.engine, "")[-1] == (
                " -- Port 0006 tagged=0 active=1 status=Discarding")
        assert one_broadcast_each_way(rig) == (1, 1)
        assert rig.fstp.bad_bpdus == 0
    finally:
        real.close()
