"""Call records (`assist_calls`): written in order on one thread of their own, so the hub
never waits on the database; read by the console's page, its API and the CLI."""

from __future__ import annotations

import datetime as dt
import logging
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from opscentre.models import AssistCall, Terminal

log = logging.getLogger(__name__)
OUTCOMES = ("resolved", "unresolved", "callback", "no_answer", "no_agent", "abandoned",
            "dropped", "session_end")


@dataclass(frozen=True)
class Record:
    """One call's record as the hub knows it (written whole each time it changes)."""

    id: str
    terminal: str
    site: str
    service: str
    lang: str
    requested_at: dt.datetime
    answered_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    agent: str = ""
    agents: list[str] = field(default_factory=list)
    outcome: str = ""
    end_reason: str = ""
    hold_s: float = 0.0


class Records:
    """The record writer: `save` queues a write and returns at once; `flush` waits."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="assist-records")
        self._last: Future[None] | None = None

    def save(self, rec: Record) -> None:
        self._last = self._pool.submit(self._write, rec)

    def _write(self, rec: Record) -> None:
        try:
            with self.sessions() as db:
                db.merge(AssistCall(**{**asdict(rec), "agents": list(rec.agents)}))
                db.commit()
        except Exception:
            log.exception("assist: record of call %s not written", rec.id)

    def flush(self, timeout: float = 30.0) -> None:
        """Wait until every write queued so far is done (tests, shutdown)."""
        self._pool.submit(lambda: None).result(timeout)

    def handle_times(self, n: int = 20) -> list[float]:
        """Talk time (answer to end, seconds) of the last `n` answered calls."""
        with self.sessions() as db:
            rows = db.execute(select(AssistCall.answered_at, AssistCall.ended_at)
                              .where(AssistCall.answered_at.is_not(None),
                                     AssistCall.ended_at.is_not(None))
                              .order_by(AssistCall.ended_at.desc()).limit(n)).all()
        return [max(0.0, (e - a).total_seconds()) for a, e in reversed(rows)
                if a is not None and e is not None]

    def site_of(self, terminal: str) -> str:
        with self.sessions() as db:
            return db.scalar(select(Terminal.site).where(Terminal.id == terminal)) or ""

    def close(self) -> None:
        self._pool.shutdown(wait=True)


def recent(db: Session, limit: int = 100, terminal: str = "") -> list[dict[str, Any]]:
    """The newest call records as plain dicts (with waited and talk time in seconds)."""
    q = select(AssistCall).order_by(AssistCall.requested_at.desc()).limit(limit)
    if terminal:
        q = q.where(AssistCall.terminal == terminal)
    return [as_dict(r) for r in db.scalars(q)]


def as_dict(r: AssistCall) -> dict[str, Any]:
    until = r.answered_at or r.ended_at
    waited = (until - r.requested_at).total_seconds() if until else None
    talk = None
    if r.answered_at is not None and r.ended_at is not None:
        talk = (r.ended_at - r.answered_at).total_seconds()

    def iso(t: dt.datetime | None) -> str | None:
        return t.isoformat() if t else None

    return {"id": r.id, "terminal": r.terminal, "site": r.site, "service": r.service,
            "lang": r.lang, "requested_at": iso(r.requested_at),
            "answered_at": iso(r.answered_at), "ended_at": iso(r.ended_at),
            "agent": r.agent, "agents": list(r.agents or []), "outcome": r.outcome,
            "end_reason": r.end_reason, "hold_s": round(r.hold_s, 1),
            "waited_s": None if waited is None else round(waited, 1),
            "talk_s": None if talk is None else round(talk, 1)}
