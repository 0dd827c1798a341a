"""Run by the zygote's tests as ``python -m tests.support.zygote_probe CODE [sleep|term]``: prints
what the process sees as one JSON line, then exits with CODE; ``sleep`` waits for a signal
first, ``term`` also exits 0 on SIGTERM (as the daemons do)."""

from __future__ import annotations

import json
import os
import signal
import sys
import time

if __name__ == "__main__":
    print(
        json.dumps(
            {
                "name": __name__,
                "argv": sys.argv[1:],
                "env": {k: v for k, v in os.environ.items() if k.startswith("ZYGOTE_PROBE")},
                "cwd": os.getcwd(),
                "argv0": sys.argv[0],
                "path0": sys.path[0],
                "sigint": getattr(signal.getsignal(signal.SIGINT), "__name__", str(signal.getsignal(signal.SIGINT))),
                "imported_by_name": "tests.support.zygote_probe" in sys.modules,
                "stdin": sys.stdin.read(),
            }
        ),
        flush=True,
    )
    print("to stderr", file=sys.stderr, flush=True)
    if "term" in sys.argv:
        signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(0))
    if "sleep" in sys.argv or "term" in sys.argv:
        while True:
            time.sleep(1)  # until a signal
    sys.exit(int(sys.argv[1]))
