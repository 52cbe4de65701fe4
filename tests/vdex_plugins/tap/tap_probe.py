"""Run inside a test's network namespace: open a tap the way vdex does and report, as JSON.

Request keys: ``name``; ``tun_path``; ``hold`` (open the tap once more first and keep it);
``preopen`` (open /dev/net/tun as root before dropping privileges, then attach to that
descriptor); ``uid`` (drop to this uid and gid); ``configure`` (keyword arguments of
configure_link); ``show`` (``ip -j addr show`` while the tap is open); ``arp`` (``my_ip``,
``their_ip``: send an ARP request for ``their_ip`` and wait for the kernel's reply).
"""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
import time
from typing import Any

from vdex.errors import PortError
from vdex_plugins.tap._device import TUN_PATH, bind_tap, open_tap, open_tun
from vdex_plugins.tap._link import configure_link

MY_MAC = bytes.fromhex("020000000002")


def arp_request(my_ip: str, their_ip: str) -> bytes:
    return (b"\xff" * 6 + MY_MAC + b"\x08\x06"
            + bytes.fromhex("0001 0800 06 04 0001") + MY_MAC + socket.inet_aton(my_ip)
            + b"\x00" * 6 + socket.inet_aton(their_ip))


def arp_exchange(fd: int, my_ip: str, their_ip: str, timeout: float = 10) -> dict[str, Any]:
    """Write an ARP request to the tap; read frames until the kernel's reply or the deadline."""
    os.write(fd, arp_request(my_ip, their_ip))
    deadline = time.monotonic() + timeout
    seen = 0
    while (left := deadline - time.monotonic()) > 0:
        readable, _, _ = select.select([fd], [], [], left)
        if not readable:
            break
        while True:
            try:
                frame = os.read(fd, 65536)
            except BlockingIOError:
                break
            seen += 1
            if frame[12:14] == b"\x08\x06" and frame[20:22] == b"\x00\x02":
                return {"dst_mac": frame[0:6].hex(), "src_mac": frame[6:12].hex(),
                        "sender_mac": frame[22:28].hex(),
                        "sender_ip": socket.inet_ntoa(frame[28:32]),
                        "target_mac": frame[32:38].hex(),
                        "target_ip": socket.inet_ntoa(frame[38:42]), "length": len(frame)}
    return {"timeout": True, "frames_seen": seen}


def drop_privileges(uid: int) -> None:
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)


def main(request: dict[str, Any]) -> dict[str, Any]:
    name = request["name"]
    held = open_tap(name) if request.get("hold") else None
    fd = open_tun() if request.get("preopen") else None
    if "uid" in request:
        drop_privileges(request["uid"])
    try:
        if fd is not None:
            try:
                device = bind_tap(fd, name)
            except BaseException:
                os.close(fd)
                raise
        else:
            device = open_tap(name, tun_path=request.get("tun_path", TUN_PATH))
    except PortError as exc:
        return {"error": str(exc), "errno": exc.errno}
    result: dict[str, Any] = {}
    with device:
        result.update(name=device.name, existed=device.existed,
                      blocking=os.get_blocking(device.fd))
        if "configure" in request:
            try:
                configure_link(device.name, **request["configure"])
            except PortError as exc:
                result["configure_error"] = {"error": str(exc), "errno": exc.errno}
        if request.get("show"):
            result["show"] = json.loads(subprocess.check_output(
                ["ip", "-j", "addr", "show", "dev", device.name]))[0]
        if "arp" in request:
            result["arp"] = arp_exchange(device.fd, **request["arp"])
    if held is not None:
        held.close()
    return result


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1]))))
