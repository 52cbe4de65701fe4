"""Bad input on the data socket (spec §8, right-hand column): refused with a log line, counted,
the switch keeps running, every other client stays connected, no port or socket file leaks."""

from __future__ import annotations

import logging
import os
import struct
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest
import trio
import trio.testing
from harness import RawConsole, RawVdeClient, sockets_in, wait_until
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import vdex.vde.server
from vdex.errors import FrameError
from vdex.runtime.switch import Switch
from vdex.testing import AsyncVdeClient, eth_frame, mac, running_switch
from vdex.testing.frames import BROADCAST
from vdex.vde.request import (
    V1_HEADER_LEN,
    V3_HEADER_LEN,
    PortRequest,
    build_request,
    needed_length,
    parse_request,
)

SHORT_TIMEOUT = 0.3


@pytest.fixture(autouse=True)
def quick_request_timeout(monkeypatch: pytest.MonkeyPatch,
                          caplog: pytest.LogCaptureFixture) -> None:
    """A client that never completes its request is closed after REQUEST_TIMEOUT; shorter here
    so the tests need not wait 5 s. Log records of vdex from INFO up are captured."""
    monkeypatch.setattr(vdex.vde.server, "REQUEST_TIMEOUT", SHORT_TIMEOUT)
    caplog.set_level(logging.INFO, logger="vdex")


@asynccontextmanager
async def bystanders(sockdir: str, **options: object) -> AsyncIterator[tuple[Switch, list[
        AsyncVdeClient]]]:
    """A switch with two connected clients that must not notice anything."""
    async with running_switch(sockdir, **options) as sw, \
            await AsyncVdeClient.connect(sw.options.sock, description="A") as a, \
            await AsyncVdeClient.connect(sw.options.sock, description="B") as b:
        yield sw, [a, b]
        await undisturbed(sw, [a, b])


async def undisturbed(sw: Switch, clients: list[AsyncVdeClient]) -> None:
    a, b = clients
    await a.send(eth_frame(BROADCAST, mac(1), b"still here"))
    assert await b.recv() == eth_frame(BROADCAST, mac(1), b"still here")
    await b.send(eth_frame(mac(1), mac(2), b"and back"))
    assert await a.recv() == eth_frame(mac(1), mac(2), b"and back")
    await wait_until(lambda: sorted(p.number for p in sw.engine.ports) == [1, 2],
                     what="no other port left allocated")
    await wait_until(lambda: sockets_in(sw.options.sock) == sorted(
        ["ctl", *(os.path.basename(c.switch_path) for c in clients)]),
        what="no stray socket file")


def v3(path: str, descr: bytes = b"bad client", *, magic: int = 0xFEEDFACE, version: int = 3,
       req_type: int = 0, family: int = 1) -> bytes:
    return struct.pack("=IIIH108s", magic, version, req_type, family, path.encode()) + descr


BAD_REQUESTS: dict[str, tuple[Callable[[str], list[bytes]], str]] = {
    # name: (chunks to send given the client's socket path, expected log fragment)
    "wrong magic (big-endian)": (lambda p: [v3(p, magic=0xCEFAEDFE)], "bad magic"),
    "magic 0": (lambda p: [v3(p, magic=0)], "bad magic"),
    "version 2": (lambda p: [v3(p, version=2)], "version 2"),
    "version 4": (lambda p: [v3(p, version=4)], "version 4"),
    "bad type 5": (lambda p: [v3(p, req_type=5)], "bad request type 5"),
    "bad type 0x702": (lambda p: [v3(p, req_type=0x702)], "bad request type 2"),
    "family not AF_UNIX": (lambda p: [v3(p, family=2)], "family 2"),
    "unknown client path": (lambda p: [v3(p + "-missing")], "does not exist"),
    "client path is not a socket": (lambda p: [v3(os.path.dirname(p) + "/plainfile")],
                                    "cannot connect"),
    "abstract client address": (lambda p: [v3("\0abstract")], "no path"),
    "port out of range": (lambda p: [v3(p, req_type=99 << 8)], "out of range"),
    "8 bytes then EOF": (lambda p: [v3(p)[:8]], "closed after 8 bytes"),
    "nothing then EOF": (lambda p: [], "closed after 0 bytes"),
    "garbage": (lambda p: [b"GET / HTTP/1.0\r\n\r\n" + bytes(200)], "bad magic"),
}


