"""The durable outbox: writes that must reach the platform, kept in SQLite until delivered.

Each item is written in the same SQLite transaction as the local record of the event
(the `journal` row, plus anything the caller writes through `Tx.conn`), so either both
exist or neither does. Items carry a stream, creation time, idempotency key, attempt
count, next-attempt time and last error; payloads are encrypted (AES-GCM) and deleted
once delivered. Delivered history lives only in the journal (metadata, no payload), so
reading the head of a stream costs the same with 0 or 100,000 delivered items.

Size policy (`OutboxPolicy`): the outbox is bounded in items and payload bytes.
- Telemetry streams (`telemetry_streams`) may be dropped: when an item would exceed the
  bound, the oldest telemetry items are evicted first; if no telemetry is left to evict,
  the new telemetry item is dropped. Drops are counted in the status.
- Everything else (transaction records, evaluations, audit events, queued submissions)
  is a citizen submission and is never evicted or dropped. At the high-water mark
  (`high_water` of the bound, counting dead letters) or when the disk's free space falls
  under `min_free_bytes`, a new citizen submission is refused with `OutboxFull`, whose
  key (`outbox.full`, `outbox.disk_low`, `outbox.disk_full`) the UI shows. The refusal
  rolls back the whole transaction, so no local record exists without its item.

Keys (`offline_cache.crypto`): given a `DataKeyFile`, the outbox seals with its own data
key from that file (made on first use) and records the key's id in `payload_keys`. If the
file is gone while items sealed under it remain, opening fails with a StorageError that
says so; nothing is deleted and no new key is made over them. Items sealed under a legacy
key (derived from the terminal secret by earlier builds) are re-sealed under the data key
when the outbox opens with that key at hand, in the outbox and in dead letters alike.
"""

from __future__ import annotations

import functools
import json
import logging
import shutil
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from offline_cache.crypto import (
    DataKeyFile,
    KeyFileError,
    Keyring,
    PayloadKey,
    PayloadKeyError,
    create_data_key,
    item_aad,
    keyring,
    load_data_key,
)
from offline_cache.db import Incident, StorageError, connect, is_disk_full, open_database

log = logging.getLogger(__name__)

APP_ID = 0x4B4F5842  # "KOXB"
SCHEMA_VERSION = 1


class OutboxFull(StorageError):
    """A citizen submission was refused: the outbox is at its high-water mark or disk is low."""


class StreamClass(Enum):
    CITIZEN = "citizen"
    TELEMETRY = "telemetry"


@dataclass(frozen=True)
class OutboxPolicy:
    max_items: int = 50_000
    max_bytes: int = 128 * 1024 * 1024
    high_water: float = 0.9
    min_free_bytes: int = 32 * 1024 * 1024
    telemetry_streams: frozenset[str] = frozenset({"telemetry", "heartbeat"})
    journal_max_rows: int = 200_000

    def classify(self, stream: str) -> StreamClass:
        return StreamClass.TELEMETRY if stream in self.telemetry_streams else StreamClass.CITIZEN


@dataclass(frozen=True)
class Item:
    seq: int
    stream: str
    key: str
    created: float
    payload: Any
    attempts: int = 0
    next_attempt: float = 0.0
    last_error: str = ""


@dataclass(frozen=True)
class Undecryptable:
    """An item whose payload cannot be opened with the current key (goes to dead letter)."""

    seq: int
    stream: str
    key: str
    reason: str


@dataclass(frozen=True)
class StreamStatus:
    stream: str
    depth: int
    oldest_created: float | None
    head_attempts: int
    next_attempt: float
    last_error: str


@dataclass(frozen=True)
class DeadLetter:
    stream: str
    key: str
    created: float
    dead_at: float
    status: int
    reason: str
    attempts: int


