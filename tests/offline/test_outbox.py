"""The outbox on a real SQLite file: order, atomicity, encryption at rest, bounds policy,
dead letters, and bad database files at start."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from offline_cache.crypto import PayloadKey
from offline_cache.outbox import Item, Outbox, OutboxFull, OutboxPolicy, Undecryptable


def test_database_is_wal_with_full_sync(make_outbox) -> None:  # type: ignore[no-untyped-def]
    ob = make_outbox()
    conn = ob._conn()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_items_carry_their_bookkeeping_and_keep_order_per_stream(make_outbox) -> None:  # type: ignore[no-untyped-def]
    ob = make_outbox()
    for i in range(5):
        ob.enqueue("evaluation", {"n": i})
        ob.enqueue("audit", {"n": i})
    head = ob.head("evaluation", 10)
    assert [i.payload["n"] for i in head] == [0, 1, 2, 3, 4]
    first = head[0]
    assert isinstance(first, Item) and len(first.key) == 32 and first.created > 0
    assert (first.attempts, first.next_attempt, first.last_error) == (0, 0.0, "")
    ob.fail(head[:1], "network: down", 123.0)
    again = ob.head("evaluation", 1)[0]
    assert (again.attempts, again.next_attempt, again.last_error) == (1, 123.0, "network: down")
    ob.ack(head)
    assert ob.head("evaluation") == [] and len(ob.head("audit")) == 5


def test_enqueue_commits_with_the_local_record_or_not_at_all(make_outbox) -> None:  # type: ignore[no-untyped-def]
    ob = make_outbox()
    ob._conn().execute("CREATE TABLE prints (session TEXT)")
    with pytest.raises(RuntimeError), ob.transaction() as tx:
        tx.conn.execute("INSERT INTO prints VALUES ('s1')")
        tx.enqueue("transaction", {"session": "s1"})
        raise RuntimeError("power cut before commit")
    conn = sqlite3.connect(ob.path)
    assert conn.execute("SELECT count(*) FROM prints").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM outbox").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM journal").fetchone()[0] == 0
    with ob.transaction() as tx:
        tx.conn.execute("INSERT INTO prints VALUES ('s2')")
        key = tx.enqueue("transaction", {"session": "s2"})
    assert conn.execute("SELECT count(*) FROM prints").fetchone()[0] == 1
    assert conn.execute("SELECT key FROM outbox").fetchone()[0] == key
    assert conn.execute("SELECT key, outcome FROM journal").fetchone() == (key, "queued")


def test_the_same_key_is_recorded_once(make_outbox) -> None:  # type: ignore[no-untyped-def]
    ob = make_outbox()
    assert ob.enqueue("evaluation", {"a": 1}, key="k-0000001") == "k-0000001"
    assert ob.enqueue("evaluation", {"a": 1}, key="k-0000001") == "k-0000001"
    assert len(ob.head("evaluation")) == 1


def test_payloads_are_encrypted_at_rest_and_gone_once_delivered(  # type: ignore[no-untyped-def]
        make_outbox, tmp_path: Path) -> None:
    ob = make_outbox()
    marker = "441900199001011234-陈大文"
    ob.enqueue("submission", {"id_number": marker, "name": "陈大文"})
    files = [p for p in tmp_path.iterdir() if p.name.startswith("outbox.db")]
    raw = b"".join(p.read_bytes() for p in files)
    assert marker.encode() not in raw and "陈大文".encode() not in raw
    item = ob.head("submission")[0]
    assert item.payload["id_number"] == marker  # readable with the terminal's key
    ob.ack([item])
    conn = ob._conn()
    assert conn.execute("SELECT count(*) FROM outbox").fetchone()[0] == 0
    assert conn.execute("SELECT outcome FROM journal").fetchone()[0] == "delivered"
    assert "payload" not in [r[1] for r in conn.execute("PRAGMA table_info(journal)")]


def test_another_terminal_key_cannot_read_items_and_they_go_to_dead_letter(make_outbox) -> None:  # type: ignore[no-untyped-def]
    ob = make_outbox()
    ob.enqueue("evaluation", {"stars": 5})
    ob.close()
    other = make_outbox(key=PayloadKey.derive(b"rotated secret", "DG-TEST-0001"))
    (bad,) = other.head("evaluation")
    assert isinstance(bad, Undecryptable)
    other.bury([bad], "")
    st = other.status()
    assert st.items == 0 and len(st.dead) == 1 and "payload sealed with key" in st.dead[0].reason


def test_ciphertext_is_bound_to_its_item(make_outbox) -> None:  # type: ignore[no-untyped-def]
    ob = make_outbox()
    ob.enqueue("evaluation", {"stars": 1}, key="key-aaaaaaa")
    ob.enqueue("evaluation", {"stars": 5}, key="key-bbbbbbb")
    conn = ob._conn()
    blob = conn.execute("SELECT payload FROM outbox WHERE key='key-bbbbbbb'").fetchone()[0]
    conn.execute("UPDATE outbox SET payload=? WHERE key='key-aaaaaaa'", (blob,))
    first, second = ob.head("evaluation")
    assert isinstance(first, Undecryptable) and isinstance(second, Item)


def test_telemetry_is_dropped_oldest_first_at_the_bound(make_outbox) -> None:  # type: ignore[no-untyped-def]
    ob = make_outbox(policy=OutboxPolicy(max_items=10, min_free_bytes=0))
    for i in range(4):
        ob.enqueue("evaluation", {"n": i})
    for i in range(10):
        ob.enqueue("telemetry", {"n": i})
    st = ob.status()
    assert st.items == 10 and st.dropped_telemetry == 4
    assert [i.payload["n"] for i in ob.head("telemetry", 20)] == [4, 5, 6, 7, 8, 9]
    assert len(ob.head("evaluation", 20)) == 4  # citizen items untouched


def test_citizen_submissions_are_refused_at_the_high_water_mark_never_dropped(make_outbox) -> None:  # type: ignore[no-untyped-def]
    ob = make_outbox(policy=OutboxPolicy(max_items=10, high_water=0.8, min_free_bytes=0))
    for i in range(5):
        ob.enqueue("telemetry", {"n": i})
    for i in range(8):
        ob.enqueue("submission", {"n": i})
    with pytest.raises(OutboxFull) as exc:
        ob.enqueue("submission", {"n": 8})
    assert exc.value.key == "outbox.full"
    st = ob.status()
    assert [i.payload["n"] for i in ob.head("submission", 20)] == list(range(8))
    assert st.refused == 1 and not st.accepting and st.refusal == "outbox.full"
    # telemetry made room for the citizen items (oldest first), never the other way round
    assert [i.payload["n"] for i in ob.head("telemetry", 20)] == [3, 4]
    ob.ack(ob.head("submission", 1))  # one delivered: room again
    assert ob.enqueue("submission", {"n": 8})


def test_low_disk_refuses_citizen_submissions_and_drops_telemetry(make_outbox) -> None:  # type: ignore[no-untyped-def]
    ob = make_outbox(policy=OutboxPolicy(min_free_bytes=1 << 62))  # more than any disk
    with pytest.raises(OutboxFull) as exc:
        ob.enqueue("transaction", {"flow": "x"})
    assert exc.value.key == "outbox.disk_low"
    assert ob.enqueue("telemetry", {"cpu": 1}) is None
    st = ob.status()
    assert st.items == 0 and st.dropped_telemetry == 1


def test_dead_letters_can_be_retried(make_outbox) -> None:  # type: ignore[no-untyped-def]
    ob = make_outbox()
    ob.enqueue("audit", {"n": 1}, key="dead-0000001")
    ob.bury(ob.head("audit"), "http 400: bad", 400)
    st = ob.status()
    assert st.items == 0 and st.dead[0].status == 400 and st.dead[0].reason == "http 400: bad"
    assert ob.retry_dead() == 1
    (item,) = ob.head("audit")
    assert item.key == "dead-0000001" and item.attempts == 0
    assert ob.status().dead == ()


def test_status_reports_depth_oldest_age_and_dead_letters(make_outbox) -> None:  # type: ignore[no-untyped-def]
    ob = make_outbox()
    ob.enqueue("evaluation", {"n": 1})
    ob.enqueue("evaluation", {"n": 2})
    ob.enqueue("audit", {"n": 1})
    ob.bury(ob.head("audit"), "http 422: invalid", 422)
    created = ob.head("evaluation")[0].created
    d = ob.status().as_dict(now=created + 60)
    assert d["depth"] == {"evaluation": 2}
    assert d["oldest_age_s"] == pytest.approx(60, abs=0.2)
    assert d["dead_letters"] == 1 and d["dead"][0]["reason"] == "http 422: invalid"


@pytest.mark.parametrize("content,kind", [
    (b"this is not a database at all" * 100, "corrupt"),
    (b"SQLite format 3\x00" + b"\xff" * 4000, "corrupt"),
])
def test_a_corrupted_database_is_set_aside_and_reported(  # type: ignore[no-untyped-def]
        tmp_path: Path, payload_key, content: bytes, kind: str) -> None:
    path = tmp_path / "outbox.db"
    path.write_bytes(content)
    ob = Outbox(path, payload_key)
    try:
        st = ob.status()
        assert len(st.incidents) == 1 and st.incidents[0].kind == kind
        moved = Path(st.incidents[0].path)
        assert moved.exists() and moved.read_bytes() == content  # kept for inspection
        assert ob.enqueue("evaluation", {"stars": 4})  # a fresh outbox works
    finally:
        ob.close()


def test_damaged_pages_are_detected(tmp_path: Path, payload_key) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "outbox.db"
    ob = Outbox(path, payload_key)
    for i in range(300):
        ob.enqueue("evaluation", {"n": i, "pad": "x" * 200})
    ob._conn().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    ob.close()
    data = bytearray(path.read_bytes())
    page = 4096
    for offset in range(3 * page, len(data), 2 * page):  # scribble over interior pages
        data[offset + 8: offset + 200] = b"\xa5" * 192
    path.write_bytes(bytes(data))
    ob = Outbox(path, payload_key)
    try:
        assert ob.incident is not None and ob.incident.kind == "corrupt"
        assert ob.status().incidents[0].kind == "corrupt"
    finally:
        ob.close()


def test_a_newer_schema_or_foreign_file_is_set_aside(tmp_path: Path, payload_key) -> None:  # type: ignore[no-untyped-def]
    newer = tmp_path / "outbox.db"
    conn = sqlite3.connect(newer)
    conn.execute("CREATE TABLE outbox (x)")
    conn.execute("PRAGMA application_id=0x4B4F5842")
    conn.execute("PRAGMA user_version=99")
    conn.commit()
    conn.close()
    ob = Outbox(newer, payload_key)
    assert ob.incident is not None and ob.incident.kind == "unsupported"
    assert "schema version 99" in ob.incident.detail
    ob.close()
    foreign = tmp_path / "other.db"
    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE t (x)")
    conn.execute("PRAGMA application_id=12345")
    conn.commit()
    conn.close()
    ob = Outbox(foreign, payload_key)
    assert ob.incident is not None and ob.incident.kind == "foreign"
    ob.close()


def test_journal_is_pruned_to_its_bound_but_keeps_queued_rows(make_outbox) -> None:  # type: ignore[no-untyped-def]
    ob = make_outbox(policy=OutboxPolicy(journal_max_rows=5, min_free_bytes=0))
    pending = ob.enqueue("audit", {"n": -1})
    for i in range(20):
        ob.enqueue("evaluation", {"n": i})
    ob.ack(ob.head("evaluation", 100))
    assert ob.prune_journal() == 15
    conn = ob._conn()
    assert conn.execute("SELECT outcome FROM journal WHERE key = ?", (pending,)).fetchone() == (
        "queued",)


def test_connections_of_finished_threads_are_closed(make_outbox) -> None:  # type: ignore[no-untyped-def]
    """Each citizen's flow runs on its own thread: no descriptor may outlive its thread."""
    import os
    import threading

    ob = make_outbox()
    ob.enqueue("evaluation", {"n": -1})

    def fds() -> int:
        return len(os.listdir("/proc/self/fd"))

    def session(i: int) -> None:
        ob.enqueue("evaluation", {"n": i})

    first = threading.Thread(target=session, args=(0,))
    first.start()
    before = fds()
    for i in range(1, 60):
        t = threading.Thread(target=session, args=(i,))
        t.start()
        t.join()
    first.join()
    assert ob.open_connections() <= 3
    assert fds() <= before + 4


