"""`kiosk-ops rollout …`: in-process against a database and a repository named by the
centre's config file, and end to end as the demo runs it: `kiosk-ops stack` (the repository
served at /repo/, demo packages in its inbox), `kiosk-ops simulate --stack` (terminals
polling it over HTTP, told that dg-demo@1.2.0 is bad) and the rollout commands."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from opscentre.cli import main

KIOSK_OPS = [sys.executable, "-m", "opscentre.cli"]


@pytest.fixture
def cli(tmp_path: Path, ops_repo: Any) -> list[str]:
    """--db and --config (with [rollouts]) as a deployment's scripts give them."""
    ops_repo.publish("dg-extra", "1.0.0")
    ops_repo.build("dg-extra", "1.1.0")
    config = tmp_path / "centre.toml"
    config.write_text(f'[rollouts]\nrepository = "{ops_repo.repo_dir}"\n'
                      f'keys = "{ops_repo.keys}"\ninbox = "{ops_repo.inbox}"\n')
    return ["--db", str(tmp_path / "centre.db"), "--config", str(config)]


def run(capsys: Any, *args: str) -> tuple[int, Any, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    lines = out.strip().splitlines()
    return code, (json.loads(lines[-1]) if "--json" in args and lines else out), err


def test_start_status_halt_resume_rollback(cli: list[str], capsys: Any, ops_repo: Any) -> None:
    code, r, _ = run(capsys, "rollout", "start", "dg-extra@1.1.0", "--waves", "0,25,100",
                     "--soak-minutes", "2", "--max-rolled-back", "0.1", "--operator", "ci",
                     "--json", *cli)
    assert code == 0
    assert (r["id"], r["state"], r["scope"], r["soak_s"], r["thresholds"]["rolled_back"],
            r["created_by"]) == (1, "running", "ring 0", 120.0, 0.1, "ci")
    assert ops_repo.target("dg-extra", "1.1.0")["rollout"] == {"ring": 0}

    code, text, _ = run(capsys, "rollout", "status", "1", *cli)
    assert code == 0 and "rollout #1 dg-extra@1.1.0  running  wave 1/3 (ring 0)" in text
    assert "previous 1.0.0" in text
    code, rows, _ = run(capsys, "rollout", "status", "--json", *cli)
    assert [x["label"] for x in rows] == ["dg-extra@1.1.0"]

    code, r, _ = run(capsys, "rollout", "halt", "dg-extra", "--note", "hall closed", "--json",
                     *cli)
    assert (code, r["state"], r["note"]) == (0, "halted", "hall closed")
    code, text, _ = run(capsys, "rollout", "status", "dg-extra@1.1.0", *cli)
    assert "halted by cli:" in text and "hall closed" in text  # the operator, default cli:USER
    code, _, err = run(capsys, "rollout", "halt", "1", *cli)
    assert code == 1 and "rollout.error.state" in err
    assert run(capsys, "rollout", "resume", "1", "--json", *cli)[1]["state"] == "running"
    code, r, _ = run(capsys, "rollout", "rollback", "1", "--json", *cli)
    assert (code, r["state"]) == (0, "rolled_back")
    assert ops_repo.target("dg-extra", "1.1.0") is None
    assert ops_repo.target("dg-extra", "1.0.0")["replaces"] == ["1.1.0"]


def test_what_the_command_refuses(cli: list[str], capsys: Any, tmp_path: Path) -> None:
    code, _, err = run(capsys, "rollout", "start", "dg-extra", *cli)
    assert code == 2 and "ID@VERSION" in err
    code, _, err = run(capsys, "rollout", "start", "dg-extra@1.1.0", "--waves", "0,50", *cli)
    assert code == 2 and "100" in err
    code, _, err = run(capsys, "rollout", "start", "dg-extra@7.0.0", *cli)
    assert code == 1 and "rollout.error.no_target" in err
    code, _, err = run(capsys, "rollout", "resume", "42", *cli)
    assert code == 1 and "rollout.error.not_found" in err
    code, _, err = run(capsys, "rollout", "start", "dg-extra@1.1.0", "--db",
                       str(tmp_path / "other.db"))
    assert code == 1 and "rollout.error.no_repository" in err
    bad = tmp_path / "bad.toml"
    bad.write_text("[rollouts]\nsoak = 5\n")
    code, _, err = run(capsys, "rollout", "status", "1", "--db", str(tmp_path / "c.db"),
                       "--config", str(bad))
    assert code == 1 and "rollouts.soak" in err


class Child:
    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen([*KIOSK_OPS, *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=dict(os.environ))

    def first_line(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError(self.proc.stderr.read()[-3000:] if self.proc.stderr else "")
        data: dict[str, Any] = json.loads(line)
        return data

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def children() -> Iterator[Any]:
    made: list[Child] = []

    def start(*args: str) -> Child:
        made.append(Child(*args))
        return made[-1]

    yield start
    for c in reversed(made):
        c.stop()


def ops(stack: Path, *args: str) -> dict[str, Any]:
    done = subprocess.run([*KIOSK_OPS, "rollout", *args, "--stack", str(stack), "--json"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    data: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return data


def until(cond: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"not met: {what}")


@pytest.mark.slow
def test_the_demo_rolls_out_and_halts_a_bad_version(tmp_path: Path, children: Any) -> None:
    stack = tmp_path / "stack"
    info = children("stack", "--dir", str(stack), "--json", "--simulated", "12").first_line()
    assert info["repository"] == f"{info['console']}/repo"
    root = requests.get(f"{info['repository']}/metadata/1.root.json", timeout=5)
    assert root.status_code == 200 and Path(info["trusted_root"]).read_bytes() == root.content
    children("simulate", "--stack", str(stack), "--terminals", "12", "--seconds", "600",
             "--health-interval", "0.5", "--package-poll", "0.5", "--session", "0.3",
             "--idle", "0.4", "--faults", "0", "--offline", "0", "--die", "0",
             "--bad", "dg-demo@1.2.0:rollback=0.5")
    auth = {"Authorization": f"Bearer {info['token']}"}

    def on(label: str) -> int:
        rows = requests.get(f"{info['console']}/api/terminals", headers=auth, timeout=5).json()
        return sum(label in r["packages"] for r in rows if r["id"].startswith("SIM-"))

    until(lambda: on("dg-demo@1.0.0") == 12, 60, "the fleet on the demo package's 1.0.0")
    r = ops(stack, "start", "dg-demo@1.1.0", "--waves", "0,50,100", "--soak-minutes", "0.02")
    assert r["previous_version"] == "1.0.0"
    until(lambda: ops(stack, "status", str(r["id"]))["state"] == "completed", 120, "completed")
    until(lambda: on("dg-demo@1.1.0") == 12, 60, "the fleet on 1.1.0")

    bad = ops(stack, "start", "dg-demo@1.2.0", "--waves", "0,50,100", "--soak-minutes", "0.02")

    def halted_one() -> dict[str, Any] | None:
        d = ops(stack, "status", str(bad["id"]))
        return d if d["state"] == "halted" else None

    halted = until(halted_one, 120, "halted")
    assert halted["halt_reason"] == "rollout.halt.rolled_back"
    until(lambda: any(a["rule"] == "rollout" for a in requests.get(
        f"{info['console']}/api/alerts", headers=auth, timeout=5).json()), 30, "its alert")
    ops(stack, "rollback", str(bad["id"]))
    until(lambda: on("dg-demo@1.1.0") == 12, 60, "the fleet back on 1.1.0")
