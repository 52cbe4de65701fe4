"""wirefilter's command language, shared by the ``vdex wirefilter`` console and ``wf/set``.

Each command works on a :class:`FilterTarget` (a model plus how to show it), so the stand-alone
filter and a filter on a switch port run the very same code. Replies keep wirefilter's text byte
for byte (``showinfo`` keeps its trailing spaces, ``showedges`` its ``weigth``), because scripts
and vdeterm read them.

Where wirefilter accepted nonsense and did nothing (``loss abc``, ``lossy 5``, ``showinfoXYZ``,
``fifo abc``), these commands answer ``1022 Invalid argument``.
"""

from __future__ import annotations

import errno
import re
from collections.abc import Callable
from typing import Protocol

import attrs

from vdex.errors import MgmtError

from ._markov import MarkovError
from ._model import WireFilterModel
from ._values import LR, RL, Param, ValueSyntaxError, parse_value

MAX_NODES = 1024
"""Largest ``markov-numnodes`` (the edge table grows with its square)."""

_INT_RE = re.compile(r"[+-]?\d+")


class FilterTarget(Protocol):
    """What a command needs: the model, the time, and how ``showinfo`` describes the filter."""

    model: WireFilterModel
    mono: bool
    """One direction only (``showinfo`` prints one value per line)."""
    blink: tuple[str, str] | None
    """``(socket, id)`` of ``--blink``, shown by ``showinfo``."""

    def now(self) -> float: ...


Reply = list[str] | None
Handler = Callable[[FilterTarget, str], Reply]


@attrs.frozen
class WfCommand:
    name: str
    handler: Handler
    data_block: bool = False
    help: str = ""
    """The line ``help`` prints for it (empty: not listed on its own)."""


# ---------------------------------------------------------------------- argument helpers


def _int(text: str, what: str) -> int:
    text = text.strip()
    if not _INT_RE.fullmatch(text):
        raise MgmtError(errno.EINVAL, f"{what}: {text!r} is not an integer")
    return int(text)


