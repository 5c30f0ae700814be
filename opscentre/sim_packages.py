"""Package updates of simulated terminals: the terminal's own TUF client over HTTP.

Each simulated terminal polls the package repository with the terminal's own updater
code (`kiosk.packages.updater.RepositoryClient`: `tuf.ngclient` verifying every piece of
metadata from the pinned root, then `choose`, which applies rings, buckets, the
app-version floor, the no-downgrade rule and a rollback's `replaces`) and downloads what
it chose through ngclient (length and hash checked; one shared download folder, so a
thousand terminals in one process fetch an archive once and check its hash each). It
does not unpack or validate the archive: `kiosk pack` and the real terminal do that.

Citizens come and go (a session, then an idle gap, both jittered). A staged version is
activated only between sessions (`waiting_for_session` is reported once if a session
holds it back), and every change is reported as the terminal reports it: a `package`
event (staged, waiting_for_session, activated, rejected, rolled_back) through the fleet
client's durable outbox, and the counters since activation (sessions, error screens,
faults) in the health body.

A version named "bad" (`--bad PKG@VERSION:rollback=0.3,errors=0.2`) makes a share of the
terminals fail to load it at activation (they roll back to the set they had, and never
take it again), and a share of the sessions on it end on an error screen.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import random
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kiosk.packages.rollout import GENERAL_RING
from kiosk.packages.store import Entry

log = logging.getLogger(__name__)

BUILTIN = "builtin@2026.11.1"
APP_VERSION = "0.1.0"  # what the updater compares min_app_version with


@dataclass(frozen=True)
class Bad:
    rollback: float = 0.0  # share of terminals whose activation fails (they roll back)
    errors: float = 0.0  # share of sessions that end on an error screen


def parse_bad(text: str) -> tuple[str, Bad]:
    """`PKG@VERSION[:rollback=0.3][,errors=0.2]` (nothing after the label: rollback=1)."""
    label, _, opts = text.partition(":")
    if "@" not in label:
        raise ValueError(f"--bad needs PKG@VERSION, not {text!r}")
    values = {"rollback": 0.0, "errors": 0.0} if opts else {"rollback": 1.0, "errors": 0.0}
    for part in filter(None, opts.split(",")):
        key, sep, value = part.partition("=")
        if not sep or key not in values:
            raise ValueError(f"--bad options are rollback=SHARE and errors=SHARE: {part!r}")
        share = float(value)
        if not 0 <= share <= 1:
            raise ValueError(f"--bad {key} is a share 0..1, not {value}")
        values[key] = share
    return label, Bad(values["rollback"], values["errors"])


@dataclass(frozen=True)
class PackageOptions:
    repository_url: str
    trusted_root: Path
    poll_s: float = 30.0  # each terminal polls this often (jittered ±20 %)
    ring0: int = 2  # the first N terminals (by id) are lab terminals, ring 0
    session_s: float = 20.0  # a citizen's session (jittered)
    idle_s: float = 30.0  # between sessions (exponential, this mean)
    bad: Mapping[str, Bad] = field(default_factory=dict)
    workers: int = 2  # threads polling the repository


@dataclass
class PkgTerminal:
    """One simulated terminal's package state."""

    tid: str
    ring: int
    work: Path
    emit: Callable[[dict[str, Any]], Any]  # report a `package` event body
    active: dict[str, Entry] = field(default_factory=dict)
    staged: list[Entry] | None = None
    rejected: set[str] = field(default_factory=set)
    counters: dict[str, int] = field(default_factory=lambda: {"sessions": 0,
                                                              "error_screens": 0,
                                                              "faults": 0})
    activated_at: str | None = None
    in_session: bool = False
    switch_at: float = 0.0
    poll_at: float = 0.0
    polling: bool = False
    waiting_reported: tuple[str, ...] = ()
    last_check: str | None = None

    def labels(self) -> list[str]:
        return [BUILTIN, *(e.label for e in sorted(self.active.values(), key=lambda e: e.id))]

    def health_packages(self) -> dict[str, Any]:
        """The health body's `packages` (as `kiosk.maintenance.health.package_state`, plus
        the ring, which a real terminal's configuration holds)."""
        return {"active": self.labels(),
                "staged": [e.label for e in self.staged] if self.staged is not None else None,
                "last_error": None, "last_check": self.last_check, "ring": self.ring}

    def health_counters(self) -> dict[str, Any]:
        return {"activated_at": self.activated_at, **self.counters}

    def report(self, entry: Entry | str, state: str, reason: str = "") -> None:
        label = entry.label if isinstance(entry, Entry) else entry
        package, _, version = label.partition("@")
        self.emit({"package": package, "version": version, "state": state,
                   "reason": reason[:300]})


