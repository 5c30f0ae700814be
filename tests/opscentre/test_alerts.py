"""Alert rules on SQLite and PostgreSQL: open after a hold, acknowledged, closed by
themselves after the condition stays clear, flapping damped, thresholds configurable."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select, update

from opscentre.alerts import AlertEngine
from opscentre.models import Alert, AlertCondition, Notification, Terminal
from opscentre.settings import AlertRules, NotifySettings, SettingsError, load

T0 = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)
NOTIFY = NotifySettings(webhooks=("http://127.0.0.1:9/hook",), email_to=("ops@example.org",))


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def put(sessions: Any, tid: str = "T1", **fields: Any) -> None:
    with sessions.begin() as s:
        t = s.get(Terminal, tid)
        if t is None:
            t = Terminal(id=tid, online=True, state_at=T0, last_seen=T0)
            s.add(t)
        for k, v in fields.items():
            setattr(t, k, v)


def run(sessions: Any, engine: AlertEngine, seconds: float) -> Any:
    with sessions.begin() as s:
        return engine.evaluate(s, now=at(seconds))


def alerts(sessions: Any, rule: str | None = None) -> list[Alert]:
    with sessions() as s:
        q = select(Alert).order_by(Alert.id)
        if rule:
            q = q.where(Alert.rule == rule)
        return list(s.scalars(q))


def notes(sessions: Any) -> list[tuple[str, str]]:
    with sessions() as s:
        return [(n.channel, n.payload["event"])
                for n in s.scalars(select(Notification).order_by(Notification.id))]


def test_a_fault_opens_after_its_hold_is_acked_and_closes_by_itself(centre_db) -> None:  # type: ignore[no-untyped-def]
    _, sessions = centre_db
    engine = AlertEngine(AlertRules(clear_hold_s=60), NOTIFY)
    put(sessions, faults=["a4"])
    run(sessions, engine, 0)
    run(sessions, engine, 29)
    assert alerts(sessions) == []  # a fault of less than 30 s is not an alert
    run(sessions, engine, 31)
    [a] = alerts(sessions)
    assert (a.rule, a.subject, a.state, a.severity) == ("device_fault", "a4", "open", "critical")
    assert notes(sessions) == [("webhook", "opened"), ("email", "opened")]
    with sessions.begin() as s:  # an operator acknowledges it (what the console does)
        s.execute(update(Alert).values(state="acked", acked_by="op1", acked_at=at(40)))
    run(sessions, engine, 50)
    assert alerts(sessions)[0].state == "acked"
    put(sessions, faults=[])
    run(sessions, engine, 100)
    run(sessions, engine, 159)
    assert alerts(sessions)[0].state == "acked"  # clear for less than clear_hold_s
    run(sessions, engine, 161)
    [a] = alerts(sessions)
    assert a.state == "closed" and a.closed_at == at(161) and a.acked_by == "op1"
    assert notes(sessions)[2:] == [("webhook", "closed"), ("email", "closed")]
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(AlertCondition)) == 0


def test_flapping_is_damped(centre_db) -> None:  # type: ignore[no-untyped-def]
    _, sessions = centre_db
    engine = AlertEngine(AlertRules(offline_after_s=30, clear_hold_s=120,
                                    reopen_window_s=600), NOTIFY)
    put(sessions, online=False, state_at=at(0), offline_reason="lost")
    run(sessions, engine, 40)
    assert [a.state for a in alerts(sessions)] == ["open"]
    for t in range(50, 400, 20):  # back for ten seconds, away for ten, again and again
        put(sessions, online=t % 40 == 10, state_at=at(t))
        run(sessions, engine, t)
    assert [a.state for a in alerts(sessions)] == ["open"]  # never closed in between
    put(sessions, online=True, state_at=at(400))
    run(sessions, engine, 401)
    run(sessions, engine, 530)
    assert [a.state for a in alerts(sessions)] == ["closed"]
    put(sessions, online=False, state_at=at(600), offline_reason="lost")
    run(sessions, engine, 640)  # back within the reopen window: the same alert again
    [a] = alerts(sessions)
    assert a.state == "open" and a.flaps == 1
    assert notes(sessions).count(("webhook", "opened")) == 1
    put(sessions, online=True, state_at=at(700))
    run(sessions, engine, 700)
    run(sessions, engine, 900)
    put(sessions, online=False, state_at=at(2000), offline_reason="lost")
    run(sessions, engine, 2040)  # long after: a new alert
    assert [a.state for a in alerts(sessions)] == ["closed", "open"]


def test_each_rule_with_its_threshold(centre_db) -> None:  # type: ignore[no-untyped-def]
    _, sessions = centre_db
    rules = AlertRules(outbox_depth_max=100, outbox_age_max_s=600, clock_skew_max_s=60,
                       hold_s={"paper_low": 0, "paper_out": 0, "clock_skew": 0})
    engine = AlertEngine(rules)
    put(sessions, "P", consumables={"receipt": {"paper": "low"}, "a4": {"paper": "out"}})
    put(sessions, "D", outbox_depth=101)
    put(sessions, "A", outbox_depth=3, outbox_oldest_age_s=601.0)
    put(sessions, "K", package_problem="rolled_back")
    put(sessions, "C", clock_skew_s=-61.0)
    put(sessions, "OK", outbox_depth=100, outbox_oldest_age_s=600.0, clock_skew_s=60.0,
        consumables={"receipt": {"paper": "ok"}})
    run(sessions, engine, 0)
    got = {(a.terminal_id, a.rule, a.subject) for a in alerts(sessions)}
    assert got == {("P", "paper_low", "receipt"), ("P", "paper_out", "a4"),
                   ("D", "outbox", ""), ("A", "outbox", ""), ("K", "package", "rolled_back"),
                   ("C", "clock_skew", "")}
    # an offline terminal's other alerts keep their state: their condition is unknown
    put(sessions, "P", online=False, state_at=at(10), consumables={})
    run(sessions, engine, 500)
    assert {a.rule for a in alerts(sessions) if a.terminal_id == "P" and a.state == "open"} \
        == {"paper_low", "paper_out", "offline"}


def test_disabled_rules_and_a_bad_setting(tmp_path) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "centre.toml"
    f.write_text("[alerts]\noffline_after_s = 600\ndisabled = ['clock_skew']\n"
                 "[alerts.hold_s]\ndevice_fault = 5\n[notify]\nwebhooks = ['http://x/h']\n")
    s = load(f)
    assert s.alerts.offline_after_s == 600 and not s.alerts.enabled("clock_skew")
    assert s.alerts.hold("device_fault") == 5 and s.alerts.hold("paper_low") == 60
    f.write_text("[alerts]\noffline_after = 600\n")  # misspelt: refused, not ignored
    with pytest.raises(SettingsError, match=r"centre.toml: alerts.offline_after: Extra"):
        load(f)
    f.write_text("[alerts.hold_s]\ndevice_falut = 5\n")
    with pytest.raises(SettingsError, match=r"hold_s\.device_falut"):
        load(f)