@dataclass(frozen=True)
class OutboxStatus:
    streams: tuple[StreamStatus, ...]
    dead: tuple[DeadLetter, ...]
    items: int
    bytes: int
    dropped_telemetry: int
    refused: int
    incidents: tuple[Incident, ...] = ()
    accepting: bool = True
    refusal: str = ""

    def as_dict(self, now: float | None = None) -> dict[str, Any]:
        now = time.time() if now is None else now
        return {
            "depth": {s.stream: s.depth for s in self.streams},
            "streams": [{"stream": s.stream, "depth": s.depth,
                         "oldest_age_s": None if s.oldest_created is None
                         else round(max(0.0, now - s.oldest_created), 1),
                         "attempts": s.head_attempts,
                         "next_attempt_in_s": round(max(0.0, s.next_attempt - now), 1),
                         "last_error": s.last_error} for s in self.streams],
            "oldest_age_s": max((round(now - s.oldest_created, 1) for s in self.streams
                                 if s.oldest_created is not None), default=None),
            "items": self.items, "bytes": self.bytes,
            "dead_letters": len(self.dead),
            "dead": [{"stream": d.stream, "key": d.key, "status": d.status, "reason": d.reason,
                      "attempts": d.attempts, "dead_at": d.dead_at} for d in self.dead],
            "dropped_telemetry": self.dropped_telemetry, "refused": self.refused,
            "accepting": self.accepting, "refusal": self.refusal,
            "incidents": [{"at": i.at, "kind": i.kind, "path": i.path, "detail": i.detail}
                          for i in self.incidents],
        }


SCHEMA = """
CREATE TABLE outbox (
  seq INTEGER PRIMARY KEY, stream TEXT NOT NULL, key TEXT NOT NULL, cls TEXT NOT NULL,
  created REAL NOT NULL, payload BLOB NOT NULL, kid TEXT NOT NULL, size INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0, next_attempt REAL NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '');
CREATE UNIQUE INDEX outbox_key ON outbox(key);
CREATE INDEX outbox_stream_seq ON outbox(stream, seq);
CREATE TABLE dead_letter (
  seq INTEGER PRIMARY KEY, stream TEXT NOT NULL, key TEXT NOT NULL, cls TEXT NOT NULL,
  created REAL NOT NULL, payload BLOB NOT NULL, kid TEXT NOT NULL, size INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0, next_attempt REAL NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '', status INTEGER NOT NULL DEFAULT 0,
  dead_at REAL NOT NULL);
CREATE UNIQUE INDEX dead_letter_key ON dead_letter(key);
CREATE TABLE streams (name TEXT PRIMARY KEY, cls TEXT NOT NULL);
-- The local record of every event: metadata only, payloads never stay here.
CREATE TABLE journal (
  id INTEGER PRIMARY KEY, stream TEXT NOT NULL, key TEXT NOT NULL, created REAL NOT NULL,
  size INTEGER NOT NULL, delivered REAL, outcome TEXT NOT NULL DEFAULT 'queued');
CREATE UNIQUE INDEX journal_key ON journal(key);
CREATE TABLE usage (cls TEXT PRIMARY KEY, items INTEGER NOT NULL, bytes INTEGER NOT NULL);
INSERT INTO usage VALUES ('citizen', 0, 0), ('telemetry', 0, 0), ('dead', 0, 0);
CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT INTO counters VALUES ('dropped_telemetry', 0), ('refused', 0);
CREATE TABLE incidents (id INTEGER PRIMARY KEY, at REAL, kind TEXT, path TEXT, detail TEXT);
-- (payload_keys is made at open, IF NOT EXISTS, for databases of earlier builds too)
CREATE TRIGGER outbox_ins AFTER INSERT ON outbox BEGIN
  UPDATE usage SET items = items + 1, bytes = bytes + NEW.size WHERE cls = NEW.cls;
END;
CREATE TRIGGER outbox_del AFTER DELETE ON outbox BEGIN
  UPDATE usage SET items = items - 1, bytes = bytes - OLD.size WHERE cls = OLD.cls;
END;
CREATE TRIGGER dead_ins AFTER INSERT ON dead_letter BEGIN
  UPDATE usage SET items = items + 1, bytes = bytes + NEW.size WHERE cls = 'dead';
END;
CREATE TRIGGER dead_del AFTER DELETE ON dead_letter BEGIN
  UPDATE usage SET items = items - 1, bytes = bytes - OLD.size WHERE cls = 'dead';
END;
"""


