"""The interactive side of ``vdex term``: GNU readline, history, TAB completion, async redraw.

Python's ``input()`` blocks in readline, so one reader thread owns the socket: it prints replies
while a command is pending and, while the user is typing, erases the input line, prints the
asynchronous message (``** DBG MSG: ...``) and redraws the prompt with what was typed, like
vdeterm. The thread is started and joined by :meth:`InteractiveTerm.run`; if the server goes away
while the user types, the thread interrupts ``input()`` with SIGUSR1.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import readline
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TextIO

import attrs

from vdex.tools._mgmt_stream import DataLine, Event, Prompt, help_commands, render
from vdex.tools._term_session import MgmtSession, ends_session

HISTORY_LENGTH = 1000
KNOCK_INTERVAL = 0.05
SESSION_END_WAIT = 5.0
"""Seconds to wait for the server to close the connection after ``logout``/``shutdown``."""


class _ServerClosed(Exception):
    """Raised in the main thread (via SIGUSR1) when the connection ends during ``input()``."""


def default_history_file() -> Path:
    return Path.home() / ".vdex_history" / "term"


def _forced_redisplay() -> Callable[[], None] | None:
    """readline's ``rl_forced_update_display``, which Python's readline module does not expose."""
    try:
        function = ctypes.CDLL(readline.__file__).rl_forced_update_display
    except (OSError, AttributeError):
        return None
    function.restype = ctypes.c_int
    return function


@contextlib.contextmanager
def readline_configured(commands: list[str], history_file: Path | None) -> Iterator[None]:
    """Completion of the first word from ``commands``; history loaded and saved (mode 0600)."""
    old_completer, old_delims = readline.get_completer(), readline.get_completer_delims()

    def complete(text: str, state: int) -> str | None:
        if readline.get_begidx() != 0:
            return None
        matches = [command for command in commands if command.startswith(text)]
        return matches[state] if state < len(matches) else None

    readline.set_completer_delims(" \t\n")
    readline.set_completer(complete)
    readline.parse_and_bind("tab: complete")
    readline.clear_history()
    readline.set_history_length(HISTORY_LENGTH)
    if history_file is not None:
        with contextlib.suppress(OSError):
            readline.read_history_file(history_file)
    try:
        yield
    finally:
        readline.set_completer(old_completer)
        readline.set_completer_delims(old_delims)
        if history_file is not None:
            _save_history(history_file)


def _save_history(history_file: Path) -> None:
    try:
        history_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        readline.write_history_file(history_file)
        os.chmod(history_file, 0o600)
    except OSError as exc:
        print(f"vdex term: cannot save the history to {history_file}: {exc.strerror}", file=sys.stderr)


@attrs.define(eq=False, kw_only=True)
class InteractiveTerm:
    """A vdeterm-like session on a terminal; :meth:`run` returns the exit status."""

    session: MgmtSession
    socket_name: str
    history_file: Path | None = None
    out: TextIO = sys.stdout
    _prompt: str = ""
    _idle: bool = False
    _lock: threading.Lock = attrs.field(factory=threading.Lock)
    _reply_done: threading.Event = attrs.field(factory=threading.Event)
    _input_left: threading.Event = attrs.field(factory=threading.Event)
    _close_raised: bool = False
    _redisplay: Callable[[], None] | None = attrs.field(factory=_forced_redisplay)

    def run(self) -> int:
        banner, prompt = self.session.banner()
        self.out.write("".join(line + "\n" for line in banner.lines))
        self._prompt = f"{prompt.name}[{self.socket_name}]: "
        commands = self._fetch_commands()
        reader = threading.Thread(target=self._read_loop, name="vdex-term-reader")
        with readline_configured(commands, self.history_file), self._raise_on_sigusr1():
            reader.start()
            try:
                return self._command_loop()
            except _ServerClosed:
                return self._closed_by_server()
            finally:
                self.session.shutdown()
                reader.join()

    @contextlib.contextmanager
    def _raise_on_sigusr1(self) -> Iterator[None]:
        def handler(signum: int, frame: object) -> None:
            if not self._close_raised:  # the reader may have to knock more than once
                self._close_raised = True
                raise _ServerClosed

        previous = signal.signal(signal.SIGUSR1, handler)
        try:
            yield
        finally:
            signal.signal(signal.SIGUSR1, previous)

    def _fetch_commands(self) -> list[str]:
        """Ask ``help`` once, silently, for the completion list (vdeterm does the same)."""
        lines: list[str] = []

        def collect(event: Event) -> None:
            if isinstance(event, DataLine):
                lines.append(event.text)

        self.session.send("help")
        self.session.until_prompt(collect)
        return help_commands(lines)

    def _command_loop(self) -> int:
        while True:
            with self._lock:
                self._idle = True
                self._input_left.clear()
            try:
                line = input(self._prompt)
            except EOFError:  # ^D
                self.out.write("\n")
                return 0
            except KeyboardInterrupt:  # ^C clears the line, as in vdeterm
                self.out.write("\n")
                continue
            finally:
                with self._lock:
                    self._idle = False
                    self._input_left.set()
            command = line.strip()
            if not command:
                continue
            if self.session.closed:
                return self._closed_by_server()
            self._reply_done.clear()
            try:
                self.session.send(command)
            except OSError:
                return self._closed_by_server()
            if ends_session(command):
                self._reply_done.wait(SESSION_END_WAIT)
                return 0
            try:
                self._reply_done.wait()
            except KeyboardInterrupt:
                self.out.write("\n")  # give the prompt back; the reply is shown when it comes
            if self.session.closed:
                return self._closed_by_server()

    def _closed_by_server(self) -> int:
        self.out.write("\nvdex term: the server closed the connection\n")
        self.out.flush()
        return 1

    def _read_loop(self) -> None:
        while not self.session.closed:
            for event in self.session.receive():
                if isinstance(event, Prompt):
                    self._reply_done.set()
                elif (text := render(event)) is not None:
                    self._show(text)
        self._reply_done.set()
        # Interrupt input(). A signal that lands just before readline's select() is only noted,
        # not acted upon, so knock until the main thread has left input().
        while True:
            with self._lock:
                if not self._idle:
                    return
                signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGUSR1)
            if self._input_left.wait(KNOCK_INTERVAL):
                return

    def _show(self, text: str) -> None:
        with self._lock:
            if not self._idle:
                self.out.write(text + "\n")
                self.out.flush()
                return
            # The user is typing: erase the input line, print, redraw prompt and typed text.
            self.out.write("\r\x1b[K" + text + "\r\n")
            self.out.flush()
            if self._redisplay is not None:
                self._redisplay()
            else:
                self.out.write(self._prompt + readline.get_line_buffer())
                self.out.flush()
