"""802.1Q on the wire: the ``classify`` and ``adapt`` frame stages of the VLAN plugin (spec §5).

Both factories run when the engine compiles a port (port up or down, membership change), never
per frame. What they return runs per frame, so it only indexes bytes and looks up a frozenset:
no parsed objects, no hook calls, at most one new bytes object per frame and member.

Ingress (``classify``):

* EtherType 0x8100 is the only tag (0x88a8 is an ordinary EtherType, as in vde_switch). The VID is
  the low 12 bits of the TCI; VID 0 (a priority tag) means VLAN 0.
* A tagged frame is accepted only if the port is a member of that VLAN, tagged or untagged;
  otherwise it is dropped and counted in ``drops.not_member``. Membership implies the VLAN exists
  (the engine refuses members of undefined VLANs), so undefined VIDs, 4095 included, are dropped
  here too.
* A tagged frame shorter than 18 bytes cannot hold its tag and EtherType: vde_switch reads its VID
  from stale buffer bytes and can emit 10-13 byte runts; we drop it and count ``drops.runt``.
* An untagged frame belongs to the port's untagged VLAN; a port with none (4095) drops it
  (``drops.not_member``).

Egress (``adapt``), per member VLAN of the output port:

* untagged member: a tagged frame loses its 4 tag bytes (PCP lost), an untagged one goes as is;
* tagged member: an untagged frame gets ``81 00`` + TCI (PCP 0, DEI 0, VID), a tagged frame goes
  unchanged, so its PCP survives trunk to trunk.
"""

from __future__ import annotations

from vdex._core.port import NO_VLAN, Port
from vdex.records import Forward, FrameStage, MemberSink, Sink

DOT1Q_HEADER_LEN = 18
"""Addresses (12) + TPID (2) + TCI (2) + EtherType (2): the shortest acceptable tagged frame."""


def dot1q_tag(vid: int) -> bytes:
    """The 4 tag bytes vdex adds for ``vid``: TPID 0x8100, PCP 0, DEI 0."""
    return bytes((0x81, 0x00, (vid >> 8) & 0x0F, vid & 0xFF))


def make_classifier(port: Port, forward: Forward) -> Sink:
    """``FrameStage.classify`` factory: decide the VLAN of each frame received on ``port``."""
    untagged = port.vlan
    members = frozenset(port.tagged | ({untagged} if untagged != NO_VLAN else set()))
    drops = port.drops

    if untagged == NO_VLAN:

        def classify_no_untagged(frame: bytes) -> None:
            if frame[12] == 0x81 and frame[13] == 0x00:
                if len(frame) < DOT1Q_HEADER_LEN:
                    drops.runt += 1
                    return
                vid = ((frame[14] & 0x0F) << 8) | frame[15]
                if vid in members:
                    forward(frame, vid, True)
                    return
            drops.not_member += 1

        return classify_no_untagged

    def classify(frame: bytes) -> None:
        if frame[12] == 0x81 and frame[13] == 0x00:
            if len(frame) < DOT1Q_HEADER_LEN:
                drops.runt += 1
                return
            vid = ((frame[14] & 0x0F) << 8) | frame[15]
            if vid in members:
                forward(frame, vid, True)
            else:
                drops.not_member += 1
            return
        forward(frame, untagged, False)

    return classify


def make_adapter(port: Port, vlan: int, send: Sink) -> MemberSink | None:
    """``FrameStage.adapt`` factory: put frames of ``vlan`` in the wire format of ``port``."""
    if vlan == port.vlan:

        def to_untagged(frame: bytes, tagged: bool = False) -> None:
            send(frame[:12] + frame[16:] if tagged else frame)

        return to_untagged

    if vlan in port.tagged:
        tag = dot1q_tag(vlan)

        def to_tagged(frame: bytes, tagged: bool = False) -> None:
            send(frame if tagged else frame[:12] + tag + frame[12:])

        return to_tagged

    return None


def dot1q_stage() -> FrameStage:
    """The frame stage the VLAN plugin contributes (through ``vdex_frame_stages``)."""
    return FrameStage(name="dot1q", classify=make_classifier, adapt=make_adapter,
                      untagged_fast_path=True)