def test_closing_while_other_threads_read_and_write(make_outbox) -> None:  # type: ignore[no-untyped-def]
    """Shutdown used to close a connection under a status query running on the
    maintenance screen's poll thread: sqlite3 crashed the process. Now close waits for
    running calls, and later calls get OutboxClosed (a sqlite3 error, so callers' error
    handling applies) instead of a crash."""
    import threading

    from offline_cache.outbox import OutboxClosed

    for _round in range(20):
        ob = make_outbox()
        for i in range(50):
            ob.enqueue("audit", {"n": i})
        started = threading.Barrier(3)
        errors: list[BaseException] = []

        # this round's outbox, barrier and error list, bound now (B023)
        def reader(ob: Outbox = ob, started: threading.Barrier = started,
                   errors: list[BaseException] = errors) -> None:
            started.wait()
            try:
                while True:
                    ob.status()
                    ob.head("audit", 50)
            except OutboxClosed:
                pass
            except BaseException as exc:  # noqa: BLE001 - the test reports it
                errors.append(exc)

        def writer(ob: Outbox = ob, started: threading.Barrier = started,
                   errors: list[BaseException] = errors) -> None:
            started.wait()
            try:
                while True:
                    with ob.transaction() as tx:
                        tx.enqueue("audit", {"w": 1})
            except OutboxClosed:
                pass
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)

        threads = [threading.Thread(target=reader), threading.Thread(target=writer)]
        for t in threads:
            t.start()
        started.wait()
        ob.close()
        for t in threads:
            t.join(10)
        assert not any(t.is_alive() for t in threads) and errors == []
        assert ob.open_connections() == 0
        with pytest.raises(sqlite3.Error):
            ob.depth()