# The data keys this database's items were ever sealed with (ids only, never keys).
KEYS_TABLE = ("CREATE TABLE IF NOT EXISTS payload_keys (kid TEXT PRIMARY KEY, "
              "created REAL NOT NULL)")
SEALED_TABLES = ("outbox", "dead_letter")


def _create_schema(conn: sqlite3.Connection) -> None:
    # Statement by statement inside the caller's transaction (executescript would commit).
    for stmt in _statements(SCHEMA):
        conn.execute(stmt)


def _sealed_with(conn: sqlite3.Connection, kids: Sequence[str]) -> dict[str, int]:
    """How many items (queued or dead) each of `kids` sealed."""
    if not kids:
        return {}
    marks = ",".join("?" * len(kids))
    counts: dict[str, int] = {}
    for table in SEALED_TABLES:
        for kid, n in conn.execute(f"SELECT kid, count(*) FROM {table} WHERE kid IN ({marks}) "
                                   "GROUP BY kid", tuple(kids)):
            counts[kid] = counts.get(kid, 0) + n
    return counts


def _statements(script: str) -> list[str]:
    out, buf = [], ""
    for line in script.splitlines():
        if line.startswith("--"):
            continue
        buf += line + "\n"
        if sqlite3.complete_statement(buf):
            out.append(buf.strip())
            buf = ""
    return out


class Tx:
    """One open write transaction on the outbox database."""

    def __init__(self, outbox: Outbox, conn: sqlite3.Connection) -> None:
        self.outbox, self.conn = outbox, conn
        self.enqueued: list[str] = []

    def enqueue(self, stream: str, payload: Any, *, key: str | None = None,
                created: float | None = None) -> str | None:
        """Queue one item and its journal row; return its key (None: telemetry dropped)."""
        return self.outbox._enqueue(self, stream, payload, key, created)


