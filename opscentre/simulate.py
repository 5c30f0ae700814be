"""The fleet simulator: N terminals running the real fleet-client code in one process.

Each simulated terminal is a `kiosk.fleet.client.FleetClient` (the terminal's own code:
its link, last will, retained state, health, events through a durable outbox acknowledged
on PUBACK), with simulated devices whose health is built by the terminal's own
`heartbeat_payload`. A few `LinkDriver` threads drive all links over selectors (5,000
terminals do not need 5,000 threads); one outbox database holds every terminal's events
as a stream of its own (`events:<id>`), drained by one replay worker.

Scripted faults over the run (seeded, so a run can be repeated): receipt paper low, then
out, then refilled; the ID-card reader unplugged and plugged back; offline periods (the
link cut as a pulled cable would: the broker publishes the will, events queue and go out
on reconnect); terminals that die without a goodbye (the will is the last word).

Package updates (`--repository`/`--stack`, `opscentre.sim_packages`): each terminal polls
the TUF repository with the terminal's own updater code, stages, activates between
simulated citizens' sessions and reports; `--bad PKG@VER:rollback=R,errors=E` makes a
version fail on a share of them.

    kiosk-ops simulate --stack DIR --terminals N --seconds S [options]
    kiosk-ops simulate --broker URL --credentials FILE --terminals N --seconds S
"""

from __future__ import annotations

import argparse
import heapq
import json
import logging
import random
import shutil
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path

from kiosk.fleet.client import (
    EVENTS_STREAM,
    FleetClient,
    FleetSettings,
    MqttDeliverer,
    open_fleet_outbox,
)
from kiosk.fleet.link import FleetLink, LinkDriver, LinkSettings, parse_broker_url
from kiosk.heartbeat import fault_signature, heartbeat_payload
from kiosk.maintenance.health import DeviceHealth, HealthSnapshot
from offline_cache.replay import Backoff, ReplayWorker
from opscentre.sim_commands import Responder, load_keys
from opscentre.sim_packages import PackageOptions, PkgTerminal, SimPackages, parse_bad

log = logging.getLogger(__name__)

DEVICES = ("idcard", "sscard", "receipt", "a4", "scanner", "camera")
SIM_PREFIX = "SIM-"
APP_VERSION = "0.1.0-sim"
PACKAGES = {"active": ["builtin@2026.11.1"], "rejected": [], "rolled_back": []}


@dataclass(frozen=True)
class Options:
    broker: str
    credentials: dict[str, str]  # terminal id -> password
    seconds: float
    health_interval_s: float = 30.0
    jitter: float = 0.2  # health interval varies by +-20 %
    drivers: int = 2
    fault_share: float = 0.1  # terminals with a scripted device fault during the run
    offline_share: float = 0.02  # terminals with an offline period
    die: int = 1  # terminals that die without a goodbye
    seed: int | None = None
    ca_file: str = ""
    data_dir: str = ""  # the shared events outbox ("" = a temporary folder)
    # remote commands (opscentre.sim_commands): the pinned public keys (paths or base64)
    # and the share of terminals "in a session" when a disruptive command arrives
    command_keys: tuple[str, ...] = ()
    session_share: float = 0.2
    # package updates over TUF, sessions, bad versions (opscentre.sim_packages); None: off
    packages: PackageOptions | None = None


@dataclass
class Report:
    terminals: int = 0
    connected_peak: int = 0
    health_sent: int = 0
    health_skipped: int = 0
    events: int = 0
    events_pending: int = 0
    offline_periods: int = 0
    died: list[str] = field(default_factory=list)
    seconds: float = 0.0
    commands_answered: int = 0
    commands_refused: int = 0
    package_polls: int = 0


