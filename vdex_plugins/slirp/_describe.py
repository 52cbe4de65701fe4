"""Text about a slirp instance: slirpvde's start-up banner, and the lines of ``slirp/print``.

Pure: settings and statistics in, lines out.
"""

from __future__ import annotations

from ._bridge import SlirpStatistics
from ._settings import FORWARD_DEFAULT_HOST, HostForward, SlirpSettings

_INDENT = " " * 19


def _redir(forward: HostForward) -> str:
    """slirpvde's ``hport:gaddr:gport``; the host address only when it is not the default."""
    if forward.host_addr == FORWARD_DEFAULT_HOST:
        return f"{forward.host_port}:{forward.spec().split(':', 2)[2]}"
    return forward.spec()


def slirpvde_banner(settings: SlirpSettings, switch: str) -> str:
    """What slirpvde prints on stderr once attached (spec §4.1), for these settings.

    Kept verbatim, ``slirpvde`` included, so that scripts waiting for it keep working; lines
    appear only for what is set, in slirpvde's order (``-x`` forwards are not listed, as in
    slirpvde).
    """
    s = settings
    lines = [
        f"Starting slirpvde: virtual_host={s.host}/{s.network.prefixlen}",
        f"{_INDENT}DNS         ={s.dns}",
    ]
    if s.dhcp:
        lines.append(f"{_INDENT}dhcp_start  ={s.dhcp_start}")
    if s.tftp_root is not None:
        lines.append(f"{_INDENT}tftp prefix ={s.tftp_root}")
    lines.append(f"{_INDENT}vde switch  ={switch}")
    for protocol, label in (("tcp", "TCP"), ("udp", "UDP")):
        for forward in s.forwards:
            if forward.protocol == protocol:
                lines.append(f"{_INDENT}redir {label}   ={_redir(forward)}")
    for x11 in s.x11_forwards:
        lines.append(f"{_INDENT}redir X     ={x11.guest_addr}:{x11.display}.{x11.screen}")
    return "\n".join(lines) + "\n"


def settings_lines(settings: SlirpSettings) -> list[str]:
    """The configuration, one topic per line (``slirp/print``, ``slirp:///verbose``)."""
    s = settings
    lines = []
    if s.ipv4:
        dhcp = f"DHCP from {s.dhcp_start}" if s.dhcp else "no DHCP"
        lines.append(f"IPv4 {s.network} host {s.host} DNS {s.dns} {dhcp}")
    if s.ipv6:
        lines.append(f"IPv6 {s.network6} host {s.host6} DNS {s.dns6}")
    extras = [
        f"{label} {value}"
        for label, value in (
            ("hostname", s.hostname),
            ("domain", s.domain_name),
            ("search", ",".join(s.dns_search) or None),
            ("tftp", s.tftp_root),
            ("tftp_server_name", s.tftp_server_name),
            ("bootfile", s.bootfile),
            ("mtu", s.mtu or None),
            ("mru", s.mru or None),
        )
        if value is not None
    ]
    if s.restricted:
        extras.append("restricted")
    if not s.host_loopback:
        extras.append("no host loopback")
    if extras:
        lines.append(" ".join(extras))
    lines.extend(f"unix forward {u.guest_addr}:{u.port} -> {u.path}" for u in s.unix_forwards)
    return lines


def statistics_line(stats: SlirpStatistics, queued: int, queue_drops: int) -> str:
    return (
        f"frames from guests {stats.frames_from_guest} to guests {stats.frames_to_guest} "
        f"queued {queued} dropped: from guests {stats.dropped_from_guest} "
        f"to guests {stats.dropped_to_guest} queue full {queue_drops} "
        f"guest errors {stats.guest_errors}"
    )


__all__ = ["settings_lines", "slirpvde_banner", "statistics_line"]
