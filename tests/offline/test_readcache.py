"""The read cache: last good copy on failure (stale), a bad cache file set aside."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.backend.client import BackendError
from offline_cache.readcache import ReadCache

from .helpers import client_for


def test_fetch_keeps_the_answer_and_falls_back_when_the_platform_is_gone(  # type: ignore[no-untyped-def]
        tmp_path: Path, backend, proxy) -> None:
    cache = ReadCache(tmp_path / "readcache.db")
    client = client_for(backend, proxy.url, read_timeout=2)

    def load() -> object:
        return client.get_json("/api/v1/reference/catalog")

    fresh = cache.fetch("reference", "catalog", load)
    assert not fresh.stale and "disabled" in fresh.value
    proxy.cut()
    stale = cache.fetch("reference", "catalog", load)
    assert stale.stale and stale.value == fresh.value
    with pytest.raises(BackendError):
        cache.fetch("reference", "never-fetched", load)
    cache.close()
    again = ReadCache(tmp_path / "readcache.db")  # survives a restart
    assert again.get("reference", "catalog").value == fresh.value  # type: ignore[union-attr]
    again.close()


def test_a_corrupt_cache_is_set_aside(tmp_path: Path) -> None:
    path = tmp_path / "readcache.db"
    path.write_bytes(b"\x00garbage" * 100)
    cache = ReadCache(path)
    assert cache.incident is not None and cache.incident.kind == "corrupt"
    cache.put("reference", "catalog", {"disabled": []})
    assert cache.get("reference", "catalog").value == {"disabled": []}  # type: ignore[union-attr]
    cache.close()
