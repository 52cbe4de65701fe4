"""Whatever arrives on a VXLAN socket, the drain delivers exactly the valid frames, learns only
from them, counts the rest, and never fails (a real UDP socket on loopback, no switch)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vdex._core.port import Port
from vdex_plugins.vxlan._codec import VxlanCodec, encode_header
from vdex_plugins.vxlan._endpoint import VxlanEndpoint
from vdex_plugins.vxlan._learning import RemoteTable
from vdex_plugins.vxlan._options import VxlanConfig

VNI = 42


class FixedClock:
    now = 100.0


@pytest.fixture(scope="module")
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tx.bind(("127.0.0.1", 0))
    try:
        yield rx, tx
    finally:
        rx.close()
        tx.close()


def valid(packet: bytes) -> bool:
    frame = packet[8:]
    return (len(packet) >= 8 and packet[0] == 0x08 and packet[4:7] == VNI.to_bytes(3, "big")
            and 15 <= len(frame) <= 1518)


frames = st.binary(min_size=0, max_size=1600)
packets = st.one_of(
    st.builds(lambda f: encode_header(VNI) + f, frames),               # ours, any length
    st.builds(lambda f: encode_header(VNI + 1) + f, frames),           # another VNI
    st.builds(lambda r, f: bytes([8, r, r, r]) + VNI.to_bytes(3, "big") + bytes([r]) + f,
              st.integers(1, 255), frames),                            # reserved bits set
    st.binary(max_size=40),                                            # garbage
)


@settings(max_examples=60, deadline=None)
@given(st.lists(packets, max_size=12))
def test_drain_delivers_exactly_the_valid_frames(
        pair: tuple[socket.socket, socket.socket], sent: list[bytes]) -> None:
    rx, tx = pair
    endpoint = VxlanEndpoint(id=1, module="vxlan", sock=rx, codec=VxlanCodec(vni=VNI),
                             table=RemoteTable(reply_port=4789), flood=("127.0.0.9", 4789),
                             clock=FixedClock(), config=VxlanConfig())
    got: list[bytes] = []
    port = Port(number=1)
    port.receive = got.append
    endpoint.port = port
    for packet in sent:
        tx.sendto(packet, rx.getsockname())
    endpoint.wakeups = [0]
    for _ in range(len(sent) + 1):
        endpoint.wakeups[0] += 1
        endpoint.drain()
    expected = [p[8:] for p in sent if valid(p)]
    assert got == expected
    assert not endpoint._hung_up
    learned = {mac for mac, _ in endpoint.table.items()}
    assert learned <= {f[6:12] for f in expected}
