"""The slirp tests that run libslirp in this very process live in inside_netns/.

They are collected only inside an isolated namespace: test_slirp_inside_netns.py creates one
(``lo`` only) and runs pytest on that folder there, failing if anything in it fails. Anywhere
else the folder is not collected, because slirp must never run in the host's namespace.
"""

from __future__ import annotations

from pathlib import Path

from slirp_isolation import in_isolated_netns


def pytest_ignore_collect(collection_path: Path) -> bool | None:
    if collection_path.name == "inside_netns" and not in_isolated_netns():
        return True
    return None
