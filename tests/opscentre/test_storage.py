"""The centre's storage on SQLite and on PostgreSQL: migrations, constraints, times, JSON."""

from __future__ import annotations

import datetime as dt

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError

from opscentre import models as m
from opscentre.db import (
    Base,
    current_revision,
    head_revision,
    make_engine,
    make_sessionmaker,
    normalise_url,
    upgrade,
)

CENTRE_TABLES = {t.name for t in Base.metadata.sorted_tables if t.name in {
    "terminals", "health_samples", "events", "alerts", "alert_conditions", "notifications",
    "ingest_counters"}}


@pytest.fixture
def engine(db_url: str):  # type: ignore[no-untyped-def]
    e = make_engine(db_url)
    upgrade(e)
    yield e
    e.dispose()


def test_migrations_build_the_schema_the_models_describe(engine) -> None:  # type: ignore[no-untyped-def]
    assert current_revision(engine) == head_revision()
    assert set(inspect(engine).get_table_names()) >= CENTRE_TABLES
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = [d for d in compare_metadata(ctx, Base.metadata)
                if _table_of(d) in CENTRE_TABLES]
    assert diff == [], "models and migrations disagree: add a migration"


def _table_of(diff: object) -> str | None:
    item = diff[0] if isinstance(diff, list) else diff
    for part in item[1:] if isinstance(item, tuple) else ():
        name = getattr(part, "name", None)
        table = getattr(part, "table", None)
        if table is not None:
            return str(table.name)
        if isinstance(part, str) and part in CENTRE_TABLES:
            return part
        if name in CENTRE_TABLES:
            return str(name)
    return None


def test_upgrade_is_idempotent_and_downgrade_reverses_it(db_url: str) -> None:
    from alembic import command

    from opscentre.db import alembic_config

    e = make_engine(db_url)
    upgrade(e)
    upgrade(e)  # `kiosk-ops serve` upgrades at every start
    with e.begin() as conn:
        command.downgrade(alembic_config(conn), "base")
    assert not CENTRE_TABLES & set(inspect(e).get_table_names())
    upgrade(e)
    assert set(inspect(e).get_table_names()) >= CENTRE_TABLES
    e.dispose()


def test_an_event_message_is_stored_once_per_terminal(engine) -> None:  # type: ignore[no-untyped-def]
    sm = make_sessionmaker(engine)
    now = dt.datetime.now(dt.UTC)
    with sm.begin() as s:
        s.add_all([m.Terminal(id="T1"), m.Terminal(id="T2")])
    with sm.begin() as s:
        s.add(m.Event(terminal_id="T1", message_id="abc", type="fault", at=now))
        # the same id from another terminal is another message
        s.add(m.Event(terminal_id="T2", message_id="abc", type="fault", at=now))
    with pytest.raises(IntegrityError), sm.begin() as s:
        s.add(m.Event(terminal_id="T1", message_id="abc", type="fault", at=now))
    with sm() as s:
        assert s.scalar(select(m.Event.id).where(m.Event.terminal_id == "T1")) is not None
        assert len(s.scalars(select(m.Event)).all()) == 2


def test_one_live_alert_per_rule_terminal_and_subject(engine) -> None:  # type: ignore[no-untyped-def]
    sm = make_sessionmaker(engine)
    with sm.begin() as s:
        s.add(m.Terminal(id="T1"))
        s.flush()  # no relationship() tells the unit of work the order
        s.add(m.Alert(rule="device_fault", terminal_id="T1", subject="receipt",
                      state="closed"))
        s.add(m.Alert(rule="device_fault", terminal_id="T1", subject="receipt", state="open"))
        s.add(m.Alert(rule="device_fault", terminal_id="T1", subject="a4", state="acked"))
    with pytest.raises(IntegrityError), sm.begin() as s:
        s.add(m.Alert(rule="device_fault", terminal_id="T1", subject="receipt", state="acked"))
    with sm.begin() as s:  # closing the live one makes room for the next
        a = s.scalars(select(m.Alert).where(m.Alert.state == "open")).one()
        a.state = "closed"
        s.add(m.Alert(rule="device_fault", terminal_id="T1", subject="receipt", state="open"))


def test_times_come_back_as_aware_utc_and_json_keeps_chinese(engine) -> None:  # type: ignore[no-untyped-def]
    sm = make_sessionmaker(engine)
    cst = dt.timezone(dt.timedelta(hours=8))
    seen = dt.datetime(2026, 12, 1, 20, 30, 15, 123000, tzinfo=cst)
    with sm.begin() as s:
        s.add(m.Terminal(id="T1", last_seen=seen, site="东城街道便民服务中心",
                         devices={"receipt": {"state": "online", "details": ["paper_low"]}}))
    with sm() as s:
        t = s.get(m.Terminal, "T1")
        assert t is not None and t.last_seen == seen
        assert t.last_seen.tzinfo is not None and t.last_seen.utcoffset() == dt.timedelta(0)
        assert t.site == "东城街道便民服务中心"
        assert t.devices["receipt"]["details"] == ["paper_low"]
    with pytest.raises(Exception, match="naive"), sm.begin() as s:
        s.add(m.Terminal(id="T2", last_seen=dt.datetime(2026, 1, 1)))


def test_urls_a_person_would_type() -> None:
    assert normalise_url("postgresql://ops@db/centre") == "postgresql+psycopg://ops@db/centre"
    assert normalise_url("/var/lib/centre.db") == "sqlite:////var/lib/centre.db"
    with pytest.raises(ValueError, match="in-memory"):
        make_engine("sqlite://")
