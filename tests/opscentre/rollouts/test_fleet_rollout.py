"""Rollouts end to end: simulated terminals (the real fleet client on a real Mosquitto, the
terminal's own TUF client over HTTP) and the centre (its ingest, the rollout evaluator and
the alert engine on their threads, SQLite). A rollout that completes wave by wave, and a
bad version that halts by itself, is resumed, halts again and is rolled back."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from kiosk.packages.rollout import bucket
from opscentre import rollouts
from opscentre.models import Alert, Event, Terminal
from opscentre.rollouts import StartSpec
from opscentre.sim_packages import Bad, PackageOptions
from opscentre.simulate import Options, simulate

TERMINALS = [f"SIM-R{i:03d}" for i in range(20)]  # the first two are lab terminals


@pytest.fixture
def fleet(mosquitto: Any, served_repo: Any, ops_repo: Any, tmp_path: Path
          ) -> Iterator[Callable[..., None]]:
    """`fleet(bad={...})`: 20 simulated terminals polling the served repository."""
    stop = threading.Event()
    runs: list[threading.Thread] = []

    def start(**bad: Bad) -> None:
        creds = mosquitto.provision(TERMINALS)
        pkg = PackageOptions(served_repo.url, ops_repo.pinned_root, poll_s=0.5, ring0=2,
                             session_s=0.3, idle_s=0.4, bad=bad)
        o = Options(mosquitto.setup.url, creds, seconds=300, health_interval_s=0.5,
                    fault_share=0, offline_share=0, die=0, seed=7,
                    data_dir=str(tmp_path / "sim"), packages=pkg)
        t = threading.Thread(target=simulate, args=(o,), kwargs={"stop": stop})
        t.start()
        runs.append(t)

    yield start
    stop.set()
    for t in runs:
        t.join(30)


def running(live: Any, label: str) -> set[str]:
    with live.db() as s:
        rows = s.execute(select(Terminal.id, Terminal.packages)).all()
    return {tid for tid, pk in rows if label in (pk or {}).get("active", [])}


def state_of(live: Any, rid: int) -> str:
    with live.db() as s:
        r = s.get(rollouts.Rollout, rid)
        assert r is not None
        return r.state


def start(live: Any, waves: str, soak_s: float) -> rollouts.Rollout:
    spec = StartSpec.parse("dg-extra@1.1.0", live.ops.settings(), waves=waves, soak_s=soak_s,
                           archive=live.ops.inbox / "dg-extra-1.1.0.kpkg")
    with live.db() as s:
        return rollouts.start(s, live.ops.publisher(), spec, "otto")


def first_staged(live: Any, label: str) -> dict[str, Any]:
    pkg, _, version = label.partition("@")
    with live.db() as s:
        rows = s.execute(select(Event.terminal_id, Event.received_at, Event.body)
                         .where(Event.type == "package").order_by(Event.id)).all()
    out: dict[str, Any] = {}
    for tid, received, body in rows:
        if (body.get("package"), body.get("version"), body.get("state")) == (
                pkg, version, "staged"):
            out.setdefault(tid, received)
    return out


def test_a_rollout_to_a_simulated_fleet_completes(centre: Any, fleet: Any,
                                                  wait_for: Any) -> None:
    centre.ops.publish("dg-extra", "1.0.0")
    centre.ops.build("dg-extra", "1.1.0")
    fleet()
    wait_for(lambda: running(centre, "dg-extra@1.0.0") == set(TERMINALS), timeout=60,
             what="every terminal on 1.0.0")
    r = start(centre, "0,50,100", soak_s=1.0)
    wait_for(lambda: state_of(centre, r.id) == "completed", timeout=90, what="completed")
    wait_for(lambda: running(centre, "dg-extra@1.1.0") == set(TERMINALS), timeout=30,
             what="every terminal on 1.1.0")

    # no terminal took the version before its wave went out
    with centre.db() as s:
        went_out = {w.index: w.published_at for w in s.scalars(
            select(rollouts.RolloutWave).where(rollouts.RolloutWave.rollout_id == r.id))}
    staged = first_staged(centre, "dg-extra@1.1.0")
    assert set(staged) == set(TERMINALS)
    for tid, when in staged.items():
        wave = 0 if tid in TERMINALS[:2] else (1 if bucket(tid) < 50 else 2)
        assert when >= went_out[wave], (tid, wave)
    assert staged[TERMINALS[0]] < went_out[1]  # the lab went first


def test_a_bad_version_halts_by_itself_then_an_operator_resumes_and_rolls_back(
        centre: Any, fleet: Any, wait_for: Any) -> None:
    centre.ops.publish("dg-extra", "1.0.0")
    centre.ops.build("dg-extra", "1.1.0")
    fleet(**{"dg-extra@1.1.0": Bad(rollback=0.35)})
    wait_for(lambda: running(centre, "dg-extra@1.0.0") == set(TERMINALS), timeout=60,
             what="every terminal on 1.0.0")
    # ring 0, then the 50 % wave: soak long enough that the halt comes before the last
    r = start(centre, "0,50,100", soak_s=3.0)
    wait_for(lambda: state_of(centre, r.id) == "halted", timeout=90, what="halted")
    with centre.db() as s:
        halted = s.get(rollouts.Rollout, r.id)
        assert halted is not None and halted.halt_reason == "rollout.halt.rolled_back"
        assert halted.wave < 2
        first_bad = halted.halt_detail["terminal"]
    wait_for(lambda: _alert(centre, r.id), what="the alert")
    alert = _alert(centre, r.id)
    assert alert is not None and alert.terminal_id == first_bad and alert.state == "open"
    target = centre.ops.target("dg-extra", "1.1.0")
    assert target["centre"]["state"] == "halted" and "rollout" in target

    # an operator resumes; the bad version goes on failing in the next waves
    with centre.db() as s:
        rollouts.resume(s, centre.ops.publisher(), r.id, "otto")
    wait_for(lambda: state_of(centre, r.id) == "halted", timeout=90, what="halted again")
    # … and rolls it back: every terminal runs 1.0.0 again
    with centre.db() as s:
        rollouts.roll_back(s, centre.ops.publisher(), r.id, "otto")
    wait_for(lambda: running(centre, "dg-extra@1.0.0") == set(TERMINALS), timeout=60,
             what="every terminal back on 1.0.0")
    assert running(centre, "dg-extra@1.1.0") == set()
    wait_for(lambda: all(a.state == "closed" for a in _alerts(centre, r.id)),
             what="the alerts closed")
    with centre.db() as s:
        stats = rollouts.live_stats(s, s.get(rollouts.Rollout, r.id))  # type: ignore[arg-type]
    assert sum(w.counts["rolled_back"] for w in stats) >= 1


def _alerts(live: Any, rid: int) -> list[Alert]:
    with live.db() as s:
        return list(s.scalars(select(Alert).where(Alert.rule == "rollout",
                                                  Alert.subject == f"rollout:{rid}")))


def _alert(live: Any, rid: int) -> Alert | None:
    found = [a for a in _alerts(live, rid) if a.state == "open"]
    return found[0] if found else None


def test_error_screens_on_a_version_halt_it(centre: Any, fleet: Any, wait_for: Any) -> None:
    """No terminal fails to load it, but citizens meet error screens on it."""
    centre.ops.publish("dg-extra", "1.0.0")
    centre.ops.build("dg-extra", "1.1.0")
    fleet(**{"dg-extra@1.1.0": Bad(errors=0.4)})
    wait_for(lambda: running(centre, "dg-extra@1.0.0") == set(TERMINALS), timeout=60,
             what="every terminal on 1.0.0")
    r = start(centre, "0,100", soak_s=600.0)  # ring 0 soaks: judged on its sessions
    wait_for(lambda: state_of(centre, r.id) == "halted", timeout=90, what="halted")
    with centre.db() as s:
        halted = s.get(rollouts.Rollout, r.id)
        assert halted is not None and halted.halt_reason == "rollout.halt.error_screens"
        d = halted.halt_detail
    assert d["wave"] == 0 and d["of"] >= 20 and d["count"] / d["of"] > 0.05
    assert d["terminal"] in TERMINALS[:2]
