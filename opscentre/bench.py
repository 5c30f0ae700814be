"""`kiosk-ops bench [--json] [--quick]`: the centre's numbers on this machine.

Everything runs on loopback in a temp dir, each part in its own process as in production:
a private Mosquitto, `kiosk-ops serve` on SQLite (the embedded default), simulated
terminals (A's fleet link code, `kiosk.fleet.link`, many links per driver thread), and a
bare MQTT subscriber.

- `ingest_health_per_s_<N>`: health messages the centre applied per second while N
  terminals each publish rounds of health as fast as they can, next to
  `ingest_health_per_s_<N>_baseline`, what the broker delivered per second to a bare
  subscriber of the same topics in the same run (goal: the centre ≥ 90 % of it);
- `offline_shown_s` / `offline_alert_s`: from a terminal process killed (SIGKILL) to the
  API showing it offline, and to its `offline` alert open (default thresholds);
- `api_terminals_p95_ms_1000` and `fleet_page_p95_ms_1000`: console latency with 1,000;
- `db_bytes_per_terminal_day`: database growth for one terminal-day of health at the default
  interval (60 s) and a few events, raw; `..._rolled_up` after the hourly roll-up;
- `serve_rss_mb_<N>` (and `serve_peak_rss_mb_<N>`): the serve process's memory after N;
- `command_rtt_p50_s` / `command_rtt_p99_s` (and `command_rtt_baseline_…`, the broker's own
  round trip on the same path): a command from the API to the console showing it done at
  1,000 simulated terminals (`opscentre.bench_commands`);
- `rollout_complete_s_1000_soak_<S>s`, `rollout_halt_after_first_failure_s_1000`, …: a
  guarded rollout with the default waves to 1,000 simulated terminals (soak shortened to
  S seconds) and the time from a bad version's first failing terminal to the halt
  (`opscentre.bench_rollouts`).
Numbers, not assertions: tests only check that the bench runs.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import re
import secrets
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import requests

from kiosk.fleet import protocol

PY = sys.executable


# -- child processes: simulated terminals, a bare subscriber, one terminal to kill -----------
def health_body(i: int, rnd: int) -> dict[str, Any]:
    """A heartbeat body shaped like the terminal's (kiosk.heartbeat.heartbeat_payload)."""
    dev = {"state": "online", "details": [], "fault": False, "fitted": True, "message": ""}
    return {"seq": rnd, "boot": "bench", "app_version": "1.4.0", "uptime_s": 3600 + rnd * 60,
            "devices": {k: dict(dev) for k in ("idcard", "sscard", "receipt", "a4", "scanner",
                                                "camera")},
            "outbox": {"available": True, "total": i % 3, "depth": {"events": i % 3},
                       "oldest_age_s": 1.5 if i % 3 else None, "dead": 0, "dropped": 0},
            "packages": {"active": ["builtin@2026.11.1", "dg-civil@41"]},
            "network": {"state": "online"}, "disk": {"free_mb": 51200, "total_mb": 120000},
            "last_error": None, "heartbeat": {"interval_s": 60.0}}


def _links(broker_url: str, creds: dict[str, str], drivers: int) -> tuple[list[Any], list[Any]]:
    from kiosk.fleet.link import FleetLink, LinkDriver, LinkSettings, parse_broker_url

    address = parse_broker_url(broker_url)
    ds = [LinkDriver(f"bench-{n}").start() for n in range(drivers)]
    links = []
    for n, (tid, pw) in enumerate(sorted(creds.items())):
        link = FleetLink(tid, LinkSettings(address, pw, keepalive_s=60, max_queued=1000))
        ds[n % drivers].add(link, delay_s=n * 0.0005)  # not all in the same millisecond
        links.append(link)
    return ds, links


