"""Rotating the terminal's secret loses nothing (issue 14, item 11).

The outbox is sealed with its own data key (`outbox.key` beside `outbox.db`), not with a
key derived from the signing secret. Items that earlier builds sealed with the derived
key are taken over while that secret is at hand; dead letters left by an earlier
rotation come back with `kiosk outbox retry-dead --old-secret-file`. A database whose
key file is gone is a clear error, and nothing is deleted.
"""

from __future__ import annotations

import secrets
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from kiosk.backend.embedded import EmbeddedBackend, free_port
from kiosk.config import Config
from kiosk.offline import OUTBOX_KEY_FILE, OfflineServices
from kiosk.runtime import Runtime
from offline_cache.crypto import PayloadKey, create_data_key, load_data_key
from offline_cache.db import StorageError
from offline_cache.outbox import Item, Outbox, OutboxPolicy, Undecryptable

from .helpers import worker_for
from .test_cli import _env, _kiosk

SECRET_ENV = "KIOSK_ROTATION_TEST_SECRET"


def citizen_key(key: str | None) -> str:
    """The key of a citizen's item (only telemetry may be dropped, with None)."""
    assert key is not None
    return key


def payloads(outbox: Outbox, stream: str) -> list[object]:
    """What the head of `stream` holds; an item that cannot be read shows as itself."""
    return [i.payload if isinstance(i, Item) else i for i in outbox.head(stream)]


def _runtime_config(tmp_path: Path, terminal: str, port: int) -> Config:
    cfg = Config().with_section(
        "devices", idcard="sim://?card=chen", sscard="sim://",
        a4=f"sim://?spool={tmp_path / 'a4'}", receipt=f"sim://?spool={tmp_path / 'receipt'}")
    cfg = cfg.with_section("storage", data_dir=str(tmp_path / "data"))
    cfg = cfg.with_section("terminal", id=terminal)
    cfg = cfg.with_section("backend", url=f"http://127.0.0.1:{port}", secret_env=SECRET_ENV,
                           connect_timeout_s=0.5, read_timeout_s=3.0)
    return cfg.with_section("offline", min_free_mb=0, probe_interval_s=0.2,
                            probe_backoff_cap_s=0.3, backoff_base_s=0.05, backoff_cap_s=0.3,
                            reconnect_spread_s=0.1)


def _services(tmp_path: Path, terminal: str, secret: bytes, **kw: Any) -> OfflineServices:
    cfg = Config().with_section("storage", data_dir=str(tmp_path / "data"))
    cfg = cfg.with_section("terminal", id=terminal).with_section("offline", min_free_mb=0)
    return OfflineServices(cfg, lambda: secret, **kw)


