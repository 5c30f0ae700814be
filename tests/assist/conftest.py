"""Fixtures of the call-engine tests: one coturn and one emulated centre per module
(the peers themselves are in assist_peers.py)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from assist_peers import Centre, Coturn


@pytest.fixture(scope="module")
def coturn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Coturn]:
    turn = Coturn(tmp_path_factory.mktemp("coturn"))
    turn.start()
    yield turn
    turn.stop()


@pytest.fixture(scope="module")
def centre() -> Iterator[Centre]:
    c = Centre(secrets.token_hex(8))
    yield c
    c.stop()
