"""The VNL grammar: vdeplug4's examples, its quoting, key tables, numbers, and properties."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from vdex.errors import ConfigError
from vdex.vnl import (
    OptionStyle,
    Vnl,
    VnlOptions,
    format_vnl,
    parse_mode,
    parse_number,
    parse_vnl,
    resolve_options,
    split_scheme,
)

VDE_KEYS = ("", "port", "portgroup", "group", "mode")
VXLAN_KEYS = ("port", "vni", "ttl", "rcvbuf", "v6", "v4", "hashsize", "expiretime", "if")


# ---------------------------------------------------------------------------- the examples


@pytest.mark.parametrize(("text", "scheme", "target", "options"), [
    ("/tmp/sw", "vde", "/tmp/sw", {}),
    ("", "vde", "", {}),
    ("vde://", "vde", "", {}),
    ("vde:///tmp/sw[3]", "vde", "/tmp/sw", {"": "3"}),
    ("/tmp/sw[0]", "vde", "/tmp/sw", {"": "0"}),
    ("vde:///var/run/vde.ctl[privatelan]", "vde", "/var/run/vde.ctl", {"": "privatelan"}),
    ("vde:///tmp/x.ctl[port=5/group=vde/mode=0770]", "vde", "/tmp/x.ctl",
     {"port": "5", "group": "vde", "mode": "0770"}),
    ("vde://[3]", "vde", "", {"": "3"}),
    ("vde:///tmp/sw[]", "vde", "/tmp/sw", {}),
    ("vde:///tmp/sw[3/]", "vde", "/tmp/sw", {"": "3"}),
    ("switch:///tmp/node[mode=0666/hashsize=512]", "switch", "/tmp/node",
     {"mode": "0666", "hashsize": "512"}),
    ("vxlan://ff15::3/port=12345/vni=42", "vxlan", "ff15::3", {"port": "12345", "vni": "42"}),
    ("vxlan://", "vxlan", "", {}),
    ("vxlan:///v6/p=4790", "vxlan", "", {"v6": "", "p": "4790"}),
    ("vxlan://239.0.0.1//vni=1/", "vxlan", "239.0.0.1", {"vni": "1"}),
    ("udp://5000->10.0.0.2:5000", "udp", "5000->10.0.0.2:5000", {}),
    ("cmd://ssh host vde_plug /tmp/sw[2]", "cmd", "ssh host vde_plug /tmp/sw[2]", {}),
    ("tap://tap0", "tap", "tap0", {}),
    ("ptp:///tmp/p'x", "ptp", "/tmp/p'x", {}),
    ("null://", "null", "", {}),
    ("TAP://Tap0", "tap", "Tap0", {}),
    ("thirdparty://any[thing]/x", "thirdparty", "any[thing]/x", {}),
])
def test_examples(text: str, scheme: str, target: str, options: dict[str, str]) -> None:
    vnl = parse_vnl(text)
    assert (vnl.scheme, vnl.target, dict(vnl.options)) == (scheme, target, options)
    assert str(vnl) == vnl.text == text


@pytest.mark.parametrize(("text", "target", "options"), [
    ("vde://'/tmp/a[b'", "/tmp/a[b", {}),
    ('vde://"/tmp/my sw"[3]', "/tmp/my sw", {"": "3"}),
    ("vde:///tmp/a\\[b", "/tmp/a[b", {}),
    ("vde:///tmp/%41%62", "/tmp/Ab", {}),
    ("vde:///tmp/100%", "/tmp/100%", {}),
    ("vde:///tmp/%4G", "/tmp/%4G", {}),
    ("vde:///tmp/%%41", "/tmp/%A", {}),
    ("vde:///tmp/\\%41", "/tmp/%41", {}),
    ("vde:///tmp/'%41'", "/tmp/%41", {}),
    ("vde:///tmp/\"a\\b\"", "/tmp/a\\b", {}),
    ("vde:///tmp/'a\"b'", "/tmp/a\"b", {}),
    ("vde:///tmp/%C3%A9", "/tmp/\u00e9", {}),
    ("vde:///tmp/%FF", "/tmp/\udcff", {}),
    ("vde:///tmp/x[g='a/b'/m=07'7'0]", "/tmp/x", {"g": "a/b", "m": "0770"}),
    ("vde:///tmp/x[g=a%2Fb]", "/tmp/x", {"g": "a/b"}),
    ("vde:///tmp/x[a]b]", "/tmp/x", {"": "a]b"}),
    ("vde:///tmp/x[a\\=b]", "/tmp/x", {"": "a=b"}),
    ("vde:///tmp/x[mode=a=b]", "/tmp/x", {"mode": "a=b"}),
    ("vde:///tmp/x[''=]", "/tmp/x", None),
    ("vxlan://'a/b'/if=\"eth 0\"", "a/b", {"if": "eth 0"}),
])
def test_quoting(text: str, target: str, options: dict[str, str] | None) -> None:
    if options is None:
        with pytest.raises(ConfigError, match="empty key"):
            parse_vnl(text)
        return
    vnl = parse_vnl(text)
    assert (vnl.target, dict(vnl.options)) == (target, options)


@pytest.mark.parametrize(("text", "message"), [
    ("vde:///tmp/'sw", "unterminated ' quote"),
    ('vde:///tmp/"sw', "unterminated \" quote"),
    ("vde:///tmp/sw\\", "protects nothing"),
    ("vde:///tmp/sw[3", "without a closing"),
    ("vde:///tmp/sw[3]/x", "text after"),
    ("vde:///tmp/sw[=3]", "empty key"),
    ("vde:///tmp/sw[port=1/port=2]", "given twice"),
    ("vde:///tmp/sw[1/2]", "two un-keyed"),
    ("vde:///tmp/sw%00", "NUL"),
    ("vde:///tmp/s\x00w", "NUL"),
    ("vxlan://x/=1", "empty key"),
    ("vxlan://x/''", "empty option"),
    ("vxlan://x/vni=1/vni=2", "given twice"),
    ("/tmp/a://b", "not a VNL module name"),
    ("://x", "not a VNL module name"),
    ("9p://x", "not a VNL module name"),
    ("v\u212aa://x", "not a VNL module name"),
])
def test_errors_are_clear(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_vnl(text)


def test_split_scheme() -> None:
    assert split_scheme("/tmp/sw") == ("vde", "/tmp/sw")
    assert split_scheme("Vxlan://a://b") == ("vxlan", "a://b")


def test_style_override_and_with_style() -> None:
    vnl = parse_vnl("thirdparty:///x[k=v]")
    assert vnl.style is OptionStyle.RAW and vnl.target == "/x[k=v]"
    path = vnl.with_style(OptionStyle.PATH)
    assert (path.target, dict(path.options), path.text) == ("/x", {"k": "v"}, vnl.text)
    assert parse_vnl("thirdparty:///x[k=v]", style=OptionStyle.PATH) == path
    assert parse_vnl("vde:///x[k=v]", style=OptionStyle.RAW).target == "/x[k=v]"


def test_equality_ignores_spelling() -> None:
    a, b = parse_vnl("/tmp/sw[3]"), parse_vnl("VDE://'/tmp/sw'[3]")
    assert a == b and hash(a) == hash(b) and a.text != b.text
    assert parse_vnl("vde:///x[a=1/b=2]") == parse_vnl("vde:///x[b=2/a=1]")
    assert len({a, b}) == 1


def test_built_directly() -> None:
    vnl = Vnl("vde", "/tmp/my sw", {"": "3"})
    assert vnl.style is OptionStyle.PATH
    assert vnl.text == "vde:///tmp/my sw[3]" and vnl.args == "/tmp/my sw[3]"
    assert Vnl("vxlan", "", {"v6": "", "vni": "42"}).text == "vxlan:///v6/vni=42"
    assert vnl.path == vnl.address == "/tmp/my sw"
    with pytest.raises(ConfigError, match="takes no options"):
        Vnl("udp", "1->h:2", {"k": "v"})
    with pytest.raises(ConfigError, match="need a key"):
        Vnl("vxlan", "x", {"": "v"})
    with pytest.raises(ConfigError, match="module name"):
        Vnl("a b", "x")


def test_options_mapping() -> None:
    options = VnlOptions([("b", "2"), ("a", "1")])
    assert list(options) == ["b", "a"] and options["a"] == "1" and len(options) == 2
    assert options == {"a": "1", "b": "2"} and hash(options) == hash(VnlOptions({"a": "1", "b": "2"}))
    with pytest.raises(ValueError, match="twice"):
        VnlOptions([("a", "1"), ("a", "2")])
    with pytest.raises(TypeError):
        VnlOptions({"a": 1})  # type: ignore[dict-item]


# ---------------------------------------------------------------------------- key tables


def test_resolve_vxlan_prefixes_in_table_order() -> None:
    vnl = parse_vnl("vxlan://239.0.0.1/p=4790/v=42/v6/ex=60/i=eth0")
    assert resolve_options(vnl, VXLAN_KEYS) == {
        "port": "4790", "vni": "42", "v6": "", "expiretime": "60", "if": "eth0"}


def test_resolve_vde_table() -> None:
    assert resolve_options(parse_vnl("/tmp/sw[3]"), VDE_KEYS) == {"": "3"}
    assert resolve_options(parse_vnl("/tmp/sw[m=0770/g=vde]"), VDE_KEYS) == {
        "mode": "0770", "group": "vde"}
    assert resolve_options(parse_vnl("/tmp/sw[portg=x]"), VDE_KEYS) == {"portgroup": "x"}
    # an un-keyed element goes to the "" entry even when it looks like a key
    assert resolve_options(parse_vnl("/tmp/sw[m]"), VDE_KEYS) == {"": "m"}


def test_resolve_unkeyed_flag_without_slot() -> None:
    assert resolve_options(parse_vnl("hub:///tmp/h[v6]"), ("v4", "v6")) == {"v6": ""}


def test_resolve_errors() -> None:
    with pytest.raises(ConfigError, match=r"vxlan://: unknown key 'foo' \(known keys: port, vni"):
        resolve_options(parse_vnl("vxlan://x/foo=1"), VXLAN_KEYS)
    with pytest.raises(ConfigError) as info:
        resolve_options(parse_vnl("vxlan://x/foo=1"), VXLAN_KEYS)
    assert "unknwown" not in str(info.value)
    with pytest.raises(ConfigError, match="given twice"):
        resolve_options(parse_vnl("vxlan://x/port=1/p=2"), VXLAN_KEYS)
    with pytest.raises(ConfigError, match="ambiguous.*vni, v6, v4"):
        resolve_options(parse_vnl("vxlan://x/v=1"), VXLAN_KEYS, ordered=False)
    assert resolve_options(parse_vnl("vxlan://x/v6"), VXLAN_KEYS, ordered=False) == {"v6": ""}
    with pytest.raises(ConfigError, match="unknown key 'x'.*none"):
        resolve_options({"x": "1"}, (), scheme="null")


# ---------------------------------------------------------------------------- values


@pytest.mark.parametrize(("text", "value"), [
    ("0", 0), ("1024", 1024), ("0x400", 1024), ("0X1f", 31), ("010", 8), ("2K", 2048),
    ("2k", 2048), ("1M", 1 << 20), ("3g", 3 << 30), ("1T", 1 << 40), ("0x10K", 16 << 10),
])
def test_parse_number(text: str, value: int) -> None:
    assert parse_number(text) == value


@pytest.mark.parametrize("text", ["", "-1", "+1", "08", "1KK", " 1", "1 ", "1.5", "K", "0x", "١"])
def test_parse_number_rejects(text: str) -> None:
    with pytest.raises(ConfigError, match="is not a number"):
        parse_number(text, what="rcvbuf")


def test_parse_number_maximum() -> None:
    assert parse_number("64K", maximum=1 << 16) == 1 << 16
    with pytest.raises(ConfigError, match="too large"):
        parse_number("65537", maximum=1 << 16)


def test_parse_mode() -> None:
    assert parse_mode("0770") == 0o770 and parse_mode("600") == 0o600
    for bad in ("", "8", "0o770", "77777", "-1"):
        with pytest.raises(ConfigError, match="octal permission mode"):
            parse_mode(bad)


# ---------------------------------------------------------------------------- properties

tricky_text = st.lists(st.sampled_from(list("ab09:/[]='\"\\%- \x7f\x01\u00e9") +
                                      ["%41", "%2F", "%00", "%C3", "%A9", "://"]),
                      max_size=30).map("".join)
any_text = st.one_of(st.text(max_size=60), tricky_text, st.builds(str.__add__, st.sampled_from(
    ["vde://", "vxlan://", "udp://", "hub://", "x://", ""]), tricky_text))
styles = st.sampled_from(list(OptionStyle))


@given(any_text, st.one_of(st.none(), styles))
@example("vde:///x['']", None)
@example("vxlan://a%2Fb/k=%25", None)
def test_parse_never_crashes_and_canonical_form_is_stable(text: str, style: OptionStyle | None) -> None:
    try:
        vnl = parse_vnl(text, style=style)
    except ConfigError:
        return
    canonical = format_vnl(vnl)
    again = parse_vnl(canonical, style=vnl.style)
    assert again == vnl
    assert format_vnl(again) == canonical


value_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                     max_size=20)
key_text = value_text.filter(bool)


@st.composite
def vnls(draw: st.DrawFn) -> Vnl:
    style = draw(styles)
    scheme = draw(st.from_regex(r"[a-z][a-z0-9_\-]{0,8}", fullmatch=True))
    target = draw(value_text)
    if style is OptionStyle.RAW:
        return Vnl(scheme, target, {}, style)
    keys = st.one_of(st.just(""), key_text) if style is OptionStyle.PATH else key_text
    options = draw(st.dictionaries(keys, value_text, max_size=4))
    if "" in options:
        assume(options[""] != "" or style is not OptionStyle.PATH)
    return Vnl(scheme, target, options, style)


@given(vnls())
def test_format_then_parse_round_trips(vnl: Vnl) -> None:
    assert parse_vnl(format_vnl(vnl), style=vnl.style) == vnl
    assert parse_vnl(vnl.text, style=vnl.style) == vnl


@given(st.dictionaries(st.text(max_size=6), st.text(max_size=6), max_size=5),
       st.lists(st.text(alphabet="abpv46", max_size=6), max_size=6, unique=True), st.booleans())
def test_resolve_never_crashes(options: dict[str, str], table: list[str], ordered: bool) -> None:
    try:
        resolved = resolve_options(options, table, ordered=ordered)
    except ConfigError:
        return
    assert set(resolved) <= set(table)
    assert len(resolved) == len(options)
    for written in options:
        if written:
            assert any(full.startswith(written) for full in resolved)


@given(st.integers(0, 1 << 40), st.sampled_from(["", "k", "K", "m", "M", "g", "G", "t", "T"]),
       st.sampled_from(["{}", "0x{:x}", "0X{:X}", "0{:o}"]))
def test_numbers_round_trip(n: int, suffix: str, form: str) -> None:
    factor = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}[suffix.lower()]
    assert parse_number(form.format(n) + suffix) == n * factor


@given(st.text(max_size=20))
def test_parse_number_never_crashes(text: str) -> None:
    with contextlib.suppress(ConfigError):
        assert parse_number(text) >= 0
