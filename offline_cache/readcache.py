"""Read cache: the last good copy of what the terminal reads from the platform.

Catalog and reference data (and anything else a screen needs before the link is up)
are stored on every successful fetch; a fetch that fails falls back to the cached copy,
marked stale, so a terminal that boots offline still has its home screen. Flow packages
themselves are kept on disk by the package store (last known good set); this cache
holds the small platform answers around them.

The cache is a separate SQLite file from the outbox: it may be discarded at any time,
and a corrupt cache is set aside without touching queued writes.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from offline_cache.db import Incident, connect, open_database

APP_ID = 0x4B524443  # "KRDC"
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Cached:
    value: Any
    fetched: float
    etag: str = ""
    stale: bool = False  # True: the platform could not be asked, this is the last copy

    def age(self, now: float | None = None) -> float:
        return max(0.0, (time.time() if now is None else now) - self.fetched)


def _create(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE entries (kind TEXT NOT NULL, key TEXT NOT NULL, "
                 "value TEXT NOT NULL, etag TEXT NOT NULL DEFAULT '', fetched REAL NOT NULL, "
                 "PRIMARY KEY (kind, key))")


class ReadCache:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        conn, self.incident = open_database(self.path, app_id=APP_ID, version=SCHEMA_VERSION,
                                            create=_create)
        conn.close()
        self._local = threading.local()

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = connect(self.path)
        return conn

    def put(self, kind: str, key: str, value: Any, etag: str = "",
            fetched: float | None = None) -> None:
        self._conn().execute(
            "INSERT OR REPLACE INTO entries(kind, key, value, etag, fetched) VALUES (?,?,?,?,?)",
            (kind, key, json.dumps(value, ensure_ascii=False), etag,
             time.time() if fetched is None else fetched))

    def get(self, kind: str, key: str) -> Cached | None:
        row = self._conn().execute("SELECT value, fetched, etag FROM entries "
                                   "WHERE kind = ? AND key = ?", (kind, key)).fetchone()
        if row is None:
            return None
        return Cached(json.loads(row[0]), row[1], row[2])

    def fetch(self, kind: str, key: str, load: Callable[[], Any],
              fallback_on: tuple[type[BaseException], ...] = (Exception,)) -> Cached:
        """Ask the platform (`load`); keep the answer; on failure return the cached copy
        (stale). Raises the load error if there is no cached copy."""
        try:
            value = load()
        except fallback_on:
            cached = self.get(kind, key)
            if cached is None:
                raise
            return Cached(cached.value, cached.fetched, cached.etag, stale=True)
        self.put(kind, key, value)
        return Cached(value, time.time())

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


__all__ = ["Cached", "Incident", "ReadCache"]
