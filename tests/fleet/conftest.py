"""Fixtures for the fleet channel: subscribers on the real broker, terminals' clients."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fleet_helpers import Subscriber

from kiosk.fleet.client import FleetClient, FleetSettings, open_fleet_outbox


@pytest.fixture
def subscriber(mosquitto: Any) -> Iterator[Callable[..., Subscriber]]:
    made: list[Subscriber] = []

    def make(broker: Any = None, **kw: Any) -> Subscriber:
        made.append(Subscriber(broker or mosquitto, **kw))
        return made[-1]

    yield make
    for s in made:
        s.close()


@pytest.fixture
def make_client(tmp_path: Path) -> Iterator[Callable[..., FleetClient]]:
    """A terminal's FleetClient with its own outbox in tmp_path (stopped at the end)."""
    made: list[FleetClient] = []

    def make(settings: FleetSettings, **kw: Any) -> FleetClient:
        outbox = open_fleet_outbox(tmp_path / f"fleet-{settings.terminal}")
        made.append(FleetClient(settings, outbox, **kw))
        return made[-1]

    yield make
    for c in made:
        c.stop(goodbye=False, timeout_s=1.0)
