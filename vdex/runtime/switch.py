"""A running switch: the trio task tree around the sans-I/O engine.

Task tree (docs/architecture.md)::

    Switch.serve
    ├── dataplane ........ one epoll set, drains every endpoint into the engine
    ├── clock ............ 1 Hz: uptime, MAC table ageing
    ├── signals .......... SIGTERM/SIGINT -> shutdown
    ├── plugins .......... one cancel scope per plugin: its services and the ports it opened
    ├── datasock ......... DIR/ctl: one task per connected VDE client
    └── console .......... -M socket sessions, the stdin console
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import random
import signal
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs
import trio

from .._core.engine import SwitchEngine
from .._core.frame import format_mac
from .._core.port import Port
from ..errors import ConfigError, PortError
from ..mgmt.console import Console
from ..mgmt.debug import DebugHub
from ..mgmt.protocol import SWITCH_BANNER, SWITCH_PROMPT
from ..mgmt.registry import CommandRegistry
from ..plugins import VdexPluginManager
from ..stash import Stash
from ..vde.perms import SocketModes, derive_modes, user_in_group
from ..vde.request import PortRequest
from ..vde.server import DataSocketServer
from .dataplane import Dataplane
from .endpoint import Endpoint
from .host import PluginHost

if TYPE_CHECKING:
    from ..vnl import Vnl

log = logging.getLogger("vdex.switch")


def release_startup_memory() -> None:
    """Give back the heap that imports and start-up left free (about 1 MB with glibc)."""
    gc.collect()
    try:
        import ctypes

        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass  # not glibc: nothing to trim


def default_socket_dir() -> str:
    return "/var/run/vde.ctl" if os.geteuid() == 0 else "/tmp/vde.ctl"


def random_switch_mac() -> bytes:
    """``00:ff:xx:xx:xx:xx`` like vde_switch's default."""
    return b"\x00\xff" + random.getrandbits(32).to_bytes(4, "big")


@attrs.define(kw_only=True)
class SwitchOptions:
    """Everything ``vdex switch`` was asked to do (the CLI builds it; tests too)."""

    sock: str = attrs.Factory(default_socket_dir)
    numports: int = 32
    hub: bool = False
    macaddr: bytes | None = None
    hash_size: int = 128
    mode: int | None = None
    dirmode: int | None = None
    gid: int | None = None
    mgmt: str | None = None
    mgmt_mode: int = 0o600
    mgmt_gid: int | None = None
    rcfile: str | None = None
    stdin_console: bool = False
    allow_plugin_modules: bool = False
    namespace: argparse.Namespace = attrs.Factory(argparse.Namespace)
    """The whole parsed command line, handed to plugins' ``vdex_configure``."""


