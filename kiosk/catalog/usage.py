"""Most-used services, counted on this terminal only (the home screen's first row).

What is kept: per service, how many sessions were started in each week (weeks counted
from the Unix epoch). Nothing else — no citizen, no time of day, no order of use — so
the file says no more than "service X was started N times in week W on this terminal".

Decay: a week's count weighs half as much every `HALF_LIFE_WEEKS` (4) weeks, and weeks
older than `WINDOW_WEEKS` (26) are deleted, so last year's favourite leaves the top once
citizens stop choosing it, while a steady favourite keeps its place.

Storage: SQLite in WAL mode (`synchronous=NORMAL`: a power cut loses at most the last
few counts, never the file). A file that is not a database, or is torn beyond what WAL
recovers, is set aside (`usage.sqlite.corrupt`) and counting starts again, with one log
line; the counter never raises into the kiosk (a disk that refuses writes: counts are
dropped, logged once).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")

HALF_LIFE_WEEKS = 4.0
WINDOW_WEEKS = 26
_WEEK_S = 7 * 86400

_SCHEMA = """
CREATE TABLE IF NOT EXISTS usage (
    flow_id TEXT NOT NULL,
    week INTEGER NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (flow_id, week)
) WITHOUT ROWID
"""


class UsageCounter:
    """Per-service session counts with decay; safe to call from the UI thread."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self._clock = clock
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._failed = False  # logged once that the disk refuses us

    # -- public ----------------------------------------------------------------------
    def record(self, flow_id: str) -> None:
        """One more session of `flow_id` this week (call once per started session)."""
        week = self._week()
        self._run(lambda db: self._record(db, flow_id, week), None)

    def top(self, n: int, among: Iterable[str]) -> list[str]:
        """Up to `n` of the ids in `among` (the catalog, in its order) that were used,
        most used first (decayed counts); equal counts keep the catalog order."""
        order = {fid: i for i, fid in enumerate(dict.fromkeys(among))}
        if n <= 0 or not order:
            return []
        scores = self.scores()
        used = [fid for fid in order if scores.get(fid, 0.0) > 0.0]
        used.sort(key=lambda fid: (-scores[fid], order[fid]))
        return used[:n]

    def scores(self) -> dict[str, float]:
        """Decayed count per service (for technicians and tests)."""
        none: dict[str, float] = {}
        return self._run(self._scores, none)

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    # -- internals -------------------------------------------------------------------
    def _week(self) -> int:
        return int(self._clock() // _WEEK_S)

    def _record(self, db: sqlite3.Connection, flow_id: str, week: int) -> None:
        with db:
            db.execute("INSERT INTO usage (flow_id, week, n) VALUES (?, ?, 1) "
                       "ON CONFLICT (flow_id, week) DO UPDATE SET n = n + 1",
                       (flow_id, week))
            db.execute("DELETE FROM usage WHERE week <= ?", (week - WINDOW_WEEKS,))

    def _scores(self, db: sqlite3.Connection) -> dict[str, float]:
        now = self._week()
        out: dict[str, float] = {}
        rows = db.execute("SELECT flow_id, week, n FROM usage WHERE week > ?",
                          (now - WINDOW_WEEKS,))
        for fid, week, n in rows:
            age = max(0, now - int(week))
            out[fid] = out.get(fid, 0.0) + int(n) * 0.5 ** (age / HALF_LIFE_WEEKS)
        return out

    def _run(self, op: Callable[[sqlite3.Connection], T], default: T) -> T:
        with self._lock:
            for attempt in (1, 2):
                try:
                    return op(self._open())
                except sqlite3.DatabaseError as exc:
                    if attempt == 1 and _is_corrupt(exc):
                        self._reset(exc)
                        continue
                    self._fail(exc)
                except (sqlite3.Error, OSError) as exc:
                    self._fail(exc)
                break
            return default

    def _open(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=2.0, check_same_thread=False,
                                 isolation_level=None)
            try:
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
                db.execute(_SCHEMA)
                # A torn page shows here at start, not in the middle of a citizen's tap.
                check = db.execute("PRAGMA quick_check").fetchone()
                if not check or check[0] != "ok":
                    raise sqlite3.DatabaseError(f"malformed: quick_check says {check}")
            except BaseException:
                db.close()
                raise
            db.isolation_level = "DEFERRED"  # `with db:` transactions from here on
            self._db = db
        return self._db

    def _reset(self, exc: Exception) -> None:
        """Set the damaged file aside and start counting again."""
        if self._db is not None:
            self._db.close()
            self._db = None
        aside = self.path.with_name(self.path.name + ".corrupt")
        log.error("usage counts: %s is damaged (%s); set aside as %s, counting anew",
                  self.path, exc, aside.name)
        for suffix in ("-wal", "-shm"):
            self.path.with_name(self.path.name + suffix).unlink(missing_ok=True)
        try:
            self.path.replace(aside)
        except FileNotFoundError:
            pass

    def _fail(self, exc: Exception) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
        if not self._failed:
            self._failed = True
            log.error("usage counts unavailable (%s: %s); the home screen shows the "
                      "catalog order", type(exc).__name__, exc)


def _is_corrupt(exc: sqlite3.DatabaseError) -> bool:
    """Damage, not a busy or read-only database."""
    text = str(exc).lower()
    if "malformed" in text or "not a database" in text:
        return True
    return not isinstance(exc, sqlite3.OperationalError)
