"""Core switch commands (the essential ``core`` plugin): help, showinfo, port/*, hash/*, ...

Output lines match Debian's vde_switch 2.3.2 byte for byte (spec Appendix A), so scripts written
against vde_switch parse vdex. Where vde_switch is wrong the fix is noted on the command.
"""

from __future__ import annotations

import errno
import logging
import shlex
from collections.abc import Iterator
from typing import TYPE_CHECKING

from .._core.frame import format_mac, parse_mac
from .._core.mac_table import MacEntry
from .._core.port import Port
from ..errors import MgmtError, PluginError, PortError
from ..hookspecs import hookimpl
from ..plugins import ESSENTIAL_PLUGINS
from ..records import DebugCategory, MgmtCommand
from .args import parse_bool, parse_int, parse_ints, parse_optional_int
from .context import CommandContext, EndSession, RawOutput
from .protocol import SWITCH_BANNER

if TYPE_CHECKING:
    from ..runtime.switch import Switch

log = logging.getLogger("vdex.mgmt")


def _sw(ctx: CommandContext) -> Switch:
    switch: Switch = ctx.switch
    return switch


def _port_error(exc: PortError) -> MgmtError:
    return MgmtError(exc.errno, str(exc))


# ---------------------------------------------------------------------- top level


def cmd_help(ctx: CommandContext, args: str) -> list[str]:
    return _sw(ctx).commands.help_lines(args.strip())


def cmd_logout(ctx: CommandContext, args: str) -> None:
    raise EndSession()


def cmd_shutdown(ctx: CommandContext, args: str) -> None:
    log.info("shutdown from mgmt command")
    # Inside a script (load, rc file) the console ignores it without a status line, as
    # vde_switch does.
    raise EndSession(shutdown=True)


def cmd_showinfo(ctx: CommandContext, args: str) -> list[str]:
    sw = _sw(ctx)
    lines = [*SWITCH_BANNER.splitlines(), "",
             f"pid {sw.pid} MAC {format_mac(sw.mac)} uptime {sw.uptime}"]
    if sw.options.mgmt:
        lines.append(f"mgmt {sw.options.mgmt} perm 0{sw.options.mgmt_mode:03o}")
    return lines


async def cmd_load(ctx: CommandContext, args: str) -> RawOutput:
    path = args.strip()
    if not path:
        raise MgmtError.invalid("load needs a file name")
    try:
        text = await ctx.console.run_script(ctx.session, path,
                                            echo=lambda line: f"vde[{path}]: {line}\n")
    except Exception as exc:
        raise MgmtError(errno.ENOENT, str(exc)) from None
    return RawOutput(text)


def cmd_ds_showinfo(ctx: CommandContext, args: str) -> list[str]:
    sw = _sw(ctx)
    return [f"ctl dir {sw.datasock.directory}", f"std mode 0{sw.modes.mode:03o}"]


# ---------------------------------------------------------------------- debug


def cmd_debug_list(ctx: CommandContext, args: str) -> list[str]:
    return _sw(ctx).debug.list_lines(ctx.session, args.strip())


def cmd_debug_add(ctx: CommandContext, args: str) -> None:
    _sw(ctx).debug.subscribe(ctx.session, args.strip())


def cmd_debug_del(ctx: CommandContext, args: str) -> None:
    _sw(ctx).debug.unsubscribe(ctx.session, args.strip())


# ---------------------------------------------------------------------- plugins


def cmd_plugin_list(ctx: CommandContext, args: str) -> list[str]:
    sw = _sw(ctx)
    prefix = args.strip()
    rows = [f"{name:<22} {plugin.info.help}" for name, plugin in sw.plugins.active.items()
            if name not in ESSENTIAL_PLUGINS and name.startswith(prefix)]
    header = ["NAME                   HELP", "------------           ----"]
    if not rows:
        raise MgmtError(errno.ENOENT, "no plugin listed", output=header)
    return [*header, *rows]


def _plugin_args(words: list[str]) -> dict[str, str]:
    result: dict[str, str] = {}
    for word in words:
        key, sep, value = word.partition("=")
        if not sep or not key:
            raise MgmtError.invalid(f"plugin argument {word!r} is not key=value")
        result[key] = value
    return result