def child_load(args: argparse.Namespace) -> int:
    """N terminals connect, say 'ready', wait for a line on stdin, publish rounds of health."""
    creds = json.loads(Path(args.creds).read_text())
    ds, links = _links(args.broker, creds, args.drivers)
    deadline = time.monotonic() + 300
    while not all(link.connected for link in links):
        if time.monotonic() > deadline:
            print(json.dumps({"error": "not all terminals connected"}), flush=True)
            return 1
        time.sleep(0.1)
    print("ready", flush=True)
    sys.stdin.readline()
    t0 = time.time()
    infos = []
    for rnd in range(args.rounds):
        for i, link in enumerate(links):
            env = protocol.Envelope(link.terminal, "health", health_body(i, rnd),
                                    at=t0 + rnd * 60 + i * 1e-4)
            info = None
            while info is None:  # paho's queue for this link is full: let it drain
                info = link.publish("health", protocol.encode(env))
                if info is None:
                    time.sleep(0.001)
            infos.append(info)
    for info in infos:
        info.wait_for_publish(120)
    print(json.dumps({"t0": t0, "published": time.time(), "sent": len(infos)}), flush=True)
    sys.stdin.readline()  # stay connected until told
    for d in ds:
        d.stop()
    return 0


def child_bare(args: argparse.Namespace) -> int:
    """A bare subscriber: health of every terminal, QoS 1, counted; first and last time."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

    seen = {"n": 0, "first": 0.0, "last": 0.0}
    done = threading.Event()
    ready = threading.Event()

    def on_message(_c: Any, _u: Any, _m: Any) -> None:
        now = time.time()
        seen["n"] += 1
        seen["first"] = seen["first"] or now
        seen["last"] = now
        if seen["n"] >= args.expect:
            done.set()

    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bare-{secrets.token_hex(3)}",
                    protocol=MQTTProtocolVersion.MQTTv5)
    c.username_pw_set(args.user, os.environ.get("BENCH_PASSWORD", ""))
    c.on_message = on_message
    c.on_subscribe = lambda *_: ready.set()
    c.on_connect = lambda cl, *_: cl.subscribe(protocol.subscription("health"), qos=1)
    host, port = args.broker.removeprefix("mqtt://").rsplit(":", 1)
    c.connect(host, int(port), 60)
    c.loop_start()
    ready.wait(30)
    print("ready", flush=True)
    done.wait(args.timeout)
    print(json.dumps(seen), flush=True)
    c.loop_stop()
    return 0


def child_terminal(args: argparse.Namespace) -> int:
    """One terminal's process: its link and a health every second, until killed."""
    _drivers, [link] = _links(args.broker, {args.id: os.environ.get("BENCH_PASSWORD", "")}, 1)
    announced = False
    n = 0
    while True:
        if link.connected:
            link.publish("health", protocol.encode(protocol.Envelope(
                link.terminal, "health", health_body(0, n))))
            n += 1
            if not announced:
                print("up", flush=True)
                announced = True
        time.sleep(1.0)


# -- the parent -------------------------------------------------------------------------------
class Child:
    def __init__(self, args: list[str], env: dict[str, str] | None = None,
                 log: Path | None = None) -> None:
        with open(log or os.devnull, "ab") as err:  # the child keeps its own copy
            self.proc = subprocess.Popen([PY, *args], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=err,
                                         text=True, env={**os.environ, **(env or {})})

    def line(self) -> str:
        assert self.proc.stdout is not None
        out = self.proc.stdout.readline()
        if not out:
            raise RuntimeError(f"{self.proc.args!r} ended ({self.proc.wait()})")
        return out.strip()

    def tell(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)


