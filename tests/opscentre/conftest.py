"""Fixtures for the centre's tests: a migrated database, terminals publishing on the real
broker, and waiting without timing anything."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from kiosk.fleet import protocol
from opscentre.db import make_engine, make_sessionmaker, upgrade


def _wait_for(cond: Callable[[], Any], timeout: float = 30.0, what: str = "") -> Any:
    """Poll until `cond()` is truthy; the timeout only bounds a hang (never asserted on)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"condition not met: {what or cond}")


@pytest.fixture
def wait_for() -> Callable[..., Any]:
    """`wait_for(cond, timeout=30, what="")`: poll until cond() is truthy."""
    return _wait_for


@pytest.fixture
def centre_db(db_url: str) -> Iterator[tuple[Engine, sessionmaker[Session]]]:
    """A migrated centre database on each engine: (engine, session factory)."""
    engine = make_engine(db_url, writer=True)
    upgrade(engine)
    yield engine, make_sessionmaker(engine)
    engine.dispose()


class Publisher:
    """One terminal's plain MQTT client on the real broker (its own credentials): sends
    exactly the bytes a test gives, so the centre meets what a broken terminal sends."""

    def __init__(self, broker: Any, terminal: str, password: str) -> None:
        self.terminal = terminal
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{terminal}-pub",
                                  protocol=MQTTProtocolVersion.MQTTv5)
        self.client.username_pw_set(terminal, password)
        self.client.connect(broker.setup.host, broker.setup.port, 30)
        self.client.loop_start()

    def raw(self, kind: str, payload: bytes, retain: bool = False) -> None:
        info = self.client.publish(protocol.topic(self.terminal, kind), payload, qos=1,
                                   retain=retain)
        info.wait_for_publish(10)
        assert info.is_published()

    def send(self, kind: str, typ: str, body: dict[str, Any], *, mid: str | None = None,
             at: float | None = None) -> protocol.Envelope:
        kw: dict[str, Any] = {}
        if mid:
            kw["id"] = mid
        if at is not None:
            kw["at"] = at
        env = protocol.Envelope(self.terminal, typ, body, **kw)
        self.raw(kind, protocol.encode(env), retain=protocol.RETAIN[kind])
        return env

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def publishers(request: pytest.FixtureRequest) -> Iterator[Callable[..., Publisher]]:
    """`publishers(terminal)`: a terminal provisioned on the session's broker (or on
    `broker=`) and its publisher; `publishers(terminal, setup=…, password=…)` for a broker
    set up elsewhere (a stack's folder). Closed at the end."""
    made: list[Publisher] = []

    def make(terminal: str, broker: Any = None, *, setup: Any = None,
             password: str = "") -> Publisher:
        if setup is not None:
            made.append(Publisher(SimpleNamespace(setup=setup), terminal, password))
            return made[-1]
        b = broker or request.getfixturevalue("mosquitto")
        creds = b.provision([terminal])
        made.append(Publisher(b, terminal, creds[terminal]))
        return made[-1]

    yield make
    for p in made:
        p.close()
