"""vdex: Virtual Distributed Ethernet on trio and pluggy.

A vde_switch compatible switch whose every feature is a plugin. This module is the public facade
for plugin authors; everything else is an implementation detail.
"""

from __future__ import annotations

__version__ = "0.1.0"

from ._core.port import DropCounters as DropCounters
from ._core.port import Port as Port
from .errors import ConfigError as ConfigError
from .errors import FrameError as FrameError
from .errors import MgmtError as MgmtError
from .errors import PluginError as PluginError
from .errors import PortError as PortError
from .errors import UsageError as UsageError
from .errors import VdexError as VdexError
from .hookspecs import hookimpl as hookimpl
from .hookspecs import hookspec as hookspec
from .records import DebugCategory as DebugCategory
from .records import FrameStage as FrameStage
from .records import MgmtCommand as MgmtCommand
from .records import PortType as PortType
from .records import Service as Service
from .records import Subcommand as Subcommand
from .records import Transport as Transport
from .runtime.endpoint import Endpoint as Endpoint
from .runtime.endpoint import FrameEndpoint as FrameEndpoint
from .runtime.endpoint import StreamEndpoint as StreamEndpoint
from .stash import Stash as Stash
from .stash import StashKey as StashKey

__all__ = [
    "ConfigError", "DebugCategory", "DropCounters", "Endpoint", "FrameEndpoint", "FrameError",
    "FrameStage", "MgmtCommand", "StreamEndpoint",
    "MgmtError", "PluginError", "Port", "PortError", "PortType", "Service", "Stash", "StashKey",
    "Subcommand", "Transport", "UsageError", "VdexError", "hookimpl", "hookspec", "__version__",
]