class Rig:
    """Broker, centre and credentials in one temp dir."""

    def __init__(self, root: Path, terminals: int) -> None:
        from opscentre.broker import Mosquitto, embedded_broker

        self.root = root
        self.ids = [f"B-{n:05d}" for n in range(terminals)]
        setup = embedded_broker(root / "broker", [*self.ids, "KILLME-1"])
        setup.add_user("monitor", "monitor")
        self.broker = Mosquitto(setup.write()).start()
        self.setup = setup
        self.db = f"sqlite:///{root / 'centre.db'}"
        self.token, self.login = self._accounts()
        env = {"KIOSK_OPS_BROKER_PASSWORD": setup.password("opscentre")}
        self.serve = Child(["-m", "opscentre.cli", "serve", "--broker", setup.url,
                            "--db", self.db, "--listen", "127.0.0.1:0",
                            "--instance", "bench"], env, log=root / "serve.log")
        self.console = json.loads(self.serve.line())["console"]
        self.api = requests.Session()
        self.api.headers["Authorization"] = f"Bearer {self.token}"

    def _accounts(self) -> tuple[str, tuple[str, str]]:
        from opscentre import auth
        from opscentre.db import make_engine, make_sessionmaker, upgrade

        engine = make_engine(self.db, writer=True)
        upgrade(engine)
        password = secrets.token_urlsafe(12)
        with make_sessionmaker(engine)() as db:
            auth.add_user(db, "bench", "viewer", password, by="bench")
            token = auth.create_token(db, "bench", "viewer", by="bench")
        engine.dispose()
        return token, ("bench", password)

    def health(self) -> dict[str, Any]:
        data: dict[str, Any] = requests.get(f"{self.console}/healthz", timeout=10).json()
        return data

    def close(self) -> None:
        self.serve.proc.send_signal(signal.SIGTERM)
        try:
            self.serve.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.serve.stop()
        self.broker.stop()


