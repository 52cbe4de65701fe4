"""Per-frame cost of the VLAN plugin's 802.1Q stages (ns/frame), with and without a whole engine.

Run: ``.venv/bin/python bench/vlan_dot1q_stages.py``. Numbers are for one CPython process on one
core; compare the ratios, not the absolute values, across machines.
"""

from __future__ import annotations

import timeit

from vdex._core.engine import SwitchEngine
from vdex._core.port import Port
from vdex_plugins.vlan._dot1q import dot1q_stage, make_adapter, make_classifier

N = 1_000_000


class _Null:
    id = 0
    uid = 0

    def send(self, frame: bytes) -> None:
        pass


def ns(stmt, number: int = N) -> float:
    return min(timeit.repeat(stmt, number=number, repeat=5)) / number * 1e9


def stages() -> None:
    port = Port(number=1, vlan=0, tagged={10})
    untagged = bytes.fromhex("ffffffffffff020000000001") + b"\x08\x00" + b"\0" * 50
    tagged = untagged[:12] + bytes.fromhex("8100000a") + untagged[12:]

    def nop3(_f: bytes, _v: int, _t: bool) -> None:
        pass

    def nop1(_f: bytes) -> None:
        pass

    classify = make_classifier(port, nop3)
    to_tagged = make_adapter(port, 10, nop1)
    to_untagged = make_adapter(port, 0, nop1)
    assert to_tagged and to_untagged
    base = ns(lambda: nop3(untagged, 0, False))
    print(f"call overhead (a no-op 3-arg function)     {base:6.0f} ns")
    print(f"classify untagged                          {ns(lambda: classify(untagged)):6.0f} ns")
    print(f"classify tagged                            {ns(lambda: classify(tagged)):6.0f} ns")
    print(f"adapt: add a tag                           {ns(lambda: to_tagged(untagged, False)):6.0f} ns")
    print(f"adapt: strip a tag                         {ns(lambda: to_untagged(tagged, True)):6.0f} ns")
    print(f"adapt: pass through                        {ns(lambda: to_tagged(tagged, True)):6.0f} ns")


def engine_path() -> None:
    # unicast between two learnt hosts, 64-byte frames
    a_to_b = bytes.fromhex("020000000002020000000001") + b"\x08\x00" + b"\0" * 50
    b_to_a = bytes.fromhex("020000000001020000000002") + b"\x08\x00" + b"\0" * 50
    for label, vlan_plugin in (("core only", False), ("with VLAN plugin", True)):
        engine = SwitchEngine()
        if vlan_plugin:
            engine.set_stages([("vlan", dot1q_stage())])
        a, _ = engine.ports.choose_for_client(0, 1)
        b, _ = engine.ports.choose_for_client(0, 2)
        for p in (a, b):
            engine.add_port(p)
            engine.attach(p, _Null())
        b.receive(b_to_a)
        a.receive(a_to_b)
        print(f"engine unicast, untagged access ports, {label:17s} {ns(lambda a=a: a.receive(a_to_b)):6.0f} ns")
    # tagged trunk in the path: port 1 access in VLAN 10, port 2 trunk (tagged member of 10)
    engine = SwitchEngine()
    engine.set_stages([("vlan", dot1q_stage())])
    engine.create_vlan(10)
    a, _ = engine.ports.choose_for_client(0, 1)
    b, _ = engine.ports.choose_for_client(0, 2)
    for p in (a, b):
        engine.add_port(p)
        engine.attach(p, _Null())
    engine.set_untagged(a, 10)
    engine.set_untagged(b, 4095)
    engine.add_tagged(b, 10)
    b_to_a_tagged = b_to_a[:12] + bytes.fromhex("8100000a") + b_to_a[12:]
    b.receive(b_to_a_tagged)
    a.receive(a_to_b)
    print(f"engine unicast access -> trunk (tag added)               {ns(lambda: a.receive(a_to_b)):6.0f} ns")
    print(f"engine unicast trunk -> access (tag stripped)            {ns(lambda: b.receive(b_to_a_tagged)):6.0f} ns")


if __name__ == "__main__":
    stages()
    engine_path()
