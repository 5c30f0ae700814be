"""Where a rollout stands: each terminal's state for the version, and each wave's counts and
rates against the thresholds that halt it. Pure functions over rows the caller read.

A wave is a percentage of the terminals' stable buckets (`kiosk.packages.rollout.bucket`),
except the first value 0, which is ring 0 (lab terminals). Waves are cumulative: wave k
publishes the version to ring 0 and buckets below its percentage (100: everyone), and a
terminal *belongs* to the first wave that includes it. A terminal's ring comes from its
health (`packages.ring`) when it says; otherwise it is taken for ring 9 (everyone else),
and one that reports on the version while only ring 0 has it is a ring-0 terminal.

A terminal's state for the version is its newest `package` event about it (staged,
waiting_for_session, activated, rejected, rolled_back); its health showing the version
active also counts as activated (unless it rejected or rolled it back). The counters
since activation (citizen sessions, error screens, device faults) come from the health of
terminals running the version.

Rates, per wave, over the wave's terminals that can answer (online and new enough for
the version's `min_app_version`, or already answered): rejected / terminals, rolled back /
terminals, error screens / sessions (once at least `min_sessions` sessions were seen).
After an operator resumed a halted rollout, what was counted before (the baseline) no
longer counts: the wave is judged on what happened since.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kiosk.flows.package import VERSION, version_key
from kiosk.packages.rollout import GENERAL_RING, Rollout

STATES = ("staged", "waiting_for_session", "activated", "rejected", "rolled_back")
FINAL = ("activated", "rejected", "rolled_back")
BAD = ("rejected", "rolled_back")
COUNTERS = ("sessions", "error_screens", "faults")


def wave_rollout(percent: int) -> Rollout:
    """The rollout data a wave publishes: 0 is ring 0, 100 everyone, else ring 0 + P %."""
    if percent <= 0:
        return Rollout(ring=0)
    if percent >= 100:
        return Rollout()
    return Rollout(ring=0, percent=percent)


def wave_label(percent: int) -> str:
    return "ring 0" if percent <= 0 else ("100 %" if percent >= 100 else f"{percent} %")


def parse_waves(text: str | Sequence[int]) -> tuple[int, ...]:
    """`0,5,25,100` (or a list): strictly increasing integers 0..100 ending at 100."""
    try:
        values = [int(v) for v in (text.split(",") if isinstance(text, str) else text)]
    except ValueError:
        raise ValueError(f"waves must be integers like 0,5,25,100, not {text!r}") from None
    if not values or any(not 0 <= v <= 100 for v in values):
        raise ValueError("each wave is a percentage 0..100 (0 = ring 0, the lab terminals)")
    if any(b <= a for a, b in itertools.pairwise(values)):
        raise ValueError("waves must grow: 0,5,25,100")
    if values[-1] != 100:
        raise ValueError("the last wave must be 100 (every terminal)")
    return tuple(values)


def wave_of(terminal: str, ring: int, waves: Sequence[int]) -> int | None:
    """The first wave that includes the terminal (None: none of them, never here)."""
    for i, p in enumerate(waves):
        if wave_rollout(p).includes(terminal, ring):
            return i
    return None


@dataclass(frozen=True)
class Thresholds:
    rejected: float = 0.05
    rolled_back: float = 0.02
    error_screens: float = 0.05
    min_sessions: int = 20

    def to_json(self) -> dict[str, float]:
        return {"rejected": self.rejected, "rolled_back": self.rolled_back,
                "error_screens": self.error_screens, "min_sessions": self.min_sessions}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Thresholds:
        return cls(float(d.get("rejected", cls.rejected)),
                   float(d.get("rolled_back", cls.rolled_back)),
                   float(d.get("error_screens", cls.error_screens)),
                   int(d.get("min_sessions", cls.min_sessions)))


@dataclass(frozen=True)
class Report:
    """One `package` event about the rollout's package, as stored by the ingest."""

    terminal: str
    version: str
    state: str
    reason: str
    at: dt.datetime  # the terminal's clock
    seq: int = 0  # the event row's id: orders events of the same second
    received: dt.datetime | None = None  # the centre's clock


@dataclass(frozen=True)
class TerminalRow:
    id: str
    online: bool
    app_version: str
    packages: Mapping[str, Any]


