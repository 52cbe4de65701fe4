"""The least a cable filter can do, in Python: the C relay.c's loop (epoll, read, write).

Used by bench/wirefilter_accuracy.py (FLOOR=1) and bench/wirefilter_wakeup.py: what a Python
process costs per wake-up before it does anything with the frames.
"""

import os
import select

alt_in, alt_out = os.environ.get("ALTERNATE_STDIN"), os.environ.get("ALTERNATE_STDOUT")
if alt_in and alt_out:
    route = {0: int(alt_out), int(alt_in): 1}
else:
    route = {0: 1}
poller = select.epoll()
for fd in route:
    poller.register(fd, select.EPOLLIN)
read, write = os.read, os.write
while True:
    for fd, _events in poller.poll(-1):
        data = read(fd, 65536)
        if not data:
            raise SystemExit(0)
        view = memoryview(data)
        while view:
            view = view[write(route[fd], view):]
