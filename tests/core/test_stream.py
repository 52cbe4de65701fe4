"""The VDE stream framing decoder: however a byte stream is split into reads, the same frames."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from vdex._core.stream import MAX_STREAM_FRAME, StreamDecoder, encode, encode_header


def decode(chunks: list[bytes], **kwargs: int) -> tuple[list[bytes], StreamDecoder]:
    decoder = StreamDecoder(**kwargs)
    out: list[bytes] = []
    for chunk in chunks:
        decoder.feed(chunk, out.append)
    return out, decoder


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]


def test_encoding_is_a_big_endian_length_prefix() -> None:
    assert encode(b"\x01" * 14) == b"\x00\x0e" + b"\x01" * 14
    assert encode_header(300) == b"\x01\x2c"
    assert encode(b"") == b"\x00\x00"


def test_records_in_one_read_and_split_over_reads() -> None:
    stream = encode(b"a" * 14) + encode(b"b" * 60) + encode(b"c" * 300)
    assert decode([stream])[0] == [b"a" * 14, b"b" * 60, b"c" * 300]
    assert decode([bytes([b]) for b in stream])[0] == [b"a" * 14, b"b" * 60, b"c" * 300]


def test_a_read_ending_between_the_two_length_bytes_keeps_sync() -> None:
    """Both reference parsers lose this byte and desynchronise; vdex must not."""
    stream = encode(b"x" * 20) + encode(b"y" * 20)
    frames, decoder = decode([stream[:23]])
    assert frames == [b"x" * 20] and decoder.pending == 1
    decoder.feed(stream[23:], frames.append)
    assert frames == [b"x" * 20, b"y" * 20] and decoder.pending == 0


def test_zero_length_records_are_skipped_and_counted() -> None:
    frames, decoder = decode([b"\x00\x00" + encode(b"z" * 14) + b"\x00\x00\x00\x00"])
    assert frames == [b"z" * 14]
    assert (decoder.stats.frames, decoder.stats.empty) == (1, 3)


def test_oversize_records_are_skipped_with_sync_kept() -> None:
    big = b"B" * (MAX_STREAM_FRAME + 1)
    stream = encode(b"1" * 14) + encode(big) + encode(b"2" * 14)
    for chunks in ([stream], split(stream, [5, 100, 5000, 9000]), [stream[:17], stream[17:]]):
        frames, decoder = decode(chunks)
        assert frames == [b"1" * 14, b"2" * 14]
        assert decoder.stats.oversize == 1 and decoder.pending == 0


def test_largest_record_is_delivered() -> None:
    frame = b"L" * MAX_STREAM_FRAME
    assert decode([encode(frame)])[0] == [frame]


records = st.lists(
    st.one_of(st.just(b""), st.binary(min_size=1, max_size=80), st.binary(min_size=1400,
                                                                          max_size=1600)),
    max_size=12)


@given(records, st.lists(st.integers(min_value=0, max_value=1 << 20), max_size=30))
def test_any_split_gives_the_same_frames(frames: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(encode(f) for f in frames)
    got, decoder = decode(split(stream, cuts))
    assert got == [f for f in frames if f]
    assert decoder.stats.empty == frames.count(b"")
    assert decoder.pending == 0


@given(st.lists(st.binary(max_size=120), max_size=12),
       st.lists(st.integers(min_value=0, max_value=1 << 16), max_size=20))
def test_oversize_records_never_break_sync(frames: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(encode(f) for f in frames)
    got, decoder = decode(split(stream, cuts), max_frame=50)
    assert got == [f for f in frames if 0 < len(f) <= 50]
    assert decoder.stats.oversize == sum(1 for f in frames if len(f) > 50)
    assert decoder.pending == 0


@given(st.binary(max_size=3000), st.lists(st.integers(min_value=0, max_value=4000), max_size=10))
def test_garbage_never_crashes_and_split_does_not_matter(data: bytes, cuts: list[int]) -> None:
    whole, _ = decode([data])
    pieces, _ = decode(split(data, cuts))
    assert whole == pieces


# ---------------------------------------------------------------------- relay (verbatim runs)


def relay(chunks: list[bytes], **kwargs: int) -> tuple[bytes, int, list[int], StreamDecoder]:
    """What a relay writes for ``chunks``: the bytes, the records passed, the size of each write."""
    decoder = StreamDecoder(**kwargs)
    out = bytearray()
    writes: list[int] = []

    def write(run: bytes | memoryview) -> None:
        out.extend(run)
        writes.append(len(run))

    passed = sum(decoder.relay(chunk, write) for chunk in chunks)
    return bytes(out), passed, writes, decoder


def test_relay_passes_whole_records_in_one_write_per_run() -> None:
    stream = encode(b"a" * 14) + encode(b"b" * 60) + encode(b"c" * 300)
    out, passed, writes, decoder = relay([stream])
    assert (out, passed, writes) == (stream, 3, [len(stream)])
    assert decoder.stats.frames == 3 and decoder.pending == 0


def test_relay_keeps_a_split_record_and_passes_it_alone_when_complete() -> None:
    first, second, third = encode(b"x" * 20), encode(b"y" * 40), encode(b"z" * 30)
    stream = first + second + third
    cut = len(first) + 10  # inside the second record
    out, passed, writes, _ = relay([stream[:cut], stream[cut:]])
    assert out == stream and passed == 3
    assert writes == [len(first), len(second), len(third)]


def test_relay_and_feed_share_one_state() -> None:
    """A direction may switch between relaying and decoding in mid-stream (a console command)."""
    frames = [bytes([n]) * (20 + n) for n in range(6)]
    stream = b"".join(encode(f) for f in frames)
    decoder = StreamDecoder()
    delivered: list[bytes] = []
    relayed = bytearray()
    for i, chunk in enumerate(split(stream, [7, 50, 51, 120])):
        if i % 2:
            decoder.relay(chunk, relayed.extend)
        else:
            decoder.feed(chunk, delivered.append)
    decoded_relay = decode([bytes(relayed)])[0]
    assert sorted(delivered + decoded_relay) == sorted(frames)
    assert decoder.pending == 0 and decoder.stats.frames == len(frames)


def test_relay_skips_empty_and_oversize_records() -> None:
    big = b"B" * (MAX_STREAM_FRAME + 1)
    good1, good2 = encode(b"1" * 14), encode(b"2" * 14)
    stream = good1 + b"\x00\x00" + encode(big) + good2
    for chunks in ([stream], split(stream, [1, 17, 18, 5000, 9300])):
        out, passed, _, decoder = relay(chunks)
        assert out == good1 + good2 and passed == 2
        assert (decoder.stats.empty, decoder.stats.oversize, decoder.pending) == (1, 1, 0)


@given(records, st.lists(st.integers(min_value=0, max_value=1 << 20), max_size=30))
def test_relay_of_any_split_gives_the_stream_without_bad_records(frames: list[bytes],
                                                                  cuts: list[int]) -> None:
    stream = b"".join(encode(f) for f in frames)
    out, passed, _, decoder = relay(split(stream, cuts), max_frame=1500)
    kept = [f for f in frames if 0 < len(f) <= 1500]
    assert out == b"".join(encode(f) for f in kept)
    assert passed == len(kept) == decoder.stats.frames
    assert decoder.stats.oversize == sum(1 for f in frames if len(f) > 1500)
    assert decoder.pending == 0


@given(st.binary(max_size=3000), st.lists(st.integers(min_value=0, max_value=4000), max_size=10),
       st.lists(st.booleans(), max_size=12))
def test_relay_of_garbage_matches_feed(data: bytes, cuts: list[int], modes: list[bool]) -> None:
    """Whatever the bytes and however relay and feed alternate, the same frames come out."""
    expected, _ = decode([data])
    decoder = StreamDecoder()
    got: list[bytes] = []
    relayed = bytearray()
    for i, chunk in enumerate(split(data, cuts)):
        if modes[i % len(modes)] if modes else False:
            before = len(relayed)
            decoder.relay(chunk, relayed.extend)
            got += decode([bytes(relayed[before:])])[0]
        else:
            decoder.feed(chunk, got.append)
    assert got == expected
