"""sync.py - start a scenario's processes together once all have warmed up.

The third argument of mlp.py and ../priority/server.py may be 'go:<path>':
the process creates <path>.ready.<pid> when it is warm, then waits for
<path> to exist (run.sh creates it when every process is ready).
"""
import os
import time


def wait_for_go(arg):
    if not arg.startswith("go:"):
        start_at = float(arg) if arg else 0.0
        while start_at and time.time() < start_at:
            time.sleep(0.001)
        return
    path = arg[3:]
    open("%s.ready.%d" % (path, os.getpid()), "w").close()
    while not os.path.exists(path):
        time.sleep(0.0005)
