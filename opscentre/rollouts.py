"""Guarded package rollouts: a package version goes out in waves through the TUF repository
the terminals already trust, and halts by itself when a wave goes bad.

A rollout (`kiosk-ops rollout start PKG@VERSION --waves 0,5,25,100`, or the console)
publishes the version's target with the first wave's rollout data (`custom.rollout`, as
`kiosk.packages.rollout` reads it on the terminal: ring 0 first, then ring 0 plus a
percentage of buckets, then everyone). The evaluator (`run`, one pass every
`evaluate_every_s`, one centre instance at a time) then judges each wave from what the
terminals report (`opscentre.rollout_stats`):
- a threshold passed in a wave (rejections, rollbacks, error screens per citizen session)
  halts the rollout at once: the target is re-signed at the same wave, marked halted, and
  an alert opens (`alert_conditions`, read by `opscentre.alerts`);
- once `min_reported` of a wave's terminals answered, the wave soaks for `soak_s`; if it
  stays under the thresholds the next wave is published, and after the last one's soak
  the rollout is complete.
An operator may halt, resume (what was counted before no longer counts) or roll back:
the version's target is withdrawn and the previous version re-signed as replacing it, so
terminals that run or hold the bad version go back (`Repository.roll_back`). Every
change is a new version of the targets, snapshot and timestamp metadata: TUF never lets
metadata go back, and nothing here asks it to.

Every action is in the audit log (actor `centre` for the evaluator's own).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import enum
import fcntl
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from kiosk.flows.package import VERSION, version_key
from kiosk.packages.repository import DEFAULT_EXPIRY, Repository, RepositoryError
from opscentre import auth
from opscentre.db import Base, BigId, Json, UTCDateTime, utcnow
from opscentre.models import Event, Terminal
from opscentre.rollout_stats import (
    Report,
    TerminalRow,
    TerminalStatus,
    Thresholds,
    WaveStats,
    baseline_of,
    crossings,
    parse_waves,
    terminal_statuses,
    wave_label,
    wave_rollout,
    wave_stats,
)
from opscentre.settings import RolloutSettings

log = logging.getLogger(__name__)

CENTRE = "centre"  # the actor of the evaluator's own changes in the audit log
ADVISORY_LOCK = 0x6B696F736C  # one evaluator at a time across instances (PostgreSQL)
PACKAGE_EVENT = "package"


class RolloutState(str, enum.Enum):
    RUNNING = "running"
    HALTED = "halted"
    COMPLETED = "completed"
    ROLLED_BACK = "rolled_back"


LIVE = (RolloutState.RUNNING.value, RolloutState.HALTED.value)


class RolloutError(Exception):
    """Refused: `key` is a translation key (rollout.error.*), `status` the HTTP status."""

    def __init__(self, key: str, status: int = 400, detail: str = "") -> None:
        super().__init__(f"{key}: {detail}" if detail else key)
        self.key, self.status, self.detail = key, status, detail


# -- tables ----------------------------------------------------------------------------------
class Rollout(Base):
    """One version going out in waves (one live rollout per package at a time)."""

    __tablename__ = "rollouts"
    __table_args__ = (
        Index("uq_rollouts_live", "package", unique=True,
              sqlite_where=text("state IN ('running', 'halted')"),
              postgresql_where=text("state IN ('running', 'halted')")),
        Index("ix_rollouts_state", "state"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    package: Mapped[str] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(64))
    sha256: Mapped[str] = mapped_column(String(64), default="")
    target: Mapped[str] = mapped_column(String(256), default="")
    min_app_version: Mapped[str] = mapped_column(String(64), default="")
    previous_version: Mapped[str] = mapped_column(String(64), default="")  # "" = none
    waves: Mapped[list[int]] = mapped_column(Json, default=list)
    wave: Mapped[int] = mapped_column(Integer, default=0)  # the wave published
    state: Mapped[str] = mapped_column(String(16), default=RolloutState.RUNNING.value)
    soak_s: Mapped[float] = mapped_column(Float, default=1800.0)
    min_reported: Mapped[float] = mapped_column(Float, default=0.9)
    thresholds: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    baseline: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)  # set at a resume
    halt_reason: Mapped[str] = mapped_column(String(64), default="")
    halt_detail: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    halted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(80), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str] = mapped_column(Text, default="")  # the operator's words at a halt

    @property
    def label(self) -> str:
        return f"{self.package}@{self.version}"


class RolloutWave(Base):
    """When each wave was published, answered enough to soak, and passed."""

    __tablename__ = "rollout_waves"

    rollout_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("rollouts.id", ondelete="CASCADE"), primary_key=True)
    index: Mapped[int] = mapped_column(Integer, primary_key=True)
    percent: Mapped[int] = mapped_column(Integer)
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    ready_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # soak from here
    passed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    targets_version: Mapped[int] = mapped_column(Integer, default=0)
    stats: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)  # at pass or halt


# -- the repository ------------------------------------------------------------------------------
class Publisher:
    """The centre's hand on the TUF repository: one writer at a time (a lock file in the
    repository folder; the metadata files are replaced atomically by `Repository`)."""

    def __init__(self, settings: RolloutSettings) -> None:
        self.settings = settings
        self.repo_dir = Path(settings.repository).expanduser() if settings.repository else None
        self.keys_dir = Path(settings.keys).expanduser() if settings.keys else None
        self._last_refresh_check = 0.0

    @property
    def configured(self) -> bool:
        return self.repo_dir is not None and self.keys_dir is not None

    @property
    def repo(self) -> Repository:
        if self.repo_dir is None or self.keys_dir is None:
            raise RolloutError("rollout.error.no_repository", 409,
                               "set [rollouts] repository and keys in the centre's config")
        return Repository(self.repo_dir)

    @contextlib.contextmanager
    def locked(self) -> Iterator[Repository]:
        repo = self.repo
        repo.root.mkdir(parents=True, exist_ok=True)
        with open(repo.root / ".centre.lock", "a+b") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield repo
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def keys(self) -> list[Any]:
        from kiosk.packages.ops import online_keys

        assert self.repo_dir is not None and self.keys_dir is not None
        try:
            return online_keys(self.repo_dir, self.keys_dir)
        except (RepositoryError, OSError, ValueError) as exc:
            raise RolloutError("rollout.error.keys", 409, str(exc)) from None

    def targets(self) -> dict[str, Any]:
        try:
            return {p: tf for p, tf in self.repo.list_targets().items()
                    if isinstance(tf.custom, dict)}
        except RepositoryError as exc:
            raise RolloutError("rollout.error.no_repository", 409, str(exc)) from None

    def add_archive(self, archive: Path, percent: int) -> None:
        """Check and publish an archive at a wave (builder signature, content: `kiosk pack
        publish`'s checks, with the key folder's signer*.pub)."""
        from kiosk.packages.ops import publish

        assert self.repo_dir is not None and self.keys_dir is not None
        with self.locked():
            publish(archive, self.repo_dir, self.keys_dir, rollout=wave_rollout(percent))

    def set_wave(self, r: Rollout, state: str) -> int:
        keys = self.keys()
        mark = None if state == RolloutState.COMPLETED.value else \
            {"rollout": r.id, "wave": r.wave, "state": state}
        with self.locked() as repo:
            try:
                pub = repo.set_rollout(r.package, r.version, keys, wave_rollout(r.waves[r.wave]),
                                       extra={"centre": mark})
            except RepositoryError as exc:
                raise RolloutError("rollout.error.no_target", 409, str(exc)) from None
        return pub.targets_version

    def roll_back(self, r: Rollout) -> list[str]:
        keys = self.keys()
        with self.locked() as repo:
            listed = {(tf.custom.get("package"), tf.custom.get("version"))
                      for tf in self.targets().values()}
            to = r.previous_version if (r.package, r.previous_version) in listed else None
            if (r.package, r.version) not in listed:
                return []  # withdrawn already (a retry after a failed commit)
            return repo.roll_back(r.package, r.version, to, keys,
                                  extra={"centre": {"rollout": r.id, "state": "rolled_back"}})

    def refresh_if_due(self, now: float | None = None) -> bool:
        """Re-sign snapshot and timestamp when the timestamp is older than
        `refresh_timestamp_s` (what `kiosk pack refresh` from cron does otherwise)."""
        now = time.time() if now is None else now
        if not self.configured or now - self._last_refresh_check < 60:
            return False
        self._last_refresh_check = now
        ts = self.repo.timestamp_md() if (self.repo.meta / "timestamp.json").is_file() else None
        if ts is None:
            return False
        signed_at = ts.signed.expires.timestamp() - DEFAULT_EXPIRY["timestamp"].total_seconds()
        if now - signed_at < self.settings.refresh_timestamp_s:
            return False
        keys = self.keys()
        with self.locked() as repo:
            repo.refresh(keys)
        log.info("rollouts: repository timestamp re-signed")
        return True


# -- starting ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StartSpec:
    package: str
    version: str
    waves: tuple[int, ...] = (0, 5, 25, 100)
    soak_s: float = 1800.0
    thresholds: Thresholds = field(default_factory=Thresholds)
    min_reported: float = 0.9
    archive: Path | None = None  # a built, signed archive; else the target must be listed

    @classmethod
    def parse(cls, label: str, settings: RolloutSettings, *, waves: str | None = None,
              soak_s: float | None = None, archive: Path | None = None,
              thresholds: dict[str, float] | None = None) -> StartSpec:
        """From PKG@VERSION and options, defaults from the settings; ValueError if bad."""
        from kiosk.flows.package import PACKAGE_ID

        package, sep, version = label.partition("@")
        if not sep or not PACKAGE_ID.match(package) or not VERSION.match(version):
            raise ValueError(f"give the package as ID@VERSION (dg-services@1.4.0), not "
                             f"{label!r}")
        if package == "builtin":
            raise ValueError("the built-in package ships with the app")
        t = {"rejected": settings.max_rejected, "rolled_back": settings.max_rolled_back,
             "error_screens": settings.max_error_screens, "min_sessions": settings.min_sessions,
             **{k: v for k, v in (thresholds or {}).items() if v is not None}}
        soak = settings.soak_s if soak_s is None else soak_s
        if soak < 0:
            raise ValueError("the soak time cannot be negative")
        return cls(package, version, parse_waves(waves if waves is not None else
                                                 list(settings.waves)),
                   soak, Thresholds.from_json(t), settings.min_reported, archive)


def inbox_archives(settings: RolloutSettings) -> dict[str, Path]:
    """Signed archives waiting in the inbox folder, by ID@VERSION (from their manifests)."""
    import tomllib

    from kiosk.packages.archive import ArchiveError, read_archive, read_archive_file

    out: dict[str, Path] = {}
    folder = Path(settings.inbox).expanduser() if settings.inbox else None
    if folder is None or not folder.is_dir():
        return out
    for path in sorted(folder.glob("*.kpkg")):
        try:
            files = read_archive(read_archive_file(path), path.name)
            manifest = tomllib.loads(files["manifest.toml"].decode("utf-8"))
        except (ArchiveError, OSError, ValueError, KeyError) as exc:
            log.warning("rollouts: inbox archive %s unreadable: %s", path.name, exc)
            continue
        out[f"{manifest.get('id')}@{manifest.get('version')}"] = path
    return out


def _previous(targets: dict[str, Any], package: str, version: str) -> str:
    """The version terminals run today: the newest lower one published to everyone (else
    the newest lower one at all); "" when this is the package's first."""
    lower = [tf.custom for tf in targets.values() if tf.custom.get("package") == package
             and VERSION.match(str(tf.custom.get("version", "")))
             and version_key(str(tf.custom["version"])) < version_key(version)]
    everyone = [c for c in lower if "rollout" not in c]
    pool = everyone or lower
    return str(max(pool, key=lambda c: version_key(str(c["version"])))["version"]) \
        if pool else ""


