"""Stand-alone command line tools of vdex that are not part of the switch.

``dpipe`` (process plumbing for VDE cables) and ``term`` (a console client for vde_switch-style
management sockets). Each tool module has ``add_arguments(parser)``, ``run(namespace) -> int`` and
``main(argv) -> int`` so the ``vdex`` CLI can mount it as a subcommand or call it directly.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable


def parse_and_run(parser: argparse.ArgumentParser, run: Callable[[argparse.Namespace], int],
                  argv: list[str] | None) -> int:
    """A tool's ``main``: parse ``argv`` (default: the process's) and run; ``--help`` and usage
    errors become exit statuses instead of SystemExit, so callers get a number either way."""
    try:
        args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2
    return run(args)
