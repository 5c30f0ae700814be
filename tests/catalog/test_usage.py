"""Most-used services: counts that survive a restart, decay, only catalog ids, and a
damaged file that never stops the kiosk."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest

from kiosk.catalog.usage import HALF_LIFE_WEEKS, WINDOW_WEEKS, UsageCounter

WEEK = 7 * 86400.0
CATALOG = ["ss_certificate", "tax_list", "no_property", "provident_fund", "queue_ticket"]


class Clock:
    def __init__(self) -> None:
        self.now = 2900 * WEEK + 3600.0

    def __call__(self) -> float:
        return self.now


def test_counts_survive_a_restart_and_rank_most_used_first(tmp_path: Path) -> None:
    path = tmp_path / "usage.sqlite"
    u = UsageCounter(path)
    for fid in ["no_property", "tax_list", "no_property", "queue_ticket", "no_property",
                "tax_list"]:
        u.record(fid)
    u.close()
    again = UsageCounter(path)
    assert again.top(3, CATALOG) == ["no_property", "tax_list", "queue_ticket"]
    assert again.top(1, CATALOG) == ["no_property"]
    assert again.scores()["no_property"] == pytest.approx(3.0)
    again.close()


def test_only_services_still_in_the_catalog_ties_in_catalog_order(tmp_path: Path) -> None:
    u = UsageCounter(tmp_path / "usage.sqlite")
    for fid in ["queue_ticket", "retired_service", "retired_service", "tax_list"]:
        u.record(fid)
    # retired_service is no longer in the catalog; the tie keeps the catalog's order
    assert u.top(5, CATALOG) == ["tax_list", "queue_ticket"]
    assert u.top(5, list(reversed(CATALOG))) == ["queue_ticket", "tax_list"]
    assert u.top(0, CATALOG) == [] and u.top(5, []) == []
    u.close()


def test_last_years_favourite_does_not_stay_on_top(tmp_path: Path) -> None:
    clock = Clock()
    u = UsageCounter(tmp_path / "usage.sqlite", clock=clock)
    for _ in range(40):
        u.record("no_property")
    for _ in range(3):
        u.record("tax_list")
    assert u.top(2, CATALOG) == ["no_property", "tax_list"]
    clock.now += 20 * WEEK  # five half-lives: 40 weighs 1.25
    for _ in range(3):
        u.record("tax_list")
    assert u.top(2, CATALOG) == ["tax_list", "no_property"]
    assert u.scores()["no_property"] == pytest.approx(40 * 0.5 ** (20 / HALF_LIFE_WEEKS))
    clock.now += WINDOW_WEEKS * WEEK  # out of the window: forgotten, and deleted
    u.record("queue_ticket")
    assert u.top(5, CATALOG) == ["queue_ticket"]
    u.close()
    rows = sqlite3.connect(tmp_path / "usage.sqlite").execute(
        "SELECT DISTINCT flow_id FROM usage").fetchall()
    assert rows == [("queue_ticket",)]


def test_the_file_holds_counts_per_week_only(tmp_path: Path) -> None:
    u = UsageCounter(tmp_path / "usage.sqlite")
    u.record("tax_list")
    u.close()
    db = sqlite3.connect(tmp_path / "usage.sqlite")
    tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    assert tables == ["usage"]
    assert [r[1] for r in db.execute("PRAGMA table_info(usage)")] == ["flow_id", "week", "n"]
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_garbage_file_is_set_aside_with_a_log_line(tmp_path: Path,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "usage.sqlite"
    path.write_bytes(b"\x00garbage, not SQLite\xff" * 500)
    caplog.set_level(logging.ERROR, logger="kiosk.catalog.usage")
    u = UsageCounter(path)
    assert u.top(3, CATALOG) == []
    u.record("tax_list")
    assert u.top(3, CATALOG) == ["tax_list"]
    u.close()
    assert (tmp_path / "usage.sqlite.corrupt").read_bytes().startswith(b"\x00garbage")
    assert any("damaged" in r.getMessage() for r in caplog.records)


def test_torn_file_is_reset_not_a_crash(tmp_path: Path,
                                       caplog: pytest.LogCaptureFixture) -> None:
    """A power cut mid-write that left a page of garbage in the middle of the file."""
    path = tmp_path / "usage.sqlite"
    u = UsageCounter(path)
    for i in range(400):  # a few pages of rows
        u.record(f"service_{i:03d}")
    u.close()
    db = sqlite3.connect(path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    data = bytearray(path.read_bytes())
    assert len(data) >= 3 * 4096
    data[4096:8192] = b"\xa5" * 4096  # the second page torn
    path.write_bytes(bytes(data))
    caplog.set_level(logging.ERROR, logger="kiosk.catalog.usage")
    u = UsageCounter(path)
    assert u.top(3, CATALOG) == []
    u.record("no_property")
    assert u.top(3, CATALOG) == ["no_property"]
    u.close()
    assert any("damaged" in r.getMessage() for r in caplog.records)


def test_a_disk_that_refuses_never_raises(tmp_path: Path,
                                        caplog: pytest.LogCaptureFixture) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the data folder should be")
    caplog.set_level(logging.ERROR, logger="kiosk.catalog.usage")
    u = UsageCounter(blocker / "usage.sqlite")
    u.record("tax_list")
    u.record("tax_list")
    assert u.top(3, CATALOG) == []
    assert len([r for r in caplog.records if "unavailable" in r.getMessage()]) == 1