def _float(text: str, what: str) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        raise MgmtError(errno.EINVAL, f"{what}: {text.strip()!r} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise MgmtError(errno.EINVAL, f"{what}: {text.strip()!r} is not a finite number")
    return value


def _node_arg(target: FilterTarget, args: str) -> int:
    """An optional node number: the current node when absent."""
    chain = target.model.markov
    if not args.strip():
        return chain.current
    node = _int(args, "node")
    if not 0 <= node < chain.size:
        raise MgmtError(errno.EINVAL, f"Markov node {node} does not exist")
    return node


def _markov(call: Callable[[], object]) -> None:
    try:
        call()
    except MarkovError as exc:
        raise MgmtError(errno.EINVAL, str(exc)) from None


def _now_us(target: FilterTarget) -> int:
    return round(target.now() * 1_000_000)


# ---------------------------------------------------------------------- the commands


def _setter(param: Param) -> Handler:
    def set_value(target: FilterTarget, args: str) -> Reply:
        model = target.model
        try:
            parsed = parse_value(args, nodes=model.markov.size)
        except ValueSyntaxError as exc:
            raise MgmtError(errno.EINVAL, f"{param.name.lower()}: {exc}") from None
        model.set_value(param, parsed.directions, parsed.node, parsed.value)
        return None

    return set_value


def cmd_fifo(target: FilterTarget, args: str) -> Reply:
    target.model.fifo = _int(args, "fifo") != 0
    return None


def cmd_numnodes(target: FilterTarget, args: str) -> Reply:
    n = _int(args, "markov-numnodes")
    if n > MAX_NODES:
        raise MgmtError(errno.EINVAL, f"at most {MAX_NODES} Markov nodes")
    _markov(lambda: target.model.markov.resize(n, _now_us(target)))
    return None


def cmd_setnode(target: FilterTarget, args: str) -> Reply:
    n = _int(args, "markov-setnode")
    _markov(lambda: target.model.markov.set_current(n))
    return None


def cmd_name(target: FilterTarget, args: str) -> Reply:
    node, sep, name = args.partition(",")
    if not sep:
        raise MgmtError(errno.EINVAL, "markov-name: expected NODE,NAME")
    n = _int(node, "markov-name")
    _markov(lambda: target.model.markov.set_name(n, name.strip()))
    return None


def cmd_time(target: FilterTarget, args: str) -> Reply:
    ms = _float(args, "markov-time")
    _markov(lambda: target.model.markov.set_period(ms, _now_us(target)))
    return None


def cmd_setedge(target: FilterTarget, args: str) -> Reply:
    parts = args.split(",")
    if len(parts) != 3:
        raise MgmtError(errno.EINVAL, "setedge: expected FROM,TO,WEIGHT")
    src, dst = _int(parts[0], "setedge"), _int(parts[1], "setedge")
    weight = _float(parts[2], "setedge")
    _markov(lambda: target.model.markov.set_edge(src, dst, weight))
    return None


def cmd_showedges(target: FilterTarget, args: str) -> Reply:
    chain = target.model.markov
    i = _node_arg(target, args)
    names = chain.names
    return [
        f'Edge {i:<2d}->{k:<2d} "{names[i]}"->"{names[k]}" weigth {w:g}'
        for k, w in enumerate(chain.edges[i])
        if w != 0
    ]


def cmd_showcurrent(target: FilterTarget, args: str) -> Reply:
    if args.strip():
        raise MgmtError(errno.EINVAL, "showcurrent takes no argument")
    chain = target.model.markov
    return [f'Current Markov Node {chain.current} "{chain.names[chain.current]}" '
            f"(0,..,{chain.size - 1})"]


_LABELS = ("Loss", "Lburst", "Delay", "Dup", "Bandw", "Speed", "Noise", "MTU", "Cap.")


def cmd_showinfo(target: FilterTarget, args: str) -> Reply:
    """wirefilter's ``showinfo``, byte for byte (trailing spaces included)."""
    model = target.model
    chain = model.markov
    node = _node_arg(target, args)
    params = chain.nodes[node]
    mono = target.mono
    lines = [f"WireFilter: {'monodirectional' if mono else 'bidirectional'}"]
    if chain.size > 1:
        lines.append(f'Node {node} "{chain.names[node]}" (0,..,{chain.size - 1}) '
                     f"Markov-time {chain.period_ms:g}")
    for param in Param:
        label = f"{_LABELS[param]:<6}"
        lr, rl = params[param][LR], params[param][RL]
        if param is Param.MTU:
            if mono:
                lines.append(f"{label} {lr.min:g}")
            else:
                lines.append(f"{label} L->R {lr.min:g}     R->L {rl.min:g}   ")
        elif mono:
            lines.append(f"{label} {lr.format()}")
        else:
            lines.append(f"{label} L->R {lr.format()}   R->L {rl.format()}")
    if mono:
        lines.append(f"Current Delay Queue size:   {model.queued_bytes(LR)}")
    else:
        lines.append(f"Current Delay Queue size:   L->R {model.queued_bytes(LR)}      "
                     f"R->L {model.queued_bytes(RL)}   ")
    lines.append(f"Fifoness {'TRUE' if model.fifo else 'FALSE'}")
    lines.append(f"Waiting packets in delay queues {model.queued_frames()}")
    if target.blink is not None:
        lines.append(f"Blink socket: {target.blink[0]}")
        lines.append(f"Blink id:     {target.blink[1]} ")
    return lines


def cmd_showstats(target: FilterTarget, args: str) -> Reply:
    """Frame counters and drops by reason (vdex only)."""
    if args.strip():
        raise MgmtError(errno.EINVAL, "showstats takes no argument")
    model = target.model
    dirs = (("", LR),) if target.mono else (("L->R ", LR), ("R->L ", RL))
    lines = []
    for label, d in dirs:
        st = model.stats[d]
        lines.append(
            f"{label}received {st.received} delivered {st.delivered} duplicated {st.duplicated} "
            f"noisy {st.noisy} (bits {st.flipped_bits}) backlog {model.backlog(d)}")
        lines.append(
            f"{label}dropped {st.dropped}: mtu {st.drop_mtu} loss {st.drop_loss} "
            f"chanbufsize {st.drop_chanbuf} speed {st.drop_speed} "
            f"bandwidth {st.drop_bandwidth} backlog {st.drop_backlog} flushed {st.drop_flushed}")
    if model.markov.skipped_steps:
        lines.append(f"Markov steps skipped (timer late) {model.markov.skipped_steps}")
    extra = getattr(target, "extra_stats", None)
    if extra is not None:
        lines += extra()
    return lines


VALUE_COMMANDS: tuple[WfCommand, ...] = (
    WfCommand("delay", _setter(Param.DELAY), help="delay        set delay ms"),
    WfCommand("loss", _setter(Param.LOSS), help="loss         set loss percentage"),
    WfCommand("lostburst", _setter(Param.LOSTBURST),
              help="lostburst    mean length of lost packet bursts"),
    WfCommand("dup", _setter(Param.DUP), help="dup          set dup packet percentage"),
    WfCommand("bandwidth", _setter(Param.BAND),
              help="bandwidth    set channel bandwidth bytes/sec"),
    WfCommand("band", _setter(Param.BAND)),
    WfCommand("speed", _setter(Param.SPEED), help="speed        set interface speed bytes/sec"),
    WfCommand("chanbufsize", _setter(Param.CAPACITY),
              help="chanbufsize  set channel buffer size (bytes)"),
    WfCommand("capacity", _setter(Param.CAPACITY)),
    WfCommand("noise", _setter(Param.NOISE), help="noise        set noise factor bits/Mbyte"),
    WfCommand("mtu", _setter(Param.MTU), help="mtu          set channel MTU (bytes)"),
    WfCommand("fifo", cmd_fifo, help="fifo         set channel fifoness"),
)
"""The parameter commands, in wirefilter's lookup order (``bandwidth`` before ``band``)."""

SHOWINFO = WfCommand("showinfo", cmd_showinfo, True,
                     "showinfo     show status and parameter values")
MARKOV_COMMANDS: tuple[WfCommand, ...] = (
    WfCommand("markov-numnodes", cmd_numnodes,
              help="markov-numnodes n  markov mode: set number of states"),
    WfCommand("markov-setnode", cmd_setnode,
              help="markov-setnode n   markov mode: set current state"),
    WfCommand("markov-name", cmd_name, help="markov-name n,name markov mode: set state's name"),
    WfCommand("markov-time", cmd_time, help="markov-time ms     markov mode: transition period"),
    WfCommand("setedge", cmd_setedge, help="setedge n1,n2,w    markov mode: set edge weight"),
    WfCommand("showedges", cmd_showedges, True,
              "showedges n        markov mode: show edge weights"),
    WfCommand("showcurrent", cmd_showcurrent, True,
              "showcurrent        markov mode: show current state"),
)
SHOWSTATS = WfCommand("showstats", cmd_showstats, True,
                      "showstats          show frame counters and drops")

FILTER_COMMANDS: tuple[WfCommand, ...] = (SHOWINFO, *VALUE_COMMANDS, *MARKOV_COMMANDS, SHOWSTATS)
"""Every command that acts on one filter, in lookup order (what ``wf/set`` accepts)."""


def lookup(text: str) -> tuple[WfCommand, str] | None:
    """wirefilter's dispatch: the first command whose name is a prefix of ``text``, and the rest."""
    for command in FILTER_COMMANDS:
        if text.startswith(command.name):
            return command, text[len(command.name):].lstrip(" \t")
    return None


def run_command(target: FilterTarget, text: str) -> tuple[WfCommand, Reply]:
    """Run one command line on ``target``.

    :raises MgmtError: ENOSYS for an unknown command, EINVAL for a bad argument.
    """
    found = lookup(text.strip())
    if found is None:
        raise MgmtError(errno.ENOSYS, f"{text.strip()!r} is not a wirefilter command")
    command, args = found
    return command, command.handler(target, args)
