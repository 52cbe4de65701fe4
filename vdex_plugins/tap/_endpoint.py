"""The ``tap://`` port type: a tap interface as a switch port (or one end of ``vdex plug``).

One frame per ``read``/``write`` on the tap descriptor, exactly vde_switch's ``-t``: the
dataplane's :class:`FrameEndpoint` drains it until EAGAIN and writes without blocking, a full
queue drops the frame (``tx_full``). ``port/print`` shows module ``tuntap`` and the interface
name, as vde_switch does; the endpoint ID is the descriptor, and the user is NONE.

Opening (TUNSETIFF, the MTU check, netlink for ``[mtu=N/up]``) blocks for a few milliseconds and
runs in a worker thread, never on the data path.
"""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import TYPE_CHECKING

import attrs
import trio

from vdex._core.port import DropCounters
from vdex.errors import PortError
from vdex.runtime.endpoint import FrameEndpoint

from ._device import TapDevice, interface_mtu, open_tap
from ._target import TapTarget, mtu_problem, parse_tap_target

if TYPE_CHECKING:
    from vdex.runtime.switch import Switch
    from vdex.vnl import Vnl

log = logging.getLogger("vdex.tap")

MODULE = "tuntap"
"""What ``port/print`` calls a tap endpoint (vde_switch's name for its tap module)."""


@attrs.define(eq=False, kw_only=True)
class TapEndpoint(FrameEndpoint):
    """A tap descriptor. A write to a tap whose link is down fails with EIO: that is the normal
    state of an interface nobody has brought up yet, so it is counted (``tx_error``) and not
    logged; other write errors are logged, rate-limited."""

    device: TapDevice
    link_down_drops: int = 0
    """Frames not delivered because the interface was down (also counted in ``tx_error``)."""

    @property
    def name(self) -> str:
        return self.device.name

    def _count_send_error(self, drops: DropCounters, exc: OSError) -> None:
        if exc.errno == errno.EIO:
            drops.tx_error += 1
            self.link_down_drops += 1
            return
        super()._count_send_error(drops, exc)


def tap_endpoint(device: TapDevice) -> TapEndpoint:
    """Wrap an open tap; closing the endpoint closes the descriptor (and deletes a tap we made)."""
    fd = device.fd
    os.set_blocking(fd, False)
    return TapEndpoint(fd=fd, recv=partial(os.read, fd), write=partial(os.write, fd),
                       closer=device.close, device=device, id=fd, module=MODULE,
                       description=device.name, uid=None)


def prepare_tap(target: TapTarget) -> TapDevice:
    """Open (or create) the tap, apply ``[mtu=N/up]``, and refuse an MTU a switch cannot carry.

    Blocking: run it in a worker thread.
    :raises PortError: not permitted, no tun device, name in use, MTU too large.
    """
    device = open_tap(target.name)
    try:
        if target.configures_link:
            from ._link import configure_link

            configure_link(device.name, mtu=target.mtu, up=target.up)
        problem = mtu_problem(interface_mtu(device.name), device.name)
        if problem:
            raise PortError(problem, errno=errno.EMSGSIZE)
    except BaseException:
        device.close()
        raise
    return device


@asynccontextmanager
async def open_tap_port(switch: Switch | None, vnl: Vnl) -> AsyncIterator[TapEndpoint]:
    """``tap://NAME[mtu=N/up]``: the :class:`~vdex.records.PortType` opener."""
    target = parse_tap_target(vnl.args)
    device = await trio.to_thread.run_sync(prepare_tap, target)
    endpoint = tap_endpoint(device)
    log.info("tap %s open (descriptor %d%s)", device.name, device.fd,
             ", existing interface" if device.existed else "")
    try:
        yield endpoint
    finally:
        endpoint.close()


__all__ = ["MODULE", "TapEndpoint", "open_tap_port", "prepare_tap", "tap_endpoint"]