class SimTerminal:
    """One simulated terminal: devices, a health cadence, the real fleet client."""

    def __init__(self, client: FleetClient, rng: random.Random) -> None:
        self.client = client
        self.tid = client.terminal
        self.boot = uuid.uuid4().hex[:12]
        self.started = time.time()
        self.seq = 0
        self.rng = rng
        self.devices: dict[str, tuple[str, tuple[str, ...]]] = dict.fromkeys(
            DEVICES, ("online", ()))
        self.dead = False
        self.pkg: PkgTerminal | None = None  # its package state (opscentre.sim_packages)

    def health(self, fleet_outbox_depth: int, interval_s: float) -> bool:
        now = time.time()
        self.seq += 1
        snap = HealthSnapshot(
            at=now, terminal_id=self.tid, app_version=APP_VERSION,
            uptime_s=now - self.started, system_uptime_s=now - self.started + 600,
            disk={"free_mb": 40_000 + self.rng.randrange(2_000), "total_mb": 120_000},
            devices=tuple(DeviceHealth(k, "sim://", st, det)
                          for k, (st, det) in self.devices.items()),
            network={"link": "online"},
            outbox={"available": True, "total": 0, "depth": {}, "oldest_age_s": None,
                    "dead_letters": 0},
            packages=self.pkg.health_packages() if self.pkg else PACKAGES)
        extra = {"heartbeat": {"interval_s": interval_s, "failed": 0},
                 "fleet": {"events_pending": fleet_outbox_depth}, "simulated": True,
                 **(self.pkg.health_counters() if self.pkg else {})}
        return self.client.publish_health(heartbeat_payload(snap, self.seq, self.boot, extra))

    def set_device(self, kind: str, state: str, details: tuple[str, ...] = ()) -> str | None:
        """Change a device; report the change as the terminal's heartbeat would."""
        before = fault_signature(DeviceHealth(kind, "sim://", *self.devices[kind]))
        self.devices[kind] = (state, details)
        after = fault_signature(DeviceHealth(kind, "sim://", state, details))
        if before == after:
            return None
        event = "recovered" if after[0] == "ok" else after[0]
        if event == "fault" and self.pkg is not None:
            self.pkg.counters["faults"] += 1  # since the package set's activation
        return self.client.report_event(event, {
            "boot": self.boot, "device": kind, "state": state, "details": list(details),
            "message": "", "at": round(time.time(), 3)})


def _script(terminals: list[SimTerminal], o: Options,
            rng: random.Random) -> list[tuple[float, int, str, str, tuple[str, ...]]]:
    """(at, seq, terminal id, action, args) for the whole run, seeded."""
    span = max(1.0, o.seconds)
    out: list[tuple[float, int, str, str, tuple[str, ...]]] = []
    n = len(terminals)
    order = rng.sample(range(n), n)
    faulty = order[:int(n * o.fault_share)]
    offline = order[len(faulty):len(faulty) + int(n * o.offline_share)]
    dying = order[len(faulty) + len(offline):][:o.die]
    for k, i in enumerate(faulty):
        tid = terminals[i].tid
        t = rng.uniform(0.05, 0.5) * span
        if k % 2 == 0:  # paper runs low, then out, then someone refills it
            out += [(t, len(out), tid, "device", ("receipt", "online", "paper_low")),
                    (t + 0.15 * span, len(out) + 1, tid, "device",
                     ("receipt", "user_error", "paper_out")),
                    (t + 0.35 * span, len(out) + 2, tid, "device", ("receipt", "online"))]
        else:  # the card reader is unplugged, then plugged back
            out += [(t, len(out), tid, "device", ("idcard", "no_device")),
                    (t + 0.3 * span, len(out) + 1, tid, "device", ("idcard", "online"))]
    for i in offline:
        out.append((rng.uniform(0.1, 0.5) * span, len(out), terminals[i].tid, "offline",
                    (f"{0.25 * span:.3f}",)))
    for i in dying:
        out.append((rng.uniform(0.2, 0.6) * span, len(out), terminals[i].tid, "die", ()))
    out.sort()
    return out


def simulate(o: Options, *, stop_at: float | None = None,
             stop: threading.Event | None = None) -> Report:
    """Run the fleet for `o.seconds` (or until `stop` is set); everything connected is
    closed at the end."""
    rng = random.Random(o.seed)
    address = parse_broker_url(o.broker)
    tmp = None if o.data_dir else tempfile.mkdtemp(prefix="kiosk-sim-")
    outbox = open_fleet_outbox(Path(o.data_dir or tmp or "."))
    backoff = Backoff(1.0, 30.0)
    drivers = [LinkDriver(f"sim-link-{n}", backoff=backoff, rng=random.Random(rng.random()))
               for n in range(max(1, o.drivers))]
    links: dict[str, FleetLink] = {}
    worker = ReplayWorker(outbox, MqttDeliverer(lambda s: links.get(s.partition(":")[2])),
                          batch_size=50, backoff=backoff, idle_poll_s=5.0)
    outbox.on_enqueue(worker.wake)
    terminals: list[SimTerminal] = []
    report = Report()
    responder = Responder(load_keys(o.command_keys), session_share=o.session_share,
                          seed=rng.randrange(2**32)).start()
    pkgs = SimPackages(o.packages, Path(o.data_dir or tmp or ".") / "packages",
                       random.Random(rng.random())) if o.packages else None
    try:
        for n, (tid, pw) in enumerate(sorted(o.credentials.items())):
            settings = FleetSettings(tid, LinkSettings(address, pw, ca_file=o.ca_file,
                                                       keepalive_s=30, max_queued=100),
                                     reconnect_spread_s=2.0)
            client = FleetClient(settings, outbox, driver=drivers[n % len(drivers)],
                                 stream=f"{EVENTS_STREAM}:{tid}", worker=worker,
                                 online_body=lambda: {"app_version": APP_VERSION,
                                                      "simulated": True})
            links[tid] = client.link
            responder.attach(client.link)
            terminals.append(SimTerminal(client, random.Random(rng.random())))
            if pkgs is not None:
                terminals[-1].pkg = pkgs.attach(tid, partial(client.report_event, "package"))
        for d in drivers:
            d.start()
        worker.start()
        for n, t in enumerate(terminals):  # spread the connects: not all in one instant
            t.client.driver.add(t.client.link, delay_s=n * 0.0005)
        report = _run(terminals, o, rng, stop_at, pkgs, stop)
    finally:
        for t in terminals:
            if not t.dead and t.client.link.connected:
                t.client.link.goodbye(0.0)
        for d in drivers:
            d.flush([t.client.link for t in terminals if t.client.driver is d], 5.0)
        worker.stop()
        responder.stop()
        if pkgs is not None:
            pkgs.stop()
            report.package_polls = pkgs.polls
        report.commands_answered = sum(s.answered for s in responder.states.values())
        report.commands_refused = sum(s.refused for s in responder.states.values())
        report.events_pending = outbox.depth()
        for d in drivers:
            d.stop()
        outbox.close()
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    return report


