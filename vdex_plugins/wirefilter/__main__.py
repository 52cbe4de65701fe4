"""``python -m vdex_plugins.wirefilter``: ``vdex wirefilter`` until the ``vdex`` script mounts it."""

from __future__ import annotations

import sys

from ._cli import main

if __name__ == "__main__":
    sys.exit(main())
