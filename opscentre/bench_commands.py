"""Command round trip for `kiosk-ops bench` (issue 16), on loopback, each part in its own
process: a private Mosquitto, `kiosk-ops serve` on SQLite with a signing key, and N
simulated terminals in one child (the terminal's `FleetLink` on a few driver threads,
answered by the simulator's `Responder`, which verifies every command as a terminal does;
health at the default interval as background traffic).

- `command_rtt_p50_s` / `command_rtt_p99_s`: from the request that issues a command
  (`POST /api/commands`, as the console does: stored with its audit entry, signed,
  published, PUBACK) to the console showing it done (`GET /api/commands/ID`, polled every
  `POLL_S`), one command at a time (a self-test) to a random terminal of the N;
- `command_rtt_baseline_p50_s` / `_p99_s`: the broker's own round trip on the same path in
  the same run, interleaved with the commands: a bare client publishes on a terminal's
  `commands` topic as the centre's user, a bare client of that terminal (in the terminals'
  process) publishes it back on its `results` topic, the first receives it (QoS 1 both
  ways). The difference is what the centre and the terminal add.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import requests
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from kiosk.fleet import protocol

PING = "PING-0001"
POLL_S = 0.01


# -- the terminals' process -------------------------------------------------------------------
def _echo(broker: str, password: str) -> mqtt.Client:
    """A bare client of terminal PING that sends every command straight back as a result."""
    host, port = broker.removeprefix("mqtt://").rsplit(":", 1)
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=PING,
                    protocol=MQTTProtocolVersion.MQTTv5)
    c.username_pw_set(PING, password)
    ready = threading.Event()
    c.on_connect = lambda cl, *_: cl.subscribe(protocol.topic(PING, "commands"), qos=1)
    c.on_subscribe = lambda *_: ready.set()

    def echo(cl: mqtt.Client, _u: Any, m: mqtt.MQTTMessage) -> None:
        cl.publish(protocol.topic(PING, "results"), m.payload, qos=1)

    c.on_message = echo
    c.connect(host, int(port), 60)
    c.loop_start()
    if not ready.wait(60):
        raise RuntimeError("the echo terminal did not subscribe")
    return c


def child_terminals(args: argparse.Namespace) -> int:
    """N simulated terminals answering commands, health every interval; 'ready' once all
    listen; runs until stdin closes."""
    from kiosk.fleet.link import FleetLink, LinkDriver, LinkSettings, parse_broker_url
    from opscentre.bench import health_body
    from opscentre.sim_commands import Responder, load_keys

    creds: dict[str, str] = json.loads(Path(args.creds).read_text())
    address = parse_broker_url(args.broker)
    responder = Responder(load_keys([args.key]), session_share=0.0).start()
    drivers = [LinkDriver(f"bench-cmd-{n}").start() for n in range(args.drivers)]
    links = []
    for n, (tid, pw) in enumerate(sorted(creds.items())):
        link = FleetLink(tid, LinkSettings(address, pw, keepalive_s=60, max_queued=1000))
        responder.attach(link)
        drivers[n % len(drivers)].add(link, delay_s=n * 0.0005)
        links.append(link)
    echo = _echo(args.broker, os.environ.get("BENCH_PING_PASSWORD", ""))
    deadline = time.monotonic() + 300
    while not all(lk.listening for lk in links):
        if time.monotonic() > deadline:
            print(json.dumps({"error": "not all terminals listen for commands"}), flush=True)
            return 1
        time.sleep(0.1)
    stop = threading.Event()

    def health() -> None:  # the default interval, spread over it
        rnd = 0
        while not stop.is_set():
            step = args.health_interval / max(1, len(links))
            for i, lk in enumerate(links):
                if stop.wait(step):
                    return
                lk.publish("health", protocol.encode(protocol.Envelope(
                    lk.terminal, "health", health_body(i, rnd))))
            rnd += 1

    threading.Thread(target=health, daemon=True).start()
    print("ready", flush=True)
    sys.stdin.readline()
    stop.set()
    echo.loop_stop()
    responder.stop()
    for d in drivers:
        d.stop()
    return 0


# -- the parent ---------------------------------------------------------------------------------
class Pinger:
    """The centre's side of the baseline: publish on PING's commands, wait for the echo."""

    def __init__(self, broker: str, password: str) -> None:
        host, port = broker.removeprefix("mqtt://").rsplit(":", 1)
        self.got = threading.Event()
        self.want = ""
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-ping-{os.getpid()}",
                        protocol=MQTTProtocolVersion.MQTTv5)
        c.username_pw_set("opscentre", password)
        ready = threading.Event()
        c.on_connect = lambda cl, *_: cl.subscribe(protocol.topic(PING, "results"), qos=1)
        c.on_subscribe = lambda *_: ready.set()
        c.on_message = self._on_message
        c.connect(host, int(port), 60)
        c.loop_start()
        if not ready.wait(60):
            raise RuntimeError("the baseline client did not subscribe")
        self.client = c

    def _on_message(self, _c: Any, _u: Any, m: Any) -> None:
        if self.want and self.want.encode() in m.payload:
            self.got.set()

    def round_trip(self) -> float:
        self.want = secrets.token_hex(8)
        self.got.clear()
        env = protocol.Envelope(PING, "bench_ping", {"n": self.want})
        t0 = time.perf_counter()
        self.client.publish(protocol.topic(PING, "commands"), protocol.encode(env), qos=1)
        if not self.got.wait(30):
            raise RuntimeError("bench: the broker's echo never came back")
        return time.perf_counter() - t0

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _quantiles(values: list[float]) -> tuple[float, float]:
    q = statistics.quantiles(values, n=100, method="inclusive")
    return round(statistics.median(values), 4), round(q[98], 4)


def _command_rtt(api: requests.Session, console: str, terminal: str) -> float:
    t0 = time.perf_counter()
    r = api.post(f"{console}/api/commands", json={"terminal": terminal, "action": "selftest"},
                 timeout=30)
    if r.status_code != 201:
        raise RuntimeError(f"bench: POST /api/commands: HTTP {r.status_code} {r.text[:300]}")
    cid = r.json()["id"]
    deadline = time.monotonic() + 30
    while True:
        row = api.get(f"{console}/api/commands/{cid}", timeout=30).json()
        if row["state"] == "done":
            return time.perf_counter() - t0
        if row["final"] or time.monotonic() > deadline:
            raise RuntimeError(f"bench: command {cid} ended {row['state']} {row['reason']}")
        time.sleep(POLL_S)


def measure(quick: bool = False) -> dict[str, float]:
    """The numbers (a private broker, centre and fleet made and removed here)."""
    from opscentre import auth
    from opscentre.bench import Child
    from opscentre.broker import Mosquitto, embedded_broker
    from opscentre.db import make_engine, make_sessionmaker, upgrade
    from opscentre.signing import PUBLIC_FILE, init_keys

    n, samples = (30, 30) if quick else (1000, 300)
    with tempfile.TemporaryDirectory(prefix="kiosk-ops-bench-cmd-") as d:
        root = Path(d)
        ids = [f"C-{i:05d}" for i in range(n)]
        setup = embedded_broker(root / "broker", [*ids, PING])
        broker = Mosquitto(setup.write()).start()
        key, _ = init_keys(root / "keys")
        db = f"sqlite:///{root / 'centre.db'}"
        engine = make_engine(db, writer=True)
        upgrade(engine)
        with make_sessionmaker(engine)() as s:
            token = auth.create_token(s, "bench", "operator", by="bench")
        engine.dispose()
        creds = root / "creds.json"
        creds.write_text(json.dumps({t: setup.password(t) for t in ids}))
        serve = Child(["-m", "opscentre.cli", "serve", "--broker", setup.url, "--db", db,
                       "--listen", "127.0.0.1:0", "--instance", "bench-cmd", "--command-key",
                       str(key.path)],
                      {"KIOSK_OPS_BROKER_PASSWORD": setup.password("opscentre")},
                      log=root / "serve.log")
        fleet = None
        pinger = None
        try:
            console = json.loads(serve.line())["console"]
            fleet = Child(["-m", "opscentre.bench_commands", "terminals", "--broker",
                           setup.url, "--creds", str(creds), "--key",
                           str(root / "keys" / PUBLIC_FILE)],
                          {"BENCH_PING_PASSWORD": setup.password(PING)},
                          log=root / "terminals.log")
            ready = fleet.line()
            if ready != "ready":
                raise RuntimeError(f"bench: simulated terminals: {ready}")
            api = requests.Session()
            api.headers["Authorization"] = f"Bearer {token}"
            _settle(api, console, n)
            pinger = Pinger(setup.url, setup.password("opscentre"))
            rng = random.Random(16)
            for _ in range(5):  # warm both paths up (connections, caches)
                pinger.round_trip()
                _command_rtt(api, console, rng.choice(ids))
            rtts, base = [], []
            for _ in range(samples):
                base.append(pinger.round_trip())
                rtts.append(_command_rtt(api, console, rng.choice(ids)))
        finally:
            if pinger is not None:
                pinger.close()
            if fleet is not None:
                fleet.stop()
            serve.proc.send_signal(signal.SIGTERM)
            try:
                serve.proc.wait(30)
            except subprocess.TimeoutExpired:
                serve.stop()
            broker.stop()
    p50, p99 = _quantiles(rtts)
    b50, b99 = _quantiles(base)
    return {"command_rtt_p50_s": p50, "command_rtt_p99_s": p99,
            "command_rtt_baseline_p50_s": b50, "command_rtt_baseline_p99_s": b99,
            "command_rtt_terminals": float(n), "command_rtt_samples": float(samples)}


def _settle(api: requests.Session, console: str, n: int) -> None:
    """Wait until the centre shows all N terminals online (their states applied)."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        r = api.get(f"{console}/api/terminals", params={"status": "online", "limit": "1"},
                    timeout=30)
        if r.ok and int(r.headers.get("X-Total-Count", 0)) >= n:
            return
        time.sleep(0.2)
    raise RuntimeError("bench: the centre never showed every terminal online")


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m opscentre.bench_commands")
    sub = p.add_subparsers(dest="role", required=True)
    t = sub.add_parser("terminals")
    t.add_argument("--broker", required=True)
    t.add_argument("--creds", required=True)
    t.add_argument("--key", required=True)
    t.add_argument("--drivers", type=int, default=4)
    t.add_argument("--health-interval", type=float, default=60.0)
    m = sub.add_parser("measure")
    m.add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    if args.role == "terminals":
        return child_terminals(args)
    print(json.dumps(measure(args.quick)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