def start(db: Session, publisher: Publisher, spec: StartSpec, actor: str,
          address: str = "") -> Rollout:
    """Publish wave 0 and record the rollout (committed, audited)."""
    if db.scalar(select(Rollout.id).where(Rollout.package == spec.package,
                                          Rollout.state.in_(LIVE))) is not None:
        raise RolloutError("rollout.error.live_exists", 409, spec.package)
    label = f"{spec.package}@{spec.version}"
    targets = publisher.targets()
    listed = {(tf.custom.get("package"), tf.custom.get("version")) for tf in targets.values()}
    if (spec.package, spec.version) not in listed:
        if spec.archive is None:
            raise RolloutError("rollout.error.no_target", 404,
                               f"{label} is not in the repository; give its archive")
        try:
            publisher.add_archive(spec.archive, spec.waves[0])
        except (RepositoryError, OSError, ValueError) as exc:
            # kiosk pack publish's checks (signature, member rules, schema: ValueErrors)
            raise RolloutError("rollout.error.archive", 400, str(exc)[:400]) from None
        targets = publisher.targets()
    path, tf = next((p, tf) for p, tf in targets.items()
                    if (tf.custom.get("package"), tf.custom.get("version")) ==
                    (spec.package, spec.version))
    now = utcnow()
    r = Rollout(package=spec.package, version=spec.version, sha256=tf.hashes.get("sha256", ""),
                target=path, min_app_version=str(tf.custom.get("min_app_version", "")),
                previous_version=_previous(targets, spec.package, spec.version),
                waves=list(spec.waves), wave=0, state=RolloutState.RUNNING.value,
                soak_s=spec.soak_s, min_reported=spec.min_reported,
                thresholds=spec.thresholds.to_json(), baseline={}, created_by=actor[:80],
                created_at=now, updated_at=now)
    db.add(r)
    db.flush()
    for i, p in enumerate(spec.waves):
        db.add(RolloutWave(rollout_id=r.id, index=i, percent=p))
    db.flush()
    tv = publisher.set_wave(r, r.state)
    wave0 = db.get(RolloutWave, (r.id, 0))
    assert wave0 is not None
    wave0.published_at, wave0.targets_version = now, tv
    auth.audit(db, actor, "rollout_started", f"rollout:{r.id}", address,
               {"package": label, "waves": list(spec.waves), "soak_s": spec.soak_s,
                "thresholds": spec.thresholds.to_json(), "previous": r.previous_version})
    db.commit()
    log.info("rollout %d of %s started by %s (waves %s)", r.id, label, actor, spec.waves)
    return r


