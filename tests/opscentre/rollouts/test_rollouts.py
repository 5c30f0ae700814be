"""Rollouts on SQLite and PostgreSQL: the evaluator against reports put in through the
centre's own ingest, and the TUF repository as `kiosk pack` writes it (checked by reading
the signed targets back). Time is the `now` handed to each pass, never a sleep."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

from kiosk.packages.rollout import bucket
from opscentre import rollouts
from opscentre.alerts import AlertEngine
from opscentre.models import Alert
from opscentre.rollouts import RolloutError, StartSpec
from opscentre.settings import AlertRules
from opscentre.web.models import AuditEntry

IDS = [f"DG-{i:04d}" for i in range(200)]
LOW = [i for i in IDS if bucket(i) < 50]  # the 50 % wave
HIGH = [i for i in IDS if bucket(i) >= 50]  # everyone else
LAB = "LAB-0001"


def start(db: Any, ops: Any, label: str = "dg-extra@1.1.0", **kw: Any) -> rollouts.Rollout:
    spec = StartSpec.parse(label, ops.settings(), waves=kw.pop("waves", "0,50,100"),
                           soak_s=kw.pop("soak_s", 60.0), archive=kw.pop("archive", None),
                           thresholds=kw.pop("thresholds", None))
    with db() as s:
        return rollouts.start(s, ops.publisher(), spec, "otto", "127.0.0.1")


def evaluate(db: Any, ops: Any, now: dt.datetime) -> rollouts.PassResult:
    with db() as s:
        result = rollouts.evaluate(s, ops.publisher(), now)
        s.commit()
    return result


def rollout(db: Any, rid: int) -> rollouts.Rollout:
    with db() as s:
        r = s.get(rollouts.Rollout, rid)
        assert r is not None
        return r


def activate(fleet: Any, tids: list[str], label: str, **health: Any) -> None:
    for tid in tids:
        fleet.package(tid, label, "staged")
        fleet.package(tid, label, "activated")
        fleet.health(tid, [label], **health)


@pytest.fixture
def setup(centre_db: Any, ops_repo: Any, fleet_of: Any) -> tuple[Any, Any, Any]:
    """dg-extra@1.0.0 on every terminal; 1.1.0 built and signed in the inbox."""
    db = centre_db[1]
    ops_repo.publish("dg-extra", "1.0.0")
    ops_repo.build("dg-extra", "1.1.0")
    fleet = fleet_of()
    fleet.online(LAB, *LOW[:4], *HIGH[:4])
    fleet.health(LAB, ["dg-extra@1.0.0"], ring=0)
    for tid in LOW[:4] + HIGH[:4]:
        fleet.health(tid, ["dg-extra@1.0.0"])
    return db, ops_repo, fleet


def test_a_rollout_goes_out_wave_by_wave_and_completes(setup: Any) -> None:
    db, ops, fleet = setup
    r = start(db, ops, archive=ops.inbox / "dg-extra-1.1.0.kpkg")
    assert (r.state, r.wave, r.previous_version) == ("running", 0, "1.0.0")
    target = ops.target("dg-extra", "1.1.0")
    assert target is not None and target["rollout"] == {"ring": 0}
    assert target["centre"] == {"rollout": r.id, "wave": 0, "state": "running"}

    assert evaluate(db, ops, fleet.advance(1)).published == []  # the lab terminal has not answered
    activate(fleet, [LAB], "dg-extra@1.1.0", ring=0)
    assert evaluate(db, ops, fleet.advance(1)).published == []  # answered: the soak begins
    assert evaluate(db, ops, fleet.advance(30)).published == []
    assert evaluate(db, ops, fleet.advance(31)).published == [r.id]  # healthy for 60 s
    assert ops.target("dg-extra", "1.1.0")["rollout"] == {"ring": 0, "percent": 50}

    activate(fleet, LOW[:3], "dg-extra@1.1.0")  # 4 of 5 answered: below 90 %
    assert evaluate(db, ops, fleet.advance(100)).published == []
    activate(fleet, LOW[3:4], "dg-extra@1.1.0")
    evaluate(db, ops, fleet.advance(1))
    assert evaluate(db, ops, fleet.advance(61)).published == [r.id]
    assert "rollout" not in ops.target("dg-extra", "1.1.0")  # everyone

    activate(fleet, HIGH[:4], "dg-extra@1.1.0")
    evaluate(db, ops, fleet.advance(1))
    assert evaluate(db, ops, fleet.advance(61)).completed == [r.id]
    done = rollout(db, r.id)
    assert done.state == "completed" and done.finished_at is not None
    assert "centre" not in ops.target("dg-extra", "1.1.0")
    assert ops.target("dg-extra", "1.0.0") is not None  # the previous version stays listed
    with db() as s:
        audit = list(s.scalars(select(AuditEntry).where(
            AuditEntry.target == f"rollout:{r.id}").order_by(AuditEntry.id)))
    assert [(a.actor, a.action) for a in audit] == [
        ("otto", "rollout_started"), ("centre", "rollout_wave"), ("centre", "rollout_wave"),
        ("centre", "rollout_completed")]
    assert audit[1].detail["after"]["counts"]["activated"] == 1


def test_rollbacks_halt_the_rollout_then_resume_and_roll_back(setup: Any) -> None:
    db, ops, fleet = setup
    r = start(db, ops, archive=ops.inbox / "dg-extra-1.1.0.kpkg", soak_s=0)
    activate(fleet, [LAB], "dg-extra@1.1.0", ring=0)
    assert evaluate(db, ops, fleet.advance(1)).published == [r.id]  # soak 0: on at once
    targets_before = ops.repo.targets_md().signed.version

    activate(fleet, LOW[:3], "dg-extra@1.1.0")
    fleet.package(LOW[3], "dg-extra@1.1.0", "staged")
    fleet.package(LOW[3], "dg-extra@1.1.0", "rolled_back", "dg-extra@1.1.0: unknown step")
    assert evaluate(db, ops, fleet.advance(1)).halted == [r.id]
    halted = rollout(db, r.id)
    assert (halted.state, halted.wave, halted.halt_reason) == (
        "halted", 1, "rollout.halt.rolled_back")
    assert halted.halt_detail["terminal"] == LOW[3]
    assert (halted.halt_detail["count"], halted.halt_detail["of"]) == (1, 4)  # 25 % > 2 %
    # halted: the version stays at its wave, in new metadata marked halted
    target = ops.target("dg-extra", "1.1.0")
    assert target["rollout"] == {"ring": 0, "percent": 50}
    assert target["centre"]["state"] == "halted"
    assert ops.repo.targets_md().signed.version > targets_before
    assert evaluate(db, ops, fleet.advance(500)).published == []  # and it does not widen

    # the alert opens on the centre's next pass, under the failing terminal
    engine = AlertEngine(AlertRules(clear_hold_s=0))
    with db.begin() as s:
        engine.evaluate(s)
    with db() as s:
        alert = s.scalars(select(Alert).where(Alert.rule == "rollout")).one()
        assert (alert.terminal_id, alert.subject, alert.state, alert.severity) == (
            LOW[3], f"rollout:{r.id}", "open", "critical")
        assert "rolled_back" in alert.message and "dg-extra@1.1.0" in alert.message

    # an operator resumes: what was counted before no longer halts it
    with db() as s:
        rollouts.resume(s, ops.publisher(), r.id, "otto", "127.0.0.1")
    assert ops.target("dg-extra", "1.1.0")["centre"]["state"] == "running"
    result = evaluate(db, ops, fleet.advance(1))
    assert result.halted == [] and result.published == [r.id]  # all 4 answered
    # a second failure after the resume halts it again
    fleet.online(HIGH[4])
    fleet.health(HIGH[4], ["dg-extra@1.0.0"])
    fleet.package(HIGH[4], "dg-extra@1.1.0", "rejected", "verify: builder signature")
    assert evaluate(db, ops, fleet.advance(1)).halted == [r.id]
    assert rollout(db, r.id).halt_reason == "rollout.halt.rejected"

    # … and rolls it back: 1.1.0 withdrawn, 1.0.0 re-signed as replacing it
    with db() as s:
        rollouts.roll_back(s, ops.publisher(), r.id, "otto", "127.0.0.1")
    assert ops.target("dg-extra", "1.1.0") is None
    assert ops.target("dg-extra", "1.0.0")["replaces"] == ["1.1.0"]
    assert rollout(db, r.id).state == "rolled_back"
    for _ in range(2):  # the condition is gone: clear from the first pass, closed next
        with db.begin() as s:
            engine.evaluate(s)
    with db() as s:
        assert {a.state for a in s.scalars(select(Alert).where(Alert.rule == "rollout"))} \
            == {"closed"}
        actions = [a.action for a in s.scalars(select(AuditEntry).where(
            AuditEntry.target == f"rollout:{r.id}").order_by(AuditEntry.id))]
    assert actions == ["rollout_started", "rollout_wave", "rollout_halted", "rollout_resumed",
                       "rollout_wave", "rollout_halted", "rollout_rolled_back"]


def test_the_soak_starts_again_when_more_of_the_wave_turns_up(setup: Any) -> None:
    db, ops, fleet = setup
    r = start(db, ops, archive=ops.inbox / "dg-extra-1.1.0.kpkg", waves="50,100")
    activate(fleet, [LAB], "dg-extra@1.1.0", ring=0)  # ring 0 is in every wave
    activate(fleet, LOW[:4], "dg-extra@1.1.0")
    assert evaluate(db, ops, fleet.advance(1)).published == []  # answered: soak from here
    fleet.online(LOW[4])  # another terminal of the wave comes online, silent
    fleet.health(LOW[4], ["dg-extra@1.0.0"])
    assert evaluate(db, ops, fleet.advance(30)).published == []  # 5 of 6: below 90 %
    activate(fleet, LOW[4:5], "dg-extra@1.1.0")
    assert evaluate(db, ops, fleet.advance(31)).published == []  # 61 s after the first
    assert evaluate(db, ops, fleet.advance(59)).published == []
    assert evaluate(db, ops, fleet.advance(2)).published == [r.id]  # 60 s after all 5


def test_error_screens_per_session_halt_it(setup: Any) -> None:
    db, ops, fleet = setup
    r = start(db, ops, archive=ops.inbox / "dg-extra-1.1.0.kpkg", soak_s=3600, waves="50,100",
              thresholds={"error_screens": 0.05, "min_sessions": 20})
    activate(fleet, LOW[:4], "dg-extra@1.1.0", sessions=4, error_screens=1)
    # 16 sessions: too few to judge (1 in 4 would otherwise be 25 %)
    assert evaluate(db, ops, fleet.advance(1)).halted == []
    fleet.health(LOW[0], ["dg-extra@1.1.0"], sessions=30, error_screens=1)
    fleet.health(LOW[1], ["dg-extra@1.1.0"], sessions=30, error_screens=4)
    assert evaluate(db, ops, fleet.advance(1)).halted == [r.id]
    d = rollout(db, r.id).halt_detail
    assert (d["rule"], d["count"], d["of"], d["terminal"]) == ("error_screens", 7, 68, LOW[1])


def test_who_is_in_a_wave(setup: Any) -> None:
    """Offline and silent terminals do not hold a wave up; one too old for the version is
    not waited for; a terminal that reports while only ring 0 has it is ring 0."""
    db, ops, fleet = setup
    r = start(db, ops, archive=ops.inbox / "dg-extra-1.1.0.kpkg", soak_s=0)
    fleet.online("LAB-0002")
    fleet.health("LAB-0002", ["dg-extra@1.0.0"])  # no ring in its health
    activate(fleet, ["LAB-0002"], "dg-extra@1.1.0")
    activate(fleet, [LAB], "dg-extra@1.1.0", ring=0)
    assert evaluate(db, ops, fleet.advance(1)).published == [r.id]
    with db() as s:
        first = rollouts.live_stats(s, rollout(db, r.id))[0]
    assert first.counts["activated"] == 2 and first.terminals == 2

    fleet.offline(LOW[0])
    fleet.health(LOW[1], ["dg-extra@1.0.0"], app_version="0.0.9")  # too old for 1.1.0
    activate(fleet, LOW[2:4], "dg-extra@1.1.0")
    assert evaluate(db, ops, fleet.advance(1)).published == [r.id]
    with db() as s:
        stats = rollouts.live_stats(s, rollout(db, r.id))
    assert (stats[1].terminals, stats[1].answered, stats[1].offline) == (2, 2, 2)


def test_what_start_refuses(setup: Any) -> None:
    db, ops, _ = setup
    with pytest.raises(RolloutError) as e:
        start(db, ops)  # 1.1.0 is neither listed nor given
    assert e.value.key == "rollout.error.no_target"
    with pytest.raises(ValueError, match="grow"):
        start(db, ops, waves="0,50,25,100")
    with pytest.raises(ValueError, match="ID@VERSION"):
        start(db, ops, label="dg-extra")
    tampered = ops.build("dg-extra", "1.2.0")
    data = bytearray(tampered.read_bytes())
    data[-1] ^= 0xFF  # after the builder signed it
    tampered.write_bytes(bytes(data))
    with pytest.raises(RolloutError) as e:
        start(db, ops, label="dg-extra@1.2.0", archive=tampered)
    assert e.value.key == "rollout.error.archive" and "sha256" in e.value.detail
    assert ops.target("dg-extra", "1.2.0") is None
    with db() as s, pytest.raises(RolloutError) as e:
        rollouts.start(s, rollouts.Publisher(ops.settings(repository="")),
                       StartSpec("dg-extra", "1.1.0"), "otto")
    assert e.value.key == "rollout.error.no_repository"

    r = start(db, ops, archive=ops.inbox / "dg-extra-1.1.0.kpkg")
    with pytest.raises(RolloutError) as e:
        start(db, ops, label="dg-extra@1.1.0")
    assert e.value.key == "rollout.error.live_exists"
    with db() as s, pytest.raises(RolloutError) as e:
        rollouts.resume(s, ops.publisher(), r.id, "otto")  # running, not halted
    assert (e.value.key, e.value.status) == ("rollout.error.state", 409)
    with db() as s:
        rollouts.halt(s, ops.publisher(), "dg-extra@1.1.0", "otto", note="paper jam reports")
    halted = rollout(db, r.id)
    assert (halted.state, halted.halt_reason, halted.note) == (
        "halted", "rollout.halt.operator", "paper jam reports")
    with db() as s:
        assert rollouts.alert_conditions(s) == []  # an operator's halt needs no alert
    with db() as s, pytest.raises(RolloutError) as e:
        rollouts.halt(s, ops.publisher(), r.id, "otto")
    assert e.value.key == "rollout.error.state"


def test_the_migration_builds_what_the_models_describe(db_url: str) -> None:
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import inspect

    from opscentre.db import Base, alembic_config, make_engine, upgrade

    tables = {"rollouts", "rollout_waves"}
    engine = make_engine(db_url)
    upgrade(engine)
    assert tables <= set(inspect(engine).get_table_names())
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = [d for d in compare_metadata(ctx, Base.metadata) if tables & _names(d)]
    assert diff == [], "rollout models and migration disagree: add a migration"
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0003_commands")  # from any later head
    assert not tables & set(inspect(engine).get_table_names())
    upgrade(engine)
    engine.dispose()


def _names(diff: Any) -> set[str]:
    found, stack = set(), [diff]
    while stack:
        item = stack.pop()
        if isinstance(item, list | tuple):
            stack.extend(item)
        elif isinstance(item, str):
            found.add(item)
        else:
            table = getattr(item, "table", None)
            found |= {str(n) for n in (getattr(item, "name", None), getattr(table, "name", None))
                      if n}
    return found
