"""Package reports (kiosk/packages/reports.py): the manager's events for the operations
centre (staged, activated, rejected with the reason, rolled back, waiting for the
session) against a real TUF repository over HTTP, and the counters since activation."""

from __future__ import annotations

import json
from pathlib import Path

from flowpacks import BUILTIN_DIR
from kiosk.flows.steps import STEP_TYPES
from kiosk.packages import keys as keymod
from kiosk.packages.manager import PackageManager
from kiosk.packages.reports import ActivationCounters, PackageEvent, WaitingReporter

from .conftest import OpsEnv, Server


def listen(mgr: PackageManager) -> list[tuple[str, str, str]]:
    seen: list[tuple[str, str, str]] = []
    mgr.listeners.append(lambda e: seen.append((f"{e.package}@{e.version}", e.state,
                                                e.reason)))
    return seen


def test_staged_then_activated_only_for_what_changed(ops_env: OpsEnv, server: Server,
                                                     terminal: PackageManager) -> None:
    seen = listen(terminal)
    ops_env.publish("dg-extra", "1.0.0")
    assert terminal.poll().changed
    assert seen == [("dg-extra@1.0.0", "staged", "")]
    assert terminal.staged_changes() == ["dg-extra@1.0.0"]
    assert terminal.activate_staged() is not None
    assert seen[-1] == ("dg-extra@1.0.0", "activated", "")
    assert terminal.staged_changes() is None and terminal.activated_at()
    ops_env.publish("dg-more", "2.0.0", flows={"tax_list": {}})
    assert terminal.poll().changed
    assert seen[-1] == ("dg-more@2.0.0", "staged", "")  # dg-extra is already active
    assert terminal.activate_staged() is not None
    assert seen[-1] == ("dg-more@2.0.0", "activated", "")
    assert not terminal.poll().changed and len(seen) == 4  # nothing new: no events


def test_rejected_at_validation_with_the_reason(ops_env: OpsEnv, server: Server,
                                               terminal: PackageManager) -> None:
    from kiosk.packages.archive import pack_files, read_archive

    seen = listen(terminal)
    archive = ops_env.build_signed(ops_env.source("dg-extra", "1.0.0"))
    files = read_archive(archive.read_bytes())
    files["flows/housing_proof.toml"] = files["flows/housing_proof.toml"].replace(
        b'type = "finish"', b'type = "notarise"')
    privs = [keymod.load_private(p) for p in ops_env.keys.glob("*.key")]
    ops_env.repo.publish(pack_files(files), "dg-extra", "1.0.0", privs)
    assert not terminal.poll().changed
    ((label, state, reason),) = seen
    assert (label, state) == ("dg-extra@1.0.0", "rejected")
    assert "unknown step type 'notarise'" in reason and reason.startswith("validate:")


