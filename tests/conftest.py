"""Shared fixtures. Area-specific fixtures live in conftest.py files of sub-folders."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# Qt without a display, and never a real user's data folder.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True)
def _root_logging_restored() -> Iterator[None]:
    """A test that runs `kiosk.cli.main` installs the kiosk's log handlers on the root
    logger, bound to that test's captured stderr; put the root logger back afterwards
    so later tests neither write to a closed stream nor lose pytest's own handlers."""
    import logging

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for h in list(root.handlers):
        if h not in handlers:
            root.removeHandler(h)
            if getattr(h, "kiosk_owned", False):
                h.close()
    for h in handlers:
        if h not in root.handlers:
            root.addHandler(h)
    root.setLevel(level)


@pytest.fixture(scope="session")
def backend() -> Iterator[object]:
    """The reference backend over HTTP on 127.0.0.1, with a fresh terminal secret."""
    from kiosk.backend.embedded import EmbeddedBackend

    admin = secrets.token_hex(8)
    os.environ["REFBACKEND_ADMIN_TOKEN"] = admin
    be = EmbeddedBackend("DG-TEST-0001").start()
    try:
        assert be.wait_ready(30), "reference backend did not start"
        be.admin_token = admin  # type: ignore[attr-defined]
        yield be
    finally:
        be.stop()


@pytest.fixture(scope="session")
def dns_sd() -> Iterator[None]:
    """D-Bus and avahi-daemon, which ippeveprinter needs even with `-r off`.

    Started once for the whole run if they do not answer (asked over the bus, with a
    bounded wait and an error naming what did not come up), and stopped at its end
    unless another test run on the machine still uses them (a shared lease).
    """
    from emulators.ippeve_peer import available, ensure_dns_sd, hold_lease, stop_started

    if not available():
        pytest.skip("ippeveprinter / avahi-daemon / dbus-daemon not installed")
    lease = hold_lease()
    try:
        ensure_dns_sd()
        yield
    finally:
        stop_started(lease=lease)  # all this process started, if nobody else needs them


@pytest.fixture
def client(backend):  # type: ignore[no-untyped-def]
    from kiosk.backend.client import BackendClient

    return BackendClient(backend.url, backend.terminal_id, backend.secret)


@pytest.fixture
def make_runtime(backend, tmp_path):  # type: ignore[no-untyped-def]
    """Build a Runtime on simulated devices against the shared reference backend."""
    from kiosk.backend.client import BackendClient
    from kiosk.config import Config
    from kiosk.runtime import Runtime

    made: list[Runtime] = []

    def make(**devices: str) -> Runtime:
        cfg = Config().with_section(
            "devices",
            **{"idcard": "sim://?card=chen", "sscard": "sim://",
               "a4": f"sim://?spool={tmp_path / 'a4'}",
               "receipt": f"sim://?spool={tmp_path / 'receipt'}", **devices})
        cfg = cfg.with_section("storage", data_dir=str(tmp_path / "data"))
        cfg = cfg.with_section("terminal", id=backend.terminal_id)
        # The shared platform, not an embedded one: no e-seal root unless a test sets one.
        cfg = cfg.with_section("backend", url=backend.url)
        rt = Runtime.create(cfg)
        rt.open_devices()
        rt.backend = BackendClient(backend.url, backend.terminal_id, backend.secret)
        rt.backend_ready.set()
        made.append(rt)
        return rt

    yield make
    for rt in made:
        rt.close()


