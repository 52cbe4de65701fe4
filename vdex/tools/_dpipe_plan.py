"""The wiring of a dpipe chain, computed without touching a file descriptor.

``parse_chain(["a", "=", "b", "=", "c"])`` turns dpipe's command line into a :class:`ChainPlan`:
which command runs, and which end of which pipe each of its standard channels is. The runtime
(``_dpipe_run``) then only creates ``plan.pipe_count`` pipes and applies the plan, so the topology,
which is the subtle part, is tested here as plain data.

Separators, as in vdeplug4's dpipe:

* ``=`` connects two neighbours both ways;
* ``=}`` ... ``}=`` around a middle command: data flows through it left to right only;
* ``={`` ... ``{=``: right to left only;
* a closing and an opening bracket can share one separator: ``}={``, ``{=}``, ``}=}``, ``{={``.

A two-way middle command talks to its left neighbour on stdin/stdout and to its right neighbour on
the ``ALTERNATE_STDIN``/``ALTERNATE_STDOUT`` descriptors. A one-way middle command uses stdin and
stdout only, and the other direction bypasses it.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence

import attrs

from vdex.errors import UsageError

_SEPARATOR_RE = re.compile(r"^([{}]?)=([{}]?)$")


class Channel(enum.Enum):
    """A standard channel of a command; the ALTERNATE numbers are chosen at run time."""

    STDIN = "stdin"
    STDOUT = "stdout"
    ALTERNATE_STDIN = "alternate_stdin"
    ALTERNATE_STDOUT = "alternate_stdout"


class Flow(enum.Enum):
    """How data passes through a command."""

    BOTH = "="
    LEFT_TO_RIGHT = "}"
    RIGHT_TO_LEFT = "{"


@attrs.frozen
class PipeEnd:
    """One end of pipe number ``pipe`` of the chain."""

    pipe: int
    write: bool


@attrs.frozen
class StagePlan:
    """One command of the chain and the pipe ends that become its channels."""

    argv: tuple[str, ...]
    flow: Flow
    channels: tuple[tuple[Channel, PipeEnd], ...]

    def channel(self, which: Channel) -> PipeEnd | None:
        return dict(self.channels).get(which)


@attrs.frozen
class ChainPlan:
    """The whole chain: its commands in order, and how many pipes they share."""

    stages: tuple[StagePlan, ...]
    pipe_count: int


def split_commands(words: Sequence[str]) -> list[tuple[tuple[str, ...], Flow]]:
    """Split dpipe's words into ``(argv, flow)`` per command; raise UsageError if malformed.

    ``flow`` is the direction of the stage as opened by the separator on its left (the first
    command is always ``BOTH``).
    """
    commands: list[tuple[tuple[str, ...], Flow]] = []
    current: list[str] = []
    flow = Flow.BOTH  # how the command being collected was opened
    for word in words:
        match = _SEPARATOR_RE.match(word)
        if match is None:
            current.append(word)
            continue
        closing, opening = match.groups()
        if not current:
            raise UsageError(f"a command is missing before {word!r}")
        if flow is not Flow.BOTH and closing != flow.value:
            opened = "=" + flow.value
            expected = flow.value + "="
            raise UsageError(f"the one-way stage opened with {opened!r} must end with {expected!r}, not {word!r}")
        if flow is Flow.BOTH and closing:
            raise UsageError(f"{word!r} closes a one-way stage that was never opened ('={closing}')")
        commands.append((tuple(current), flow))
        current = []
        flow = Flow(opening) if opening else Flow.BOTH
    if not current:
        raise UsageError("a command is missing after the last separator" if commands else "no command given")
    if flow is not Flow.BOTH:
        raise UsageError("the last command cannot be a one-way stage: close it and add a command after it")
    commands.append((tuple(current), flow))
    if len(commands) < 2:
        raise UsageError("dpipe needs at least two commands: CMD1 [ARGS] = CMD2 [ARGS]")
    return commands


def parse_chain(words: Sequence[str]) -> ChainPlan:
    """Plan the pipes of ``cmd1 args = cmd2 args [= cmd3 ...]`` (see the module docstring)."""
    commands = split_commands(words)
    pipe_count = 0

    def new_pipe() -> tuple[PipeEnd, PipeEnd]:
        nonlocal pipe_count
        pipe_count += 1
        return PipeEnd(pipe_count - 1, write=False), PipeEnd(pipe_count - 1, write=True)

    stages: list[StagePlan] = []
    first_argv, _ = commands[0]
    to_first_r, to_first_w = new_pipe()
    from_first_r, from_first_w = new_pipe()
    stages.append(
        StagePlan(first_argv, Flow.BOTH, ((Channel.STDIN, to_first_r), (Channel.STDOUT, from_first_w)))
    )
    # What the next command reads from and writes to, seen from the left part of the chain.
    next_in, next_out = from_first_r, to_first_w
    for argv, flow in commands[1:-1]:
        channels: tuple[tuple[Channel, PipeEnd], ...]
        if flow is Flow.BOTH:
            alt_in_r, alt_in_w = new_pipe()
            alt_out_r, alt_out_w = new_pipe()
            channels = (
                (Channel.STDIN, next_in),
                (Channel.STDOUT, next_out),
                (Channel.ALTERNATE_STDIN, alt_in_r),
                (Channel.ALTERNATE_STDOUT, alt_out_w),
            )
            next_in, next_out = alt_out_r, alt_in_w
        elif flow is Flow.LEFT_TO_RIGHT:
            out_r, out_w = new_pipe()
            channels = ((Channel.STDIN, next_in), (Channel.STDOUT, out_w))
            next_in = out_r
        else:
            in_r, in_w = new_pipe()
            channels = ((Channel.STDIN, in_r), (Channel.STDOUT, next_out))
            next_out = in_w
        stages.append(StagePlan(argv, flow, channels))
    last_argv, _ = commands[-1]
    stages.append(StagePlan(last_argv, Flow.BOTH, ((Channel.STDIN, next_in), (Channel.STDOUT, next_out))))
    return ChainPlan(tuple(stages), pipe_count)
