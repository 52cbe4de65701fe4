"""Finding and loading plugins: built-in, installed (entry points), or by module path on request.

Three tiers, as in pytest:

* **essential** plugins (the core commands) are always loaded and cannot be blocked;
* **default** plugins (``vlan``, ``fstp``, ``tap`` and the URL schemes ``udp``, ``vxlan``,
  ``ptp``, ``cmd``, ``null``) are loaded unless ``-p no:NAME``;
* every other built-in (a sub-package of :mod:`vdex_plugins`) and every installed plugin (entry
  point group ``vdex``) loads by name: ``-p NAME`` or ``plugin/add NAME``.

Installed third-party plugins load at start-up unless blocked or ``VDEX_DISABLE_PLUGIN_AUTOLOAD``
is set; a broken one is logged and skipped, an explicitly requested one fails loudly. Arbitrary
module paths (``plugin/add mypkg.mod``) load only when the switch was started with
``--allow-plugin-modules``: ``plugin/add`` otherwise loads only what is installed.

The manager is built by :func:`make_plugin_manager`, never at import time.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
import os
import pkgutil
import types
from collections.abc import Iterable

import attrs
import pluggy

from . import hookspecs
from .errors import PluginError

log = logging.getLogger("vdex.plugins")

ENTRY_POINT_GROUP = "vdex"
ESSENTIAL_PLUGINS: dict[str, str] = {"core": "vdex.mgmt.core_commands", "vde": "vdex.vde.plugin"}
DEFAULT_PLUGINS: tuple[str, ...] = ("vlan", "fstp", "tap", "udp", "vxlan", "ptp", "cmd", "null")
"""VDE's switch features and vdeplug4's URL schemes: a user of either expects them to be there.
Each costs nothing per frame until used (about 0.5 MB of memory for the five URL schemes)."""
BUILTIN_PACKAGE = "vdex_plugins"


def builtin_plugins() -> dict[str, str]:
    """Short name -> module of every plugin shipped in :mod:`vdex_plugins`."""
    import vdex_plugins

    found = {
        info.name: f"{BUILTIN_PACKAGE}.{info.name}"
        for info in pkgutil.iter_modules(vdex_plugins.__path__)
        if info.ispkg and not info.name.startswith("_")
    }
    return dict(sorted(found.items()))


def installed_plugins() -> dict[str, importlib.metadata.EntryPoint]:
    """Name -> entry point of every third-party plugin installed in the ``vdex`` group."""
    return {ep.name: ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}


@attrs.frozen
class PluginInfo:
    name: str
    source: str
    """``essential``, ``builtin``, ``entrypoint`` or ``module``."""
    module: types.ModuleType
    help: str


def _help_of(module: types.ModuleType) -> str:
    doc = (module.__doc__ or "").strip().splitlines()
    return doc[0].rstrip(".") if doc else ""


class VdexPluginManager(pluggy.PluginManager):
    """pluggy's manager with vdex's naming rule and loading tiers."""

    def __init__(self) -> None:
        super().__init__(hookspecs.PROJECT)
        self.add_hookspecs(hookspecs.VdexSpecs)
        self.info: dict[str, PluginInfo] = {}

    def parse_hookimpl_opts(self, plugin: object, name: str) -> pluggy.HookimplOpts | None:
        # Only ``vdex_*`` attributes can be hooks: a plugin's helpers never collide with pluggy.
        if not name.startswith("vdex_"):
            return None
        return super().parse_hookimpl_opts(plugin, name)

    # ------------------------------------------------------------------ resolving names

    def resolve(self, name: str, *, allow_modules: bool = False) -> tuple[str, str]:
        """Map a requested plugin name to (source, target) without importing anything.

        :raises PluginError: unknown name, or a module path while module paths are not allowed.
        """
        if name in ESSENTIAL_PLUGINS:
            return "essential", ESSENTIAL_PLUGINS[name]
        builtins = builtin_plugins()
        if name in builtins:
            return "builtin", builtins[name]
        if name in installed_plugins():
            return "entrypoint", name
        if allow_modules and all(part.isidentifier() for part in name.split(".")):
            return "module", name
        known = ", ".join(sorted({*builtins, *installed_plugins()}))
        hint = "" if allow_modules else (
            "; module paths load only with --allow-plugin-modules"
        )
        raise PluginError(f"no such plugin (installed: {known}){hint}", plugin=name)

    def load(self, name: str, *, allow_modules: bool = False) -> PluginInfo:
        """Import and register plugin ``name``; return its info (already loaded: the same info)."""
        if name in self.info:
            return self.info[name]
        source, target = self.resolve(name, allow_modules=allow_modules)
        try:
            if source == "entrypoint":
                obj = installed_plugins()[target].load()
                module = obj if isinstance(obj, types.ModuleType) else types.ModuleType(name)
                plugin: object = obj
            else:
                module = importlib.import_module(target)
                plugin = module
        except Exception as exc:
            raise PluginError(f"cannot be imported: {exc!r}", plugin=name) from exc
        try:
            self.register(plugin, name=name)
            self.check_pending()
        except pluggy.PluginValidationError as exc:
            if self.is_registered(plugin):
                self.unregister(plugin)
            raise PluginError(f"is not a valid vdex plugin: {exc}", plugin=name) from None
        except ValueError as exc:
            raise PluginError(str(exc), plugin=name) from None
        info = PluginInfo(name, source, module, _help_of(module))
        self.info[name] = info
        return info

    def unload(self, name: str) -> None:
        if name in ESSENTIAL_PLUGINS:
            raise PluginError("is essential to the switch and cannot be removed", plugin=name)
        if name not in self.info:
            raise PluginError("is not loaded", plugin=name)
        self.unregister(name=name)
        del self.info[name]

    def plugin_object(self, name: str) -> object:
        plugin = self.get_plugin(name)
        if plugin is None:
            raise PluginError("is not loaded", plugin=name)
        return plugin

    def call_one(self, name: str, hook: str, **kwargs: object) -> list[object]:
        """Call ``hook`` on plugin ``name`` alone (activation of a single plugin)."""
        plugin = self.plugin_object(name)
        others = [p for p in self.get_plugins() if p is not plugin]
        caller = self.subset_hook_caller(hook, remove_plugins=others)
        return list(caller(**kwargs))


def parse_plugin_requests(values: Iterable[str]) -> tuple[list[str], set[str]]:
    """Split ``-p`` values into plugins to load and plugins blocked with ``no:NAME``."""
    wanted: list[str] = []
    blocked: set[str] = set()
    for value in values:
        if value.startswith("no:"):
            blocked.add(value[3:])
        elif value not in wanted:
            wanted.append(value)
    return wanted, blocked


def make_plugin_manager(
    requested: Iterable[str] = (),
    *,
    defaults: bool = True,
    allow_modules: bool = False,
    autoload: bool | None = None,
) -> VdexPluginManager:
    """Build a manager with the essential, default, requested and installed plugins loaded.

    :param requested: ``-p`` values (``NAME`` or ``no:NAME``).
    :param defaults: load :data:`DEFAULT_PLUGINS` (unless blocked).
    :param autoload: load installed third-party plugins; default: unless
        ``VDEX_DISABLE_PLUGIN_AUTOLOAD`` is set.
    :raises PluginError: an essential plugin was blocked, or a requested plugin failed.
    """
    wanted, blocked = parse_plugin_requests(requested)
    for name in blocked & set(ESSENTIAL_PLUGINS):
        raise PluginError("is essential and cannot be blocked with no:", plugin=name)
    pm = VdexPluginManager()
    for name in ESSENTIAL_PLUGINS:
        pm.load(name)
    if defaults:
        for name in DEFAULT_PLUGINS:
            if name not in blocked and name in builtin_plugins():
                pm.load(name)
    if autoload is None:
        autoload = not os.environ.get("VDEX_DISABLE_PLUGIN_AUTOLOAD")
    if autoload:
        for name in installed_plugins():
            if name in blocked or name in wanted:
                continue
            try:
                pm.load(name)
            except PluginError as exc:
                log.warning("skipping installed plugin: %s", exc)
    for name in wanted:
        if name not in blocked:
            pm.load(name, allow_modules=allow_modules)
    return pm
