"""Outbox benchmarks: durable enqueue vs raw SQLite commits, drain with and without
100,000 delivered items of history, persist-queue as a peer, and HTTP replay.

All rates are items per second, medians over rounds, on the same disk in the same run
(`$KIOSK_BENCH_DIR`, default the system temp folder). persist-queue is a test/bench
extra; without it its keys are NaN.
"""

from __future__ import annotations

import os
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from offline_cache.crypto import PayloadKey
from offline_cache.outbox import Outbox, OutboxPolicy

PAYLOAD = {"service": "ss_certificate", "stars": 5, "tags": ["evaluate.tag.fast"],
           "terminal_id": "DG-BENCH-0001", "session": "0" * 32}
N_COMMIT = 2000
N_DRAIN = 1000
HISTORY = 100_000
N_REPLAY = 10_000


def _key() -> PayloadKey:
    return PayloadKey.derive(b"bench terminal secret", "DG-BENCH-0001")


def _outbox(path: Path) -> Outbox:
    return Outbox(path, _key(), OutboxPolicy(max_items=1_000_000, max_bytes=1 << 34,
                                             min_free_bytes=0))


def raw_vs_enqueue(d: Path, n: int = N_COMMIT, chunks: int = 8) -> tuple[float, float]:
    """Raw sqlite3 single-row commits (WAL, synchronous=FULL) and durable outbox enqueues,
    in alternating chunks on the same disk so that both see the same disk weather."""
    conn = sqlite3.connect(d / "raw.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, payload BLOB)")
    blob = os.urandom(160)
    ob = _outbox(d / "enqueue.db")
    raw_s = enq_s = 0.0
    per = max(1, n // chunks)
    for _ in range(chunks):
        t = time.perf_counter()
        for _ in range(per):
            conn.execute("BEGIN")
            conn.execute("INSERT INTO t(payload) VALUES (?)", (blob,))
            conn.execute("COMMIT")
        raw_s += time.perf_counter() - t
        t = time.perf_counter()
        for _ in range(per):
            ob.enqueue("evaluation", PAYLOAD)
        enq_s += time.perf_counter() - t
    conn.close()
    ob.close()
    return per * chunks / raw_s, per * chunks / enq_s


def drain_rate(ob: Outbox, n: int = N_DRAIN) -> float:
    """Read the head, mark it delivered (a durable commit), one item at a time."""
    with ob.transaction() as tx:
        for _ in range(n):
            tx.enqueue("evaluation", PAYLOAD)
    t = time.perf_counter()
    for _ in range(n):
        (item,) = ob.head("evaluation", 1)
        ob.ack([item])  # type: ignore[list-item]
    return n / (time.perf_counter() - t)


def fill_history(ob: Outbox, n: int = HISTORY) -> None:
    chunk = 5000
    for start in range(0, n, chunk):
        with ob.transaction() as tx:
            for _ in range(min(chunk, n - start)):
                tx.enqueue("evaluation", PAYLOAD)
        while items := ob.head("evaluation", chunk):
            ob.ack(items)  # type: ignore[arg-type]


def persist_queue_rates(d: Path, n_put: int = N_COMMIT, n_drain: int = N_DRAIN
                        ) -> tuple[float, float]:
    try:
        from persistqueue import SQLiteAckQueue
    except ImportError:
        return float("nan"), float("nan")
    q = SQLiteAckQueue(str(d / "pq"), auto_commit=True, multithreading=False)
    t = time.perf_counter()
    for _ in range(n_put):
        q.put(PAYLOAD)
    put = n_put / (time.perf_counter() - t)
    t = time.perf_counter()
    for _ in range(n_drain):
        item = q.get(block=False)
        q.ack(item)
    drain = n_drain / (time.perf_counter() - t)
    return put, drain


def replay_http_rate(d: Path, n: int = N_REPLAY) -> float:
    """Deliver n queued items to the reference backend over HTTP (batches of 100)."""
    from kiosk.backend.client import BackendClient
    from kiosk.backend.embedded import EmbeddedBackend
    from offline_cache.replay import HttpDeliverer, ReplayWorker

    be = EmbeddedBackend("DG-BENCH-0001").start()
    try:
        if not be.wait_ready(30):
            return float("nan")
        ob = _outbox(d / "replay.db")
        with ob.transaction() as tx:
            for i in range(n):
                tx.enqueue(("evaluation", "transaction", "audit")[i % 3], PAYLOAD)
        worker = ReplayWorker(ob, HttpDeliverer(BackendClient(be.url, be.terminal_id,
                                                              be.secret)), batch_size=100)
        t = time.perf_counter()
        left = worker.flush()
        dt = time.perf_counter() - t
        ob.close()
        return float("nan") if left else n / dt
    finally:
        be.stop()


def measure(repeat: int) -> dict[str, float]:
    rounds = max(1, min(repeat, 3))
    base = os.environ.get("KIOSK_BENCH_DIR") or None
    with tempfile.TemporaryDirectory(dir=base, prefix="kiosk-bench-outbox-") as tmp:
        d = Path(tmp)
        raw, enq, pq_put, pq_drain, drain = [], [], [], [], []
        for r in range(rounds):
            rd = d / f"r{r}"
            rd.mkdir()
            r_raw, r_enq = raw_vs_enqueue(rd)
            raw.append(r_raw)
            enq.append(r_enq)
            put, get = persist_queue_rates(rd)
            pq_put.append(put)
            pq_drain.append(get)
            ob = _outbox(rd / "drain.db")
            drain.append(drain_rate(ob))
            ob.close()
        busy = _outbox(d / "history.db")
        fill_history(busy)
        drain_history = drain_rate(busy)
        busy.close()
        replay = replay_http_rate(d)
    med = statistics.median
    out = {
        "outbox_enqueue_per_s": round(med(enq), 1),
        "sqlite_raw_commit_per_s": round(med(raw), 1),
        "persist_queue_put_per_s": round(med(pq_put), 1),
        "outbox_drain_per_s": round(med(drain), 1),
        "persist_queue_drain_per_s": round(med(pq_drain), 1),
        "outbox_drain_per_s_100k_history": round(drain_history, 1),
        "replay_http_per_s": round(replay, 1),
    }
    out["outbox_enqueue_vs_raw"] = round(out["outbox_enqueue_per_s"]
                                         / out["sqlite_raw_commit_per_s"], 3)
    return out
