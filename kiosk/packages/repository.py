"""The ops side of The Update Framework: write and sign the repository terminals poll.

Layout of a repository folder (serve it as is from any static web server, CDN or
S3-compatible bucket; it holds no private key):

    metadata/N.root.json, metadata/root.json     root of trust (signed offline)
    metadata/N.targets.json                      the packages, hashes, sizes, rollout
    metadata/N.snapshot.json                     versions of targets metadata
    metadata/timestamp.json                      freshness, short expiry
    targets/packages/<id>/<sha256>.<id>-<version>.kpkg

`write_root` runs at the offline key ceremony; `publish` and `refresh` use the online
keys (targets, snapshot, timestamp) found in a key folder outside the repository.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from tuf.api.exceptions import UnsignedMetadataError
from tuf.api.metadata import (
    Metadata,
    MetaFile,
    Role,
    Root,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)

from kiosk.packages import keys as keymod
from kiosk.packages.rollout import Rollout

ONLINE_ROLES = ("targets", "snapshot", "timestamp")
DEFAULT_EXPIRY = {"root": timedelta(days=365), "targets": timedelta(days=90),
                  "snapshot": timedelta(days=7), "timestamp": timedelta(days=1)}


class RepositoryError(RuntimeError):
    """The repository or the keys given cannot produce valid signed metadata."""


@dataclass(frozen=True)
class Published:
    target: str
    length: int
    sha256: str
    targets_version: int
    timestamp_version: int


def _expires(delta: timedelta, now: datetime | None = None) -> datetime:
    return ((now or datetime.now(UTC)) + delta).replace(microsecond=0)


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _store(md: Metadata[Any], path: Path) -> None:
    _atomic_write(path, md.to_bytes())


class Repository:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.meta = self.root / "metadata"
        self.targets_dir = self.root / "targets"

    # -- reading -------------------------------------------------------------------
    def _load(self, name: str) -> Metadata[Any]:
        path = self.meta / name
        if not path.is_file():
            raise RepositoryError(f"{path} missing; run `kiosk pack root` first")
        return Metadata.from_file(str(path))

    def root_md(self) -> Metadata[Root]:
        return self._load("root.json")

    def timestamp_md(self) -> Metadata[Timestamp] | None:
        return self._load("timestamp.json") if (self.meta / "timestamp.json").is_file() else None

    def snapshot_md(self) -> Metadata[Snapshot] | None:
        ts = self.timestamp_md()
        return self._load(f"{ts.signed.snapshot_meta.version}.snapshot.json") if ts else None

    def targets_md(self) -> Metadata[Targets] | None:
        snap = self.snapshot_md()
        return self._load(f"{snap.signed.meta['targets.json'].version}.targets.json") \
            if snap else None

    def list_targets(self) -> dict[str, TargetFile]:
        md = self.targets_md()
        return dict(md.signed.targets) if md else {}

    # -- root (offline ceremony) ------------------------------------------------------
    def write_root(self, *, root_keys: Sequence[Ed25519PublicKey], root_threshold: int,
                   role_keys: Mapping[str, Sequence[Ed25519PublicKey]],
                   role_thresholds: Mapping[str, int], signers: Sequence[Ed25519PrivateKey],
                   expires: timedelta = DEFAULT_EXPIRY["root"]) -> int:
        """Write the next root version, signed by `signers`; return its version.

        A new root must carry a threshold of signatures of the previous root's keys and
        of its own keys; both are checked before anything is written.
        """
        previous = self.root_md() if (self.meta / "root.json").is_file() else None
        version = previous.signed.version + 1 if previous else 1
        root = Root(version=version, expires=_expires(expires), consistent_snapshot=True)
        for role in ("root", *ONLINE_ROLES):
            pubs = root_keys if role == "root" else role_keys.get(role, ())
            threshold = root_threshold if role == "root" else role_thresholds.get(role, 1)
            if not pubs:
                raise RepositoryError(f"no public key given for role {role}")
            if threshold < 1 or threshold > len(pubs):
                raise RepositoryError(f"threshold {threshold} for {role} needs 1..{len(pubs)} keys")
            root.roles[role] = Role([], threshold)
            for pub in pubs:
                root.add_key(keymod.tuf_key(pub), role)
        md = Metadata(root)
        for key in signers:
            md.sign(keymod.signer(key), append=True)
        try:
            if previous is not None:
                previous.signed.verify_delegate(Root.type, md.signed_bytes, md.signatures)
            root.verify_delegate(Root.type, md.signed_bytes, md.signatures)
        except UnsignedMetadataError as exc:
            raise RepositoryError(f"root v{version} lacks signatures: {exc}") from exc
        _store(md, self.meta / f"{version}.root.json")
        _store(md, self.meta / "root.json")
        return version

    # -- online roles --------------------------------------------------------------------
    def _signers_for(self, role: str, keys: Sequence[Ed25519PrivateKey]) -> list[Any]:
        root = self.root_md().signed
        allowed = set(root.roles[role].keyids)
        chosen = [keymod.signer(k) for k in keys if keymod.keyid_of(k.public_key()) in allowed]
        if len(chosen) < root.roles[role].threshold:
            raise RepositoryError(f"{role}: {len(chosen)} of the keys given are {role} keys in "
                                  f"root v{root.version}; threshold is "
                                  f"{root.roles[role].threshold}")
        return chosen

    def _sign_write(self, md: Metadata[Any], role: str, keys: Sequence[Ed25519PrivateKey],
                    name: str) -> None:
        for s in self._signers_for(role, keys):
            md.sign(s, append=True)
        _store(md, self.meta / name)

    def _write_targets(self, targets: dict[str, TargetFile], keys: Sequence[Ed25519PrivateKey],
                       expiry: Mapping[str, timedelta], now: datetime | None) -> tuple[int, int]:
        old = self.targets_md()
        tv = old.signed.version + 1 if old else 1
        self._sign_write(Metadata(Targets(version=tv, expires=_expires(expiry["targets"], now),
                                          targets=targets)),
                         "targets", keys, f"{tv}.targets.json")
        return tv, self._write_snapshot_timestamp(tv, keys, expiry, now)

    def _write_snapshot_timestamp(self, targets_version: int, keys: Sequence[Ed25519PrivateKey],
                                  expiry: Mapping[str, timedelta],
                                  now: datetime | None) -> int:
        old_snap = self.snapshot_md()
        sv = old_snap.signed.version + 1 if old_snap else 1
        snap = Snapshot(version=sv, expires=_expires(expiry["snapshot"], now),
                        meta={"targets.json": MetaFile(version=targets_version)})
        self._sign_write(Metadata(snap), "snapshot", keys, f"{sv}.snapshot.json")
        old_ts = self.timestamp_md()
        tsv = old_ts.signed.version + 1 if old_ts else 1
        ts = Timestamp(version=tsv, expires=_expires(expiry["timestamp"], now),
                       snapshot_meta=MetaFile(version=sv))
        self._sign_write(Metadata(ts), "timestamp", keys, "timestamp.json")
        return tsv

    def publish(self, archive: bytes, package_id: str, version: str,
                keys: Sequence[Ed25519PrivateKey], *, rollout: Rollout | None = None,
                extra: Mapping[str, Any] | None = None,
                expiry: Mapping[str, timedelta] | None = None,
                now: datetime | None = None) -> Published:
        """Add (or replace) a package target and re-sign targets, snapshot and timestamp."""
        exp = {**DEFAULT_EXPIRY, **(expiry or {})}
        path = f"packages/{package_id}/{package_id}-{version}.kpkg"
        custom: dict[str, Any] = {"package": package_id, "version": version, **(extra or {})}
        if rollout is not None and not rollout.everyone:
            custom["rollout"] = rollout.to_json()
        tf = TargetFile.from_data(path, archive, ["sha256"])
        tf.unrecognized_fields["custom"] = custom
        digest = tf.hashes["sha256"]
        dest = self.targets_dir / "packages" / package_id / f"{digest}.{package_id}-{version}.kpkg"
        _atomic_write(dest, archive)
        targets = self.list_targets()
        targets[path] = tf
        tv, tsv = self._write_targets(targets, keys, exp, now)
        return Published(path, tf.length, digest, tv, tsv)

    def _target_of(self, targets: Mapping[str, TargetFile], package_id: str,
                   version: str) -> str:
        found = [p for p, tf in targets.items() if isinstance(tf.custom, dict)
                 and tf.custom.get("package") == package_id
                 and tf.custom.get("version") == version]
        if not found:
            raise RepositoryError(f"no target for {package_id}@{version}")
        return found[0]

    def set_rollout(self, package_id: str, version: str, keys: Sequence[Ed25519PrivateKey],
                    rollout: Rollout | None, *, extra: Mapping[str, Any] | None = None,
                    now: datetime | None = None) -> Published:
        """Re-sign a published target with new rollout data (a wave of a staged rollout):
        the archive, its hashes and the builder's signature stay; `extra` custom fields
        are merged (None values removed). Terminals read only `rollout` of the change."""
        targets = self.list_targets()
        path = self._target_of(targets, package_id, version)
        tf = targets[path]
        custom = dict(tf.custom)
        custom.pop("rollout", None)
        if rollout is not None and not rollout.everyone:
            custom["rollout"] = rollout.to_json()
        for k, v in (extra or {}).items():
            if v is None:
                custom.pop(k, None)
            else:
                custom[k] = v
        tf.unrecognized_fields["custom"] = custom
        tv, tsv = self._write_targets(targets, keys, DEFAULT_EXPIRY, now)
        return Published(path, tf.length, tf.hashes["sha256"], tv, tsv)

    def roll_back(self, package_id: str, bad_version: str, to_version: str | None,
                  keys: Sequence[Ed25519PrivateKey], *,
                  extra: Mapping[str, Any] | None = None) -> list[str]:
        """In one new metadata version: withdraw `bad_version`, and mark `to_version` (an
        older target still listed) as replacing it, so terminals running or holding the
        bad version go back to it (`custom.replaces`; `kiosk.packages.updater` accepts a
        lower version only when the target names the version it replaces). Without
        `to_version` the package is withdrawn and terminals drop it. Return the changed
        target paths."""
        targets = self.list_targets()
        bad = self._target_of(targets, package_id, bad_version)
        del targets[bad]
        changed = [bad]
        if to_version is not None:
            path = self._target_of(targets, package_id, to_version)
            tf = targets[path]
            custom = dict(tf.custom)
            replaces = custom.get("replaces")
            old = [v for v in replaces if isinstance(v, str)] \
                if isinstance(replaces, list) else []
            custom["replaces"] = sorted({*old, bad_version})
            custom.update(extra or {})
            tf.unrecognized_fields["custom"] = custom
            changed.append(path)
        self._write_targets(targets, keys, DEFAULT_EXPIRY, None)
        return changed

    def withdraw(self, package_id: str, version: str | None,
                 keys: Sequence[Ed25519PrivateKey]) -> list[str]:
        """Remove a package's targets (one version, or all); terminals then drop it."""
        targets = self.list_targets()
        gone = [p for p, tf in targets.items()
                if tf.custom.get("package") == package_id
                and (version is None or tf.custom.get("version") == version)]
        if not gone:
            at = f"@{version}" if version else ""
            raise RepositoryError(f"no target for {package_id}{at}")
        for p in gone:
            del targets[p]
        self._write_targets(targets, keys, DEFAULT_EXPIRY, None)
        return gone

    def refresh(self, keys: Sequence[Ed25519PrivateKey],
                expiry: Mapping[str, timedelta] | None = None) -> int:
        """Re-sign snapshot and timestamp with fresh expiry (run from cron); return ts version."""
        exp = {**DEFAULT_EXPIRY, **(expiry or {})}
        snap = self.snapshot_md()
        if snap is None:
            raise RepositoryError("nothing published yet")
        return self._write_snapshot_timestamp(snap.signed.meta["targets.json"].version, keys,
                                              exp, None)
