"""Is this process inside the isolated namespace a slirp test made for it?"""

from __future__ import annotations

import os

NETNS_ENV = "VDEX_SLIRP_TEST_NETNS"


def in_isolated_netns() -> bool:
    """True only in the namespace named by $VDEX_SLIRP_TEST_NETNS, holding only ``lo``."""
    name = os.environ.get(NETNS_ENV)
    if not name:
        return False
    try:
        same = os.stat(f"/run/netns/{name}").st_ino == os.stat("/proc/self/ns/net").st_ino
    except OSError:
        return False
    return same and sorted(os.listdir("/sys/class/net")) == ["lo"]
