"""Slirp on a running switch: ``slirp/add``, ``slirp/del``, ``slirp/print``, ``slirp/fwadd``,
``slirp/fwdel`` (after ``plugin/add slirp``).

``slirp/add`` takes slirpvde's options (the syntax of ``vdex slirp``: ``-D``, ``-H``, ``-N``,
``-L``, ``-U``, ``-x``, ``-X``, ``-t``, ``--ipv6``/``--noipv6``, and ``--port N`` for the switch
port) and is ``port/connect`` of the equivalent ``slirp://`` VNL: the port it opens is an
ordinary port of the slirp plugin (``port/print`` shows the VNL, ``port/epclose`` or ``slirp/del``
closes it, ``plugin/del slirp`` closes them all).
"""

from __future__ import annotations

import errno
import shlex
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import attrs
import trio

from vdex.errors import ConfigError, MgmtError, PluginError, PortError, UsageError
from vdex.mgmt.args import parse_int
from vdex.records import MgmtCommand

from ._describe import settings_lines, statistics_line
from ._endpoint import SlirpEndpoint
from ._options import USAGE, parse_forward, parse_slirpvde_args
from ._vnl import format_slirp_vnl

if TYPE_CHECKING:
    from vdex.mgmt.context import CommandContext
    from vdex.runtime.switch import Switch

ADD_SYNTAX = "[-D] [-H ADDR/LEN] [-N DNS] [-L/-U FWD]... [-t DIR] [--port N] ..."
FORWARD_SYNTAX = "N -L/-U [HADDR:]HPORT:GADDR:GPORT"
CLOSE_TIMEOUT = 5.0


def slirp_endpoints(switch: Switch) -> Iterator[SlirpEndpoint]:
    for endpoint in switch.endpoints():
        if isinstance(endpoint, SlirpEndpoint):
            yield endpoint


def _on_port(switch: Switch, args: str) -> list[SlirpEndpoint]:
    number = parse_int(args, "port")
    found = [ep for ep in slirp_endpoints(switch) if ep.port.number == number]
    if not found:
        raise MgmtError(errno.ENXIO, f"no slirp on port {number}")
    return found


def _usage_lines() -> list[str]:
    lines = USAGE.splitlines()
    return ["slirp/add takes the options of vdex slirp (slirpvde) but no switch, -d, -p, -g, -m;"
            " --port N chooses the port", *lines[1:]]


async def cmd_slirp_add(ctx: CommandContext, args: str) -> list[str]:
    try:
        command = parse_slirpvde_args(shlex.split(args))
    except (ValueError, UsageError, ConfigError) as exc:
        raise MgmtError.invalid(str(exc)) from None
    if command.help:
        return _usage_lines()
    refused = [what for what, given in (
        ("a switch (-s or an operand)", command.switch is not None),
        ("-d", command.daemon), ("-p", command.pidfile is not None),
        ("-g", command.group is not None), ("-m", command.mode is not None)) if given]
    if refused:
        raise MgmtError.invalid(f"slirp/add attaches slirp to this switch: "
                                f"{', '.join(refused)} cannot apply (--port N chooses the port)")
    switch: Switch = ctx.switch
    try:
        endpoint = await switch.open_port(format_slirp_vnl(command.settings),
                                          port=command.port or 0)
    except PortError as exc:
        raise MgmtError(exc.errno, str(exc)) from None
    except (ConfigError, PluginError) as exc:
        raise MgmtError.invalid(str(exc)) from None
    return [f"Port {endpoint.port.number:04d} endpoint {endpoint.id:04d} {endpoint.description}"]


async def cmd_slirp_del(ctx: CommandContext, args: str) -> None:
    if not args.strip():
        raise MgmtError.invalid("expected a port number")
    found = _on_port(ctx.switch, args)
    for endpoint in found:
        endpoint.request_close()
    # The port's owner task detaches and closes it; wait, so the next command sees it gone.
    with trio.move_on_after(CLOSE_TIMEOUT):
        for endpoint in found:
            await endpoint.closed.wait()


