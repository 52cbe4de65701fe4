"""A real switch inside the test's own trio run."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

import trio

from ..plugins import make_plugin_manager
from ..runtime.switch import Switch, SwitchOptions


@asynccontextmanager
async def running_switch(
    directory: str | os.PathLike[str],
    *,
    plugins: Iterable[str] = (),
    defaults: bool = True,
    mgmt: bool = True,
    rcfile: str | None = os.devnull,
    **options: Any,
) -> AsyncIterator[Switch]:
    """Run a switch with its data socket in ``directory/sw`` and console at ``directory/mgmt``.

    :param plugins: ``-p`` values (``NAME``, ``no:NAME``) on top of the default plugins.
    :param rcfile: defaults to an empty rc file so a developer's ~/.vde2/vde_switch.rc never
        leaks into a test.
    :param options: any :class:`SwitchOptions` field (``numports=4``, ``hub=True``, ...).

    On exit the switch is shut down and waited for: its sockets and directory are gone.
    """
    base = os.fspath(directory)
    opts = SwitchOptions(sock=os.path.join(base, "sw"),
                         mgmt=os.path.join(base, "mgmt") if mgmt else None,
                         rcfile=rcfile, **options)
    pm = make_plugin_manager(list(plugins), defaults=defaults,
                             allow_modules=opts.allow_plugin_modules, autoload=False)
    switch = Switch(opts, pm)
    async with trio.open_nursery() as nursery:
        await nursery.start(lambda task_status: switch.serve(task_status=task_status))
        try:
            yield switch
        finally:
            switch.shutdown()
