"""``python -m vdex`` is the ``vdex`` command."""

import sys

from .cli import main

sys.exit(main())