# -- operators: halt, resume, roll back ------------------------------------------------------------
def find(db: Session, ref: str | int, *, lock: bool = False) -> Rollout:
    """A rollout by id, or by ID@VERSION (its newest), or by package (its live one)."""
    q = select(Rollout)
    if isinstance(ref, int) or str(ref).isdigit():
        q = q.where(Rollout.id == int(ref))
    elif "@" in str(ref):
        pkg, _, ver = str(ref).partition("@")
        q = q.where(Rollout.package == pkg, Rollout.version == ver)
    else:
        q = q.where(Rollout.package == str(ref))
    q = q.order_by(Rollout.id.desc()).limit(1)
    r = db.scalar(q.with_for_update() if lock else q)
    if r is None:
        raise RolloutError("rollout.error.not_found", 404, str(ref))
    return r


def _transition(db: Session, r: Rollout, allowed: Sequence[str], **values: Any) -> None:
    """Move the state only if it is still one of `allowed` (the evaluator or another
    operator may have moved it meanwhile): the UPDATE also takes SQLite's write lock."""
    res = db.execute(update(Rollout).where(Rollout.id == r.id, Rollout.state.in_(allowed))
                     .values(updated_at=utcnow(), **values))
    if getattr(res, "rowcount", 1) != 1:
        db.rollback()
        raise RolloutError("rollout.error.state", 409, r.state)
    db.refresh(r)


