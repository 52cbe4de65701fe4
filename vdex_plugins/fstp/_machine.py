"""The FSTP protocol machine: one spanning tree per VLAN, sans-I/O, time as an argument.

vde_switch's "fast spanning tree" (spec §6.3), re-created so that a loop of vdex switches and
real ``vde_switch -F`` converges to a tree. Inputs are method calls carrying ``now`` (seconds,
any monotonic origin; the driver uses seconds since the switch started); outputs are lists of
actions (``_actions``) for the driver to apply in order. No I/O, no clock, no randomness here.

The rules, as vde_switch plays them:

1. Per VLAN the switch stores its root vector (root id, root path cost, designated bridge,
   designated port id) and its root port. A received BPDU's cost gets the receiving port's cost
   (20 000 000, minus the VLAN's ``fstp/bonus``) added, then the vectors are compared bytewise.
2. Equal vector: the root information is refreshed. Better vector, or any different vector on
   the root port: adopt it, make the port the root port, then the fast step: block every other
   port that speaks FSTP and send it a BPDU, unblock the root port and send it an agreement, and
   signal a topology change.
3. Same root, worse path, on another port: unblock if the neighbour says this link is its root
   port, block otherwise. A worse root on another port: answer at once with our BPDU.
4. Every hello (4 s) a BPDU goes out on each non-edge member port. Root information not
   refreshed for 12 s (3 hellos) is dropped: the switch becomes root. Every 16 s the receive
   history rotates; a blocked port that heard nothing for a whole 16 s window (so for 16 to
   32 s) is unblocked. (vde_switch's code looks at two windows, 32 to 48 s; the spec and its
   authors' description say 16-32 s, and four missed hellos are proof enough.)
5. A topology change flushes the VLAN's MAC table and sends TC BPDUs on the other ports.

Where vdex deliberately differs (each point argued in docs/fstp.md):

* Both ends of a redundant link: a port whose neighbour reports its own end blocked stays
  forwarding when our port is the designated one (our vector beats the neighbour's), so between
  vdex switches only one end blocks. Facing a vde_switch both ends may still block (its choice).
* Worse information on the root port that names a root worse than this switch: become root
  instead of adopting it (vde_switch adopts it and can keep a worse root forever).
* Losing the root (port down, timeout): blocked ports stay blocked and a BPDU goes out on every
  port at once; neighbours answer within one exchange, so no transient storm.
* A proposal (a BPDU from a blocked port) on our root port or on a port we keep blocked is
  answered at once, so the other end unblocks without waiting for a hello.
* No TC on blocked ports (sent or received) and none towards a neighbour that reports its end
  blocked: a TC can then never run round a loop.
* ``fstp/setedge`` is configuration: it survives reconnects (vde_switch forgets it).
"""

from __future__ import annotations

import attrs

from ._actions import Action, FlushVlan, PeerChanged, RootChanged, SendBpdu, SetDiscarding
from ._bpdu import (
    FLAG_AGREEMENT,
    FLAG_FORWARDING,
    FLAG_LEARNING,
    FLAG_PROPOSAL,
    FLAG_TC,
    ROLE_MASK,
    ROLE_VDE_ROOT,
    Bpdu,
    bridge_id,
    port_id,
)

PORT_COST = 20_000_000
HELLO = 4.0
ROOT_TIMEOUT = 3 * HELLO
HISTORY_HELLOS = 4
"""The receive history rotates every 4 hellos (16 s)."""
NO_DESIGNATED = b"\xff" * 8
MAX_COST = 0xFFFFFFFF

Vector = tuple[bytes, int, bytes, int]
"""(root id, root path cost, bridge id, port id): lower is better, compared in this order."""


@attrs.define(eq=False, kw_only=True)
class Member:
    """An active port of one VLAN, as the spanning tree sees it."""

    tagged: bool
    blocked: bool = False
    heard: int = 0
    """Receive history: bit 0 a BPDU arrived in this 16 s window, bit 1 in the previous one."""
    peer_flags: int = 0
    """Flags of the last BPDU received (0 before any)."""


