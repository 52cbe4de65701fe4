"""A one-way dpipe stage: stdin -> stdout. Usage: oneway_relay.py LOGFILE NAME.

Appends "NAME <bytes>" per chunk and refuses to run if it was given alternate descriptors it
should not have (a one-way stage has none).
"""

import os
import sys

unexpected = []
for fd in (int(os.environ["ALTERNATE_STDIN"]), int(os.environ["ALTERNATE_STDOUT"])):
    try:
        os.fstat(fd)
    except OSError:
        continue
    unexpected.append(fd)
log = open(sys.argv[1], "a", buffering=1)  # noqa: SIM115 (lives as long as the process)
name = sys.argv[2]
for fd in unexpected:
    log.write(f"{name} unexpected fd {fd}\n")
while data := os.read(0, 65536):
    os.write(1, data)
    log.write(f"{name} {len(data)}\n")