class OutboxClosed(sqlite3.ProgrammingError):
    """The outbox was closed (the app is shutting down); nothing was written."""


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _in_use(fn: Callable[Concatenate[Outbox, _P], _R]) -> Callable[Concatenate[Outbox, _P], _R]:
    """Mark a method as using a connection, so that `close()` never pulls a connection
    out from under a statement running on another thread (sqlite3 would crash)."""

    @functools.wraps(fn)
    def wrapper(self: Outbox, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        with self._using():
            return fn(self, *args, **kwargs)

    return wrapper


def _close_all(conns: list[sqlite3.Connection]) -> None:
    for c in conns:
        try:
            c.close()
        except sqlite3.Error:
            pass


class Outbox:
    def __init__(self, path: Path | str, key: PayloadKey | Keyring | DataKeyFile,
                 policy: OutboxPolicy | None = None) -> None:
        """`key`: the outbox's data key file (the terminal), or a fixed key (tests, bench)."""
        self.path = Path(path)
        self.key: Keyring  # a DataKeyFile is read once the database is open
        if not isinstance(key, DataKeyFile):
            self.key = keyring(key)
        self.policy = policy or OutboxPolicy()
        self._local = threading.local()
        # One connection per thread; a finished thread's connection is closed when the
        # next one is opened (each citizen's flow runs on a new thread: without this
        # every session leaked two file descriptors and a page cache).
        self._conns: list[tuple[threading.Thread, sqlite3.Connection]] = []
        self._conns_lock = threading.Lock()
        self._users = 0  # calls using a connection right now (see _in_use)
        self._users_changed = threading.Condition(self._conns_lock)
        self._closed = False
        self._known_streams: set[str] = set()
        self._listeners: list[Any] = []
        self._free_cache: tuple[float, int] | None = None
        conn, incident = open_database(self.path, app_id=APP_ID, version=SCHEMA_VERSION,
                                       create=_create_schema)
        if incident is not None:
            conn.execute("INSERT INTO incidents(at, kind, path, detail) VALUES (?,?,?,?)",
                         (incident.at, incident.kind, incident.path, incident.detail))
        self._local.conn = conn
        self._conns.append((threading.current_thread(), conn))
        self.incident = incident
        if isinstance(key, DataKeyFile):
            try:
                self.key = self._open_keys(conn, key)
            except BaseException:
                self.close()
                raise

    # -- keys --------------------------------------------------------------------------
    def _open_keys(self, conn: sqlite3.Connection, spec: DataKeyFile) -> Keyring:
        conn.execute("BEGIN IMMEDIATE")  # one process at a time decides about the key
        try:
            conn.execute(KEYS_TABLE)
            ring = self._data_keyring(conn, spec)
            self._reseal(conn, ring, spec.legacy)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return ring

    def _data_keyring(self, conn: sqlite3.Connection, spec: DataKeyFile) -> Keyring:
        recorded = [r[0] for r in conn.execute("SELECT kid FROM payload_keys")]
        try:
            key = load_data_key(spec.path)
        except KeyFileError as exc:
            raise StorageError("outbox.unavailable", f"outbox data key: {exc}; "
                               "nothing was deleted") from exc
        sealed = _sealed_with(conn, recorded)
        if key is not None:
            sealed.pop(key.kid, None)
        if sealed:
            n = sum(sealed.values())
            held = (f"{spec.path.name} holds key {key.kid}" if key is not None
                    else f"{spec.path} is missing")
            raise StorageError(
                "outbox.unavailable",
                f"{n} queued or dead-lettered item(s) are sealed with data key "
                f"{', '.join(sorted(sealed))}, but {held}: restore that key file (from the "
                f"terminal's backup) to deliver them; nothing was deleted")
        if key is None:
            key = create_data_key(spec.path)
            log.warning("outbox: new data key %s in %s", key.kid, spec.path)
        conn.execute("INSERT OR IGNORE INTO payload_keys(kid, created) VALUES (?, ?)",
                     (key.kid, time.time()))
        return Keyring(key, tuple(k for k in spec.legacy if k.kid != key.kid))

    def _reseal(self, conn: sqlite3.Connection, ring: Keyring,
                legacy: Sequence[PayloadKey]) -> None:
        """Re-seal items of legacy keys under the data key (same size: AES-GCM)."""
        by_kid = {k.kid: k for k in legacy if k.kid != ring.kid}
        if not by_kid:
            return
        marks = ",".join("?" * len(by_kid))
        moved = 0
        for table in SEALED_TABLES:
            rows = conn.execute(f"SELECT seq, stream, key, payload, kid FROM {table} "
                                f"WHERE kid IN ({marks})", tuple(by_kid)).fetchall()
            for seq, stream, key, blob, kid in rows:
                aad = item_aad(stream, key)
                try:
                    plain = by_kid[kid].open(blob, aad, kid)
                except PayloadKeyError:
                    continue  # tampered: left as it is, it will show as undecryptable
                conn.execute(f"UPDATE {table} SET payload = ?, kid = ? WHERE seq = ?",
                             (ring.seal(plain, aad), ring.kid, seq))
                moved += 1
        if moved:
            log.warning("outbox: %d item(s) of an earlier key re-sealed under data key %s",
                        moved, ring.kid)

    # -- connections -----------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.path)
            self._local.conn = conn
            with self._conns_lock:
                dead = [c for t, c in self._conns if not t.is_alive()]
                self._conns = [(t, c) for t, c in self._conns if t.is_alive()]
                self._conns.append((threading.current_thread(), conn))
            _close_all(dead)
        return conn

    def open_connections(self) -> int:
        with self._conns_lock:
            return len(self._conns)

    @contextmanager
    def _using(self) -> Iterator[None]:
        depth = getattr(self._local, "depth", 0)
        if depth:  # a call inside a call (enqueue -> refusal): the outer one counts
            self._local.depth = depth + 1
            try:
                yield
            finally:
                self._local.depth = depth
            return
        with self._users_changed:
            if self._closed:
                raise OutboxClosed("the outbox is closed")
            self._users += 1
        self._local.depth = 1
        try:
            yield
        finally:
            self._local.depth = 0
            with self._users_changed:
                self._users -= 1
                self._users_changed.notify_all()

    def close(self, wait_s: float = 5.0) -> None:
        """Refuse new calls, let running ones finish (up to `wait_s`), close connections.

        If a call is still running after `wait_s` (a thread stuck elsewhere while inside
        a transaction), connections of other live threads are left to their threads'
        end rather than closed under them.
        """
        me = threading.current_thread()
        with self._users_changed:
            self._closed = True
            idle = self._users_changed.wait_for(lambda: self._users == 0, timeout=wait_s)
            if idle:
                closing, self._conns = self._conns, []
            else:
                log.warning("outbox closed with %d call(s) still running", self._users)
                closing = [(t, c) for t, c in self._conns if t is me or not t.is_alive()]
                self._conns = [(t, c) for t, c in self._conns if (t, c) not in closing]
        _close_all([c for _, c in closing])

    def on_enqueue(self, callback: Any) -> None:
        """Call `callback()` after each committed enqueue (the replay worker wakes up)."""
        self._listeners.append(callback)

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """A write transaction: local records written through `tx.conn` and items queued
        with `tx.enqueue` commit together (durably) or not at all."""
        with self._using():
            tx = self._begin()
            try:
                yield tx
                tx.conn.execute("COMMIT")
            except BaseException as exc:
                self._rollback(tx.conn, exc)
                raise
        if tx.enqueued:
            for cb in list(self._listeners):
                cb()

    def _begin(self) -> Tx:
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if is_disk_full(exc):
                raise OutboxFull("outbox.disk_full", str(exc)) from exc
            raise
        return Tx(self, conn)

    def _rollback(self, conn: sqlite3.Connection, exc: BaseException) -> None:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        if isinstance(exc, OutboxFull):
            self._count("refused")
        if isinstance(exc, sqlite3.OperationalError) and is_disk_full(exc):
            self._count("refused")
            raise OutboxFull("outbox.disk_full", str(exc)) from exc

    def enqueue(self, stream: str, payload: Any, *, key: str | None = None) -> str | None:
        """Queue one item in its own durable transaction."""
        with self.transaction() as tx:
            return tx.enqueue(stream, payload, key=key)

    @_in_use
    def _count(self, name: str, n: int = 1) -> None:
        try:
            self._conn().execute("UPDATE counters SET value = value + ? WHERE name = ?", (n, name))
        except sqlite3.Error:
            log.warning("could not count %s", name)

    # -- enqueue -----------------------------------------------------------------------
    def _usage(self, conn: sqlite3.Connection) -> dict[str, tuple[int, int]]:
        return {r[0]: (r[1], r[2]) for r in conn.execute("SELECT cls, items, bytes FROM usage")}

    def _free_bytes(self) -> int:
        """Free space on the outbox's disk (statvfs at most every 0.5 s)."""
        now = time.monotonic()
        cached = self._free_cache
        if cached is not None and now - cached[0] < 0.5:
            return cached[1]
        try:
            free = shutil.disk_usage(self.path.parent).free
        except OSError:
            free = 0
        self._free_cache = (now, free)
        return free

    @_in_use
    def refusal(self, extra_bytes: int = 0, conn: sqlite3.Connection | None = None,
                usage: dict[str, tuple[int, int]] | None = None) -> str:
        """The key why a citizen submission would be refused now, or "" if it is accepted."""
        p = self.policy
        usage = usage or self._usage(conn or self._conn())
        items = usage["citizen"][0] + usage["dead"][0] + 1
        size = usage["citizen"][1] + usage["dead"][1] + extra_bytes
        if items > p.max_items * p.high_water or size > p.max_bytes * p.high_water:
            return "outbox.full"
        if p.min_free_bytes and self._free_bytes() < p.min_free_bytes:
            return "outbox.disk_low"
        return ""

    def _enqueue(self, tx: Tx, stream: str, payload: Any, key: str | None,
                 created: float | None) -> str | None:
        conn = tx.conn
        key = key or uuid.uuid4().hex
        now = time.time() if created is None else created
        cls = self.policy.classify(stream)
        plain = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        blob = self.key.seal(plain, item_aad(stream, key))
        size = len(blob)
        cur = conn.execute("INSERT OR IGNORE INTO journal(stream, key, created, size) "
                           "VALUES (?,?,?,?)", (stream, key, now, size))
        if cur.rowcount == 0:
            return key  # already recorded: a local retry must not record twice
        usage = self._usage(conn)
        if cls is StreamClass.CITIZEN:
            why = self.refusal(size, usage=usage)
            if why:
                raise OutboxFull(why, f"{stream} refused at the high-water mark")
        if not self._make_room(conn, size, cls, usage):
            conn.execute("UPDATE counters SET value = value + 1 WHERE name = 'dropped_telemetry'")
            conn.execute("UPDATE journal SET outcome = 'dropped' WHERE key = ?", (key,))
            return None
        if stream not in self._known_streams:
            conn.execute("INSERT OR IGNORE INTO streams(name, cls) VALUES (?, ?)",
                         (stream, cls.value))
            self._known_streams.add(stream)
        conn.execute("INSERT INTO outbox(stream, key, cls, created, payload, kid, size) "
                     "VALUES (?,?,?,?,?,?,?)", (stream, key, cls.value, now, blob,
                                                self.key.kid, size))
        tx.enqueued.append(key)
        return key

    def _make_room(self, conn: sqlite3.Connection, size: int, cls: StreamClass,
                   usage: dict[str, tuple[int, int]]) -> bool:
        """Evict oldest telemetry until `size` more bytes and one more item fit the bound."""
        p = self.policy
        items = sum(v[0] for v in usage.values()) + 1
        total = sum(v[1] for v in usage.values()) + size
        if cls is StreamClass.TELEMETRY and p.min_free_bytes \
                and self._free_bytes() < p.min_free_bytes:
            return False
        evicted = 0
        while items > p.max_items or total > p.max_bytes:
            row = self._oldest_telemetry(conn)
            if row is None:
                return cls is StreamClass.CITIZEN  # citizen items were checked by refusal()
            conn.execute("DELETE FROM outbox WHERE seq = ?", (row[0],))
            conn.execute("UPDATE journal SET outcome = 'dropped' WHERE key = ?", (row[1],))
            items -= 1
            total -= row[2]
            evicted += 1
        if evicted:
            conn.execute("UPDATE counters SET value = value + ? WHERE name = 'dropped_telemetry'",
                         (evicted,))
            log.warning("outbox bound reached: dropped %d oldest telemetry item(s)", evicted)
        return True

    def _oldest_telemetry(self, conn: sqlite3.Connection) -> tuple[int, str, int] | None:
        best = None
        for stream in sorted(self.policy.telemetry_streams):
            row = conn.execute("SELECT seq, key, size FROM outbox WHERE stream = ? "
                               "ORDER BY seq LIMIT 1", (stream,)).fetchone()
            if row is not None and (best is None or row[0] < best[0]):
                best = row
        return best

    # -- delivery side -------------------------------------------------------------------
    @_in_use
    def streams(self) -> list[str]:
        return [r[0] for r in self._conn().execute("SELECT name FROM streams ORDER BY name")]

    @_in_use
    def head_due(self, stream: str) -> float | None:
        """When the head of `stream` may be attempted (None: the stream is empty)."""
        row = self._conn().execute("SELECT next_attempt FROM outbox WHERE stream = ? "
                                   "ORDER BY seq LIMIT 1", (stream,)).fetchone()
        return None if row is None else float(row[0])

    @_in_use
    def head(self, stream: str, limit: int = 100,
             max_bytes: int | None = None) -> list[Item | Undecryptable]:
        """The oldest `limit` items of a stream, in order, decrypted — and, with
        `max_bytes`, no more than fit in that many sealed bytes (the first always comes:
        a single item larger than the bound still goes alone). Rows are read one at a
        time, so a backlog of large items (captured pages) is never all in memory."""
        rows = self._conn().execute(
            "SELECT seq, key, created, payload, kid, attempts, next_attempt, last_error, "
            "size FROM outbox WHERE stream = ? ORDER BY seq LIMIT ?", (stream, limit))
        out: list[Item | Undecryptable] = []
        taken = 0
        for seq, key, created, blob, kid, attempts, nxt, err, size in rows:
            taken += int(size)
            if max_bytes is not None and out and taken > max_bytes:
                break
            try:
                payload = json.loads(self.key.open(blob, item_aad(stream, key), kid))
            except (PayloadKeyError, ValueError) as exc:
                out.append(Undecryptable(seq, stream, key, str(exc)))
                continue
            out.append(Item(seq, stream, key, created, payload, attempts, nxt, err))
        return out

    @_in_use
    def _write(self, fn: Any) -> Any:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = fn(conn)
            conn.execute("COMMIT")
            return result
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def ack(self, items: Sequence[Item], now: float | None = None) -> None:
        """Delete delivered items (payload gone for good) and mark their journal rows."""
        if not items:
            return
        now = time.time() if now is None else now

        def do(conn: sqlite3.Connection) -> None:
            conn.executemany("DELETE FROM outbox WHERE seq = ?", [(i.seq,) for i in items])
            conn.executemany("UPDATE journal SET delivered = ?, outcome = 'delivered' "
                             "WHERE key = ?", [(now, i.key) for i in items])

        self._write(do)

    def fail(self, items: Sequence[Item], error: str, next_attempt: float) -> None:
        """Record a transient failure: attempts+1, next attempt time, last error."""
        if not items:
            return
        self._write(lambda conn: conn.executemany(
            "UPDATE outbox SET attempts = attempts + 1, next_attempt = ?, last_error = ? "
            "WHERE seq = ?", [(next_attempt, error[:500], i.seq) for i in items]))

    def bury(self, items: Sequence[Item | Undecryptable], reason: str, status: int = 0,
             now: float | None = None) -> None:
        """Move permanently failed items to the dead-letter table, with the reason."""
        if not items:
            return
        now = time.time() if now is None else now

        def do(conn: sqlite3.Connection) -> None:
            for i in items:
                why = reason or getattr(i, "reason", "")
                conn.execute(
                    "INSERT OR REPLACE INTO dead_letter(stream, key, cls, created, payload, kid,"
                    " size, attempts, next_attempt, last_error, status, dead_at) "
                    "SELECT stream, key, cls, created, payload, kid, size, attempts + 1, "
                    "next_attempt, ?, ?, ? FROM outbox WHERE seq = ?",
                    (why[:500], status, now, i.seq))
                conn.execute("DELETE FROM outbox WHERE seq = ?", (i.seq,))
                conn.execute("UPDATE journal SET outcome = 'dead' WHERE key = ?", (i.key,))

        self._write(do)
        log.warning("outbox: %d item(s) moved to dead letter: %s", len(items), reason)

    @_in_use
    def unreadable_dead(self, keys: Sequence[str] | None = None) -> dict[str, list[str]]:
        """Dead letters sealed with a key this outbox does not hold: kid -> their keys."""
        where, args = self._dead_where(keys)
        out: dict[str, list[str]] = {}
        for key, kid in self._conn().execute(
                f"SELECT key, kid FROM dead_letter{where} ORDER BY seq", args):
            if kid not in self.key.kids:
                out.setdefault(kid, []).append(key)
        return out

    @staticmethod
    def _dead_where(keys: Sequence[str] | None) -> tuple[str, tuple[str, ...]]:
        if keys is None:
            return "", ()
        return f" WHERE key IN ({','.join('?' * len(keys))})", tuple(keys)

    def retry_dead(self, keys: Sequence[str] | None = None, *,
                   skip_unreadable: bool = False) -> int:
        """Put dead letters back at the end of their streams (attempts reset). With
        `skip_unreadable`, those sealed with a key this outbox does not hold stay."""

        def do(conn: sqlite3.Connection) -> int:
            where, args = self._dead_where(keys)
            rows = conn.execute(f"SELECT seq, stream, cls, key, kid FROM dead_letter{where} "
                                "ORDER BY seq", args).fetchall()
            if skip_unreadable:
                rows = [r for r in rows if r[4] in self.key.kids]
            for seq, stream, cls, key, _kid in rows:
                conn.execute("INSERT OR IGNORE INTO streams(name, cls) VALUES (?, ?)",
                             (stream, cls))
                conn.execute(
                    "INSERT INTO outbox(stream, key, cls, created, payload, kid, size) "
                    "SELECT stream, key, cls, created, payload, kid, size FROM dead_letter "
                    "WHERE seq = ?", (seq,))
                conn.execute("DELETE FROM dead_letter WHERE seq = ?", (seq,))
                conn.execute("UPDATE journal SET outcome = 'queued' WHERE key = ?", (key,))
            return len(rows)

        return int(self._write(do))

    def prune_journal(self) -> int:
        """Keep the journal (local history, metadata only) under its row bound."""
        keep = self.policy.journal_max_rows

        def do(conn: sqlite3.Connection) -> int:
            top = conn.execute("SELECT max(id) FROM journal").fetchone()[0] or 0
            cur = conn.execute("DELETE FROM journal WHERE id <= ? AND outcome != 'queued'",
                               (top - keep,))
            return cur.rowcount

        return int(self._write(do))

    # -- status ----------------------------------------------------------------------------
    @_in_use
    def depth(self) -> int:
        return int(self._conn().execute(
            "SELECT sum(items) FROM usage WHERE cls != 'dead'").fetchone()[0] or 0)

    @_in_use
    def status(self, dead_limit: int = 100) -> OutboxStatus:
        conn = self._conn()
        streams = []
        for name in self.streams():
            head = conn.execute("SELECT created, attempts, next_attempt, last_error FROM outbox "
                                "WHERE stream = ? ORDER BY seq LIMIT 1", (name,)).fetchone()
            if head is None:
                continue
            depth = conn.execute("SELECT count(*) FROM outbox WHERE stream = ?",
                                 (name,)).fetchone()[0]
            streams.append(StreamStatus(name, depth, head[0], head[1], head[2], head[3]))
        dead = tuple(DeadLetter(*r) for r in conn.execute(
            "SELECT stream, key, created, dead_at, status, last_error, attempts "
            "FROM dead_letter ORDER BY seq LIMIT ?", (dead_limit,)))
        usage = self._usage(conn)
        counters = dict(conn.execute("SELECT name, value FROM counters").fetchall())
        incidents = tuple(Incident(*r) for r in conn.execute(
            "SELECT at, kind, path, detail FROM incidents ORDER BY id"))
        why = self.refusal(0, conn)
        return OutboxStatus(tuple(streams), dead,
                            usage["citizen"][0] + usage["telemetry"][0],
                            usage["citizen"][1] + usage["telemetry"][1],
                            counters.get("dropped_telemetry", 0), counters.get("refused", 0),
                            incidents, accepting=not why, refusal=why)
