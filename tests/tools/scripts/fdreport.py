"""Writes one JSON line about this process to the file argv[1]: name, env, pgrp, open fds."""

import contextlib
import json
import os
import sys

fds = {}
for entry in os.listdir("/proc/self/fd"):
    with contextlib.suppress(OSError):  # the fd of listdir itself is gone
        fds[int(entry)] = os.readlink(f"/proc/self/fd/{entry}")
with open(sys.argv[1], "a") as out:
    out.write(json.dumps({
        "name": sys.argv[2],
        "pid": os.getpid(),
        "pgrp": os.getpgrp(),
        "alt_in": os.environ.get("ALTERNATE_STDIN"),
        "alt_out": os.environ.get("ALTERNATE_STDOUT"),
        "fds": fds,
    }) + "\n")
