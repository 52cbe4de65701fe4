"""``vdex wirefilter``: the command line of the stand-alone cable filter.

Options are wirefilter's (long options also work with one dash, as in vde-2), plus ``--seed``.
The topology is chosen as wirefilter chooses it: with ``ALTERNATE_STDIN``/``ALTERNATE_STDOUT``
(the middle of a dpipe chain) the filter is bidirectional, stdin -> alternate stdout (LR) and
alternate stdin -> stdout (RL); with only stdin and stdout pipes it is monodirectional.
"""

from __future__ import annotations

import argparse
import fcntl
import logging
import os
import random
import signal
import stat
import sys
from collections.abc import Sequence

import attrs
import trio

from vdex.cli.common import run_trio
from vdex.errors import ConfigError, UsageError
from vdex.runtime.dataplane import Dataplane

from ._cable import Blink, StreamCable, StreamOutput
from ._console import make_console, post_markov_change
from ._model import WireFilterModel
from ._values import Param, ValueSyntaxError, parse_value

log = logging.getLogger("vdex.wirefilter")
F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)

VALUE_OPTIONS: tuple[tuple[Param, tuple[str, ...], str], ...] = (
    (Param.LOSS, ("-l", "-loss", "--loss"), "loss percentage"),
    (Param.LOSTBURST, ("-L", "-lostburst", "--lostburst"),
     "mean length of loss bursts (Gilbert model)"),
    (Param.DELAY, ("-d", "-delay", "--delay"), "delay in milliseconds"),
    (Param.DUP, ("-D", "-dup", "--dup"), "duplication percentage"),
    (Param.BAND, ("-b", "-band", "--band", "--bandwidth"), "channel bandwidth in bytes/s"),
    (Param.SPEED, ("-s", "-speed", "--speed"), "interface speed in bytes/s"),
    (Param.CAPACITY, ("-c", "-chanbufsize", "--chanbufsize", "--capacity"),
     "channel buffer size in bytes"),
    (Param.NOISE, ("-n", "-noise", "--noise"), "damaged bits per MiB"),
    (Param.MTU, ("-m", "-mtu", "--mtu"), "largest frame in bytes"),
)

EPILOG = """\
VALUE is [LR|RL]value[+jitter][K|M|G][U|N]: LR or RL sets one direction (default both),
+jitter gives a uniform (U) or normal (N, sigma = jitter/3) spread, K/M/G multiply by
2^10/2^20/2^30. Every value option may be repeated (-d LR100 -d RL10).
Example: dpipe vde_plug /tmp/sw1 = vdex wirefilter -d 50 -l 1 = vde_plug /tmp/sw2
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``vdex wirefilter`` (wirefilter's, with one-dash long forms)."""
    parser.description = "Emulate a bad link in a VDE cable: loss, delay, bandwidth, noise, ..."
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    for param, flags, text in VALUE_OPTIONS:
        parser.add_argument(*flags, dest=f"wf_{param.name.lower()}", action="append",
                            metavar="VALUE", default=[], help=text)
    parser.add_argument("-N", "-nofifo", "--nofifo", action="store_true",
                        help="allow reordering (no FIFO ordering of frames)")
    parser.add_argument("-M", "-mgmt", "--mgmt", metavar="SOCKET",
                        help="management console on this unix socket")
    parser.add_argument("-mgmtmode", "--mgmtmode", metavar="OCTAL", default="700",
                        help="permissions of the management socket (default 700)")
    parser.add_argument("-f", "-rcfile", "--rcfile", metavar="FILE",
                        help="run the console commands in FILE before forwarding frames")
    parser.add_argument("-v", "-vde-plug", "--vde-plug", dest="vde_plug", metavar="VNL1:VNL2",
                        help="plug mode (not available yet: use dpipe)")
    parser.add_argument("-daemon", "--daemon", action="store_true",
                        help="run in the background (plug mode only)")
    parser.add_argument("-pidfile", "--pidfile", metavar="FILE", help="write the pid to FILE")
    parser.add_argument("-blink", "--blink", metavar="SOCKET",
                        help="send a datagram '<id> <dir> <size>' per frame to this unix socket")
    parser.add_argument("-blinkid", "--blinkid", metavar="ID", help="id in blink messages")
    parser.add_argument("--seed", type=int, metavar="N",
                        help="seed the random generator: the same seed gives the same run")
    parser.add_argument("vnls", nargs="*", metavar="VNL", help=argparse.SUPPRESS)


