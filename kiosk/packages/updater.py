"""Terminal side of The Update Framework: refresh metadata, choose and fetch packages.

`tuf.ngclient.Updater` does the verification that matters against a hostile network or
file server: signatures and thresholds from the pinned root, root rotation, expiry of
every role (no frozen index), version numbers that never go back (no rollback), the
snapshot that ties targets together (no mix-and-match), and length and hash of every
download (no tampered or truncated file). On top of that we refuse to install an older
version of a package than the one in use (unless the signed target names the version in
use in `replaces`: ops rolled it back), and may require the builder's detached
signature (`packages.signer_keys`).

The client knows the terminal only through `ClientSettings` and the `Store` it installs
into; it never imports the package manager (the manager drives it, one way).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuf.api import exceptions as tuf_errors
from tuf.api.metadata import Metadata, Targets

from kiosk.flows.model import DefinitionError
from kiosk.flows.package import PACKAGE_ID, VERSION, version_key
from kiosk.packages.archive import MAX_ARCHIVE_BYTES
from kiosk.packages.rollout import Rollout
from kiosk.packages.store import Entry, Store, StoreError

log = logging.getLogger(__name__)
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class UpdateError(RuntimeError):
    """One stage of an update failed. `permanent`: the signed bytes themselves are bad, so
    the same file will fail again (the caller records its hash and never fetches it again);
    otherwise (network, metadata) the next poll tries again."""

    def __init__(self, stage: str, reason: str, permanent: bool = False) -> None:
        super().__init__(f"{stage}: {reason}")
        self.stage, self.reason, self.permanent = stage, reason, permanent


@dataclass(frozen=True)
class ClientSettings:
    """What the client needs to know about the terminal (from packages.* and terminal.id)."""

    repository_url: str
    trusted_root: Path | None  # root.json pinned at installation
    work_dir: Path  # TUF metadata cache and downloads live under it
    terminal_id: str
    ring: int
    app_version: str
    signer_keys: tuple[Any, ...] = ()  # Ed25519 public keys; empty = no builder check


@dataclass(frozen=True)
class Target:
    path: str
    package: str
    version: str
    sha256: str
    custom: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.package}@{self.version}"

    @property
    def entry(self) -> Entry:
        return Entry(self.package, self.version, self.sha256)


@dataclass(frozen=True)
class Choice:
    targets: list[Target]
    refused: list[tuple[str, str]]


_PHRASES: tuple[tuple[type[BaseException], str], ...] = (
    (tuf_errors.UnsignedMetadataError, "signatures missing or not by trusted keys"),
    (tuf_errors.ExpiredMetadataError, "expired (stale or frozen index)"),
    (tuf_errors.BadVersionNumberError, "version number went back (rollback attempt)"),
    (tuf_errors.LengthOrHashMismatchError, "length or hash differs from the signed metadata"),
    (tuf_errors.DownloadLengthMismatchError, "length differs from the signed metadata"),
    (tuf_errors.DownloadHTTPError, "HTTP error"),
    (tuf_errors.RepositoryError, "malformed or inconsistent metadata"),
)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or "no detail"
    phrase = next((p for cls, p in _PHRASES if isinstance(exc, cls)), type(exc).__name__)
    return f"{phrase} ({type(exc).__name__}: {text})"[:400]


def _replaces(t: Target) -> set[str]:
    """Versions this target is signed to replace: ops rolled them back (withdrawn from the
    targets in the same metadata version), so a terminal running one of them may go back
    to this lower version. No other downgrade is ever taken."""
    value = t.custom.get("replaces")
    return {v for v in value if isinstance(v, str)} if isinstance(value, list) else set()


class RepositoryClient:
    def __init__(self, settings: ClientSettings, store: Store, fetcher: Any = None) -> None:
        from tuf.ngclient import Updater

        self.m, self.store = settings, store
        if not settings.repository_url:
            raise UpdateError("config", "no packages.repository_url configured")
        base = settings.repository_url.rstrip("/")
        self.md_dir = settings.work_dir / "tuf" / "metadata"
        self.dl_dir = settings.work_dir / "tuf" / "downloads"
        self.md_dir.mkdir(parents=True, exist_ok=True)
        self.dl_dir.mkdir(parents=True, exist_ok=True)
        pinned = self._pinned_root()
        # After the first run the cached root (possibly rotated since) is the anchor; if
        # it is unreadable we start again from the root pinned at installation.
        for bootstrap in ((None, pinned) if (self.md_dir / "root.json").is_file() else (pinned,)):
            try:
                self.updater = Updater(str(self.md_dir), f"{base}/metadata/", str(self.dl_dir),
                                       f"{base}/targets/", fetcher=fetcher, bootstrap=bootstrap)
                break
            except (OSError, tuf_errors.RepositoryError) as exc:
                if bootstrap is pinned:
                    raise UpdateError("verify", f"trusted root rejected: {_describe(exc)}") \
                        from exc
        try:
            self.updater.refresh()
        except tuf_errors.DownloadError as exc:
            raise UpdateError("download", f"repository unreachable or incomplete: "
                                          f"{_describe(exc)}") from exc
        except tuf_errors.RepositoryError as exc:
            raise UpdateError("verify", f"repository metadata rejected: {_describe(exc)}") \
                from exc
        except (OSError, ValueError) as exc:
            raise UpdateError("download", _describe(exc)) from exc

    def _pinned_root(self) -> bytes:
        if self.m.trusted_root is None:
            raise UpdateError("config", "no packages.trusted_root (pinned root.json) configured")
        try:
            return Path(self.m.trusted_root).read_bytes()
        except OSError as exc:
            raise UpdateError("config", f"trusted root unreadable: {exc.strerror}") from exc

    def targets(self) -> list[Target]:
        """Package targets of the verified targets metadata (persisted by refresh())."""
        md: Metadata[Targets] = Metadata.from_file(str(self.md_dir / "targets.json"))
        out = []
        for path, tf in md.signed.targets.items():
            custom = tf.custom if isinstance(tf.custom, dict) else {}
            pkg, ver = custom.get("package"), custom.get("version")
            if not isinstance(pkg, str) or not isinstance(ver, str):
                log.info("ignoring target %s without package metadata", path)
                continue
            out.append(Target(path, pkg, ver, tf.hashes.get("sha256", ""), dict(custom)))
        return out

    def choose(self, current: Sequence[Entry], rejected: set[str]) -> Choice:
        """The newest eligible version of each package; refuse downgrades and bad metadata."""
        refused: list[tuple[str, str]] = []
        best: dict[str, Target] = {}
        for t in self.targets():
            if t.package == "builtin" or not PACKAGE_ID.match(t.package) or \
                    not VERSION.match(t.version) or not _SHA256.match(t.sha256):
                refused.append((t.label, "invalid package id, version or hash in metadata"))
                continue
            try:
                rollout = Rollout.from_json(t.custom.get("rollout"))
            except ValueError as exc:
                refused.append((t.label, str(exc)))
                continue
            if not rollout.includes(self.m.terminal_id, self.m.ring):
                continue
            need = str(t.custom.get("min_app_version", "0"))
            if VERSION.match(need) and version_key(need) > version_key(self.m.app_version):
                continue
            if t.sha256 in rejected:
                continue
            old = best.get(t.package)
            if old is None or version_key(t.version) > version_key(old.version):
                best[t.package] = t
        have = {e.id: e for e in current}
        chosen: list[Target] = []
        for pid, t in sorted(best.items()):
            cur = have.get(pid)
            if cur is not None and cur.sha256 != t.sha256:
                if version_key(t.version) < version_key(cur.version) and \
                        cur.version in _replaces(t):
                    chosen.append(t)  # ops rolled the current version back (signed)
                    continue
                if version_key(t.version) < version_key(cur.version):
                    refused.append((t.label, f"downgrade from {cur.version} refused"))
                    chosen.append(Target("", cur.id, cur.version, cur.sha256))
                    continue
                if version_key(t.version) == version_key(cur.version):
                    refused.append((t.label, "same version with different content refused"))
                    chosen.append(Target("", cur.id, cur.version, cur.sha256))
                    continue
            chosen.append(t)
        return Choice(chosen, refused)

    def fetch(self, t: Target, checkpoint: Callable[[str], None] | None = None) -> Entry:
        """Download, verify and unpack one package (or reuse the verified stored copy)."""
        from kiosk.packages.keys import SignatureError, verify_detached

        try:
            self.store.verify(t.entry)
            return t.entry
        except StoreError:
            if not t.path:
                raise UpdateError("load", f"{t.label} no longer in the store") from None
        info = self.updater.get_targetinfo(t.path)
        if info is None:
            raise UpdateError("verify", f"{t.path} not in the signed targets")
        if info.length > MAX_ARCHIVE_BYTES:
            raise UpdateError("verify", f"{t.label}: {info.length} bytes, above the package "
                                        f"limit of {MAX_ARCHIVE_BYTES}", permanent=True)
        dest = self.dl_dir / t.sha256
        try:
            self.updater.download_target(info, str(dest))
            data = dest.read_bytes()
        except tuf_errors.DownloadError as exc:
            raise UpdateError("download", _describe(exc)) from exc
        except tuf_errors.RepositoryError as exc:
            raise UpdateError("verify", f"download does not match the signed hash/length: "
                                        f"{_describe(exc)}") from exc
        finally:
            dest.unlink(missing_ok=True)
        if self.m.signer_keys:
            try:
                verify_detached(data, t.custom.get("signature"), list(self.m.signer_keys))
            except SignatureError as exc:
                raise UpdateError("verify", f"builder signature: {exc}") from exc
        try:
            entry = self.store.install(data, Path(t.path).name, checkpoint)
        except DefinitionError as exc:  # the archive's own content: it will never pass
            raise UpdateError("verify", str(exc), permanent=True) from exc
        if (entry.id, entry.version) != (t.package, t.version):
            raise UpdateError("verify", f"archive says {entry.label}, metadata says {t.label}")
        return entry