async def cmd_plugin_add(ctx: CommandContext, args: str) -> None:
    try:
        words = shlex.split(args)
    except ValueError as exc:
        raise MgmtError.invalid(str(exc)) from None
    if not words:
        raise MgmtError.invalid("plugin/add needs a plugin name")
    name, extra = words[0], _plugin_args(words[1:])
    sw = _sw(ctx)
    if name in sw.plugins.active:
        raise MgmtError(errno.EEXIST, f"plugin {name} is already active")
    try:
        sw.pm.resolve(name, allow_modules=sw.options.allow_plugin_modules)
    except PluginError as exc:
        raise MgmtError(errno.ENOENT, str(exc)) from None
    try:
        await sw.plugins.activate(name, extra)
    except PluginError as exc:
        log.warning("%s", exc)
        raise MgmtError(errno.EINVAL, str(exc)) from None


async def cmd_plugin_del(ctx: CommandContext, args: str) -> None:
    sw = _sw(ctx)
    wanted = args.strip()
    if not wanted:
        raise MgmtError.invalid("plugin/del needs a plugin name")
    if wanted in ESSENTIAL_PLUGINS:
        raise MgmtError(errno.EPERM, f"plugin {wanted} is essential")
    names = [n for n in sw.plugins.active if n not in ESSENTIAL_PLUGINS]
    name = wanted if wanted in names else next((n for n in names if n.startswith(wanted)), None)
    if name is None:
        raise MgmtError(errno.ENOENT, f"no active plugin {wanted}")
    await sw.plugins.deactivate(name)


# ---------------------------------------------------------------------- hash


def cmd_hash_showinfo(ctx: CommandContext, args: str) -> list[str]:
    macs = _sw(ctx).engine.macs
    return [f"Hash size {macs.hash_size}", f"GC interval {macs.gc_interval} secs",
            f"GC expire {macs.expire} secs", f"Min persistence {macs.min_persistence} secs"]


def cmd_hash_setsize(ctx: CommandContext, args: str) -> None:
    n = parse_int(args, "hash size", base=10)
    if n <= 0:
        raise MgmtError.invalid("hash size must be positive")
    size = _sw(ctx).engine.macs.resize(n)
    if size != n:
        log.info("hash size must be a power of 2: %d rounded to %d", n, size)


def cmd_hash_setgcint(ctx: CommandContext, args: str) -> None:
    sw = _sw(ctx)
    sw.engine.macs.set_gc_interval(parse_int(args, "number of seconds", base=10), sw.engine.now)


def cmd_hash_setexpire(ctx: CommandContext, args: str) -> None:
    _sw(ctx).engine.macs.expire = parse_int(args, "number of seconds", base=10)


def cmd_hash_setminper(ctx: CommandContext, args: str) -> None:
    _sw(ctx).engine.macs.min_persistence = parse_int(args, "number of seconds", base=10)


def _hash_line(sw: Switch, entry: MacEntry) -> str:
    age = sw.engine.now - entry.seen
    return (f"Hash: {sw.engine.macs.bucket(entry):04d} Addr: {format_mac(entry.mac)} "
            f"VLAN {entry.vlan:04d} to port: {entry.port.number:03d}  age {age} secs")


def cmd_hash_print(ctx: CommandContext, args: str) -> list[str]:
    sw = _sw(ctx)
    return [_hash_line(sw, e) for e in sw.engine.macs.in_print_order()]


def cmd_hash_find(ctx: CommandContext, args: str) -> list[str]:
    """Fix: vde_switch prints the port number plus one; vdex prints the port."""
    words = args.split()
    if not 1 <= len(words) <= 2:
        raise MgmtError.invalid("expected MAC [VLAN]")
    try:
        mac = parse_mac(words[0])
    except ValueError as exc:
        raise MgmtError.invalid(str(exc)) from None
    vlan = parse_int(words[1], "VLAN") if len(words) == 2 else 0
    sw = _sw(ctx)
    entry = sw.engine.macs.lookup(mac, vlan)
    if entry is None:
        raise MgmtError(errno.ENODEV, "not in the table")
    return [_hash_line(sw, entry)]


# ---------------------------------------------------------------------- ports


def cmd_port_showinfo(ctx: CommandContext, args: str) -> list[str]:
    engine = _sw(ctx).engine
    return [f"Numports={engine.ports.numports}", f"HUB={'true' if engine.hub else 'false'}",
            "counters=true"]