def _run(terminals: list[SimTerminal], o: Options, rng: random.Random,
         stop_at: float | None, pkgs: SimPackages | None = None,
         stop: threading.Event | None = None) -> Report:
    report = Report(terminals=len(terminals))
    start = time.monotonic()
    end = stop_at or start + o.seconds
    by_id = {t.tid: t for t in terminals}
    script = _script(terminals, o, rng)
    beats = [(start + rng.uniform(0, o.health_interval_s), i) for i in range(len(terminals))]
    heapq.heapify(beats)
    step = 0
    while True:
        now = time.monotonic()
        if now >= end or (stop is not None and stop.is_set()):
            break
        report.connected_peak = max(report.connected_peak,
                                    sum(t.client.connected for t in terminals))
        while step < len(script) and start + script[step][0] <= now:
            _act(by_id[script[step][2]], script[step][3], script[step][4], report)
            step += 1
        while beats and beats[0][0] <= now:
            _, i = heapq.heappop(beats)
            t = terminals[i]
            if t.dead:
                continue
            if t.health(t.client.pending(), o.health_interval_s):
                report.health_sent += 1
            else:
                report.health_skipped += 1
            wait = o.health_interval_s * (1 + rng.uniform(-o.jitter, o.jitter))
            heapq.heappush(beats, (now + max(0.05, wait), i))
        if pkgs is not None:  # sessions, activations between them, polls
            pkgs.tick(now, lambda p: not by_id[p.tid].dead)
        nxt = min([end, beats[0][0] if beats else end,
                   start + script[step][0] if step < len(script) else end])
        time.sleep(max(0.0, min(0.25, nxt - time.monotonic())))
    report.seconds = round(time.monotonic() - start, 2)
    return report


def _act(t: SimTerminal, action: str, args: tuple[str, ...], report: Report) -> None:
    if t.dead:
        return
    if action == "device":
        kind, state, *details = args
        if t.set_device(kind, state, tuple(details)) is not None:
            report.events += 1
    elif action == "offline":
        report.offline_periods += 1
        t.client.link.cut(float(args[0]))
    elif action == "die":
        t.dead = True
        report.died.append(t.tid)
        t.client.link.cut(None)


