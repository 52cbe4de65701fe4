"""vdex's test kit, for vdex's own tests and for plugin authors.

* :func:`running_switch`: a real switch in the test's trio run, with its sockets in a temp dir.
* :class:`AsyncVdeClient`: a vde_switch data-socket client on trio sockets (frames in and out).
* :class:`AsyncMgmtClient`: a console client that returns a command's status and data lines.
* :mod:`vdex.testing.frames`: frame builders.
* :mod:`vdex.testing.processes`: real processes (vdex, vde_switch, dpipe) with guaranteed cleanup.
* :mod:`vdex.testing.blocking`: deadline-bound waits for tests that run without trio.
"""

from __future__ import annotations

from .clients import AsyncMgmtClient as AsyncMgmtClient
from .clients import AsyncVdeClient as AsyncVdeClient
from .clients import Reply as Reply
from .frames import eth_frame as eth_frame
from .frames import mac as mac
from .switch import running_switch as running_switch

__all__ = ["AsyncMgmtClient", "AsyncVdeClient", "Reply", "eth_frame", "mac", "running_switch"]
