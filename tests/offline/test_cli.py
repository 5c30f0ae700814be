"""`kiosk outbox status|retry-dead|flush` as a technician runs them (real CLI process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from kiosk.config import Config
from kiosk.offline import OfflineServices


def _env(tmp_path: Path, backend: Any, url: str) -> dict[str, str]:
    return dict(os.environ, KIOSK_STORAGE_DATA_DIR=str(tmp_path / "data"),
                KIOSK_BACKEND_URL=url, KIOSK_TERMINAL_ID=backend.terminal_id,
                KIOSK_TERMINAL_SECRET=backend.secret.hex(), KIOSK_OFFLINE_MIN_FREE_MB="0",
                KIOSK_CONFIG=str(tmp_path / "none.toml"))


def _kiosk(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    (Path(env["KIOSK_CONFIG"])).write_text("")
    return subprocess.run([sys.executable, "-m", "kiosk", "--log-level", "WARNING", "outbox",
                           *args], env=env, capture_output=True, text=True, timeout=120)


def _services(tmp_path: Path, backend: Any) -> OfflineServices:
    cfg = Config().with_section("storage", data_dir=str(tmp_path / "data"))
    cfg = cfg.with_section("terminal", id=backend.terminal_id)
    cfg = cfg.with_section("offline", min_free_mb=0)
    return OfflineServices(cfg, lambda: backend.secret)


def test_status_flush_and_retry_dead(tmp_path: Path, backend, admin, proxy, stream_prefix) -> None:  # type: ignore[no-untyped-def]
    services = _services(tmp_path, backend)
    a, b = stream_prefix + "audit", stream_prefix + "transaction"
    for i in range(3):
        services.record(a, {"n": i})
    services.record(b, {"n": 0})
    bad = services.record(b, {"n": 1, "reject": "unknown_service"})
    services.close()

    env = _env(tmp_path, backend, proxy.url)
    st = _kiosk(env, "status", "--json")
    assert st.returncode == 0, st.stderr
    data = json.loads(st.stdout)
    assert data["depth"] == {a: 3, b: 2} and data["dead_letters"] == 0
    assert data["oldest_age_s"] is not None and data["incidents"] == []

    proxy.cut()  # flush with the link down: nothing delivered, non-zero exit
    out = _kiosk(env, "flush")
    assert out.returncode == 1, out.stdout + out.stderr
    assert "left 5" in out.stdout
    proxy.restore()
    out = _kiosk(env, "flush")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "delivered 4, dead-lettered 1, left 0" in out.stdout

    data = json.loads(_kiosk(env, "status", "--json").stdout)
    assert data["depth"] == {} and data["dead_letters"] == 1
    assert data["dead"][0]["key"] == bad and data["dead"][0]["reason"] == "unknown_service"
    text = _kiosk(env, "status").stdout
    assert "dead letters: 1" in text and "unknown_service" in text

    out = _kiosk(env, "retry-dead")
    assert out.returncode == 0 and "1 dead letter(s) queued again" in out.stdout
    assert json.loads(_kiosk(env, "status", "--json").stdout)["depth"] == {b: 1}
    assert len(admin.applied(stream_prefix)["order"][a]) == 3


def test_status_reports_a_database_set_aside_at_start(tmp_path: Path, backend) -> None:  # type: ignore[no-untyped-def]
    data = tmp_path / "data"
    data.mkdir()
    (data / "outbox.db").write_bytes(b"garbage, not SQLite" * 50)
    env = _env(tmp_path, backend, backend.url)
    out = _kiosk(env, "status")
    assert out.returncode == 0, out.stderr
    assert "SET ASIDE at start (corrupt)" in out.stdout
    assert any(p.name.startswith("outbox.db.bad-") for p in data.iterdir())
