"""Taps on a running switch: ``-t TAP`` at start, and ``tap/add``, ``tap/del``, ``tap/print``.

``-t`` behaves as in vde_switch: each tap is opened when the switch starts, before clients
connect, on the first free port; a tap that cannot be opened is logged (``ERROR OPENING tap
interface NAME: why``) and the switch runs on without it, so a boot script (Debian's ifupdown
``vde2-switch -t``) still gets its switch. ``tap/add`` reports the same error on the console
instead (``1NNN`` with the errno: 1001 not permitted, 1016 busy, 1022 invalid, ...).

Every tap port, however it was opened (``-t``, ``tap/add``, ``port/connect tap://...``), is an
ordinary port: ``port/print`` shows it, ``port/epclose`` or ``tap/del`` closes it, and closing a
tap the switch created deletes the interface (a persistent tap stays).
"""

from __future__ import annotations

import argparse
import errno
import logging
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import attrs
import trio

from vdex.errors import ConfigError, MgmtError, PortError
from vdex.mgmt.args import parse_int
from vdex.records import MgmtCommand
from vdex.stash import StashKey
from vdex.vnl import OptionStyle, Vnl

from ._endpoint import TapEndpoint

if TYPE_CHECKING:
    from vdex.mgmt.context import CommandContext
    from vdex.runtime.switch import Switch

log = logging.getLogger("vdex.tap")


@attrs.define(eq=False, kw_only=True)
class TapSettings:
    startup: list[str] = attrs.Factory(list)
    """The ``-t`` names, opened once when the switch starts."""


SETTINGS = StashKey[TapSettings]("tap")


def add_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("tap")
    group.add_argument("-t", "--tap", action="append", default=[], metavar="TAP",
                       help="attach tap interface TAP (created if needed, needs CAP_NET_ADMIN; "
                            "repeatable). TAP may end in [mtu=N/up]")


def configure(switch: Switch, options: argparse.Namespace) -> None:
    switch.stash[SETTINGS] = TapSettings(startup=list(getattr(options, "tap", None) or []))


def unconfigure(switch: Switch) -> None:
    switch.stash.pop(SETTINGS, None)


def tap_vnl(name: str) -> Vnl:
    """``tap://NAME`` without re-reading NAME through any quoting rules."""
    return Vnl("tap", name, style=OptionStyle.RAW, args=name)


async def open_startup_taps(switch: Switch, *,
                            task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    """The ``tap-startup`` service: open the ``-t`` taps, log the failures, and finish."""
    for name in switch.stash[SETTINGS].startup:
        try:
            endpoint = await switch.open_port(tap_vnl(name))
        except (PortError, ConfigError) as exc:
            log.error("ERROR OPENING tap interface %s: %s", name, exc)
            continue
        log.info("tap %s on port %d", endpoint.description, endpoint.port.number)
    task_status.started()


def tap_endpoints(switch: Switch) -> Iterator[TapEndpoint]:
    for endpoint in switch.endpoints():
        if isinstance(endpoint, TapEndpoint):
            yield endpoint


# ---------------------------------------------------------------------------- console


async def cmd_tap_add(ctx: CommandContext, args: str) -> list[str]:
    words = args.split()
    if not 1 <= len(words) <= 2:
        raise MgmtError.invalid("expected TAP [PORT]")
    number = parse_int(words[1], "port") if len(words) == 2 else 0
    switch: Switch = ctx.switch
    for other in tap_endpoints(switch):
        if other.name == words[0]:
            raise MgmtError(errno.EBUSY, f"tap {other.name} is already on port {other.port.number}")
    try:
        endpoint = await switch.open_port(tap_vnl(words[0]), port=number)
    except PortError as exc:
        raise MgmtError(exc.errno, str(exc)) from None
    except ConfigError as exc:
        raise MgmtError.invalid(str(exc)) from None
    return [f"Port {endpoint.port.number:04d} endpoint {endpoint.id:04d} tap {endpoint.description}"]


async def cmd_tap_del(ctx: CommandContext, args: str) -> None:
    name = args.strip()
    if not name:
        raise MgmtError.invalid("expected TAP")
    switch: Switch = ctx.switch
    found = [ep for ep in tap_endpoints(switch) if ep.name == name]
    if not found:
        raise MgmtError(errno.ENODEV, f"no tap {name} on this switch")
    for endpoint in found:
        endpoint.request_close()
    # The port's owner task detaches and closes it; wait so that the next command sees it gone.
    with trio.move_on_after(5):
        while any(ep in ep.port.endpoints for ep in found):
            await trio.sleep(0.005)


def cmd_tap_print(ctx: CommandContext, args: str) -> list[str]:
    switch: Switch = ctx.switch
    wanted = args.strip()
    lines = []
    for ep in sorted(tap_endpoints(switch), key=lambda e: (e.port.number, e.id)):
        if wanted and ep.name != wanted:
            continue
        port = ep.port
        drops = port.drops
        lines.append(
            f"Port {port.number:04d} tap {ep.name} endpoint {ep.id:04d} "
            f"{'persistent' if ep.device.existed else 'created'} "
            f"in {port.in_frames} out {port.out_frames} "
            f"drops: full {drops.tx_full} link_down {ep.link_down_drops} "
            f"error {drops.tx_error - ep.link_down_drops} oversize {drops.oversize}")
    if wanted and not lines:
        raise MgmtError(errno.ENODEV, f"no tap {wanted} on this switch")
    return lines


def mgmt_commands() -> Iterable[MgmtCommand]:
    return [
        MgmtCommand(path="tap", help="TAP INTERFACES MENU"),
        MgmtCommand(path="tap/add", handler=cmd_tap_add, syntax="TAP [N]", output=True,
                    help="attach tap interface TAP (created if needed) to port N or a free port"),
        MgmtCommand(path="tap/del", handler=cmd_tap_del, syntax="TAP",
                    help="close tap interface TAP (a tap the switch created disappears)"),
        MgmtCommand(path="tap/print", handler=cmd_tap_print, syntax="[TAP]", output=True,
                    help="list the tap ports with their counters"),
    ]


__all__ = ["SETTINGS", "TapSettings", "add_options", "configure", "mgmt_commands",
           "open_startup_taps", "tap_endpoints", "tap_vnl", "unconfigure"]