@dataclass
class TerminalStatus:
    id: str
    wave: int
    online: bool
    state: str = ""  # "" = nothing heard about the version yet
    reason: str = ""
    at: dt.datetime | None = None
    running: bool = False  # its health shows the version active
    counters: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTERS, 0))
    eligible: bool = True  # app new enough for the version

    @property
    def answered(self) -> bool:
        return self.state in FINAL


@dataclass
class WaveStats:
    index: int
    percent: int
    terminals: int = 0  # that can answer (see the module's docstring)
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATES, 0))
    silent: int = 0  # can answer, nothing heard yet
    offline: int = 0  # in the wave but offline and silent (not counted)
    sessions: int = 0
    error_screens: int = 0
    faults: int = 0
    rates: dict[str, float | None] = field(default_factory=dict)
    first_bad_at: dt.datetime | None = None  # the first rejection or rollback heard
    first_bad: str = ""  # … from this terminal
    most_errors: str = ""  # the terminal with the most error screens

    @property
    def answered(self) -> int:
        return sum(self.counts[s] for s in FINAL)

    @property
    def answered_share(self) -> float:
        return 1.0 if self.terminals == 0 else self.answered / self.terminals

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "percent": self.percent, "scope": wave_label(self.percent),
                "terminals": self.terminals, "counts": dict(self.counts),
                "silent": self.silent, "offline": self.offline, "answered": self.answered,
                "sessions": self.sessions, "error_screens": self.error_screens,
                "faults": self.faults, "rates": dict(self.rates),
                "first_bad_at": self.first_bad_at.isoformat() if self.first_bad_at else None,
                "first_bad": self.first_bad, "most_errors": self.most_errors}


@dataclass(frozen=True)
class Crossing:
    """A threshold passed in a wave: what halts the rollout."""

    wave: int
    rule: str  # rejected | rolled_back | error_screens
    rate: float
    threshold: float
    count: int
    of: int
    first_bad_at: dt.datetime | None
    terminal: str = ""  # the first failing one (the most error screens for that rule)

    @property
    def reason(self) -> str:
        return f"rollout.halt.{self.rule}"

    def to_json(self) -> dict[str, Any]:
        return {"wave": self.wave, "rule": self.rule, "rate": round(self.rate, 4),
                "threshold": self.threshold, "count": self.count, "of": self.of,
                "first_bad_at": self.first_bad_at.isoformat() if self.first_bad_at else None,
                "terminal": self.terminal}


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 \
        else 0


def counters_of(packages: Mapping[str, Any]) -> dict[str, int]:
    """Sessions, error screens and faults since activation, from a stored health's packages
    (`packages.counters`, as `opscentre.health` keeps them)."""
    raw = packages.get("counters")
    src = raw if isinstance(raw, Mapping) else packages
    return {k: _int(src.get(k)) for k in COUNTERS}


def ring_of(packages: Mapping[str, Any]) -> int | None:
    ring = packages.get("ring")
    return ring if isinstance(ring, int) and not isinstance(ring, bool) and \
        0 <= ring <= GENERAL_RING else None


def active_labels(packages: Mapping[str, Any]) -> set[str]:
    active = packages.get("active")
    return {a for a in active if isinstance(a, str)} if isinstance(active, list) else set()


def _eligible(app_version: str, min_app: str) -> bool:
    if not min_app or not VERSION.match(min_app) or not VERSION.match(app_version or ""):
        return True  # unknown: expect an answer
    return version_key(app_version) >= version_key(min_app)


