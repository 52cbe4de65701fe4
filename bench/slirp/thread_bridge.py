"""Option (b) of docs/slirp.md, kept for the measurement only: libslirp in a dedicated thread.

The thread owns the libslirp instance from ``slirp_new`` to ``slirp_cleanup`` and sleeps in
``epoll.poll(timeout)`` (which releases the GIL) on libslirp's sockets plus a wake-up pipe.
Guest frames are queued by the trio thread and the pipe is written once per batch; frames for
the guest are queued by the slirp thread and handed to trio with one ``run_sync_soon`` per
batch, where ``deliver`` runs. Everything else (callbacks, epoll mirroring, timers) is the
production bridge's code, inherited, so the comparison measures only the threading.
"""

from __future__ import annotations

import collections
import ctypes
import os
import select
import threading
from ctypes import byref, c_uint32

import trio

from vdex_plugins.slirp._bridge import FOREVER_MS, MAX_FRAME, MIN_FRAME, SlirpBridge
from vdex_plugins.slirp._config import slirp_config


class ThreadedSlirpBridge(SlirpBridge):
    """Not decorated with attrs: a plain subclass of the slotted bridge gets a __dict__ for the
    t_* attributes below."""

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        self.t_inbox: collections.deque[bytes] = collections.deque()
        self.t_outbox: collections.deque[bytes] = collections.deque()
        self.t_in_signalled = False
        self.t_out_scheduled = False
        self.t_stop = False
        self.t_wake_r, self.t_wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.t_token: trio.lowlevel.TrioToken | None = None
        self.t_error: BaseException | None = None

    def send_frame(self, frame: bytes | bytearray | memoryview) -> None:
        if not MIN_FRAME <= len(frame) <= MAX_FRAME:
            self._drop_in += 1
            return
        self.t_inbox.append(bytes(frame))
        if not self.t_in_signalled:
            self.t_in_signalled = True
            os.write(self.t_wake_w, b"x")

    def _wake(self) -> None:
        if threading.current_thread() is not self.t_thread:
            os.write(self.t_wake_w, b"x")

    def _cb_send_packet(self, buf: int, length: int, _opaque: int | None) -> int:
        self._out += 1
        self.t_outbox.append(ctypes.string_at(buf, length))
        if not self.t_out_scheduled:
            self.t_out_scheduled = True
            assert self.t_token is not None
            self.t_token.run_sync_soon(self._flush_outbox)
        return length

    def _flush_outbox(self) -> None:
        self.t_out_scheduled = False
        outbox = self.t_outbox
        deliver = self.deliver
        while outbox:
            try:
                deliver(outbox.popleft())
            except Exception:
                self._drop_out += 1

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        self.t_token = trio.lowlevel.current_trio_token()
        started = trio.Event()
        token = self.t_token
        self.t_thread = threading.Thread(
            target=self._thread_main, args=(lambda: token.run_sync_soon(started.set),), daemon=True
        )
        self.t_thread.start()
        try:
            await started.wait()
            if self.t_error is not None:
                raise self.t_error
            task_status.started()
            await trio.sleep_forever()
        finally:
            self.t_stop = True
            os.write(self.t_wake_w, b"x")
            with trio.CancelScope(shield=True):
                await trio.to_thread.run_sync(self.t_thread.join)
            os.close(self.t_wake_r)
            os.close(self.t_wake_w)

    def _thread_main(self, announce_started: object) -> None:
        lib = self._lib
        config = slirp_config(self.settings)
        epoll = select.epoll()
        self._epoll = epoll
        slirp = lib.slirp_new(byref(config), byref(self._callbacks), None)
        try:
            if not slirp:
                raise RuntimeError("slirp_new failed")
            self._slirp = slirp
            for forward in self.settings.forwards:
                self.add_forward(forward)
        except BaseException as exc:  # reported by run()
            self.t_error = exc
            announce_started()  # type: ignore[operator]
            return
        announce_started()  # type: ignore[operator]
        timeout = c_uint32()
        wake_r = self.t_wake_r
        inbox = self.t_inbox
        slirp_input = self._slirp_input
        try:
            while not self.t_stop:
                self._turns += 1
                self._poll_fds.clear()
                self._want.clear()
                timeout.value = FOREVER_MS
                self._enter(lib.slirp_pollfds_fill, slirp, byref(timeout), self._add_poll, None)
                self._want[wake_r] = select.EPOLLIN
                self._sync_epoll(epoll)
                delay_ms = timeout.value
                next_timer = self._timers.next_deadline()
                if next_timer is not None:
                    delay_ms = min(delay_ms, max(0, next_timer - self.clock_ns() // 1_000_000))
                wait = -1 if delay_ms == FOREVER_MS else delay_ms / 1000
                self._ready = dict(epoll.poll(wait))
                if wake_r in self._ready:
                    try:
                        os.read(wake_r, 4096)
                    except BlockingIOError:
                        pass
                    self.t_in_signalled = False
                    while inbox:
                        frame = inbox.popleft()
                        self._in += 1
                        slirp_input(slirp, frame, len(frame))
                self._enter(lib.slirp_pollfds_poll, slirp, 0, self._get_revents, None)
                for timer_id, cb_opaque, callback in self._timers.pop_due(
                    self.clock_ns() // 1_000_000
                ):
                    if callback is not None:
                        callback(cb_opaque)
                    else:
                        lib.slirp_handle_timer(slirp, timer_id, cb_opaque)
        finally:
            self._slirp = None
            lib.slirp_cleanup(slirp)
            epoll.close()
            self._epoll = None