def cmd_port_setnumports(ctx: CommandContext, args: str) -> None:
    sw = _sw(ctx)
    try:
        removed = sw.engine.ports.set_numports(parse_int(args, "number of ports", base=10))
    except PortError as exc:
        raise _port_error(exc) from None
    for port in removed:
        sw.engine.forget_port(port)
        sw.hook("vdex_port_removed", port=port)


def cmd_port_sethub(ctx: CommandContext, args: str) -> None:
    _sw(ctx).engine.hub = parse_bool(args)


def cmd_port_createauto(ctx: CommandContext, args: str) -> list[str]:
    sw = _sw(ctx)
    try:
        port = sw.engine.ports.create_auto()
    except PortError as exc:
        raise _port_error(exc) from None
    sw.new_port(port)
    return [f"Port {port.number:04d}"]


def cmd_port_create(ctx: CommandContext, args: str) -> None:
    sw = _sw(ctx)
    try:
        port = sw.engine.ports.create(parse_int(args, "port", base=10))
    except PortError as exc:
        raise _port_error(exc) from None
    sw.new_port(port)


def cmd_port_remove(ctx: CommandContext, args: str) -> None:
    sw = _sw(ctx)
    try:
        port = sw.engine.ports.remove(parse_int(args, "port", base=10))
    except PortError as exc:
        raise _port_error(exc) from None
    sw.engine.forget_port(port)
    sw.hook("vdex_port_removed", port=port)


def _lookup(ctx: CommandContext, number: int) -> Port:
    try:
        return _sw(ctx).engine.ports.lookup(number)
    except PortError as exc:
        raise _port_error(exc) from None


def cmd_port_allocatable(ctx: CommandContext, args: str) -> None:
    number, flag = parse_ints(args, 2, "N 0/1")
    _lookup(ctx, number).allocatable = bool(flag)


def _identity(words: list[str], kind: str) -> int | None:
    from ..errors import UsageError
    from ..vde.perms import group_id, user_id

    name = words[1]
    if name in ("NONE", "ANY"):
        return None
    try:
        return user_id(name) if kind == "user" else group_id(name)
    except UsageError as exc:
        raise MgmtError.invalid(str(exc)) from None


def cmd_port_setuser(ctx: CommandContext, args: str) -> None:
    words = args.split()
    if len(words) != 2:
        raise MgmtError.invalid("expected N user")
    _lookup(ctx, parse_int(words[0], "port")).user = _identity(words, "user")


def cmd_port_setgroup(ctx: CommandContext, args: str) -> None:
    words = args.split()
    if len(words) != 2:
        raise MgmtError.invalid("expected N group")
    _lookup(ctx, parse_int(words[0], "port")).group = _identity(words, "group")


def cmd_port_epclose(ctx: CommandContext, args: str) -> None:
    number, ident = parse_ints(args, 2, "N ID")
    sw = _sw(ctx)
    try:
        sw.engine.ports.check_range(number)
    except PortError as exc:
        raise _port_error(exc) from None
    port = sw.engine.ports.get(number)
    for endpoint in port.endpoints if port is not None else []:
        if endpoint.id == ident:
            endpoint.request_close()  # type: ignore[attr-defined]
            return
    raise MgmtError(errno.ENXIO, f"no endpoint {ident} on port {number}")


async def cmd_port_connect(ctx: CommandContext, args: str) -> list[str]:
    """vdex: open an endpoint from a VNL (``vde://other``, ``tap://tap0``, ...) on a port."""
    from ..errors import ConfigError

    try:
        words = shlex.split(args)
    except ValueError as exc:
        raise MgmtError.invalid(str(exc)) from None
    if not 1 <= len(words) <= 2:
        raise MgmtError.invalid("expected VNL [PORT]")
    number = parse_int(words[1], "port") if len(words) == 2 else 0
    try:
        endpoint = await _sw(ctx).open_port(words[0], port=number)
    except PortError as exc:
        raise _port_error(exc) from None
    except ConfigError as exc:
        raise MgmtError.invalid(str(exc)) from None
    return [f"Port {endpoint.port.number:04d} endpoint {endpoint.id:04d}"]


