"""What ``tap://NAME[mtu=N/up]`` asks for. Sans-I/O: reads and checks text, touches nothing.

vdeplug4's ``tap://`` takes the interface name as written (no quoting, no ``%XX``), so
``tap://vdex%d`` reaches the kernel unchanged and it picks the number. vdex keeps that and adds an
optional option block after the name, in the ``path[key=value/...]`` style of ``vde://``:

* ``mtu=N``: set the interface MTU (68 to 1500; see :data:`MAX_TAP_MTU`);
* ``up``: bring the link up.

Both need CAP_NET_ADMIN; without them the tap is opened as it is, as vde_switch and vde_plug do.
Interface names never contain ``[`` in practice, so the block is unambiguous.
"""

from __future__ import annotations

import attrs

from vdex._core.frame import ETH_HEADER_LEN, MAX_FRAME_LEN
from vdex.errors import ConfigError
from vdex.vnl import OptionStyle, parse_vnl, resolve_options

from ._device import check_interface_name

TAP_KEYS = ("mtu", "up")
DOT1Q_TAG = 4
MAX_TAP_MTU = MAX_FRAME_LEN - ETH_HEADER_LEN - DOT1Q_TAG
"""1500. A switch port takes frames of at most 1518 bytes (vde_switch's buffer, which vdex
keeps): a full-size IP packet, its Ethernet header and one 802.1Q tag. A larger MTU would let the
kernel send frames every switch on the LAN drops, so it is refused with a message."""
MIN_TAP_MTU = 68
"""The smallest MTU IPv4 allows; the kernel refuses less on an interface with addresses."""


@attrs.frozen
class TapTarget:
    name: str
    mtu: int | None = None
    up: bool = False

    @property
    def configures_link(self) -> bool:
        return self.mtu is not None or self.up


def mtu_problem(mtu: int, name: str) -> str | None:
    """Why ``mtu`` cannot work on a switch port, or None."""
    if mtu > MAX_TAP_MTU:
        return (f"MTU {mtu} of tap {name!r} is above {MAX_TAP_MTU}: switch ports carry frames of "
                f"at most {MAX_FRAME_LEN} bytes (as vde_switch does), so the kernel's larger "
                f"frames would be dropped; set the MTU to {MAX_TAP_MTU} or less "
                f"(ip link set {name} mtu {MAX_TAP_MTU})")
    if mtu < MIN_TAP_MTU:
        return f"MTU {mtu} of tap {name!r} is below {MIN_TAP_MTU}, the least IPv4 allows"
    return None


def parse_tap_target(args: str) -> TapTarget:
    """Read the text after ``tap://``.

    :raises ConfigError: a bad option block, an unknown key, an MTU out of range.
    :raises vdex.errors.PortError: an invalid interface name (EINVAL).
    """
    name, bracket, rest = args.partition("[")
    check_interface_name(name)
    if not bracket:
        return TapTarget(name)
    options = resolve_options(parse_vnl(f"tap://x[{rest}", style=OptionStyle.PATH), TAP_KEYS)
    mtu = None
    if "mtu" in options:
        text = options["mtu"]
        if not (text.isascii() and text.isdigit() and len(text) <= 6):
            raise ConfigError(f"tap://{args}: mtu {text!r} is not a decimal number")
        mtu = int(text)
        problem = mtu_problem(mtu, name)
        if problem:
            raise ConfigError(problem)
    if options.get("up", "") != "":
        raise ConfigError(f"tap://{args}: 'up' takes no value")
    return TapTarget(name, mtu=mtu, up="up" in options)


def format_tap_target(target: TapTarget) -> str:
    """The text after ``tap://`` that reads back as ``target``."""
    options = ([f"mtu={target.mtu}"] if target.mtu is not None else []) + \
        (["up"] if target.up else [])
    return target.name + (f"[{'/'.join(options)}]" if options else "")


__all__ = ["MAX_TAP_MTU", "MIN_TAP_MTU", "TAP_KEYS", "TapTarget", "format_tap_target",
           "mtu_problem", "parse_tap_target"]