def halt(db: Session, publisher: Publisher, ref: str | int, actor: str, address: str = "",
         note: str = "") -> Rollout:
    r = find(db, ref, lock=True)
    now = utcnow()
    _transition(db, r, [RolloutState.RUNNING.value], state=RolloutState.HALTED.value,
                halted_at=now, halt_reason="rollout.halt.operator",
                halt_detail={"by": actor[:80]}, note=note[:500])
    try:
        publisher.set_wave(r, r.state)
    except Exception:
        db.rollback()
        raise
    auth.audit(db, actor, "rollout_halted", f"rollout:{r.id}", address,
               {"package": r.label, "wave": r.wave, "note": note[:200]})
    db.commit()
    return r


def resume(db: Session, publisher: Publisher, ref: str | int, actor: str,
           address: str = "") -> Rollout:
    r = find(db, ref, lock=True)
    stats = live_stats(db, r)
    _transition(db, r, [RolloutState.HALTED.value], state=RolloutState.RUNNING.value,
                baseline={"at": utcnow().isoformat(), **baseline_of(stats)}, halt_reason="",
                note="")
    wave = db.get(RolloutWave, (r.id, r.wave))
    if wave is not None:
        wave.ready_at = None  # the soak starts again
    try:
        publisher.set_wave(r, r.state)
    except Exception:
        db.rollback()
        raise
    auth.audit(db, actor, "rollout_resumed", f"rollout:{r.id}", address,
               {"package": r.label, "wave": r.wave, "was": r.halt_detail})
    db.commit()
    return r