def _wait_empty(outbox: Outbox, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while outbox.depth() and time.monotonic() < deadline:
        time.sleep(0.05)


def _applied(url: str, token: str, terminal: str) -> dict[str, Any]:
    r = requests.get(f"{url}/_admin/outbox/applied", params={"terminal": terminal},
                     headers={"X-Admin-Token": token}, timeout=10)
    r.raise_for_status()
    return r.json()


def test_a_rating_and_a_transaction_queued_before_a_rotation_are_delivered_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    terminal, port = "DG-ROTATE-0001", free_port()
    old, new = secrets.token_bytes(32), secrets.token_bytes(32)
    token = secrets.token_hex(8)
    monkeypatch.setenv("REFBACKEND_ADMIN_TOKEN", token)
    monkeypatch.setenv(SECRET_ENV, old.hex())
    cfg = _runtime_config(tmp_path, terminal, port)
    # The platform is unreachable: the citizen's rating and the transaction are queued.
    rt = Runtime.create(cfg)
    rt.start_backend()
    # (what the evaluate step and Runtime._record_transaction record)
    rt.record("evaluation", {"service": "ss_certificate", "stars": 5, "tags": ["快捷"],
                             "terminal_id": terminal, "session": "s-rotation"})
    rt.record("transaction", {"flow": "ss_certificate", "outcome": "completed",
                              "session": "s-rotation", "terminal_id": terminal})
    assert rt.offline.outbox is not None
    queued = {s: [i.key for i in rt.offline.outbox.head(s)] for s in ("evaluation",
                                                                       "transaction")}
    rt.close()
    # The operator rotates the terminal's secret, on the terminal and on the platform,
    # and the terminal restarts.
    monkeypatch.setenv(SECRET_ENV, new.hex())
    platform = EmbeddedBackend(terminal, secret=new, port=port).start()
    try:
        assert platform.wait_ready(30)
        rt = Runtime.create(cfg)
        rt.start_backend()
        try:
            outbox = rt.offline.outbox
            assert outbox is not None
            _wait_empty(outbox)
            st = outbox.status()
            assert (st.items, st.dead) == (0, ()), st.as_dict()
        finally:
            rt.close()
        got = _applied(platform.url, token, terminal)
        assert got["order"] == queued  # both delivered ...
        assert got["received"] == {k: 1 for keys in queued.values() for k in keys}  # ... once
    finally:
        platform.stop()


def test_items_sealed_by_an_earlier_build_are_taken_over_then_survive_a_rotation(
        tmp_path: Path, backend, admin, stream_prefix: str) -> None:  # type: ignore[no-untyped-def]
    terminal = backend.terminal_id
    old, new = secrets.token_bytes(32), secrets.token_bytes(32)
    db = tmp_path / "data" / "outbox.db"
    db.parent.mkdir(parents=True)
    # An earlier build: the outbox key derived from the terminal secret.
    legacy = Outbox(db, PayloadKey.derive(old, terminal), OutboxPolicy(min_free_bytes=0))
    keys = [citizen_key(legacy.enqueue(stream_prefix + "evaluation", {"stars": 4})),
            citizen_key(legacy.enqueue(stream_prefix + "transaction", {"outcome": "completed"}))]
    legacy.close()
    # This build opens it while the secret is still `old`: the items move to the data key.
    services = _services(tmp_path, terminal, old)
    assert services.open() is not None
    services.close()
    data_kid = load_data_key(db.parent / OUTBOX_KEY_FILE).kid  # type: ignore[union-attr]
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT DISTINCT kid FROM outbox").fetchall() == [(data_kid,)]
    # Rotated: the new secret alone reads them, and they are delivered exactly once.
    services = _services(tmp_path, terminal, new)
    outbox = services.open()
    try:
        assert outbox is not None
        assert worker_for(outbox, backend).flush() == 0
        assert outbox.status().dead == ()
    finally:
        services.close()
    got = admin.applied(stream_prefix)
    assert sorted(k for ks in got["order"].values() for k in ks) == sorted(keys)
    assert got["received"] == dict.fromkeys(keys, 1)


def test_dead_letters_of_an_earlier_rotation_come_back_with_retry_dead(
        tmp_path: Path, backend, admin, stream_prefix: str) -> None:  # type: ignore[no-untyped-def]
    terminal = backend.terminal_id
    before = secrets.token_bytes(32)  # the secret before the earlier rotation
    db = tmp_path / "data" / "outbox.db"
    db.parent.mkdir(parents=True)
    ob = Outbox(db, PayloadKey.derive(before, terminal), OutboxPolicy(min_free_bytes=0))
    keys = [citizen_key(ob.enqueue(stream_prefix + "evaluation", {"stars": 5})),
            citizen_key(ob.enqueue(stream_prefix + "transaction", {"outcome": "completed"}))]
    ob.close()
    # What an earlier build did after the rotation: undecryptable, so dead letters.
    ob = Outbox(db, PayloadKey.derive(backend.secret, terminal), OutboxPolicy(min_free_bytes=0))
    for stream in (stream_prefix + "evaluation", stream_prefix + "transaction"):
        (bad,) = ob.head(stream)
        assert isinstance(bad, Undecryptable)
        ob.bury([bad], "")
    ob.close()

    env = _env(tmp_path, backend, backend.url)
    out = _kiosk(env, "retry-dead")
    assert out.returncode == 1, out.stdout + out.stderr
    kid = PayloadKey.derive(before, terminal).kid
    assert "0 dead letter(s) queued again" in out.stdout
    assert f"2 dead letter(s) left: sealed with key {kid}" in out.stdout
    assert "--old-secret-file" in out.stdout
    with sqlite3.connect(db) as conn:  # nothing was deleted
        assert conn.execute("SELECT count(*) FROM dead_letter").fetchone()[0] == 2

    old_file = tmp_path / "old.secret"
    old_file.write_text(before.hex())
    out = _kiosk(env, "retry-dead", "--old-secret-file", str(old_file))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "2 dead letter(s) queued again" in out.stdout
    out = _kiosk(env, "flush")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "delivered 2, dead-lettered 0, left 0" in out.stdout
    got = admin.applied(stream_prefix)
    assert sorted(k for ks in got["order"].values() for k in ks) == sorted(keys)
    assert got["received"] == dict.fromkeys(keys, 1)


def test_a_missing_key_file_is_a_clear_error_and_nothing_is_deleted(tmp_path: Path,
                                                                    backend) -> None:  # type: ignore[no-untyped-def]
    terminal, secret = backend.terminal_id, secrets.token_bytes(32)
    services = _services(tmp_path, terminal, secret)
    keys = [citizen_key(services.record("evaluation", {"stars": 3})),
            citizen_key(services.record("transaction", {"outcome": "completed"}))]
    services.close()
    data = tmp_path / "data"
    key_file = data / OUTBOX_KEY_FILE
    kept = tmp_path / "outbox.key.backup"
    key_file.rename(kept)

    services = _services(tmp_path, terminal, secret)
    assert services.open() is None
    assert services.error == "outbox.unavailable"
    assert f"{key_file} is missing" in services.error_detail
    assert "restore that key file" in services.error_detail
    assert "nothing was deleted" in services.error_detail
    with pytest.raises(StorageError) as exc:
        services.record("evaluation", {"stars": 1})  # refused, not sealed under a new key
    assert exc.value.key == "outbox.unavailable"
    services.close()
    assert not key_file.exists()  # no new key made over the queued items
    out = _kiosk(_env(tmp_path, backend, backend.url), "status")
    assert out.returncode == 2 and f"{key_file} is missing" in out.stderr
    with sqlite3.connect(data / "outbox.db") as conn:
        assert sorted(r[0] for r in conn.execute("SELECT key FROM outbox")) == sorted(keys)

    kept.rename(key_file)  # the technician restores it from the backup
    services = _services(tmp_path, terminal, secret)
    outbox = services.open()
    try:
        assert outbox is not None
        assert payloads(outbox, "evaluation") == [{"stars": 3}]
        assert payloads(outbox, "transaction") == [{"outcome": "completed"}]
    finally:
        services.close()


def test_another_key_file_than_the_items_need_is_refused(tmp_path: Path) -> None:
    services = _services(tmp_path, "DG-TEST-0001", b"s")
    services.record("evaluation", {"stars": 2})
    services.close()
    key_file = tmp_path / "data" / OUTBOX_KEY_FILE
    key_file.unlink()
    other = create_data_key(key_file)  # e.g. another terminal's file copied over
    services = _services(tmp_path, "DG-TEST-0001", b"s")
    assert services.open() is None
    assert f"{OUTBOX_KEY_FILE} holds key {other.kid}" in services.error_detail
    services.close()


def test_the_key_file_is_private_and_one_per_outbox(tmp_path: Path) -> None:
    services = _services(tmp_path, "DG-TEST-0001", b"s")
    assert services.open() is not None
    services.close()
    key_file = tmp_path / "data" / OUTBOX_KEY_FILE
    assert key_file.stat().st_mode & 0o777 == 0o600
    first = load_data_key(key_file)
    assert first is not None
    # A second maker (another process racing at first start) gets the same key.
    assert create_data_key(key_file).kid == first.kid
    key_file.chmod(0o644)  # loosened by hand: tightened again when read
    assert load_data_key(key_file) is not None and key_file.stat().st_mode & 0o777 == 0o600


def test_a_damaged_key_file_is_a_clear_error(tmp_path: Path) -> None:
    services = _services(tmp_path, "DG-TEST-0001", b"s")
    services.record("evaluation", {"stars": 2})
    services.close()
    key_file = tmp_path / "data" / OUTBOX_KEY_FILE
    key_file.write_text("{\"format\": \"something else\"}")
    services = _services(tmp_path, "DG-TEST-0001", b"s")
    assert services.open() is None
    assert "not an outbox data key file" in services.error_detail
    services.close()
    with sqlite3.connect(tmp_path / "data" / "outbox.db") as conn:
        assert conn.execute("SELECT count(*) FROM outbox").fetchone()[0] == 1
