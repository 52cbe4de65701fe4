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
