"""What a vde_switch-style management socket sends, parsed into events (sans-I/O).

The protocol (vde_switch.md §3, vde_tools.md §1.3): a banner, then a prompt such as ``"\\nvde$ "``
(no newline after it); per command an optional data block ``0000 DATA END WITH '.'`` ... ``.``,
then a status line ``1000 Success`` or ``1NNN <strerror>``, then the prompt again. Asynchronous
debug lines ``3NNN ...`` may arrive at any time, even glued to the prompt (``vde$ 3021 port/+ 01``);
``logout`` ends with ``9999 END OF SESSION`` and no newline.

:class:`MgmtStreamParser` turns bytes, however they are chunked, into the same list of events;
:func:`render` gives the text vdeterm would show for an event.
"""

from __future__ import annotations

import re

import attrs

DATA_START_CODE = "0000"
_CODE_RE = re.compile(r"^(\d)([-\d]\d\d)(?: (.*))?$")
_GLUED_PROMPT_RE = re.compile(r"^([\w.-]*\$ )")
DEBUG_PREFIX = "** DBG MSG: "


@attrs.frozen
class Banner:
    """The lines sent on connect, before the first prompt."""

    lines: tuple[str, ...]


@attrs.frozen
class Prompt:
    """The server is ready for the next command; ``text`` is e.g. ``"vde$ "``."""

    text: str

    @property
    def name(self) -> str:
        """The part before ``"$ "`` that vdeterm puts in its own prompt (``vde``, ``VDEwf``)."""
        return self.text[:-2] if self.text.endswith("$ ") else self.text.rstrip()


@attrs.frozen
class DataLine:
    """A line inside a ``0000 DATA END WITH '.'`` block."""

    text: str


@attrs.frozen
class Status:
    """The ``1NNN text`` line ending a command; ``errno`` 0 means success."""

    errno: int
    text: str

    @property
    def ok(self) -> bool:
        return self.errno == 0


@attrs.frozen
class DebugMessage:
    """An asynchronous ``3NNN text`` line (after ``debug/add``)."""

    tag: str
    text: str


@attrs.frozen
class SessionEnd:
    """``9999 END OF SESSION``: the server closes the connection next."""

    text: str


@attrs.frozen
class TextLine:
    """Any other line, such as the ``vde[FILE]: command`` echo of ``load``, or a blank line."""

    text: str


Event = Banner | Prompt | DataLine | Status | DebugMessage | SessionEnd | TextLine


@attrs.define(eq=False, kw_only=True)
class MgmtStreamParser:
    """Feed it what the socket sends; it returns events in order. No I/O, no clock."""

    prompt: str | None = None
    """The prompt text, learnt from the end of the banner (the chunk ending in ``"$ "``)."""
    _buffer: bytes = b""
    _banner: list[str] = attrs.field(factory=list)
    _in_data: bool = False
    _prompt_reported: bool = False  # the pending partial line is a prompt already reported

    @property
    def in_data_block(self) -> bool:
        return self._in_data

    def feed(self, data: bytes) -> list[Event]:
        self._buffer += data
        events: list[Event] = []
        *lines, self._buffer = self._buffer.split(b"\n")
        for raw in lines:
            self._line(raw.decode("utf-8", "replace"), events)
        partial = self._buffer.decode("utf-8", "replace")
        if self.prompt is None:
            if partial.endswith("$ "):
                self.prompt = partial
                self._buffer = b""
                events.append(Banner(tuple(self._banner)))
                events.append(Prompt(partial))
        elif not self._in_data and partial == self.prompt and not self._prompt_reported:
            self._prompt_reported = True
            events.append(Prompt(partial))
        return events

    def close(self) -> list[Event]:
        """The connection ended: the unterminated last line (``9999 END OF SESSION``) counts."""
        events: list[Event] = []
        if self._buffer:
            partial, self._buffer = self._buffer.decode("utf-8", "replace"), b""
            if partial != self.prompt:
                self._line(partial, events)
        if self.prompt is None and self._banner:
            events.insert(0, Banner(tuple(self._banner)))
            self._banner = []
        return events

    def _line(self, line: str, events: list[Event]) -> None:
        if self.prompt is None:
            glued = _GLUED_PROMPT_RE.match(line)
            if glued is None:
                self._banner.append(line)
                return
            # Banner, prompt and more arrived together: the prompt is glued to the next line.
            self.prompt = glued.group(1)
            events += [Banner(tuple(self._banner)), Prompt(self.prompt)]
            self._prompt_reported = True
        if not self._in_data and line.startswith(self.prompt):
            if not self._prompt_reported:
                events.append(Prompt(self.prompt))
            line = line[len(self.prompt):]
        self._prompt_reported = False
        if self._in_data:
            if line == ".":
                self._in_data = False
            else:
                events.append(DataLine(line))
            return
        if line == DATA_START_CODE or line.startswith(DATA_START_CODE + " "):
            self._in_data = True
            return
        events.append(classify_line(line))


def classify_line(line: str) -> Event:
    """An event for one line outside a data block (the ``0000`` line is the parser's business)."""
    match = _CODE_RE.match(line)
    if match is None:
        return TextLine(line)
    kind, rest, text = match.group(1), match.group(2), match.group(3) or ""
    code = kind + rest
    if kind == "1":
        return Status(int(rest), text)
    if kind == "3":
        return DebugMessage(code, text)
    if code == "9999":
        return SessionEnd(text)
    return TextLine(line)


def render(event: Event) -> str | None:
    """The text vdeterm shows for ``event``, or None if it shows nothing.

    Status lines lose their code (``Success``), debug lines become ``** DBG MSG: ...``. Unlike
    vdeterm, non-empty lines without a code are shown too: they are ``load``'s command echoes.
    """
    if isinstance(event, (DataLine, Status)):
        return event.text
    if isinstance(event, DebugMessage):
        return DEBUG_PREFIX + event.text
    if isinstance(event, TextLine) and event.text:
        return event.text
    return None


def help_commands(data_lines: list[str]) -> list[str]:
    """Command names for TAB completion, from the data lines of a ``help`` reply.

    The names are the first words of the lines after the ``----`` separator; a word ``X`` that is
    followed by ``X/...`` lines is a menu header, not a command.
    """
    words: list[str] = []
    started = False
    for line in data_lines:
        if not started:
            started = line.startswith("---")
            continue
        if line.strip():
            words.append(line.split()[0])
    commands = {
        word for index, word in enumerate(words)
        if not (index + 1 < len(words) and words[index + 1].startswith(word + "/"))
    }
    return sorted(commands)