@dataclass(frozen=True)
class Polled:
    terminal: PkgTerminal
    desired: list[Entry] | None  # None: the poll failed (error says why)
    refused: list[tuple[str, str]]
    error: str = ""


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def _share(*parts: str) -> float:
    """A stable number in [0, 1) for a terminal and a version: the same terminals are the
    bad share of a bad version in every run."""
    digest = hashlib.sha256("\x00".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


class SimPackages:
    """The package side of every simulated terminal: polls on a small thread pool, sessions
    and activations on the simulator's loop (`tick`)."""

    def __init__(self, options: PackageOptions, work_dir: Path, rng: random.Random) -> None:
        from tuf.ngclient import Urllib3Fetcher

        from kiosk.packages.store import Store

        self.o = options
        self.work = work_dir
        self.rng = rng
        self.terminals: list[PkgTerminal] = []
        self.store = Store(work_dir / "unused-store")  # the client's fetch is not used
        self.fetcher = Urllib3Fetcher()  # one connection pool for every terminal
        self.downloads = work_dir / "downloads"
        self.downloads.mkdir(parents=True, exist_ok=True)
        self._locks: dict[str, threading.Lock] = {}
        self._locks_lock = threading.Lock()
        self._done: queue.Queue[Polled] = queue.Queue()
        self._pool = ThreadPoolExecutor(max(1, options.workers), thread_name_prefix="sim-pkg")
        self.polls = 0
        self.poll_errors = 0

    def attach(self, tid: str, emit: Callable[[dict[str, Any]], Any]) -> PkgTerminal:
        n = len(self.terminals)
        t = PkgTerminal(tid, 0 if n < self.o.ring0 else GENERAL_RING, self.work / tid, emit)
        now = time.monotonic()
        t.poll_at = now + self.rng.uniform(0, self.o.poll_s)
        t.switch_at = now + self.rng.expovariate(1 / max(self.o.idle_s, 0.01))
        self.terminals.append(t)
        return t

    def stop(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    # -- the loop -----------------------------------------------------------------------
    def tick(self, now: float, alive: Callable[[PkgTerminal], bool]) -> None:
        """Sessions begin and end, staged sets activate between them, polls are sent off
        and their results applied (all on the simulator's thread)."""
        while True:
            try:
                done = self._done.get_nowait()
            except queue.Empty:
                break
            done.terminal.polling = False
            self._apply_poll(done)
        for t in self.terminals:
            if not alive(t):
                continue
            if now >= t.switch_at:
                self._switch(t, now)
            if t.staged is not None and not t.in_session:
                self._activate(t)
            elif t.staged is not None and t.in_session:
                key = tuple(e.label for e in t.staged)
                if key != t.waiting_reported:
                    t.waiting_reported = key
                    for e in t.staged:
                        if t.active.get(e.id) != e:
                            t.report(e, "waiting_for_session", "session_active")
            if now >= t.poll_at and not t.polling:
                t.polling = True
                t.poll_at = now + self.o.poll_s * self.rng.uniform(0.8, 1.2)
                self._pool.submit(self._poll_job, t)

    def _switch(self, t: PkgTerminal, now: float) -> None:
        if t.in_session:  # the citizen leaves: an error screen on a bad version, maybe
            t.in_session = False
            bad = self._bad_of(t)
            if bad is not None and bad.errors > 0 and self.rng.random() < bad.errors:
                t.counters["error_screens"] += 1
            t.switch_at = now + self.rng.expovariate(1 / max(self.o.idle_s, 0.01))
        else:
            t.in_session = True
            t.counters["sessions"] += 1
            t.switch_at = now + self.o.session_s * self.rng.uniform(0.5, 1.5)

    def _bad_of(self, t: PkgTerminal) -> Bad | None:
        for e in t.active.values():
            if e.label in self.o.bad:
                return self.o.bad[e.label]
        return None

    def _activate(self, t: PkgTerminal) -> None:
        staged, t.staged, t.waiting_reported = t.staged or [], None, ()
        new = [e for e in staged if t.active.get(e.id) != e]
        gone = [e for e in t.active.values() if e.id not in {s.id for s in staged}]
        for e in new:  # a bad version fails to load on its share of terminals
            bad = self.o.bad.get(e.label)
            if bad is not None and _share(t.tid, e.label) < bad.rollback:
                t.rejected.add(e.sha256)
                t.report(e, "rolled_back", f"{e.label}: set failed to load (simulated)")
                return  # the previous set stays active
        if not new and not gone:
            return
        t.active = {e.id: e for e in staged}
        t.activated_at = _now()
        t.counters = dict.fromkeys(t.counters, 0)
        for e in new:
            t.report(e, "activated")

    # -- polling (worker threads) ---------------------------------------------------------
    def _poll_job(self, t: PkgTerminal) -> None:
        try:
            self._done.put(self._poll(t))
        except Exception as exc:  # one terminal's poll never stops the others
            log.exception("simulated poll failed")
            self._done.put(Polled(t, None, [], f"{type(exc).__name__}: {exc}"))

    def _poll(self, t: PkgTerminal) -> Polled:
        from kiosk.packages.updater import ClientSettings, RepositoryClient, UpdateError

        self.polls += 1
        current = list(t.staged if t.staged is not None else t.active.values())
        settings = ClientSettings(self.o.repository_url, self.o.trusted_root, t.work, t.tid,
                                  t.ring, APP_VERSION)
        try:
            client = RepositoryClient(settings, self.store, fetcher=self.fetcher)
            choice = client.choose(current, set(t.rejected))
        except UpdateError as exc:
            self.poll_errors += 1
            return Polled(t, None, [], f"{exc.stage}: {exc.reason}")
        desired: list[Entry] = []
        refused = list(choice.refused)
        for target in choice.targets:
            entry = target.entry
            if not target.path or entry in current:
                desired.append(entry)
                continue
            try:
                self._download(client, target.path, target.sha256)
            except UpdateError as exc:
                refused.append((target.label, f"{exc.stage}: {exc.reason}"))
                desired.extend(e for e in current if e.id == target.package)
                continue
            desired.append(entry)
        return Polled(t, sorted(desired, key=lambda e: e.id), refused)

    def _download(self, client: Any, path: str, sha256: str) -> None:
        from tuf.api import exceptions as tuf_errors

        from kiosk.packages.updater import UpdateError

        with self._locks_lock:
            lock = self._locks.setdefault(sha256, threading.Lock())
        with lock:
            info = client.updater.get_targetinfo(path)
            if info is None:
                raise UpdateError("verify", f"{path} not in the signed targets")
            dest = str(self.downloads / sha256)
            try:
                if client.updater.find_cached_target(info, dest) is None:
                    client.updater.download_target(info, dest)
            except (tuf_errors.DownloadError, tuf_errors.RepositoryError) as exc:
                raise UpdateError("download", str(exc)[:300]) from exc

    def _apply_poll(self, p: Polled) -> None:
        t = p.terminal
        t.last_check = _now()
        for label, why in p.refused:
            t.report(label, "rejected", why)
        if p.desired is None:
            return
        current = sorted(t.staged if t.staged is not None else t.active.values(),
                         key=lambda e: e.id)
        if p.desired == current:
            return
        active = sorted(t.active.values(), key=lambda e: e.id)
        if p.desired == active:
            t.staged = None  # unstaged: the repository went back to what runs
            return
        t.staged = p.desired
        for e in p.desired:
            if t.active.get(e.id) != e:
                t.report(e, "staged")
