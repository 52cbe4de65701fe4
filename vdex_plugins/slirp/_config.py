"""SlirpSettings -> libslirp's ``SlirpConfig`` (version 4).

libslirp copies what it needs during ``slirp_new`` (it ``g_strdup``s the strings), so the
structure, and the bytes it points to (ctypes keeps them in the structure's ``_objects``), only
have to live until ``slirp_new`` returns.
"""

from __future__ import annotations

import ctypes

from . import _libslirp as C
from ._settings import SlirpSettings


def slirp_config(settings: SlirpSettings) -> C.SlirpConfig:
    s = settings
    cfg = C.SlirpConfig()
    cfg.version = C.CONFIG_VERSION
    # By default guests may reach the host's network: that is what slirp is for.
    cfg.restricted = int(s.restricted)
    cfg.in_enabled = s.ipv4
    cfg.vnetwork = C.in_addr(s.network.network_address)
    cfg.vnetmask = C.in_addr(s.network.netmask)
    cfg.vhost = C.in_addr(s.host)
    cfg.vnameserver = C.in_addr(s.dns)
    cfg.vdhcp_start = C.in_addr(s.dhcp_start)
    cfg.disable_dhcp = not s.dhcp  # slirpvde answers DHCP only with -D
    cfg.in6_enabled = s.ipv6
    cfg.vprefix_addr6 = C.in6_addr(s.network6.network_address)
    cfg.vprefix_len = s.network6.prefixlen
    cfg.vhost6 = C.in6_addr(s.host6)
    cfg.vnameserver6 = C.in6_addr(s.dns6)
    if s.tftp_root is not None:
        cfg.tftp_path = s.tftp_root.encode()
    for field, text in (("vhostname", s.hostname), ("tftp_server_name", s.tftp_server_name),
                        ("bootfile", s.bootfile), ("vdomainname", s.domain_name)):
        if text is not None:
            setattr(cfg, field, text.encode())
    if s.dns_search:
        # A NULL-terminated array; the structure keeps a reference to it (ctypes _objects).
        names = (ctypes.c_char_p * (len(s.dns_search) + 1))(
            *(name.encode() for name in s.dns_search), None)
        cfg.vdnssearch = ctypes.cast(names, ctypes.POINTER(ctypes.c_char_p))
    cfg.if_mtu = s.mtu  # 0: libslirp's default, 1500
    cfg.if_mru = s.mru
    # 10.0.2.2 reaches the host's 127.0.0.1 unless disabled, as in slirpvde.
    cfg.disable_host_loopback = not s.host_loopback
    cfg.enable_emu = False  # libslirp's protocol emulation is documented as unsafe
    cfg.disable_dns = False
    return cfg
