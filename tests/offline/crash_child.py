"""Child processes for the kill -9 tests (run as `python crash_child.py ROLE DB`).

writer:   enqueue items forever; print "ACK <key>" only after each commit returned.
replayer: deliver forever to $CRASH_URL in small batches (many requests to die inside).
Environment: CRASH_SECRET (hex), CRASH_TERMINAL, CRASH_PREFIX, CRASH_START, CRASH_URL.
"""

from __future__ import annotations

import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from offline_cache.crypto import PayloadKey
from offline_cache.outbox import Outbox, OutboxPolicy


def main() -> None:
    role, db = sys.argv[1], Path(sys.argv[2])
    secret = bytes.fromhex(os.environ["CRASH_SECRET"])
    terminal = os.environ["CRASH_TERMINAL"]
    outbox = Outbox(db, PayloadKey.derive(secret, terminal), OutboxPolicy(min_free_bytes=0))
    if outbox.incident is not None:
        print(f"INCIDENT {outbox.incident}", flush=True)
    prefix = os.environ["CRASH_PREFIX"]
    if role == "writer":
        i = int(os.environ["CRASH_START"])
        rng = random.Random()
        print("READY", flush=True)
        while True:
            if rng.random() < 0.2:  # a terminal is not a firehose: keep the backlog modest
                time.sleep(0.002)
            key = f"{prefix}k{i:07d}"
            outbox.enqueue(f"{prefix}{'ab'[i % 2]}", {"i": i}, key=key)
            print(f"ACK {key}", flush=True)
            i += 1
    else:
        from kiosk.backend.client import BackendClient
        from offline_cache.replay import HttpDeliverer, ReplayWorker

        client = BackendClient(os.environ["CRASH_URL"], terminal, secret, connect_timeout=2,
                               read_timeout=5)
        rng = random.Random()
        print("READY", flush=True)
        while True:
            worker = ReplayWorker(outbox, HttpDeliverer(client), batch_size=rng.randint(1, 8))
            worker.run_pass(force=True, lock_timeout=1.0)


if __name__ == "__main__":
    main()
