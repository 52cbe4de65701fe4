"""Where libslirp's callbacks meet an event loop (trio or the dataplane): :class:`SlirpBridge`.

libslirp is a C event-loop client. It asks, before every sleep, which of its host sockets to
watch and how long it may sleep (``slirp_pollfds_fill``); after the sleep it is told what became
ready (``slirp_pollfds_poll``); guest frames go in with ``slirp_input``; frames for the guest come
out through the ``send_packet`` callback, synchronously, from inside any of those calls; its few
timers (IPv6 router advertisements) are armed through callbacks and fired with
``slirp_handle_timer``. It is not thread-safe and it is re-entered through its callbacks.

How this module drives it (option (a) of docs/slirp.md, chosen over a dedicated thread after
measuring both; the numbers are in that document):

* One trio task, :meth:`SlirpBridge.run`, owns the instance from ``slirp_new`` to
  ``slirp_cleanup``. Each turn of its loop calls ``slirp_pollfds_fill``, mirrors the requested
  descriptors into one persistent ``select.epoll`` object (only the differences are applied), and
  waits until that epoll descriptor is readable, the earliest deadline (libslirp's timeout or an
  armed timer) passes, or a guest frame arrived. Then it asks epoll what is ready (no wait),
  calls ``slirp_pollfds_poll`` and fires due timers.
* Guest frames go in through :meth:`SlirpBridge.send_frame`, synchronously: ``slirp_input`` runs
  at once (no task switch, no queue), and the loop is woken because the frame may have changed
  what libslirp wants to watch (a new connection, a TCP window that reopened).
* Frames for the guest network are handed, as ``bytes``, to the ``deliver`` callable given at
  construction, synchronously from the ``send_packet`` callback. ``deliver`` must not block; it
  may drop (a guest that is not keeping up is TCP's problem, as in QEMU). Several guests may be
  behind it: nothing here looks at MAC or IP addresses.
* libslirp is only ever entered from this trio thread. A frame that ``deliver`` sends straight
  back into this bridge (a loop through a hub, say) is queued and fed in after the current
  libslirp call returns, never re-entering libslirp.
* Cancellation: ``run`` calls ``slirp_cleanup`` in ``finally`` (synchronously, so it happens
  even when cancelled) and closes its epoll object. No thread is ever started.

Two drivers share everything above. In **trio mode** (the default, :func:`open_slirp`) the loop
of :meth:`SlirpBridge.run` waits for the epoll descriptor through trio. In **external mode**
(``external=True``, what the switch's slirp endpoint uses) the epoll set also holds a timerfd,
armed for libslirp's timeout, and an eventfd that ``send_frame`` raises once per batch; the owner
watches :meth:`SlirpBridge.fileno` in its own event loop (the dataplane) and calls
:meth:`SlirpBridge.service` for each turn, so no frame and no socket event goes through trio;
``run`` then only owns the instance, from ``slirp_new`` to ``slirp_cleanup``. Under vdex's host
loop, where trio is a guest whose I/O waits run in a worker thread, each trio wake-up is a thread
hop: external mode took the TCP round trip through a switch from 370-770 to 60-150 us and halved
the CPU per byte (docs/slirp.md, "Benchmark").

Every ``CFUNCTYPE`` object, the ``SlirpCb`` structure and the strings referenced from
``SlirpConfig`` are attributes of the bridge, alive for as long as the instance (callbacks fire
during ``slirp_cleanup`` too).
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import errno
import logging
import math
import os
import select
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from ctypes import byref, c_uint32

import attrs
import trio

from vdex.errors import PluginError, PortError

from . import _libslirp as C
from ._config import slirp_config
from ._forwards import (
    ForwardHandle,
    add_host_forward,
    add_unix_forward,
    remove_host_forward,
    x11_candidates,
)
from ._settings import HostForward, SlirpSettings, X11Forward
from ._timerfd import TimerFd
from ._timers import TimerTable

log = logging.getLogger("vdex.slirp")

FrameSink = Callable[[bytes], object]
"""``deliver(frame)``: one Ethernet frame for the guest network; must not block."""

MIN_FRAME = 14
MAX_FRAME = 65535 + 14
FOREVER_MS = 0xFFFFFFFF
"""``*timeout`` when we have no deadline of our own (libslirp lowers it)."""

# libslirp's SLIRP_POLL_* <-> epoll bits. IN/ERR/HUP are the same bits; OUT and PRI differ.
_SLIRP_TO_EPOLL = [
    (select.EPOLLIN if s & C.SLIRP_POLL_IN else 0)
    | (select.EPOLLOUT if s & C.SLIRP_POLL_OUT else 0)
    | (select.EPOLLPRI if s & C.SLIRP_POLL_PRI else 0)
    for s in range(32)
]
_EPOLL_TO_SLIRP = [
    (C.SLIRP_POLL_IN if e & select.EPOLLIN else 0)
    | (C.SLIRP_POLL_OUT if e & select.EPOLLOUT else 0)
    | (C.SLIRP_POLL_PRI if e & select.EPOLLPRI else 0)
    | (C.SLIRP_POLL_ERR if e & select.EPOLLERR else 0)
    | (C.SLIRP_POLL_HUP if e & select.EPOLLHUP else 0)
    for e in range(32)
]


@attrs.frozen
class SlirpStatistics:
    """Counters of one bridge (``statistics()``), for ``port/print`` and benchmarks."""

    frames_from_guest: int
    frames_to_guest: int
    dropped_from_guest: int
    """Frames refused before libslirp saw them (too short or long, or not running)."""
    dropped_to_guest: int
    """Frames ``deliver`` raised on."""
    guest_errors: int
    """Guest misbehaviour libslirp reported (``guest_error``)."""
    loop_turns: int
    watched_sockets: int


class _RateLimitedLog:
    """Log a recurring per-frame problem at most once per interval, then how many were hidden."""

    def __init__(self, interval: float = 10.0) -> None:
        self.interval = interval
        self._last = -math.inf
        self._hidden = 0

    def __call__(self, level: int, msg: str, *args: object) -> None:
        now = time.monotonic()
        if now - self._last < self.interval:
            self._hidden += 1
            return
        if self._hidden:
            msg += f" (and {self._hidden} more like it)"
        self._last, self._hidden = now, 0
        log.log(level, msg, *args)


@attrs.define(eq=False, kw_only=True)
class SlirpBridge:
    """One libslirp instance serving one virtual network, driven by :meth:`run`.

    Create it, then ``await nursery.start(bridge.run)``; or use :func:`open_slirp`.
    """

    settings: SlirpSettings
    deliver: FrameSink
    """Where frames for the guest network go (see the module docstring)."""
    library: C.LibSlirp | None = None
    """A loaded libslirp; None loads the system one (raising PluginError if it is missing)."""
    clock_ns: Callable[[], int] = time.monotonic_ns
    """libslirp's clock (``clock_get_ns``): monotonic nanoseconds. Timer expiries are in
    milliseconds on this timebase. Tests substitute a clock they can move forward."""
    external: bool = False
    """Driven by the dataplane (see "Two drivers" in the module docstring): the owner watches
    :meth:`fileno` and calls :meth:`service` when it is readable; :meth:`run` only owns the
    instance's lifetime."""
    on_failure: Callable[[BaseException], object] | None = None
    """External mode: called once if :meth:`service` fails; :meth:`run` then raises it."""

    # --- state (private) ---
    _lib: C.LibSlirp = attrs.field(init=False)
    _slirp_input: Callable[..., None] = attrs.field(init=False)
    _callbacks: C.SlirpCb = attrs.field(init=False)
    _add_poll: object = attrs.field(init=False)
    _get_revents: object = attrs.field(init=False)
    _slirp: int | None = attrs.field(init=False, default=None)
    _depth: int = attrs.field(init=False, default=0)
    _reentrant_frames: collections.deque[bytes] = attrs.field(init=False, factory=collections.deque)
    _wait_scope: trio.CancelScope | None = attrs.field(init=False, default=None)
    _epoll: select.epoll | None = attrs.field(init=False, default=None)
    _registered: dict[int, int] = attrs.field(init=False, factory=dict)
    _want: dict[int, int] = attrs.field(init=False, factory=dict)
    _poll_fds: list[int] = attrs.field(init=False, factory=list)
    _ready: dict[int, int] = attrs.field(init=False, factory=dict)
    _timers: TimerTable = attrs.field(init=False, factory=TimerTable)
    _keepalive: list[object] = attrs.field(init=False, factory=list)
    _active_forwards: list[tuple[HostForward, ForwardHandle]] = attrs.field(
        init=False, factory=list
    )
    _log_drop: _RateLimitedLog = attrs.field(init=False, factory=_RateLimitedLog)
    _log_guest: _RateLimitedLog = attrs.field(init=False, factory=_RateLimitedLog)
    # counters
    _in: int = attrs.field(init=False, default=0)
    _out: int = attrs.field(init=False, default=0)
    _drop_in: int = attrs.field(init=False, default=0)
    _drop_out: int = attrs.field(init=False, default=0)
    _guest_errors: int = attrs.field(init=False, default=0)
    _turns: int = attrs.field(init=False, default=0)
    # external mode
    _poke_fd: int = attrs.field(init=False, default=-1)
    _poked: bool = attrs.field(init=False, default=False)
    _timerfd: TimerFd | None = attrs.field(init=False, default=None)
    _armed_ns: int | None = attrs.field(init=False, default=None)
    _in_turn: bool = attrs.field(init=False, default=False)
    _timeout: c_uint32 = attrs.field(init=False, factory=c_uint32)
    _failure: BaseException | None = attrs.field(init=False, default=None)
    _failed: trio.Event | None = attrs.field(init=False, default=None)

    def __attrs_post_init__(self) -> None:
        self._lib = self.library if self.library is not None else C.load_libslirp()
        self._slirp_input = self._lib.cdll.slirp_input
        self._callbacks = self._make_callbacks()
        self._add_poll = C.AddPollFn(self._cb_add_poll)
        self._get_revents = C.GetREventsFn(self._cb_get_revents)

    # ------------------------------------------------------------------ public API

    @property
    def running(self) -> bool:
        return self._slirp is not None

    @property
    def version(self) -> str:
        """libslirp's version string (``4.7.0``)."""
        return self._lib.version

    def send_frame(self, frame: bytes | bytearray | memoryview) -> None:
        """Feed one Ethernet frame from the guest network to libslirp, now.

        Never blocks and never raises for a bad frame: a frame that is too short or too long, or
        one that arrives while the bridge is not running, is counted as dropped.
        """
        n = len(frame)
        if self._slirp is None or not MIN_FRAME <= n <= MAX_FRAME:
            self._drop_in += 1
            return
        if not isinstance(frame, bytes):
            frame = bytes(frame)
        if self._depth:
            self._reentrant_frames.append(frame)
            return
        self._in += 1
        self._depth = 1
        try:
            self._slirp_input(self._slirp, frame, n)
        finally:
            self._depth = 0
        if self._reentrant_frames:
            self._feed_reentrant()
        self._wake()

    def statistics(self) -> SlirpStatistics:
        return SlirpStatistics(
            frames_from_guest=self._in,
            frames_to_guest=self._out,
            dropped_from_guest=self._drop_in,
            dropped_to_guest=self._drop_out,
            guest_errors=self._guest_errors,
            loop_turns=self._turns,
            watched_sockets=len(self._registered),
        )

    def connection_info(self) -> str:
        """libslirp's own table of NAT connections and forwards (for a console command)."""
        if self._slirp is None:
            return ""
        return self._lib.take_string(self._lib.slirp_connection_info(self._slirp))

    def neighbor_info(self) -> str:
        """libslirp's ARP and NDP table (4.5 and later): the guests it has talked to."""
        info = getattr(self._lib.cdll, "slirp_neighbor_info", None)
        if self._slirp is None or info is None:
            return ""
        return self._lib.take_string(info(self._slirp))

    def add_forward(self, forward: HostForward) -> None:
        """Start listening for ``forward`` on the host.

        :raises PortError: EADDRINUSE when the host port cannot be bound, EEXIST when the same
            forward is active, ENOTCONN when the bridge is not running.
        """
        slirp = self._require_running()
        if any(fwd == forward for fwd, _ in self._active_forwards):
            raise PortError(f"forward {forward} is already active", errno=errno.EEXIST)
        handle = add_host_forward(self._lib, slirp, forward, self._enter)
        self._active_forwards.append((forward, handle))
        self._wake()
        log.debug("slirp forward %s", forward)

    def remove_forward(self, forward: HostForward) -> None:
        """Stop a forward added by :meth:`add_forward` (or from the settings).

        :raises PortError: ENOENT when no such forward is active, ENOTCONN when not running.
        """
        slirp = self._require_running()
        for index, (fwd, handle) in enumerate(self._active_forwards):
            if fwd == forward:
                del self._active_forwards[index]
                remove_host_forward(self._lib, slirp, forward, handle, self._enter)
                self._wake()
                return
        raise PortError(f"no active forward {forward}", errno=errno.ENOENT)

    @property
    def forwards(self) -> tuple[HostForward, ...]:
        return tuple(fwd for fwd, _ in self._active_forwards)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Create the libslirp instance, install the forwards, then serve until cancelled.

        ``task_status.started()`` is called once every forward listens, so a failing forward
        (port in use) is raised by ``nursery.start`` as :class:`PortError`.
        """
        if self._slirp is not None or self._epoll is not None:
            raise RuntimeError("this SlirpBridge is already running")
        config = slirp_config(self.settings)
        self._epoll = select.epoll()
        try:
            if self.external:
                self._open_external(self._epoll)
            slirp = self._lib.slirp_new(byref(config), byref(self._callbacks), None)
            if not slirp:
                raise PluginError(
                    f"slirp_new() refused the configuration (libslirp {self._lib.version}); "
                    f"vdex needs libslirp 4.4 or newer (Debian package {C.DEBIAN_PACKAGE})",
                    plugin="slirp",
                )
            self._slirp = slirp
            try:
                for forward in self.settings.forwards:
                    self.add_forward(forward)
                for unix in self.settings.unix_forwards:
                    add_unix_forward(self._lib, slirp, unix, self._enter)
                for x11 in self.settings.x11_forwards:
                    self._add_x11_forward(x11)
                if self.external:
                    self._failed = trio.Event()
                    self._refill()  # watch the forwards' sockets before anyone polls us
                    self._clear_poke()  # raised by the set-up (timers armed): nothing left
                    task_status.started()
                    await self._failed.wait()
                    assert self._failure is not None
                    raise self._failure
                task_status.started()
                await self._serve()
            finally:
                self._slirp = None
                self._active_forwards.clear()
                self._depth += 1  # nothing may re-enter while libslirp tears down
                try:
                    self._lib.slirp_cleanup(slirp)
                finally:
                    self._depth -= 1
                    self._reentrant_frames.clear()
        finally:
            epoll, self._epoll = self._epoll, None
            self._close_external()
            self._registered.clear()
            self._timers.clear()
            if epoll is not None:
                trio.lowlevel.notify_closing(epoll.fileno())
                epoll.close()

    # ------------------------------------------------------------------ the loop

    async def _serve(self) -> None:
        lib = self._lib
        slirp = self._slirp
        epoll = self._epoll
        assert slirp is not None and epoll is not None
        epfd = epoll.fileno()
        timeout = c_uint32()
        timeout_ref = byref(timeout)
        add_poll = self._add_poll
        get_revents = self._get_revents
        timers = self._timers
        while True:
            self._turns += 1
            self._poll_fds.clear()
            self._want.clear()
            timeout.value = FOREVER_MS
            self._enter(lib.slirp_pollfds_fill, slirp, timeout_ref, add_poll, None)
            self._sync_epoll(epoll)
            delay_ms = timeout.value
            next_timer = timers.next_deadline()
            if next_timer is not None:
                delay_ms = min(delay_ms, max(0, next_timer - self.clock_ns() // 1_000_000))
            deadline = math.inf if delay_ms == FOREVER_MS else trio.current_time() + delay_ms / 1000
            # The only suspension point of the loop: whatever happens meanwhile (a guest frame,
            # a new forward, a timer armed) cancels this scope through _wake().
            with trio.CancelScope(deadline=deadline) as scope:
                self._wait_scope = scope
                await trio.lowlevel.wait_readable(epfd)
            self._wait_scope = None
            self._ready = dict(epoll.poll(0))
            self._enter(lib.slirp_pollfds_poll, slirp, 0, get_revents, None)
            if next_timer is not None:
                for timer_id, cb_opaque, callback in timers.pop_due(self.clock_ns() // 1_000_000):
                    if callback is not None:
                        self._enter(callback, cb_opaque)
                    else:
                        self._enter(lib.slirp_handle_timer, slirp, timer_id, cb_opaque)

    # ------------------------------------------------------------------ external mode

    def fileno(self) -> int:
        """External mode: the descriptor to watch (readable when :meth:`service` has work)."""
        if self._epoll is None:
            raise ValueError("the bridge is not running")
        return self._epoll.fileno()

    def service(self) -> None:
        """External mode: one turn, when :meth:`fileno` is readable. Never blocks.

        Asks epoll what is ready (the poke and the timerfd are ours), lets libslirp read and
        write its sockets and run its TCP timers (``slirp_pollfds_poll``), fires due timers,
        then asks what to watch next and until when (:meth:`_refill`). A failure stops the
        bridge: ``on_failure`` is told and :meth:`run` raises it.
        """
        slirp, epoll = self._slirp, self._epoll
        if slirp is None or epoll is None or self._failure is not None:
            return
        self._in_turn = True
        try:
            self._turns += 1
            ready = self._ready = dict(epoll.poll(0))
            if ready.pop(self._poke_fd, None) is not None:
                self._clear_poke()
            self._poked = False
            timer = self._timerfd
            if timer is not None and ready.pop(timer.fd, None) is not None:
                timer.clear()
                self._armed_ns = None
            self._enter(self._lib.slirp_pollfds_poll, slirp, 0, self._get_revents, None)
            if self._timers.next_deadline() is not None:
                self._fire_due_timers(slirp)
            self._refill()
        except Exception as exc:
            self._fail(exc)
        finally:
            self._in_turn = False

    def _refill(self) -> None:
        """Ask libslirp what to watch (``slirp_pollfds_fill``), mirror it into epoll, and arm
        the timerfd for libslirp's timeout or the next timer, whichever comes first."""
        slirp, epoll = self._slirp, self._epoll
        assert slirp is not None and epoll is not None
        self._poll_fds.clear()
        self._want.clear()
        timeout = self._timeout
        timeout.value = FOREVER_MS
        self._enter(self._lib.slirp_pollfds_fill, slirp, byref(timeout), self._add_poll, None)
        self._sync_epoll(epoll)
        delay_ms = timeout.value
        next_timer = self._timers.next_deadline()
        if next_timer is not None:
            delay_ms = min(delay_ms, max(0, next_timer - self.clock_ns() // 1_000_000))
        if delay_ms != FOREVER_MS and self._timerfd is not None:
            now = time.monotonic_ns()
            deadline = now + delay_ms * 1_000_000
            armed = self._armed_ns
            # An earlier expiry still pending is kept: waking early only costs a turn.
            if armed is None or armed <= now or deadline < armed:
                self._timerfd.arm_after(deadline - now)
                self._armed_ns = deadline

    def _fire_due_timers(self, slirp: int) -> None:
        lib = self._lib
        for timer_id, cb_opaque, callback in self._timers.pop_due(self.clock_ns() // 1_000_000):
            if callback is not None:
                self._enter(callback, cb_opaque)
            else:
                self._enter(lib.slirp_handle_timer, slirp, timer_id, cb_opaque)

    def _clear_poke(self) -> None:
        with contextlib.suppress(BlockingIOError):
            os.eventfd_read(self._poke_fd)
        self._poked = False

    def _fail(self, exc: BaseException) -> None:
        log.error("slirp stopped: %r", exc)
        self._failure = exc
        if self._failed is not None:
            self._failed.set()
        if self.on_failure is not None:
            self.on_failure(exc)

    def _open_external(self, epoll: select.epoll) -> None:
        self._poke_fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        epoll.register(self._poke_fd, select.EPOLLIN)
        self._timerfd = TimerFd()
        epoll.register(self._timerfd.fd, select.EPOLLIN)

    def _close_external(self) -> None:
        if self._poke_fd >= 0:
            os.close(self._poke_fd)
            self._poke_fd = -1
        if self._timerfd is not None:
            self._timerfd.close()
            self._timerfd = None
        self._armed_ns = None
        self._poked = False

    # ------------------------------------------------------------------ trio mode helpers

    def _sync_epoll(self, epoll: select.epoll) -> None:
        """Make the epoll set equal to what libslirp asked for, touching only the differences.

        A descriptor libslirp stopped asking for is removed, not left with an empty mask: epoll
        reports hang-ups and errors even then, which would wake us forever.
        """
        want = self._want
        have = self._registered
        if len(have) != len(want) or have.keys() != want.keys():
            for fd in [fd for fd in have if fd not in want]:
                del have[fd]
                _unregister(epoll, fd)
        for fd, mask in want.items():
            old = have.get(fd)
            if old == mask:
                continue
            have[fd] = mask
            try:
                try:
                    if old is None:
                        epoll.register(fd, mask)
                    else:
                        epoll.modify(fd, mask)
                except FileExistsError:
                    epoll.modify(fd, mask)
                except FileNotFoundError:
                    epoll.register(fd, mask)
            except OSError as exc:  # a descriptor libslirp already closed: skip it this turn
                del have[fd]
                self._log_drop(logging.WARNING, "slirp: cannot watch descriptor %d: %s", fd, exc)

    def _wake(self) -> None:
        """Interrupt the loop's sleep, so that it asks libslirp again what to watch.

        Needed after anything done from outside the loop (a guest frame, a forward added).
        While the loop is busy with its own turn there is no sleep to interrupt, and nothing to
        do: the turn ends with a fresh ``slirp_pollfds_fill``. External mode: raise the poke
        eventfd (once until the next :meth:`service`), which makes :meth:`fileno` readable.
        """
        if self.external:
            if not (self._poked or self._in_turn) and self._poke_fd >= 0:
                self._poked = True
                os.eventfd_write(self._poke_fd, 1)
            return
        scope = self._wait_scope
        if scope is not None:
            self._wait_scope = None
            scope.cancel()

    def _enter(self, fn: Callable[..., int], *args: object) -> int:
        """Call into libslirp with re-entry from callbacks turned into a queue."""
        self._depth += 1
        try:
            rc = fn(*args)
        finally:
            self._depth -= 1
        if self._reentrant_frames and not self._depth:
            self._feed_reentrant()
        return rc

    def _feed_reentrant(self) -> None:
        frames = self._reentrant_frames
        slirp = self._slirp
        while frames and slirp is not None:
            frame = frames.popleft()
            self._in += 1
            self._depth = 1
            try:
                self._slirp_input(slirp, frame, len(frame))
            finally:
                self._depth = 0
        frames.clear()
        self._wake()

    def _require_running(self) -> int:
        if self._slirp is None:
            raise PortError("slirp is not running", errno=errno.ENOTCONN)
        if self._depth:
            raise PortError("slirp cannot be reconfigured from inside its own callback")
        return self._slirp

    # ------------------------------------------------------------------ configuration

    def _add_x11_forward(self, forward: X11Forward) -> None:
        for candidate in x11_candidates(forward):
            try:
                self.add_forward(candidate)
            except PortError:
                continue
            return
        raise PortError("no free X11 port between 6000 and 6100", errno=errno.EADDRINUSE)

    # ------------------------------------------------------------------ callbacks

    def _make_callbacks(self) -> C.SlirpCb:
        functions = {
            "send_packet": C.SendPacketFn(self._cb_send_packet),
            "guest_error": C.GuestErrorFn(self._cb_guest_error),
            "clock_get_ns": C.ClockGetNsFn(self._cb_clock_get_ns),
            "timer_new": C.TimerNewFn(self._cb_timer_new),
            "timer_free": C.TimerFreeFn(self._cb_timer_free),
            "timer_mod": C.TimerModFn(self._cb_timer_mod),
            "register_poll_fd": C.PollFdFn(self._cb_fd_changed),
            "unregister_poll_fd": C.PollFdFn(self._cb_fd_changed),
            "notify": C.NotifyFn(self._cb_notify),
            "timer_new_opaque": C.TimerNewOpaqueFn(self._cb_timer_new_opaque),
        }
        # The structure references the trampolines, but hold the CFUNCTYPE objects themselves
        # for the bridge's whole life: libslirp calls them until slirp_cleanup returns.
        self._keepalive.append(functions)
        return C.SlirpCb(**functions)

    def _cb_send_packet(self, buf: int, length: int, _opaque: int | None) -> int:
        try:
            self._out += 1
            self.deliver(ctypes.string_at(buf, length))
        except Exception as exc:  # a sink failure must not unwind through C
            self._drop_out += 1
            self._log_drop(logging.WARNING, "slirp: dropped a frame for the guest: %r", exc)
        # Report the frame as sent even when dropped: libslirp would only log an error, and TCP
        # recovers a lost segment anyway.
        return length

    def _cb_guest_error(self, msg: bytes | None, _opaque: int | None) -> None:
        self._guest_errors += 1
        text = (msg or b"").decode("utf-8", "replace")
        self._log_guest(logging.WARNING, "slirp: guest error: %s", text)

    def _cb_clock_get_ns(self, _opaque: int | None) -> int:
        try:
            return self.clock_ns()
        except Exception:  # nothing may unwind through C; the monotonic clock is the default
            self._log_drop(logging.ERROR, "slirp: the clock failed; using time.monotonic_ns")
            return time.monotonic_ns()

    def _cb_timer_new(
        self, callback: int | None, cb_opaque: int | None, _opaque: int | None
    ) -> int:
        try:
            fn = C.TimerCbFn(callback) if callback else None
            return self._timers.new(timer_id=-1, cb_opaque=cb_opaque, callback=fn)
        except Exception:
            log.exception("slirp: timer_new failed")
            return 0

    def _cb_timer_new_opaque(
        self, timer_id: int, cb_opaque: int | None, _opaque: int | None
    ) -> int:
        try:
            return self._timers.new(timer_id=timer_id, cb_opaque=cb_opaque, callback=None)
        except Exception:
            log.exception("slirp: timer_new_opaque failed")
            return 0

    def _cb_timer_free(self, handle: int | None, _opaque: int | None) -> None:
        self._timers.free(handle or 0)

    def _cb_timer_mod(self, handle: int | None, expire_ms: int, _opaque: int | None) -> None:
        self._timers.arm(handle or 0, expire_ms)
        self._wake()

    def _cb_fd_changed(self, fd: int, _opaque: int | None) -> None:
        """libslirp created or is about to close socket ``fd``: forget what we registered.

        Without this, a descriptor number that libslirp closed and reused for a new socket with
        the same events would look unchanged and never be watched (the kernel drops a closed
        descriptor from epoll by itself).
        """
        if self._registered.pop(fd, None) is not None and self._epoll is not None:
            _unregister(self._epoll, fd)
        self._wake()

    def _cb_notify(self, _opaque: int | None) -> None:
        self._wake()

    def _cb_add_poll(self, fd: int, events: int, _opaque: int | None) -> int:
        fds = self._poll_fds
        fds.append(fd)
        mask = _SLIRP_TO_EPOLL[events & 31]
        want = self._want
        want[fd] = want.get(fd, 0) | mask
        return len(fds) - 1

    def _cb_get_revents(self, idx: int, _opaque: int | None) -> int:
        try:
            return _EPOLL_TO_SLIRP[self._ready.get(self._poll_fds[idx], 0) & 31]
        except IndexError:
            return 0


def _unregister(epoll: select.epoll, fd: int) -> None:
    # OSError: already closed (the kernel dropped it from the set) or never registered.
    with contextlib.suppress(OSError, ValueError):
        epoll.unregister(fd)


@asynccontextmanager
async def open_slirp(
    settings: SlirpSettings,
    deliver: FrameSink,
    *,
    library: C.LibSlirp | None = None,
    clock_ns: Callable[[], int] = time.monotonic_ns,
) -> AsyncIterator[SlirpBridge]:
    """Run a :class:`SlirpBridge` for the duration of the ``async with`` block.

    The bridge's task lives in a nursery owned by this context manager; leaving the block
    cancels it, which runs ``slirp_cleanup``. A forward that cannot listen raises
    :class:`PortError` from the ``async with`` itself.
    """
    bridge = SlirpBridge(settings=settings, deliver=deliver, library=library, clock_ns=clock_ns)
    with sole_exception_unwrapped():
        async with trio.open_nursery() as nursery:
            await nursery.start(bridge.run)
            try:
                yield bridge
            finally:
                nursery.cancel_scope.cancel()


@contextlib.contextmanager
def sole_exception_unwrapped() -> Iterator[None]:
    """When one party of a bridge's nursery failed (the start, the body or the bridge), raise
    its own exception, so callers catch PortError, not a group around it."""
    try:
        yield
    except BaseExceptionGroup as group:
        if len(group.exceptions) == 1:
            raise group.exceptions[0] from None
        raise
