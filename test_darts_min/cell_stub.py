"""A stand-in for a sweep cell's process in test_study.py: starts in a process of its own, forked from the fork server."""
import os
import signal
import sys
import time


def record(path, threads):
    """Write when it began and ended a second's sleep; a path ending in 'exit3' exits 3, in 'kill' dies by SIGKILL."""
    if path.endswith('kill'):
        os.kill(os.getpid(), signal.SIGKILL)
    began = time.time()
    time.sleep(1.0)
    with open(path, 'w') as f:
        f.write(f'{began} {time.time()} {threads}')
    sys.exit(3 if path.endswith('exit3') else 0)
