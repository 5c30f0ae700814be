"""The ingest through a real Mosquitto (credentials, ACL) into SQLite and PostgreSQL:
what terminals publish is applied once; bad messages on every topic are dropped, counted
and logged; the database going away pauses the ingest and loses nothing."""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from kiosk.fleet import protocol
from opscentre.db import make_engine, make_sessionmaker, upgrade
from opscentre.ingest import Ingest, IngestSettings
from opscentre.models import Event, HealthSample, IngestCounter, Terminal


def tid(prefix: str = "T") -> str:
    return f"{prefix}{secrets.token_hex(4)}"


def settings_for(broker: Any, **kw: Any) -> IngestSettings:
    kw.setdefault("instance", secrets.token_hex(4))
    kw.setdefault("group", f"g{secrets.token_hex(4)}")
    return IngestSettings(broker.setup.url, "opscentre", broker.setup.password("opscentre"),
                          **kw)


@pytest.fixture
def ingest(mosquitto: Any, centre_db: Any) -> Iterator[Ingest]:
    _, sessions = centre_db
    i = Ingest(settings_for(mosquitto), sessions).start()
    assert i.wait_ready(), "the broker did not grant the centre's subscriptions"
    yield i
    i.stop(leave=True)


def count(sessions: Any, model: Any, *where: Any) -> int:
    with sessions() as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


HEALTH = {"app_version": "1.4.0", "heartbeat": {"interval_s": 60}, "outbox": {"total": 2},
          "devices": {"receipt": {"state": "online", "details": ["paper_low"], "fault": False}}}


def test_what_terminals_publish_is_applied_once(ingest: Ingest, centre_db: Any,  # type: ignore[no-untyped-def]
                                                publishers, wait_for) -> None:
    _, sessions = centre_db
    a, b = publishers(tid()), publishers(tid())
    a.send("state", "state", {"online": True, "session": "s1", "site": "南城"})
    a.send("health", "health", HEALTH)
    fault = a.send("events", "fault", {"device": "a4", "state": "hardware_error",
                                       "details": ["paper_jam"]})
    a.raw("events", protocol.encode(fault))  # the same message again (QoS 1 redelivery)
    b.send("results", "result", {"command": "c-1", "ok": True})
    wait_for(lambda: count(sessions, Event) == 2 and count(sessions, HealthSample) == 1,
             what="events and health applied")
    wait_for(lambda: ingest.stats.ignored["events"] == 1, what="the duplicate seen")
    with sessions() as s:
        t = s.get(Terminal, a.terminal)
        assert t is not None and t.online and t.site == "南城"
        assert t.app_version == "1.4.0" and t.outbox_depth == 2 and t.paper == "low"
        assert t.faults == ["a4"]
        assert s.get(Terminal, b.terminal) is not None
    assert not ingest.stats.dropped


def test_a_centre_started_later_learns_who_is_online(mosquitto: Any, centre_db: Any,  # type: ignore[no-untyped-def]
                                                    publishers, wait_for) -> None:
    _, sessions = centre_db
    p = publishers(tid())
    p.send("state", "state", {"online": True, "session": "s1"})  # retained by the broker
    i = Ingest(settings_for(mosquitto), sessions).start()
    try:
        wait_for(lambda: (t := _get(sessions, p.terminal)) is not None and t.online,
                 what="the retained state applied")
    finally:
        i.stop(leave=True)


def _get(sessions: Any, terminal: str) -> Terminal | None:
    with sessions() as s:
        return s.get(Terminal, terminal)


def bad_messages(terminal: str) -> list[tuple[bytes, str]]:
    """(payload, reason) for messages a broken or hostile terminal could send."""
    def env(**over: Any) -> bytes:
        d = {"v": 1, "id": secrets.token_hex(8), "terminal": terminal, "at": 1.79e9,
             "type": "health", "body": {}}
        d.update(over)
        return json.dumps(d).encode()

    deep: Any = {}
    for _ in range(40):
        deep = {"x": deep}
    return [
        (b"\xff\xfe not utf-8", "not_json"),
        (b"{\"v\": 1,", "not_json"),
        (b"[1, 2, 3]", "not_object"),
        (env(body=deep), "too_deep"),
        (env(v=2), "version"),
        (env(terminal="DG-SOMEONE-ELSE"), "impersonation"),
        (env(id=""), "bad_id"),
        (env(at="yesterday"), "bad_time"),
        (env(body=[1]), "bad_body"),
        (env(body={"pad": "x" * (protocol.MAX_MESSAGE_BYTES + 10)}), "too_large"),
        # a full resident ID number (a synthetic one) never enters the centre
        (env(body={"note": "citizen 44190019900307123X"}), "personal_data"),
        # … also when JSON escapes spell its digits
        (env(body={"note": "citizen 44190019900307123X"}).replace(b"citizen 4",
                                                                   b"citizen \\u0034"),
         "personal_data"),
    ]