@pytest.mark.parametrize("name", list(BAD_REQUESTS))
async def test_bad_request_is_refused_at_once(sockdir: str, name: str,
                                              caplog: pytest.LogCaptureFixture) -> None:
    build, log_fragment = BAD_REQUESTS[name]
    open(os.path.join(sockdir, "plainfile"), "w").close()
    async with bystanders(sockdir) as (sw, _clients):
        refused = sw.datasock.stats.refused
        async with await RawVdeClient.open(os.path.join(sw.options.sock, "ctl"), sockdir) as raw:
            chunks = build(raw.path)
            for chunk in chunks:
                await raw.send(chunk)
            if name.endswith("EOF"):
                raw.ctl.shutdown(1)  # SHUT_WR
            assert await raw.reply(timeout=2) == b"", "closed without a reply"
        assert sw.datasock.stats.refused == refused + 1
        messages = " | ".join(r.getMessage() for r in caplog.records)
        assert log_fragment in messages, messages


@pytest.mark.parametrize("chunk", [8, 12, 121], ids=lambda n: f"{n}-bytes")
async def test_truncated_request_is_closed_after_the_timeout(sockdir: str, chunk: int,
                                                             caplog: pytest.LogCaptureFixture
                                                             ) -> None:
    async with bystanders(sockdir) as (sw, _clients), \
            await RawVdeClient.open(os.path.join(sw.options.sock, "ctl"), sockdir) as raw:
        await raw.send(v3(raw.path)[:chunk])
        start = trio.current_time()
        assert await raw.reply(timeout=SHORT_TIMEOUT + 2) == b""
        assert trio.current_time() - start >= SHORT_TIMEOUT * 0.9
        assert "no complete request" in caplog.text


async def test_request_split_across_writes_is_put_together(sockdir: str) -> None:
    async with bystanders(sockdir) as (sw, _clients), \
            await RawVdeClient.open(os.path.join(sw.options.sock, "ctl"), sockdir) as raw:
        request = build_request(raw.path, "split in two")
        await raw.send(request[:60])
        await trio.testing.wait_all_tasks_blocked()
        await raw.send(request[60:])
        assert len(await raw.reply()) == 110
        assert sw.engine.ports.get(3).endpoints[0].description == "split in two"
        raw.close()
        await wait_until(lambda: not sw.engine.ports.get(3).active, what="port 3 to be freed")
        assert sw.engine.ports.remove(3)


async def test_oversized_request_truncates_the_description(sockdir: str,
                                                           caplog: pytest.LogCaptureFixture
                                                           ) -> None:
    async with bystanders(sockdir) as (sw, _clients), \
            await RawVdeClient.open(os.path.join(sw.options.sock, "ctl"), sockdir) as raw:
        await raw.send(v3(raw.path, b"D" * 300))
        assert len(await raw.reply()) == 110
        description = sw.engine.ports.get(3).endpoints[0].description
        assert description == "D" * len(description) and 0 < len(description) <= 134
        await wait_until(lambda: "unexpected bytes" in caplog.text, what="the excess logged")
        assert sw.engine.ports.get(3).active, "the excess does not cost the client its port"
        raw.close()
        await wait_until(lambda: not sw.engine.ports.get(3).active, what="port 3 to be freed")
        sw.engine.ports.remove(3)