def test_a_transaction_running_at_close_completes(make_outbox) -> None:  # type: ignore[no-untyped-def]
    """Close lets a transaction that has begun finish, nested calls included (enqueue
    asks `refusal` inside it); only new calls are refused."""
    import threading

    ob = make_outbox()
    inside, closing = threading.Event(), threading.Event()
    keys: list[str | None] = []

    def flow() -> None:
        with ob.transaction() as tx:
            inside.set()
            closing.wait(5)
            keys.append(tx.enqueue("evaluation", {"stars": 5}))

    t = threading.Thread(target=flow)
    t.start()
    inside.wait(5)
    closer = threading.Thread(target=ob.close)
    closer.start()
    closer.join(0.2)
    assert closer.is_alive()  # waiting for the transaction
    closing.set()
    t.join(5)
    closer.join(5)
    assert not closer.is_alive() and len(keys) == 1 and keys[0]
    reopened = make_outbox()
    assert [i.key for i in reopened.head("evaluation")] == keys


def _lingering(ob: Outbox, folder: Path) -> bool:
    """Deliver the first of two large items; is its ciphertext still in the files?"""
    ob.enqueue("materials", {"pdf": "JVBERi0" + "x" * 4000})
    ob.enqueue("materials", {"pdf": "JVBERi0" + "y" * 4000})  # still queued, after it
    conn = ob._conn()
    blob = bytes(conn.execute("SELECT payload FROM outbox ORDER BY seq").fetchone()[0])
    probe = blob[100:164]  # 64 bytes of ciphertext from the middle of the first item
    ob.ack([i for i in ob.head("materials", 1) if isinstance(i, Item)])
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw = b"".join(p.read_bytes() for p in folder.iterdir() if p.name.startswith("outbox.db"))
    return probe in raw


def test_a_delivered_items_ciphertext_does_not_linger_in_free_pages(  # type: ignore[no-untyped-def]
        make_outbox, tmp_path: Path) -> None:
    """Delivered means gone from the disk too, not just unlinked from the table: SQLite
    keeps a deleted row's bytes in free pages unless told to overwrite them (some builds
    do by default, the library does not), so the outbox asks for it."""
    ob = make_outbox()
    assert ob._conn().execute("PRAGMA secure_delete").fetchone()[0] == 1
    assert not _lingering(ob, tmp_path)


def test_the_linger_check_sees_bytes_left_in_free_pages(  # type: ignore[no-untyped-def]
        make_outbox, tmp_path: Path) -> None:
    """The check above can fail: with overwriting off, the delivered bytes stay."""
    ob = make_outbox()
    ob._conn().execute("PRAGMA secure_delete=OFF")
    assert _lingering(ob, tmp_path)
