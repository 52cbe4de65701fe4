"""Debug categories and subscriptions: debug/list, debug/add, debug/del and event delivery."""

from __future__ import annotations

import errno

import pytest

from vdex.errors import MgmtError
from vdex.mgmt.context import Session
from vdex.mgmt.core_commands import DEBUG_CATEGORIES
from vdex.mgmt.debug import DebugHub
from vdex.records import DebugCategory

FSTP = [DebugCategory(path="fstp/status", tag=0o44, help="fstp: status change"),
        DebugCategory(path="fstp/root", tag=0o45, help="fstp: rootswitch/port change"),
        DebugCategory(path="fstp/+", tag=0o41, help="fstp: port becomes active"),
        DebugCategory(path="fstp/-", tag=0o42, help="fstp: port becomes inactive")]
DUMP = [DebugCategory(path="dump/packetin", tag=0o101, help="dump incoming packet")]


def session(posted: list[str] | None = None) -> Session:
    return Session(id=7, post=(posted.append if posted is not None else lambda _t: None))


@pytest.fixture
def hub() -> DebugHub:
    h = DebugHub()
    h.add("core", DEBUG_CATEGORIES)
    h.add("fstp", FSTP)
    h.add("dump", DUMP)
    return h


def errno_of(fn: object, *args: object) -> int:
    with pytest.raises(MgmtError) as exc:
        fn(*args)  # type: ignore[operator]
    return exc.value.errno


def test_list_matches_vde_switch(hub: DebugHub) -> None:
    """A.1 and A.3: hash, then fstp, then port, then plugins, whatever the loading order."""
    assert hub.list_lines(session()) == [
        "CATEGORY               TAG STATUS HELP",
        "------------           --- ------ ----",
        "hash/+                 011 OFF    hash: new element",
        "hash/-                 012 OFF    hash: discarded element",
        "fstp/status            044 OFF    fstp: status change",
        "fstp/root              045 OFF    fstp: rootswitch/port change",
        "fstp/+                 041 OFF    fstp: port becomes active",
        "fstp/-                 042 OFF    fstp: port becomes inactive",
        "port/+                 021 OFF    new port",
        "port/-                 022 OFF    closed port",
        "port/descr             023 OFF    set port description",
        "port/ep/+              031 OFF    new endpoint",
        "port/ep/-              032 OFF    closed endpoint",
        "dump/packetin          101 OFF    dump incoming packet",
    ]


def test_list_without_match_prints_the_header_and_fails(hub: DebugHub) -> None:
    with pytest.raises(MgmtError) as exc:
        hub.list_lines(session(), "xyz")
    assert exc.value.errno == errno.ENOENT
    assert exc.value.output == ["CATEGORY               TAG STATUS HELP",
                                "------------           --- ------ ----"]


def test_add_and_del(hub: DebugHub) -> None:
    s = session()
    assert errno_of(hub.subscribe, s, "nothing") == errno.EINVAL
    assert errno_of(hub.unsubscribe, s, "port") == errno.ENOENT
    hub.subscribe(s, "port/ep")
    hub.subscribe(s, "port")  # adds the rest of port/
    assert errno_of(hub.subscribe, s, "port") == errno.EEXIST
    assert errno_of(hub.subscribe, s, "port/ep") == errno.EEXIST
    status = {line.split()[0]: line.split()[2] for line in hub.list_lines(s)[2:]}
    assert status == {"hash/+": "OFF", "hash/-": "OFF", "fstp/status": "OFF", "fstp/root": "OFF",
                      "fstp/+": "OFF", "fstp/-": "OFF", "port/+": "ON", "port/-": "ON",
                      "port/descr": "ON", "port/ep/+": "ON", "port/ep/-": "ON",
                      "dump/packetin": "OFF"}
    assert all(line.split()[2] == "OFF" for line in hub.list_lines(session())[2:]), \
        "STATUS is per session"
    hub.unsubscribe(s, "port/ep")
    assert hub.listening("port/+") and not hub.listening("port/ep/+")
    assert errno_of(hub.unsubscribe, s, "nothing") == errno.EINVAL


def test_an_empty_prefix_is_every_category(hub: DebugHub) -> None:
    """vde_switch: debug/add and debug/del without argument (A.1 differential)."""
    s = session()
    hub.subscribe(s, "")
    assert all(line.split()[2] == "ON" for line in hub.list_lines(s)[2:])
    assert errno_of(hub.subscribe, s, "") == errno.EEXIST
    hub.unsubscribe(s, "")
    assert not any(hub.listening(c.path) for c in DEBUG_CATEGORIES)
    assert errno_of(hub.unsubscribe, s, "") == errno.ENOENT
    assert errno_of(DebugHub().subscribe, s, "") == errno.EINVAL, "no category at all"


def test_events_reach_subscribers_only(hub: DebugHub) -> None:
    a_lines: list[str] = []
    b_lines: list[str] = []
    a, b = session(a_lines), session(b_lines)
    hub.subscribe(a, "hash")
    hub.subscribe(b, "port/+")
    hub.emit("hash/+", "02:00:00:00:00:03 VLAN 00:00 Port 4")
    hub.emit("port/+", "04")
    hub.emit("port/-", "04")
    assert a_lines == ["3011 hash/+ 02:00:00:00:00:03 VLAN 00:00 Port 4\n"]
    assert b_lines == ["3021 port/+ 04\n"]
    hub.drop_session(a)
    assert not hub.listening("hash/+")
    hub.emit("hash/+", "gone")
    assert len(a_lines) == 1


def test_a_plugin_removed_takes_its_categories_and_subscriptions(hub: DebugHub) -> None:
    s = session()
    hub.subscribe(s, "dump")
    hub.remove_owner("dump")
    assert not hub.listening("dump/packetin")
    assert errno_of(hub.list_lines, s, "dump") == errno.ENOENT
    hub.emit("dump/packetin", "nobody hears this")


def test_two_plugins_cannot_own_one_category(hub: DebugHub) -> None:
    from vdex.errors import PluginError

    with pytest.raises(PluginError, match="already provided by 'core'"):
        hub.add("other", [DebugCategory(path="port/+", tag=0o21)])
