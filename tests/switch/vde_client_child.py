"""A VDE client for tests that run it as another user (``python vde_client_child.py DIR PORT``).

Prints one line: ``port N PATH`` once connected, or ``refused SECONDS MESSAGE`` when the switch
closed the stream or did not answer; then, if connected, holds the port until stdin closes.
"""

from __future__ import annotations

import sys
import time

from vdex.errors import PortError
from vdex.vde.client import connect_switch


def main() -> int:
    directory, port = sys.argv[1], int(sys.argv[2])
    description = sys.argv[3] if len(sys.argv) > 3 else "child"
    start = time.monotonic()
    try:
        conn = connect_switch(directory, port=port, description=description, timeout=4.0)
    except PortError as exc:
        print(f"refused {time.monotonic() - start:.3f} {exc}", flush=True)
        return 0
    print(f"port {conn.port} {conn.switch_path}", flush=True)
    sys.stdin.read()
    conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