class Switch:
    """One switch. Build it, then run :meth:`serve` in a nursery (or ``trio.run``)."""

    def __init__(self, options: SwitchOptions, pm: VdexPluginManager, *,
                 hosted: bool = False) -> None:
        """``hosted``: the dataplane is driven by :mod:`vdex.runtime.hostloop` (the CLI), not by a
        trio task of :meth:`serve` (tests and embedding)."""
        self.options = options
        self.hosted = hosted
        self.pm = pm
        self.mac = options.macaddr or random_switch_mac()
        self.pid = os.getpid()
        self.stash = Stash()
        self.debug = DebugHub()
        self.commands = CommandRegistry()
        self.engine = SwitchEngine(
            numports=options.numports,
            hash_size=options.hash_size,
            hub=options.hub,
            user_in_group=user_in_group,
            on_mac_event=self._mac_event,
            on_mac_move=self._mac_moved,
        )
        self.console = Console(owner=self, registry=self.commands, banner=SWITCH_BANNER,
                               prompt=SWITCH_PROMPT, debug=self.debug)
        self.dataplane = Dataplane()
        self.plugins = PluginHost(self, pm)
        self.modes = derive_modes(options.mode, options.dirmode, options.gid)
        self.datasock = DataSocketServer(
            options.sock, self.modes,
            attach=self._attach_client, detach=self.detach_endpoint,
            port0_modes=SocketModes(self.modes.dirmode, options.mgmt_mode,
                                    options.mgmt_gid if options.mgmt_gid is not None
                                    else self.modes.gid),
        )
        self._started_at: float | None = None
        self._shutdown = trio.Event()
        self.running = False

    # ------------------------------------------------------------------ state for commands

    @property
    def uptime(self) -> int:
        if self._started_at is None:
            return 0
        return int(trio.current_time() - self._started_at)

    def hook(self, name: str, **kwargs: Any) -> None:
        """Fire a lifecycle hook; a failing plugin is logged, never fatal."""
        try:
            getattr(self.pm.hook, name)(switch=self, **kwargs)
        except Exception:
            log.exception("hook %s failed", name)

    def recompile(self, port: Port | None = None) -> None:
        """Rebuild compiled per-frame chains after a plugin changed what its stages do."""
        self.engine.recompile(port)

    def shutdown(self) -> None:
        """Ask the switch to stop (``shutdown`` command, signal, stdin EOF)."""
        self._shutdown.set()

    # ------------------------------------------------------------------ MAC table events

    def _mac_event(self, kind: str, mac: bytes, vlan: int, port: Port) -> None:
        path = "hash/+" if kind == "+" else "hash/-"
        if self.debug.listening(path):
            self.debug.emit(path, f"{format_mac(mac)} VLAN {vlan >> 8:02x}:{vlan & 0xff:02x} "
                                  f"Port {port.number}")

    def _mac_moved(self, mac: bytes, old: Port, new: Port) -> None:
        log.info("MAC %s moved from port %d to port %d", format_mac(mac), old.number, new.number)

    # ------------------------------------------------------------------ ports and endpoints

    def _attach_client(self, endpoint: Endpoint, request: PortRequest) -> Port:
        return self.attach_endpoint(endpoint, request.port)

    def new_port(self, port: Port) -> None:
        """Register a slot the port table just created."""
        self.engine.add_port(port)
        self.hook("vdex_port_added", port=port)

    def attach_endpoint(self, endpoint: Endpoint, requested: int = 0) -> Port:
        """Give ``endpoint`` a port (0: any, N: port N, -1: port 0) and start its frames.

        :raises PortError: no port (ENOSPC), not allowed (EPERM/EADDRINUSE), out of range.
        """
        port, created = self.engine.ports.choose_for_client(endpoint.uid, requested)
        if created:
            self.new_port(port)
        endpoint.port = port
        activated = self.engine.attach(port, endpoint)
        self.dataplane.add(endpoint)
        debug = self.debug
        if activated and debug.listening("port/+"):
            debug.emit("port/+", f"{port.number:02d}")
        if debug.listening("port/ep/+"):
            debug.emit("port/ep/+", f"Port {port.number:02d} FD {endpoint.id:2d}")
        if debug.listening("port/descr"):
            debug.emit("port/descr",
                       f'Port {port.number:02d} FD {endpoint.id:2d} -> "{endpoint.description}"')
        self.hook("vdex_endpoint_added", port=port, endpoint=endpoint)
        if activated:
            self.hook("vdex_port_activated", port=port)
        return port

    def detach_endpoint(self, endpoint: Endpoint) -> None:
        """Take ``endpoint`` off its port (it stays open: its owner closes it)."""
        port = endpoint.port
        self.dataplane.remove(endpoint)
        if endpoint not in port.endpoints:
            return
        # Events in vde_switch's order: the endpoint, the port, then the purged addresses
        # (hash/-, emitted by engine.detach).
        last = port.endpoints == [endpoint]
        if self.debug.listening("port/ep/-"):
            self.debug.emit("port/ep/-", f"Port {port.number:02d} FD {endpoint.id:2d}")
        if last and self.debug.listening("port/-"):
            self.debug.emit("port/-", f"{port.number:02d}")
        deactivated = self.engine.detach(port, endpoint)
        self.hook("vdex_endpoint_removed", port=port, endpoint=endpoint)
        if deactivated:
            self.hook("vdex_port_deactivated", port=port)

    async def open_port(self, vnl: Vnl | str, *, port: int = 0) -> Endpoint:
        """Open an endpoint from a VNL with its plugin's port type and attach it.

        The endpoint lives in a task of the plugin that owns the scheme, so removing that plugin
        closes it. Returns once the endpoint is attached.
        """
        from ..vnl import parse_vnl

        parsed = parse_vnl(vnl) if isinstance(vnl, str) else vnl
        owner, port_type = self.plugins.port_type(parsed.scheme)
        if port_type.vnl_style is not None and parsed.style is not port_type.vnl_style:
            parsed = parsed.with_style(port_type.vnl_style)
        endpoint: Endpoint = await self.plugins.start_in(
            owner.name, self._run_port, port_type, parsed, port)
        return endpoint

    async def _run_port(self, port_type: Any, vnl: Vnl, requested: int, *,
                        task_status: trio.TaskStatus[Endpoint] = trio.TASK_STATUS_IGNORED) -> None:
        async with port_type.open(self, vnl) as endpoint:
            gone = trio.Event()
            endpoint.on_hangup = lambda _ep, _exc: gone.set()
            self.attach_endpoint(endpoint, requested)
            try:
                with trio.CancelScope() as scope:
                    endpoint.close_scope = scope
                    task_status.started(endpoint)
                    await gone.wait()
            finally:
                self.detach_endpoint(endpoint)

    def endpoints(self) -> list[Endpoint]:
        return [ep for port in self.engine.ports for ep in port.endpoints]  # type: ignore[misc]

    # ------------------------------------------------------------------ running

    async def activate_plugins(self, args: Mapping[str, Mapping[str, str]] | None = None) -> None:
        """Activate every plugin the manager has loaded, essential ones first."""
        for name in list(self.pm.info):
            await self.plugins.activate(name, (args or {}).get(name))

    async def _clock(self) -> None:
        assert self._started_at is not None
        tick = 0
        while True:
            tick += 1
            await trio.sleep_until(self._started_at + tick)
            self.engine.tick(tick)

    async def _signals(self) -> None:
        with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP) as signals:
            async for signum in signals:
                if signum == signal.SIGHUP:
                    log.info("SIGHUP ignored (vde_switch does not stop on it either)")
                    continue
                log.info("caught signal %d, cleaning up and exiting", signum)
                self.shutdown()

    async def _run_rcfile(self) -> None:
        path = self.options.rcfile
        if path is None:
            home = os.path.expanduser("~/.vde2/vde_switch.rc")
            for candidate in (home, "/etc/vde2/vde_switch.rc"):
                if os.access(candidate, os.R_OK):
                    path = candidate
                    break
        if path is None:
            return
        session = self.console.new_session(lambda _text: None, interactive=False)
        try:
            await self.console.run_script(session, path)
        finally:
            self.console.end_session(session)

    async def serve(self, *, handle_signals: bool = False,
                    task_status: trio.TaskStatus[Switch] = trio.TASK_STATUS_IGNORED) -> None:
        """Run until :meth:`shutdown`; on return every socket file and task is gone."""
        self._started_at = trio.current_time()
        try:
            async with trio.open_nursery() as nursery:
                if handle_signals:
                    nursery.start_soon(self._signals)
                if not self.hosted:
                    await nursery.start(self.dataplane.run)
                nursery.start_soon(self._clock)
                await nursery.start(self.plugins.run)
                await self.activate_plugins()
                await nursery.start(self.datasock.run)
                mgmt = self.options.mgmt
                if mgmt:
                    await nursery.start(lambda task_status: self.console.serve_unix(
                        mgmt, mode=self.options.mgmt_mode,
                        gid=self.options.mgmt_gid, on_shutdown=self.shutdown,
                        task_status=task_status))
                await self._run_rcfile()
                self.running = True
                self.hook("vdex_switch_started")
                if self.options.stdin_console:
                    await nursery.start(lambda task_status: self.console.serve_stdio(
                        on_eof=self._stdin_eof, on_shutdown=self.shutdown,
                        task_status=task_status))
                task_status.started(self)
                release_startup_memory()
                await self._shutdown.wait()
                self.hook("vdex_switch_stopping")
                for name in reversed(list(self.plugins.active)):
                    self.plugins.active[name].cancel_scope.cancel()
                nursery.cancel_scope.cancel()
        finally:
            self.running = False
            for name in reversed(list(self.plugins.active)):
                try:
                    self.pm.call_one(name, "vdex_unconfigure", switch=self)
                except Exception:
                    log.exception("plugin %s: vdex_unconfigure failed", name)

    def _stdin_eof(self) -> None:
        if not self._shutdown.is_set():
            log.info("EOF on stdin, cleaning up and exiting")
        self.shutdown()


__all__ = ["ConfigError", "PortError", "Switch", "SwitchOptions"]
