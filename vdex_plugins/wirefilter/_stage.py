"""wirefilter as a frame stage on a switch port: ``wf/add``, ``wf/set``, ``wf/del``, ``wf/show``.

A filter on port N sits closest to the wire (stage order :data:`STAGE_ORDER`). Its ``LR``
direction is what the port's client sends into the switch (ingress); ``RL`` is what the switch
sends out to the client (egress). Frames with no delay go on at once, inside the caller's call;
delayed frames are sent by one timer service per switch, which sleeps until the earliest deadline
of all the filters and is woken when a frame (or a command) brings an earlier one.

Ports without a filter get no stage at all: the factories return None for them, so they pay
nothing. Attaching or removing a filter recompiles that port.

A switch cannot stop its clients from sending, so ``speed`` on a port keeps the frames that arrive
while the interface is busy in a bounded backlog (:data:`BACKLOG_LIMIT` frames, ``backlog=N`` in
``wf/add``) and counts what overflows; wirefilter in plug mode loses them in the socket queue.
"""

from __future__ import annotations

import errno
import random
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import attrs
import trio

from vdex.errors import ConfigError, MgmtError, PortError
from vdex.mgmt.args import parse_int
from vdex.records import DebugCategory, FrameStage, MgmtCommand, Sink
from vdex.stash import StashKey

from ._commands import FILTER_COMMANDS, VALUE_COMMANDS, cmd_showinfo, cmd_showstats, run_command
from ._model import WireFilterModel
from ._timer import DeadlineWaiter
from ._values import LR, RL

if TYPE_CHECKING:
    from vdex._core.port import Port
    from vdex.mgmt.context import CommandContext

STAGE_ORDER = -1000
"""Lower is closer to the wire: the emulated link is the wire itself."""
BACKLOG_LIMIT = 64
_SETTINGS = {c.name for c in VALUE_COMMANDS}  # delay, loss, ..., fifo
_TOKEN_RE = re.compile(r"([a-z-]+)=(\S+)")


@attrs.define(eq=False, kw_only=True)
class PortFilter:
    """The filter on one port (a :class:`~._commands.FilterTarget` for the shared commands)."""

    port: int
    model: WireFilterModel
    clock: Callable[[], float]
    sinks: list[Sink | None] = attrs.Factory(lambda: [None, None])
    """Where released frames go: ``[LR]`` the rest of the ingress chain, ``[RL]`` the wire."""
    mono: bool = False
    blink: tuple[str, str] | None = None

    def now(self) -> float:
        return self.clock()


@attrs.define(eq=False, kw_only=True)
class WfSwitchState:
    """Per-switch state, in ``switch.stash[WF_STATE]``."""

    filters: dict[int, PortFilter] = attrs.Factory(dict)
    clock: Callable[[], float] = trio.current_time
    seed: int | None = None
    """Base seed: port N's generator is seeded from it and N (None: unpredictable)."""
    waiter: DeadlineWaiter = attrs.Factory(DeadlineWaiter)

    def next_deadline(self) -> float | None:
        best: float | None = None
        for f in self.filters.values():
            d = f.model.next_deadline()
            if d is not None and (best is None or d < best):
                best = d
        return best

    def release(self) -> None:
        """Send every frame that is due, on every port."""
        now = self.clock()
        for f in list(self.filters.values()):
            for direction, frame in f.model.handle_timer(now):
                sink = f.sinks[direction]
                if sink is not None:
                    sink(frame)

    def new_filter(self, port: int, seed: int | None) -> PortFilter:
        if seed is None and self.seed is not None:
            seed = self.seed * 65536 + port
        model = WireFilterModel(rng=random.Random(seed), backlog_limit=BACKLOG_LIMIT)
        return PortFilter(port=port, model=model, clock=self.clock)


WF_STATE = StashKey[WfSwitchState]("wirefilter")


