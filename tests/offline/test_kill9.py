"""kill -9 at random points while enqueueing and while replaying (real processes).

Every acknowledged item must be delivered exactly once, in order per stream, counted at
the reference backend. Iterations: $KIOSK_OFFLINE_KILL_ITERATIONS (default 30).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from offline_cache.crypto import PayloadKey
from offline_cache.outbox import Outbox, OutboxPolicy

from .helpers import worker_for

CHILD = Path(__file__).with_name("crash_child.py")
ITERATIONS = int(os.environ.get("KIOSK_OFFLINE_KILL_ITERATIONS", "30"))


def _spawn(role: str, db: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, str(CHILD), role, str(db)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    first = proc.stdout.readline()
    assert first.strip() == "READY", (first, proc.stderr.read() if proc.stderr else "")
    return proc


def _kill(proc: subprocess.Popen[str]) -> str:
    os.kill(proc.pid, signal.SIGKILL)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL, err[-3000:]
    return out


def test_kill9_while_enqueueing_and_replaying(tmp_path: Path, backend: Any, admin: Any,
                                             stream_prefix: str) -> None:
    db = tmp_path / "outbox.db"
    env = dict(os.environ, CRASH_SECRET=backend.secret.hex(), CRASH_TERMINAL=backend.terminal_id,
               CRASH_PREFIX=stream_prefix, CRASH_URL=backend.url)
    rng = random.Random(int(os.environ.get("KIOSK_OFFLINE_KILL_SEED", "0")) or None)
    acked: list[str] = []
    start = 0
    incidents: list[str] = []
    for _ in range(ITERATIONS):
        env["CRASH_START"] = str(start)
        replayer = _spawn("replayer", db, env)
        writer = _spawn("writer", db, env)
        time.sleep(rng.uniform(0.02, 0.25))
        first, second = (writer, replayer) if rng.random() < 0.5 else (replayer, writer)
        outs = {id(first): _kill(first)}
        time.sleep(rng.uniform(0.0, 0.1))
        outs[id(second)] = _kill(second)
        for line in outs[id(writer)].splitlines():
            if line.startswith("ACK "):
                acked.append(line[4:])
        for out in outs.values():
            incidents += [ln for ln in out.splitlines() if ln.startswith("INCIDENT")]
        start += 100_000  # fresh key space: a key never reused after a crash
    assert incidents == []  # the database survived every kill
    assert len(acked) > ITERATIONS  # the children did work before dying

    key = PayloadKey.derive(backend.secret, backend.terminal_id)
    outbox = Outbox(db, key, OutboxPolicy(min_free_bytes=0))
    try:
        assert outbox.incident is None
        assert worker_for(outbox, backend, batch_size=100).flush() == 0
        assert outbox.status().dead == ()
    finally:
        outbox.close()
    got = admin.applied(stream_prefix)
    applied = [k for keys in got["order"].values() for k in keys]
    assert len(applied) == len(set(applied))  # exactly once
    missing = set(acked) - set(applied)
    assert not missing, f"{len(missing)} acknowledged item(s) lost, e.g. {sorted(missing)[:3]}"
    extra = set(applied) - set(acked)
    assert len(extra) <= ITERATIONS  # at most the one in flight when a writer died
    for stream, keys in got["order"].items():
        nums = [int(k.rsplit("k", 1)[1]) for k in keys]
        assert nums == sorted(nums), f"{stream} delivered out of order"
    redelivered = sum(1 for k in applied if got["received"][k] > 1)
    print(f"kill-9: {ITERATIONS} rounds, {len(acked)} acked, {len(applied)} applied once, "
          f"{redelivered} replayed after a crash and de-duplicated")