def _wait(cond: Any, timeout: float, step: float = 0.05) -> float:
    """Poll until cond() is truthy; the time.time() it became so (or raise)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return time.time()
        time.sleep(step)
    raise RuntimeError(f"bench: gave up waiting for {cond}")


def ingest_run(rig: Rig, n: int, rounds: int) -> dict[str, float]:
    creds = {t: rig.setup.password(t) for t in rig.ids[:n]}
    cred_file = rig.root / f"creds-{n}.json"
    cred_file.write_text(json.dumps(creds))
    expect = n * rounds
    bare = Child(["-m", "opscentre.bench", "bare", "--broker", rig.setup.url, "--user",
                  "monitor", "--expect", str(expect)],
                 {"BENCH_PASSWORD": rig.setup.password("monitor")})
    load = Child(["-m", "opscentre.bench", "load", "--broker", rig.setup.url, "--creds",
                  str(cred_file), "--rounds", str(rounds), "--drivers", "4"])
    try:
        assert bare.line() == "ready"
        ready = load.line()
        if ready != "ready":
            raise RuntimeError(f"bench: load generator: {ready}")
        settled(rig)  # every terminal's online state applied before the clock starts
        base = rig.health()["ingest"]
        base_health = base["applied"].get("health", 0) + base["ignored"].get("health", 0)
        load.tell()
        # polled slowly (the poll costs the centre CPU); the centre says when it committed
        _wait(lambda: (h := rig.health()["ingest"])["applied"].get("health", 0)
              + h["ignored"].get("health", 0) - base_health >= expect, 600, 0.5)
        done = float(rig.health()["ingest"]["last_batch_at"])
        sent = json.loads(load.line())
        seen = json.loads(bare.line())
        t0 = float(sent["t0"])
        return {f"ingest_health_per_s_{n}": round(expect / (done - t0), 1),
                f"ingest_health_per_s_{n}_baseline": round(seen["n"] / (seen["last"] - t0), 1),
                f"published_health_per_s_{n}": round(expect / (sent["published"] - t0), 1)}
    finally:
        load.stop()
        bare.stop()


def processed(ingest: dict[str, Any]) -> int:
    return int(sum(ingest["applied"].values()) + sum(ingest["ignored"].values())
               + sum(ingest["dropped"].values()))


def settled(rig: Rig, quiet_s: float = 1.0) -> None:
    """Wait until the centre has applied all it received and nothing came for `quiet_s`."""
    last, since = -1, time.monotonic()
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        i = rig.health()["ingest"]
        if i["received"] != last or processed(i) < i["received"]:
            last, since = i["received"], time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            return
        time.sleep(0.1)
    raise RuntimeError("bench: the centre did not settle")


def rss_mb(pid: int) -> tuple[float, float]:
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text()
                  .splitlines() if ":" in line)
    return (round(int(fields["VmRSS"].split()[0]) / 1024, 1),
            round(int(fields["VmHWM"].split()[0]) / 1024, 1))


def p95_ms(fetch: Any, n: int) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        r = fetch()
        times.append((time.perf_counter() - t) * 1000)
        r.raise_for_status()
    return round(statistics.quantiles(times, n=20)[18], 1)


def console_latency(rig: Rig, n: int, requests_n: int) -> dict[str, float]:
    api = f"{rig.console}/api/terminals"
    first = rig.api.get(api, timeout=30)
    if first.status_code != 200:
        log = (rig.root / "serve.log").read_text(errors="replace")[-3000:]
        raise RuntimeError(f"bench: GET /api/terminals: HTTP {first.status_code}\n{log}")
    rows = first.json()
    out = {f"api_terminals_rows_{n}": float(len(rows)),
           f"api_terminals_p95_ms_{n}": p95_ms(lambda: rig.api.get(api, timeout=30),
                                               requests_n)}
    s = requests.Session()
    page = s.get(f"{rig.console}/login", timeout=10).text
    m = re.search(r'name="csrf" value="([^"]+)"', page)
    if m:
        s.post(f"{rig.console}/login", data={"name": rig.login[0], "password": rig.login[1],
                                             "csrf": m.group(1), "next": "/fleet"}, timeout=10)
        if s.get(f"{rig.console}/fleet", timeout=30).status_code == 200:
            out[f"fleet_page_p95_ms_{n}"] = p95_ms(
                lambda: s.get(f"{rig.console}/fleet", timeout=30), requests_n)
    return out


def offline_detection(rig: Rig) -> dict[str, float]:
    term = Child(["-m", "opscentre.bench", "terminal", "--broker", rig.setup.url, "--id",
                  "KILLME-1"], {"BENCH_PASSWORD": rig.setup.password("KILLME-1")})
    url = f"{rig.console}/api/terminals/KILLME-1"

    def online() -> bool:
        r = rig.api.get(url, timeout=10)
        return r.status_code == 200 and r.json().get("online") is True

    try:
        assert term.line() == "up"
        _wait(online, 60)
        killed = time.time()
        term.proc.send_signal(signal.SIGKILL)
        shown = _wait(lambda: not online(), 120, 0.1)

        def alert_open() -> bool:
            r = rig.api.get(f"{rig.console}/api/alerts", timeout=10,
                            params={"state": "live", "terminal": "KILLME-1", "rule": "offline"})
            return r.status_code == 200 and any(a.get("state") == "open" for a in r.json())

        alerted = _wait(alert_open, 300, 0.2)
    finally:
        term.stop()
    return {"offline_shown_s": round(shown - killed, 2),
            "offline_alert_s": round(alerted - killed, 2)}


def terminal_day_bytes(terminals: int = 40) -> dict[str, float]:
    """Database growth of one terminal-day at the default interval (SQLite, raw and rolled)."""
    from collections import Counter

    from opscentre.apply import Applier, Message, SamplePolicy, compact
    from opscentre.db import from_unix, make_engine, make_sessionmaker, upgrade

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "day.db"
        engine = make_engine(str(path), writer=True)
        upgrade(engine)
        sessions = make_sessionmaker(engine)
        policy = SamplePolicy()
        applier = Applier(policy)
        day0 = 1_790_000_000 - 1_790_000_000 % 86400

        def batch(minute: int) -> list[Message]:
            out = []
            for i in range(terminals):
                body = health_body(i, minute)
                if (minute + i * 37) % 720 < 90:  # paper low for an hour and a half twice a day
                    body["devices"]["receipt"]["details"] = ["paper_low"]
                body["outbox"]["total"] = 0 if minute % 240 else 5
                at = day0 + minute * 60.0 + i
                out.append(Message("health", protocol.Envelope(f"D-{i:04d}", "health", body,
                                                               at=at), from_unix(at)))
                if minute % 360 == i % 360:  # four events a terminal-day
                    out.append(Message("events", protocol.Envelope(
                        f"D-{i:04d}", "warning", {"device": "receipt", "state": "online",
                                                  "details": ["paper_low"]}, at=at),
                        from_unix(at)))
            return out

        def size() -> int:
            engine.dispose()
            with contextlib.closing(sqlite3.connect(path)) as c:
                c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                pages = c.execute("PRAGMA page_count").fetchone()[0]
                free = c.execute("PRAGMA freelist_count").fetchone()[0]
                psize = c.execute("PRAGMA page_size").fetchone()[0]
            return int((pages - free) * psize)

        with sessions.begin() as s:
            applier.apply(s, batch(0), Counter())
        start = size()
        for minute in range(1, 1441, 10):
            with sessions.begin() as s:
                applier.apply(s, [m for k in range(minute, min(minute + 10, 1441))
                                  for m in batch(k)], Counter())
        raw = size() - start
        with sessions.begin() as s:
            compact(s, policy, now=from_unix(day0 + 4 * 86400))
        with sessions.begin() as s:  # the events stay; the raw samples became 24 roll-ups
            rolled_samples = s.execute(_count_sql()).scalar()
        rolled = size() - start
        engine.dispose()
    return {"db_bytes_per_terminal_day": round(raw / terminals),
            "db_bytes_per_terminal_day_rolled_up": round(rolled / terminals),
            "db_rollups_per_terminal_day": round((rolled_samples or 0) / terminals, 1)}


def _count_sql() -> Any:
    from sqlalchemy import text

    return text("SELECT count(*) FROM health_samples WHERE resolution > 0")


@contextlib.contextmanager
def _rig(terminals: int) -> Iterator[Rig]:
    with tempfile.TemporaryDirectory(prefix="kiosk-ops-bench-") as d:
        rig = Rig(Path(d), terminals)
        try:
            yield rig
        finally:
            rig.close()


def measure(quick: bool = False) -> dict[str, float]:
    sizes = (30, 100) if quick else (1000, 5000)
    rounds = {30: 3, 100: 2, 1000: 5, 5000: 3}
    out: dict[str, float] = {}
    with _rig(max(sizes)) as rig:
        # first, on a quiet centre: later the load generators' exits take thousands of
        # terminals offline at once, and that alert storm is not what this measures
        out.update(offline_detection(rig))
        for n in sizes:
            out.update(ingest_run(rig, n, rounds[n]))
            ratio = out[f"ingest_health_per_s_{n}"] / out[f"ingest_health_per_s_{n}_baseline"]
            out[f"ingest_ratio_{n}"] = round(ratio, 3)
            if n == sizes[0]:
                out.update(console_latency(rig, n, 20 if quick else 200))
        rss, peak = rss_mb(rig.serve.proc.pid)
        out[f"serve_rss_mb_{sizes[-1]}"], out[f"serve_peak_rss_mb_{sizes[-1]}"] = rss, peak
    out.update(terminal_day_bytes(5 if quick else 40))
    from opscentre import bench_commands  # command round trip (issue 16): its own rig

    out.update(bench_commands.measure(quick))
    from opscentre import bench_rollouts  # guarded rollouts (issue 16): their own rig

    out.update(bench_rollouts.measure(quick))
    out["measured_at"] = float(int(dt.datetime.now(dt.UTC).timestamp()))
    return out


def main(args: argparse.Namespace) -> int:
    results = measure(quick=bool(getattr(args, "quick", False)))
    if getattr(args, "json", False):
        print(json.dumps(results))
    else:
        for k, v in results.items():
            print(f"{k:45} {v:g}")
    return 0


def _child_main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m opscentre.bench")
    sub = p.add_subparsers(dest="role", required=True)
    load = sub.add_parser("load")
    load.add_argument("--broker", required=True)
    load.add_argument("--creds", required=True)
    load.add_argument("--rounds", type=int, default=1)
    load.add_argument("--drivers", type=int, default=4)
    bare = sub.add_parser("bare")
    bare.add_argument("--broker", required=True)
    bare.add_argument("--user", required=True)
    bare.add_argument("--expect", type=int, required=True)
    bare.add_argument("--timeout", type=float, default=600)
    term = sub.add_parser("terminal")
    term.add_argument("--broker", required=True)
    term.add_argument("--id", required=True)
    args = p.parse_args(argv)
    return {"load": child_load, "bare": child_bare, "terminal": child_terminal}[args.role](args)


if __name__ == "__main__":
    sys.exit(_child_main(sys.argv[1:]))