def configure(switch: Any, args: Mapping[str, str]) -> None:
    """``plugin/add wirefilter [seed=N]``."""
    seed = None
    if "seed" in args:
        try:
            seed = int(args["seed"])
        except ValueError:
            raise ConfigError(f"wirefilter: seed={args['seed']!r} is not an integer") from None
    unknown = set(args) - {"seed"}
    if unknown:
        raise ConfigError(f"wirefilter: unknown argument(s) {', '.join(sorted(unknown))} "
                          "(only seed=N)")
    switch.stash[WF_STATE] = WfSwitchState(seed=seed)


def unconfigure(switch: Any) -> None:
    state = switch.stash.pop(WF_STATE, None)
    if state is not None:
        for f in state.filters.values():
            f.model.clear()
        state.filters.clear()


def _state(switch: Any) -> WfSwitchState:
    state = switch.stash.get(WF_STATE, None)
    if state is None:  # plugin used without vdex_configure (tests, embedding)
        state = switch.stash[WF_STATE] = WfSwitchState()
    return state


# ---------------------------------------------------------------------- the frame stage


def _factory(switch: Any, direction: int) -> Callable[[Port, Sink], Sink | None]:
    def factory(port: Port, next_sink: Sink) -> Sink | None:
        state = switch.stash.get(WF_STATE, None)
        f = state.filters.get(port.number) if state is not None else None
        if f is None:
            return None
        f.sinks[direction] = next_sink
        model = f.model
        submit = model.submit
        next_deadline = model.next_deadline
        clock = state.clock
        wake = state.waiter.wake_if_earlier

        def wirefilter(frame: bytes) -> None:
            for out in submit(direction, frame, clock()):
                next_sink(out)
            wake(next_deadline())

        return wirefilter

    return factory


def frame_stage(switch: Any) -> FrameStage:
    return FrameStage(name="wirefilter", order=STAGE_ORDER,
                      ingress=_factory(switch, LR), egress=_factory(switch, RL))


async def run_timer(switch: Any, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                    ) -> None:
    """The service: release due frames of every filter on this switch, on time."""
    state = _state(switch)
    task_status.started()
    try:
        while True:
            await state.waiter.wait(state.next_deadline())
            state.release()
    finally:
        state.waiter.close()


def port_down(switch: Any, port: Port) -> None:
    """The port lost its last endpoint: frames in flight to or from it are lost."""
    state = switch.stash.get(WF_STATE, None)
    f = state.filters.get(port.number) if state is not None else None
    if f is not None:
        f.model.clear()
        f.sinks = [None, None]


def port_removed(switch: Any, port: Port) -> None:
    state = switch.stash.get(WF_STATE, None)
    if state is not None and state.filters.pop(port.number, None) is not None:
        state.waiter.wake()


# ---------------------------------------------------------------------- console commands


def _port_number(switch: Any, text: str) -> int:
    number = parse_int(text, "port number")
    try:
        switch.engine.ports.check_range(number)
    except PortError as exc:
        raise MgmtError(exc.errno, str(exc)) from None
    return number


def _recompile(switch: Any, number: int) -> None:
    port = switch.engine.ports.get(number)
    if port is not None:
        switch.recompile(port)


def _filter(switch: Any, text: str) -> tuple[WfSwitchState, PortFilter]:
    state = _state(switch)
    number = _port_number(switch, text)
    f = state.filters.get(number)
    if f is None:
        raise MgmtError(errno.ENOENT, f"port {number} has no wirefilter (wf/add {number} ...)")
    return state, f


def cmd_add(ctx: CommandContext, args: str) -> None:
    words = args.split()
    if not words:
        raise MgmtError.invalid("expected PORT [name=value ...]")
    switch = ctx.switch
    state = _state(switch)
    number = _port_number(switch, words[0])
    if number in state.filters:
        raise MgmtError(errno.EEXIST, f"port {number} already has a wirefilter (wf/set, wf/del)")
    settings: list[tuple[str, str]] = []
    seed: int | None = None
    backlog = BACKLOG_LIMIT
    for word in words[1:]:
        m = _TOKEN_RE.fullmatch(word)
        if m is None:
            raise MgmtError.invalid(f"{word!r}: expected name=value")
        name, value = m.groups()
        if name == "seed":
            seed = parse_int(value, "seed")
        elif name == "backlog":
            backlog = parse_int(value, "backlog")
            if backlog < 0:
                raise MgmtError.invalid("backlog must be 0 or more frames")
        elif name in _SETTINGS:
            settings.append((name, value))
        else:
            raise MgmtError.invalid(
                f"{name!r} is not a setting ({', '.join(sorted(_SETTINGS))}, seed, backlog)")
    f = state.new_filter(number, seed)
    f.model.backlog_limit = backlog
    f.model.on_node_change = _markov_debug(switch, f)
    for name, value in settings:
        run_command(f, f"{name} {value}")
    state.filters[number] = f
    _recompile(switch, number)
    state.waiter.wake()


