"""Fixtures of the remote-help tests: one console with the hub per module (uvicorn on
127.0.0.1), its database with agents, viewer and operator, the terminals' password file."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from assist_helpers import TURN_SECRET, WAIT_S, Served, password_file, users

from opscentre.db import make_engine, make_sessionmaker, upgrade
from opscentre.settings import AssistSettings, CentreSettings
from opscentre.web import create_app


def assist_settings(root: Path, **kw: object) -> AssistSettings:
    secret = root / "turn-secret"
    secret.write_text(TURN_SECRET + "\n")
    return AssistSettings(terminal_password_file=str(password_file(root / "passwd")),
                          turn_urls=("turn:127.0.0.1:3478?transport=udp",),
                          turn_secret_file=str(secret), reconnect_grace_s=0,
                          **kw)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def centre(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    root = tmp_path_factory.mktemp("assist")
    engine = make_engine(f"sqlite:///{root / 'centre.db'}")
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    users(sessions)
    settings = CentreSettings(assist=assist_settings(root))
    served = Served(create_app(sessions, settings))
    yield SimpleNamespace(served=served, sessions=sessions, root=root, settings=settings)
    served.stop()
    served.hub.records.close()  # type: ignore[union-attr]
    engine.dispose()


@pytest.fixture
def quiet(centre: SimpleNamespace) -> SimpleNamespace:
    """The module's centre with no call and no agent left over from an earlier test."""
    hub = centre.served.hub
    deadline = time.monotonic() + WAIT_S
    while hub.calls or hub.agents:
        assert time.monotonic() < deadline, (hub.calls, hub.agents)
        time.sleep(0.02)
    return centre
