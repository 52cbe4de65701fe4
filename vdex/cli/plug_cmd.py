"""``vdex plug``: join two endpoints, like vdeplug4's vde_plug.

    vdex plug [OPTIONS] [VNL]            the VNL <-> stdin/stdout (2-byte length framing)
    vdex plug [OPTIONS] VNL1 VNL2        the two VNLs, frame for frame
    vdex plug [OPTIONS] [VNL] = CMD ARGS  the VNL <-> CMD's stdin/stdout

It exits when stdin (or the command's stdout) reaches EOF, or when a switch closes its port.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager

import trio

from .._core.port import Port
from ..errors import PortError, UsageError
from ..plugins import VdexPluginManager, builtin_plugins, make_plugin_manager
from ..records import PortType, Transport
from ..runtime.dataplane import Dataplane
from ..runtime.endpoint import Endpoint
from ..vde.client import DEFAULT_DESCRIPTION
from ..vde.plugin import open_vde
from ..vnl import Vnl, parse_mode, parse_vnl
from ..vnl_default import host_lookups, resolve_vnl
from .common import Parser, daemonize, pidfile, run_trio, setup_logging, until_signal

log = logging.getLogger("vdex.plug")

Opener = Callable[[], AbstractAsyncContextManager[Endpoint]]


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="vdex plug", description=__doc__,
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    add = parser.add_argument
    add("-d", "--daemon", action="store_true", help="run in the background")
    add("-p", "--pidfile", metavar="FILE", help="write the process id to FILE")
    add("-D", "--descr", default=DEFAULT_DESCRIPTION.rstrip(":") + ":", metavar="TEXT",
        help="description the switch shows for the port (default 'vdex plug:')")
    add("-m", "--mod", "--mode", dest="mode", metavar="MODE",
        help="octal mode of the client socket (first VNL)")
    add("-M", "--mod2", dest="mode2", metavar="MODE", help="mode for the second VNL")
    add("-g", "--group", metavar="GROUP", help="group for the first VNL")
    add("-G", "--group2", metavar="GROUP", help="group for the second VNL")
    add("--port", type=int, metavar="N", help="port number on the first switch (obsolete: VNL[N])")
    add("--port2", type=int, metavar="N", help="port number on the second switch")
    add("-l", "--log", action="store_true", help="log start and stop to syslog")
    add("vnl", nargs="*", metavar="VNL",
        help="vde:///dir[port], tap://name, udp://..., or a switch directory")
    return parser


def split_command(argv: list[str]) -> tuple[list[str], list[str] | None]:
    if "=" in argv:
        i = argv.index("=")
        cmd = argv[i + 1:]
        if not cmd:
            raise UsageError("vdex plug: '=' must be followed by a command")
        return argv[:i], cmd
    return argv, None


def find_port_type(pm: VdexPluginManager, scheme: str) -> PortType:
    """The port type for ``scheme``: from loaded plugins, else any built-in that has it."""
    def search() -> PortType | None:
        for result in pm.hook.vdex_port_types(switch=None):
            for pt in result or ():
                if pt.scheme == scheme:
                    found_type: PortType = pt
                    return found_type
        return None

    found = search()
    if found is None:
        for name in builtin_plugins():
            if name not in pm.info:
                try:
                    pm.load(name)
                except Exception as exc:  # a broken built-in must not hide the others
                    log.debug("plugin %s not usable: %s", name, exc)
        found = search()
    if found is None:
        raise UsageError(f"no plugin provides {scheme}:// (try: vdex plug --help)")
    return found


def _with_overrides(vnl: Vnl, mode: str | None, group: str | None, port: int | None) -> Vnl:
    if vnl.scheme != "vde" or (mode is None and group is None and port is None):
        return vnl
    options = dict(vnl.options)
    if mode is not None:
        parse_mode(mode)
        options["mode"] = mode
    if group is not None:
        options["group"] = group
    if port is not None:
        options.pop("", None)
        options["port"] = str(port)
    return Vnl(scheme=vnl.scheme, target=vnl.target, options=options, text=vnl.text)


def vnl_opener(pm: VdexPluginManager, text: str, description: str, *, mode: str | None = None,
               group: str | None = None, port: int | None = None) -> Opener:
    vnl = _with_overrides(parse_vnl(resolve_vnl(text, host_lookups())), mode, group, port)
    if vnl.scheme == "vde":
        return lambda: open_vde(None, vnl, description=description)
    port_type = find_port_type(pm, vnl.scheme)
    return lambda: port_type.open(None, vnl)


def transport(name: str, pm: VdexPluginManager | None = None) -> Transport:
    """The cable framing ``name`` from the ``vdex_transports`` hook (``stream``, ``datagram``)."""
    manager = pm if pm is not None else make_plugin_manager(defaults=False, autoload=False)
    for result in manager.hook.vdex_transports():
        for candidate in result or ():
            if candidate.name == name:
                found: Transport = candidate
                return found
    raise UsageError(f"no plugin provides the {name!r} transport")


@asynccontextmanager
async def open_stdio(framing: Transport | None = None) -> AsyncIterator[Endpoint]:
    read_fd, write_fd = os.dup(0), os.dup(1)

    def close() -> None:
        os.close(read_fd)
        os.close(write_fd)

    stream = framing or transport("stream")
    yield stream.open(read_fd, write_fd, description="stdio", closer=close)


@asynccontextmanager
async def open_command(argv: list[str], framing: Transport | None = None
                       ) -> AsyncIterator[Endpoint]:
    """Run ``argv`` with pipes on its stdin/stdout and stream frames to it; stop it at the end."""
    to_child_r, to_child_w = os.pipe()
    from_child_r, from_child_w = os.pipe()
    try:
        process = await trio.lowlevel.open_process(argv, stdin=to_child_r, stdout=from_child_w)
    except OSError as exc:
        for fd in (to_child_r, to_child_w, from_child_r, from_child_w):
            os.close(fd)
        raise UsageError(f"cannot run {argv[0]}: {exc.strerror}") from None
    os.close(to_child_r)
    os.close(from_child_w)

    def close() -> None:
        os.close(from_child_r)
        os.close(to_child_w)

    stream = framing or transport("stream")
    endpoint = stream.open(from_child_r, to_child_w, description=" ".join(argv), closer=close)
    try:
        yield endpoint
    finally:
        endpoint.close()
        with trio.CancelScope(shield=True):
            with trio.move_on_after(2):
                await process.wait()
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
                with trio.move_on_after(2):
                    await process.wait()
            if process.returncode is None:
                process.kill()
                await process.wait()


def wire(a: Endpoint, b: Endpoint) -> None:
    """Frames read on ``a`` are sent on ``b`` and back; each side counts its own drops."""
    a.port = Port(number=0)
    a.port.receive = b.send
    b.port = Port(number=1)
    b.port.receive = a.send


async def run_plug(open_a: Opener, open_b: Opener, *, dataplane: Dataplane | None = None,
                   task_status: trio.TaskStatus[tuple[Endpoint, Endpoint]]
                   = trio.TASK_STATUS_IGNORED) -> None:
    """Join two endpoints until one of them hangs up.

    ``dataplane``: one driven by the host loop; None runs a dataplane task here.
    """
    async with trio.open_nursery() as nursery:
        if dataplane is None:
            dataplane = Dataplane()
            await nursery.start(dataplane.run)
        async with AsyncExitStack() as stack:
            a = await stack.enter_async_context(open_a())
            b = await stack.enter_async_context(open_b())
            done = trio.Event()

            def hung_up(endpoint: Endpoint, exc: BaseException | None) -> None:
                if exc is not None:
                    log.info("%s: %s", endpoint.description, exc)
                done.set()

            a.on_hangup = b.on_hangup = hung_up
            wire(a, b)
            dataplane.add(a)
            dataplane.add(b)
            task_status.started((a, b))
            try:
                await done.wait()
            finally:
                dataplane.remove(a)
                dataplane.remove(b)
        nursery.cancel_scope.cancel()


def main(argv: list[str]) -> int:
    head, command = split_command(argv)
    ns = build_parser().parse_args(head)
    setup_logging("vdex plug", syslog=ns.daemon)
    if len(ns.vnl) > 2 or (command is not None and len(ns.vnl) > 1):
        raise UsageError("vdex plug takes at most two VNLs, or one VNL and '= command'")
    pm = make_plugin_manager()
    stream = transport("stream", pm)
    texts = ns.vnl or [""]
    try:
        open_a = vnl_opener(pm, texts[0], ns.descr, mode=ns.mode, group=ns.group, port=ns.port)
        if command is not None:
            open_b: Opener = lambda: open_command(command, stream)  # noqa: E731
        elif len(texts) == 2:
            open_b = vnl_opener(pm, texts[1], ns.descr, mode=ns.mode2, group=ns.group2,
                                port=ns.port2)
        else:
            open_b = lambda: open_stdio(stream)  # noqa: E731
    except Exception as exc:
        if isinstance(exc, UsageError):
            raise
        raise UsageError(str(exc)) from None
    if ns.daemon:
        daemonize()
    with pidfile(ns.pidfile):
        if ns.log:
            log.info("START %s", " ".join(texts))
        dataplane = Dataplane()
        try:
            run_trio(lambda: until_signal(
                lambda: run_plug(open_a, open_b, dataplane=dataplane)), dataplane)
        except PortError as exc:
            log.error("%s", exc)
            return 1
        finally:
            if ns.log:
                log.info("STOP %s", " ".join(texts))
    return 0
