"""The bridge in this process, fed hand-built frames; collected only in an isolated namespace.

test_slirp_inside_netns.py runs this folder inside a fresh namespace holding only ``lo`` (see
../conftest.py). Replies to ARP, ICMP echo and DHCP come out of libslirp synchronously from
``slirp_input``, so most checks need no waiting at all.
"""

from __future__ import annotations

import errno
import os
import socket
import threading
import time
from ipaddress import IPv4Address, IPv6Address

import pytest
import trio
from slirp_frames import (
    GATEWAY_MAC,
    arp_request,
    dhcp_discover,
    dhcp_request,
    icmp_echo,
    is_arp_reply,
    is_echo_reply,
    is_router_advertisement,
    mac,
    parse_dhcp_reply,
)

from vdex.errors import PortError
from vdex_plugins.slirp import HostForward, SlirpBridge, SlirpSettings, open_slirp


def free_port(family: socket.AddressFamily = socket.AF_INET) -> int:
    with socket.socket(family) as sock:
        sock.bind(("::1" if family == socket.AF_INET6 else "127.0.0.1", 0))
        return int(sock.getsockname()[1])


def dhcp_replies(frames: list[bytes]) -> list[dict[str, object]]:
    return [reply for frame in frames if (reply := parse_dhcp_reply(frame)) is not None]


def forward(port: int, host: str = "127.0.0.1") -> HostForward:
    host_addr = IPv6Address(host) if ":" in host else IPv4Address(host)
    return HostForward(
        protocol="tcp",
        host_addr=host_addr,
        host_port=port,
        guest_addr=IPv4Address("10.0.2.15"),
        guest_port=80,
    )


def connects(port: int, host: str = "127.0.0.1") -> bool:
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError:
        return False
    return True


async def test_dhcp_leases_are_kept_per_mac() -> None:
    frames: list[bytes] = []
    async with open_slirp(SlirpSettings(dhcp=True), frames.append) as bridge:
        for n, expected in ((1, "10.0.2.15"), (2, "10.0.2.16"), (1, "10.0.2.15"), (3, "10.0.2.17")):
            frames.clear()
            bridge.send_frame(dhcp_discover(mac(n), xid=100 + n))
            (offer,) = dhcp_replies(frames)
            assert offer["type"] == 2  # OFFER
            assert offer["chaddr"] == mac(n) and offer["xid"] == 100 + n
            assert offer["yiaddr"] == expected
            options = offer["options"]
            assert isinstance(options, dict)
            assert options[3] == IPv4Address("10.0.2.2").packed  # router
            assert options[6] == IPv4Address("10.0.2.3").packed  # DNS
        frames.clear()
        bridge.send_frame(dhcp_request(mac(2), 7, requested="10.0.2.16", server="10.0.2.2"))
        (ack,) = dhcp_replies(frames)
        assert ack["type"] == 5 and ack["yiaddr"] == "10.0.2.16"
        frames.clear()
        bridge.send_frame(dhcp_request(mac(2), 8, requested="10.0.2.15", server="10.0.2.2"))
        (nak,) = dhcp_replies(frames)
        assert nak["type"] == 6  # another guest's address is refused


async def test_no_dhcp_unless_enabled() -> None:
    frames: list[bytes] = []
    async with open_slirp(SlirpSettings(dhcp=False), frames.append) as bridge:
        bridge.send_frame(dhcp_discover(mac(1), xid=1))
        assert dhcp_replies(frames) == []


async def test_arp_and_ping_for_two_guests() -> None:
    frames: list[bytes] = []
    async with open_slirp(SlirpSettings(), frames.append) as bridge:
        for n, ip in ((1, "10.0.2.15"), (2, "10.0.2.16")):
            frames.clear()
            bridge.send_frame(arp_request(mac(n), ip, "10.0.2.2"))
            (reply,) = frames
            assert is_arp_reply(reply, "10.0.2.2", ip) and reply[:6] == mac(n)
            assert reply[6:12] == GATEWAY_MAC
        for n, ip in ((1, "10.0.2.15"), (2, "10.0.2.16")):
            frames.clear()
            bridge.send_frame(icmp_echo(mac(n), GATEWAY_MAC, ip, "10.0.2.2", ident=n, seq=1))
            (reply,) = frames
            assert is_echo_reply(reply, n, 1)
            assert reply[:6] == mac(n), "each guest gets its own reply"


async def test_bad_frames_are_counted_not_fatal() -> None:
    frames: list[bytes] = []
    bridge = SlirpBridge(settings=SlirpSettings(), deliver=frames.append)
    bridge.send_frame(arp_request(mac(1), "10.0.2.15", "10.0.2.2"))  # not running yet
    async with trio.open_nursery() as nursery:
        await nursery.start(bridge.run)
        bridge.send_frame(b"\x00" * 10)
        bridge.send_frame(b"\x00" * 70000)
        bridge.send_frame(bytearray(arp_request(mac(1), "10.0.2.15", "10.0.2.2")))
        bridge.send_frame(b"\xff" * 60)  # garbage of a legal size: libslirp ignores it
        stats = bridge.statistics()
        assert stats.dropped_from_guest == 3
        assert stats.frames_from_guest == 2
        assert len(frames) == 1
        nursery.cancel_scope.cancel()
    assert not bridge.running


async def test_deliver_that_raises_is_counted() -> None:
    def broken(_frame: bytes) -> None:
        raise RuntimeError("sink is broken")

    async with open_slirp(SlirpSettings(), broken) as bridge:
        bridge.send_frame(arp_request(mac(1), "10.0.2.15", "10.0.2.2"))
        bridge.send_frame(arp_request(mac(1), "10.0.2.15", "10.0.2.3"))
        stats = bridge.statistics()
        assert stats.dropped_to_guest == 2 and stats.frames_to_guest == 2
        assert bridge.running


