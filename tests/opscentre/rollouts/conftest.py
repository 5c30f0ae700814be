"""Fixtures of the rollout tests: an ops workstation (keys made here, a TUF repository
written by `kiosk pack`'s code, signed archives in an inbox), the repository served over
real HTTP, and the fleet's reports put in through the centre's own ingest (Applier)."""

from __future__ import annotations

import datetime as dt
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from kiosk.fleet.protocol import Envelope
from kiosk.packages import keys as keymod
from kiosk.packages import ops
from kiosk.packages.repository import Repository
from opscentre import alerts, rollouts
from opscentre.apply import Applier, Message
from opscentre.db import from_unix, make_engine, make_sessionmaker, upgrade
from opscentre.ingest import Ingest, IngestSettings
from opscentre.rollouts import Publisher
from opscentre.settings import AlertRules, RolloutSettings


def write_source(dst: Path, pkg_id: str, version: str, title: str) -> Path:
    """A package source folder with one simple service (consent, then finish)."""
    (dst / "flows").mkdir(parents=True)
    (dst / "strings").mkdir()
    (dst / "flows" / "housing_proof.toml").write_text(
        'id = "housing_proof"\ntitle = "flow.housing_proof.title"\norder = 20\n'
        "requires_online = false\nenabled = true\n\n"
        '[[steps]]\nid = "consent"\ntype = "consent"\ntext = "flow.housing_proof.consent"\n\n'
        '[[steps]]\nid = "done"\ntype = "finish"\n', "utf-8")
    (dst / "manifest.toml").write_text(
        f'id = "{pkg_id}"\nversion = "{version}"\nmin_app_version = "0.1.0"\n'
        'flows = ["housing_proof"]\n', "utf-8")
    zh = {"flow.housing_proof.title": title,
          "flow.housing_proof.consent": "本业务将使用您的身份信息。"}
    for locale in ("zh_CN", "zh_HK", "en"):
        (dst / "strings" / f"{locale}.json").write_text(json.dumps(zh, ensure_ascii=False),
                                                        "utf-8")
    return dst


@dataclass
class Ops:
    """Keys, a repository (root signed here, 'offline'), an inbox of signed archives."""

    base: Path
    n: int = 0

    @property
    def repo_dir(self) -> Path:
        return self.base / "repo"

    @property
    def keys(self) -> Path:
        return self.base / "package-keys"

    @property
    def inbox(self) -> Path:
        return self.base / "inbox"

    def setup(self) -> Ops:
        for role in ("targets", "snapshot", "timestamp", "signer"):
            keymod.generate(self.keys, role)
        offline = self.base / "offline"
        keymod.generate(offline, "root")
        Repository(self.repo_dir).write_root(
            root_keys=[keymod.load_public(offline / "root.pub")], root_threshold=1,
            role_keys={r: [keymod.load_public(self.keys / f"{r}.pub")]
                       for r in ("targets", "snapshot", "timestamp")},
            role_thresholds={}, signers=[keymod.load_private(offline / "root.key")])
        self.inbox.mkdir(parents=True)
        return self

    @property
    def repo(self) -> Repository:
        return Repository(self.repo_dir)

    @property
    def pinned_root(self) -> Path:
        return self.repo_dir / "metadata" / "1.root.json"

    def build(self, pkg_id: str, version: str, title: str = "住房证明") -> Path:
        """A built and signed archive in the inbox (`kiosk pack build` + `sign`)."""
        self.n += 1
        src = write_source(self.base / "src" / f"{self.n}-{pkg_id}", pkg_id, version, title)
        archive, _ = ops.build(src, self.inbox / f"{pkg_id}-{version}.kpkg")
        ops.sign(archive, keymod.load_private(self.keys / "signer.key"))
        return archive

    def publish(self, pkg_id: str, version: str) -> Path:
        """`kiosk pack publish` to every terminal (the version fleets run today)."""
        archive = self.build(pkg_id, version)
        ops.publish(archive, self.repo_dir, self.keys)
        return archive

    def settings(self, **kw: Any) -> RolloutSettings:
        base: dict[str, Any] = {"repository": str(self.repo_dir), "keys": str(self.keys),
                                "inbox": str(self.inbox), "soak_s": 0.0}
        return RolloutSettings(**{**base, **kw})

    def publisher(self, **kw: Any) -> Publisher:
        return Publisher(self.settings(**kw))

    def target(self, pkg_id: str, version: str) -> dict[str, Any] | None:
        for tf in self.repo.list_targets().values():
            if (tf.custom.get("package"), tf.custom.get("version")) == (pkg_id, version):
                return dict(tf.custom)
        return None