# ---------------------------------------------------------------------- setting up


def _is_stream_fd(fd: int) -> bool:
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


PIPE_SIZE = 1 << 20
"""Bytes a cable pipe may hold (the kernel default is 64 KiB; /proc/sys/fs/pipe-max-size caps it)."""


def enlarge_pipe(fd: int) -> None:
    """Give a cable pipe more room than the kernel's 64 KiB (F_SETPIPE_SZ), so a burst waits in
    the pipe instead of stalling the vde_plug that feeds it; best effort."""
    try:
        if stat.S_ISFIFO(os.fstat(fd).st_mode):
            fcntl.fcntl(fd, F_SETPIPE_SZ, PIPE_SIZE)
    except OSError:
        pass


def choose_topology(environ: dict[str, str] | os._Environ[str]) -> tuple[list[int], list[int]]:
    """(inputs, outputs) by direction, as wirefilter chooses them.

    :raises UsageError: stdin/stdout are not pipes, or the alternate descriptors are unusable.
    """
    alt_in, alt_out = environ.get("ALTERNATE_STDIN"), environ.get("ALTERNATE_STDOUT")
    for fd, name in ((0, "stdin"), (1, "stdout")):
        if not _is_stream_fd(fd):
            raise UsageError(
                f"{name} is not a pipe: run vdex wirefilter inside a cable, for example "
                "'dpipe vde_plug /tmp/sw1 = vdex wirefilter -d 50 = vde_plug /tmp/sw2'")
    if alt_in is None or alt_out is None:
        return [0], [1]
    try:
        fds = int(alt_in), int(alt_out)
    except ValueError:
        raise UsageError("ALTERNATE_STDIN/ALTERNATE_STDOUT must be descriptor numbers") from None
    for fd in fds:
        if not _is_stream_fd(fd):
            raise UsageError(f"alternate descriptor {fd} is not an open pipe or socket")
    return [0, fds[0]], [fds[1], 1]


def build_model(ns: argparse.Namespace) -> WireFilterModel:
    """The model with the command line's values applied in order.

    :raises UsageError: a value that does not follow the syntax.
    """
    model = WireFilterModel(rng=random.Random(ns.seed), fifo=not ns.nofifo)
    for param, flags, _text in VALUE_OPTIONS:
        for text in getattr(ns, f"wf_{param.name.lower()}"):
            try:
                parsed = parse_value(text)
            except ValueSyntaxError as exc:
                raise UsageError(f"{flags[-1]}: {exc}") from None
            model.set_value(param, parsed.directions, parsed.node, parsed.value)
    return model


def _check_options(ns: argparse.Namespace) -> int:
    if ns.vde_plug or ns.vnls:
        raise UsageError(
            "plug mode (-v VNL1:VNL2 or VNL arguments) is not available yet in vdex wirefilter; "
            "put the filter in a dpipe cable instead: "
            "dpipe vde_plug VNL1 = vdex wirefilter ... = vde_plug VNL2")
    if ns.daemon:
        raise UsageError("--daemon needs plug mode: in a dpipe cable stdin/stdout carry frames")
    try:
        mode = int(ns.mgmtmode, 8)
    except ValueError:
        raise UsageError(f"--mgmtmode {ns.mgmtmode!r} is not an octal mode such as 600") from None
    if not 0 <= mode <= 0o777:
        raise UsageError(f"--mgmtmode {ns.mgmtmode!r} is out of range 000..777")
    return mode


