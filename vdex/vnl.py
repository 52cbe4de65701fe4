"""VNL, vdeplug4's "virtual network locator": the one URL grammar of plugs, cables and ports.

A VNL is ``module://args``; text without ``://`` belongs to module ``vde``. What ``args`` means
depends on the module, in one of three :class:`OptionStyle` s:

* ``PATH`` (vde and the netnodes): ``path[key=val/key/...]``. The options run from the first
  unquoted ``[`` to the last unquoted ``]``; an element without ``=`` is stored under ``""``
  (``vde:///tmp/sw[3]``, ``[0]``, ``[privatelan]``).
* ``ADDRESS`` (vxlan, vxvde): ``addr/key=val/key``. An element without ``=`` is a flag whose
  value is ``""`` (``vxlan://ff15::3/v6/port=12345``).
* ``RAW`` (udp, cmd, ptp, tap, null, ...): ``args`` untouched; ``cmd://`` needs its spaces and
  slashes, ``udp://`` its ``->`` and colons.

In ``PATH`` and ``ADDRESS`` text, ``'...'`` and ``"..."`` quote (nothing is special inside),
``\\x`` protects one character and ``%XX`` is a byte in hex, as in vdeplug4. Keys may be
abbreviated to a prefix, resolved against the module's key table by :func:`resolve_options`.

Parsing is pure: no file system, no environment. The default-switch rules for an empty VNL and
the "regular file holding a VNL" indirection live in :mod:`vdex.vnl_default`.

Differences from vdeplug4, on purpose: a key is split from its value at the first *unquoted*
``=`` (vdeplug4 splits after removing quotes); an unterminated quote, a dangling backslash, a
missing ``]``, text after ``]``, an empty key, a NUL byte, a key given twice and two un-keyed
elements are errors (vdeplug4 guesses or ignores); the scheme is case-insensitive; an un-keyed
element goes to the table's ``""`` entry even when it is also a prefix of a key (vdeplug4 reads
``[m]`` as ``mode=""``, i.e. mode 0; vdex reads it as the port group ``m``).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from types import MappingProxyType

import attrs

from ._vnl_quoting import cut_at, quote, unquote, unquoted_positions
from .errors import ConfigError

DEFAULT_SCHEME = "vde"
"""The module of a VNL written without ``://`` (a plain switch directory)."""


class OptionStyle(enum.Enum):
    """How a module reads the text after ``://``."""

    RAW = "raw"
    """No option syntax: the module gets the text as written."""
    PATH = "path"
    """``path[key=val/key/...]``: vde and the netnodes."""
    ADDRESS = "address"
    """``addr/key=val/key``: vxlan and vxvde."""


SCHEME_STYLES: Mapping[str, OptionStyle] = MappingProxyType({
    "vde": OptionStyle.PATH,
    "hub": OptionStyle.PATH,
    "switch": OptionStyle.PATH,
    "multi": OptionStyle.PATH,
    "bonding": OptionStyle.PATH,
    "vxlan": OptionStyle.ADDRESS,
    "vxvde": OptionStyle.ADDRESS,
    "udp": OptionStyle.RAW,
    "ptp": OptionStyle.RAW,
    "cmd": OptionStyle.RAW,
    "tap": OptionStyle.RAW,
    "macvtap": OptionStyle.RAW,
    "null": OptionStyle.RAW,
    "seqpacket": OptionStyle.RAW,
})
"""The option style of vdeplug4's modules. Schemes not listed are ``RAW`` unless the caller
passes a style (a third-party module that wants options parses with its own style)."""

_SCHEME_RE = re.compile(r"[a-z][a-z0-9_\-]*\Z")


def style_for(scheme: str) -> OptionStyle:
    """The option style vdeplug4 uses for ``scheme`` (``RAW`` for schemes it does not have)."""
    return SCHEME_STYLES.get(scheme, OptionStyle.RAW)


# ---------------------------------------------------------------------------- option mapping


