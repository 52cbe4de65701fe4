"""In-memory endpoints and a small switch harness for the VLAN plugin's synchronous tests."""

from __future__ import annotations

import attrs

from vdex._core.engine import SwitchEngine
from vdex._core.port import Port
from vdex_plugins.vlan._dot1q import dot1q_stage


@attrs.define(eq=False)
class RecordingEndpoint:
    """An endpoint that keeps every frame the switch sends it."""

    id: int
    uid: int | None = 0
    frames: list[bytes] = attrs.Factory(list)

    def send(self, frame: bytes) -> None:
        self.frames.append(bytes(frame))

    def take(self) -> list[bytes]:
        frames, self.frames = self.frames, []
        return frames


def make_switch(*, vlan_plugin: bool = True, numports: int = 32) -> SwitchEngine:
    engine = SwitchEngine(numports=numports)
    if vlan_plugin:
        engine.set_stages([("vlan", dot1q_stage())])
    return engine


def connect(engine: SwitchEngine, number: int) -> tuple[Port, RecordingEndpoint]:
    """Allocate port ``number`` and attach a recording endpoint to it (the port becomes active)."""
    port, _created = engine.ports.choose_for_client(0, number)
    engine.add_port(port)
    endpoint = RecordingEndpoint(id=number)
    engine.attach(port, endpoint)
    return port, endpoint


def frame(dst: int, src: int, *, vid: int | None = None, pcp: int = 0, size: int | None = None,
          ethertype: int = 0x88B5) -> bytes:
    """A test frame from MAC 02:00:00:00:00:<src> to <dst> (0xff: broadcast), optionally tagged.

    Default size: 64 bytes untagged, 68 tagged (the tag added to the same frame), as in B.8.
    """
    if size is None:
        size = 64 if vid is None else 68
    d = b"\xff" * 6 if dst == 0xFF else bytes((2, 0, 0, 0, 0, dst))
    s = bytes((2, 0, 0, 0, 0, src))
    tag = b"" if vid is None else bytes((0x81, 0x00, (pcp << 5) | (vid >> 8), vid & 0xFF))
    head = d + s + tag + ethertype.to_bytes(2, "big")
    return head + b"\x50" * (size - len(head))
