"""A real terminal runtime (headless: simulated devices, the reference backend) in a
rollout: its package manager polls the TUF repository over HTTP, its heartbeat reports on
the real broker, the centre's ingest and evaluator on their threads. The version waits
for the citizen's session to end, the rollout completes, and an operator's rollback takes
the terminal back to the previous version (a downgrade the terminal accepts only because
the signed target says it replaces the version in use)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from kiosk.backend.client import BackendClient
from kiosk.heartbeat import Heartbeat
from kiosk.runtime import Runtime
from opscentre import rollouts
from opscentre.models import Event, Terminal
from opscentre.rollouts import StartSpec


@pytest.fixture
def terminal(backend: Any, tmp_path: Path, mosquitto: Any, served_repo: Any,
             ops_repo: Any) -> Iterator[Callable[[], tuple[Runtime, Heartbeat]]]:
    """The kiosk's runtime configured as a lab terminal (ring 0) of the fleet."""
    from kiosk.config import Config, validate_config

    made: list[tuple[Runtime, Heartbeat]] = []

    def make() -> tuple[Runtime, Heartbeat]:
        tid = backend.terminal_id
        pw = tmp_path / "fleet.password"
        pw.write_text(mosquitto.provision([tid])[tid] + "\n")
        cfg = Config().with_section(
            "devices", idcard="sim://?card=chen", sscard="sim://",
            a4=f"sim://?spool={tmp_path / 'a4'}", receipt=f"sim://?spool={tmp_path / 'r'}")
        cfg = cfg.with_section("storage", data_dir=str(tmp_path / "data"))
        cfg = cfg.with_section("terminal", id=tid)
        cfg = cfg.with_section("packages", repository_url=served_repo.url,
                               trusted_root=str(ops_repo.pinned_root), ring=0)
        cfg = cfg.with_section("fleet", broker_url=mosquitto.setup.url,
                               password_file=str(pw), password_env="KIOSK_TEST_NO_SUCH_VAR",
                               reconnect_min_s=0.05, reconnect_max_s=0.5,
                               reconnect_spread_s=0.0)
        rt = Runtime.create(validate_config(cfg))
        rt.open_devices()
        rt.backend = BackendClient(backend.url, backend.terminal_id, backend.secret)
        rt.backend_ready.set()
        hb = Heartbeat(rt, interval_s=0.5).start()
        made.append((rt, hb))
        return rt, hb

    yield make
    for rt, hb in made:
        hb.stop()
        rt.close()


def package_events(centre: Any, tid: str, version: str) -> list[str]:
    with centre.db() as s:
        rows = s.scalars(select(Event.body).where(Event.terminal_id == tid,
                                                  Event.type == "package")
                         .order_by(Event.at, Event.id)).all()
    return [b["state"] for b in rows if b.get("package") == "dg-extra"
            and b.get("version") == version]


def active(centre: Any, tid: str) -> list[str]:
    with centre.db() as s:
        t = s.get(Terminal, tid)
        return list((t.packages or {}).get("active", [])) if t is not None else []


def test_a_real_terminal_in_a_rollout_and_its_rollback(centre: Any, terminal: Any,
                                                       wait_for: Any) -> None:
    centre.ops.publish("dg-extra", "1.0.0")
    centre.ops.build("dg-extra", "1.1.0")
    rt, _hb = terminal()
    tid = rt.config.terminal.id
    assert rt.packages.poll().changed and rt.apply_staged_packages()
    wait_for(lambda: "dg-extra@1.0.0" in active(centre, tid), what="1.0.0 reported")

    spec = StartSpec.parse("dg-extra@1.1.0", centre.ops.settings(), waves="0,100", soak_s=0,
                           archive=centre.ops.inbox / "dg-extra-1.1.0.kpkg")
    with centre.db() as s:
        r = rollouts.start(s, centre.ops.publisher(), spec, "otto")

    citizen = rt.new_session()  # someone is at the terminal
    assert rt.packages.poll().changed
    assert not rt.apply_staged_packages()  # never in the middle of a session
    wait_for(lambda: "waiting_for_session" in package_events(centre, tid, "1.1.0"),
             timeout=30, what="waiting_for_session reported")
    citizen.wipe("finished")
    assert rt.apply_staged_packages()
    assert rt.package.versions["dg-extra"] == "1.1.0"
    wait_for(lambda: "dg-extra@1.1.0" in active(centre, tid), what="1.1.0 in its health")
    wait_for(lambda: _state(centre, r.id) == "completed", what="the rollout completes")
    assert package_events(centre, tid, "1.1.0") == ["staged", "waiting_for_session",
                                                    "activated"]
    with centre.db() as s:
        d = rollouts.describe(s, s.get(rollouts.Rollout, r.id))  # type: ignore[arg-type]
        t = s.get(Terminal, tid)
        assert t is not None and t.packages["counters"]["sessions"] == 0  # since activation
    assert d["waves_detail"][0]["stats"]["counts"]["activated"] == 1  # a lab terminal

    # an operator rolls the version back: the terminal goes back to 1.0.0
    with centre.db() as s:
        rollouts.roll_back(s, centre.ops.publisher(), r.id, "otto")
    result = rt.packages.poll()
    assert result.changed and not result.rejected, result
    assert rt.apply_staged_packages() and rt.package.versions["dg-extra"] == "1.0.0"
    wait_for(lambda: "dg-extra@1.0.0" in active(centre, tid), what="1.0.0 again")
    with centre.db() as s:
        d = rollouts.describe(s, s.get(rollouts.Rollout, r.id))  # type: ignore[arg-type]
    assert d["state"] == "rolled_back" and d["back_on_previous"] == 1


def _state(centre: Any, rid: int) -> str:
    with centre.db() as s:
        r = s.get(rollouts.Rollout, rid)
        return r.state if r is not None else ""