class VnlOptions(Mapping[str, str]):
    """The options of a VNL as written: ordered, immutable, hashable, each key at most once.

    Keys are as the user typed them (maybe abbreviated); ``""`` holds the un-keyed element of the
    ``PATH`` style. :func:`resolve_options` turns them into a module's full key names.
    """

    __slots__ = ("_items", "_map")

    def __init__(self, items: Mapping[str, str] | Iterable[tuple[str, str]] = ()) -> None:
        pairs = tuple(items.items() if isinstance(items, Mapping) else items)
        mapping: dict[str, str] = {}
        for key, value in pairs:
            if not isinstance(key, str) or not isinstance(value, str):
                raise TypeError(f"VNL option {key!r}={value!r}: keys and values must be str")
            if key in mapping:
                raise ValueError(f"VNL option {key!r} given twice")
            mapping[key] = value
        self._items = pairs
        self._map = mapping

    def __getitem__(self, key: str) -> str:
        return self._map[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._map)

    def __len__(self) -> int:
        return len(self._map)

    def __hash__(self) -> int:
        return hash(frozenset(self._map.items()))

    def __repr__(self) -> str:
        return f"VnlOptions({self._map!r})"


def _to_options(value: VnlOptions | Mapping[str, str] | Iterable[tuple[str, str]]) -> VnlOptions:
    return value if isinstance(value, VnlOptions) else VnlOptions(value)


# ---------------------------------------------------------------------------- the record


def _lower(scheme: str) -> str:
    return scheme.lower()


@attrs.frozen
class Vnl:
    """One parsed VNL: which module, what it points at, and the options as written.

    Equality ignores ``args`` and ``text`` (how it was spelt): ``vde:///tmp/sw[3]`` and
    ``/tmp/sw[3]`` are the same VNL. ``str(vnl)`` is the text as given.
    """

    scheme: str = attrs.field(converter=_lower)
    """Module name, lower case: ``vde``, ``tap``, ``vxlan``, ..."""
    target: str = ""
    """What the module opens, unquoted: a path (``PATH``), an address (``ADDRESS``), or the
    whole argument text (``RAW``)."""
    options: VnlOptions = attrs.field(factory=VnlOptions, converter=_to_options)
    style: OptionStyle = attrs.field(
        default=attrs.Factory(lambda self: style_for(self.scheme), takes_self=True))
    args: str = attrs.field(
        eq=False, default=attrs.Factory(lambda self: _format_args(self), takes_self=True))
    """The text after ``://`` exactly as written (canonical form when built directly)."""
    text: str = attrs.field(
        eq=False, default=attrs.Factory(lambda self: f"{self.scheme}://{self.args}", takes_self=True))
    """The VNL as given by the user, for messages and ``port/print``."""

    def __attrs_post_init__(self) -> None:
        if not _SCHEME_RE.match(self.scheme):
            raise ConfigError(f"{self.scheme!r} is not a VNL module name "
                              "(a letter, then letters, digits, '_' or '-')")
        if self.style is OptionStyle.RAW and self.options:
            raise ConfigError(f"{self.scheme}:// takes no options")
        if self.style is OptionStyle.ADDRESS and "" in self.options:
            raise ConfigError(f"{self.scheme}:// options need a key")

    @property
    def path(self) -> str:
        """The target of a ``PATH`` style VNL (``""``: the module's default)."""
        return self.target

    @property
    def address(self) -> str:
        """The target of an ``ADDRESS`` style VNL (``""``: the module's default)."""
        return self.target

    def with_style(self, style: OptionStyle) -> Vnl:
        """Re-read ``args`` in another style: for a module that is not in :data:`SCHEME_STYLES`."""
        vnl = _parse_args(self.scheme, self.args, style)
        return attrs.evolve(vnl, text=self.text)

    def __str__(self) -> str:
        return self.text


# ---------------------------------------------------------------------------- parsing