@pytest.fixture
def ops_repo(tmp_path: Path) -> Ops:
    return Ops(tmp_path / "ops").setup()


@dataclass
class Served:
    url: str
    hits: list[str] = field(default_factory=list)


@pytest.fixture
def served_repo(ops_repo: Ops) -> Iterator[Served]:
    """The repository folder on a static HTTP server (what a CDN is to terminals)."""
    hits: list[str] = []

    class Handler(SimpleHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            hits.append(self.path)
            super().do_GET()

    httpd = ThreadingHTTPServer(("127.0.0.1", 0),
                                partial(Handler, directory=str(ops_repo.repo_dir)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield Served(f"http://127.0.0.1:{httpd.server_address[1]}", hits)
    finally:
        httpd.shutdown()
        httpd.server_close()


class Fleet:
    """Terminals' messages applied by the centre's ingest code, as if they came over MQTT."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions
        self.applier = Applier()
        self.clock = time.time()

    def _apply(self, *messages: Message) -> None:
        with self.sessions.begin() as s:
            self.applier.apply(s, list(messages))

    def tick(self, seconds: float = 1.0) -> float:
        self.clock += seconds
        return self.clock

    def advance(self, seconds: float) -> dt.datetime:
        """Move the fleet's clock (terminals' and the centre's receiving one): the `now`
        of the centre's next pass."""
        return dt.datetime.fromtimestamp(self.tick(seconds), dt.UTC)

    def online(self, *tids: str) -> None:
        for tid in tids:
            self._apply(Message("state", Envelope(tid, "state", {
                "online": True, "session": f"s-{tid}"}, at=self.tick(0.001)),
                from_unix(self.clock)))

    def offline(self, *tids: str) -> None:
        for tid in tids:
            self._apply(Message("state", Envelope(tid, "state", {
                "online": False, "session": f"s-{tid}", "reason": "disconnect"},
                at=self.tick(0.001)), from_unix(self.clock)))

    def health(self, tid: str, active: list[str], *, ring: int | None = None,
               sessions: int = 0, error_screens: int = 0, faults: int = 0,
               app_version: str = "1.4.0") -> None:
        """A heartbeat body as `kiosk.heartbeat` sends it (counters at the top level)."""
        packages: dict[str, Any] = {"active": ["builtin@1.0.0", *active], "staged": None,
                                    "last_error": None}
        if ring is not None:
            packages["ring"] = ring
        body = {"app_version": app_version, "uptime_s": 100, "heartbeat": {"interval_s": 60},
                "devices": {}, "outbox": {"total": 0}, "packages": packages,
                "activated_at": "2026-12-02T08:00:00+00:00", "sessions": sessions,
                "error_screens": error_screens, "faults": faults}
        at = self.tick(0.01)
        self._apply(Message("health", Envelope(tid, "health", body, at=at), from_unix(at)))

    def package(self, tid: str, label: str, state: str, reason: str = "") -> None:
        """A `package` event (kiosk.packages.reports.PackageEvent) from the terminal."""
        pkg, _, version = label.partition("@")
        at = self.tick(0.01)
        self._apply(Message("events", Envelope(tid, "package", {
            "package": pkg, "version": version, "state": state, "reason": reason}, at=at),
            from_unix(at)))


@pytest.fixture
def fleet_of(centre_db: Any) -> Callable[[], Fleet]:
    return lambda: Fleet(centre_db[1])


@pytest.fixture
def fleet_on() -> Callable[[sessionmaker[Session]], Fleet]:
    """`fleet_on(sessions)`: the fleet's reports into another database (the console's)."""
    return Fleet


PASSWORDS = {"ada": "admin-pass-1234", "otto": "operator-pass-1234", "vera": "viewer-pass-1234"}
ROLES = {"ada": "admin", "otto": "operator", "vera": "viewer"}


class Console:
    """The console app (rollout pages attached to the ops repository) on the test database,
    with three users; `signed_in(name)` logs in through the real login form."""

    def __init__(self, sessions: sessionmaker[Session], ops: Ops, **settings: Any) -> None:
        from opscentre import auth
        from opscentre.web import create_app
        from opscentre.web import rollouts as pages

        self.sessions = sessions
        with sessions() as s:
            for user, role in ROLES.items():
                auth.add_user(s, user, role, PASSWORDS[user], by="test")
        self.app = create_app(sessions)
        self.publisher = ops.publisher(**settings)
        pages.attach(self.app, self.publisher)

    def client(self) -> Any:
        from fastapi.testclient import TestClient

        return TestClient(self.app)

    def signed_in(self, name: str) -> Any:
        c = self.client()
        page = c.get("/login")
        r = c.post("/login", data={"name": name, "password": PASSWORDS[name],
                                   "csrf": csrf_of(page.text), "next": "/fleet"},
                   follow_redirects=False)
        assert r.status_code == 303, r.text
        return c


def csrf_of(html: str) -> str:
    import re

    m = re.search(r'name="csrf" value="([^"]*)"', html)
    assert m, "no CSRF field in the page"
    return m.group(1)


@pytest.fixture
def make_console(tmp_path: Path, ops_repo: Ops) -> Iterator[Callable[..., Console]]:
    """On SQLite: the pages' queries are the engine tests' (test_rollouts.py), on both."""
    from opscentre.db import make_engine, make_sessionmaker, upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'console.db'}")
    upgrade(engine)
    yield lambda **settings: Console(make_sessionmaker(engine), ops_repo, **settings)
    engine.dispose()


@dataclass
class Live:
    """The centre's parts a rollout needs (`centre` fixture)."""

    db: sessionmaker[Session]
    ops: Any
    stop: threading.Event


@pytest.fixture
def centre(mosquitto: Any, tmp_path: Path, ops_repo: Any) -> Iterator[Live]:
    """The centre's parts that a rollout needs, as `kiosk-ops serve` runs them."""
    url = f"sqlite:///{tmp_path / 'centre.db'}"
    writer, reader = make_engine(url, writer=True), make_engine(url)
    upgrade(writer)
    sessions, read = make_sessionmaker(writer), make_sessionmaker(reader)
    ingest = Ingest(IngestSettings(mosquitto.setup.url, "opscentre",
                                   mosquitto.setup.password("opscentre"),
                                   instance=secrets.token_hex(4),
                                   group=f"g{secrets.token_hex(4)}"), sessions).start()
    assert ingest.wait_ready()
    stop = threading.Event()
    workers = [
        threading.Thread(target=rollouts.run, args=(ops_repo.publisher(), read, stop, 0.2)),
        threading.Thread(target=alerts.run, args=(alerts.AlertEngine(
            AlertRules(clear_hold_s=0)), sessions, stop, 0.2))]
    for w in workers:
        w.start()
    try:
        yield Live(read, ops_repo, stop)
    finally:
        stop.set()
        for w in workers:
            w.join(10)
        ingest.stop()
        writer.dispose()
        reader.dispose()
