"""Call records on each engine the centre supports (SQLite, PostgreSQL), the wait estimate
from the records' handle times, and the TURN credentials coturn checks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from opscentre.assist import turn
from opscentre.assist.hub import Hub
from opscentre.assist.records import Records, recent
from opscentre.models import AssistCall, Terminal
from opscentre.settings import AssistSettings


class Socket:
    """The far end of one socket: what the hub sent it, and its close code."""

    def __init__(self) -> None:
        self.got: list[dict[str, Any]] = []
        self.code: int | None = None

    def send(self, message: dict[str, Any]) -> None:
        self.got.append(message)

    def close(self, code: int = 1000) -> None:
        self.code = code

    def last(self, kind: str) -> dict[str, Any]:
        return [m for m in self.got if m["type"] == kind][-1]


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def _call(hub: Hub, term: Socket, tid: str = "DG-T-0001") -> str:
    cid = str(uuid.uuid4())
    hub.terminal_message(term, tid, "东城服务中心", {
        "type": "call", "call": cid, "service": "social_security_certificate",
        "service_title": "社保缴费证明", "lang": "zh_HK"})
    return cid


def test_records_and_wait_estimate(centre_db: tuple[Engine, sessionmaker[Session]]) -> None:
    _, sessions = centre_db
    with sessions() as db:
        db.add(Terminal(id="DG-T-0001", site="东城服务中心"))
        db.commit()
    records = Records(sessions)
    assert records.site_of("DG-T-0001") == "东城服务中心"
    clock = Clock()
    hub = Hub(AssistSettings(expected_handle_s=100), records, clock=clock)
    amy, abe = Socket(), Socket()
    hub.agent_joined(amy, "amy", "工作人员 001")
    hub.agent_joined(abe, "abe", "工作人员 002")
    for sock, login in ((amy, "amy"), (abe, "abe")):
        hub.agent_message(sock, login, {"type": "status", "state": "available"})
    t1, t2, t3 = Socket(), Socket(), Socket()
    c1, c2, c3 = _call(hub, t1), _call(hub, t2), _call(hub, t3)
    # no history: expected_handle_s times the position over the agents on duty
    assert [t.last("queued")["wait_s"] for t in (t1, t2, t3)] == [50, 100, 150]
    hub.agent_message(amy, "amy", {"type": "take", "call": c1})
    clock.t += 5
    hub.agent_message(amy, "amy", {"type": "hold", "call": c1})
    clock.t += 7
    hub.agent_message(amy, "amy", {"type": "resume", "call": c1})
    clock.t += 28
    hub.agent_message(amy, "amy", {"type": "end", "call": c1, "outcome": "callback"})
    # one call handled in 40 s: the estimate follows it (busy agent: still 2 on duty)
    assert t3.last("queued") == {"type": "queued", "call": c3, "position": 2,
                                 "wait_s": 40, "agents": 2}
    hub.terminal_message(t2, "DG-T-0001", "", {"type": "hangup", "reason": "no_answer"})
    records.flush()
    with sessions() as db:
        rows = {r.id: r for r in db.scalars(select(AssistCall))}
        listed = recent(db)
    r1 = rows[c1]
    assert (r1.terminal, r1.site, r1.service, r1.lang, r1.outcome, r1.end_reason, r1.agent,
            r1.agents, r1.hold_s) == ("DG-T-0001", "东城服务中心", "social_security_certificate",
                                      "zh_HK", "callback", "agent", "amy", ["amy"], 7.0)
    assert r1.answered_at is not None and r1.ended_at is not None
    assert rows[c2].outcome == "no_answer" and rows[c2].answered_at is None
    assert rows[c3].outcome == "" and rows[c3].ended_at is None  # still waiting
    assert {x["id"] for x in listed} == {c1, c2, c3}
    assert next(x for x in listed if x["id"] == c1)["agents"] == ["amy"]
    # a new hub (a restarted centre) starts from the recorded handle times
    assert Hub(AssistSettings(), records).expected_handle_s() != 180
    records.close()


def test_turn_credentials_are_coturns_rest_scheme() -> None:
    user, cred = turn.credentials("s3cret", "call-1", 3600, now=1_700_000_000)
    assert user == "1700003600:call-1"
    want = base64.b64encode(hmac.new(b"s3cret", user.encode(), hashlib.sha1).digest())
    assert cred == want.decode()
    assert turn.ice_servers((), "s3cret", "c", 60) == []  # no TURN configured: none
    assert turn.ice_servers(("turn:x:3478",), "", "c", 60) == []


def test_the_migration_builds_what_the_model_describes(db_url: str) -> None:
    """0005 makes `assist_calls` as the model says, and goes back down cleanly."""
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import inspect

    from opscentre.db import Base, alembic_config, make_engine, upgrade

    engine = make_engine(db_url)
    upgrade(engine)
    assert "assist_calls" in inspect(engine).get_table_names()
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = [d for d in compare_metadata(ctx, Base.metadata) if "assist_calls" in repr(d)]
    assert diff == [], "the assist_calls model and migration disagree: add a migration"
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0004_rollouts")
    assert "assist_calls" not in inspect(engine).get_table_names()
    upgrade(engine)
    engine.dispose()
