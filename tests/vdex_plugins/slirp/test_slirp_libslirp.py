"""The ctypes binding: structure layouts against the real header, loading, clear errors.

Nothing here creates a libslirp instance (that only happens inside isolated namespaces).
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess
from ipaddress import IPv4Address
from pathlib import Path

import pytest

from vdex.errors import PluginError
from vdex_plugins.slirp import _libslirp as C

HEADER = Path("/usr/include/slirp/libslirp.h")


def c_layout(tmp_path: Path) -> dict[str, int]:
    """offsetof/sizeof of every field we declare, as the C compiler sees the real header."""
    if shutil.which("cc") is None or not HEADER.exists():
        pytest.fail(
            "the ABI check needs a C compiler and libslirp-dev (apt-get install gcc libslirp-dev)"
        )
    lines = []
    for struct, name in (("SlirpConfig", C.SlirpConfig), ("SlirpCb", C.SlirpCb)):
        lines.append(f'printf("{struct} %zu\\n", sizeof({struct}));')
        for field, _ in name._fields_:
            lines.append(f'printf("{struct}.{field} %zu\\n", offsetof({struct}, {field}));')
    for struct in ("struct in6_addr", "struct sockaddr_in", "struct sockaddr_in6"):
        lines.append(f'printf("{struct} %zu\\n", sizeof({struct}));')
    lines.append('printf("in6_align %zu\\n", _Alignof(struct in6_addr));')
    source = tmp_path / "layout.c"
    source.write_text(
        "#include <stddef.h>\n#include <stdio.h>\n#include <slirp/libslirp.h>\n"
        "int main(void) {\n" + "\n".join(lines) + "\nreturn 0;\n}\n"
    )
    binary = tmp_path / "layout"
    subprocess.run(["cc", "-o", str(binary), str(source)], check=True, capture_output=True)
    out = subprocess.run([str(binary)], check=True, capture_output=True, text=True).stdout
    return {key: int(value) for key, value in (line.rsplit(" ", 1) for line in out.splitlines())}


def test_struct_layouts_match_the_header(tmp_path: Path) -> None:
    layout = c_layout(tmp_path)
    for struct, cls in (("SlirpConfig", C.SlirpConfig), ("SlirpCb", C.SlirpCb)):
        assert ctypes.sizeof(cls) == layout[struct], struct
        for field, _ in cls._fields_:
            assert getattr(cls, field).offset == layout[f"{struct}.{field}"], f"{struct}.{field}"
    assert ctypes.sizeof(C.In6Addr) == layout["struct in6_addr"]
    assert ctypes.alignment(C.In6Addr) == layout["in6_align"] == 4
    assert ctypes.sizeof(C.SockaddrIn) == layout["struct sockaddr_in"]
    assert ctypes.sizeof(C.SockaddrIn6) == layout["struct sockaddr_in6"]


def test_header_version_is_what_we_fill_in() -> None:
    text = HEADER.read_text() if HEADER.exists() else ""
    assert "#define SLIRP_CONFIG_VERSION_MAX" in text, "libslirp-dev is needed for this check"
    max_version = int(text.split("#define SLIRP_CONFIG_VERSION_MAX", 1)[1].split()[0])
    assert max_version >= C.CONFIG_VERSION


def test_system_library_loads() -> None:
    lib = C.load_libslirp()
    assert lib.version.startswith("4.")
    assert lib.has_hostxfwd  # 4.5 and later
    assert C.load_libslirp() is lib  # loaded once per process


def test_missing_library_names_the_debian_package() -> None:
    with pytest.raises(PluginError) as exc:
        C.load_libslirp("libslirp-not-installed.so.0")
    message = str(exc.value)
    assert "libslirp0" in message and "apt-get install libslirp0" in message
    assert exc.value.plugin == "slirp"


def test_wrong_library_is_refused() -> None:
    with pytest.raises(PluginError, match="not libslirp 4.x"):
        C.load_libslirp("libc.so.6")


def test_addresses_are_in_network_byte_order() -> None:
    assert bytes(C.in_addr("10.0.2.2")) == bytes([10, 0, 2, 2])
    assert bytes(C.in6_addr("fd00::2")) == bytes.fromhex("fd000000000000000000000000000002")
    sa = C.sockaddr(IPv4Address("127.0.0.1"), 8080)
    assert bytes(sa)[:8] == b"\x02\x00\x1f\x90\x7f\x00\x00\x01"
