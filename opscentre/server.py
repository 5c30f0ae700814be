"""One running centre instance: ingest, alert engine, notifier and the console.

`Centre` upgrades the database, starts the ingest (MQTT), the alert evaluator and the
notification sender on their own threads, and serves the console (C's
`opscentre.web.create_app`) with uvicorn, plus `GET /healthz` with the ingest's counters.
`kiosk-ops serve` and `kiosk-ops stack` both run one.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from opscentre import alerts, commands, rollouts
from opscentre.db import make_engine, make_sessionmaker, upgrade
from opscentre.ingest import Ingest, IngestSettings
from opscentre.notify import Notifier
from opscentre.settings import CentreSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServeOptions:
    broker: str
    db: str
    host: str = "127.0.0.1"
    port: int = 8780
    broker_user: str = "opscentre"
    broker_password: str = ""
    ca_file: str = ""
    instance: str = ""
    settings: CentreSettings = field(default_factory=CentreSettings)
    alert_every_s: float = 2.0
    notify_every_s: float = 1.0
    command_key: str = ""  # the signing key's PEM file; "" = commands off (issue 16)


def parse_listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"--listen must be HOST:PORT, not {value!r}")
    return host.strip("[]"), int(port)


def default_instance() -> str:
    """The instance name when none is given: the host's name (stable across restarts)."""
    name = os.uname().nodename.split(".")[0] or "1"
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in name)[:48]


class _Server(uvicorn.Server):
    """uvicorn's Server without its signal capture (Centre.run installs its own)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class Centre:
    def __init__(self, opts: ServeOptions) -> None:
        self.opts = opts
        self.engine: Engine = make_engine(opts.db, writer=True)
        # The console's own pool. On SQLite its reads run outside a transaction (pysqlite
        # begins one at the first write), so they never wait for the ingest, and a request
        # that reads and then writes (a token's last use, an acknowledgement) is not failed
        # by an ingest commit in between: its BEGIN waits for the lock instead.
        self.reader: Engine = make_engine(opts.db)
        self.sessions: sessionmaker[Session] = make_sessionmaker(self.engine)
        self.read_sessions: sessionmaker[Session] = make_sessionmaker(self.reader)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.ingest: Ingest | None = None
        self.commands: Any = None  # opscentre.commands.CommandService once started
        # guarded package rollouts (issue 16): the TUF repository the centre writes
        self.rollouts = rollouts.Publisher(opts.settings.rollouts)
        self.server: Any = None
        self.assist: Any = None  # remote help's hub (opscentre.assist.hub), once app() ran
        self.started = threading.Event()

    # -- parts -------------------------------------------------------------------------------
    def migrate(self) -> None:
        upgrade(self.engine)

    def start_workers(self) -> None:
        o = self.opts
        self.ingest = Ingest(IngestSettings(
            o.broker, o.broker_user, o.broker_password, o.ca_file,
            instance=o.instance or default_instance()), self.sessions).start()
        engine = alerts.AlertEngine(o.settings.alerts, o.settings.notify)
        notifier = Notifier(self.sessions, o.settings.notify)
        self._spawn("alerts", lambda: alerts.run(engine, self.sessions, self._stop,
                                                 o.alert_every_s))
        self._spawn("notify", lambda: notifier.loop(self._stop, o.notify_every_s))
        self.commands = commands.service_for(o)
        if self.rollouts.configured:
            self._spawn("rollouts", lambda: rollouts.run(
                self.rollouts, self.read_sessions, self._stop,
                o.settings.rollouts.evaluate_every_s))

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        t = threading.Thread(target=target, name=name, daemon=True)
        t.start()
        self._threads.append(t)

    def app(self) -> Any:
        from opscentre.web import create_app

        app = create_app(self.read_sessions, self.opts.settings)  # [assist] for the hub
        app.state.commands = self.commands
        self.assist = app.state.assist
        from opscentre.web import rollouts as rollout_pages

        rollout_pages.attach(app, self.rollouts)  # and /repo/ for the embedded stack
        app.add_api_route("/healthz", self.healthz, methods=["GET"], include_in_schema=False)
        return app

    def healthz(self) -> dict[str, Any]:
        """Liveness for load balancers and tests: database reachable, ingest counters."""
        try:
            with self.reader.connect() as c:
                c.execute(text("SELECT 1"))
            db = True
        except Exception:  # noqa: BLE001 - reported, not raised
            db = False
        i = self.ingest
        st = i.stats if i is not None else None
        return {"ok": db and bool(st and st.connected and not st.paused), "database": db,
                "ingest": None if st is None else {
                    "instance": i.settings.instance if i else "", "connected": st.connected,
                    "paused": st.paused, "received": st.received, "batches": st.batches,
                    "last_batch_at": st.last_batch_at,
                    "applied": dict(st.applied), "ignored": dict(st.ignored),
                    "dropped": {f"{k}/{r}": n for (k, r), n in st.dropped.items()}}}

    # -- running -----------------------------------------------------------------------------
    def run(self, on_started: Callable[[Centre], None] | None = None) -> None:
        """Serve until SIGINT/SIGTERM, then stop everything."""
        self.migrate()
        # Imports, metadata and compiled statements live as long as the process: keep them
        # out of the collector's scans (a full collection over them stalled the ingest).
        gc.collect()
        gc.freeze()
        self.start_workers()
        config = uvicorn.Config(self.app(), host=self.opts.host, port=self.opts.port,
                                log_level="warning", access_log=False, lifespan="off")
        self.server = _Server(config)
        watcher = threading.Thread(target=self._announce, args=(on_started,), daemon=True)
        watcher.start()
        previous = self._handle_signals()
        try:
            self.server.run()
        finally:
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _handle_signals(self) -> dict[int, Any]:
        """SIGTERM/SIGINT end the server loop; the caller's `finally` then stops the rest
        (uvicorn's own handling re-raises the signal after shutdown, which would kill the
        process before a stack's broker is stopped)."""
        if threading.current_thread() is not threading.main_thread():
            return {}

        def handle(_sig: int, _frame: Any) -> None:
            if self.assist is not None:  # calls in progress are told, before sockets close
                # on a thread: this handler may have interrupted the hub holding its lock
                told = threading.Thread(target=self.assist.shutdown, daemon=True)
                told.start()
                told.join(1.0)
            if self.server is not None:
                self.server.should_exit = True

        return {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT)}

    def _announce(self, on_started: Callable[[Centre], None] | None) -> None:
        while not (self.server.started or self._stop.is_set()):
            time.sleep(0.05)
        if self.server.started:
            self.started.set()
            log.info("console on %s", self.console_url)
            if on_started is not None:
                on_started(self)

    @property
    def port(self) -> int:
        if self.server is not None and self.server.servers:
            return int(self.server.servers[0].sockets[0].getsockname()[1])
        return self.opts.port

    @property
    def console_url(self) -> str:
        host = self.opts.host
        shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
        return f"http://{f'[{shown}]' if ':' in shown else shown}:{self.port}"

    def stop(self) -> None:
        self._stop.set()
        if self.assist is not None:
            self.assist.close()  # calls told centre_shutdown, their records written
        if self.server is not None:
            self.server.should_exit = True
        if self.ingest is not None:
            self.ingest.stop()
        if self.commands is not None and self.commands.publisher is not None:
            self.commands.publisher.stop()
        for t in self._threads:
            t.join(10)
        self.engine.dispose()
        self.reader.dispose()