def test_bad_messages_on_every_topic_are_dropped_counted_and_logged(  # type: ignore[no-untyped-def]
        ingest: Ingest, centre_db: Any, publishers, caplog, wait_for) -> None:
    _, sessions = centre_db
    caplog.set_level(logging.WARNING, logger="opscentre.ingest")
    p = publishers(tid())
    kinds = ("state", "health", "events", "results")
    bad = bad_messages(p.terminal)
    for kind in kinds:
        for payload, _ in bad:
            p.raw(kind, payload)
    p.send("health", "health", HEALTH)  # the centre is still there for the good ones
    wait_for(lambda: count(sessions, HealthSample, HealthSample.terminal_id == p.terminal),
             what="the good message after the bad ones")
    want = {(k, r): 0 for k in kinds for _, r in bad}
    for k in kinds:
        for _, r in bad:
            want[k, r] += 1
    wait_for(lambda: dict(ingest.stats.dropped) == want, what="every bad message counted")
    with sessions() as s:
        stored = {(c.kind, c.reason): c.count for c in s.scalars(select(IngestCounter))}
    assert stored == want
    lines = [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]
    assert any("impersonation" in line and p.terminal in line for line in lines)
    assert not any("44190019900307123X" in line or "pad" in line for line in lines)
    assert ingest._writer is not None and ingest._writer.is_alive()


def test_database_down_mid_run_pauses_and_loses_nothing(  # type: ignore[no-untyped-def]
        mosquitto: Any, make_pg_cluster, publishers, wait_for) -> None:
    """The database goes away mid-run; the centre pauses, then even stops before the
    database is back: whatever it received and could not apply was never acknowledged,
    so the broker gives it to the centre's next start (the same instance name)."""
    cluster = make_pg_cluster()
    engine = make_engine(cluster.create_database("centre"))
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    conf = settings_for(mosquitto, batch_max=20)
    i = Ingest(conf, sessions).start()
    assert i.wait_ready()
    p = publishers(tid())
    sent = [p.send("events", "warning", {"device": "receipt", "n": n}).id for n in range(30)]
    wait_for(lambda: count(sessions, Event) == 30, what="the first 30 events")
    cluster.stop()
    sent += [p.send("events", "warning", {"device": "receipt", "n": n}).id
             for n in range(30, 100)]
    wait_for(lambda: i.stats.paused and i.stats.received >= 100, what="the ingest paused")
    assert i.stats.db_errors > 0
    i.stop()  # the centre goes down too, holding messages it could not apply
    sent += [p.send("events", "warning", {"device": "receipt", "n": n}).id
             for n in range(100, 150)]  # while no centre is running
    cluster.start()
    i = Ingest(conf, sessions).start()
    try:
        wait_for(lambda: count(sessions, Event) == 150, timeout=60, what="all 150 events")
        with sessions() as s:
            assert set(s.scalars(select(Event.message_id))) == set(sent)
    finally:
        i.stop(leave=True)
        engine.dispose()


@pytest.mark.parametrize("extra", [0, 1])
def test_nesting_is_refused_just_past_the_protocols_limit(extra: int) -> None:
    """The envelope is depth 1, its body 2, …: a scalar at MAX_DEPTH passes, one deeper not."""
    inner: Any = "x"
    for _ in range(protocol.MAX_DEPTH - 2 + extra):
        inner = {"k": inner}
    data = {"v": 1, "id": "m1", "terminal": "T1", "at": 1.0, "type": "health", "body": inner}
    payload = json.dumps(data).encode()
    if extra:
        with pytest.raises(protocol.ProtocolError, match="too_deep"):
            protocol.decode("guanjia/v1/terminals/T1/health", payload)
    else:
        assert protocol.decode("guanjia/v1/terminals/T1/health", payload).body == inner


def test_a_centre_cut_off_from_the_broker_calls_nobody_silent(  # type: ignore[no-untyped-def]
        mosquitto: Any, centre_db: Any, wait_for) -> None:
    _, sessions = centre_db
    old = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    with sessions.begin() as s:
        s.add(Terminal(id="QUIET", online=True, last_seen=old, state_at=old))
    cut_off = Ingest(IngestSettings("mqtt://127.0.0.1:9", stale_grace_s=0), sessions)
    cut_off._housekeeping()  # not connected: its own silence, not the terminals'
    assert _get(sessions, "QUIET").online  # type: ignore[union-attr]
    i = Ingest(settings_for(mosquitto, stale_grace_s=0), sessions).start()
    try:
        assert i.wait_ready()
        wait_for(lambda: not _get(sessions, "QUIET").online,  # type: ignore[union-attr]
                 what="marked stale once listening")
    finally:
        i.stop(leave=True)