def cmd_port_resetcounter(ctx: CommandContext, args: str) -> None:
    number = parse_optional_int(args, "port", base=10)
    sw = _sw(ctx)
    if number is None:
        for port in sw.engine.ports:
            port.reset_counters()
        return
    try:
        sw.engine.ports.check_range(number)
    except PortError as exc:
        raise _port_error(exc) from None
    found = sw.engine.ports.get(number)
    if found is not None:  # a port that does not exist has nothing to reset: Success, as vde_switch
        found.reset_counters()


def port_lines(port: Port) -> Iterator[str]:
    """The ``port/print`` block of one port."""
    from ..vde.perms import group_name, user_name

    state = "ACTIVE" if port.active else "INACTIVE"
    alloc = "" if port.allocatable else "NOT "
    yield f"Port {port.number:04d} untagged_vlan={port.vlan:04d} {state} - {alloc}Unnamed Allocatable"
    yield (f" Current User: {user_name(port.curuser)} Access Control: "
           f"(User: {user_name(port.user)} - Group: {group_name(port.group)})")
    yield f" IN:  pkts {port.in_frames:10d}          bytes {port.in_bytes:20d}"
    yield f" OUT: pkts {port.out_frames:10d}          bytes {port.out_bytes:20d}"
    for endpoint in port.endpoints:
        module = getattr(endpoint, "module", "")
        description = getattr(endpoint, "description", "")
        yield f"  -- endpoint ID {endpoint.id:04d} module {module:<12}: {description}"


def _print(ctx: CommandContext, args: str, *, inactive: bool) -> list[str]:
    sw = _sw(ctx)
    number = parse_optional_int(args, "port", base=10)
    if number is not None:
        port = _lookup(ctx, number)
        if not (port.active or inactive):
            raise MgmtError(errno.ENXIO, f"port {number} is not active")
        return list(port_lines(port))
    return [line for port in sw.engine.ports if port.active or inactive
            for line in port_lines(port)]


def cmd_port_print(ctx: CommandContext, args: str) -> list[str]:
    return _print(ctx, args, inactive=False)


def cmd_port_allprint(ctx: CommandContext, args: str) -> list[str]:
    return _print(ctx, args, inactive=True)


def cmd_port_counters(ctx: CommandContext, args: str) -> list[str]:
    """vdex: every counter of a port, drops by reason included (not in vde_switch)."""
    sw = _sw(ctx)
    number = parse_optional_int(args, "port", base=10)
    ports = [_lookup(ctx, number)] if number is not None else list(sw.engine.ports)
    lines = []
    for port in ports:
        drops = " ".join(f"{k}={v}" for k, v in port.drops.as_dict().items())
        lines.append(f"Port {port.number:04d} in={port.in_frames}/{port.in_bytes} "
                     f"out={port.out_frames}/{port.out_bytes} drops: {drops}")
    return lines


# ---------------------------------------------------------------------- registration

