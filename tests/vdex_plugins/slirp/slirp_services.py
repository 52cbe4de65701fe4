"""The slirp namespace's "internet": a stub DNS server and an HTTP server, on loopback only.

Run as ``ip netns exec SLIRP_NS python slirp_services.py CONFIG-JSON``. CONFIG holds
``root`` (directory served over HTTP), ``http_port``, ``dns_log`` (a file that receives one line
per query) and ``names`` (``{"name.example": "192.0.2.77"}``). Both servers bind 127.0.0.1 and
::1, nothing else. libslirp relays the guest's DNS (to 10.0.2.3) to the first ``nameserver`` of
/etc/resolv.conf, which ``ip netns exec`` replaces with the test's /etc/netns/NS/resolv.conf
(``nameserver 127.0.0.1``): that is this stub. Prints ``READY`` when both listen; runs until
killed.
"""

from __future__ import annotations

import functools
import http.server
import json
import socket
import struct
import sys
import threading
from ipaddress import IPv4Address
from typing import Any


class DualStackHTTPServer(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def dns_answer(query: bytes, names: dict[str, str]) -> tuple[bytes, str] | None:
    """A response to one standard query: A records from ``names``, NXDOMAIN for the rest."""
    if len(query) < 12:
        return None
    ident, flags, qdcount = struct.unpack("!HHH", query[:6])
    if flags & 0x8000 or qdcount != 1:
        return None
    pos, labels = 12, []
    while pos < len(query) and query[pos]:
        length = query[pos]
        labels.append(query[pos + 1 : pos + 1 + length].decode("ascii", "replace"))
        pos += 1 + length
    pos += 1
    if pos + 4 > len(query):
        return None
    qtype, _qclass = struct.unpack("!HH", query[pos : pos + 4])
    question = query[12 : pos + 4]
    name = ".".join(labels).lower()
    address = names.get(name)
    answers = b""
    rcode = 3  # NXDOMAIN
    if address is not None:
        rcode = 0
        if qtype == 1:
            answers = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + IPv4Address(address).packed
    header = struct.pack("!HHHHHH", ident, 0x8180 | rcode, 1, 1 if answers else 0, 0, 0)
    return header + question + answers, f"{name} {qtype}"


def serve_dns(sock: socket.socket, names: dict[str, str], log_path: str) -> None:
    while True:
        query, peer = sock.recvfrom(2048)
        answer = dns_answer(query, names)
        if answer is None:
            continue
        response, line = answer
        with open(log_path, "a") as log:
            log.write(line + "\n")
        sock.sendto(response, peer)


def main(config: dict[str, Any]) -> None:
    handler = functools.partial(QuietHandler, directory=config["root"])
    http_servers = []
    for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        cls = http.server.ThreadingHTTPServer if family == socket.AF_INET else DualStackHTTPServer
        http_servers.append(cls((host, config["http_port"]), handler))
    dns_sockets = []
    for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        sock = socket.socket(family, socket.SOCK_DGRAM)
        sock.bind((host, 53))
        dns_sockets.append(sock)
    for server in http_servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    for sock in dns_sockets:
        threading.Thread(
            target=serve_dns, args=(sock, config["names"], config["dns_log"]), daemon=True
        ).start()
    print("READY", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
