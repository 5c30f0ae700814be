"""Fixtures for the backend client tests: hostile platforms on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from emulators.hostile_platform import Action, HostilePlatform


@pytest.fixture
def hostile() -> Iterator[Any]:
    """Make hostile platforms (closed at the end of the test): `hostile(action)`."""
    made: list[HostilePlatform] = []

    def make(default: Action | None = None) -> HostilePlatform:
        peer = HostilePlatform(default)
        made.append(peer)
        return peer

    yield make
    for peer in made:
        peer.close()