COMMANDS = [
    MgmtCommand(path="ds", help="DATA SOCKET MENU"),
    MgmtCommand(path="ds/showinfo", handler=cmd_ds_showinfo, help="show ds info", output=True),
    MgmtCommand(path="help", handler=cmd_help, syntax="[arg]",
                help="Help (limited to arg when specified)", output=True),
    MgmtCommand(path="logout", handler=cmd_logout, help="logout from this mgmt terminal"),
    MgmtCommand(path="shutdown", handler=cmd_shutdown, help="shutdown of the switch"),
    MgmtCommand(path="showinfo", handler=cmd_showinfo, help="show switch version and info",
                output=True),
    MgmtCommand(path="load", handler=cmd_load, syntax="path", help="load a configuration script"),
    MgmtCommand(path="debug", help="DEBUG MENU"),
    MgmtCommand(path="debug/list", handler=cmd_debug_list, help="list debug categories",
                output=True),
    MgmtCommand(path="debug/add", handler=cmd_debug_add, syntax="dbgpath",
                help="enable debug info for a given category"),
    MgmtCommand(path="debug/del", handler=cmd_debug_del, syntax="dbgpath",
                help="disable debug info for a given category"),
    MgmtCommand(path="plugin", help="PLUGINS MENU"),
    MgmtCommand(path="plugin/list", handler=cmd_plugin_list, help="list plugins", output=True),
    MgmtCommand(path="plugin/add", handler=cmd_plugin_add, syntax="library",
                help="load a plugin"),
    MgmtCommand(path="plugin/del", handler=cmd_plugin_del, syntax="name", help="unload a plugin"),
    MgmtCommand(path="hash", help="HASH TABLE MENU"),
    MgmtCommand(path="hash/showinfo", handler=cmd_hash_showinfo, help="show hash info",
                output=True),
    MgmtCommand(path="hash/setsize", handler=cmd_hash_setsize, syntax="N",
                help="change hash size"),
    MgmtCommand(path="hash/setgcint", handler=cmd_hash_setgcint, syntax="N",
                help="change garbage collector interval"),
    MgmtCommand(path="hash/setexpire", handler=cmd_hash_setexpire, syntax="N",
                help="change hash entries expire time"),
    MgmtCommand(path="hash/setminper", handler=cmd_hash_setminper, syntax="N",
                help="minimum persistence time"),
    MgmtCommand(path="hash/print", handler=cmd_hash_print, help="print the hash table",
                output=True),
    MgmtCommand(path="hash/find", handler=cmd_hash_find, syntax="MAC [VLAN]", help="MAC lookup",
                output=True),
    MgmtCommand(path="port", help="PORT STATUS MENU"),
    MgmtCommand(path="port/showinfo", handler=cmd_port_showinfo, help="show port info",
                output=True),
    MgmtCommand(path="port/setnumports", handler=cmd_port_setnumports, syntax="N",
                help="set the number of ports"),
    MgmtCommand(path="port/sethub", handler=cmd_port_sethub, syntax="0/1", help="1=HUB 0=switch"),
    MgmtCommand(path="port/createauto", handler=cmd_port_createauto,
                help="create a port with an automatically allocated id "
                     "(inactive|notallocatable)", output=True),
    MgmtCommand(path="port/create", handler=cmd_port_create, syntax="N",
                help="create the port N (inactive|notallocatable)"),
    MgmtCommand(path="port/remove", handler=cmd_port_remove, syntax="N", help="remove the port N"),
    MgmtCommand(path="port/allocatable", handler=cmd_port_allocatable, syntax="N 0/1",
                help="Is the port allocatable as unnamed? 1=Y 0=N"),
    MgmtCommand(path="port/setuser", handler=cmd_port_setuser, syntax="N user",
                help="access control: set user"),
    MgmtCommand(path="port/setgroup", handler=cmd_port_setgroup, syntax="N user",
                help="access control: set group"),
    MgmtCommand(path="port/epclose", handler=cmd_port_epclose, syntax="N ID",
                help="remove the endpoint port N/id ID"),
    MgmtCommand(path="port/connect", handler=cmd_port_connect, syntax="VNL [N]",
                help="open a port from a VNL (vde://DIR, tap://NAME, ...): cables, uplinks",
                output=True),
    MgmtCommand(path="port/resetcounter", handler=cmd_port_resetcounter, syntax="[N]",
                help="reset the port (N) counters"),
    MgmtCommand(path="port/print", handler=cmd_port_print, syntax="[N]",
                help="print the port/endpoint table", output=True),
    MgmtCommand(path="port/allprint", handler=cmd_port_allprint, syntax="[N]",
                help="print the port/endpoint table (including inactive port)", output=True),
    MgmtCommand(path="port/counters", handler=cmd_port_counters, syntax="[N]",
                help="all counters of port N, drops by reason", output=True),
]

DEBUG_CATEGORIES = [
    DebugCategory(path="hash/+", tag=0o11, help="hash: new element"),
    DebugCategory(path="hash/-", tag=0o12, help="hash: discarded element"),
    DebugCategory(path="port/+", tag=0o21, help="new port"),
    DebugCategory(path="port/-", tag=0o22, help="closed port"),
    DebugCategory(path="port/descr", tag=0o23, help="set port description"),
    DebugCategory(path="port/ep/+", tag=0o31, help="new endpoint"),
    DebugCategory(path="port/ep/-", tag=0o32, help="closed endpoint"),
]


@hookimpl
def vdex_mgmt_commands(switch: Switch) -> list[MgmtCommand]:
    return COMMANDS


@hookimpl
def vdex_debug_categories(switch: Switch) -> list[DebugCategory]:
    return DEBUG_CATEGORIES
