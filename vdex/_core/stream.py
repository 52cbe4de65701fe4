"""The VDE stream framing: each frame as a 2-byte big-endian length and the frame bytes.

vde_plug, dpipe cables, wirefilter and ``cmd://`` all carry frames this way over pipes and byte
streams. Both reference parsers lose sync when a read ends between the two length bytes (the
stalls measured in bench/ANCHORS.md); :class:`StreamDecoder` keeps every partial record, however
the bytes are split, and never loses sync on an honest stream.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

HEADER_LEN = 2
MAX_STREAM_FRAME = 9234
"""libvdeplug's largest record (VDE_ETHBUFSIZE); longer records are skipped, not fatal."""


def encode_header(frame_len: int) -> bytes:
    """The 2-byte length prefix for a frame of ``frame_len`` bytes."""
    return frame_len.to_bytes(2, "big")


def encode(frame: bytes) -> bytes:
    """One record: length prefix and frame (use :func:`encode_header` with writev to avoid a copy)."""
    return len(frame).to_bytes(2, "big") + frame


@attrs.define(eq=False, kw_only=True)
class StreamStatistics:
    frames: int = 0
    empty: int = 0
    """Zero-length records (skipped, as libvdeplug does)."""
    oversize: int = 0
    """Records longer than ``max_frame``: their bytes are consumed and dropped, sync is kept."""


class StreamDecoder:
    """Reassemble records from arbitrary chunks of a byte stream.

    ``feed(data, deliver)`` calls ``deliver(frame)`` for every complete record, in order. A record
    split anywhere, even between its two length bytes, is kept until the rest arrives.
    ``relay(data, write)`` does the same for a relay, passing whole records on verbatim.
    """

    __slots__ = ("_buf", "_skip", "max_frame", "stats")

    def __init__(self, *, max_frame: int = MAX_STREAM_FRAME) -> None:
        self._buf = bytearray()
        self._skip = 0
        self.max_frame = max_frame
        self.stats = StreamStatistics()

    @property
    def pending(self) -> int:
        """Bytes held back waiting for the rest of a record."""
        return len(self._buf)

    def feed(self, data: bytes, deliver: Callable[[bytes], None]) -> None:
        if self._skip:
            if len(data) <= self._skip:
                self._skip -= len(data)
                return
            data = data[self._skip :]
            self._skip = 0
        if self._buf:
            self._buf += data
            data = bytes(self._buf)
            self._buf.clear()
        stats = self.stats
        max_frame = self.max_frame
        pos = 0
        end = len(data)
        while end - pos >= HEADER_LEN:
            length = (data[pos] << 8) | data[pos + 1]
            start = pos + HEADER_LEN
            if length == 0:
                stats.empty += 1
                pos = start
                continue
            if length > max_frame:
                stats.oversize += 1
                if end - start < length:
                    self._skip = length - (end - start)
                    return
                pos = start + length
                continue
            if end - start < length:
                break
            pos = start + length
            stats.frames += 1
            deliver(data[start:pos])
        if pos < end:
            self._buf += data[pos:]

    def relay(self, data: bytes, write: Callable[[bytes | memoryview], object]) -> int:
        """Pass whole records on unchanged; return how many were passed.

        The form of :meth:`feed` for a relay that forwards a stream as it is (an unimpaired
        wirefilter direction): ``write`` gets each run of consecutive whole records verbatim,
        length headers included, one call per run instead of one ``deliver`` per frame. The
        state is :meth:`feed`'s, so the two may alternate on one stream: the record held from
        the previous chunk is completed first and passed alone (only its own bytes are copied),
        empty and oversize records are skipped and counted (a run ends before them), and the
        incomplete record at the end is kept. ``write`` must be done with its argument (often a
        view of ``data``) when it returns.
        """
        stats = self.stats
        max_frame = self.max_frame
        pos = 0
        end = len(data)
        if self._skip:
            if end <= self._skip:
                self._skip -= end
                return 0
            pos = self._skip
            self._skip = 0
        passed = 0
        buf = self._buf
        if buf:
            if len(buf) < HEADER_LEN:  # the last chunk ended between the two length bytes
                buf += data[pos:]
                data = bytes(buf)
                buf.clear()
                pos, end = 0, len(data)
            else:  # a held record always has a valid length: complete it
                need = HEADER_LEN + ((buf[0] << 8) | buf[1]) - len(buf)
                if end - pos < need:
                    buf += data[pos:]
                    return 0
                buf += data[pos:pos + need]
                pos += need
                passed = 1
                write(bytes(buf))
                buf.clear()
        run = pos
        while end - pos >= HEADER_LEN:
            length = (data[pos] << 8) | data[pos + 1]
            if 0 < length <= max_frame:
                stop = pos + HEADER_LEN + length
                if stop > end:
                    break
                pos = stop
                passed += 1
                continue
            if run < pos:
                write(memoryview(data)[run:pos])
            if length == 0:
                stats.empty += 1
                pos += HEADER_LEN
            else:
                stats.oversize += 1
                if end - pos - HEADER_LEN < length:
                    self._skip = length - (end - pos - HEADER_LEN)
                    stats.frames += passed
                    return passed
                pos += HEADER_LEN + length
            run = pos
        if run < pos:
            write(data if run == 0 and pos == end else memoryview(data)[run:pos])
        if pos < end:
            buf += memoryview(data)[pos:]
        stats.frames += passed
        return passed