@attrs.define(eq=False, kw_only=True)
class VlanTree:
    """The spanning tree state of one VLAN."""

    vid: int
    root: bytes
    cost: int = 0
    designated: bytes = NO_DESIGNATED
    designated_port: int = 0
    root_port: int | None = None
    root_seen: float = 0.0
    """When the root information was last refreshed (0 after a reset, as vde_switch shows it)."""
    bonus_port: int = 0
    bonus_cost: int = 0
    members: dict[int, Member] = attrs.Factory(dict)
    edges: set[int] = attrs.Factory(set)

    @property
    def vector(self) -> Vector:
        return (self.root, self.cost, self.designated, self.designated_port)

    def role(self, port: int) -> str:
        """``fstp/print``'s role names."""
        if port in self.edges:
            return "Edge"
        if port == self.root_port:
            return "Root"
        member = self.members.get(port)
        if member is not None and member.blocked:
            return "Alternate/Backup"
        return "Designated"


class FstpMachine:
    """Every VLAN's spanning tree of one switch."""

    def __init__(self, *, mac: bytes, priority: int = 0x8000, port_cost: int = PORT_COST) -> None:
        self.mac = bytes(mac)
        self.priority = priority
        self.bridge_id = bridge_id(priority, mac)
        self.port_cost = port_cost
        self.enabled = False
        self.vlans: dict[int, VlanTree] = {}
        self._next_hello: float | None = None
        self._hellos = 0

    # ------------------------------------------------------------------ configuration

    def add_vlan(self, vid: int) -> VlanTree:
        tree = self.vlans.get(vid)
        if tree is None:
            tree = self.vlans[vid] = VlanTree(vid=vid, root=self.bridge_id)
        return tree

    def remove_vlan(self, vid: int) -> None:
        self.vlans.pop(vid, None)

    def set_enabled(self, on: bool, now: float) -> list[Action]:
        """``fstp/setfstp``: start with a BPDU on every port; stop by unblocking everything."""
        if on == self.enabled:
            return []
        self.enabled = on
        actions: list[Action] = []
        if on:
            self._next_hello = now + HELLO
            self._hellos = 0
            for tree in self.vlans.values():
                for port in self._speakers(tree):
                    actions.append(self._send(tree, port, now))
            return actions
        self._next_hello = None
        for tree in self.vlans.values():
            self._reset(tree)
            for port, member in tree.members.items():
                member.heard = member.peer_flags = 0
                if member.blocked:
                    member.blocked = False
                    actions.append(SetDiscarding(port, tree.vid, False))
        return actions

    def set_edge(self, vid: int, port: int, on: bool) -> list[Action]:
        """``fstp/setedge``: an edge port neither sends nor hears BPDUs and always forwards."""
        tree = self.add_vlan(vid)
        if not on:
            tree.edges.discard(port)
            return []
        tree.edges.add(port)
        member = tree.members.get(port)
        if member is not None and member.blocked:
            member.blocked = False
            return [SetDiscarding(port, vid, False)]
        return []

    def set_bonus(self, vid: int, port: int, cost: int) -> None:
        """``fstp/bonus``: make ``port`` cheaper by ``cost`` in ``vid`` (one port per VLAN)."""
        tree = self.add_vlan(vid)
        tree.bonus_port, tree.bonus_cost = port, cost

    # ------------------------------------------------------------------ membership

    def port_up(self, port: int, vid: int, tagged: bool, now: float) -> list[Action]:
        """``port`` became an active member of ``vid``: greet it, then a topology change."""
        tree = self.add_vlan(vid)
        tree.members[port] = Member(tagged=tagged)
        if not self.enabled or port in tree.edges:
            return []
        return [self._send(tree, port, now), *self._topology_change(tree, port, now)]

    def port_down(self, port: int, vid: int, now: float) -> list[Action]:
        """``port`` left ``vid`` (inactive or no longer a member)."""
        tree = self.vlans.get(vid)
        member = tree.members.pop(port, None) if tree is not None else None
        if tree is None or member is None:
            return []
        actions: list[Action] = []
        if member.blocked:
            actions.append(SetDiscarding(port, vid, False))
        if not self.enabled:
            return actions
        if member.heard:
            actions.append(PeerChanged(port, vid, False))
        if port == tree.root_port:
            return actions + self._become_root(tree, now)
        return actions + self._topology_change(tree, port, now)

    # ------------------------------------------------------------------ BPDUs

    def handle_bpdu(self, port: int, vid: int, bpdu: Bpdu, now: float) -> list[Action]:
        """A decoded BPDU arrived on ``port`` in ``vid``."""
        tree = self.vlans.get(vid)
        member = tree.members.get(port) if tree is not None else None
        if not self.enabled or tree is None or member is None or port in tree.edges:
            return []
        if bpdu.bridge == self.bridge_id and bpdu.port_id == port_id(port):
            return []  # our own BPDU came back on the same port (a hub): nothing to learn
        actions: list[Action] = []
        if not member.heard:
            actions.append(PeerChanged(port, vid, True))
        member.heard |= 1
        member.peer_flags = bpdu.flags
        if bpdu.flags & FLAG_TC and not member.blocked:
            actions += self._topology_change(tree, port, now)
        cost = bpdu.cost + self._cost(tree, port)
        received: Vector = (bpdu.root, min(cost, MAX_COST), bpdu.bridge, bpdu.port_id)
        stored = tree.vector
        if received == stored:
            tree.root_seen = now
            if port == tree.root_port and bpdu.flags & FLAG_PROPOSAL:
                actions.append(self._send(tree, port, now, agreement=True))
            return actions
        if received < stored:
            return actions + self._adopt(tree, port, received, now)
        if port == tree.root_port:
            if bpdu.root >= self.bridge_id:
                return actions + self._become_root(tree, now)
            return actions + self._adopt(tree, port, received, now)
        if bpdu.root != tree.root:
            actions.append(self._send(tree, port, now))
            return actions
        return actions + self._same_root_worse_path(tree, port, member, bpdu, now)

    def _same_root_worse_path(self, tree: VlanTree, port: int, member: Member, bpdu: Bpdu,
                              now: float) -> list[Action]:
        if bpdu.flags & ROLE_MASK == ROLE_VDE_ROOT and not bpdu.flags & FLAG_PROPOSAL:
            blocked = False  # the link is the neighbour's root port
        elif bpdu.flags & FLAG_PROPOSAL:
            # the neighbour's end is blocked: ours may forward if we are the designated end
            ours: Vector = (tree.root, tree.cost, self.bridge_id, port_id(port))
            blocked = not ours < (bpdu.root, bpdu.cost, bpdu.bridge, bpdu.port_id)
        else:
            blocked = True  # a forwarding neighbour that does not take us as root: block ours
        if blocked == member.blocked:
            if blocked and bpdu.flags & FLAG_PROPOSAL:
                return [self._send(tree, port, now)]  # tell a waiting designated end we block
            return []
        member.blocked = blocked
        return [SetDiscarding(port, tree.vid, blocked), self._send(tree, port, now),
                *self._topology_change(tree, port, now)]

    def _adopt(self, tree: VlanTree, port: int, vector: Vector, now: float) -> list[Action]:
        """New root information through ``port``: the fast step (rule 2)."""
        actions: list[Action] = []
        if (tree.root, tree.root_port) != (vector[0], port):
            actions.append(RootChanged(tree.vid, vector[0], port))
        tree.root, tree.cost, tree.designated, tree.designated_port = vector
        tree.root_port = port
        tree.root_seen = now
        for other, member in tree.members.items():
            if other != port and other not in tree.edges and not member.blocked and member.heard:
                member.blocked = True
                actions += [SetDiscarding(other, tree.vid, True), self._send(tree, other, now)]
        root_member = tree.members[port]
        if root_member.blocked:
            root_member.blocked = False
            actions.append(SetDiscarding(port, tree.vid, False))
        actions.append(self._send(tree, port, now, agreement=True))
        return actions + self._topology_change(tree, port, now)

    def _reset(self, tree: VlanTree) -> None:
        tree.root, tree.cost = self.bridge_id, 0
        tree.designated, tree.designated_port = NO_DESIGNATED, 0
        tree.root_port = None
        tree.root_seen = 0.0

    def _become_root(self, tree: VlanTree, now: float) -> list[Action]:
        """The root information is gone: this switch is root until told better (blocked ports
        stay blocked; every neighbour hears from us at once and answers)."""
        self._reset(tree)
        actions: list[Action] = [RootChanged(tree.vid, tree.root, None)]
        actions += [self._send(tree, port, now) for port in self._speakers(tree)]
        return actions + self._topology_change(tree, None, now)

    def _topology_change(self, tree: VlanTree, source: int | None, now: float) -> list[Action]:
        """Flush the VLAN and pass a TC on to the other ports that speak FSTP (rule 5)."""
        actions: list[Action] = [FlushVlan(tree.vid)]
        for port, member in tree.members.items():
            if (port != source and not member.blocked and member.heard
                    and port not in tree.edges and not member.peer_flags & FLAG_PROPOSAL):
                actions.append(self._send(tree, port, now, tc=True))
        return actions

    # ------------------------------------------------------------------ time

    def next_deadline(self) -> float | None:
        """When :meth:`handle_timer` next has work (None: FSTP is off)."""
        if not self.enabled or self._next_hello is None:
            return None
        deadline = self._next_hello
        for tree in self.vlans.values():
            if tree.root_port is not None:
                deadline = min(deadline, tree.root_seen + ROOT_TIMEOUT)
        return deadline

    def handle_timer(self, now: float) -> list[Action]:
        """Root timeouts, hellos and the receive history rotation due at ``now``."""
        if not self.enabled or self._next_hello is None:
            return []
        actions: list[Action] = []
        for tree in self.vlans.values():
            if tree.root_port is not None and now - tree.root_seen >= ROOT_TIMEOUT:
                actions += self._become_root(tree, now)
        if now < self._next_hello:
            return actions
        while self._next_hello <= now:  # a late call counts every hello it missed
            self._next_hello += HELLO
            self._hellos += 1
            if self._hellos % HISTORY_HELLOS == 0:
                actions += self._rotate_history()
        for tree in self.vlans.values():
            actions += [self._send(tree, port, now, agreement=True)
                        for port in self._speakers(tree)]
        return actions

    def _rotate_history(self) -> list[Action]:
        actions: list[Action] = []
        for tree in self.vlans.values():
            for port, member in tree.members.items():
                if not member.heard & 1:  # a whole window (4 hellos) without a BPDU
                    if member.blocked:
                        member.blocked = False  # nobody speaks FSTP there any more
                        actions.append(SetDiscarding(port, tree.vid, False))
                    if member.heard:
                        actions.append(PeerChanged(port, tree.vid, False))
                member.heard = (member.heard & 1) << 1
        return actions

    # ------------------------------------------------------------------ helpers

    def _cost(self, tree: VlanTree, port: int) -> int:
        bonus = tree.bonus_cost if port == tree.bonus_port else 0
        return max(0, self.port_cost - bonus)

    def _speakers(self, tree: VlanTree) -> list[int]:
        return [port for port in tree.members if port not in tree.edges]

    def _send(self, tree: VlanTree, port: int, now: float, *, agreement: bool = False,
              tc: bool = False) -> SendBpdu:
        member = tree.members[port]
        flags = FLAG_TC if tc else 0
        flags |= FLAG_PROPOSAL if member.blocked else 0x04 | FLAG_LEARNING | FLAG_FORWARDING
        if tree.root_port != port:
            flags |= 0x08
        if agreement:
            flags |= FLAG_AGREEMENT
        age = 0.0 if tree.root_port is None else max(0.0, now - tree.root_seen)
        bpdu = Bpdu(flags=flags, root=tree.root, cost=tree.cost, bridge=self.bridge_id,
                    port_id=port_id(port), age=float(int(age)))
        return SendBpdu(port, tree.vid, member.tagged, bpdu)