async def test_bytes_after_the_handshake_are_ignored_and_logged_once(
        sockdir: str, caplog: pytest.LogCaptureFixture) -> None:
    async with bystanders(sockdir) as (sw, clients), \
            await RawVdeClient.open(os.path.join(sw.options.sock, "ctl"), sockdir) as raw:
        await raw.send(build_request(raw.path, "chatty"))
        reply = await raw.reply()
        for _ in range(3):
            await raw.send(v3(raw.path))
        await wait_until(lambda: "unexpected bytes" in caplog.text, what="a log line")
        assert caplog.text.count("unexpected bytes") == 1
        await raw.data.connect(reply[2:].rstrip(b"\0").decode())
        await raw.data.send(eth_frame(BROADCAST, mac(7), b"chatty but working"))
        for client in clients:
            assert await client.recv() == eth_frame(BROADCAST, mac(7), b"chatty but working")
        raw.close()
        await wait_until(lambda: not sw.engine.ports.get(3).active, what="port 3 to be freed")
        sw.engine.ports.remove(3)


async def test_no_free_port_is_refused_at_once(sockdir: str) -> None:
    """numports 3: ports 1 and 2 are taken by the bystanders; a third client gets ENOSPC."""
    async with bystanders(sockdir, numports=3) as (sw, _clients), \
            await RawVdeClient.open(os.path.join(sw.options.sock, "ctl"), sockdir) as raw:
        await raw.send(build_request(raw.path, "one too many"))
        assert await raw.reply(timeout=2) == b""


async def test_an_explicit_port_of_another_user_is_refused_and_not_leaked(sockdir: str) -> None:
    async with bystanders(sockdir) as (sw, _clients):
        ctl = os.path.join(sw.options.sock, "ctl")
        async with await RawVdeClient.open(ctl, sockdir, "other-user") as raw:
            os.chown(raw.path, 65534, 65534)
            await raw.send(build_request(raw.path, "nobody on 2", port=2))
            assert await raw.reply(timeout=2) == b"", "port 2 is root's"
        async with await RawVdeClient.open(ctl, sockdir, "fresh") as raw:
            await raw.send(build_request(raw.path, "refused", port=40))
            assert await raw.reply(timeout=2) == b"", "out of range"


@pytest.mark.parametrize("sizes", [[0], [1, 13], [1519, 1600, 9000], [0, 5, 9000, 13]],
                         ids=["empty", "runts", "oversize", "mixed"])
async def test_frames_under_14_or_over_1518_bytes_are_dropped_counted_and_logged(
        sockdir: str, sizes: list[int], caplog: pytest.LogCaptureFixture) -> None:
    async with bystanders(sockdir) as (sw, clients), \
            await RawConsole.connect(sw.options.mgmt) as console:
        await console.banner()
        a, b = clients
        for size in sizes:
            await a.data.send((eth_frame(BROADCAST, mac(1)) + bytes(size))[:size])
        await a.send(eth_frame(BROADCAST, mac(1), bytes(1504)))  # 1518: the largest kept
        assert len(await b.recv()) == 1518
        runts = sum(1 for n in sizes if 0 < n < 14)
        oversize = sum(1 for n in sizes if n > 1518)
        port = sw.engine.ports.get(1)
        assert (port.drops.runt, port.drops.oversize) == (runts, oversize)
        assert port.in_frames == 1, "only the good frame counts as received"
        reply = await console.command("port/counters 1")
        assert f"runt={runts} oversize={oversize}" in reply
        if runts or oversize:
            assert "port 1" in caplog.text and "dropped" in caplog.text, caplog.text
        await b.expect_nothing(0.05)


# ---------------------------------------------------------------------- the parser alone


@given(st.binary(max_size=400))
def test_request_parser_parses_or_raises_frame_error(data: bytes) -> None:
    try:
        request = parse_request(data)
    except FrameError:
        return
    assert isinstance(request, PortRequest)
    assert len(data) >= (V1_HEADER_LEN if request.version == 1 else V3_HEADER_LEN)
    assert len(request.description) <= 134
    assert request.port >= -1


