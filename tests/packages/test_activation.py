"""Activation and rollback: kill -9 at every phase, a damaged store, a set that stops validating.

The terminal must always start with a verified set and say what it rejected and why.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from flowpacks import BUILTIN_DIR
from kiosk.flows.steps import STEP_TYPES
from kiosk.packages.manager import PAUSE_ENV, PackageManager

from .conftest import OpsEnv, Server, make_terminal

_CHILD = """
import sys
from pathlib import Path
from flowpacks import BUILTIN_DIR
from kiosk.packages.manager import PackageManager

data, url, root = sys.argv[1:4]
mgr = PackageManager(Path(data), BUILTIN_DIR, repository_url=url, trusted_root=Path(root))
mgr.load_active()
mgr.poll()
mgr.activate_staged()
print("done")
"""


def _run_until(phase: str, data: Path, url: str, root: Path,
               while_paused: Callable[[], None] = lambda: None) -> str:
    """Run poll+activate in a real subprocess; SIGKILL it when it reaches `phase`."""
    env = {**os.environ, PAUSE_ENV: phase}
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, str(data), url, str(root)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    marker = data / f"paused-{phase}"
    deadline = time.monotonic() + 60
    while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    if proc.poll() is not None:
        out, err = proc.communicate()
        pytest.fail(f"child ended before {phase}: {out!r} {err[-2000:]!r}")
    assert marker.exists(), f"child never reached {phase}"
    try:
        while_paused()
    finally:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    marker.unlink()
    return phase


@pytest.mark.parametrize("phase,expect_active", [
    ("unpack", ["builtin@1.0.0", "dg-extra@1.0.0"]),     # mid-unpack of 1.1.0
    ("stage", ["builtin@1.0.0", "dg-extra@1.0.0"]),      # unpacked, not yet staged
    ("activate", ["builtin@1.0.0", "dg-extra@1.0.0"]),   # staged, switch not written
    ("activated", ["builtin@1.0.0", "dg-extra@1.1.0"]),  # switch written, not yet loaded
])
def test_kill_9_during_activation_starts_on_a_verified_set(
        tmp_path: Path, ops_env: OpsEnv, server: Server, phase: str,
        expect_active: list[str]) -> None:
    data = tmp_path / "terminal"
    first = make_terminal(data, ops_env, server.url)
    first.load_active()
    ops_env.publish("dg-extra", "1.0.0")
    assert first.poll().changed and first.activate_staged() is not None
    ops_env.publish("dg-extra", "1.1.0", flows={"housing_proof": {}, "tax_list": {}})

    _run_until(phase, data, server.url, ops_env.pinned_root)

    after = make_terminal(data, ops_env, server.url)
    pkg = after.load_active()
    assert after.status()["active"] == expect_active
    assert [f"{k}@{v}" for k, v in pkg.versions.items()] == expect_active
    store = data / "store"
    assert not list(store.glob(".tmp-*")), "partial unpack left behind"
    # Every package directory in use matches its recorded hashes.
    for layer in pkg.layers:
        assert (layer.root / ".tree.json").is_file()
    # And the interrupted update completes on the next poll/activation.
    after.poll()
    if after.has_staged():
        assert after.activate_staged() is not None
    assert after.status()["active"] == ["builtin@1.0.0", "dg-extra@1.1.0"]
    assert {f.id for f in after.load_active().catalog()} >= {"tax_list"}


def test_modified_store_rolls_back_to_previous_known_good(
        tmp_path: Path, ops_env: OpsEnv, server: Server, terminal: PackageManager) -> None:
    ops_env.publish("dg-extra", "1.0.0")
    assert terminal.poll().changed and terminal.activate_staged() is not None
    ops_env.publish("dg-extra", "1.1.0")
    assert terminal.poll().changed and terminal.activate_staged() is not None
    active_dir = next((terminal.data_dir / "store").glob("dg-extra-1.1.0-*"))
    flow = active_dir / "flows" / "housing_proof.toml"
    flow.write_text(flow.read_text("utf-8").replace('type = "finish"', 'type = "shell"'), "utf-8")

    restarted = PackageManager(terminal.data_dir, BUILTIN_DIR)
    pkg = restarted.load_active()
    assert pkg.versions == {"builtin": "1.0.0", "dg-extra": "1.0.0"}
    status = restarted.status()
    assert status["active"] == ["builtin@1.0.0", "dg-extra@1.0.0"]
    assert status["last_error"]["stage"] == "load"
    assert "modified on disk" in status["last_error"]["reason"]
    assert status["last_error"]["package"] == "dg-extra@1.1.0"


def test_everything_broken_falls_back_to_builtin(tmp_path: Path, ops_env: OpsEnv,
                                                 server: Server,
                                                 terminal: PackageManager) -> None:
    ops_env.publish("dg-extra", "1.0.0")
    assert terminal.poll().changed and terminal.activate_staged() is not None
    for d in (terminal.data_dir / "store").glob("dg-extra-*"):
        (d / "manifest.toml").unlink()
    restarted = PackageManager(terminal.data_dir, BUILTIN_DIR)
    assert restarted.load_active().versions == {"builtin": "1.0.0"}
    assert "incomplete" in restarted.status()["last_error"]["reason"] or \
        "differ" in restarted.status()["last_error"]["reason"]


def test_garbage_state_file_starts_on_builtin(tmp_path: Path) -> None:
    data = tmp_path / "t"
    data.mkdir()
    (data / "state.json").write_bytes(b"\x00\xff{not json")
    mgr = PackageManager(data, BUILTIN_DIR)
    assert mgr.load_active().versions == {"builtin": "1.0.0"}
    assert "unreadable" in mgr.status()["last_error"]["reason"]
    json.loads((data / "state.json").read_text())  # rewritten sane


def test_set_that_fails_at_activation_is_rolled_back(
        tmp_path: Path, ops_env: OpsEnv, server: Server, terminal: PackageManager) -> None:
    """Staged with a plug-in step type that is gone by activation time: roll back."""
    from kiosk.flows.steps.finish import FinishStep

    STEP_TYPES["stamp_book"] = FinishStep
    try:
        steps = ('[[steps]]\nid = "stamp"\ntype = "stamp_book"\n\n'
                 '[[steps]]\nid = "done"\ntype = "finish"\n')
        ops_env.publish("dg-extra", "1.0.0")
        assert terminal.poll().changed and terminal.activate_staged() is not None
        # Ops tooling validates against the same registry, so it accepts the package.
        ops_env.publish("dg-extra", "1.1.0", flows={"housing_proof": {"steps": steps}})
        assert terminal.poll().changed
    finally:
        del STEP_TYPES["stamp_book"]
    assert terminal.activate_staged() is None
    status = terminal.status()
    assert status["active"] == ["builtin@1.0.0", "dg-extra@1.0.0"]
    assert status["staged"] is None
    assert status["last_error"]["stage"] == "activate"
    assert "unknown step type 'stamp_book'" in status["last_error"]["reason"]
    assert status["rejected"][-1]["package"] == "dg-extra@1.1.0"


def test_unusable_data_folder_still_starts_on_builtin(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the data folder should be")
    mgr = PackageManager(blocker / "packages", BUILTIN_DIR)
    pkg = mgr.load_active()
    assert pkg.versions == {"builtin": "1.0.0"} and pkg.root == BUILTIN_DIR


def test_store_is_locked_across_processes(tmp_path: Path, ops_env: OpsEnv,
                                          server: Server) -> None:
    """While another process is mid-update, this one neither waits nor interferes."""
    data = tmp_path / "terminal"
    mine = make_terminal(data, ops_env, server.url)
    mine.load_active()
    ops_env.publish("dg-extra", "1.0.0")
    assert mine.poll().changed
    seen: dict[str, object] = {}

    def meanwhile() -> None:
        seen["activated"] = mine.activate_staged()  # must not block on the other's lock

    ops_env.publish("dg-extra", "1.1.0")
    _run_until("unpack", data, server.url, ops_env.pinned_root, meanwhile)
    assert seen["activated"] is None
    assert mine.activate_staged() is not None  # lock released when the other died
    assert mine.status()["active"] == ["builtin@1.0.0", "dg-extra@1.0.0"]
