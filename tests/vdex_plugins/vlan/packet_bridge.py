"""A raw AF_PACKET socket on an interface inside a test namespace, bridged to a switch port.

The bridge is a VDE client of the switch (port N) on one side and an ``AF_PACKET``/``SOCK_RAW``
socket bound to an interface (one end of a veth pair) on the other; it copies frames both ways
in trio tasks. The socket is created inside the namespace (the calling thread enters it with
``setns`` for the duration of ``socket()``+``bind()`` and comes back at once); a socket keeps its
namespace for life, so the test process itself never has an interface outside its namespaces.

Linux takes a received 802.1Q tag out of the frame before packet sockets see it (into the
skb's metadata, reported as ``PACKET_AUXDATA``), so the bridge puts it back, as libpcap does:
the switch sees the frame as it was on the wire. Frames the bridge sends itself are not read
back (``PACKET_IGNORE_OUTGOING``).
"""

from __future__ import annotations

import ctypes
import os
import socket
import struct

import trio

from vdex.testing import AsyncVdeClient
from vdex.testing.netns import NetNs

CLONE_NEWNET = 0x40000000
ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_AUXDATA = 8
PACKET_IGNORE_OUTGOING = 23
TP_STATUS_VLAN_VALID = 1 << 4
TP_STATUS_VLAN_TPID_VALID = 1 << 6
_AUXDATA = struct.Struct("=IIIHHHH")

_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


def packet_socket(ns: NetNs, ifname: str) -> socket.socket:
    """An AF_PACKET socket bound to ``ifname`` in ``ns`` (created in ``ns``, used from here)."""
    with open("/proc/thread-self/ns/net", "rb") as home, \
            open(f"/run/netns/{ns.name}", "rb") as target:
        _setns(target.fileno())
        try:
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
            try:
                sock.bind((ifname, 0))
            except BaseException:
                sock.close()
                raise
        finally:
            _setns(home.fileno())  # must never fail silently: the test would run in ns
    sock.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
    sock.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    return sock


def restore_tag(frame: bytes, ancillary: list[tuple[int, int, bytes]]) -> bytes:
    """Put back the 802.1Q tag the kernel moved into PACKET_AUXDATA."""
    for level, kind, data in ancillary:
        if level == SOL_PACKET and kind == PACKET_AUXDATA and len(data) >= _AUXDATA.size:
            status, _len, _snap, _mac, _net, tci, tpid = _AUXDATA.unpack_from(data)
            if status & TP_STATUS_VLAN_VALID:
                if not status & TP_STATUS_VLAN_TPID_VALID or not tpid:
                    tpid = 0x8100
                return frame[:12] + struct.pack("!HH", tpid, tci) + frame[12:]
    return frame


async def bridge(ns: NetNs, ifname: str, switch_dir: str, port: int, *,
                 task_status: trio.TaskStatus[AsyncVdeClient] = trio.TASK_STATUS_IGNORED
                 ) -> None:
    """Copy frames between ``ifname`` (in ``ns``) and port ``port`` of the switch, until
    cancelled. Starts once both sockets are open."""
    raw = trio.socket.from_stdlib_socket(packet_socket(ns, ifname))
    try:
        async with await AsyncVdeClient.connect(switch_dir, port=port,
                                                description=f"packet bridge {ifname}") as client:

            async def wire_to_switch() -> None:
                space = socket.CMSG_SPACE(_AUXDATA.size)
                while True:
                    frame, ancillary, _flags, _addr = await raw.recvmsg(65536, space)
                    await client.send(restore_tag(frame, ancillary))

            async def switch_to_wire() -> None:
                while True:
                    frame = await client.data.recv(65536)
                    try:
                        await raw.send(frame)
                    except OSError:
                        pass  # e.g. a frame the veth refuses: the wire loses it

            async with trio.open_nursery() as nursery:
                nursery.start_soon(wire_to_switch)
                nursery.start_soon(switch_to_wire)
                task_status.started(client)
    finally:
        raw.close()
