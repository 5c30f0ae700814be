"""The terminal's package store: versioned, verified, immutable package directories.

    <packages>/store/<id>-<version>-<sha12>/   one unpacked package (+ .tree.json)
    <packages>/store/.tmp-*                    an unpack in progress (deleted at start)
    <packages>/state.json                      active / previous / staged sets, errors

Every directory appears by a rename of a fully written and fsynced temporary directory,
and `state.json` is replaced by a rename too, so a crash (power cut, kill -9) at any
moment leaves either the old or the new state, never a half one. `.tree.json` records the
SHA-256 of every file; a directory is used only after it matches it again.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from kiosk.packages.archive import read_archive

TREE_FILE = ".tree.json"


class StoreError(RuntimeError):
    """A stored package directory is missing, incomplete or modified."""


@dataclass(frozen=True)
class Entry:
    """One package of a set, as recorded in state.json."""

    id: str
    version: str
    sha256: str

    @property
    def dirname(self) -> str:
        return f"{self.id}-{self.version}-{self.sha256[:12]}"

    @property
    def label(self) -> str:
        return f"{self.id}@{self.version}"

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Entry:
        return cls(str(d["id"]), str(d["version"]), str(d["sha256"]))


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes) -> None:
    """Write a file so that readers see the old or the new content, even after a crash."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Store:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.dir = self.root / "store"
        self.state_path = self.root / "state.json"

    def clean_partial(self) -> list[str]:
        """Remove unpacks a crash interrupted; return their names."""
        gone = []
        for p in self.dir.glob(".tmp-*"):
            shutil.rmtree(p, ignore_errors=True)
            gone.append(p.name)
        for p in self.root.glob(".state.json.*"):
            p.unlink(missing_ok=True)
            gone.append(p.name)
        return gone

    def path(self, entry: Entry) -> Path:
        return self.dir / entry.dirname

    def install(self, archive: bytes, archive_name: str, checkpoint: Any = None) -> Entry:
        """Check and unpack archive bytes into their versioned directory; return its entry."""
        import tomllib

        files = read_archive(archive, archive_name)
        manifest = tomllib.loads(files["manifest.toml"].decode("utf-8"))
        entry = Entry(str(manifest.get("id", "")), str(manifest.get("version", "")),
                      _sha(archive))
        if not entry.id or not entry.version or "/" in entry.dirname or \
                entry.dirname.startswith("."):
            from kiosk.packages.archive import ArchiveError

            raise ArchiveError(archive_name, "manifest.toml", "id and version are required")
        final = self.path(entry)
        self.dir.mkdir(parents=True, exist_ok=True)
        if final.is_dir():
            try:
                self.verify(entry)
                return entry
            except StoreError:
                shutil.rmtree(final)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=self.dir))
        tree = {"sha256": entry.sha256, "files": {n: _sha(d) for n, d in files.items()}}
        for name, data in sorted(files.items()):
            dest = tmp / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            with open(dest, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            if checkpoint:
                checkpoint("unpack")
        (tmp / TREE_FILE).write_text(json.dumps(tree, sort_keys=True), encoding="utf-8")
        for d in sorted({p.parent for p in tmp.rglob("*")}, key=lambda p: -len(p.parts)):
            fsync_dir(d)
        try:
            os.rename(tmp, final)
        except OSError:
            # Another process installed the same archive meanwhile: use its copy.
            shutil.rmtree(tmp, ignore_errors=True)
            self.verify(entry)
            return entry
        fsync_dir(self.dir)
        return entry

    def verify(self, entry: Entry) -> Path:
        """Check that the directory still holds exactly what was unpacked; return it."""
        root = self.path(entry)
        try:
            tree = json.loads((root / TREE_FILE).read_text(encoding="utf-8"))
            expected: dict[str, str] = tree["files"]
            if tree["sha256"] != entry.sha256:
                raise StoreError(f"{entry.label}: recorded archive hash differs")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise StoreError(f"{entry.label}: store directory missing or incomplete") from exc
        present = {p.relative_to(root).as_posix() for p in root.rglob("*")
                   if p.is_file() or p.is_symlink()} - {TREE_FILE}
        if present != set(expected):
            extra = sorted(present - set(expected))[:3]
            missing = sorted(set(expected) - present)[:3]
            raise StoreError(f"{entry.label}: files differ from the package "
                             f"(extra {extra}, missing {missing})")
        for name, digest in expected.items():
            p = root / name
            if p.is_symlink() or _sha(p.read_bytes()) != digest:
                raise StoreError(f"{entry.label}: {name} was modified on disk")
        return root

    def gc(self, keep: set[str]) -> None:
        for p in self.dir.iterdir() if self.dir.is_dir() else ():
            if p.is_dir() and not p.name.startswith(".") and p.name not in keep:
                shutil.rmtree(p, ignore_errors=True)

    # -- state ------------------------------------------------------------------------
    def read_state(self) -> dict[str, Any]:
        try:
            state = json.loads(self.state_path.read_text(encoding="utf-8"))
            if isinstance(state, dict):
                return state
        except FileNotFoundError:
            pass
        except (OSError, ValueError):
            # Unreadable state is treated as "nothing installed": the terminal then
            # starts on the built-in package, which needs no state.
            return {"last_error": {"stage": "load", "reason": "state.json unreadable"}}
        return {}

    def write_state(self, state: Mapping[str, Any]) -> None:
        atomic_write(self.state_path,
                     json.dumps(state, indent=1, sort_keys=True, ensure_ascii=False).encode())


def entries_json(entries: list[Entry] | None) -> list[dict[str, str]] | None:
    return None if entries is None else [asdict(e) for e in entries]


def entries_from(raw: Any) -> list[Entry] | None:
    if raw is None:
        return None
    try:
        return [Entry.from_json(d) for d in raw]
    except (KeyError, TypeError) as exc:
        raise StoreError(f"state.json: malformed set ({exc})") from exc
