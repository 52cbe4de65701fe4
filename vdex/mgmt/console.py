"""The management console on trio: unix socket sessions, the stdin console, and scripts.

One :class:`Console` serves any number of sessions with the same command registry. It is generic
over the banner and prompt, so vdex's wirefilter speaks the same protocol with its own.
"""

from __future__ import annotations

import errno
import inspect
import logging
import os
import socket
import stat
import sys
from collections.abc import Callable
from typing import Any

import trio

from ..errors import ConfigError, MgmtError
from .context import CommandContext, EndSession, RawOutput, Session
from .debug import DebugHub
from .protocol import END_OF_SESSION, LineBuffer, render_reply, split_command
from .registry import CommandRegistry

log = logging.getLogger("vdex.mgmt")

SESSION_QUEUE = 256
"""Pending output chunks per session; debug lines beyond this are dropped for that session."""


def _lines(output: Any) -> list[str]:
    if output is None:
        return []
    if isinstance(output, str):
        return output.splitlines()
    return [str(line) for line in output]


class Console:
    """Runs commands from a registry for sessions, with VDE framing."""

    def __init__(
        self,
        *,
        owner: Any,
        registry: CommandRegistry,
        banner: str,
        prompt: str,
        debug: DebugHub | None = None,
        end_of_session: str = END_OF_SESSION,
    ) -> None:
        self.owner = owner
        self.registry = registry
        self.banner = banner
        self.prompt = prompt
        self.debug = debug
        self.end_of_session = end_of_session
        self._next_id = 1000
        self.sessions: set[Session] = set()

    # ------------------------------------------------------------------ commands

    async def execute(self, session: Session, line: str | None) -> str:
        """Run one input line; return the reply text (``""`` for blank lines and comments).

        :raises EndSession: after ``logout``/``shutdown`` (outside scripts); the reply is sent by
            the caller as :attr:`end_of_session`.
        """
        if line is None:
            return render_reply(None, data_block=False, errno=errno.EINVAL)
        text = split_command(line)
        if text is None:
            return ""
        found = self.registry.lookup(text)
        if found is None:
            return render_reply(None, data_block=False, errno=errno.ENOSYS)
        command, args = found
        assert command.handler is not None
        ctx = CommandContext(switch=self.owner, session=session, console=self)
        output: Any = None
        code = 0
        try:
            result = command.handler(ctx, args)
            output = await result if inspect.isawaitable(result) else result
        except EndSession:
            if session.script_depth:
                return ""
            raise
        except MgmtError as exc:
            code = exc.errno
            output = exc.output
            if exc.detail:
                log.info("%s: %s", text, exc.detail)
        except Exception:
            log.exception("command %r failed", text)
            code = errno.EIO
        if isinstance(output, RawOutput):
            return str(output) + render_reply(None, data_block=command.output, errno=code)
        return render_reply(_lines(output), data_block=command.output, errno=code)

    async def run_script(
        self, session: Session, path: str, *, echo: Callable[[str], str] | None = None
    ) -> str:
        """Run the commands of a file for ``session``; return their combined output.

        ``echo(line)`` renders the line before each reply (``load`` shows ``vde[PATH]: line``);
        None runs silently (rc files at start-up).

        :raises ConfigError: the file cannot be read.
        """
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                lines = f.read().splitlines()
        except OSError as exc:
            raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
        out: list[str] = []
        session.script_depth += 1
        try:
            for line in lines:
                if echo is not None:
                    out.append(echo(line))
                reply = await self.execute(session, line)
                if echo is not None:
                    out.append(reply)
                last = reply.rstrip().splitlines()[-1] if reply.strip() else ""
                if last.startswith("1") and not last.startswith("1000"):
                    log.warning("%s: %r: %s", path, line.strip(), last[5:])
        finally:
            session.script_depth -= 1
        return "".join(out)

    def new_session(self, post: Callable[[str], None], *, fd: int | None = None,
                    interactive: bool = True) -> Session:
        if fd is None:
            self._next_id += 1
            fd = self._next_id
        session = Session(id=fd, post=post, interactive=interactive)
        self.sessions.add(session)
        return session

    def end_session(self, session: Session) -> None:
        self.sessions.discard(session)
        if self.debug is not None:
            self.debug.drop_session(session)

    # ------------------------------------------------------------------ one conversation

    async def converse(
        self,
        receive: Callable[[], Any],
        send_all: Callable[[bytes], Any],
        *,
        fd: int | None = None,
        greet: bool = True,
        prompt: bool = True,
        on_shutdown: Callable[[], None] | None = None,
    ) -> bool:
        """Serve one session over a byte stream until EOF, ``logout`` or ``shutdown``.

        :return: True if the session asked the owner to shut down.
        """
        send_channel, receive_channel = trio.open_memory_channel[bytes](SESSION_QUEUE)
        dropped = 0

        def post(text: str) -> None:
            nonlocal dropped
            try:
                send_channel.send_nowait(text.encode())
            except (trio.WouldBlock, trio.ClosedResourceError, trio.BrokenResourceError):
                dropped += 1

        session = self.new_session(post, fd=fd)
        shutdown = False

        async def writer() -> None:
            async with receive_channel:
                async for chunk in receive_channel:
                    await send_all(chunk)

        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(writer)
                async with send_channel:
                    if greet:
                        await send_channel.send((self.banner + self.prompt).encode())
                    buffer = LineBuffer()
                    try:
                        while True:
                            data = await receive()
                            lines = buffer.feed(data) if data else []
                            if not data:
                                # A last command without a newline still runs, as in
                                # vde_switch (one read, one command): ``printf shutdown | ...``
                                tail = buffer.flush()
                                lines = [] if tail is None else [tail]
                            for line in lines:
                                reply = await self.execute(session, line)
                                await send_channel.send(
                                    (reply + (self.prompt if prompt else "")).encode())
                            if not data:
                                break
                    except EndSession as end:
                        await send_channel.send(self.end_of_session.encode())
                        shutdown = end.shutdown
                    except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                        pass
        except* (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            # The client went away: its writer task failed (EPIPE), which reaches us wrapped
            # in the nursery's exception group. The session ends; nothing else does.
            pass
        finally:
            self.end_session(session)
            if dropped:
                log.info("session %d: %d debug lines dropped (client not reading)", session.id,
                         dropped)
        if shutdown and on_shutdown is not None:
            on_shutdown()
        return shutdown

    # ------------------------------------------------------------------ transports

    async def serve_unix(
        self,
        path: str,
        *,
        mode: int = 0o600,
        gid: int | None = None,
        on_shutdown: Callable[[], None] | None = None,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Listen on a unix socket for any number of sessions; remove the socket when done."""
        listener = bind_unix_stream(path, mode=mode, gid=gid)
        try:
            async with trio.open_nursery() as nursery:
                task_status.started()
                while True:
                    conn, _ = await listener.accept()
                    nursery.start_soon(self._serve_conn, conn, on_shutdown)
        finally:
            listener.close()
            _unlink_quietly(path)

    async def _serve_conn(self, conn: trio.socket.SocketType,
                          on_shutdown: Callable[[], None] | None) -> None:
        stream = trio.SocketStream(conn)
        async with stream:
            await self.converse(lambda: stream.receive_some(4096), stream.send_all,
                                fd=conn.fileno(), on_shutdown=on_shutdown)

    async def serve_stdio(
        self,
        *,
        on_eof: Callable[[], None],
        on_shutdown: Callable[[], None] | None = None,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """The console on stdin/stdout: no banner; a prompt only on a terminal; EOF calls on_eof."""
        tty = os.isatty(0)
        stdin = trio.lowlevel.FdStream(os.dup(0))
        stdout = trio.lowlevel.FdStream(os.dup(1))
        task_status.started()
        async with stdin, stdout:
            if tty:
                await stdout.send_all(self.prompt.lstrip("\n").encode())
            await self.converse(lambda: stdin.receive_some(4096), stdout.send_all,
                                fd=0, greet=False, prompt=tty, on_shutdown=on_shutdown)
        on_eof()


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        log.warning("cannot remove %s: %s", path, exc.strerror)


def remove_stale_socket(path: str) -> None:
    """If ``path`` is a socket nobody listens on, remove it; if somebody does, refuse.

    :raises ConfigError: the path is in use or is not a socket.
    """
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(st.st_mode):
        raise ConfigError(f"{path} exists and is not a socket: remove it or choose another path")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
    except (ConnectionRefusedError, FileNotFoundError):
        os.unlink(path)
        return
    except OSError:
        pass
    finally:
        probe.close()
    raise ConfigError(f"{path} is in use by another running program: stop it or choose another path")


def bind_unix_stream(path: str, *, mode: int, gid: int | None, backlog: int = 15
                     ) -> trio.socket.SocketType:
    """A listening unix stream socket at ``path`` with ``mode`` and group, stale file removed."""
    remove_stale_socket(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        old_umask = os.umask(0o177)
        try:
            sock.bind(path)
        finally:
            os.umask(old_umask)
        os.chmod(path, mode)
        if gid is not None:
            os.chown(path, -1, gid)
        sock.listen(backlog)
    except BaseException:
        sock.close()
        raise
    return trio.socket.from_stdlib_socket(sock)


def stdin_is_usable() -> bool:
    try:
        os.fstat(0)
    except OSError:
        return False
    return sys.stdin is not None


__all__ = ["Console", "bind_unix_stream", "remove_stale_socket"]