def split_scheme(text: str) -> tuple[str, str]:
    """Split at the first ``://`` into (module, args); no ``://`` means module ``vde``."""
    head, sep, rest = text.partition("://")
    if not sep:
        return DEFAULT_SCHEME, text
    if not head.isascii() or not _SCHEME_RE.match(head.lower()):
        raise ConfigError(f"{text!r}: {head!r} is not a VNL module name; to name a switch "
                          "directory whose path contains '://', write vde://PATH")
    return head.lower(), rest


def parse_vnl(text: str, *, style: OptionStyle | None = None) -> Vnl:
    """Parse a VNL; ``style`` overrides the module's style from :data:`SCHEME_STYLES`.

    :raises ConfigError: saying what is wrong and where.
    """
    scheme, args = split_scheme(text)
    vnl = _parse_args(scheme, args, style_for(scheme) if style is None else style)
    return attrs.evolve(vnl, text=text)


def _parse_args(scheme: str, args: str, style: OptionStyle) -> Vnl:
    if style is OptionStyle.RAW:
        return Vnl(scheme, args, VnlOptions(), style, args=args)
    where = f"{scheme}://{args}"
    if style is OptionStyle.ADDRESS:
        cuts = unquoted_positions(args, "/", where)
        pieces = cut_at(args, cuts)
        target = unquote(pieces[0], where)
        options = _elements(pieces[1:], where, bare_key=True)
    else:
        cuts = unquoted_positions(args, "[]", where)
        opening = next((i for i in cuts if args[i] == "["), None)
        if opening is None:
            target, options = unquote(args, where), VnlOptions()
        else:
            closing = [i for i in cuts if i > opening and args[i] == "]"]
            if not closing:
                raise ConfigError(f"{where!r}: '[' without a closing ']'")
            end = closing[-1]
            if end != len(args) - 1:
                raise ConfigError(f"{where!r}: text after ']' ({args[end + 1:]!r}); "
                                  "quote it if it belongs to the path")
            target = unquote(args[:opening], where)
            inner = args[opening + 1:end]
            options = _elements(cut_at(inner, unquoted_positions(inner, "/", where)), where, bare_key=False)
    return Vnl(scheme, target, options, style, args=args)


def _elements(raw_elements: Iterable[str], where: str, *, bare_key: bool) -> VnlOptions:
    """``key=value`` and bare elements. A bare element is a flag (``bare_key``) or the un-keyed
    value stored under ``""``. Empty elements (``a//b``, a trailing ``/``) are skipped."""
    pairs: dict[str, str] = {}
    for raw in raw_elements:
        if not raw:
            continue
        eq = unquoted_positions(raw, "=", where)
        if eq:
            key, value = unquote(raw[:eq[0]], where), unquote(raw[eq[0] + 1:], where)
            if not key:
                raise ConfigError(f"{where!r}: option {raw!r} has an empty key")
        elif bare_key:
            key, value = unquote(raw, where), ""
            if not key:
                raise ConfigError(f"{where!r}: empty option {raw!r}")
        else:
            key, value = "", unquote(raw, where)
        if key in pairs:
            what = "two un-keyed elements" if key == "" else f"option {key!r} given twice"
            raise ConfigError(f"{where!r}: {what}")
        pairs[key] = value
    return VnlOptions(pairs)


# ---------------------------------------------------------------------------- formatting


def _format_args(vnl: Vnl) -> str:
    if vnl.style is OptionStyle.RAW:
        return vnl.target
    if vnl.style is OptionStyle.ADDRESS:
        parts = [quote(vnl.target, "/") if vnl.target else ""]
        for key, value in vnl.options.items():
            parts.append(quote(key, "/=") + ("=" + quote(value, "/=") if value else ""))
        return "/".join(parts)
    path = quote(vnl.target, "[") if vnl.target else ""
    if not vnl.options:
        return path
    elements = [quote(value, "/=[]") if key == "" else
                f"{quote(key, '/=[]')}={quote(value, '/=[]') if value else ''}"
                for key, value in vnl.options.items()]
    return f"{path}[{'/'.join(elements)}]"


