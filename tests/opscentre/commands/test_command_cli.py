"""`kiosk-ops keys` and `kiosk-ops command` as people and scripts run them: against a
`kiosk-ops stack` (its broker, its centre, its key) with `kiosk-ops simulate` answering
(the simulated terminals pin the stack's public key by themselves)."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from PIL import Image

from opscentre.cli import main
from opscentre.signing import PRIVATE_FILE, PUBLIC_FILE, init_keys

KIOSK_OPS = [sys.executable, "-m", "opscentre.cli"]


def ops(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*KIOSK_OPS, *args], capture_output=True, text=True,
                          timeout=timeout)


def test_keys_init_makes_a_private_key_only_the_centre_reads(tmp_path: Path) -> None:
    d = tmp_path / "keys"
    first = ops("keys", "init", "--dir", str(d), "--json")
    assert first.returncode == 0, first.stderr
    facts = json.loads(first.stdout)
    assert facts["created"] is True and len(facts["key_id"]) == 16
    assert stat.S_IMODE((d / PRIVATE_FILE).stat().st_mode) == 0o600
    assert stat.S_IMODE(d.stat().st_mode) == 0o700
    assert (d / PUBLIC_FILE).read_text().strip() == facts["public_key"]
    assert "PRIVATE" not in first.stdout + first.stderr  # never printed
    again = json.loads(ops("keys", "init", "--dir", str(d), "--json").stdout)
    assert again["created"] is False and again["public_key"] == facts["public_key"]
    shown = ops("keys", "show", "--dir", str(d))
    assert facts["public_key"] in shown.stdout
    os.chmod(d / PRIVATE_FILE, 0o644)  # readable by others: refused, as ssh refuses it
    refused = ops("keys", "show", "--dir", str(d))
    assert refused.returncode == 2 and "others may read it" in refused.stderr


class Stack:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.proc = subprocess.Popen([*KIOSK_OPS, "stack", "--dir", str(root), "--json",
                                      "--simulated", "2"], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.err: list[str] = []
        threading.Thread(target=lambda: self.err.extend(self.proc.stderr or []),
                         daemon=True).start()
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        assert line, f"stack ended: {''.join(self.err)[-2000:]}"
        self.info: dict[str, Any] = json.loads(line)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(30)


@pytest.fixture
def stack_with_fleet(tmp_path: Path) -> Iterator[Stack]:
    stack = Stack(tmp_path / "stack")
    sim = subprocess.Popen([*KIOSK_OPS, "simulate", "--stack", str(stack.root), "--terminals",
                            "2", "--seconds", "300", "--health-interval", "30", "--faults",
                            "0", "--offline", "0", "--die", "0", "--session-share", "0"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        auth = {"Authorization": f"Bearer {stack.info['token']}"}
        deadline = time.monotonic() + 60
        while True:
            rows = requests.get(f"{stack.info['console']}/api/terminals", headers=auth,
                                timeout=10).json()
            if sum(1 for r in rows if r["id"].startswith("SIM-") and r["online"]) == 2:
                break
            assert time.monotonic() < deadline, "the simulated terminals did not come online"
            time.sleep(0.2)
        yield stack
    finally:
        sim.send_signal(signal.SIGTERM)
        sim.wait(30)
        stack.stop()


@pytest.mark.slow
def test_command_wait_json_prints_one_line_and_tells_by_its_status(
        stack_with_fleet: Stack, tmp_path: Path) -> None:
    stack = stack_with_fleet
    assert stack.info["command_key"]["file"] == str(stack.root / "keys" / PUBLIC_FILE)
    base = ("--stack", str(stack.root))
    done = ops("command", "SIM-00001", "selftest", "device=receipt", *base, "--wait", "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert len(lines) == 1
    out = json.loads(lines[0])
    assert set(out) == {"id", "state", "result"} and out["state"] == "done"
    assert out["result"]["passed"] is True
    assert [d["kind"] for d in out["result"]["devices"]] == ["receipt"]

    shot = tmp_path / "shot.png"
    got = ops("command", "SIM-00002", "screenshot", *base, "--wait", "--json", "--save",
              str(shot))
    res = json.loads(got.stdout)["result"]["attachment"]
    assert got.returncode == 0 and res["complete"] and res["saved"] == str(shot)
    assert Image.open(shot).format == "PNG" and shot.stat().st_size == res["size"]

    # signed by a key the terminals do not pin: refused, said in the result, exit 1
    stranger, _ = init_keys(tmp_path / "stranger")
    refused = ops("command", "SIM-00001", "restart", *base, "--key", str(stranger.path),
                  "--wait", "--json")
    out = json.loads(refused.stdout)
    assert refused.returncode == 1 and out["state"] == "refused"
    assert out["result"]["reason"] == "unknown_key"

    # without --wait: sent, and nothing printed but the line
    sent = ops("command", "SIM-00002", "set_volume", "level=40", *base, "--json")
    assert sent.returncode == 0 and json.loads(sent.stdout)["state"] in (
        "sent", "received", "running", "done")

    # made by the operator named, in the audit log the console shows
    cid = json.loads(done.stdout)["id"]
    row = requests.get(f"{stack.info['console']}/api/commands/{cid}", timeout=10,
                       headers={"Authorization": f"Bearer {stack.info['token']}"}).json()
    assert row["operator"].startswith("cli:") and row["audit"]["actor"] == row["operator"]


def test_command_line_mistakes_are_refused_before_anything_is_sent(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    init_keys(tmp_path / "k")
    base = ("--db", str(tmp_path / "c.db"), "--broker", "mqtt://127.0.0.1:1",
            "--key", str(tmp_path / "k" / PRIVATE_FILE))
    for args, words in ((("T1", "self_destruct"), "unknown action"),
                        (("T1", "set_volume", "level=300"), "level must be"),
                        (("T1", "set_volume", "loud"), "not key=value"),
                        (("T1", "print_test"), "printer must be")):
        assert main(["command", *args, *base]) == 2, args
        assert words in capsys.readouterr().err, args
    assert main(["command", "T1", "restart", "--db", str(tmp_path / "c.db"), "--broker",
                 "mqtt://127.0.0.1:1", "--key", str(tmp_path / "nokey.pem")]) == 2
    assert "signing key" in capsys.readouterr().err
    assert not (tmp_path / "c.db").exists()  # nothing stored for any of them
    # a broker that is not there: the command is stored as not sent, exit status 1
    p = ops("command", "T1", "restart", *base, "--json")  # as a script runs it
    assert p.returncode == 1 and json.loads(p.stdout)["state"] == "unsent"
    assert json.loads(p.stdout)["result"]["reason"] == "broker_unavailable"
