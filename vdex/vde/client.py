"""The client side of the VDE data socket: what libvdeplug's ``vde://`` module does.

Used by ``vdex plug``, by cables, and by tests that need a real client. The handshake is local and
quick, so it is a plain blocking function with a timeout (a switch that never answers, as Debian's
does when it refuses a port, gives a clear error instead of a hang).
"""

from __future__ import annotations

import itertools
import os
import pwd
import socket

import attrs

from ..errors import PortError
from .request import SOCKADDR_UN_LEN, build_request, parse_reply

_counter = itertools.count()
DEFAULT_DESCRIPTION = "vdex plug:"
FALLBACK_DIRS = ("/var/run", "/var/tmp", "/tmp")


@attrs.define(eq=False)
class SwitchConnection:
    """A connected port: ``data`` exchanges one frame per datagram, ``ctl`` only signals EOF."""

    ctl: socket.socket
    data: socket.socket
    switch_path: str
    """The switch's datagram socket for this connection (``DIR/NNN.F``)."""

    @property
    def port(self) -> int:
        """The port number, from the ``NNN.F`` name the switch chose."""
        return int(os.path.basename(self.switch_path).split(".", 1)[0])

    def close(self) -> None:
        self.data.close()
        self.ctl.close()


def full_description(description: str) -> str:
    """``<description> user=<login> pid=<pid>``, as libvdeplug describes a client."""
    try:
        user = pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        user = str(os.geteuid())
    text = f"{description} user={user} pid={os.getpid()}"
    ssh = os.environ.get("SSH_CLIENT")
    if ssh:
        text += f" SSH={ssh.split()[0]}"
    return text[:128]


def _bind_client_socket(data: socket.socket, directory: str) -> str:
    for base in (directory, *FALLBACK_DIRS):
        for _attempt in range(100):
            name = f".{os.getpid():05d}-{next(_counter):05d}" if base == directory else \
                f"vde.{os.getpid():05d}-{next(_counter):05d}"
            path = os.path.join(base, name)
            try:
                data.bind(path)
                return path
            except OSError as exc:
                if exc.errno == 98:  # EADDRINUSE: try the next counter
                    continue
                break
    raise PortError(f"cannot bind a client socket in {directory} or {', '.join(FALLBACK_DIRS)}")


def connect_switch(
    directory: str,
    *,
    port: int = 0,
    description: str = DEFAULT_DESCRIPTION,
    mode: int = 0o700,
    gid: int | None = None,
    timeout: float = 10.0,
) -> SwitchConnection:
    """Connect to a vde_switch-compatible switch at ``directory``.

    :param port: 0 for any port, N for port N, -1 for port 0 (``[0]`` in a VNL).
    :raises PortError: the switch is not there, refused the request, or did not answer.
    """
    directory = os.path.realpath(directory)
    ctl_path = os.path.join(directory, "ctl")
    ctl = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    data = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
    client_path = ""
    try:
        ctl.settimeout(timeout)
        try:
            ctl.connect(ctl_path)
        except OSError as exc:
            raise PortError(f"cannot connect to switch {directory}: {exc.strerror}",
                            errno=exc.errno or 0) from None
        client_path = _bind_client_socket(data, directory)
        if gid is not None:
            os.chown(client_path, -1, gid)
        os.chmod(client_path, mode)
        ctl.sendall(build_request(client_path, full_description(description), port=port))
        reply = b""
        try:
            while len(reply) < SOCKADDR_UN_LEN:
                chunk = ctl.recv(SOCKADDR_UN_LEN - len(reply))
                if not chunk:
                    break
                reply += chunk
        except TimeoutError:
            raise PortError(f"switch {directory} did not answer within {timeout:g} s "
                            "(a vde_switch that refuses a port never answers)") from None
        if len(reply) < SOCKADDR_UN_LEN:
            what = f"port {port}" if port > 0 else ("port 0" if port < 0 else "a port")
            raise PortError(f"switch {directory} refused {what} (closed the connection)")
        switch_path = parse_reply(reply).decode()
        data.connect(switch_path)
        try:
            os.chmod(switch_path, mode)
        except OSError:
            pass  # only possible when the switch gave us the file
        ctl.settimeout(None)
        return SwitchConnection(ctl, data, switch_path)
    except BaseException:
        ctl.close()
        data.close()
        raise
    finally:
        if client_path:
            try:
                os.unlink(client_path)
            except OSError:
                pass
