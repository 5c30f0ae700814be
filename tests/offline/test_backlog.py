"""Backlog: draining costs the same with 0 or 100,000 delivered items of history.

Asserted on structure, not time: the query plans use indexes, and the number of SQLite
VM instructions per drained item (counted with a progress handler) stays flat.
(persist-queue's SQLiteAckQueue keeps acked rows in its queue table and scans them on
every get; our delivered items leave the outbox and only a metadata row stays in the
indexed journal.)
"""

from __future__ import annotations

from typing import Any

from offline_cache.outbox import Outbox

HISTORY = 100_000


def _fill_history(ob: Outbox, n: int) -> None:
    chunk = 5_000
    for start in range(0, n, chunk):
        with ob.transaction() as tx:
            for i in range(start, min(n, start + chunk)):
                tx.enqueue("evaluation", {"n": i, "stars": 5})
        while True:
            items = ob.head("evaluation", chunk)
            if not items:
                break
            ob.ack(items)  # type: ignore[arg-type]


def _vm_steps_per_drained_item(ob: Outbox, n: int = 200) -> float:
    for i in range(n):
        ob.enqueue("evaluation", {"n": i, "stars": 4})
    conn = ob._conn()
    steps = [0]

    def count() -> int:
        steps[0] += 1
        return 0

    conn.set_progress_handler(count, 1)
    try:
        for _ in range(n):
            (item,) = ob.head("evaluation", 1)
            ob.ack([item])  # type: ignore[list-item]
    finally:
        conn.set_progress_handler(None, 1)
    return steps[0] / n


def _plan(ob: Outbox, sql: str, args: tuple[Any, ...]) -> str:
    return " | ".join(r[3] for r in ob._conn().execute("EXPLAIN QUERY PLAN " + sql, args))


def test_drain_cost_is_flat_with_100k_delivered_items_of_history(make_outbox) -> None:  # type: ignore[no-untyped-def]
    fresh = make_outbox("fresh.db")
    empty_cost = _vm_steps_per_drained_item(fresh)
    busy = make_outbox("busy.db")
    _fill_history(busy, HISTORY)
    conn = busy._conn()
    assert conn.execute("SELECT count(*) FROM journal WHERE outcome='delivered'"
                        ).fetchone()[0] == HISTORY
    assert conn.execute("SELECT count(*) FROM outbox").fetchone()[0] == 0
    history_cost = _vm_steps_per_drained_item(busy)
    # B-tree depth may add a level; a scan over the history would be thousands of times more
    assert history_cost < empty_cost * 1.3, (empty_cost, history_cost)

    head = _plan(busy, "SELECT seq, key, created, payload, kid, attempts, next_attempt, "
                 "last_error FROM outbox WHERE stream = ? ORDER BY seq LIMIT ?", ("x", 1))
    assert "USING INDEX outbox_stream_seq" in head and "SCAN" not in head, head
    mark = _plan(busy, "UPDATE journal SET delivered = ?, outcome = 'delivered' WHERE key = ?",
                 (0.0, "k"))
    assert "USING INDEX journal_key" in mark and "SCAN" not in mark, mark
    delete = _plan(busy, "DELETE FROM outbox WHERE seq = ?", (1,))
    assert "INTEGER PRIMARY KEY" in delete, delete
