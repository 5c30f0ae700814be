"""Nightly restart: inside the window, between sessions, never twice a night."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from kiosk.config import Config
from kiosk.maintenance.nightly import NightlyRestart, ScheduleError, parse_hhmm

D = datetime(2026, 3, 10)


def at(h: int, m: int = 0, day: int = 0) -> datetime:
    return D + timedelta(days=day, hours=h, minutes=m)


SCHED = NightlyRestart(parse_hhmm("03:30"), timedelta(minutes=120))


@pytest.mark.parametrize("now,started,busy,due", [
    (at(3, 29), at(0, 0, -1), False, False),   # before the window
    (at(3, 30), at(0, 0, -1), False, True),    # window opens
    (at(5, 29), at(0, 0, -1), False, True),    # last minute of the window
    (at(5, 30), at(0, 0, -1), False, False),   # window closed: wait for tomorrow
    (at(4, 0), at(0, 0, -1), True, False),     # a citizen (or technician) is there
    (at(4, 0), at(3, 31), False, False),       # this process is the restarted one
    (at(3, 31, 1), at(3, 31), False, True),    # ... and it restarts the next night
])
def test_due(now: datetime, started: datetime, busy: bool, due: bool) -> None:
    assert SCHED.due(now, started, busy) is due


def test_window_across_midnight() -> None:
    s = NightlyRestart(parse_hhmm("23:30"), timedelta(minutes=90))
    assert s.due(at(0, 30, 1), at(12), False)  # 00:30 the next day is inside 23:30+90'
    assert not s.due(at(1, 1, 1), at(12), False)


def test_disabled_and_bad_values() -> None:
    assert parse_hhmm("") is None
    assert not NightlyRestart(None, timedelta(minutes=60)).due(at(3, 30), at(0), False)
    for bad in ("3h30", "25:00", "03:61", "0330"):
        with pytest.raises(ScheduleError):
            parse_hhmm(bad)


def test_from_config() -> None:
    cfg = Config().with_section("operations", nightly_restart="02:15", nightly_window_min=30)
    s = NightlyRestart.from_config(cfg.operations)
    assert s.window_start(at(2, 20)) == at(2, 15) and s.window == timedelta(minutes=30)


def test_qt_timer_waits_for_the_citizen_then_restarts_once(qtbot) -> None:  # type: ignore[no-untyped-def]
    from kiosk.ui.operations import NightlyRestartTimer

    now = [at(3, 0)]
    busy = [True]
    restarts: list[int] = []
    t = NightlyRestartTimer(SCHED, lambda: busy[0], lambda: restarts.append(1),
                            started=at(0, 0, -1), clock=lambda: now[0], interval_ms=10)
    assert t.timer.isActive()
    assert not t.check()            # not yet 03:30
    now[0] = at(3, 45)
    assert not t.check()            # a citizen is at the terminal
    busy[0] = False
    qtbot.waitUntil(lambda: restarts == [1], timeout=5000)  # the timer itself fires it
    assert not t.timer.isActive() and not t.check() and restarts == [1]
