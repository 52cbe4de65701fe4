"""The switch side of the VDE data socket: ``DIR/ctl``, the handshake, and one endpoint per client.

Each accepted control connection gets a task that reads the request, makes a datagram socket
connected to the client's, binds it at ``DIR/NNN.F``, replies with its address, attaches it to a
port, and then only waits for the control stream to close, which frees the endpoint. A refused
request closes the stream at once (the Debian switch leaves such clients hanging).
"""

from __future__ import annotations

import errno
import logging
import os
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING

import attrs
import trio

from ..errors import ConfigError, FrameError, PortError
from ..mgmt.console import bind_unix_stream, remove_stale_socket
from ..runtime.endpoint import FrameEndpoint
from .perms import SocketModes, client_uid
from .request import MAX_REQUEST_LEN, PortRequest, build_reply, needed_length, parse_request

if TYPE_CHECKING:
    from .._core.port import Port

log = logging.getLogger("vdex.vde")

REQUEST_TIMEOUT = 5.0
"""Seconds a client has to send its whole request after connecting."""
MODULE = "unix prog"


@attrs.define(eq=False, kw_only=True)
class DataSocketStatistics:
    accepted: int = 0
    refused: int = 0
    """Requests closed without a port: malformed, unknown client socket, access denied, no port."""


class DataSocketServer:
    """Serves ``DIR/ctl`` for a switch. The switch provides attach/detach and the port-0 modes."""

    def __init__(
        self,
        directory: str,
        modes: SocketModes,
        *,
        attach: Callable[[FrameEndpoint, PortRequest], Port],
        detach: Callable[[FrameEndpoint], None],
        port0_modes: SocketModes | None = None,
    ) -> None:
        self.directory = os.path.realpath(directory)
        self.modes = modes
        self.port0_modes = port0_modes or modes
        self._attach = attach
        self._detach = detach
        self.stats = DataSocketStatistics()
        self.ctl_path = os.path.join(self.directory, "ctl")
        self._created_dir = False

    # ------------------------------------------------------------------ directory and ctl

    def _prepare_directory(self) -> None:
        try:
            os.mkdir(self.directory, 0o700)
            self._created_dir = True
        except FileExistsError:
            if not os.path.isdir(self.directory):
                raise ConfigError(
                    f"{self.directory} exists and is not a directory: -s needs a directory path"
                ) from None
            # Before touching modes: a switch that is running there keeps its directory as it
            # is (ConfigError); a dead one's ctl is removed.
            remove_stale_socket(self.ctl_path)
        except OSError as exc:
            raise ConfigError(f"cannot create {self.directory}: {exc.strerror}") from None
        os.chmod(self.directory, self.modes.dirmode)
        if self.modes.gid is not None:
            os.chown(self.directory, -1, self.modes.gid)

    def _cleanup_directory(self) -> None:
        try:
            os.unlink(self.ctl_path)
        except FileNotFoundError:
            pass
        try:
            os.rmdir(self.directory)
        except FileNotFoundError:
            pass
        except OSError as exc:
            if exc.errno == errno.ENOTEMPTY:
                left = ", ".join(sorted(os.listdir(self.directory))[:5])
                log.warning("could not remove %s: not empty (%s)", self.directory, left)
            else:
                log.warning("could not remove %s: %s", self.directory, exc.strerror)

    async def run(self, *, task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED) -> None:
        """Create the directory and ``ctl``, serve clients until cancelled, then remove both."""
        self._prepare_directory()
        try:
            listener = bind_unix_stream(self.ctl_path, mode=self.modes.mode, gid=self.modes.gid)
        except ConfigError:
            raise
        except OSError as exc:
            raise ConfigError(f"cannot listen on {self.ctl_path}: {exc.strerror}") from None
        try:
            async with trio.open_nursery() as nursery:
                task_status.started(self.ctl_path)
                while True:
                    conn, _ = await listener.accept()
                    nursery.start_soon(self._serve_client, conn)
        finally:
            listener.close()
            self._cleanup_directory()

    # ------------------------------------------------------------------ one client

    async def _read_request(self, conn: trio.socket.SocketType) -> bytes:
        data = b""
        while len(data) < needed_length(data):
            chunk = await conn.recv(MAX_REQUEST_LEN - len(data))
            if not chunk:
                raise FrameError(f"connection closed after {len(data)} bytes of request")
            data += chunk
        return data

    async def _serve_client(self, conn: trio.socket.SocketType) -> None:
        with conn:
            endpoint = None
            try:
                with trio.fail_after(REQUEST_TIMEOUT):
                    data = await self._read_request(conn)
                request = parse_request(data)
                endpoint = self._open_endpoint(request, conn.fileno())
                try:
                    await conn.send(build_reply(endpoint.path))
                except BaseException:
                    self._detach(endpoint)
                    endpoint.close()
                    endpoint = None
                    raise
            except trio.TooSlowError:
                self._refuse("client sent no complete request within %.0f s", REQUEST_TIMEOUT)
            except FrameError as exc:
                self._refuse("bad request: %s", exc)
            except PortError as exc:
                self._refuse("request refused: %s", exc)
            except OSError as exc:
                self._refuse("request failed: %s", exc.strerror or exc)
            if endpoint is None:
                return
            self.stats.accepted += 1
            try:
                await self._wait_for_close(conn, endpoint)
            finally:
                self._detach(endpoint)
                endpoint.close()

    def _refuse(self, message: str, *args: object) -> None:
        self.stats.refused += 1
        log.warning(message, *args)

    async def _wait_for_close(self, conn: trio.socket.SocketType, endpoint: DataEndpoint) -> None:
        """The control stream carries nothing after the handshake: EOF (or an error) frees it."""
        warned = False
        with trio.CancelScope() as scope:
            endpoint.close_scope = scope
            while True:
                try:
                    chunk = await conn.recv(256)
                except OSError:
                    return
                if not chunk:
                    return
                if not warned:
                    warned = True
                    log.info("port %d: ignoring unexpected bytes on the control stream",
                             endpoint.port.number)

    def _open_endpoint(self, request: PortRequest, conn_fd: int) -> DataEndpoint:
        if request.abstract or not request.path:
            raise PortError("client socket has no path (vdex identifies clients by its owner)",
                            errno=errno.EPERM)
        try:
            uid = client_uid(request.path)
        except PermissionError as exc:
            raise PortError(str(exc), errno=errno.EACCES) from None
        except FileNotFoundError:
            raise PortError(f"client socket {request.path!r} does not exist",
                            errno=errno.ENOENT) from None
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        try:
            sock.setblocking(False)
            try:
                sock.connect(request.path)
            except OSError as exc:
                raise PortError(f"cannot connect to client data socket: {exc.strerror}",
                                errno=exc.errno or errno.ECONNREFUSED) from None
            endpoint = DataEndpoint.wrap(sock, conn_id=conn_fd, uid=uid,
                                         description=request.description)
            port = self._attach(endpoint, request)
            try:
                endpoint.bind(self.directory, port.number, self._modes_for(request), uid)
            except OSError:
                self._detach(endpoint)
                raise
        except BaseException:
            sock.close()
            raise
        return endpoint

    def _modes_for(self, request: PortRequest) -> SocketModes:
        return self.port0_modes if request.wants_port0 else self.modes