def roll_back(db: Session, publisher: Publisher, ref: str | int, actor: str,
              address: str = "") -> Rollout:
    r = find(db, ref, lock=True)
    now = utcnow()
    _transition(db, r, [RolloutState.RUNNING.value, RolloutState.HALTED.value,
                        RolloutState.COMPLETED.value],
                state=RolloutState.ROLLED_BACK.value, finished_at=now)
    try:
        changed = publisher.roll_back(r)
    except Exception:
        db.rollback()
        raise
    auth.audit(db, actor, "rollout_rolled_back", f"rollout:{r.id}", address,
               {"package": r.label, "to": r.previous_version or None, "targets": changed})
    db.commit()
    log.warning("rollout %d of %s rolled back by %s (to %s)", r.id, r.label, actor,
                r.previous_version or "nothing")
    return r


# -- what the terminals say ----------------------------------------------------------------------
def _reports(db: Session, r: Rollout) -> list[Report]:
    # Package events received since the rollout began (the centre's clock: terminals'
    # clocks may be off), filtered to the package in Python (a JSON body on both engines).
    rows = db.execute(select(Event.id, Event.terminal_id, Event.at, Event.received_at,
                             Event.body)
                      .where(Event.type == PACKAGE_EVENT,
                             Event.received_at >= r.created_at - dt.timedelta(seconds=5)))
    out = []
    for seq, tid, at, received, body in rows:
        if not isinstance(body, dict) or body.get("package") != r.package:
            continue
        out.append(Report(tid, str(body.get("version", "")), str(body.get("state", "")),
                          str(body.get("reason", ""))[:300], at, seq, received))
    return out


def _terminals(db: Session) -> list[TerminalRow]:
    rows = db.execute(select(Terminal.id, Terminal.online, Terminal.app_version,
                             Terminal.packages))
    return [TerminalRow(tid, bool(online), app or "", pk if isinstance(pk, dict) else {})
            for tid, online, app, pk in rows]


def statuses(db: Session, r: Rollout) -> dict[str, TerminalStatus]:
    went_out = dict(db.execute(select(RolloutWave.index, RolloutWave.published_at)
                               .where(RolloutWave.rollout_id == r.id)).all())
    return terminal_statuses(r.package, r.version, r.waves, r.wave, _terminals(db),
                             _reports(db, r), min_app_version=r.min_app_version,
                             published_at=[went_out.get(i) for i in range(len(r.waves))])


def live_stats(db: Session, r: Rollout) -> list[WaveStats]:
    return wave_stats(statuses(db, r).values(), r.waves, r.wave,
                      Thresholds.from_json(r.thresholds), r.baseline)


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def row(r: Rollout) -> dict[str, Any]:
    """A rollout as the list shows it (no terminal data)."""
    return {"id": r.id, "package": r.package, "version": r.version, "label": r.label,
            "state": r.state, "wave": r.wave, "waves": list(r.waves),
            "scope": wave_label(r.waves[r.wave]) if r.waves else "",
            "previous_version": r.previous_version or None, "soak_s": r.soak_s,
            "min_reported": r.min_reported, "thresholds": dict(r.thresholds),
            "halt_reason": r.halt_reason or None, "halt_detail": dict(r.halt_detail or {}),
            "halted_at": _iso(r.halted_at), "note": r.note or None,
            "created_by": r.created_by, "created_at": _iso(r.created_at),
            "updated_at": _iso(r.updated_at), "finished_at": _iso(r.finished_at),
            "target": r.target, "sha256": r.sha256}


