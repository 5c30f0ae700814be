"""The terminal's package manager: poll, verify, stage, activate between citizens, roll back.

The active *set* is the built-in package (built from the app's `flowpacks/builtin` into
the same archive format at start) with the repository packages chosen for this terminal
on top. `state.json` names three sets: `active`, `previous` (the last known-good one)
and `staged`. Every set is checked again (file hashes, schema, step types, templates)
before it is used; one that fails is rejected with its reason and the terminal falls
back to `previous`, then to the built-in package alone.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiosk.flows.model import DefinitionError, FlowPackage
from kiosk.flows.package import compose, load_package, validate_package
from kiosk.packages.archive import build_archive
from kiosk.packages.reports import Listener, PackageEvent
from kiosk.packages.store import Entry, Store, StoreError, entries_from, entries_json

if TYPE_CHECKING:
    from kiosk.packages.updater import ClientSettings

log = logging.getLogger(__name__)

PAUSE_ENV = "KIOSK_PACKAGES_PAUSE_AT"  # test hook: block at a named phase (crash tests)


class SetRejected(RuntimeError):
    """A package set failed to load or validate; `reason` says which package and why."""

    def __init__(self, label: str, reason: str) -> None:
        super().__init__(f"{label}: {reason}" if label else reason)
        self.label, self.reason = label, reason


@dataclass(frozen=True)
class PollResult:
    changed: bool  # a new set is staged
    staged: tuple[str, ...] = ()
    rejected: tuple[str, ...] = ()
    error: str = ""


_plugins_loaded = False


def load_plugins() -> list[str]:
    """Register third-party step types (entry points) once, before any set is validated."""
    global _plugins_loaded
    if _plugins_loaded:
        return []
    from kiosk.flows.steps import load_entry_point_steps

    _plugins_loaded = True
    names = load_entry_point_steps()
    if names:
        log.info("step types from plug-ins: %s", ", ".join(names))
    return names


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


@dataclass
class PackageManager:
    data_dir: Path
    builtin_dir: Path
    terminal_id: str = "terminal"
    ring: int = 9
    repository_url: str = ""
    trusted_root: Path | None = None
    signer_keys: Sequence[Any] = ()  # Ed25519 public keys; empty = no detached-signature check
    app_version: str = ""
    # Told of every staged / activated / rejected / rolled-back package (fleet events).
    listeners: list[Listener] = field(default_factory=list, repr=False)
    _told: set[tuple[str, str]] = field(default_factory=set, repr=False)  # rejections said
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        from kiosk import __version__

        self.data_dir = Path(self.data_dir)
        self.store = Store(self.data_dir)
        self.app_version = self.app_version or __version__
        self.builtin: Entry | None = None

    @classmethod
    def from_config(cls, cfg: Any) -> PackageManager:
        """Build from a kiosk Config (storage.data_dir, packages.*, terminal.id)."""
        from flowpacks import BUILTIN_DIR
        from kiosk.packages.keys import load_public

        p = cfg.packages
        signer_paths = [s.strip() for s in getattr(p, "signer_keys", "").split(",") if s.strip()]
        root = getattr(p, "trusted_root", "")
        return cls(cfg.data_dir / "packages",
                   Path(p.builtin_dir) if p.builtin_dir else BUILTIN_DIR,
                   terminal_id=cfg.terminal.id, ring=int(getattr(p, "ring", 9)),
                   repository_url=getattr(p, "repository_url", ""),
                   trusted_root=Path(os.path.expanduser(root)) if root else None,
                   signer_keys=[load_public(Path(os.path.expanduser(s))) for s in signer_paths])

    # -- helpers ----------------------------------------------------------------------
    @contextmanager
    def _exclusive(self, blocking: bool = True) -> Iterator[None]:
        """One writer at a time: threads of this process and other processes (a technician's
        `kiosk pack poll` beside the running kiosk). Raises BlockingIOError if busy and not
        blocking."""
        if not self._lock.acquire(blocking=blocking):
            raise BlockingIOError("package store busy")
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            with open(self.data_dir / ".lock", "a+b") as fh:
                fcntl.flock(fh, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
                try:
                    yield
                finally:
                    fcntl.flock(fh, fcntl.LOCK_UN)
        finally:
            self._lock.release()

    def _checkpoint(self, phase: str) -> None:
        if os.environ.get(PAUSE_ENV) == phase:
            (self.data_dir / f"paused-{phase}").write_text(str(os.getpid()))
            while True:  # the crash test kills us here with SIGKILL
                time.sleep(1)

    def _report(self, labels: Sequence[str], state: str, reason: str = "") -> None:
        """Tell the listeners; a listener's fault never fails a poll or an activation."""
        for label in labels:
            if state == "rejected":  # a file refused again at every poll is said once
                if (label, reason) in self._told:
                    continue
                self._told.add((label, reason))
            event = PackageEvent.of(label, state, reason)
            for listener in list(self.listeners):
                try:
                    listener(event)
                except Exception:
                    log.exception("package listener failed")

    def _error(self, state: dict[str, Any], stage: str, reason: str, label: str = "",
               sha256: str = "") -> None:
        log.warning("package %s rejected at %s: %s", label or "set", stage, reason)
        state["last_error"] = {"at": _now(), "stage": stage, "package": label, "reason": reason}
        if sha256:
            rejected = state.setdefault("rejected", {})
            rejected[sha256] = {"package": label, "stage": stage, "reason": reason, "at": _now()}
            for old in list(rejected)[:-50]:  # keep the last 50
                del rejected[old]

    def ensure_builtin(self) -> Entry:
        """Build the built-in package's archive and install it like any other package."""
        if self.builtin is None or not self.store.path(self.builtin).is_dir():
            data = build_archive(self.builtin_dir)
            self.builtin = self.store.install(data, "builtin")
        return self.builtin

    def load_set(self, entries: Sequence[Entry]) -> FlowPackage:
        """Verify, load and validate builtin + entries as one set, or raise SetRejected."""
        load_plugins()
        layers: list[FlowPackage] = []
        for entry in [self.ensure_builtin(), *entries]:
            try:
                root = self.store.verify(entry)
                layers.append(load_package(root, validate_steps=False))
            except StoreError as exc:
                raise SetRejected(entry.label, str(exc)) from exc
            except DefinitionError as exc:
                raise SetRejected(entry.label, str(exc)) from exc
            if (layers[-1].id, layers[-1].version) != (entry.id, entry.version):
                raise SetRejected(entry.label, "manifest id/version differ from the target")
        base, rest = layers[0], sorted(layers[1:], key=lambda p: (p.priority, p.id))
        pkg = compose([base, *rest])
        try:
            validate_package(pkg, self.app_version)
        except DefinitionError as exc:
            origin = exc.file.partition(":")[0] if ":" in exc.file else ""
            label = origin or (entries[0].label if len(entries) == 1 else
                               "+".join(e.label for e in entries) or "builtin")
            raise SetRejected(label, str(exc)) from exc
        return pkg

    # -- start ------------------------------------------------------------------------
    def load_active(self) -> FlowPackage:
        """The verified set to start with: active, else previous, else the built-in alone."""
        try:
            return self._load_active()
        except OSError as exc:
            # No writable data folder (read-only disk, full disk): serve the built-in
            # package straight from the application, which is as trusted as the code.
            log.error("package store unusable (%s); using the built-in package", exc)
            return load_package(self.builtin_dir)

    def _load_active(self) -> FlowPackage:
        with self._exclusive():
            self.store.clean_partial()
            state = self.store.read_state()
            for name in ("active", "previous"):
                try:
                    entries = entries_from(state.get(name))
                except StoreError as exc:
                    self._error(state, "load", str(exc))
                    continue
                if entries is None:
                    continue
                try:
                    pkg = self.load_set(entries)
                except SetRejected as exc:
                    self._error(state, "load", f"{name} set rejected: {exc.reason}", exc.label)
                    continue
                if name == "previous":
                    log.warning("rolled back to the previous package set")
                    try:
                        bad = entries_from(state.get("active")) or []
                    except StoreError:
                        bad = []
                    self._report(self._changed(state.get("previous"), bad), "rolled_back",
                                 str((state.get("last_error") or {}).get("reason", "")))
                    state["active"], state["previous"] = state["previous"], None
                    self.store.write_state(state)
                return pkg
            pkg = self.load_set([])
            if state.get("active"):
                state["active"] = None
                self.store.write_state(state)
            elif state.get("last_error"):
                self.store.write_state(state)
            return pkg

    # -- poll (background) ------------------------------------------------------------
    def client_settings(self) -> ClientSettings:
        """What the repository client needs to know about this terminal."""
        from kiosk.packages.updater import ClientSettings

        return ClientSettings(self.repository_url, self.trusted_root, self.data_dir,
                              self.terminal_id, self.ring, self.app_version,
                              tuple(self.signer_keys))

    def poll(self, fetcher: Any = None) -> PollResult:
        """Check the repository; download, verify, unpack and validate; stage a new set."""
        # Imported here, not at the top: it pulls in TUF, which a terminal without a
        # repository never needs at start. The updater does not import this module.
        from kiosk.packages import updater

        with self._exclusive():
            state = self.store.read_state()
            state["last_check"] = _now()
            try:
                current = entries_from(state.get("staged")) or entries_from(state.get("active")) \
                    or []
            except StoreError:
                current = []
            try:
                client = updater.RepositoryClient(self.client_settings(), self.store,
                                                  fetcher)
                choice = client.choose(current, set(state.get("rejected", {})))
            except updater.UpdateError as exc:
                self._error(state, exc.stage, exc.reason)
                self.store.write_state(state)
                return PollResult(False, error=f"{exc.stage}: {exc.reason}")
            rejected = [f"{label}: {why}" for label, why in choice.refused]
            for label, why in choice.refused:
                self._error(state, "select", why, label)
                self._report([label], "rejected", why)
            desired: list[Entry] = []
            for target in choice.targets:
                try:
                    entry = client.fetch(target, self._checkpoint)
                except updater.UpdateError as exc:
                    self._error(state, exc.stage, exc.reason, target.label,
                                target.sha256 if exc.permanent else "")
                    if exc.stage == "verify":  # a network error is tried again, no rejection
                        self._report([target.label], "rejected", f"{exc.stage}: {exc.reason}")
                    rejected.append(f"{target.label}: {exc.reason}")
                    keep = [e for e in current if e.id == target.package]
                    desired.extend(keep)
                    continue
                desired.append(entry)
            desired.sort(key=lambda e: e.id)
            active = entries_from(state.get("active")) or []
            staged = entries_from(state.get("staged"))
            if not rejected:
                state["last_error"] = None
            if desired in (active, staged):
                state["staged"] = None if desired == active else state.get("staged")
                self.store.write_state(state)
                return PollResult(False, rejected=tuple(rejected))
            try:
                self.load_set(desired)
            except SetRejected as exc:
                bad = [e for e in desired if e.label == exc.label]
                self._error(state, "validate", exc.reason, exc.label,
                            bad[0].sha256 if bad else "")
                self.store.write_state(state)
                self._report([exc.label], "rejected", f"validate: {exc.reason}")
                return PollResult(False, rejected=(*rejected, str(exc)), error=str(exc))
            self._checkpoint("stage")
            state["staged"] = entries_json(desired)
            self.store.write_state(state)
            log.info("staged package set: %s", [e.label for e in desired])
            self._report([e.label for e in desired if e not in active], "staged")
            return PollResult(True, tuple(e.label for e in desired), tuple(rejected))

    # -- activate (between citizens) ----------------------------------------------------
    def has_staged(self) -> bool:
        return self.store.read_state().get("staged") is not None

    def activate_staged(self) -> FlowPackage | None:
        """Switch to the staged set; return it, or None (nothing staged, or rolled back).

        Never waits for a poll in progress (the UI thread calls this): try again later.
        """
        try:
            with self._exclusive(blocking=False):
                return self._activate_staged()
        except BlockingIOError:
            return None

    def _activate_staged(self) -> FlowPackage | None:
        state = self.store.read_state()
        staged = entries_from(state.get("staged"))
        if staged is None:
            return None
        previous = state.get("active")
        self._checkpoint("activate")
        state["previous"], state["active"], state["staged"] = previous, entries_json(staged), \
            None
        state["activated_at"] = _now()
        self.store.write_state(state)
        self._checkpoint("activated")
        try:
            pkg = self.load_set(staged)
        except SetRejected as exc:
            # Roll back: the previous set is still on disk and still verified.
            state["active"], state["previous"] = previous, None
            bad = [e for e in staged if e.label == exc.label]
            self._error(state, "activate", exc.reason, exc.label,
                        bad[0].sha256 if bad else "")
            self.store.write_state(state)
            self._report(self._changed(previous, staged), "rolled_back",
                         f"{exc.label}: {exc.reason}")
            return None
        keep = {e.dirname for name in ("active", "previous")
                for e in entries_from(state.get(name)) or []}
        self.store.gc(keep | {self.ensure_builtin().dirname})
        log.info("activated package set: %s", pkg.versions)
        self._report(self._changed(previous, staged), "activated")
        return pkg

    @staticmethod
    def _changed(before: Any, after: Sequence[Entry] | None) -> list[str]:
        """Labels of `after` that `before` (a state.json set) did not hold."""
        try:
            old = entries_from(before) or []
        except StoreError:
            old = []
        return [e.label for e in after or [] if e not in old]

    def staged_changes(self) -> list[str] | None:
        """Labels the staged set would bring (None: nothing staged)."""
        state = self.store.read_state()
        try:
            staged = entries_from(state.get("staged"))
        except StoreError:
            return None
        return None if staged is None else self._changed(state.get("active"), staged)

    def activated_at(self) -> str | None:
        value = self.store.read_state().get("activated_at")
        return value if isinstance(value, str) else None

    def status(self) -> dict[str, Any]:
        """What `kiosk pack status --json` shows: active, staged, last error, rejected."""
        from kiosk.packages.rollout import bucket

        state = self.store.read_state()

        def labels(name: str) -> list[str] | None:
            try:
                entries = entries_from(state.get(name))
            except StoreError:
                return None
            return None if entries is None else [e.label for e in entries]

        builtin = self.builtin.label if self.builtin else "builtin"
        return {
            "active": [builtin, *(labels("active") or [])],
            "staged": labels("staged"),
            "previous": labels("previous"),
            "last_error": state.get("last_error"),
            "rejected": list((state.get("rejected") or {}).values())[-10:],
            "last_check": state.get("last_check"),
            "activated_at": state.get("activated_at"),
            "repository": self.repository_url,
            "terminal": {"id": self.terminal_id, "ring": self.ring,
                         "bucket": bucket(self.terminal_id)},
        }




def start_polling(manager: PackageManager, interval_s: float) -> threading.Event:
    """Poll the repository every interval on a daemon thread; set the event to stop."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                result = manager.poll()
                if result.error:
                    log.warning("package poll: %s", result.error)
            except Exception:  # keep polling whatever one round did
                log.exception("package poll failed")
            stop.wait(max(5.0, interval_s))

    threading.Thread(target=loop, daemon=True, name="package-poll").start()
    return stop