def test_tampered_download_is_rejected(ops_env: OpsEnv, server: Server,
                                      terminal: PackageManager) -> None:
    seen = listen(terminal)
    archive = ops_env.publish("dg-extra", "1.0.0")
    served = next((ops_env.repo_dir / "targets").glob(f"*{archive.name}*"), None) or next(
        p for p in (ops_env.repo_dir / "targets").rglob("*") if p.is_file())
    data = bytearray(served.read_bytes())
    data[len(data) // 2] ^= 0xFF
    served.write_bytes(bytes(data))
    assert not terminal.poll().changed
    assert [(label, state) for label, state, _ in seen] == [("dg-extra@1.0.0", "rejected")]
    assert "hash" in seen[0][2]


def test_a_set_that_fails_at_activation_is_reported_rolled_back(
        ops_env: OpsEnv, server: Server, terminal: PackageManager) -> None:
    from kiosk.flows.steps.finish import FinishStep

    seen = listen(terminal)
    ops_env.publish("dg-extra", "1.0.0")
    assert terminal.poll().changed and terminal.activate_staged() is not None
    STEP_TYPES["stamp_book"] = FinishStep
    try:
        steps = ('[[steps]]\nid = "stamp"\ntype = "stamp_book"\n\n'
                 '[[steps]]\nid = "done"\ntype = "finish"\n')
        ops_env.publish("dg-extra", "1.1.0", flows={"housing_proof": {"steps": steps}})
        assert terminal.poll().changed
    finally:
        del STEP_TYPES["stamp_book"]
    assert terminal.activate_staged() is None
    label, state, reason = seen[-1]
    assert (label, state) == ("dg-extra@1.1.0", "rolled_back")
    assert "unknown step type 'stamp_book'" in reason
    assert ("dg-extra@1.1.0", "activated", "") not in seen


def test_a_set_broken_on_disk_is_reported_rolled_back_at_start(
        ops_env: OpsEnv, server: Server, terminal: PackageManager) -> None:
    ops_env.publish("dg-extra", "1.0.0")
    assert terminal.poll().changed and terminal.activate_staged() is not None
    ops_env.publish("dg-extra", "1.1.0")
    assert terminal.poll().changed and terminal.activate_staged() is not None
    flow = next((terminal.data_dir / "store").glob("dg-extra-1.1.0-*")) / "flows" / \
        "housing_proof.toml"
    flow.write_text(flow.read_text("utf-8") + "\n# changed\n", "utf-8")
    restarted = PackageManager(terminal.data_dir, BUILTIN_DIR)
    seen = listen(restarted)
    assert restarted.load_active().versions["dg-extra"] == "1.0.0"
    ((label, state, reason),) = seen
    assert (label, state) == ("dg-extra@1.1.0", "rolled_back")
    assert "modified on disk" in reason


def test_a_failing_listener_never_fails_the_poll(ops_env: OpsEnv, server: Server,
                                                 terminal: PackageManager) -> None:
    def broken(_e: PackageEvent) -> None:
        raise RuntimeError("listener bug")

    terminal.listeners.append(broken)
    seen = listen(terminal)
    ops_env.publish("dg-extra", "1.0.0")
    assert terminal.poll().changed and terminal.activate_staged() is not None
    assert [s for _, s, _ in seen] == ["staged", "activated"]


def test_counters_since_activation_survive_a_restart_and_reset(tmp_path: Path) -> None:
    when = {"at": "2027-01-01T00:00:00+00:00"}
    path = tmp_path / "counters.json"
    c = ActivationCounters(path, lambda: when["at"], save_every_s=3600)
    c.count("sessions")
    c.count("sessions")
    c.count("error_screens")
    c.count("faults")
    assert c.snapshot() == {"activated_at": when["at"], "sessions": 2, "error_screens": 1,
                            "faults": 1}
    c.count("sessions")  # not saved yet (save_every_s): lost by a crash, saved at close
    c.save()
    again = ActivationCounters(path, lambda: when["at"])
    assert again.snapshot()["sessions"] == 3
    when["at"] = "2027-01-02T00:00:00+00:00"  # another set activated (even by another process)
    assert again.snapshot() == {"activated_at": when["at"], "sessions": 0, "error_screens": 0,
                                "faults": 0}
    assert json.loads(path.read_text())["since"] == when["at"]
    path.write_text("{broken")
    assert ActivationCounters(path, lambda: when["at"]).snapshot()["sessions"] == 0


def test_waiting_for_the_session_once_per_staged_set() -> None:
    seen: list[PackageEvent] = []
    w = WaitingReporter(seen.append)
    assert not w.check(["dg-extra@1.1.0"], busy=False)
    assert w.check(["dg-extra@1.1.0"], busy=True)
    assert not w.check(["dg-extra@1.1.0"], busy=True)  # already said
    assert not w.check(None, busy=True)
    assert w.check(["dg-extra@1.2.0"], busy=True)
    assert [(e.package, e.version, e.state) for e in seen] == [
        ("dg-extra", "1.1.0", "waiting_for_session"), ("dg-extra", "1.2.0",
                                                       "waiting_for_session")]
