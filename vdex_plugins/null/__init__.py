"""null plugin: ``null://``, an endpoint that never receives and discards what it is sent.

As vdeplug4's null module: ``vdex plug null:// /tmp/sw`` holds a port open, a switch port on
``null://`` counts frames out and sends them nowhere. The descriptor the dataplane watches is an
eventfd nobody ever writes.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from functools import partial
from typing import TYPE_CHECKING

from vdex.errors import ConfigError
from vdex.hookspecs import hookimpl
from vdex.records import PortType
from vdex.runtime.endpoint import FrameEndpoint

if TYPE_CHECKING:
    from vdex.runtime.switch import Switch
    from vdex.vnl import Vnl

MODULE = "null"


def _nothing(_size: int) -> bytes:
    raise BlockingIOError


@asynccontextmanager
async def open_null(switch: Switch | None, vnl: Vnl) -> AsyncIterator[FrameEndpoint]:
    if vnl.args:
        raise ConfigError(f"null:// takes no arguments (got {vnl.args!r})")
    fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
    # ``len`` as the write: it "sends" every frame by returning its length, with no Python frame
    endpoint = FrameEndpoint(fd=fd, recv=_nothing, write=len, closer=partial(os.close, fd),
                             id=fd, module=MODULE, description=vnl.text, uid=os.geteuid())
    try:
        yield endpoint
    finally:
        endpoint.close()


@hookimpl
def vdex_port_types(switch: Switch | None) -> Iterable[PortType]:
    yield PortType(scheme="null", open=open_null, help="discard every frame, receive none: null://")
