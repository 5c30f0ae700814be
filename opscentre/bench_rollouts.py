"""Guarded rollouts for `kiosk-ops bench` (issue 16), on loopback, each part in its own
process: a private Mosquitto, `kiosk-ops serve` on SQLite evaluating rollouts, the TUF
repository on `python -m http.server`, and N simulated terminals in one child
(`kiosk-ops simulate`: the real fleet client, the terminal's own TUF client polling the
repository, sessions, activation between them; five lab terminals in ring 0).

- `rollout_complete_s_<N>_soak_<S>s`: from `kiosk-ops rollout start` of a good version
  with the default waves (0,5,25,100) to the rollout completed, each wave soaking S
  seconds (shortened for the bench; the default is 1,800 s), and
  `rollout_all_running_s_<N>_soak_<S>s` to every terminal's health showing it;
- `rollout_halt_after_first_failure_s_<N>`: a bad version (a share of the terminals roll it
  back at activation): from the centre receiving the first rollback to the rollout halted,
  and `rollout_halt_after_threshold_s_<N>` from the report that took the rate over the
  threshold (goal: within one health interval, `rollout_health_interval_s`);
- `rollout_package_poll_s`: how often each simulated terminal polls the repository.
Numbers, not assertions: tests only check that the bench runs.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

PY = sys.executable
WAVES = "0,5,25,100"


class _Proc:
    def __init__(self, args: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        with open(log, "ab") as err:
            self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=err, text=True,
                                         env={**os.environ, **(env or {})})

    def line(self) -> str:
        assert self.proc.stdout is not None
        out = self.proc.stdout.readline()
        if not out:
            raise RuntimeError(f"bench: {self.proc.args!r} ended ({self.proc.wait()})")
        return out.strip()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(cond: Any, timeout: float, what: str, step: float = 0.25) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(step)
    raise RuntimeError(f"bench: gave up waiting for {what}")


def _utc(value: str) -> float:
    """A time SQLite holds (naive UTC text) as unix seconds."""
    return dt.datetime.fromisoformat(value).replace(tzinfo=dt.UTC).timestamp()


class Rig:
    def __init__(self, root: Path, n: int, soak_s: float, poll_s: float,
                 health_s: float, session_s: float) -> None:
        from opscentre.broker import Mosquitto, embedded_broker
        from opscentre.rollout_cli import demo_packages, stack_repository

        self.root, self.n = root, n
        self.procs: list[_Proc] = []
        ids = [f"R-{i:05d}" for i in range(n)]
        setup = embedded_broker(root / "broker", ids)
        self.broker = Mosquitto(setup.write()).start()
        settings = stack_repository(root)
        demo_packages(root, settings)  # dg-demo 1.0.0 to all; 1.1.0, 1.2.0 in the inbox
        self.db_file = root / "centre.db"
        self.config = root / "centre.toml"
        self.config.write_text(
            f'[rollouts]\nrepository = "{settings.repository}"\nkeys = "{settings.keys}"\n'
            f'inbox = "{settings.inbox}"\nsoak_s = {soak_s}\nevaluate_every_s = 1.0\n')
        port = _free_port()
        self.repo_url = f"http://127.0.0.1:{port}"
        self._start([PY, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                     "--directory", settings.repository], "http.log")
        serve = self._start([PY, "-m", "opscentre.cli", "serve", "--broker", setup.url,
                             "--db", str(self.db_file), "--config", str(self.config),
                             "--listen", "127.0.0.1:0", "--instance", "bench-rollouts"],
                            "serve.log", {"KIOSK_OPS_BROKER_PASSWORD":
                                          setup.password("opscentre")})
        json.loads(serve.line())  # the console is up: the database is migrated
        creds = root / "creds.json"
        creds.write_text(json.dumps({t: setup.password(t) for t in ids}))
        _wait(lambda: _reachable(self.repo_url), 30, "the repository's HTTP server")
        self._start([PY, "-m", "opscentre.cli", "simulate", "--broker", setup.url,
                     "--credentials", str(creds), "--terminals", str(n), "--seconds", "7200",
                     "--health-interval", str(health_s), "--faults", "0", "--offline", "0",
                     "--die", "0", "--seed", "16", "--repository", self.repo_url,
                     "--trusted-root", str(Path(settings.repository) / "metadata" /
                                           "1.root.json"),
                     "--package-poll", str(poll_s), "--ring0", "5", "--session",
                     str(session_s), "--idle", str(session_s * 1.3),
                     "--bad", "dg-demo@1.2.0:rollback=0.3"], "simulate.log")

    def _start(self, args: list[str], log: str, env: dict[str, str] | None = None) -> _Proc:
        self.procs.append(_Proc(args, self.root / log, env))
        return self.procs[-1]

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        with contextlib.closing(sqlite3.connect(f"file:{self.db_file}?mode=ro", uri=True,
                                                timeout=30)) as c:
            return list(c.execute(sql, params))

    def running(self, label: str) -> int:
        return sum(1 for (pk,) in self.query("SELECT packages FROM terminals")
                   if label in (json.loads(pk or "{}").get("active") or []))

    def rollout(self, *args: str) -> dict[str, Any]:
        done = subprocess.run([PY, "-m", "opscentre.cli", "rollout", *args, "--db",
                               str(self.db_file), "--config", str(self.config), "--json"],
                              check=False, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"bench: kiosk-ops rollout {args[0]}: {done.stderr[-500:]}")
        data: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        return data

    def close(self) -> None:
        for p in reversed(self.procs):
            p.stop()
        self.broker.stop()


def _reachable(url: str) -> bool:
    import requests

    try:
        return requests.get(f"{url}/metadata/1.root.json", timeout=2).status_code == 200
    except requests.RequestException:
        return False


@contextlib.contextmanager
def _rig(n: int, soak_s: float, poll_s: float, health_s: float,
         session_s: float) -> Iterator[Rig]:
    with tempfile.TemporaryDirectory(prefix="kiosk-ops-bench-rollouts-") as d:
        rig = Rig(Path(d), n, soak_s, poll_s, health_s, session_s)
        try:
            yield rig
        finally:
            rig.close()


def measure(quick: bool = False) -> dict[str, float]:
    n = 20 if quick else 1000
    soak_s = 1.0 if quick else 15.0
    poll_s = 1.0 if quick else 10.0
    health_s = 3.0 if quick else 30.0
    out: dict[str, float] = {"rollout_package_poll_s": poll_s,
                             "rollout_health_interval_s": health_s}
    soak = f"soak_{soak_s:g}s"
    with _rig(n, soak_s, poll_s, health_s, 1.0 if quick else 3.0) as rig:
        _wait(lambda: rig.running("dg-demo@1.0.0") == n, 600, "every terminal on 1.0.0", 1.0)
        t0 = time.time()
        good = rig.rollout("start", "dg-demo@1.1.0", "--waves", WAVES)
        _wait(lambda: rig.rollout("status", str(good["id"]))["state"] == "completed", 1800,
              "the good rollout completed", 1.0)
        [(finished,)] = rig.query("SELECT finished_at FROM rollouts WHERE id = ?", good["id"])
        out[f"rollout_complete_s_{n}_{soak}"] = round(_utc(finished) - t0, 1)
        _wait(lambda: rig.running("dg-demo@1.1.0") == n, 600, "every terminal on 1.1.0", 1.0)
        out[f"rollout_all_running_s_{n}_{soak}"] = round(time.time() - t0, 1)

        bad = rig.rollout("start", "dg-demo@1.2.0", "--waves", WAVES)

        def halted_one() -> dict[str, Any] | None:
            d = rig.rollout("status", str(bad["id"]))
            return d if d["state"] == "halted" else None

        halted = _wait(halted_one, 1800, "the bad rollout halted", 0.5)
        [(halted_at, detail)] = rig.query(
            "SELECT halted_at, halt_detail FROM rollouts WHERE id = ?", bad["id"])
        d = json.loads(detail)
        bad_at = sorted(_utc(received) for received, body in rig.query(
            "SELECT received_at, body FROM events WHERE type = 'package' AND received_at >= "
            "(SELECT created_at FROM rollouts WHERE id = ?)", bad["id"])
            if json.loads(body).get("version") == "1.2.0"
            and json.loads(body).get("state") in ("rolled_back", "rejected"))
        # the report that took the rate over: more than threshold x terminals of the wave
        k = math.floor(d["threshold"] * d["of"]) + 1
        out[f"rollout_halt_after_first_failure_s_{n}"] = round(_utc(halted_at) - bad_at[0], 2)
        out[f"rollout_halt_after_threshold_s_{n}"] = round(
            _utc(halted_at) - bad_at[min(k, len(bad_at)) - 1], 2)
        out[f"rollout_halted_in_wave_{n}"] = float(halted["wave"] + 1)
    return out


if __name__ == "__main__":
    print(json.dumps(measure("--quick" in sys.argv)))
