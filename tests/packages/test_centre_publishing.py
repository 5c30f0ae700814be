"""What the operations centre's rollouts do to the repository, seen by real terminals over
HTTP: a wave re-signs a target with new rollout data (same archive), and a rollback
withdraws the bad version and lets terminals go back to the previous one."""

from __future__ import annotations

from pathlib import Path

from kiosk.packages import keys as keymod
from kiosk.packages.rollout import Rollout, bucket

from .conftest import OpsEnv, Server, make_terminal


def _keys(ops_env: OpsEnv) -> list[keymod.Ed25519PrivateKey]:
    return [keymod.load_private(p) for p in ops_env.keys.glob("*.key")]


def test_a_wave_widens_the_same_target(ops_env: OpsEnv, server: Server,
                                       tmp_path: Path) -> None:
    ids = [f"DG-{i:04d}" for i in range(80)]
    high = next(i for i in ids if bucket(i) >= 50)
    archive = ops_env.publish("dg-extra", "1.0.0", ring=0)
    before = ops_env.repo.list_targets()
    mgr = make_terminal(tmp_path / "t", ops_env, server.url, terminal_id=high)
    mgr.load_active()
    assert not mgr.poll().changed  # ring 9, not in ring 0

    pub = ops_env.repo.set_rollout("dg-extra", "1.0.0", _keys(ops_env), Rollout(0, 50),
                                   extra={"centre": {"rollout": 1, "wave": 1}})
    after = ops_env.repo.list_targets()
    assert list(after) == list(before) and pub.target in after
    tf = after[pub.target]
    assert tf.hashes == before[pub.target].hashes and tf.length == len(archive.read_bytes())
    assert tf.custom["rollout"] == {"ring": 0, "percent": 50}
    assert tf.custom["centre"] == {"rollout": 1, "wave": 1}
    assert tf.custom["signature"] == before[pub.target].custom["signature"]
    assert not mgr.poll().changed  # bucket >= 50

    ops_env.repo.set_rollout("dg-extra", "1.0.0", _keys(ops_env), None,
                             extra={"centre": None})
    tf = ops_env.repo.list_targets()[pub.target]
    assert "rollout" not in tf.custom and "centre" not in tf.custom
    assert mgr.poll().changed and mgr.status()["staged"] == ["dg-extra@1.0.0"]


def test_rolled_back_version_goes_back_on_terminals(ops_env: OpsEnv, server: Server,
                                                   tmp_path: Path) -> None:
    ops_env.publish("dg-extra", "1.0.0")
    ops_env.publish("dg-extra", "1.1.0")
    running = make_terminal(tmp_path / "running", ops_env, server.url, terminal_id="DG-R")
    running.load_active()
    assert running.poll().changed and running.activate_staged() is not None
    holding = make_terminal(tmp_path / "holding", ops_env, server.url, terminal_id="DG-H")
    holding.load_active()
    assert holding.poll().changed  # staged, not yet activated (a citizen was there)
    assert running.status()["active"] == ["builtin@1.0.0", "dg-extra@1.1.0"]

    changed = ops_env.repo.roll_back("dg-extra", "1.1.0", "1.0.0", _keys(ops_env))
    assert len(changed) == 2
    targets = {tf.custom["version"]: tf for tf in ops_env.repo.list_targets().values()}
    assert set(targets) == {"1.0.0"} and targets["1.0.0"].custom["replaces"] == ["1.1.0"]

    result = running.poll()
    assert result.changed and not result.rejected, result
    assert running.activate_staged() is not None
    assert running.status()["active"] == ["builtin@1.0.0", "dg-extra@1.0.0"]
    assert running.status()["last_error"] is None
    assert holding.poll().changed
    assert holding.status()["staged"] == ["dg-extra@1.0.0"]


def test_a_lower_version_is_still_refused_unless_it_replaces_the_current(
        ops_env: OpsEnv, server: Server, tmp_path: Path) -> None:
    """`replaces` names versions: 1.0.0 replacing 1.1.0 does not take a terminal on 1.2.0
    back (nor does a plain lower version take anyone back)."""
    ops_env.publish("dg-extra", "1.0.0")
    ops_env.publish("dg-extra", "1.1.0")
    ops_env.publish("dg-extra", "1.2.0")
    mgr = make_terminal(tmp_path / "t", ops_env, server.url, terminal_id="DG-N")
    mgr.load_active()
    assert mgr.poll().changed and mgr.activate_staged() is not None
    ops_env.repo.withdraw("dg-extra", "1.2.0", _keys(ops_env))
    ops_env.repo.roll_back("dg-extra", "1.1.0", "1.0.0", _keys(ops_env))
    result = mgr.poll()
    assert not result.changed and any("downgrade" in r for r in result.rejected)
    assert mgr.status()["active"] == ["builtin@1.0.0", "dg-extra@1.2.0"]


def test_roll_back_without_a_previous_version_withdraws(ops_env: OpsEnv, server: Server,
                                                        tmp_path: Path) -> None:
    ops_env.publish("dg-extra", "1.0.0")
    mgr = make_terminal(tmp_path / "t", ops_env, server.url, terminal_id="DG-W")
    mgr.load_active()
    assert mgr.poll().changed and mgr.activate_staged() is not None
    assert ops_env.repo.roll_back("dg-extra", "1.0.0", None, _keys(ops_env)) == [
        "packages/dg-extra/dg-extra-1.0.0.kpkg"]
    assert mgr.poll().changed and mgr.activate_staged() is not None
    assert mgr.status()["active"] == ["builtin@1.0.0"]