# -- a private PostgreSQL cluster (operations centre storage) --------------------------------
class PgCluster:
    """A PostgreSQL cluster of Debian's `postgresql` package in a temp dir, on a free
    loopback port, run as a non-root user (`postgres` via runuser when the tests run as
    root: the server refuses root). Trust authentication on loopback only."""

    def __init__(self, base: os.PathLike[str] | str) -> None:
        import glob
        import pwd
        import shutil
        from pathlib import Path

        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
        if not found:
            pytest.fail("PostgreSQL is not installed (Debian package postgresql; scripts/setup)")
        self.bin = Path(found[-1]).parent
        self.dir = Path(base)
        self.data = self.dir / "data"
        self.log = self.dir / "server.log"
        self.port = _free_port()
        self.user = "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
        self.dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.dir, self.user)
            os.chmod(self.dir, 0o700)
        self._run("initdb", "-D", str(self.data), "-U", "ops", "-A", "trust", "-E", "UTF8",
                  "--no-sync", "--no-instructions")
        with open(self.data / "postgresql.conf", "a") as f:
            # small and fast for tests; fsync off: a test cluster is thrown away, never
            # recovered (the database-down tests stop it cleanly or kill it on purpose)
            f.write(f"listen_addresses = '127.0.0.1'\nport = {self.port}\n"
                    f"unix_socket_directories = '{self.dir}'\nfsync = off\n"
                    "synchronous_commit = off\nfull_page_writes = off\nmax_connections = 60\n"
                    "shared_buffers = 32MB\n")
        self.start()

    def _run(self, tool: str, *args: str) -> str:
        import subprocess

        cmd = [str(self.bin / tool), *args]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=self.dir)
        if p.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{tool} failed ({p.returncode}): {p.stderr[-2000:]}\n{log}")
        return p.stdout

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def running(self) -> bool:
        import subprocess

        cmd = [str(self.bin / "pg_ctl"), "-D", str(self.data), "status"]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        return subprocess.run(cmd, capture_output=True, cwd=self.dir).returncode == 0

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://ops@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url().replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def close(self) -> None:
        import shutil

        if self.running():
            self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def postgres() -> Iterator[PgCluster]:
    """One private PostgreSQL cluster for the whole run."""
    import tempfile

    # outside pytest's tmp tree: its folders are 0700 root, which `postgres` cannot enter
    cluster = PgCluster(tempfile.mkdtemp(prefix="kiosk-pg-"))
    try:
        yield cluster
    finally:
        cluster.close()


@pytest.fixture
def make_pg_cluster() -> Iterator[object]:
    """A factory of clusters of a test's own (for tests that stop the database)."""
    import tempfile

    made: list[PgCluster] = []

    def make() -> PgCluster:
        made.append(PgCluster(tempfile.mkdtemp(prefix="kiosk-pg-")))
        return made[-1]

    yield make
    for c in made:
        c.close()


@pytest.fixture
def pg_url(postgres: PgCluster) -> str:
    """A fresh, empty database in the session's cluster."""
    return postgres.create_database(f"t_{secrets.token_hex(6)}")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: os.PathLike[str]) -> str:
    """An empty database of each engine the centre supports (tests run on both)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/centre.db"
    return str(request.getfixturevalue("pg_url"))


# -- a private Mosquitto (the fleet channel) ---------------------------------------------------
def _new_mosquitto(root: os.PathLike[str] | str) -> Any:
    from opscentre.broker import BrokerError, BrokerSetup, Mosquitto, free_port, mosquitto_binary

    try:
        mosquitto_binary()
    except BrokerError as exc:
        pytest.fail(str(exc))
    setup = BrokerSetup(Path(root), free_port())
    setup.add_user("opscentre", "centre")
    setup.add_user("monitor", "monitor")
    return Mosquitto(setup)


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A private Mosquitto (Debian's package) for the whole run, on a free loopback port:
    no anonymous logins, per-terminal passwords and the fleet ACL (opscentre.broker).
    Users `opscentre` (the centre's role: reads terminal topics, writes commands) and
    `monitor` (reads guanjia/#). `mosquitto.provision(["T1", ...])` adds terminals and
    returns their passwords once the broker took them; `mosquitto.setup.url`,
    `mosquitto.setup.password(name)`. Tests that stop or kill a broker use
    `make_mosquitto` instead."""
    broker = _new_mosquitto(tmp_path_factory.mktemp("mosquitto")).start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def make_mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Make a test's own broker (not started): `make_mosquitto()`; stopped at the end."""
    made: list[Any] = []

    def make() -> Any:
        made.append(_new_mosquitto(tmp_path_factory.mktemp("mosquitto")))
        return made[-1]

    yield make
    for broker in made:
        broker.stop()