def listing(db: Session, limit: int = 200) -> list[dict[str, Any]]:
    return [row(r) for r in db.scalars(select(Rollout).order_by(Rollout.id.desc())
                                       .limit(limit))]


def describe(db: Session, r: Rollout, *, problems: int = 50) -> dict[str, Any]:
    """A rollout with its waves' live counts and rates, the terminals that failed it, and
    (once rolled back) how many run the previous version again."""
    sts = statuses(db, r)
    thresholds = Thresholds.from_json(r.thresholds)
    stats = wave_stats(sts.values(), r.waves, r.wave, thresholds, r.baseline)
    rows = {w.index: w for w in db.scalars(select(RolloutWave).where(
        RolloutWave.rollout_id == r.id))}
    waves = []
    for i, p in enumerate(r.waves):
        w = rows.get(i)
        ready = w.ready_at if w is not None else None
        waves.append({
            "index": i, "percent": p, "scope": wave_label(p),
            "published_at": _iso(w.published_at) if w else None, "ready_at": _iso(ready),
            "passed_at": _iso(w.passed_at) if w else None,
            "soak_until": _iso(ready + dt.timedelta(seconds=r.soak_s)) if ready else None,
            "stats": stats[i].to_json() if i < len(stats) else (w.stats if w else None)})
    bad = sorted((st for st in sts.values() if st.state in ("rejected", "rolled_back")),
                 key=lambda st: (st.at is None, st.at))
    errors = sorted((st for st in sts.values() if st.running and
                     st.counters["error_screens"]),
                    key=lambda st: -st.counters["error_screens"])
    out = row(r)
    out.update(
        waves_detail=waves,
        problems=[{"terminal": st.id, "wave": st.wave, "state": st.state,
                   "reason": st.reason, "at": _iso(st.at)} for st in bad[:problems]],
        error_terminals=[{"terminal": st.id, "wave": st.wave, **st.counters}
                         for st in errors[:10]],
        crossed=[c.to_json() for c in crossings(stats, thresholds, r.baseline)],
        counted_since=(r.baseline or {}).get("at"),  # an operator resumed: rates from here
        running=sum(1 for st in sts.values() if st.running),
        back_on_previous=_running(db, f"{r.package}@{r.previous_version}")
        if r.previous_version and r.state == RolloutState.ROLLED_BACK.value else None)
    return out


def _running(db: Session, label: str) -> int:
    from opscentre.rollout_stats import active_labels

    return sum(1 for t in _terminals(db) if label in active_labels(t.packages))


# -- the evaluator ---------------------------------------------------------------------------------
@dataclass
class PassResult:
    halted: list[int] = field(default_factory=list)
    published: list[int] = field(default_factory=list)
    completed: list[int] = field(default_factory=list)
    evaluated: bool = True