def format_vnl(vnl: Vnl) -> str:
    """The canonical text of ``vnl``: ``parse_vnl(format_vnl(v), style=v.style) == v``."""
    return f"{vnl.scheme}://{_format_args(vnl)}"


# ---------------------------------------------------------------------------- key tables


def resolve_options(options: Vnl | Mapping[str, str], keys: Sequence[str], *,
                    ordered: bool = True, scheme: str = "") -> dict[str, str]:
    """Map the keys as written to the module's full key names.

    ``keys`` is the module's key table in order. A key as written selects the table key it
    equals, else the first one it is a prefix of (vdeplug4: ``p=`` is ``port``, ``v=`` is
    ``vni`` in vxlan); with ``ordered=False`` a prefix of several keys is an error instead.
    A table with a ``""`` entry takes the un-keyed element of the ``PATH`` style; without one,
    an un-keyed element is read as a flag (``[v6]``).

    :raises ConfigError: an unknown or ambiguous key, or two spellings of one key.
    """
    if isinstance(options, Vnl):
        scheme = scheme or options.scheme
        options = options.options
    where = f"{scheme}://" if scheme else "VNL"
    named = [k for k in keys if k]
    takes_unkeyed = "" in keys
    resolved: dict[str, str] = {}
    for written, value in options.items():
        if written == "" and takes_unkeyed:
            full = ""
        elif written == "":
            full, value = _match_key(value, named, ordered, where), ""
        else:
            full = _match_key(written, named, ordered, where)
        if full in resolved:
            raise ConfigError(f"{where}: option {full!r} given twice ({written!r})")
        resolved[full] = value
    return resolved


def _match_key(written: str, named: Sequence[str], ordered: bool, where: str) -> str:
    if written in named:
        return written
    candidates = [k for k in named if k.startswith(written)]
    if not candidates:
        known = ", ".join(named) if named else "none"
        raise ConfigError(f"{where}: unknown key {written!r} (known keys: {known})")
    if len(candidates) > 1 and not ordered:
        raise ConfigError(f"{where}: key {written!r} is ambiguous "
                          f"({', '.join(candidates)}); write more of it")
    return candidates[0]


# ---------------------------------------------------------------------------- values

_NUMBER_RE = re.compile(r"(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)([kKmMgGtT]?)\Z")
_SUFFIX = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_number(text: str, *, what: str = "value", maximum: int | None = None) -> int:
    """A non-negative integer as vdeplug4's ``strtoullm`` reads it: decimal, ``0x`` hex or
    ``0`` octal, times an optional K, M, G or T (powers of two): ``rcvbuf=2M``.

    Stricter than ``strtoullm``: no sign, no blanks, no trailing garbage, one suffix.
    """
    match = _NUMBER_RE.match(text)
    if match is None:
        raise ConfigError(f"{what} {text!r} is not a number (examples: 1024, 0x400, 2M)")
    digits, suffix = match.groups()
    if digits[:2] in ("0x", "0X"):
        value = int(digits[2:], 16)
    elif digits.startswith("0"):
        value = int(digits, 8)
    else:
        value = int(digits)
    value *= _SUFFIX[suffix.lower()]
    if maximum is not None and value > maximum:
        raise ConfigError(f"{what} {text!r} is too large (at most {maximum})")
    return value


def parse_mode(text: str, *, what: str = "mode") -> int:
    """A permission mode in octal, as ``mode=0770`` (vdeplug4 uses ``strtol(..., 8)``)."""
    if not re.fullmatch(r"[0-7]{1,5}", text) or int(text, 8) > 0o7777:
        raise ConfigError(f"{what} {text!r} is not an octal permission mode such as 0770")
    return int(text, 8)


__all__ = [
    "DEFAULT_SCHEME",
    "SCHEME_STYLES",
    "OptionStyle",
    "Vnl",
    "VnlOptions",
    "format_vnl",
    "parse_mode",
    "parse_number",
    "parse_vnl",
    "resolve_options",
    "split_scheme",
    "style_for",
]
