"""The VLAN console commands over a SwitchEngine, with vde_switch's parsing, errnos and output.

Each command is a plain function ``command(engine, args) -> lines``: ``args`` is the text after the
command path, the result the output lines without newlines (empty for commands that print
nothing). Failures raise :class:`vdex.errors.MgmtError` with the errno vde_switch answers, so the
console shows the same ``1NNN`` status line (Appendix A).

Numbers are read as vde_switch reads them, through the console's one parser
(:mod:`vdex.mgmt.args`): one number as ``atoi`` does (``vlan/create``, ``vlan/remove``,
``vlan/print``: decimal, ``010`` is ten), several as ``sscanf("%i %i")`` does (``vlan/addport``,
``vlan/delport``, ``port/setvlan``: ``0x0a`` and ``012`` are ten). Each word must be a whole
number: what vde_switch would misread (``11abc`` as 11, ``abc`` as 0, extra words) is EINVAL.
Where vde_switch is wrong we differ, on purpose (spec §9.1, docs/vlan.md):

* ``vlan/remove 0`` is refused: EADDRINUSE while a port is in VLAN 0 (what vde_switch answers),
  EINVAL when it is empty (vde_switch accepts it and crashes on the next connection).
* VLAN 4094 is a valid 802.1Q VID, so it can be created and used (vde_switch stops at 4093).
* ``vlan/allprint 0`` prints VLAN 0 (vde_switch answers EINVAL while ``vlan/print 0`` works).
* ``vlan/delport`` forgets the MAC addresses of the port in that VLAN only, not in every VLAN.
"""

from __future__ import annotations

import errno

from vdex._core.engine import SwitchEngine
from vdex._core.port import NO_VLAN, Port
from vdex.errors import MgmtError, PortError
from vdex.mgmt.args import parse_int, parse_ints

MAX_VID = 4094
"""The highest VLAN that can be created; 4095 only means "no untagged VLAN" in port/setvlan."""


# ---------------------------------------------------------------------- helpers


def _mgmt_error(error: PortError) -> MgmtError:
    return MgmtError(error.errno, str(error))


def _two_ints(args: str, usage: str) -> tuple[int, int]:
    first, second = parse_ints(args, 2, usage)
    return first, second


def _check_vid(vid: int, *, low: int = 0) -> None:
    if not low <= vid <= MAX_VID:
        raise MgmtError(errno.EINVAL, f"VLAN {vid} is out of range {low}..{MAX_VID}")


def _check_port_number(engine: SwitchEngine, number: int) -> None:
    try:
        engine.ports.check_range(number)
    except PortError as e:
        raise _mgmt_error(e) from None


def _port(engine: SwitchEngine, number: int) -> Port:
    port = engine.ports.get(number)
    if port is None:
        raise MgmtError(errno.ENXIO, f"port {number} does not exist: create it with port/create")
    return port


def _defined(engine: SwitchEngine, vid: int) -> None:
    if engine.domain(vid) is None:
        raise MgmtError(errno.ENXIO, f"VLAN {vid} does not exist: create it with vlan/create")


# ---------------------------------------------------------------------- membership


def vlan_create(engine: SwitchEngine, args: str) -> list[str]:
    """``vlan/create N``: a new, empty VLAN (1..4094)."""
    vid = parse_int(args, "VLAN number", base=10)
    _check_vid(vid, low=1)
    if engine.domain(vid) is not None:
        raise MgmtError(errno.EEXIST, f"VLAN {vid} exists")
    engine.create_vlan(vid)
    return []


def vlan_remove(engine: SwitchEngine, args: str) -> list[str]:
    """``vlan/remove N``: remove a VLAN no port belongs to (VLAN 0 never)."""
    vid = parse_int(args, "VLAN number", base=10)
    _check_vid(vid)
    domain = engine.domain(vid)
    if domain is None:
        raise MgmtError(errno.ENXIO, f"VLAN {vid} does not exist")
    if domain.untagged or domain.tagged:
        raise MgmtError(errno.EADDRINUSE,
                        f"VLAN {vid} still has member ports: move them out first")
    if vid == 0:
        raise MgmtError(errno.EINVAL, "VLAN 0 is the default VLAN of every new port: it stays")
    engine.remove_vlan(vid)
    return []


def vlan_addport(engine: SwitchEngine, args: str) -> list[str]:
    """``vlan/addport N PORT``: make PORT a tagged member of VLAN N (a no-op on its untagged VLAN)."""
    vid, number = _two_ints(args, "vlan/addport VLAN PORT")
    _check_vid(vid)
    _check_port_number(engine, number)
    _defined(engine, vid)
    port = _port(engine, number)
    if port.vlan != vid:
        engine.add_tagged(port, vid)
    return []


def vlan_delport(engine: SwitchEngine, args: str) -> list[str]:
    """``vlan/delport N PORT``: PORT stops carrying VLAN N tagged (EADDRINUSE for its untagged VLAN)."""
    vid, number = _two_ints(args, "vlan/delport VLAN PORT")
    _check_vid(vid)
    _check_port_number(engine, number)
    _defined(engine, vid)
    port = _port(engine, number)
    if port.vlan == vid:
        raise MgmtError(errno.EADDRINUSE,
                        f"VLAN {vid} is the untagged VLAN of port {number}: use port/setvlan")
    engine.remove_tagged(port, vid)
    return []


def port_setvlan(engine: SwitchEngine, args: str) -> list[str]:
    """``port/setvlan PORT VLAN``: move PORT's untagged membership to VLAN (4095: none)."""
    number, vid = _two_ints(args, "port/setvlan PORT VLAN")
    if not 0 <= vid <= NO_VLAN:
        raise MgmtError(errno.EINVAL, f"VLAN {vid} is out of range 0..4095 (4095: no untagged VLAN)")
    _check_port_number(engine, number)
    if vid != NO_VLAN:
        _defined(engine, vid)
    port = _port(engine, number)
    if port.vlan != vid:
        engine.set_untagged(port, vid)
    return []


# ---------------------------------------------------------------------- display


def _status(engine: SwitchEngine, port: Port, vid: int) -> str:
    """vde_switch's status column: Discarding (spanning tree), Learning (inactive), Forwarding."""
    if not engine.is_forwarding(port, vid):
        return "Discarding"
    return "Forwarding" if port.active else "Learning"


def _vlan_lines(engine: SwitchEngine, vid: int, *, inactive: bool) -> list[str]:
    domain = engine.domain(vid)
    assert domain is not None
    lines = [f"VLAN {vid:04d}"]
    for port in sorted(domain.untagged | domain.tagged, key=lambda p: p.number):
        if port.active or inactive:
            lines.append(f" -- Port {port.number:04d} tagged={int(port.vlan != vid)} "
                         f"active={int(port.active)} status={_status(engine, port, vid)}")
    return lines


def _print(engine: SwitchEngine, args: str, *, inactive: bool) -> list[str]:
    if not args.strip():
        vids = engine.vlan_ids()
    else:
        vid = parse_int(args, "VLAN number", base=10)
        _check_vid(vid)
        _defined(engine, vid)
        vids = [vid]
    lines: list[str] = []
    for vid in vids:
        lines.extend(_vlan_lines(engine, vid, inactive=inactive))
    return lines


def vlan_print(engine: SwitchEngine, args: str) -> list[str]:
    """``vlan/print [N]``: every VLAN (or N) with its active member ports."""
    return _print(engine, args, inactive=False)


def vlan_allprint(engine: SwitchEngine, args: str) -> list[str]:
    """``vlan/allprint [N]``: like vlan/print, inactive member ports included."""
    return _print(engine, args, inactive=True)
