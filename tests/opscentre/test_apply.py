"""Applying fleet messages to the database (SQLite and PostgreSQL): once each, in order,
whatever the broker's redelivery or two instances' interleaving does to them."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from kiosk.fleet.protocol import Envelope
from opscentre.apply import Applier, Message, SamplePolicy, compact
from opscentre.db import from_unix
from opscentre.ingest import mark_stale
from opscentre.models import Event, HealthSample, IngestCounter, Terminal

T0 = 1_790_000_000.0  # a fixed terminal clock


def msg(kind: str, typ: str, body: dict[str, Any], at: float, *, terminal: str = "T1",
        mid: str | None = None, received: float | None = None) -> Message:
    env = Envelope(terminal, typ, body, at=at) if mid is None else \
        Envelope(terminal, typ, body, at=at, id=mid)
    return Message(kind, env, from_unix(received if received is not None else at))


def state(online: bool, session: str, at: float, reason: str = "") -> Message:
    body: dict[str, Any] = {"online": online, "session": session}
    if reason:
        body["reason"] = reason
    return msg("state", "state", body, at)


def health(at: float, received: float | None = None, **body: Any) -> Message:
    base: dict[str, Any] = {
        "app_version": "1.4.0", "uptime_s": 100, "heartbeat": {"interval_s": 60},
        "devices": {"receipt": {"state": "online", "details": [], "fault": False},
                    "a4": {"state": "online", "details": [], "fault": False}},
        "outbox": {"total": 0, "oldest_age_s": None}, "packages": {"active": ["builtin@1"]}}
    base.update(body)
    return msg("health", "health", base, at, received=received)


def apply(sessions: Any, applier: Applier, *messages: Message) -> Any:
    with sessions.begin() as s:
        return applier.apply(s, list(messages))


def terminal(sessions: Any, tid: str = "T1") -> Terminal:
    with sessions() as s:
        t = s.get(Terminal, tid)
        assert t is not None
        return t


def test_states_follow_sessions_not_arrival_order(centre_db) -> None:  # type: ignore[no-untyped-def]
    _, sessions = centre_db
    a = Applier()
    apply(sessions, a, state(True, "s1", T0 + 1))
    assert terminal(sessions).online
    # the will of s1 carries the time s1 connected (before its online message)
    apply(sessions, a, state(False, "s1", T0, "lost"))
    t = terminal(sessions)
    assert not t.online and t.offline_reason == "lost"
    apply(sessions, a, state(True, "s1", T0 + 1))  # a redelivered copy of s1's online
    assert not terminal(sessions).online
    apply(sessions, a, state(True, "s2", T0 + 50))  # reconnected
    assert terminal(sessions).online
    # s1's will delivered late (by another instance or a slow broker) changes nothing
    apply(sessions, a, state(False, "s1", T0, "lost"))
    assert terminal(sessions).online
    # a will that overtakes its session's online message (two instances): still offline
    apply(sessions, a, state(False, "s3", T0 + 100, "lost"))
    apply(sessions, a, state(True, "s3", T0 + 101))
    assert not terminal(sessions).online


def test_newest_health_wins_and_summarises_devices(centre_db) -> None:  # type: ignore[no-untyped-def]
    _, sessions = centre_db
    a = Applier()
    apply(sessions, a, health(
        T0 + 60, outbox={"total": 7, "oldest_age_s": 420.5},
        devices={"receipt": {"state": "online", "details": ["paper_low"], "fault": False},
                 "a4": {"state": "hardware_error", "details": ["paper_jam"], "fault": True},
                 "camera": {"state": "no_device", "details": [], "fault": True,
                            "fitted": False}},
        packages={"active": ["civil@3"], "last_error": {"stage": "load", "reason": "bad"}},
        received=T0 + 60 + 2.5))
    # an older snapshot delivered afterwards (redelivery after a restart) is history only
    apply(sessions, a, health(T0, app_version="1.3.9"))
    t = terminal(sessions)
    assert t.app_version == "1.4.0"
    assert t.faults == ["a4"] and t.fault_count == 1  # the camera is not fitted
    assert t.paper == "low" and t.consumables["receipt"] == {"paper": "low"}
    assert t.outbox_depth == 7 and t.outbox_oldest_age_s == 420.5
    assert t.package_problem == "rolled_back"
    assert t.clock_skew_s == -2.5
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(HealthSample)) == 2


def test_a_clock_set_back_is_followed_after_two_quiet_intervals(centre_db) -> None:  # type: ignore[no-untyped-def]
    _, sessions = centre_db
    a = Applier()
    apply(sessions, a, health(T0 + 600, received=T0 + 600, app_version="1.4.0"))
    # NTP sets the terminal's clock back an hour: its snapshots now look older
    apply(sessions, a, health(T0 - 3000, received=T0 + 660, app_version="1.4.1"))
    assert terminal(sessions).app_version == "1.4.0"
    apply(sessions, a, health(T0 - 2880, received=T0 + 780, app_version="1.4.1"))
    t = terminal(sessions)
    assert t.app_version == "1.4.1" and t.clock_skew_s == -3660.0  # and the skew shows
    assert t.last_seen == from_unix(T0 + 780)


def test_events_are_applied_once_and_move_the_device(centre_db) -> None:  # type: ignore[no-untyped-def]
    _, sessions = centre_db
    a = Applier()
    apply(sessions, a, health(T0))
    out = msg("events", "fault", {"device": "receipt", "state": "online",
                                  "details": ["paper_out"]}, T0 + 5, mid="ev-1")
    r1 = apply(sessions, a, out)
    r2 = apply(sessions, a, out, out)  # QoS 1 duplicates, also within one batch
    assert r1.applied["events"] == 1 and r2.applied["events"] == 0
    assert r2.ignored["events"] == 2
    t = terminal(sessions)
    assert t.faults == ["receipt"] and t.paper == "out"
    apply(sessions, a, msg("events", "recovered", {"device": "receipt", "state": "online"},
                           T0 + 9, mid="ev-2"),
          msg("events", "package_rejected", {"package": "civil@4"}, T0 + 10, mid="ev-3"),
          msg("results", "result", {"command": "c1", "ok": True}, T0 + 11, mid="r-1"))
    t = terminal(sessions)
    assert t.faults == [] and t.paper == "ok" and t.package_problem == "rejected"
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Event)) == 4
        assert s.scalars(select(Event.topic).where(Event.message_id == "r-1")).one() == \
            "results"


def test_silence_marks_offline_and_health_ends_only_a_guess(centre_db) -> None:  # type: ignore[no-untyped-def]
    _, sessions = centre_db
    a = Applier()
    now = dt.datetime.now(dt.UTC).timestamp()
    apply(sessions, a, state(True, "s1", now - 600, ), health(now - 500),
          msg("state", "state", {"online": True, "session": "x"}, now, terminal="T2"))
    # T1's newest message came 500 s ago with a 60 s interval: three intervals passed
    assert mark_stale(sessions, 3.0) == 1
    t = terminal(sessions)
    assert not t.online and t.offline_reason == "stale"
    assert terminal(sessions, "T2").online
    apply(sessions, a, health(now - 10))
    assert terminal(sessions).online  # it was only silent
    apply(sessions, a, state(False, "s1", now - 600, "lost"), health(now - 5))
    t = terminal(sessions)
    assert not t.online and t.offline_reason == "lost"  # the broker said so


def test_a_terminal_day_of_health_is_sampled_rolled_up_and_expired(centre_db) -> None:  # type: ignore[no-untyped-def]
    _, sessions = centre_db
    policy = SamplePolicy()
    a = Applier(policy)
    day0 = 1_790_000_000 - 1_790_000_000 % 86400
    beats = [health(day0 + i * 60.0) for i in range(1440)]  # one day at the default interval
    beats[700] = health(day0 + 700 * 60.0, outbox={"total": 3})  # a change is kept at once
    for i in range(0, 1440, 240):
        apply(sessions, a, *beats[i:i + 240])
    with sessions() as s:
        raw = s.scalar(select(func.count()).select_from(HealthSample))
    # every 5 minutes (0, 5, … 695), the change at 700, its end at 701, then 706, 711, … 1436
    assert raw == 140 + 1 + (1436 - 701) // 5 + 1 == 289
    with sessions.begin() as s:
        rolled = compact(s, policy, now=from_unix(day0 + 3 * 86400))
    assert rolled == raw
    with sessions() as s:
        rows = s.scalars(select(HealthSample).order_by(HealthSample.at)).all()
    assert [r.resolution for r in rows] == [3600] * 24
    assert sum(r.samples for r in rows) == raw
    assert max(r.outbox_depth for r in rows) == 3
    with sessions.begin() as s:  # ninety days later the roll-ups go too
        compact(s, policy, now=from_unix(day0 + 92 * 86400))
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(HealthSample)) == 0


def test_dropped_messages_are_counted_by_kind_and_reason(centre_db) -> None:  # type: ignore[no-untyped-def]
    _, sessions = centre_db
    a = Applier()
    with sessions.begin() as s:
        a.apply(s, [], Counter({("health", "not_json"): 2, ("events", "too_large"): 1}))
    with sessions.begin() as s:
        a.apply(s, [], Counter({("health", "not_json"): 3}))
    with sessions() as s:
        rows = {(c.kind, c.reason): c.count for c in s.scalars(select(IngestCounter))}
    assert rows == {("health", "not_json"): 5, ("events", "too_large"): 1}


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False)
    | st.text(max_size=80),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=30)
FIELDS = st.sampled_from(["online", "session", "reason", "devices", "outbox", "packages",
                          "app_version", "heartbeat", "disk", "device", "details", "site",
                          "uptime_s", "maintenance", "state"])


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@settings(max_examples=120, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(["state", "health", "events", "results"]),
       body=st.dictionaries(FIELDS | st.text(max_size=10), JSON, max_size=8),
       typ=st.sampled_from(["state", "health", "fault", "recovered", "warning",
                            "package_rolled_back", "x" * 64]),
       at=st.floats(0, 4e9))
def test_any_body_on_any_topic_applies_without_error(centre_db, kind: str,  # type: ignore[no-untyped-def]
                                                     body: dict[str, Any], typ: str,
                                                     at: float) -> None:
    _, sessions = centre_db
    apply(sessions, Applier(), msg(kind, typ, body, at))