async def test_deliver_may_feed_frames_back_without_reentering_libslirp() -> None:
    """A sink that loops frames straight back (a hub with a loop) is queued, not re-entered."""
    frames: list[bytes] = []
    bridges: list[SlirpBridge] = []
    depth_seen: list[int] = []

    def bounce(frame: bytes) -> None:
        frames.append(frame)
        depth_seen.append(bridges[0]._depth)
        if len(frames) < 5:
            bridges[0].send_frame(arp_request(mac(len(frames) + 1), "10.0.2.15", "10.0.2.2"))

    async with open_slirp(SlirpSettings(), bounce) as bridge:
        bridges.append(bridge)
        bridge.send_frame(arp_request(mac(1), "10.0.2.15", "10.0.2.2"))
        assert len(frames) == 5
        assert [f[:6] for f in frames] == [mac(n) for n in range(1, 6)]
        assert depth_seen == [1] * 5, "every frame was delivered from a non-nested call"
        assert bridge.statistics().frames_from_guest == 5


async def test_forwards_add_remove_and_errors() -> None:
    port = free_port()
    async with open_slirp(SlirpSettings(forwards=(forward(port),)), lambda f: None) as bridge:
        assert connects(port)
        assert "HOST_FORWARD" in bridge.connection_info()
        with pytest.raises(PortError) as exc:
            bridge.add_forward(forward(port))
        assert exc.value.errno == errno.EEXIST
        bridge.remove_forward(forward(port))
        assert not connects(port)
        with pytest.raises(PortError) as exc:
            bridge.remove_forward(forward(port))
        assert exc.value.errno == errno.ENOENT
        port6 = free_port(socket.AF_INET6)
        bridge.add_forward(forward(port6, "::1"))
        assert connects(port6, "::1")
        assert bridge.forwards == (forward(port6, "::1"),)
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            with pytest.raises(PortError) as exc:
                bridge.add_forward(forward(taken.getsockname()[1]))
            assert exc.value.errno == errno.EADDRINUSE
    with pytest.raises(PortError) as exc:
        bridge.add_forward(forward(port))
    assert exc.value.errno == errno.ENOTCONN


async def test_forward_in_use_fails_the_start() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        settings = SlirpSettings(forwards=(forward(taken.getsockname()[1]),))
        with pytest.raises(PortError) as exc:
            async with open_slirp(settings, lambda f: None):
                pytest.fail("must not start")  # pragma: no cover
        assert exc.value.errno == errno.EADDRINUSE


def open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


async def test_cancellation_releases_everything() -> None:
    await trio.lowlevel.checkpoint()
    fds_before = open_fds()
    threads_before = threading.active_count()
    port = free_port()
    frames: list[bytes] = []
    with trio.CancelScope() as scope:
        async with open_slirp(SlirpSettings(forwards=(forward(port),)), frames.append) as bridge:
            bridge.send_frame(icmp_echo(mac(1), GATEWAY_MAC, "10.0.2.15", "10.0.2.2", 1, 1))
            assert connects(port)
            assert open_fds() - fds_before, "the forward has a listening socket"
            scope.cancel()
            await trio.sleep_forever()
    assert not bridge.running
    assert threading.active_count() == threads_before
    assert open_fds() == fds_before
    assert not connects(port)
    bridge.send_frame(arp_request(mac(1), "10.0.2.15", "10.0.2.2"))
    assert bridge.statistics().dropped_from_guest == 1


async def loop_turns(bridge: SlirpBridge, count: int) -> None:
    """Wait until the bridge's loop has begun ``count`` more turns.

    A turn ends with the timers that were due, so once a woken loop has begun its next turn,
    everything due at the wake-up has fired.
    """
    target = bridge.statistics().loop_turns + count
    with trio.fail_after(5):
        while bridge.statistics().loop_turns < target:
            await trio.sleep(0)


class FakeClock:
    def __init__(self) -> None:
        self.now = time.monotonic_ns()

    def __call__(self) -> int:
        return self.now


async def test_router_advertisement_timer_fires() -> None:
    """libslirp arms its IPv6 RA timer 200-600 s ahead; move its clock and the RA comes out."""
    clock = FakeClock()
    frames: list[bytes] = []
    arrived = trio.Event()

    def deliver(frame: bytes) -> None:
        frames.append(frame)
        if is_router_advertisement(frame):
            arrived.set()

    async with open_slirp(SlirpSettings(), deliver, clock_ns=clock) as bridge:
        bridge.send_frame(arp_request(mac(1), "10.0.2.15", "10.0.2.99"))  # wakes the loop
        await loop_turns(bridge, 1)
        assert not any(map(is_router_advertisement, frames))
        clock.now += 601 * 10**9
        bridge.send_frame(arp_request(mac(1), "10.0.2.15", "10.0.2.99"))  # wakes the loop
        with trio.fail_after(5):
            await arrived.wait()
        assert frames[-1][:6] == bytes.fromhex("333300000001")  # all-nodes multicast


async def test_no_ipv6_no_router_advertisement() -> None:
    clock = FakeClock()
    frames: list[bytes] = []
    async with open_slirp(SlirpSettings(ipv6=False), frames.append, clock_ns=clock) as bridge:
        clock.now += 601 * 10**9
        bridge.send_frame(arp_request(mac(1), "10.0.2.15", "10.0.2.99"))
        await loop_turns(bridge, 1)
        assert not any(map(is_router_advertisement, frames))
