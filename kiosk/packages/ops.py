"""Ops workflow glue behind `kiosk pack`: build, sign, verify, publish (Qt-free, testable)."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from kiosk.flows.package import check_listed, compose, load_package, validate_package
from kiosk.packages import keys as keymod
from kiosk.packages.archive import SUFFIX, build_archive, read_archive, read_archive_file
from kiosk.packages.repository import ONLINE_ROLES, Published, Repository, RepositoryError
from kiosk.packages.rollout import Rollout
from kiosk.packages.store import Store


@dataclass(frozen=True)
class Checked:
    id: str
    version: str
    sha256: str
    flows: tuple[str, ...]
    min_app_version: str


MAX_SIGNATURE_BYTES = 64 * 1024  # a signature document is a few hundred bytes


def sig_path(archive: Path) -> Path:
    return archive.with_name(archive.name + ".sig")


def read_signature(archive: Path) -> bytes | None:
    """FILE.sig (None if there is none), refused above MAX_SIGNATURE_BYTES unread."""
    path = sig_path(archive)
    if not path.is_file():
        return None
    with open(path, "rb") as fh:
        data = fh.read(MAX_SIGNATURE_BYTES + 1)
    if len(data) > MAX_SIGNATURE_BYTES:
        raise keymod.SignatureError(f"{path.name}: larger than {MAX_SIGNATURE_BYTES} bytes; "
                                    "not a signature file")
    return data


def check_archive(data: bytes, name: str, builtin_dir: Path | None = None) -> Checked:
    """Member rules, schema, step types and templates, as a terminal will check them.

    A package other than the built-in one is validated on top of the built-in package,
    because that is how terminals compose it.
    """
    from flowpacks import BUILTIN_DIR
    from kiosk.packages.manager import load_plugins

    load_plugins()
    with tempfile.TemporaryDirectory(prefix="kiosk-pack-") as tmp:
        store = Store(Path(tmp))
        entry = store.install(data, name)
        pkg = load_package(store.path(entry), validate_steps=False)
        check_listed(read_archive(data, name), pkg)
        if pkg.id == "builtin":
            validate_package(pkg)
        else:
            base = load_package(builtin_dir or BUILTIN_DIR, validate_steps=False)
            validate_package(compose([base, pkg]))
        return Checked(pkg.id, pkg.version, entry.sha256, tuple(pkg.flows), pkg.min_app_version)


def build(src: Path, out: Path | None) -> tuple[Path, Checked]:
    """Build and check a package from its source directory; return the archive path."""
    data = build_archive(src)
    checked = check_archive(data, src.name)
    out = out or Path(f"{checked.id}-{checked.version}{SUFFIX}")
    if out.is_dir():
        out = out / f"{checked.id}-{checked.version}{SUFFIX}"
    out.write_bytes(data)
    return out, checked


def sign(archive: Path, key: Ed25519PrivateKey) -> Path:
    data = read_archive_file(archive)
    read_archive(data, archive.name)  # never sign something that is not a package
    path = sig_path(archive)
    keymod.write_json(path, keymod.sign_detached(data, key))
    return path


def verify(archive: Path, pubkeys: Sequence[Ed25519PublicKey]) -> tuple[Checked, str]:
    """Signature, then content; return the check result and the signer's key id."""
    data = read_archive_file(archive)  # size first: never read a huge file into memory
    keyid = keymod.verify_detached(data, read_signature(archive), list(pubkeys))
    return check_archive(data, archive.name), keyid


def load_key_dir(keydir: Path) -> tuple[list[Ed25519PrivateKey], list[Ed25519PublicKey]]:
    """All private keys (*.key) and builder public keys (signer*.pub) in a key folder."""
    if not keydir.is_dir():
        raise RepositoryError(f"key folder {keydir} does not exist")
    privs = [keymod.load_private(p) for p in sorted(keydir.glob("*.key"))]
    signers = [keymod.load_public(p) for p in sorted(keydir.glob("signer*.pub"))]
    return privs, signers


def _refuse_keys_in_repo(repo: Path, keydir: Path) -> None:
    if keydir.resolve().is_relative_to(repo.resolve()) or any(repo.rglob("*.key")):
        raise RepositoryError("private keys inside the repository folder would be published; "
                              "keep them outside it")


def _refuse_root_keys(repo: Repository, privs: Sequence[Ed25519PrivateKey]) -> None:
    root = repo.root_md().signed
    root_ids = set(root.roles["root"].keyids)
    online = {k for r in ONLINE_ROLES for k in root.roles[r].keyids}
    for k in privs:
        kid = keymod.keyid_of(k.public_key())
        if kid in root_ids and kid not in online:
            raise RepositoryError(f"root key {kid[:16]}… found with the online keys; "
                                  "root keys stay offline (see docs/ops-guide.md)")


def online_keys(repo_dir: Path, keydir: Path) -> list[Ed25519PrivateKey]:
    """The online keys of a key folder, with publish's refusals (keys inside the repository,
    a root key among them): for tools that re-sign metadata (the centre's rollouts)."""
    _refuse_keys_in_repo(repo_dir, keydir)
    privs, _ = load_key_dir(keydir)
    _refuse_root_keys(Repository(repo_dir), privs)
    return privs


def publish(archive: Path, repo_dir: Path, keydir: Path, *,
            signers: Sequence[Ed25519PublicKey] = (), rollout: Rollout | None = None) -> Published:
    """Check the builder's signature and the content, then add it to the repository."""
    _refuse_keys_in_repo(repo_dir, keydir)
    privs, dir_signers = load_key_dir(keydir)
    repo = Repository(repo_dir)
    _refuse_root_keys(repo, privs)
    data = read_archive_file(archive)
    sig = read_signature(archive)
    keymod.verify_detached(data, sig, list(signers) or dir_signers)
    sig_doc = json.loads(sig) if sig is not None else None  # parsed fine just above
    checked = check_archive(data, archive.name)
    if checked.id == "builtin":
        raise RepositoryError("the built-in package ships with the app; publish another id")
    extra = {"signature": sig_doc, "min_app_version": checked.min_app_version,
             "flows": list(checked.flows)}
    return repo.publish(data, checked.id, checked.version, privs, rollout=rollout, extra=extra)
