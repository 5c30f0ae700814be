"""Open the terminal's SQLite files durably; set a bad file aside instead of failing to start.

Every database is opened in WAL mode with `synchronous=FULL` (a commit survives power
loss) and stamped with an application id and a schema version. At start a file that is
not SQLite, fails `quick_check`, belongs to another application or carries a newer
schema than this build understands is renamed (with its -wal/-shm) to
`<name>.bad-<UTC time>-<reason>` and a fresh file is created; the incident is returned
so the caller can keep it in its status.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

SQLITE_MAGIC = b"SQLite format 3\x00"
BUSY_TIMEOUT_MS = 10_000


class StorageError(Exception):
    """The storage failed in a way the caller should report (`key` is a translation key)."""

    def __init__(self, key: str, detail: str = "") -> None:
        super().__init__(f"{key}: {detail}" if detail else key)
        self.key, self.detail = key, detail


@dataclass(frozen=True)
class Incident:
    """A database file that was set aside at start."""

    at: float
    kind: str  # corrupt | unsupported | foreign
    path: str  # where the bad file now lives
    detail: str


def is_disk_full(exc: BaseException) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None and code & 0xFF == sqlite3.SQLITE_FULL:
        return True
    return "disk is full" in str(exc) or "No space left" in str(exc)


def connect(path: Path) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), WAL, synchronous=FULL."""
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                           check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        raise StorageError("storage.unavailable", f"journal_mode is {mode}, not wal")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    # A delivered item is deleted; overwrite its pages too, so that no sealed citizen
    # record (or its ciphertext) outlives its acknowledgement in the file's free pages.
    conn.execute("PRAGMA secure_delete=ON")
    return conn


def _probe(path: Path, app_id: int, version: int) -> tuple[str, str] | None:
    """Return (kind, detail) if the file must be set aside, else None."""
    try:
        with path.open("rb") as fh:
            head = fh.read(100)
    except OSError as exc:
        return "corrupt", f"unreadable: {exc.strerror}"
    if not head:
        return None  # an empty file is a new database
    if not head.startswith(SQLITE_MAGIC):
        return "corrupt", "not an SQLite database (bad header)"
    try:
        conn = sqlite3.connect(f"file:{path}?mode=rw", uri=True, isolation_level=None)
    except sqlite3.Error as exc:
        return "corrupt", f"cannot open: {exc}"
    try:
        found_id = conn.execute("PRAGMA application_id").fetchone()[0]
        found_version = conn.execute("PRAGMA user_version").fetchone()[0]
        check = [r[0] for r in conn.execute("PRAGMA quick_check(5)")]
    except sqlite3.DatabaseError as exc:
        return "corrupt", f"unreadable: {exc}"
    finally:
        conn.close()
    if check != ["ok"]:
        return "corrupt", "quick_check: " + "; ".join(check)[:300]
    if found_id not in (0, app_id):
        return "foreign", f"application_id {found_id:#x}, expected {app_id:#x}"
    if found_version > version:
        return "unsupported", f"schema version {found_version}, this build knows {version}"
    return None


def set_aside(path: Path, kind: str, now: float | None = None) -> Path:
    """Rename a bad database (and its -wal/-shm) for inspection; return the new path."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now or time.time()))
    target = path.with_name(f"{path.name}.bad-{stamp}-{kind}")
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}.bad-{stamp}-{kind}-{n}")
    path.rename(target)
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            side.rename(target.with_name(target.name + suffix))
    return target


def open_database(path: Path, *, app_id: int, version: int,
                  create: Callable[[sqlite3.Connection], None]) -> tuple[sqlite3.Connection,
                                                                         Incident | None]:
    """Open (or create) a database; a bad existing file is set aside and reported."""
    path.parent.mkdir(parents=True, exist_ok=True)
    incident: Incident | None = None
    if path.exists():
        problem = _probe(path, app_id, version)
        if problem is not None:
            kind, detail = problem
            moved = set_aside(path, kind)
            incident = Incident(time.time(), kind, str(moved), detail)
            log.error("%s set aside as %s: %s", path.name, moved.name, detail)
    try:
        conn = connect(path)
    except sqlite3.Error as exc:
        if is_disk_full(exc):
            raise StorageError("outbox.disk_full", str(exc)) from exc
        raise StorageError("storage.unavailable", str(exc)) from exc
    try:
        conn.execute("BEGIN IMMEDIATE")
        if conn.execute("PRAGMA user_version").fetchone()[0] == 0:
            create(conn)
            conn.execute(f"PRAGMA application_id={app_id}")
            conn.execute(f"PRAGMA user_version={version}")
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        conn.close()
        if is_disk_full(exc):
            raise StorageError("outbox.disk_full", str(exc)) from exc
        raise
    return conn, incident
