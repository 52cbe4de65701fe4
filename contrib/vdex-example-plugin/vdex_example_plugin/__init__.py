"""example: counts frames per port, says hello, ticks in the background.

A third-party vdex plugin: installed with pip, found through the ``vdex`` entry point group,
loaded at start or with ``plugin/add example [greeting=TEXT] [interval=SECONDS]``.
"""

from __future__ import annotations

import argparse
import errno
from collections.abc import Iterator, Mapping
from typing import Any

import attrs
import trio

from vdex import (
    ConfigError,
    DebugCategory,
    FrameStage,
    MgmtCommand,
    MgmtError,
    Port,
    Service,
    StashKey,
    hookimpl,
)


@attrs.define(eq=False, kw_only=True)
class ExampleState:
    """Everything this plugin keeps about one switch (in ``switch.stash``, never in globals)."""

    greeting: str = "hello"
    interval: float = 1.0
    counts: dict[int, list[int]] = attrs.Factory(dict)
    """Port number -> a one-element list: the stage adds to it without allocating per frame."""
    ticks: int = 0
    ticker: Any = None
    """The service's trio task while it runs (tests check that plugin/del ends it)."""


STATE = StashKey[ExampleState]("example")


@hookimpl
def vdex_configure(switch: Any, options: argparse.Namespace, args: Mapping[str, str]) -> None:
    unknown = set(args) - {"greeting", "interval"}
    if unknown:
        raise ConfigError(f"unknown argument(s) {', '.join(sorted(unknown))}: "
                          "expected greeting=TEXT and/or interval=SECONDS")
    try:
        interval = float(args.get("interval", "1"))
    except ValueError:
        raise ConfigError(f"interval={args['interval']!r} is not a number of seconds") from None
    if interval <= 0:
        raise ConfigError("interval must be positive")
    switch.stash[STATE] = ExampleState(greeting=args.get("greeting", "hello"), interval=interval)


@hookimpl
def vdex_unconfigure(switch: Any) -> None:
    switch.stash.pop(STATE, None)


# ---------------------------------------------------------------------- console


def _hello(ctx: Any, args: str) -> list[str]:
    return [f"{ctx.switch.stash[STATE].greeting} from vdex"]


def _counts(ctx: Any, args: str) -> list[str]:
    counts = ctx.switch.stash[STATE].counts
    wanted = args.strip()
    if wanted:
        if not wanted.isdigit():
            raise MgmtError(errno.EINVAL, f"{wanted!r} is not a port number")
        if int(wanted) not in counts:
            raise MgmtError(errno.ENXIO, f"no frames counted on port {wanted}")
        return [f"Port {int(wanted):04d} frames {counts[int(wanted)][0]}"]
    return [f"Port {n:04d} frames {cell[0]}" for n, cell in sorted(counts.items())]


def _reset(ctx: Any, args: str) -> None:
    for cell in ctx.switch.stash[STATE].counts.values():
        cell[0] = 0


@hookimpl
def vdex_mgmt_commands(switch: Any) -> Iterator[MgmtCommand]:
    yield MgmtCommand(path="example", help="EXAMPLE PLUGIN MENU")
    yield MgmtCommand(path="example/hello", handler=_hello, help="say hello", output=True)
    yield MgmtCommand(path="example/counts", handler=_counts, syntax="[N]",
                      help="frames received per port", output=True)
    yield MgmtCommand(path="example/reset", handler=_reset, help="zero the frame counts")


@hookimpl
def vdex_debug_categories(switch: Any) -> list[DebugCategory]:
    return [DebugCategory(path="example/tick", tag=0o201, help="example: the service ticked")]


# ---------------------------------------------------------------------- data path


@hookimpl
def vdex_frame_stages(switch: Any) -> list[FrameStage]:
    counts = switch.stash[STATE].counts

    def ingress(port: Port, next_stage: Any) -> Any:
        # Called when the port's pipeline is compiled, not per frame: bind what the frame needs.
        cell = counts.setdefault(port.number, [0])

        def count(frame: bytes) -> None:
            cell[0] += 1
            next_stage(frame)

        return count

    return [FrameStage(name="example-counter", order=100, ingress=ingress)]


# ---------------------------------------------------------------------- a service


async def _ticker(switch: Any, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
    state = switch.stash[STATE]
    state.ticker = trio.lowlevel.current_task()
    task_status.started()
    try:
        while True:
            await trio.sleep(state.interval)
            state.ticks += 1
            if switch.debug.listening("example/tick"):
                switch.debug.emit("example/tick", f"tick {state.ticks}")
    finally:
        state.ticker = None


@hookimpl
def vdex_services(switch: Any) -> list[Service]:
    return [Service(name="example-ticker", run=_ticker)]