def evaluate(db: Session, publisher: Publisher, now: dt.datetime | None = None) -> PassResult:
    """One pass over the running rollouts in the caller's transaction (the caller commits).

    Each change is claimed by a conditional UPDATE (the rollout still running at the wave
    read: an operator's halt in between wins), then published, then audited; if
    publishing fails the caller's transaction is rolled back and the next pass tries
    again (publishing the same wave twice only makes one more metadata version)."""
    now = now or utcnow()
    result = PassResult()
    if db.get_bind().dialect.name == "postgresql" and not db.execute(
            text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": ADVISORY_LOCK}).scalar():
        result.evaluated = False
        return result
    running = list(db.scalars(select(Rollout).where(
        Rollout.state == RolloutState.RUNNING.value).order_by(Rollout.id)))
    for r in running:
        _evaluate_one(db, publisher, r, now, result)
    return result


def _claim(db: Session, r: Rollout, **values: Any) -> bool:
    res = db.execute(update(Rollout).where(
        Rollout.id == r.id, Rollout.state == RolloutState.RUNNING.value,
        Rollout.wave == r.wave).values(updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False))
    if getattr(res, "rowcount", 0) != 1:
        return False
    db.refresh(r)
    return True


def _evaluate_one(db: Session, publisher: Publisher, r: Rollout, now: dt.datetime,
                  result: PassResult) -> None:
    thresholds = Thresholds.from_json(r.thresholds)
    stats = wave_stats(statuses(db, r).values(), r.waves, r.wave, thresholds, r.baseline)
    crossed = crossings(stats, thresholds, r.baseline)
    wave = db.get(RolloutWave, (r.id, r.wave))
    assert wave is not None
    if crossed:
        c = crossed[0]
        if _claim(db, r, state=RolloutState.HALTED.value, halted_at=now,
                  halt_reason=c.reason, halt_detail=c.to_json()):
            wave.stats = stats[r.wave].to_json()
            publisher.set_wave(r, r.state)  # keeps it at this wave, marked halted
            auth.audit(db, CENTRE, "rollout_halted", f"rollout:{r.id}", "",
                       {"package": r.label, **r.halt_detail})
            result.halted.append(r.id)
            log.warning("rollout %d of %s halted: %s %.1f %% > %.1f %% in wave %d", r.id,
                        r.label, c.rule, c.rate * 100, c.threshold * 100, c.wave)
        return
    current = stats[r.wave]
    if current.answered_share < r.min_reported:
        if wave.ready_at is not None:  # more of the wave came online or spoke up
            wave.ready_at = None  # since: the soak starts again once they answered
            db.flush()
        return
    if wave.ready_at is None:
        wave.ready_at = now
        db.flush()
    if (now - wave.ready_at).total_seconds() < r.soak_s:
        return
    last = r.wave + 1 >= len(r.waves)
    claimed = _claim(db, r, state=RolloutState.COMPLETED.value, finished_at=now) if last \
        else _claim(db, r, wave=r.wave + 1)
    if not claimed:
        return
    wave.passed_at, wave.stats = now, current.to_json()
    tv = publisher.set_wave(r, r.state)
    if last:
        auth.audit(db, CENTRE, "rollout_completed", f"rollout:{r.id}", "",
                   {"package": r.label, "waves": r.waves})
        result.completed.append(r.id)
        log.info("rollout %d of %s complete", r.id, r.label)
        return
    nxt = db.get(RolloutWave, (r.id, r.wave))
    assert nxt is not None
    nxt.published_at, nxt.targets_version = now, tv
    auth.audit(db, CENTRE, "rollout_wave", f"rollout:{r.id}", "",
               {"package": r.label, "wave": r.wave, "scope": wave_label(r.waves[r.wave]),
                "after": current.to_json()})
    result.published.append(r.id)
    log.info("rollout %d of %s: wave %d (%s) published", r.id, r.label, r.wave,
             wave_label(r.waves[r.wave]))


def alert_conditions(db: Session) -> list[Any]:
    """Halted rollouts as alert conditions (`opscentre.alerts` opens and closes them): the
    alert is filed under the first failing terminal (an alert names one) and closes by
    itself once an operator resumed or rolled the rollout back."""
    from opscentre.alerts import Condition

    out = []
    for r in db.scalars(select(Rollout).where(Rollout.state == RolloutState.HALTED.value)):
        tid = str((r.halt_detail or {}).get("terminal") or "")
        if not tid or r.halt_reason == "rollout.halt.operator":
            continue  # an operator's halt needs no alert: they know
        d = r.halt_detail
        out.append(Condition(
            "rollout", tid, f"rollout:{r.id}",
            f"rollout {r.label} halted in wave {d.get('wave')}: {d.get('rule')} "
            f"{float(d.get('rate', 0)) * 100:.1f} % > {float(d.get('threshold', 0)) * 100:.1f} %",
            {"rollout": r.id, **d}))
    return out


def run(publisher: Publisher, sessions: sessionmaker[Session], stop: threading.Event,
        every_s: float = 2.0) -> None:
    """Evaluate every `every_s` until `stop`; a database outage skips passes."""
    while not stop.is_set():
        try:
            with sessions() as db:
                evaluate(db, publisher)
                db.commit()  # on an exception the context rolls the pass back
            publisher.refresh_if_due()
        except DBAPIError as exc:
            log.warning("rollouts: pass skipped (%s)", type(exc.__cause__ or exc).__name__)
        except Exception:  # keep evaluating whatever one pass did
            log.exception("rollouts: pass failed")
        stop.wait(every_s)