def terminal_statuses(package: str, version: str, waves: Sequence[int], published: int,
                      terminals: Iterable[TerminalRow], reports: Iterable[Report], *,
                      min_app_version: str = "",
                      published_at: Sequence[dt.datetime | None] = ()
                      ) -> dict[str, TerminalStatus]:
    """Every terminal in the published waves (0..`published`) or heard about the version.
    `published_at[k]`: when wave k went out (a terminal that does not say its ring and was
    heard before the wave of its bucket went out is a ring-0 terminal)."""
    label = f"{package}@{version}"
    newest: dict[str, Report] = {}
    first_heard: dict[str, dt.datetime] = {}
    for r in reports:
        if r.version != version or r.state not in STATES:
            continue
        old = newest.get(r.terminal)
        if old is None or (r.at, r.seq) >= (old.at, old.seq):
            newest[r.terminal] = r
        if r.received is not None and (r.terminal not in first_heard
                                       or r.received < first_heard[r.terminal]):
            first_heard[r.terminal] = r.received
    out: dict[str, TerminalStatus] = {}
    for t in terminals:
        ring = ring_of(t.packages)
        wave = wave_of(t.id, GENERAL_RING if ring is None else ring, waves)
        heard = newest.get(t.id)
        running = label in active_labels(t.packages)
        if (wave is None or wave > published) and heard is None and not running:
            continue
        if ring is None and wave is not None and wave > 0 and t.id in first_heard:
            went_out = published_at[wave] if wave < len(published_at) else None
            if went_out is None or first_heard[t.id] < went_out:
                wave = 0  # heard before its bucket's wave: a ring-0 terminal
        if wave is None or wave > published:
            # heard about a version its wave does not have yet: one from a wider wave
            # before a halt, or a terminal whose ring is lower than it says
            wave = published
        st = TerminalStatus(t.id, wave, t.online, running=running,
                            eligible=_eligible(t.app_version, min_app_version))
        if heard is not None:
            st.state, st.reason, st.at = heard.state, heard.reason, heard.at
        if running and st.state not in BAD:
            st.state = "activated"
        if running:
            st.counters = counters_of(t.packages)
        out[t.id] = st
    return out


def wave_stats(statuses: Iterable[TerminalStatus], waves: Sequence[int], published: int,
               thresholds: Thresholds,
               baseline: Mapping[str, Mapping[str, int]] | None = None) -> list[WaveStats]:
    """Counts and rates of each published wave (see the module's docstring)."""
    stats = [WaveStats(i, waves[i]) for i in range(published + 1)]
    worst: dict[int, int] = {}
    for st in statuses:
        w = stats[st.wave]
        if not (st.state or (st.online and st.eligible)):
            w.offline += 1
            continue
        w.terminals += 1
        if st.state:
            w.counts[st.state] += 1
        else:
            w.silent += 1
        if st.state in BAD and st.at is not None and (w.first_bad_at is None
                                                      or st.at < w.first_bad_at):
            w.first_bad_at, w.first_bad = st.at, st.id
        if st.running:
            if st.counters["error_screens"] > worst.get(w.index, 0):
                worst[w.index], w.most_errors = st.counters["error_screens"], st.id
            w.sessions += st.counters["sessions"]
            w.error_screens += st.counters["error_screens"]
            w.faults += st.counters["faults"]
    for w in stats:
        base = (baseline or {}).get(str(w.index), {})
        n = max(w.terminals, 1)
        for rule in BAD:
            w.rates[rule] = max(0, w.counts[rule] - int(base.get(rule, 0))) / n
        sessions = max(0, w.sessions - int(base.get("sessions", 0)))
        errors = max(0, w.error_screens - int(base.get("error_screens", 0)))
        w.rates["error_screens"] = errors / sessions \
            if sessions >= thresholds.min_sessions else None
    return stats


def crossings(stats: Iterable[WaveStats], thresholds: Thresholds,
              baseline: Mapping[str, Mapping[str, int]] | None = None) -> list[Crossing]:
    """The thresholds passed (strictly above), worst first."""
    out = []
    limits = {"rejected": thresholds.rejected, "rolled_back": thresholds.rolled_back,
              "error_screens": thresholds.error_screens}
    for w in stats:
        base = (baseline or {}).get(str(w.index), {})
        for rule, limit in limits.items():
            rate = w.rates.get(rule)
            if rate is None or rate <= limit:
                continue
            if rule == "error_screens":
                count = max(0, w.error_screens - int(base.get("error_screens", 0)))
                of = max(0, w.sessions - int(base.get("sessions", 0)))
                who = w.most_errors
            else:
                count, of = max(0, w.counts[rule] - int(base.get(rule, 0))), w.terminals
                who = w.first_bad
            out.append(Crossing(w.index, rule, rate, limit, count, of, w.first_bad_at, who))
    return sorted(out, key=lambda c: c.threshold - c.rate)


def baseline_of(stats: Iterable[WaveStats]) -> dict[str, dict[str, int]]:
    """What has been counted so far, per wave: an operator's resume starts from here."""
    return {str(w.index): {"rejected": w.counts["rejected"],
                           "rolled_back": w.counts["rolled_back"],
                           "sessions": w.sessions, "error_screens": w.error_screens}
            for w in stats}