@attrs.define(eq=False, kw_only=True)
class _PidFile:
    path: str | None
    _written: bool = False

    def write(self) -> None:
        if self.path is None:
            return
        self.path = os.path.abspath(self.path)
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except OSError as exc:
            raise ConfigError(f"cannot create pid file {self.path}: {exc.strerror} "
                              "(remove a stale one or choose another path)") from None
        with os.fdopen(fd, "w") as f:
            f.write(f"{os.getpid()}\n")
        self._written = True

    def remove(self) -> None:
        if self._written and self.path is not None:
            try:
                os.unlink(self.path)
            except OSError:
                pass
            self._written = False


# ---------------------------------------------------------------------- running


async def serve(cable: StreamCable, dataplane: Dataplane, *, mgmt: str | None, mgmt_mode: int,
                rcfile: str | None) -> int | None:
    """Run the cable on ``dataplane`` (and its console); return the signal that stopped it, if
    any. trio's main task under the host loop (see :func:`run`)."""
    console = make_console(cable)
    cable.model.on_node_change = lambda old, new: post_markov_change(console, cable.model, old,
                                                                     new)
    caught: list[int] = []
    with trio.open_signal_receiver(signal.SIGHUP, signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:

            async def watch_signals() -> None:
                async for signum in signals:
                    caught.append(signum)
                    nursery.cancel_scope.cancel()
                    return

            nursery.start_soon(watch_signals)
            if mgmt is not None:
                try:
                    await nursery.start(lambda task_status: console.serve_unix(
                        mgmt, mode=mgmt_mode, on_shutdown=nursery.cancel_scope.cancel,
                        task_status=task_status))
                except OSError as exc:
                    raise ConfigError(f"cannot open the console socket {mgmt}: "
                                      f"{exc.strerror or exc}") from None
            if rcfile is not None:
                session = console.new_session(lambda _text: None, interactive=False)
                try:
                    await console.run_script(session, rcfile)
                finally:
                    console.end_session(session)
            await cable.run(dataplane)
            nursery.cancel_scope.cancel()
    if cable.exit_reason:
        log.info("stopping: %s", cable.exit_reason)
    return caught[0] if caught else None


def run(ns: argparse.Namespace) -> int:
    """Run ``vdex wirefilter`` with parsed options; return the exit status.

    The process runs on the host loop, as ``vdex plug`` does: it blocks in the dataplane's epoll
    set, whose handlers move the frames, and trio is its guest (console, signals, lifetime).
    """
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.WARNING, format="vdex wirefilter: %(message)s")
    try:
        mgmt_mode = _check_options(ns)
        model = build_model(ns)
        inputs, outputs = choose_topology(os.environ)
    except UsageError as exc:
        print(f"vdex wirefilter: {exc}", file=sys.stderr)
        return 2
    pidfile = _PidFile(path=ns.pidfile)
    blink = None
    try:
        if ns.mgmt and not os.path.isdir(os.path.dirname(os.path.abspath(ns.mgmt))):
            raise ConfigError(f"the directory of the console socket {ns.mgmt} does not exist")
        pidfile.write()
        cable = StreamCable(model=model, inputs=inputs,
                            outputs=[StreamOutput(fd=fd) for fd in outputs])
        for fd in {*inputs, *outputs}:
            os.set_blocking(fd, False)
            enlarge_pipe(fd)
        if ns.blink:
            ident = ns.blinkid if ns.blinkid else f"{os.getpid():06d}"
            blink = Blink(path=ns.blink, ident=ident, mono=cable.mono)
            cable.blink = (ns.blink, ident)
            cable.blinker = blink
        log.info("%s filter starting", "monodirectional" if cable.mono else "bidirectional")
        dataplane = Dataplane()
        signum = run_trio(lambda: serve(cable, dataplane, mgmt=ns.mgmt, mgmt_mode=mgmt_mode,
                                        rcfile=ns.rcfile), dataplane)
    except ConfigError as exc:
        print(f"vdex wirefilter: {exc}", file=sys.stderr)
        return 1
    finally:
        pidfile.remove()
    if signum in (signal.SIGHUP, signal.SIGINT):
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="vdex wirefilter")
    add_arguments(parser)
    return run(parser.parse_args(argv))