# -- command line (kiosk-ops simulate) -------------------------------------------------------
def credentials_from(path: Path) -> dict[str, str]:
    """A broker.json (opscentre.broker) or a plain {terminal id: password} JSON file."""
    data = json.loads(path.read_text())
    creds = data.get("terminals", data) if isinstance(data, dict) else None
    if not isinstance(creds, dict) or not all(isinstance(v, str) for v in creds.values()):
        raise ValueError(f"{path}: not a broker.json or a {{terminal: password}} object")
    return dict(creds)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kiosk-ops simulate",
                                description="Simulated terminals running the real fleet client")
    p.add_argument("--stack", metavar="DIR", help="a kiosk-ops stack folder (broker, SIM-* "
                   "credentials)")
    p.add_argument("--broker", metavar="URL", help="mqtt://host:port (default: the stack's)")
    p.add_argument("--credentials", metavar="FILE",
                   help="broker.json or {terminal: password} JSON (with --broker)")
    p.add_argument("--terminals", type=int, required=True, metavar="N")
    p.add_argument("--seconds", type=float, required=True, metavar="S")
    p.add_argument("--health-interval", type=float, default=30.0, metavar="S")
    p.add_argument("--jitter", type=float, default=0.2)
    p.add_argument("--drivers", type=int, default=2, help="network threads (default 2)")
    p.add_argument("--faults", type=float, default=0.1, help="share of terminals with a "
                   "scripted device fault")
    p.add_argument("--offline", type=float, default=0.02, help="share with an offline period")
    p.add_argument("--die", type=int, default=1, help="terminals that die without a goodbye")
    p.add_argument("--seed", type=int)
    p.add_argument("--ca-file", default="")
    p.add_argument("--command-key", action="append", default=[], metavar="KEY",
                   help="a pinned public key for commands (path or base64; repeatable; "
                   "default with --stack: the stack's)")
    p.add_argument("--session-share", type=float, default=0.2, help="share of terminals in "
                   "a citizen's session when a disruptive command comes (it waits)")
    g = p.add_argument_group("package updates (opscentre.sim_packages)")
    g.add_argument("--repository", metavar="URL", help="the TUF repository's URL (default "
                   "with --stack: the stack's); terminals poll it, stage, activate between "
                   "sessions and report")
    g.add_argument("--trusted-root", metavar="FILE", help="the pinned root.json")
    g.add_argument("--package-poll", type=float, default=30.0, metavar="S")
    g.add_argument("--ring0", type=int, default=2, metavar="N",
                   help="the first N terminals are lab terminals (ring 0)")
    g.add_argument("--session", type=float, default=20.0, metavar="S",
                   help="a citizen's session lasts about S seconds")
    g.add_argument("--idle", type=float, default=30.0, metavar="S",
                   help="mean time between sessions")
    g.add_argument("--bad", action="append", default=[], metavar="PKG@VER[:rollback=R,errors=E]",
                   help="a bad version: share R of terminals roll it back, share E of "
                   "sessions on it end on an error screen (repeatable)")
    p.add_argument("--json", action="store_true", help="print the report as one JSON line")
    return p


def package_options(args: argparse.Namespace) -> PackageOptions | None:
    """The package side's options (None when no repository is known)."""
    url, root = args.repository, args.trusted_root
    if args.stack and not url:
        stack = json.loads((Path(args.stack) / "stack.json").read_text())
        url = stack.get("repository", "")
        root = root or stack.get("trusted_root", "")
    if not url:
        if args.bad:
            raise ValueError("--bad needs a package repository (--repository or --stack)")
        return None
    if not root or not Path(root).is_file():
        raise ValueError(f"--trusted-root: no pinned root.json at {root!r}")
    if args.package_poll <= 0 or args.session <= 0 or args.idle <= 0 or args.ring0 < 0:
        raise ValueError("--package-poll, --session and --idle must be positive")
    return PackageOptions(url, Path(root), args.package_poll, args.ring0, args.session,
                          args.idle, dict(parse_bad(b) for b in args.bad))


def options_from(args: argparse.Namespace) -> Options:
    if args.terminals < 1 or args.seconds <= 0 or args.health_interval <= 0:
        raise ValueError("--terminals, --seconds and --health-interval must be positive")
    if args.stack:
        from opscentre.broker import BrokerSetup

        setup = BrokerSetup.load(args.stack)
        creds = {k: v for k, v in setup.terminals.items() if k.startswith(SIM_PREFIX)}
        broker = args.broker or setup.url
        stack_key = Path(args.stack) / "keys" / "command-key.pub"
        if not args.command_key and stack_key.exists():
            args.command_key = [str(stack_key.resolve())]
    elif args.broker and args.credentials:
        creds = credentials_from(Path(args.credentials))
        broker = args.broker
    else:
        raise ValueError("give --stack DIR, or --broker URL with --credentials FILE")
    parse_broker_url(broker)
    chosen = dict(sorted(creds.items())[:args.terminals])
    if len(chosen) < args.terminals:
        raise ValueError(f"credentials for {len(chosen)} simulated terminal(s) only, "
                         f"{args.terminals} asked (kiosk-ops stack --simulated N provisions "
                         "more)")
    load_keys(args.command_key)  # refuses an unreadable key now
    return Options(broker, chosen, args.seconds, args.health_interval, args.jitter,
                   args.drivers, args.faults, args.offline, args.die, args.seed, args.ca_file,
                   command_keys=tuple(args.command_key), session_share=args.session_share,
                   packages=package_options(args))


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("kiosk.fleet").setLevel(logging.ERROR)  # thousands of links' news
    try:
        options = options_from(args)
    except (ValueError, OSError, KeyError) as exc:
        print(f"kiosk-ops simulate: {exc}", file=sys.stderr)
        return 2
    report = simulate(options)
    out = asdict(report)
    print(json.dumps(out) if args.json else "\n".join(f"{k}: {v}" for k, v in out.items()))
    return 0
