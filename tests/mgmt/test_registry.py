"""Command lookup (first prefix match, as vde_switch) and help order and format."""

from __future__ import annotations

import pytest

from vdex.errors import PluginError
from vdex.mgmt.core_commands import COMMANDS
from vdex.mgmt.registry import VDE_SWITCH_ORDER, CommandRegistry
from vdex.records import MgmtCommand


def handler(_ctx: object, _args: str) -> None:
    return None


def cmd(path: str, syntax: str = "", help: str = "") -> MgmtCommand:
    return MgmtCommand(path=path, handler=handler, syntax=syntax, help=help)


def menu(path: str, title: str) -> MgmtCommand:
    return MgmtCommand(path=path, help=title)


@pytest.fixture
def registry() -> CommandRegistry:
    reg = CommandRegistry()
    reg.add("core", COMMANDS)
    return reg


def paths(reg: CommandRegistry) -> list[str]:
    return [e.command.path for e in reg.ordered()]


def test_lookup_is_the_first_prefix_match(registry: CommandRegistry) -> None:
    found = registry.lookup("showinfoXYZ")
    assert found is not None and found[0].path == "showinfo" and found[1] == "XYZ"
    found = registry.lookup("port/print  \t 3")
    assert found is not None and (found[0].path, found[1]) == ("port/print", "3")
    found = registry.lookup("helpme")
    assert found is not None and (found[0].path, found[1]) == ("help", "me")


def test_createauto_is_found_before_create(registry: CommandRegistry) -> None:
    found = registry.lookup("port/createauto")
    assert found is not None and found[0].path == "port/createauto"
    found = registry.lookup("port/create 5")
    assert found is not None and (found[0].path, found[1]) == ("port/create", "5")


def test_menu_headers_never_match(registry: CommandRegistry) -> None:
    assert registry.lookup("port") is None
    assert registry.lookup("ds") is None
    assert registry.lookup("foo/bar") is None
    assert registry.lookup("") is None


def test_help_format(registry: CommandRegistry) -> None:
    lines = registry.help_lines()
    assert lines[:4] == [
        "COMMAND PATH       SYNTAX          HELP",
        "------------       --------------  ------------",
        "ds                 ============    DATA SOCKET MENU",
        "ds/showinfo                        show ds info",
    ]
    assert "help               [arg]           Help (limited to arg when specified)" in lines
    assert ("port/createauto                    create a port with an automatically allocated "
            "id (inactive|notallocatable)") in lines


def test_help_prefix(registry: CommandRegistry) -> None:
    assert registry.help_lines("port/set")[2:] == [
        "port/setnumports   N               set the number of ports",
        "port/sethub        0/1             1=HUB 0=switch",
        "port/setuser       N user          access control: set user",
        "port/setgroup      N user          access control: set group",
    ]
    assert registry.help_lines("nothing") == registry.help_lines()[:2]


def test_core_commands_come_in_vde_switchs_order(registry: CommandRegistry) -> None:
    known = [p for p in paths(registry) if p in VDE_SWITCH_ORDER]
    assert known == [p for p in VDE_SWITCH_ORDER if p in known]
    assert paths(registry)[:8] == ["ds", "ds/showinfo", "help", "logout", "shutdown", "showinfo",
                                   "load", "debug"]


def test_a_plugins_vde_switch_command_takes_vde_switchs_place(registry: CommandRegistry) -> None:
    registry.add("vlan", [menu("vlan", "VLAN MANAGEMENT MENU"), cmd("vlan/create", "N"),
                          cmd("port/setvlan", "N VLAN")])
    order = paths(registry)
    assert order.index("port/sethub") + 1 == order.index("port/setvlan")
    assert order.index("port/setvlan") + 1 == order.index("port/createauto")
    assert order.index("port/allprint") < order.index("vlan") < order.index("vlan/create")


def test_a_plugins_new_menu_is_its_own_group() -> None:
    """Regression: the header of a menu vde_switch does not have was listed among the
    top-level commands (between ds/showinfo and help) instead of before its commands."""
    reg = CommandRegistry()
    reg.add("core", COMMANDS)
    reg.add("tap", [menu("tap", "TAP INTERFACES MENU"), cmd("tap/add", "TAP [N]")])
    order = paths(reg)
    assert order[-2:] == ["tap", "tap/add"]
    assert order.index("help") == order.index("ds/showinfo") + 1


def test_plugin_commands_for_a_known_menu_go_after_its_known_commands(
        registry: CommandRegistry) -> None:
    registry.add("x", [cmd("hash/extra"), cmd("aaa")])
    order = paths(registry)
    assert order.index("hash/extra") == order.index("hash/find") + 1
    assert order.index("aaa") == order.index("load") + 1, "top-level: after vde_switch's"


def test_owners(registry: CommandRegistry) -> None:
    registry.add("x", [menu("port", "PORT STATUS MENU"), cmd("port/extra")])
    assert registry.owner_of("port") == "core", "two plugins adding to a menu: first header stays"
    with pytest.raises(PluginError, match="already provided by plugin 'core'"):
        registry.add("y", [cmd("port/print")])
    with pytest.raises(PluginError, match="twice"):
        registry.add("y", [cmd("y/a"), cmd("y/a")])
    removed = registry.remove_owner("x")
    assert [c.path for c in removed] == ["port/extra"]
    assert registry.lookup("port/extra") is None
    assert registry.owner_of("port") == "core"
