"""The interactive side of ``vdex term``: GNU readline, history, TAB completion, async redraw.

Python's ``input()`` blocks in readline, so one reader thread owns the socket and prints replies
while a command is pending. readline itself is not thread-safe, so only the main thread touches
it: while the user is typing, the reader queues an asynchronous message (``** DBG MSG: ...``) and
signals the main thread (SIGUSR2); Python runs the handler inside ``input()``'s wait for a key,
between two keystrokes, and the handler erases the input line, prints the message and redraws the
prompt with what was typed, like vdeterm. The thread is started and joined by
:meth:`InteractiveTerm.run`; if the server goes away while the user types, the thread interrupts
``input()`` with SIGUSR1.
"""

from __future__ import annotations

import collections
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


RL_STATE_CALLBACK = 0x0080000
"""readline's state bit for a line being read through the callback interface, which Python's
``input()`` uses: set from the prompt until the line is accepted."""


def _readline_state() -> ctypes.c_ulong | None:
    """readline's ``rl_readline_state``. Whether the user is editing a line must come from
    readline itself: a Python ``pre_input_hook`` would swallow an exception raised by a signal
    handler that runs inside it (SIGUSR1's, ending the session)."""
    try:
        return ctypes.c_ulong.in_dll(ctypes.CDLL(readline.__file__), "rl_readline_state")
    except (OSError, ValueError):
        return None


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
    """The main thread is in, or about to enter, ``input()`` (guarded by ``_lock``)."""
    _lock: threading.Lock = attrs.field(factory=threading.Lock)
    _out_lock: threading.RLock = attrs.field(factory=threading.RLock)
    """Orders what the reader and the main thread's signal handler write (re-entrant: a
    handler may interrupt another)."""
    _pending: collections.deque[str] = attrs.field(factory=collections.deque)
    _pending_shown: threading.Event = attrs.field(factory=threading.Event)
    _reply_done: threading.Event = attrs.field(factory=threading.Event)
    _input_left: threading.Event = attrs.field(factory=threading.Event)
    _close_raised: bool = False
    _redisplay: Callable[[], None] | None = attrs.field(factory=_forced_redisplay)
    _rl_state: ctypes.c_ulong | None = attrs.field(factory=_readline_state)

    def run(self) -> int:
        banner, prompt = self.session.banner()
        self.out.write("".join(line + "\n" for line in banner.lines))
        self._prompt = f"{prompt.name}[{self.socket_name}]: "
        commands = self._fetch_commands()
        reader = threading.Thread(target=self._read_loop, name="vdex-term-reader")
        with readline_configured(commands, self.history_file), self._signal_handlers():
            reader.start()
            try:
                return self._command_loop()
            except _ServerClosed:
                return self._closed_by_server()
            finally:
                self.session.shutdown()
                reader.join()

    @contextlib.contextmanager
    def _signal_handlers(self) -> Iterator[None]:
        """SIGUSR1: the server closed the connection; SIGUSR2: messages wait to be shown."""
        def closed(signum: int, frame: object) -> None:
            if not self._close_raised:  # the reader may have to knock more than once
                self._close_raised = True
                raise _ServerClosed

        def messages(signum: int, frame: object) -> None:
            self._show_pending()

        previous = signal.signal(signal.SIGUSR1, closed), signal.signal(signal.SIGUSR2, messages)
        try:
            yield
        finally:
            signal.signal(signal.SIGUSR1, previous[0])
            signal.signal(signal.SIGUSR2, previous[1])

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
        """Print ``text`` from the reader thread. While the user may be typing, hand it to the
        main thread and knock until it is shown (a signal that lands just before readline's
        select() waits for the next knock)."""
        self._pending.append(text)
        while self._pending:
            with self._lock:
                if not self._idle:
                    break
                self._pending_shown.clear()
                signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGUSR2)
            self._pending_shown.wait(KNOCK_INTERVAL)
        self._write_pending(editing=False)  # the main thread left input(): plain lines

    def _show_pending(self) -> None:
        """The SIGUSR2 handler, in the main thread: show what the reader queued."""
        # No lock here: the main thread may hold ``_lock`` where this handler interrupts it.
        state = self._rl_state
        editing = self._idle if state is None else bool(state.value & RL_STATE_CALLBACK)
        self._write_pending(editing=editing)
        self._pending_shown.set()

    def _write_pending(self, *, editing: bool) -> None:
        with self._out_lock:
            if not self._pending:
                return
            while self._pending:
                text = self._pending.popleft()
                # The user is typing: erase the input line before the message.
                self.out.write(("\r\x1b[K" + text + "\r\n") if editing else (text + "\n"))
            self.out.flush()
            if not editing:
                return
            if self._redisplay is not None:  # prompt and typed text back, cursor where it was
                self._redisplay()
            else:
                self.out.write(self._prompt + readline.get_line_buffer())
                self.out.flush()
