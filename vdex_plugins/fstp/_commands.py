"""The fstp/* console commands: vde_switch's parsing, errnos and output (Appendix A, B.3, B.6).

Plain functions ``command(fstp, args) -> lines`` over an :class:`FstpController`; failures raise
:class:`vdex.errors.MgmtError`. ``fstp/setfstp`` and ``fstp/print`` answer inside a data block
(``output=True``), the others do not.

Differences from vde_switch (docs/fstp.md): tagged ports show their real role in ``fstp/print``
(vde_switch prints ``Unknown``), and VLAN 4094 is a VLAN like the others.
"""

from __future__ import annotations

import errno

from vdex.errors import MgmtError
from vdex.mgmt.args import parse_bool, parse_int, parse_ints

from ._bpdu import format_bridge_id
from ._controller import FstpController

MAX_VID = 4094


def _vlan_port(fstp: FstpController, args: str, usage: str) -> tuple[int, int, int]:
    vid, port, value = parse_ints(args, 3, usage)
    if not 0 <= vid <= MAX_VID or not 0 <= port < fstp.engine.ports.numports:
        raise MgmtError(errno.EINVAL, f"VLAN 0..{MAX_VID} and port "
                                      f"0..{fstp.engine.ports.numports - 1} expected: {usage}")
    if fstp.engine.domain(vid) is None:
        raise MgmtError(errno.ENXIO, f"VLAN {vid} does not exist")
    return vid, port, value


def fstp_showinfo(fstp: FstpController, args: str = "") -> list[str]:
    """``fstp/showinfo``: the switch MAC, its priority and whether FSTP runs."""
    machine = fstp.machine
    mac = ":".join(f"{b:02x}" for b in machine.mac)
    return [f"MAC {mac} Priority {machine.priority} (0x{machine.priority:x})",
            f"FSTP={'true' if machine.enabled else 'false'}"]


def fstp_setfstp(fstp: FstpController, args: str) -> list[str]:
    """``fstp/setfstp 0|1``; in hub mode it says so and succeeds, like vde_switch."""
    if fstp.engine.hub:
        return ["Can't use fstp in hub mode"]
    fstp.set_enabled(parse_bool(args))
    return []


def fstp_setedge(fstp: FstpController, args: str) -> list[str]:
    """``fstp/setedge VLAN PORT 0|1``: an edge port neither sends nor hears BPDUs."""
    vid, port, on = _vlan_port(fstp, args, "fstp/setedge VLAN PORT 1/0")
    fstp.apply(fstp.machine.set_edge(vid, port, on != 0))
    return []


def fstp_bonus(fstp: FstpController, args: str) -> list[str]:
    """``fstp/bonus VLAN PORT COST``: subtract COST from PORT's path cost in VLAN."""
    vid, port, cost = _vlan_port(fstp, args, "fstp/bonus VLAN PORT COST")
    fstp.machine.set_bonus(vid, port, cost)
    return []


def _vlan_lines(fstp: FstpController, vid: int, now: float) -> list[str]:
    machine = fstp.machine
    tree = machine.add_vlan(vid)
    is_root = "ROOTSWITCH" if tree.root == machine.bridge_id else ""
    disabled = "" if machine.enabled else "FSTP IS DISABLED"
    lines = [f"FST DATA VLAN {vid:04d} {is_root} {disabled}",
             f" ++ root {format_bridge_id(tree.root)}",
             f" ++ designated {format_bridge_id(tree.designated)}",
             f" ++ rootport {tree.root_port or 0:04d} cost {tree.cost} "
             f"age {int(now - tree.root_seen)} bonusport {tree.bonus_port:04d} "
             f"bonuscost {tree.bonus_cost}"]
    for tagged in (False, True):
        for number in sorted(n for n, m in tree.members.items() if m.tagged == tagged):
            lines.append(f" -- Port {number:04d} tagged={int(tagged)} "
                         f"portcost={machine.port_cost} role={tree.role(number)}")
    return lines


def fstp_print(fstp: FstpController, args: str, now: float | None = None) -> list[str]:
    """``fstp/print [N]``: each VLAN's tree: root, designated bridge, root port, port roles."""
    now = fstp.clock() if now is None else now
    if args.strip():
        vid = parse_int(args, "VLAN number", base=10)
        if not 0 <= vid <= MAX_VID:
            raise MgmtError(errno.EINVAL, f"VLAN {vid} is out of range 0..{MAX_VID}")
        if fstp.engine.domain(vid) is None:
            raise MgmtError(errno.ENXIO, f"VLAN {vid} does not exist")
        vids = [vid]
    else:
        vids = fstp.engine.vlan_ids()
    lines: list[str] = []
    for vid in vids:
        lines.extend(_vlan_lines(fstp, vid, now))
    return lines
