"""The nightly restart: once a night, inside a window, only between citizens.

A long-running process accumulates what no test finds (fragmented memory, a driver's
stale handle); a planned restart at a quiet hour costs a few seconds. The kiosk exits
and systemd (`Restart=always`) starts it again. A process started inside tonight's
window (the restarted one) does not restart again until the next night.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta


class ScheduleError(ValueError):
    pass


def parse_hhmm(text: str) -> time | None:
    """`"03:30"` -> 03:30; empty -> None (disabled)."""
    text = text.strip()
    if not text:
        return None
    try:
        hh, mm = text.split(":")
        return time(int(hh), int(mm))
    except ValueError:
        raise ScheduleError(f"operations.nightly_restart must be HH:MM, not {text!r}") from None


@dataclass(frozen=True)
class NightlyRestart:
    at: time | None
    window: timedelta

    @classmethod
    def from_config(cls, ops: object) -> NightlyRestart:
        return cls(parse_hhmm(ops.nightly_restart),  # type: ignore[attr-defined]
                   timedelta(minutes=max(1, ops.nightly_window_min)))  # type: ignore[attr-defined]

    def window_start(self, now: datetime) -> datetime | None:
        """The most recent scheduled restart time at or before `now`."""
        if self.at is None:
            return None
        today = now.replace(hour=self.at.hour, minute=self.at.minute, second=0, microsecond=0)
        return today if today <= now else today - timedelta(days=1)

    def due(self, now: datetime, started: datetime, busy: bool) -> bool:
        """Restart now? Inside the window, started before it, and no citizen or technician."""
        start = self.window_start(now)
        if start is None or busy:
            return False
        return now < start + self.window and started < start