@given(st.binary(min_size=1, max_size=100).filter(lambda b: b"\0" not in b),
       st.text(max_size=200), st.integers(-1, (1 << 23) - 1))
def test_built_requests_parse_back(path: bytes, description: str, port: int) -> None:
    request = parse_request(build_request(path, description, port=port))
    assert (request.version, request.port, request.path, request.abstract) == \
        (3, port, path, False)
    expected = description.encode()[:128].split(b"\0", 1)[0].decode("utf-8", "replace")
    assert request.description == expected, "C string: up to the first NUL"


@given(st.binary(max_size=300))
def test_needed_length_is_enough_to_parse_or_refuse(data: bytes) -> None:
    """What the server waits for before parsing: parsing then never fails for lack of bytes."""
    need = needed_length(data)
    if len(data) >= need:
        try:
            parse_request(data)
        except FrameError as exc:
            assert "too short" not in str(exc)


# ---------------------------------------------------------------------- the server, fuzzed

request_shapes = st.tuples(
    st.sampled_from(["random", "valid", "truncated", "mutated", "v1"]),
    st.binary(max_size=300),
    st.integers(0, 300),
    st.lists(st.tuples(st.integers(0, 300), st.integers(0, 255)), max_size=4),
    st.lists(st.integers(1, 300), max_size=3),
)


def shape_request(shape: tuple[str, bytes, int, list[tuple[int, int]], list[int]], path: str
                  ) -> list[bytes]:
    kind, blob, cut, flips, splits = shape
    valid = build_request(path, "fuzz")
    if kind == "random":
        data = blob
    elif kind == "valid":
        data = valid + blob[:20]
    elif kind == "truncated":
        data = valid[:cut]
    elif kind == "v1":
        data = (struct.pack("=II", 0xFEEDFACE, cut % 3) + bytes(6)
                + struct.pack("=H108s", 1, path.encode()) + blob[:50])
    else:
        buf = bytearray(valid)
        for pos, value in flips:
            if pos < len(buf):
                buf[pos] = value
        data = bytes(buf)
    points = sorted({s for s in splits if s < len(data)})
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in zip(bounds, bounds[1:], strict=False) if data[a:b]]


async def test_arbitrary_requests_get_a_reply_or_a_closed_stream(sockdir: str) -> None:
    """Whatever a client sends on ctl, in whatever pieces, it gets exactly the 110-byte reply
    or a closed stream, never a hang; the switch survives and frees what it gave."""
    async with bystanders(sockdir) as (sw, _clients):
        ctl = os.path.join(sw.options.sock, "ctl")
        token = trio.lowlevel.current_trio_token()
        counter = iter(range(10**6))

        async def one(shape: tuple[str, bytes, int, list[tuple[int, int]], list[int]]) -> None:
            async with await RawVdeClient.open(ctl, sockdir, f"fz{next(counter)}") as raw:
                try:
                    for chunk in shape_request(shape, raw.path):
                        await raw.send(chunk)
                        await trio.sleep(0)
                    raw.ctl.shutdown(1)  # SHUT_WR: an incomplete request ends here
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the switch refused what it had already: it closed the stream
                reply = await raw.reply(timeout=3)
                assert len(reply) in (0, 110), reply

        @settings(max_examples=150, deadline=None,
                  suppress_health_check=[HealthCheck.too_slow])
        @given(request_shapes)
        def check(shape: tuple[str, bytes, int, list[tuple[int, int]], list[int]]) -> None:
            trio.from_thread.run(one, shape, trio_token=token)

        await trio.to_thread.run_sync(check)
        await wait_until(lambda: [p.number for p in sw.engine.ports.active()] == [1, 2],
                         what="every fuzz client's port to be freed")
        for port in list(sw.engine.ports):
            if port.number not in (1, 2):
                sw.engine.ports.remove(port.number)