MARKOV_DEBUG = DebugCategory(path="wf/markov", tag=0o70,
                             help="wirefilter Markov node changes on a port")


def _markov_debug(switch: Any, f: PortFilter) -> Callable[[int, int], None]:
    """``debug/add wf/markov``: ``3070 wf/markov Port 03: Node 0 "good" -> 1 "bad"``."""

    def changed(old: int, new: int) -> None:
        debug = getattr(switch, "debug", None)
        if debug is not None and debug.listening(MARKOV_DEBUG.path):
            names = f.model.markov.names
            debug.emit(MARKOV_DEBUG.path,
                       f'Port {f.port:02d}: Node {old} "{names[old]}" -> {new} "{names[new]}"')

    return changed


def cmd_set(ctx: CommandContext, args: str) -> None:
    port, _, rest = args.strip().partition(" ")
    state, f = _filter(ctx.switch, port)
    if not rest.strip():
        raise MgmtError.invalid("expected PORT COMMAND [ARGS], e.g. wf/set 3 delay 50+10N")
    command, _reply = run_command(f, rest)
    if command.data_block:
        raise MgmtError.invalid(f"{command.name} shows something: use wf/show")
    state.waiter.wake()


def cmd_del(ctx: CommandContext, args: str) -> None:
    state, f = _filter(ctx.switch, args)
    f.model.clear()
    del state.filters[f.port]
    _recompile(ctx.switch, f.port)
    state.waiter.wake()


def cmd_show(ctx: CommandContext, args: str) -> list[str]:
    state = _state(ctx.switch)
    if args.strip():
        _, f = _filter(ctx.switch, args)
        lines = [f"Port {f.port} (L->R: into the switch, R->L: out to the port)"]
        lines += cmd_showinfo(f, "") or []
        lines += cmd_showstats(f, "") or []
        return lines
    lines = ["PORT DIR   RECEIVED  DELIVERED    DROPPED  QUEUED"]
    for number in sorted(state.filters):
        model = state.filters[number].model
        for d, label in ((LR, "L->R"), (RL, "R->L")):
            st = model.stats[d]
            lines.append(f"{number:4d} {label} {st.received:10d} {st.delivered:10d} "
                         f"{st.dropped:10d} {model.queued_frames(d):7d}")
    return lines


def mgmt_commands() -> list[MgmtCommand]:
    settings = ", ".join(c.name for c in VALUE_COMMANDS if c.help)
    return [
        MgmtCommand(path="wf", help="WIREFILTER MENU (link emulation on ports)"),
        MgmtCommand(path="wf/add", handler=cmd_add, syntax="N [name=value]",
                    help=f"filter port N ({settings}, seed, backlog)"),
        MgmtCommand(path="wf/set", handler=cmd_set, syntax="N command",
                    help="run a wirefilter command on port N's filter (delay 50+5N, ...)"),
        MgmtCommand(path="wf/del", handler=cmd_del, syntax="N",
                    help="remove port N's filter (frames in flight are lost)"),
        MgmtCommand(path="wf/show", handler=cmd_show, syntax="[N]", output=True,
                    help="list the filters, or show port N's parameters and counters"),
    ]


__all__ = ["FILTER_COMMANDS", "WF_STATE", "PortFilter", "WfSwitchState", "frame_stage",
           "mgmt_commands", "run_timer"]
