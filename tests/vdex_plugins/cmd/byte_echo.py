"""cmd:// test child: echo stdin to stdout one byte per write, so every record reaches vdex split
at every possible place, its two length bytes included."""

import os
import sys
import time

while True:
    data = os.read(0, 4096)
    if not data:
        sys.exit(0)
    for i in range(len(data)):
        os.write(1, data[i:i + 1])
        if i % 7 == 0:
            time.sleep(0.0005)
