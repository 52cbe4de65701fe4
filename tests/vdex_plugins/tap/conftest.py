from __future__ import annotations

from collections.abc import Iterator

import pytest
from tap_netns import NetNs


@pytest.fixture
def netns() -> Iterator[NetNs]:
    """A fresh network namespace, deleted (with everything in it) when the test ends."""
    ns = NetNs("vdex-tap")
    try:
        yield ns
    finally:
        ns.delete()
