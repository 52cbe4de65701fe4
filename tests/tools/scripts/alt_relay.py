"""A dpipe middle stage: stdin -> ALTERNATE_STDOUT and ALTERNATE_STDIN -> stdout.

Usage: alt_relay.py LOGFILE. Appends "LR <bytes>" / "RL <bytes>" per chunk relayed, so a test can
prove the traffic went through it. Exits when either input ends.
"""

import os
import select
import sys

log = open(sys.argv[1], "a", buffering=1)  # noqa: SIM115 (lives as long as the process)
alt_in = int(os.environ["ALTERNATE_STDIN"])
alt_out = int(os.environ["ALTERNATE_STDOUT"])
routes = {0: (alt_out, "LR"), alt_in: (1, "RL")}
while True:
    readable, _, _ = select.select(list(routes), [], [])
    for fd in readable:
        data = os.read(fd, 65536)
        if not data:
            sys.exit(0)
        out, tag = routes[fd]
        os.write(out, data)
        log.write(f"{tag} {len(data)}\n")
