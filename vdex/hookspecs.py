"""Every hook a vdex plugin can implement, in one place.

Hooks are the control plane. They run when something is loaded, configured, added or removed,
never per frame: what a plugin contributes to the data path (a frame stage) is collected through a
hook once and compiled into the forwarding pipeline by the switch.

All hooks are synchronous. Long-running or asynchronous work is contributed as a
:class:`~vdex.records.Service` and runs in the plugin's own cancel scope.

Each hook is documented in ``docs/hooks.md`` with its exact signature; a test keeps the two in step.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import argparse

    from ._core.port import Port
    from .records import (
        DebugCategory,
        FrameStage,
        MgmtCommand,
        PortType,
        Service,
        Subcommand,
        Transport,
    )
    from .runtime.endpoint import Endpoint
    from .runtime.switch import Switch

PROJECT = "vdex"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


class VdexSpecs:
    """The hook specifications. Every hook name starts with ``vdex_``."""

    # ------------------------------------------------------------------ command line

    @hookspec(historic=True)
    def vdex_addoption(self, parser: argparse.ArgumentParser) -> None:
        """Add options to ``vdex switch``.

        :param parser: the ``vdex switch`` argument parser. Add a group named after the plugin
            (``parser.add_argument_group("tap")``) and options that a vde_switch user would expect
            (``-t TAP``, ``-F``).

        Historic: a plugin loaded later still gets the call, so a runtime ``plugin/add`` sees the
        parser (the options then only provide defaults).
        """

    @hookspec
    def vdex_subcommands(self) -> Iterable[Subcommand]:
        """Contribute ``vdex NAME`` tools, such as ``vdex wirefilter`` or ``vdex plug2tap``.

        :return: :class:`~vdex.records.Subcommand` records.
        """
        raise NotImplementedError

    # ------------------------------------------------------------------ a switch takes the plugin

    @hookspec
    def vdex_configure(
        self, switch: Switch, options: argparse.Namespace, args: Mapping[str, str]
    ) -> None:
        """Set up this plugin's state on ``switch``, before anything else is collected from it.

        :param switch: the switch; keep state in ``switch.stash[KEY]``, never in module globals.
        :param options: the parsed ``vdex switch`` command line (what :func:`vdex_addoption`
            declared; defaults when the plugin is added at runtime).
        :param args: ``key=value`` arguments of ``plugin/add NAME key=value ...`` (empty otherwise).

        Raise :class:`~vdex.ConfigError` to refuse the plugin with a message for the user.
        """

    @hookspec
    def vdex_unconfigure(self, switch: Switch) -> None:
        """Undo :func:`vdex_configure`: the plugin is being removed (``plugin/del``) or the switch
        stops. Its services are already cancelled and its ports closed when this runs.
        """

    # ------------------------------------------------------------------ contributions

    @hookspec
    def vdex_mgmt_commands(self, switch: Switch) -> Iterable[MgmtCommand]:
        """Contribute management console commands (and their menu headers, first).

        :return: :class:`~vdex.records.MgmtCommand` records; a path already owned by another plugin
            is refused, naming both plugins.
        """
        raise NotImplementedError

    @hookspec
    def vdex_debug_categories(self, switch: Switch) -> Iterable[DebugCategory]:
        """Contribute debug event categories for ``debug/list|add|del``.

        Emit events with ``switch.debug.emit(path, message)``; that call is cheap when nobody is
        subscribed.
        """
        raise NotImplementedError

    @hookspec
    def vdex_port_types(self, switch: Switch | None) -> Iterable[PortType]:
        """Contribute kinds of endpoint, each opened from a VNL with its scheme (``tap://``).

        :param switch: the switch the endpoints will join, or None for a stand-alone user such as
            ``vdex plug``.
        """
        raise NotImplementedError

    @hookspec
    def vdex_transports(self) -> Iterable[Transport]:
        """Contribute cable framings that wrap already-open descriptors (``stream``, ``datagram``)."""
        raise NotImplementedError

    @hookspec
    def vdex_frame_stages(self, switch: Switch) -> Iterable[FrameStage]:
        """Contribute per-port frame processing, compiled into the forwarding pipeline.

        Called when the plugin is activated. The stage factories are called again whenever the
        switch recompiles a port (ports added, stages added or removed, or the plugin asks with
        ``switch.recompile()``), never per frame.
        """
        raise NotImplementedError

    @hookspec
    def vdex_services(self, switch: Switch) -> Iterable[Service]:
        """Contribute long-running tasks (timers, listeners), run in the plugin's cancel scope."""
        raise NotImplementedError

    # ------------------------------------------------------------------ lifecycle events

    @hookspec
    def vdex_switch_started(self, switch: Switch) -> None:
        """The switch accepts clients: its sockets exist and the rc file has run."""

    @hookspec
    def vdex_switch_stopping(self, switch: Switch) -> None:
        """The switch is shutting down; ports are still attached."""

    @hookspec
    def vdex_port_added(self, switch: Switch, port: Port) -> None:
        """A port slot was created (by a client, ``port/create`` or a port type)."""

    @hookspec
    def vdex_port_removed(self, switch: Switch, port: Port) -> None:
        """A port slot was removed (``port/remove``, or a shrinking ``port/setnumports``)."""

    @hookspec
    def vdex_port_activated(self, switch: Switch, port: Port) -> None:
        """A port got its first endpoint: it now sends and receives."""

    @hookspec
    def vdex_port_deactivated(self, switch: Switch, port: Port) -> None:
        """A port lost its last endpoint; its MAC table entries are already gone."""

    @hookspec
    def vdex_endpoint_added(self, switch: Switch, port: Port, endpoint: Endpoint) -> None:
        """An endpoint (a client connection, a tap) joined ``port``."""

    @hookspec
    def vdex_endpoint_removed(self, switch: Switch, port: Port, endpoint: Endpoint) -> None:
        """An endpoint left ``port``."""
