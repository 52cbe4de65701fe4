"""Every test here runs libslirp in this process: each one checks first that it stands in the
isolated namespace test_slirp_inside_netns.py made (only ``lo``), so a frame cannot leave."""

from __future__ import annotations

import pytest
from slirp_isolation import in_isolated_netns


@pytest.fixture(autouse=True)
def _isolated() -> None:
    if not in_isolated_netns():
        pytest.fail("these tests run libslirp: only inside an isolated network namespace")