@attrs.define(eq=False, kw_only=True)
class DataEndpoint(FrameEndpoint):
    """A VDE client: a datagram socket connected to the client, bound at ``DIR/NNN.F``."""

    sock: socket.socket
    path: str = ""

    @classmethod
    def wrap(cls, sock: socket.socket, *, conn_id: int, uid: int, description: str
             ) -> DataEndpoint:
        sock.setblocking(False)
        return cls(id=conn_id, module=MODULE, description=description, uid=uid, sock=sock,
                   fd=sock.fileno(), recv=sock.recv, write=sock.send, closer=sock.close)

    def bind(self, directory: str, port_number: int, modes: SocketModes, uid: int) -> None:
        """Bind at ``DIR/NNN.F`` and give the file to the client (as root) or to the group."""
        path = os.path.join(directory, f"{port_number:03d}.{self.fd}")
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        self.sock.bind(path)
        self.path = path
        if os.geteuid() == 0 and uid >= 0:
            os.chmod(path, modes.mode & 0o700)
            os.chown(path, uid, -1 if modes.gid is None else modes.gid)
        else:
            os.chmod(path, modes.mode)
            if modes.gid is not None:
                os.chown(path, -1, modes.gid)

    def close(self) -> None:
        if self.path:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
            self.path = ""
        super().close()
