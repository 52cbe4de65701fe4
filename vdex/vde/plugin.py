"""The ``vde`` plugin (essential): the ``vde://`` port type and the stream/datagram transports.

``vde://DIR[N]`` connects to a vde_switch-compatible switch as a client, the way libvdeplug does:
``vdex plug``, cables between switches and a switch's own uplink ports all use it. The
``stream`` transport wraps a pair of descriptors in the 2-byte length framing (stdin/stdout,
pipes to a command), ``datagram`` one descriptor that carries a frame per datagram.
"""

from __future__ import annotations

import errno
import os
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import attrs
import trio

from ..errors import ConfigError, PortError
from ..hookspecs import hookimpl
from ..records import PortType, Transport
from ..runtime.endpoint import FrameEndpoint, StreamEndpoint
from ..vnl import Vnl, parse_mode, resolve_options
from ..vnl_default import default_switch_paths
from .client import DEFAULT_DESCRIPTION, SwitchConnection, connect_switch
from .perms import group_id

if TYPE_CHECKING:
    from ..runtime.switch import Switch

VDE_KEYS = ("", "port", "portgroup", "group", "mode")


@attrs.frozen(kw_only=True)
class VdeTarget:
    """What a ``vde://`` VNL asks for."""

    paths: tuple[str, ...]
    port: int = 0
    """0: any port; N: port N; -1: port 0 (management)."""
    mode: int = 0o700
    gid: int | None = None


def vde_target(vnl: Vnl) -> VdeTarget:
    """Interpret ``vde://PATH[N/port=N/group=G/mode=M]``; a non-numeric bare value is a port
    group, which classic switches ignore (as vde_switch does)."""
    options = resolve_options(vnl, VDE_KEYS)
    port = 0
    raw_port = options.get("port", options.get("", ""))
    if raw_port.isascii() and raw_port.isdigit():  # decimal, as vdeplug4's strtol(.., 10)
        number = int(raw_port, 10)
        port = -1 if number == 0 else number
    mode = parse_mode(options["mode"]) if options.get("mode") else 0o700
    gid = None
    if options.get("group"):
        try:
            gid = group_id(options["group"])
        except Exception as exc:
            raise ConfigError(f"{vnl.text}: {exc}") from None
    return VdeTarget(paths=default_switch_paths(vnl.path), port=port, mode=mode, gid=gid)


def connect_target(target: VdeTarget, description: str) -> SwitchConnection:
    """Connect to the first switch of ``target.paths`` that answers."""
    last: PortError | None = None
    for path in target.paths:
        try:
            return connect_switch(path, port=target.port, description=description,
                                  mode=target.mode, gid=target.gid)
        except PortError as exc:
            last = exc
    assert last is not None
    raise last


@attrs.define(eq=False, kw_only=True)
class VdeClientEndpoint(FrameEndpoint):
    """A port on another switch: frames on the datagram socket, its end signalled on ``ctl``."""

    connection: SwitchConnection

    @classmethod
    def from_connection(cls, conn: SwitchConnection, **kwargs: Any) -> VdeClientEndpoint:
        conn.data.setblocking(False)
        conn.ctl.setblocking(False)
        return cls(fd=conn.data.fileno(), recv=conn.data.recv, write=conn.data.send,
                   closer=conn.close, connection=conn, **kwargs)

    def watched(self) -> dict[int, Callable[[], None]]:
        return {self.connection.ctl.fileno(): self._ctl_event}

    def _ctl_event(self) -> None:
        # The switch sends nothing on the control stream: data or EOF both mean it went away.
        try:
            self.connection.ctl.recv(256)
        except BlockingIOError:
            return
        except OSError as exc:
            self.hang_up(exc)
            return
        self.hang_up(None)


@asynccontextmanager
async def open_vde(switch: Switch | None, vnl: Vnl, *, description: str = DEFAULT_DESCRIPTION
                   ) -> AsyncIterator[VdeClientEndpoint]:
    target = vde_target(vnl)
    conn = await trio.to_thread.run_sync(connect_target, target, description)
    endpoint = VdeClientEndpoint.from_connection(
        conn, id=conn.ctl.fileno(), module="vde", description=vnl.text, uid=os.geteuid())
    try:
        yield endpoint
    finally:
        endpoint.close()


def open_stream(read_fd: int, write_fd: int, *, description: str = "stream",
                closer: Callable[[], None] | None = None, **kwargs: Any) -> StreamEndpoint:
    return StreamEndpoint(id=read_fd, module="stream", description=description,
                          read_fd=read_fd, write_fd=write_fd, closer=closer, **kwargs)


def open_datagram(fd: int, _write_fd: int | None = None, *, description: str = "datagram",
                  **kwargs: Any) -> FrameEndpoint:
    sock = socket.socket(fileno=fd)
    if sock.type not in (socket.SOCK_DGRAM, socket.SOCK_SEQPACKET):
        sock.detach()
        raise PortError(f"descriptor {fd} is not a datagram socket", errno=errno.EINVAL)
    return FrameEndpoint.for_socket(sock, id=fd, module="datagram", description=description,
                                    **kwargs)


@hookimpl
def vdex_port_types(switch: Switch | None) -> list[PortType]:
    return [PortType(scheme="vde", open=open_vde,
                     help="a port of a vde_switch compatible switch: vde://DIR[PORT]")]


@hookimpl
def vdex_transports() -> list[Transport]:
    return [
        Transport(name="stream", open=open_stream,
                  help="2-byte big-endian length + frame over a byte stream (vde_plug, dpipe)"),
        Transport(name="datagram", open=open_datagram,
                  help="one frame per datagram over an inherited socket"),
    ]
