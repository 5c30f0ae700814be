"""Fixtures for the offline tests: outboxes on real SQLite files, the reference backend
over HTTP (shared session fixture), a TCP proxy that can cut the link, admin queries."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from offline_cache.crypto import PayloadKey
from offline_cache.outbox import Outbox, OutboxPolicy

from .proxy import TcpProxy


@pytest.fixture
def payload_key() -> PayloadKey:
    return PayloadKey.derive(b"terminal-secret-for-tests", "DG-TEST-0001")


@pytest.fixture
def make_outbox(tmp_path: Path, payload_key: PayloadKey) -> Iterator[Any]:
    made: list[Outbox] = []

    def make(name: str = "outbox.db", policy: OutboxPolicy | None = None,
             key: PayloadKey | None = None) -> Outbox:
        ob = Outbox(tmp_path / name, key or payload_key,
                    policy or OutboxPolicy(min_free_bytes=0))
        made.append(ob)
        return ob

    yield make
    for ob in made:
        ob.close()


@pytest.fixture
def stream_prefix() -> str:
    """Streams unique to one test, so counts at the shared backend are the test's own."""
    return "t" + uuid.uuid4().hex[:10] + "."


class Admin:
    def __init__(self, backend: Any) -> None:
        self.url, self.headers = backend.url, {"X-Admin-Token": backend.admin_token}

    def applied(self, prefix: str) -> dict[str, Any]:
        r = requests.get(f"{self.url}/_admin/outbox/applied", headers=self.headers,
                         params={"stream_prefix": prefix}, timeout=10)
        r.raise_for_status()
        return r.json()

    def fault(self, **fault: Any) -> None:
        requests.post(f"{self.url}/_admin/outbox/faults", json=fault, headers=self.headers,
                      timeout=10).raise_for_status()

    def clear_faults(self) -> None:
        requests.delete(f"{self.url}/_admin/outbox/faults", headers=self.headers,
                        timeout=10).raise_for_status()

    def set_catalog(self, **body: Any) -> None:
        requests.post(f"{self.url}/_admin/reference/catalog", json=body, headers=self.headers,
                      timeout=10).raise_for_status()


@pytest.fixture
def admin(backend: Any) -> Iterator[Admin]:
    a = Admin(backend)
    yield a
    a.clear_faults()


@pytest.fixture
def proxy(backend: Any) -> Iterator[TcpProxy]:
    p = TcpProxy(int(backend.url.rsplit(":", 1)[1]))
    yield p
    p.close()
