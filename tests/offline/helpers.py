"""Small helpers shared by the offline tests."""

from __future__ import annotations

import random
from typing import Any

from kiosk.backend.client import BackendClient
from offline_cache.outbox import Outbox
from offline_cache.replay import Backoff, HttpDeliverer, ReplayWorker


def client_for(backend: Any, url: str | None = None, read_timeout: float = 3.0,
               deadline_s: float = 30.0) -> BackendClient:
    return BackendClient(url or backend.url, backend.terminal_id, backend.secret,
                         connect_timeout=1.0, read_timeout=read_timeout, deadline_s=deadline_s)


def worker_for(outbox: Outbox, backend: Any, url: str | None = None, *, batch_size: int = 50,
               read_timeout: float = 3.0, deadline_s: float = 30.0, batching: bool = True,
               **kw: Any) -> ReplayWorker:
    kw.setdefault("backoff", Backoff(base=0.05, cap=0.5))
    kw.setdefault("rng", random.Random(7))
    client = client_for(backend, url, read_timeout, deadline_s)
    return ReplayWorker(outbox, HttpDeliverer(client, batching=batching),
                        batch_size=batch_size, **kw)
