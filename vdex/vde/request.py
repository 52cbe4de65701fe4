"""The vde_switch control request and reply, without I/O (spec vde_switch.md §1.3, §1.6).

A client connects a stream socket to ``DIR/ctl`` and sends one request: magic, version, type,
the ``sockaddr_un`` of its datagram socket, then a description without a terminating NUL. All
integers are in the host's byte order (the protocol never left one machine). The switch answers
with the 110-byte ``sockaddr_un`` of the datagram socket it made for the client.
"""

from __future__ import annotations

import enum
import struct

import attrs

from ..errors import FrameError

MAGIC = 0xFEEDFACE
VERSION = 3
SOCKADDR_UN_LEN = 110
SUN_PATH_LEN = 108
V3_HEADER_LEN = 12 + SOCKADDR_UN_LEN
"""magic, version, type, sockaddr_un: the least a v3 request must hold (122 bytes)."""
V1_HEADER_LEN = 8 + 6 + SOCKADDR_UN_LEN
"""magic, type, a MAC (ignored), sockaddr_un."""
MAX_REQUEST_LEN = 256
"""vde_switch reads at most this much; longer descriptions are cut."""
MAX_DESCRIPTION_LEN = 128

AF_UNIX = 1
_V3 = struct.Struct("=III")
_SOCKADDR = struct.Struct(f"=H{SUN_PATH_LEN}s")


class RequestType(enum.IntEnum):
    NEW_CONTROL = 0
    """An ordinary client: any port, or the port number in bits 8..31."""
    NEW_PORT0 = 1
    """A management client that wants port 0."""


@attrs.frozen
class PortRequest:
    """A parsed request. ``port`` is 0 for "any free port", -1 for port 0 (REQ_NEW_PORT0)."""

    version: int
    port: int
    path: bytes
    """The client's datagram socket path (empty for an unnamed or abstract socket)."""
    abstract: bool
    description: str

    @property
    def wants_port0(self) -> bool:
        return self.port < 0


def _parse_sockaddr(raw: bytes) -> tuple[bytes, bool]:
    family, path = _SOCKADDR.unpack(raw)
    if family != AF_UNIX:
        raise FrameError(f"client address family {family} is not AF_UNIX ({AF_UNIX})")
    if path[:1] == b"\0":
        return b"", True
    end = path.find(b"\0")
    return (path if end < 0 else path[:end]), False


def _decode_description(raw: bytes) -> str:
    raw = raw.split(b"\0", 1)[0][:MAX_DESCRIPTION_LEN]
    return raw.decode("utf-8", "replace")


def needed_length(data: bytes) -> int:
    """How many bytes a request starting with ``data`` needs before it can be parsed."""
    if len(data) < 8:
        return 8
    (version,) = struct.unpack_from("=I", data, 4)
    return V1_HEADER_LEN if version in (0, 1) else V3_HEADER_LEN


def parse_request(data: bytes) -> PortRequest:
    """Parse a complete request (at least :func:`needed_length` bytes).

    :raises FrameError: wrong magic, unsupported version, bad type, bad address family, short data.
        The message is what the switch logs before closing the connection.
    """
    if len(data) < 8:
        raise FrameError(f"request of {len(data)} bytes is too short (at least 122 expected)")
    magic, version = struct.unpack_from("=II", data, 0)
    if magic != MAGIC:
        raise FrameError(f"bad magic 0x{magic:08x} (expected 0x{MAGIC:08x} in host byte order)")
    if version in (0, 1):
        # Legacy v1: magic, type, MAC, sockaddr. Only "any port" and port 0 can be asked for.
        if len(data) < V1_HEADER_LEN:
            raise FrameError(f"v1 request of {len(data)} bytes is too short ({V1_HEADER_LEN} needed)")
        req_type = version
        path, abstract = _parse_sockaddr(data[14 : 14 + SOCKADDR_UN_LEN])
        description = _decode_description(data[V1_HEADER_LEN:MAX_REQUEST_LEN])
        port = -1 if req_type == RequestType.NEW_PORT0 else 0
        return PortRequest(1, port, path, abstract, description)
    if version != VERSION:
        raise FrameError(f"request for protocol version {version}; only versions 1 and 3 exist")
    if len(data) < V3_HEADER_LEN:
        raise FrameError(f"request of {len(data)} bytes is too short ({V3_HEADER_LEN} needed)")
    (raw_type,) = struct.unpack_from("=i", data, 8)
    req_type = raw_type & 0xFF
    if req_type not in (RequestType.NEW_CONTROL, RequestType.NEW_PORT0):
        raise FrameError(f"bad request type {req_type} (0: new port, 1: port 0)")
    port = -1 if req_type == RequestType.NEW_PORT0 else max(raw_type >> 8, 0)
    path, abstract = _parse_sockaddr(data[12:V3_HEADER_LEN])
    description = _decode_description(data[V3_HEADER_LEN:MAX_REQUEST_LEN])
    return PortRequest(VERSION, port, path, abstract, description)


def build_request(path: bytes | str, description: str, *, port: int = 0) -> bytes:
    """The request a client sends: ``port`` 0 = any, N = port N, -1 = port 0."""
    raw_path = path.encode() if isinstance(path, str) else path
    if len(raw_path) >= SUN_PATH_LEN:
        raise ValueError(f"socket path of {len(raw_path)} bytes does not fit in sockaddr_un")
    req_type = RequestType.NEW_PORT0 if port < 0 else (port << 8) | RequestType.NEW_CONTROL
    return (
        _V3.pack(MAGIC, VERSION, req_type)
        + _SOCKADDR.pack(AF_UNIX, raw_path)
        + description.encode()[:MAX_DESCRIPTION_LEN]
    )


def build_reply(path: bytes | str) -> bytes:
    """The 110-byte reply naming the switch's datagram socket for this client."""
    raw_path = path.encode() if isinstance(path, str) else path
    if len(raw_path) >= SUN_PATH_LEN:
        raise ValueError(f"socket path of {len(raw_path)} bytes does not fit in sockaddr_un")
    return _SOCKADDR.pack(AF_UNIX, raw_path)


def parse_reply(data: bytes) -> bytes:
    """The switch's datagram socket path from a reply."""
    if len(data) != SOCKADDR_UN_LEN:
        raise FrameError(f"reply of {len(data)} bytes; a switch replies with exactly 110")
    path, abstract = _parse_sockaddr(data)
    if abstract or not path:
        raise FrameError("switch replied with an unnamed socket")
    return path
