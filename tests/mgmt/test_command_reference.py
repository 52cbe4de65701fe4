"""docs/commands.md lists exactly the commands a switch with every built-in plugin has."""

from __future__ import annotations

from vdex.mgmt import reference


async def test_the_command_reference_is_generated_from_the_registry() -> None:
    tables = reference.render(await reference.collect())
    with open(reference.DOC) as f:
        document = f.read()
    assert reference.updated(document, tables) == document, (
        "docs/commands.md is out of date: run python -m vdex.mgmt.reference --write")


async def test_every_core_command_of_vde_switch_is_listed() -> None:
    with open(reference.DOC) as f:
        document = f.read()
    for path in ("ds/showinfo", "help", "logout", "shutdown", "showinfo", "load", "debug/list",
                 "debug/add", "debug/del", "plugin/list", "plugin/add", "plugin/del",
                 "hash/showinfo", "hash/setsize", "hash/setgcint", "hash/setexpire",
                 "hash/setminper", "hash/print", "hash/find", "port/showinfo", "port/setnumports",
                 "port/sethub", "port/setvlan", "port/createauto", "port/create", "port/remove",
                 "port/allocatable", "port/setuser", "port/setgroup", "port/epclose",
                 "port/resetcounter", "port/print", "port/allprint", "vlan/create", "vlan/remove",
                 "vlan/addport", "vlan/delport", "vlan/print", "vlan/allprint", "fstp/showinfo",
                 "fstp/setfstp", "fstp/setedge", "fstp/bonus", "fstp/print"):
        assert f"| `{path}` |" in document, path