def _indented(text: str, title: str) -> list[str]:
    rows = [row.rstrip() for row in text.splitlines() if row.strip()]
    return [f"  {title}", *(f"    {row.strip()}" for row in rows)] if rows else []


def cmd_slirp_print(ctx: CommandContext, args: str) -> list[str]:
    switch: Switch = ctx.switch
    endpoints = (_on_port(switch, args) if args.strip()
                 else sorted(slirp_endpoints(switch), key=lambda e: (e.port.number, e.id)))
    lines: list[str] = []
    for ep in endpoints:
        lines.append(f"Port {ep.port.number:04d} endpoint {ep.id:04d} {ep.description}")
        lines.extend(f"  {line}" for line in settings_lines(ep.settings))
        bridge = ep.bridge
        if bridge is None:
            continue
        lines.extend(f"  forward {forward}" for forward in bridge.forwards)
        stats = bridge.statistics()
        lines.append(f"  {statistics_line(stats, ep.queued, ep.queue_drops)}")
        lines.extend(_indented(bridge.neighbor_info(), "guests (libslirp's ARP/NDP table):"))
        lines.extend(_indented(bridge.connection_info(), "connections:"))
    return lines


def _forward_args(switch: Switch, args: str) -> tuple[SlirpEndpoint, str, str]:
    words = args.split()
    if len(words) != 3 or words[1] not in ("-L", "-U"):
        raise MgmtError.invalid(f"expected {FORWARD_SYNTAX}")
    found = _on_port(switch, words[0])
    if len(found) > 1:
        raise MgmtError(errno.EBUSY, f"port {words[0]} has {len(found)} slirp endpoints; "
                                     f"forwards need a port with one")
    return found[0], words[1], words[2]


def cmd_slirp_fwadd(ctx: CommandContext, args: str) -> None:
    endpoint, option, spec = _forward_args(ctx.switch, args)
    bridge = endpoint.bridge
    assert bridge is not None
    try:
        forward = parse_forward("tcp" if option == "-L" else "udp", spec)
        # The settings' checks: a guest address of this network, no second forward on a port.
        attrs.evolve(endpoint.settings, forwards=(*bridge.forwards, forward))
        bridge.add_forward(forward)
    except ConfigError as exc:
        raise MgmtError.invalid(str(exc)) from None
    except PortError as exc:
        raise MgmtError(exc.errno, str(exc)) from None


def cmd_slirp_fwdel(ctx: CommandContext, args: str) -> None:
    endpoint, option, spec = _forward_args(ctx.switch, args)
    bridge = endpoint.bridge
    assert bridge is not None
    try:
        bridge.remove_forward(parse_forward("tcp" if option == "-L" else "udp", spec))
    except ConfigError as exc:
        raise MgmtError.invalid(str(exc)) from None
    except PortError as exc:
        raise MgmtError(exc.errno, str(exc)) from None


def mgmt_commands() -> Iterable[MgmtCommand]:
    return [
        MgmtCommand(path="slirp", help="SLIRP MENU"),
        MgmtCommand(path="slirp/add", handler=cmd_slirp_add, syntax=ADD_SYNTAX, output=True,
                    help="open a slirp port with slirpvde's options (slirp/add -h lists them)"),
        MgmtCommand(path="slirp/del", handler=cmd_slirp_del, syntax="N",
                    help="close the slirp on port N"),
        MgmtCommand(path="slirp/print", handler=cmd_slirp_print, syntax="[N]", output=True,
                    help="slirp ports: settings, forwards, counters, guests, connections"),
        MgmtCommand(path="slirp/fwadd", handler=cmd_slirp_fwadd, syntax=FORWARD_SYNTAX,
                    help="add a TCP (-L) or UDP (-U) forward from the host to a guest"),
        MgmtCommand(path="slirp/fwdel", handler=cmd_slirp_fwdel, syntax=FORWARD_SYNTAX,
                    help="remove a forward"),
    ]


__all__ = ["mgmt_commands", "slirp_endpoints"]
