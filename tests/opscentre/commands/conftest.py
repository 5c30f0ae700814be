"""Fixtures of the remote-command tests: a centre (its real ingest on a real database, the
command service with a key made here, publishing on the session's Mosquitto) and
simulated terminals (the terminal's real fleet link, answered by the simulator's
`Responder`, which runs the protocol's own verification)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from kiosk.fleet.link import FleetLink, LinkDriver, LinkSettings, parse_broker_url
from opscentre import commands
from opscentre.commands import CommandService, Publisher
from opscentre.db import make_engine, make_sessionmaker, upgrade
from opscentre.ingest import Ingest, IngestSettings
from opscentre.models import Command, CommandFile
from opscentre.signing import CommandKey, init_keys
from opscentre.sim_commands import Responder

WAIT_S = 30.0  # bounds a hang; never a measurement


def wait_until(cond: Callable[[], Any], what: str, timeout: float = WAIT_S) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"condition not met: {what}")


@dataclass
class CentreRig:
    """The centre's parts that commands cross: database, ingest, service, publisher."""

    sessions: sessionmaker[Session]
    service: CommandService
    publisher: Publisher
    ingest: Ingest
    key: CommandKey
    url: str

    def issue(self, terminal: str, action: str, args: dict[str, Any] | None = None,
              *, actor: str = "otto", ttl_s: float | None = None) -> Command:
        with self.sessions() as db:
            [cmd] = self.service.issue(db, commands.Request((terminal,), action, args or {},
                                                            ttl_s), actor)
        return cmd

    def create(self, terminal: str, action: str, args: dict[str, Any] | None = None,
               *, now: float | None = None, ttl_s: float | None = None) -> Command:
        """Stored and audited, not published (a test publishes its own bytes)."""
        with self.sessions() as db:
            [cmd] = self.service.create(db, commands.Request((terminal,), action, args or {},
                                                             ttl_s), "otto", now=now)
        return cmd

    def get(self, cid: str) -> Command:
        with self.sessions() as db:
            cmd = db.get(Command, cid)
            assert cmd is not None
            return cmd

    def file(self, cid: str) -> CommandFile | None:
        with self.sessions() as db:
            return db.get(CommandFile, cid)

    def row(self, cid: str) -> dict[str, Any]:
        with self.sessions() as db:
            row = commands.get_command(db, cid)
        assert row is not None
        return row

    def wait_state(self, cid: str, *states: str) -> Command:
        return wait_until(lambda: (c := self.get(cid)).state in states and c,
                          f"command {cid} in {states}")

    def wait_final(self, cid: str) -> Command:
        return self.wait_state(cid, *commands.FINAL, "unsent")


@pytest.fixture
def command_key(tmp_path: Path) -> CommandKey:
    """The centre's signing key, made for this test (never a fixed test key)."""
    return init_keys(tmp_path / "keys")[0]


def _rig(broker: Any, url: str, key: CommandKey) -> Iterator[CentreRig]:
    engine = make_engine(url, writer=True)
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    password = broker.setup.password("opscentre")
    ingest = Ingest(IngestSettings(broker.setup.url, "opscentre", password,
                                   instance=f"t-{secrets.token_hex(4)}"), sessions).start()
    publisher = Publisher(broker.setup.url, "opscentre", password).start(WAIT_S)
    try:
        assert ingest.wait_ready(WAIT_S), "the ingest did not subscribe"
        assert publisher.connected.is_set(), "the command publisher did not connect"
        yield CentreRig(sessions, CommandService(key, publisher), publisher, ingest, key, url)
    finally:
        publisher.stop()
        ingest.stop(leave=True)
        engine.dispose()


@pytest.fixture
def centre(mosquitto: Any, tmp_path: Path, command_key: CommandKey) -> Iterator[CentreRig]:
    """The centre on SQLite (the embedded default)."""
    yield from _rig(mosquitto, f"sqlite:///{tmp_path}/centre.db", command_key)


@pytest.fixture
def any_centre(mosquitto: Any, db_url: str, command_key: CommandKey) -> Iterator[CentreRig]:
    """The centre on each engine it supports (SQLite, PostgreSQL)."""
    yield from _rig(mosquitto, db_url, command_key)


@dataclass
class SimFleet:
    """Simulated terminals on the real broker: the terminal's FleetLink, the simulator's
    Responder (the protocol's verification against the keys they pin)."""

    responder: Responder
    driver: LinkDriver
    links: dict[str, FleetLink] = field(default_factory=dict)


def _tid(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(3).upper()}"


@pytest.fixture
def sim_fleet(mosquitto: Any) -> Iterator[Callable[..., SimFleet]]:
    """`sim_fleet(n, keys=[public keys], session_share=0.0)`: n connected terminals whose
    command subscription the broker has granted."""
    made: list[SimFleet] = []

    def make(n: int, keys: list[Any], *, session_share: float = 0.0,
             session_s: tuple[float, float] = (0.4, 0.4), ids: list[str] | None = None
             ) -> SimFleet:
        names = ids or [_tid("SIM") for _ in range(n)]
        creds = mosquitto.provision(names)
        address = parse_broker_url(mosquitto.setup.url)
        fleet = SimFleet(Responder(keys, session_share=session_share, session_s=session_s,
                                   seed=7).start(), LinkDriver("test-sim").start())
        made.append(fleet)
        for name in names:
            link = FleetLink(name, LinkSettings(address, creds[name]))
            fleet.responder.attach(link)
            fleet.driver.add(link)
            fleet.links[name] = link
        # a command published before the broker granted the subscription would be lost
        # (a terminal's session is clean)
        wait_until(lambda: all(lk.listening for lk in fleet.links.values()),
                   "the terminals listening for commands")
        return fleet

    yield make
    for f in made:
        f.responder.stop()
        f.driver.stop()


@pytest.fixture
def raw_publish(centre: CentreRig) -> Callable[[str, bytes], None]:
    """Publish exact bytes on a terminal's commands topic as the centre's broker user
    (what a broken or hostile centre could send)."""

    def send(terminal: str, payload: bytes) -> None:
        assert centre.publisher.publish([(terminal, payload)]) == [""]

    return send

