"""Is this process inside the isolated namespace a slirp test made for it?"""

from __future__ import annotations

import os

from vdex.testing.netns import loopback_only_netns_fault

NETNS_ENV = "VDEX_SLIRP_TEST_NETNS"


def in_isolated_netns() -> bool:
    """True only in the namespace named by $VDEX_SLIRP_TEST_NETNS, holding only ``lo``."""
    name = os.environ.get(NETNS_ENV)
    return bool(name) and loopback_only_netns_fault(name) is None
