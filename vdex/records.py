"""Frozen records that plugins contribute through hooks, and that the host validates.

A hook never hands the switch a live object it must poke at per frame: it hands a description
(a command, a port type, a frame stage, a service). The switch validates it, records who owns it,
and compiles what belongs on the data path once, when something changes.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    import argparse

    from ._core.port import Port
    from .mgmt.context import CommandContext
    from .runtime.endpoint import Endpoint
    from .runtime.switch import Switch
    from .vnl import OptionStyle, Vnl

_PATH_RE = re.compile(r"^[a-z0-9_\-+]+(/[a-z0-9_\-+]+)*$")
_NAME_RE = re.compile(r"^[a-z][a-z0-9_\-]*$")

CommandOutput = str | Iterable[str] | None
"""What a command handler returns: nothing, one text block, or lines (without newlines)."""

CommandHandler = Callable[["CommandContext", str], CommandOutput | Awaitable[CommandOutput]]


def _check_path(_inst: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not _PATH_RE.match(value):
        raise ValueError(f"{attribute.name} {value!r} must look like 'menu/command' (lower case)")


def _check_name(_inst: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not _NAME_RE.match(value):
        raise ValueError(f"{attribute.name} {value!r} must be a lower-case identifier")


@attrs.frozen(kw_only=True)
class MgmtCommand:
    """A management console command, or a menu header when ``handler`` is None.

    The console matches the *first* registered command whose path is a prefix of the input, like
    vde_switch, so registration order matters: it is also the order of ``help``.
    """

    path: str = attrs.field(validator=_check_path)
    """``menu/command``; a menu header is just ``menu``."""
    handler: CommandHandler | None = None
    """``handler(ctx, args) -> CommandOutput``, sync or async; raise :class:`vdex.MgmtError` on failure."""
    syntax: str = ""
    """Argument synopsis shown by ``help`` (``N VLAN``)."""
    help: str = ""
    """One line of help; for a menu header, the menu title (``PORT STATUS MENU``)."""
    output: bool = False
    """True if the reply is wrapped in ``0000 DATA END WITH '.'`` ... ``.`` (even on failure)."""

    @property
    def is_menu(self) -> bool:
        return self.handler is None


@attrs.frozen(kw_only=True)
class DebugCategory:
    """An asynchronous event class a console session can subscribe to with ``debug/add``.

    Events go out as ``3`` + the three-digit octal ``tag`` + space + path + space + message.
    """

    path: str = attrs.field(validator=_check_path)
    tag: int = attrs.field()
    help: str = ""

    @tag.validator
    def _check_tag(self, _attribute: attrs.Attribute[int], value: int) -> None:
        if not 0 <= value <= 0o777:
            raise ValueError(f"debug tag {value:o} must fit in three octal digits")


PortOpener = Callable[["Switch | None", "Vnl"], AbstractAsyncContextManager["Endpoint"]]


@attrs.frozen(kw_only=True)
class PortType:
    """A kind of endpoint, opened from a VNL such as ``tap://tap0`` or ``vde:///tmp/sw[3]``.

    ``open(switch, vnl)`` returns an async context manager yielding a started :class:`Endpoint`.
    The switch enters it in a task of the owning plugin, so unloading the plugin closes the
    endpoint. ``switch`` may be None when the endpoint is used outside a switch (``vdex plug``).
    """

    scheme: str = attrs.field(validator=_check_name)
    open: PortOpener
    help: str = ""
    vnl_style: OptionStyle | None = None
    """How the text after ``scheme://`` is split into options; None: vdex.vnl's table for known
    schemes, raw text for others. A third-party scheme with ``path[key=value]`` options says
    ``OptionStyle.PATH`` here."""


TransportOpener = Callable[..., "Endpoint"]


@attrs.frozen(kw_only=True)
class Transport:
    """How frames cross a cable made of file descriptors.

    ``open(read_fd, write_fd, *, description)`` wraps already-open descriptors into an endpoint:
    ``stream`` is the 2-byte big-endian length framing of vde_plug and dpipe, ``datagram`` is one
    frame per datagram (a socketpair or a seqpacket).
    """

    name: str = attrs.field(validator=_check_name)
    open: TransportOpener
    help: str = ""


Forward = Callable[[bytes, int, bool], None]
"""``forward(frame, vlan, tagged)``: hand a classified frame to the switching core."""
Sink = Callable[[bytes], None]
"""One frame in, nothing out: the next element of an ingress or egress chain."""
MemberSink = Callable[[bytes, bool], None]
"""``sink(frame, tagged)``: deliver a frame classified into a VLAN through one member port."""


@attrs.frozen(kw_only=True)
class FrameStage:
    """Per-port processing compiled into the forwarding pipeline.

    Each factory is called once per port (or per port and VLAN) when the pipeline is compiled, and
    returns the callable that runs per frame, or None when the stage does not apply to that port.
    Factories build continuation chains: a stage gets ``next`` and calls it (now, later, several
    times, or never), so a delaying stage simply calls ``next`` from its timer.

    Order of a received frame through a port::

        wire -> ingress (ascending order) -> classify -> vlan_ingress (ascending order)
             -> switching core -> adapt (per member VLAN) -> egress (descending order) -> wire

    * ``ingress(port, next)`` sees raw frames as received.
    * ``classify(port, forward)`` decides the VLAN of a raw frame and calls
      ``forward(frame, vlan, tagged)`` (``tagged``: the frame still carries its 802.1Q tag). Without
      a classifier every frame belongs to the port's untagged VLAN, tags untouched.
    * ``vlan_ingress(port, next)`` sees classified frames (``next(frame, vlan, tagged)``), before
      learning: the place for a spanning tree to consume BPDUs.
    * ``adapt(port, vlan, next)`` returns ``sink(frame, tagged)`` that puts a frame of ``vlan`` in
      the wire format of ``port`` (add or strip the tag) and calls ``next(frame)``.
    * ``egress(port, next)`` sees frames in wire format about to be sent.

    ``classify`` and ``adapt`` may each come from one stage only (the VLAN plugin).

    ``untagged_fast_path``: the stage promises that ``classify`` gives every frame without an
    802.1Q tag to the port's untagged VLAN, and that ``adapt`` hands untagged frames to untagged
    members unchanged. The core then switches untagged frames itself, calling ``classify`` only
    for frames with TPID 0x8100 and ``adapt`` only for tagged members: a switch that does not use
    VLANs pays nothing for the VLAN plugin. ``adapt``'s sinks must then also accept the frame
    alone (``tagged`` defaulting to False): the core calls them so for untagged frames.
    """

    name: str = attrs.field(validator=_check_name)
    order: int = 0
    """Lower runs closer to the wire: first on ingress, last on egress."""
    ingress: Callable[[Port, Sink], Sink | None] | None = None
    egress: Callable[[Port, Sink], Sink | None] | None = None
    classify: Callable[[Port, Forward], Sink | None] | None = None
    vlan_ingress: Callable[[Port, Forward], Forward | None] | None = None
    adapt: Callable[[Port, int, Sink], MemberSink | None] | None = None
    untagged_fast_path: bool = False


ServiceRun = Callable[..., Awaitable[None]]


@attrs.frozen(kw_only=True)
class Service:
    """A long-running task, run in the owning plugin's cancel scope.

    ``run(switch, *, task_status)`` must call ``task_status.started()`` once it is ready. It is
    cancelled by ``plugin/del`` and on shutdown.
    """

    name: str = attrs.field(validator=_check_name)
    run: ServiceRun


@attrs.frozen(kw_only=True)
class Subcommand:
    """A ``vdex NAME`` command line tool contributed by a plugin (``vdex wirefilter``, ...).

    Either ``add_arguments`` and ``run`` (vdex builds an argparse parser, ``--help`` included),
    or ``main`` for a tool whose command line argparse cannot read (slirpvde's single-dash long
    options): it gets the arguments after ``vdex NAME`` untouched.
    """

    name: str = attrs.field(validator=_check_name)
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None
    run: Callable[[argparse.Namespace], int] | None = None
    """Runs the tool; returns the process exit status."""
    main: Callable[[list[str]], int] | None = None
    """Parses its own arguments and runs the tool; returns the process exit status."""

    def __attrs_post_init__(self) -> None:
        if (self.main is None) == (self.run is None or self.add_arguments is None):
            raise ValueError(f"subcommand {self.name!r}: give add_arguments and run, or main")


__all__ = [
    "CommandHandler",
    "CommandOutput",
    "DebugCategory",
    "Forward",
    "FrameStage",
    "MemberSink",
    "MgmtCommand",
    "PortType",
    "Service",
    "Sink",
    "Subcommand",
    "Transport",
]

