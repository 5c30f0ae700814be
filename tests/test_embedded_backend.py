"""The embedded reference backend dies with the kiosk, however the kiosk ends, and a
configuration error at start starts no child at all.

The parents here are real processes (small `python -c` scripts, the `kiosk` CLI) that a
test kills with SIGKILL or lets fail; every wait is a deadline for the test, never a
timing assertion.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DEADLINE_S = 60.0


def gone(pid: int) -> bool:
    """No such process, or only a zombie waiting for a reaper that may never come."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rpartition(")")[2].split()[0] == "Z"


def wait_gone(pid: int) -> bool:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        if gone(pid):
            return True
        time.sleep(0.05)
    return False


def ppid_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])


@pytest.fixture
def spawned() -> Iterator[list[int]]:
    """Pids to kill at the end whatever happened (never leave a process behind)."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _parent(script: str, tmp_path: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "KIOSK_STORAGE_DATA_DIR": str(tmp_path)}
    return subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=REPO, env=env)


STARTS_BACKEND = """
import sys, threading, time
from kiosk.backend.embedded import EmbeddedBackend

box = {}
def start():
    box["be"] = EmbeddedBackend("DG-ORPHAN-0001").start()
    box["ready"] = box["be"].wait_ready(60)

# Started from a worker thread that ends (PR_SET_PDEATHSIG follows the forking thread).
worker = threading.Thread(target=start)
worker.start()
worker.join()
print(box["be"].proc.pid, box["ready"], flush=True)
time.sleep(600)
"""


def test_backend_dies_when_the_kiosk_is_killed(tmp_path: Path, spawned: list[int]) -> None:
    parent = _parent(STARTS_BACKEND, tmp_path)
    spawned.append(parent.pid)
    assert parent.stdout is not None
    line = parent.stdout.readline().split()
    assert len(line) == 2, parent.stderr.read() if parent.stderr else ""
    child, ready = int(line[0]), line[1] == "True"
    spawned.append(child)
    assert ready and not gone(child) and ppid_of(child) == parent.pid
    parent.kill()  # SIGKILL: no finally, no atexit, no stop()
    parent.wait()
    assert wait_gone(child), f"backend {child} outlived its parent"


EVENTS_CHILD = (
    "import signal, sys\n"
    "signal.signal(signal.SIGTERM, lambda *a: (print('TERM', flush=True), sys.exit(0)))\n"
    "print('READY', flush=True)\n"
    "sys.stdin.read()\n"
    "print('EOF', flush=True)\n"
)

THREAD_ENDS = """
import os, subprocess, sys, threading, time
from kiosk.backend.embedded import spawn_guarded

box = {}
def start():
    box["tid"] = threading.get_native_id()
    box["p"] = spawn_guarded([sys.executable, "-c", sys.argv[1]], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    box["ready"] = box["p"].stdout.readline().strip()

worker = threading.Thread(target=start)
worker.start()
worker.join()
# Once the thread is released by the kernel, a death signal tied to it has been sent.
while os.path.exists(f"/proc/self/task/{box['tid']}"):
    time.sleep(0.01)
box["p"].stdin.close()
print(box["ready"], box["p"].stdout.readline().strip(), flush=True)
"""


def test_child_outlives_the_thread_that_started_it(tmp_path: Path) -> None:
    """The death signal must mean the kiosk died, not that some worker thread ended."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", THREAD_ENDS, EVENTS_CHILD], check=False,
                         cwd=REPO, env=env, capture_output=True, text=True,
                         timeout=DEADLINE_S)
    assert out.stdout.split() == ["READY", "EOF"], out.stdout + out.stderr


def test_guard_refuses_to_start_for_a_parent_already_gone() -> None:
    """The race prctl cannot close: the parent died before the child set its signal."""
    from kiosk.backend.embedded import GUARD

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    out = subprocess.run([sys.executable, str(GUARD), str(dead.pid), sys.executable, "-c",
                          "print('STARTED')"], check=False, capture_output=True, text=True,
                         timeout=DEADLINE_S)
    assert out.returncode == 1 and "STARTED" not in out.stdout
    assert "parent already gone" in out.stderr


def test_stop_ends_the_process_group(tmp_path: Path) -> None:
    from kiosk.backend.embedded import EmbeddedBackend

    be = EmbeddedBackend("DG-STOP-0001").start()
    try:
        assert be.wait_ready(60)
        assert be.proc is not None and os.getpgid(be.proc.pid) == be.proc.pid
    finally:
        be.stop()
    assert be.proc.returncode is not None and gone(be.proc.pid)


# -- a configuration error at start: one report, exit status 2, no child process ----------
REAPER = r"""
import ctypes, json, os, signal, subprocess, sys
# Orphans of the command are re-parented to us, so we can see whether any was left.
ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
try:
    run = subprocess.run(sys.argv[1:], capture_output=True, text=True, timeout=240)
    rc, err = run.returncode, run.stderr
except subprocess.TimeoutExpired as exc:
    rc, err = "timeout", (exc.stderr or b"").decode(errors="replace")
left = []
for entry in os.listdir("/proc"):
    if entry.isdigit():
        try:
            stat = open(f"/proc/{entry}/stat").read().rpartition(")")[2].split()
        except OSError:
            continue
        if int(stat[1]) == os.getpid():
            left.append(int(entry))
            os.kill(int(entry), signal.SIGKILL)
while True:
    try:
        os.waitpid(-1, 0)
    except ChildProcessError:
        break
print(json.dumps({"rc": rc, "stderr": err, "left": left}))
"""


def run_kiosk(tmp_path: Path, *argv: str) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "QT_QPA_PLATFORM": "offscreen",
           "KIOSK_STORAGE_DATA_DIR": str(tmp_path / "data")}
    env.pop("KIOSK_CONFIG", None)
    out = subprocess.run([sys.executable, "-c", REAPER, sys.executable, "-m", "kiosk", *argv],
                         check=False, cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=300)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_config_error_at_start_is_reported_the_same_everywhere_and_starts_nothing(
        tmp_path: Path) -> None:
    bad = tmp_path / "kiosk.toml"
    bad.write_text('[backend]\nurl = "embedded"\n\n[session]\nidle_timeout_s = "90"\n',
                   encoding="utf-8")
    problem = (f'{bad}:5: session.idle_timeout_s: must be a number, got "90" — a string, '
               "because of the quotes; write it without them")
    reports = {}
    for argv in (["demo", "--headless", "--out", str(tmp_path / "out")], ["run"],
                 ["selftest"]):
        result = run_kiosk(tmp_path, *argv, "--config", str(bad))
        assert result["rc"] == 2, result
        assert problem in str(result["stderr"]), result
        assert result["left"] == [], f"kiosk {argv[0]} left processes behind: {result}"
        reports[argv[0]] = str(result["stderr"]).split(": ", 1)[1]
    assert reports["demo"] == reports["run"] == reports["selftest"]
    assert not (tmp_path / "out").exists()
