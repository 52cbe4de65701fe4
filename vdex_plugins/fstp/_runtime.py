"""FSTP on a running switch: the controller in the switch's stash, its timer, debug events, commands.

Everything the hooks in ``__init__`` hand to the switch is built here:

* :class:`FstpRuntime` (``switch.stash[FSTP]``) owns the :class:`FstpController`. Its clock is
  trio's, in seconds since the plugin was configured, so the 12 s root timeout is not rounded to
  the switch's 1 Hz tick.
* It follows the topology through ``engine.membership_listeners`` (ports up and down, VLANs,
  memberships, hub mode), whoever changed it: nothing polls. Hub mode shuts FSTP down, as
  ``port/sethub 1`` does in vde_switch; turning the hub off again leaves it off.
* :func:`run_timer` (the plugin's service) sleeps until the controller's next deadline and is
  woken early when a change brings an earlier one (only ``fstp/setfstp 1`` does: while FSTP
  runs the next hello is never more than 4 s away).
* Actions become ``fstp/status``, ``fstp/root``, ``fstp/+`` and ``fstp/-`` debug events in
  vde_switch's format (``Port 0002 VLAN 00:00 discarding``), built only when someone listens.
"""

from __future__ import annotations

import argparse
import logging
import math
from typing import TYPE_CHECKING, Any

import attrs
import trio

from vdex.errors import ConfigError, FrameError
from vdex.records import DebugCategory
from vdex.stash import StashKey

from ._actions import Action, PeerChanged, RootChanged, SetDiscarding
from ._controller import FstpController

if TYPE_CHECKING:
    from vdex._core.port import Port
    from vdex.runtime.switch import Switch

log = logging.getLogger("vdex.fstp")

DEFAULT_PRIORITY = 0x8000
HUB_REFUSAL = "Can't use fstp in hub mode"

DEBUG_CATEGORIES = [
    DebugCategory(path="fstp/status", tag=0o44, help="fstp: status change"),
    DebugCategory(path="fstp/root", tag=0o45, help="fstp: rootswitch/port change"),
    DebugCategory(path="fstp/+", tag=0o41, help="fstp: port becomes active"),
    DebugCategory(path="fstp/-", tag=0o42, help="fstp: port becomes inactive"),
]


@attrs.define(eq=False, kw_only=True)
class Wakeup:
    """Sleep until a deadline (trio time) or until told that an earlier one exists."""

    armed: float = -math.inf
    """The deadline being slept until (+inf: none; -inf: not sleeping)."""
    _scope: trio.CancelScope | None = None

    async def sleep_until(self, deadline: float | None) -> None:
        self.armed = math.inf if deadline is None else deadline
        try:
            with trio.CancelScope() as scope:
                self._scope = scope
                if deadline is None:
                    await trio.sleep_forever()
                else:
                    await trio.sleep_until(deadline)
        finally:
            self._scope = None
            self.armed = -math.inf

    def wake_if_earlier(self, deadline: float | None) -> None:
        if deadline is not None and deadline < self.armed and self._scope is not None:
            self._scope.cancel()


def _vlan(vid: int) -> str:
    return f"VLAN {vid >> 8:02x}:{vid & 0xff:02x}"


def check_priority(value: int) -> int:
    if not 0 <= value <= 0xFFFF:
        raise ConfigError(f"FSTP priority {value} is out of range 0..65535 (default 32768)")
    return value


@attrs.define(eq=False, kw_only=True)
class FstpRuntime:
    """One switch's FSTP plugin state."""

    switch: Any
    controller: FstpController = attrs.field(init=False)
    origin: float = attrs.field(init=False)
    wakeup: Wakeup = attrs.Factory(Wakeup)

    def __attrs_post_init__(self) -> None:
        self.origin = trio.current_time()

    def clock(self) -> float:
        return trio.current_time() - self.origin

    # ------------------------------------------------------------------ life cycle

    def start(self, options: argparse.Namespace) -> None:
        switch = self.switch
        priority = check_priority(getattr(options, "priority", None) or DEFAULT_PRIORITY)
        self.controller = FstpController(
            switch.engine, mac=switch.mac, priority=priority, on_action=self._on_action,
            on_bad_bpdu=self._on_bad_bpdu, clock=self.clock, on_deadline=self._on_deadline)
        switch.engine.membership_listeners.append(self.topology_changed)
        self.controller.sync()
        if getattr(options, "fstp", False):
            if switch.engine.hub:
                log.warning("%s: -F ignored", HUB_REFUSAL)
            else:
                self.controller.set_enabled(True)

    def stop(self) -> None:
        """Unblock every port and stop listening: the switch forwards as without FSTP."""
        engine = self.switch.engine
        if self.topology_changed in engine.membership_listeners:
            engine.membership_listeners.remove(self.topology_changed)
        self.controller.on_deadline = None
        self.controller.set_enabled(False)

    def topology_changed(self) -> None:
        """A membership listener: follow the engine, and stop in hub mode."""
        controller = self.controller
        if self.switch.engine.hub and controller.enabled:
            log.info("hub mode: fast spanning tree switched off")
            controller.set_enabled(False)
        controller.sync()

    # ------------------------------------------------------------------ time

    def _on_deadline(self, deadline: float | None) -> None:
        if deadline is not None:
            self.wakeup.wake_if_earlier(self.origin + deadline)

    async def run_timer(self, *, task_status: trio.TaskStatus[None]) -> None:
        task_status.started()
        controller = self.controller
        while True:
            deadline = controller.next_deadline()
            await self.wakeup.sleep_until(None if deadline is None else self.origin + deadline)
            controller.tick()

    # ------------------------------------------------------------------ events

    def _on_action(self, action: Action) -> None:
        debug = self.switch.debug
        if isinstance(action, SetDiscarding):
            if debug.listening("fstp/status"):
                state = "discarding" if action.discarding else "learning+forwarding"
                debug.emit("fstp/status", f"Port {action.port:04d} {_vlan(action.vlan)} {state}")
        elif isinstance(action, RootChanged):
            if debug.listening("fstp/root"):
                root = ":".join(f"{b:02x}" for b in action.root)
                debug.emit("fstp/root",
                           f"Port {action.port or 0:04d} {_vlan(action.vlan)} -> {root}")
        elif isinstance(action, PeerChanged):
            path = "fstp/+" if action.present else "fstp/-"
            if debug.listening(path):
                debug.emit(path, f"Port {action.port:04d} {_vlan(action.vlan)}")

    def _on_bad_bpdu(self, port: Port, error: FrameError) -> None:
        if self.controller.bad_bpdus <= 10 or self.controller.bad_bpdus % 1000 == 0:
            log.info("port %d: frame to the spanning tree address dropped (%d so far): %s",
                     port.number, self.controller.bad_bpdus, error)


FSTP: StashKey[FstpRuntime] = StashKey("fstp")


def runtime(switch: Switch) -> FstpRuntime:
    return switch.stash[FSTP]
