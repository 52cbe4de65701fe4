"""Plugins active on one switch: what each contributed, and the cancel scope its tasks live in.

Activating a plugin calls its ``vdex_configure``, collects its commands, debug categories, port
types, frame stages and services, recompiles the pipeline, and starts its services in a nursery of
its own. ``plugin/del`` undoes exactly that: it cancels the plugin's nursery (which closes the
ports its port types opened), withdraws its records, recompiles, and unregisters it. Anything
already connected through other plugins keeps running.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import attrs
import trio

from ..errors import ConfigError, PluginError, PortError
from ..plugins import ESSENTIAL_PLUGINS, PluginInfo, VdexPluginManager
from ..records import DebugCategory, FrameStage, MgmtCommand, PortType, Service

if TYPE_CHECKING:
    from .switch import Switch

log = logging.getLogger("vdex.plugins")
T = TypeVar("T")


@attrs.define(eq=False, kw_only=True)
class ActivePlugin:
    name: str
    info: PluginInfo
    port_types: dict[str, PortType] = attrs.Factory(dict)
    stages: list[FrameStage] = attrs.Factory(list)
    cancel_scope: trio.CancelScope = attrs.Factory(trio.CancelScope)
    nursery: trio.Nursery | None = None
    done: trio.Event = attrs.Factory(trio.Event)
    failed: BaseException | None = None


def _collect(results: Iterable[Any], kind: type[T], name: str, hook: str) -> list[T]:
    items: list[T] = []
    for result in results:
        if result is None:
            continue
        for item in result:
            if not isinstance(item, kind):
                raise PluginError(f"{hook} yielded {item!r}, not a {kind.__name__}", plugin=name)
            items.append(item)
    return items


class PluginHost:
    """Activates and deactivates plugins on a running switch."""

    def __init__(self, switch: Switch, pm: VdexPluginManager) -> None:
        self.switch = switch
        self.pm = pm
        self.active: dict[str, ActivePlugin] = {}
        self._nursery: trio.Nursery | None = None

    # ------------------------------------------------------------------ queries

    def port_type(self, scheme: str) -> tuple[ActivePlugin, PortType]:
        for plugin in self.active.values():
            if scheme in plugin.port_types:
                return plugin, plugin.port_types[scheme]
        schemes = sorted(s for p in self.active.values() for s in p.port_types)
        from ..plugins import builtin_plugins

        hint = (f"plugin/add {scheme} first (or start the switch without -p no:{scheme})"
                if scheme in builtin_plugins() else "is the plugin that provides it loaded?")
        raise PortError(f"no port type {scheme!r} here (available: "
                        f"{', '.join(schemes) or 'none'}): {hint}")

    def all_stages(self) -> list[tuple[str, FrameStage]]:
        return [(p.name, s) for p in self.active.values() for s in p.stages]

    # ------------------------------------------------------------------ activation

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Own the nursery every plugin's tasks live in, until cancelled."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            task_status.started()
            await trio.sleep_forever()

    async def activate(self, name: str, args: Mapping[str, str] | None = None,
                       options: argparse.Namespace | None = None) -> ActivePlugin:
        """Load (if needed) and activate plugin ``name`` on the switch.

        :raises PluginError: unknown, invalid, already active, or refused by its configure hook.
        """
        if name in self.active:
            raise PluginError("is already active", plugin=name)
        loaded_here = name not in self.pm.info
        info = self.pm.load(name, allow_modules=self.switch.options.allow_plugin_modules)
        plugin = ActivePlugin(name=name, info=info)
        sw = self.switch
        try:
            self.pm.call_one(name, "vdex_configure", switch=sw,
                             options=options or sw.options.namespace, args=dict(args or {}))
            commands = _collect(self.pm.call_one(name, "vdex_mgmt_commands", switch=sw),
                                MgmtCommand, name, "vdex_mgmt_commands")
            categories = _collect(self.pm.call_one(name, "vdex_debug_categories", switch=sw),
                                  DebugCategory, name, "vdex_debug_categories")
            port_types = _collect(self.pm.call_one(name, "vdex_port_types", switch=sw),
                                  PortType, name, "vdex_port_types")
            plugin.stages = _collect(self.pm.call_one(name, "vdex_frame_stages", switch=sw),
                                     FrameStage, name, "vdex_frame_stages")
            services = _collect(self.pm.call_one(name, "vdex_services", switch=sw),
                                Service, name, "vdex_services")
            for pt in port_types:
                for other in self.active.values():
                    if pt.scheme in other.port_types:
                        raise PluginError(f"port type {pt.scheme!r} is already provided by "
                                          f"plugin {other.name!r}", plugin=name)
                plugin.port_types[pt.scheme] = pt
            sw.commands.add(name, commands)
            sw.debug.add(name, categories)
            self.active[name] = plugin
            sw.engine.set_stages(self.all_stages())
            assert self._nursery is not None, "PluginHost.run must be running"
            await self._nursery.start(self._plugin_task, plugin, services)
        except BaseException as exc:
            self._withdraw(plugin)
            if loaded_here and name not in ESSENTIAL_PLUGINS:
                self.pm.unload(name)
            if isinstance(exc, PluginError):
                raise
            if isinstance(exc, (ConfigError, PortError, ValueError)):
                raise PluginError(str(exc), plugin=name) from None
            if isinstance(exc, Exception):
                raise PluginError(f"failed to start: {exc!r}", plugin=name) from exc
            raise
        log.debug("plugin %s active", name)
        return plugin

    async def _plugin_task(self, plugin: ActivePlugin, services: list[Service],
                           task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        started = False
        try:
            with plugin.cancel_scope:
                async with trio.open_nursery() as nursery:
                    plugin.nursery = nursery
                    for service in services:
                        await nursery.start(service.run, self.switch)
                    started = True
                    task_status.started()
                    await trio.sleep_forever()
        except Exception as exc:
            # A failing plugin stops its own tasks; the switch and other plugins keep running.
            plugin.failed = exc
            if not started:
                raise
            log.error("plugin %s failed and stopped its tasks: %r", plugin.name, exc)
        finally:
            plugin.nursery = None
            plugin.done.set()

    def _withdraw(self, plugin: ActivePlugin) -> None:
        sw = self.switch
        sw.commands.remove_owner(plugin.name)
        sw.debug.remove_owner(plugin.name)
        if self.active.get(plugin.name) is plugin:
            del self.active[plugin.name]
        sw.engine.set_stages(self.all_stages())

    async def deactivate(self, name: str) -> None:
        """``plugin/del``: cancel the plugin's tasks and ports, withdraw its records, unload it."""
        if name in ESSENTIAL_PLUGINS:
            raise PluginError("is essential to the switch and cannot be removed", plugin=name)
        plugin = self.active.get(name)
        if plugin is None:
            raise PluginError("is not active", plugin=name)
        plugin.cancel_scope.cancel()
        await plugin.done.wait()
        self._withdraw(plugin)
        try:
            self.pm.call_one(name, "vdex_unconfigure", switch=self.switch)
        except Exception:
            log.exception("plugin %s: vdex_unconfigure failed", name)
        self.pm.unload(name)
        log.info("plugin %s removed", name)

    async def start_in(self, name: str, fn: Any, *args: Any) -> Any:
        """Start ``fn(*args, task_status=...)`` in plugin ``name``'s nursery; return its start value."""
        plugin = self.active.get(name)
        if plugin is None or plugin.nursery is None:
            raise PluginError("is not active", plugin=name)
        return await plugin.nursery.start(fn, *args)
