"""Terminal updater against a real HTTP file server: what it accepts and what it rejects.

Every attack or failure ends the same way: the terminal keeps (or starts with) a verified
set, and its status says what was rejected and why.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tuf.api.metadata import Metadata, Targets

from kiosk.packages import keys as keymod
from kiosk.packages.manager import PackageManager
from kiosk.packages.rollout import bucket

from .conftest import OpsEnv, Server, make_terminal


def _active_flows(mgr: PackageManager) -> set[str]:
    return {f.id for f in mgr.load_active().catalog()}


def _assert_kept(mgr: PackageManager, expected: list[str], stage: str, words: str) -> None:
    status = mgr.status()
    assert status["active"] == expected
    assert status["staged"] is None
    err = status["last_error"]
    assert err is not None and err["stage"] == stage, err
    assert words.lower() in err["reason"].lower(), err
    # A restart comes up on a verified set too.
    again = PackageManager(mgr.data_dir, mgr.builtin_dir, repository_url=mgr.repository_url,
                           trusted_root=mgr.trusted_root)
    assert list(again.load_active().versions.items()) == \
        [tuple(label.split("@")) for label in expected]


def test_publish_poll_stage_activate(ops_env: OpsEnv, server: Server,
                                     terminal: PackageManager) -> None:
    builtin = _active_flows(terminal)
    assert "ss_certificate" in builtin and "housing_proof" not in builtin
    ops_env.publish("dg-extra", "1.0.0")
    result = terminal.poll()
    assert result.changed and result.staged == ("dg-extra@1.0.0",)
    assert terminal.status()["staged"] == ["dg-extra@1.0.0"]
    assert terminal.status()["active"] == ["builtin@1.0.0"]  # staged only
    pkg = terminal.activate_staged()
    assert pkg is not None and pkg.versions == {"builtin": "1.0.0", "dg-extra": "1.0.0"}
    assert {f.id for f in pkg.catalog()} == builtin | {"housing_proof"}
    assert terminal.status()["active"] == ["builtin@1.0.0", "dg-extra@1.0.0"]
    assert terminal.status()["last_error"] is None
    # Nothing new: nothing staged, nothing downloaded again.
    downloads = [h for h in server.hits if "/targets/" in h]
    assert not terminal.poll().changed
    assert [h for h in server.hits if "/targets/" in h] == downloads
    # The metadata names versions, hashes, sizes and an expiry.
    targets = Metadata[Targets].from_file(
        str(terminal.data_dir / "tuf/metadata/targets.json")).signed
    (tf,) = targets.targets.values()
    assert tf.length == ops_env.published[0].stat().st_size and "sha256" in tf.hashes
    assert targets.expires > datetime.now(UTC)


def test_tampered_archive_on_server_is_rejected(ops_env: OpsEnv, server: Server,
                                                terminal: PackageManager) -> None:
    ops_env.publish("dg-extra", "1.0.0")

    def flip(body: bytes) -> bytes:
        return body[:100] + bytes([body[100] ^ 1]) + body[101:]

    server.faults[".kpkg"] = flip
    result = terminal.poll()
    assert not result.changed and "dg-extra@1.0.0" in result.rejected[0]
    _assert_kept(terminal, ["builtin@1.0.0"], "verify", "hash")


def test_truncated_download_is_rejected(ops_env: OpsEnv, server: Server,
                                        terminal: PackageManager) -> None:
    ops_env.publish("dg-extra", "1.0.0")
    server.faults[".kpkg"] = lambda body: body[: len(body) // 2]
    assert not terminal.poll().changed
    _assert_kept(terminal, ["builtin@1.0.0"], "verify", "length")
    # A truncated download is a network problem, not a bad package: retried next time.
    server.faults.clear()
    assert terminal.poll().changed


@pytest.mark.parametrize("target", ["timestamp.json", "snapshot.json", "targets.json", ".kpkg"])
def test_server_returning_garbage(ops_env: OpsEnv, server: Server, terminal: PackageManager,
                                  target: str) -> None:
    ops_env.publish("dg-extra", "1.0.0")
    server.faults[target] = lambda body: b"<html>502 Bad Gateway</html>" + bytes(range(256))
    assert not terminal.poll().changed
    _assert_kept(terminal, ["builtin@1.0.0"], "verify", "")


def test_server_errors_are_download_errors(ops_env: OpsEnv, server: Server,
                                           terminal: PackageManager) -> None:
    ops_env.publish("dg-extra", "1.0.0")
    server.faults["timestamp.json"] = 503
    assert not terminal.poll().changed
    _assert_kept(terminal, ["builtin@1.0.0"], "download", "503")


def test_metadata_signed_by_wrong_key_is_rejected(ops_env: OpsEnv, server: Server,
                                                  terminal: PackageManager,
                                                  tmp_path: Path) -> None:
    """An attacker with write access to the file server but not the targets key."""
    ops_env.publish("dg-extra", "1.0.0")
    evil = keymod.generate(tmp_path / "evil", "targets")
    meta = ops_env.repo_dir / "metadata"
    md = Metadata.from_file(str(meta / "1.targets.json"))
    md.signatures.clear()
    md.sign(keymod.signer(keymod.load_private(evil.private)))
    (meta / "1.targets.json").write_bytes(md.to_bytes())
    assert not terminal.poll().changed
    _assert_kept(terminal, ["builtin@1.0.0"], "verify", "signature")


def test_unsigned_metadata_is_rejected(ops_env: OpsEnv, server: Server,
                                       terminal: PackageManager) -> None:
    ops_env.publish("dg-extra", "1.0.0")
    path = ops_env.repo_dir / "metadata" / "timestamp.json"
    doc = json.loads(path.read_bytes())
    doc["signatures"] = []
    path.write_text(json.dumps(doc))
    assert not terminal.poll().changed
    _assert_kept(terminal, ["builtin@1.0.0"], "verify", "signature")


def test_expired_index_is_rejected(ops_env: OpsEnv, server: Server,
                                   terminal: PackageManager) -> None:
    """A frozen, stale index (signed timestamp expired an hour ago) is not used."""
    archive = ops_env.build_signed(ops_env.source("dg-extra", "1.0.0"))
    privs = [keymod.load_private(p) for p in sorted(ops_env.keys.glob("*.key"))]
    ops_env.repo.publish(archive.read_bytes(), "dg-extra", "1.0.0", privs,
                         now=datetime.now(UTC) - timedelta(days=1, hours=1))
    assert not terminal.poll().changed
    _assert_kept(terminal, ["builtin@1.0.0"], "verify", "expired")


def test_metadata_rollback_attempt_is_rejected(ops_env: OpsEnv, server: Server,
                                               terminal: PackageManager,
                                               tmp_path: Path) -> None:
    """Replaying yesterday's (validly signed) index must not take the terminal back."""
    ops_env.publish("dg-extra", "1.0.0")
    old = tmp_path / "old-metadata"
    shutil.copytree(ops_env.repo_dir / "metadata", old)
    ops_env.publish("dg-extra", "1.1.0")
    assert terminal.poll().changed and terminal.activate_staged() is not None
    shutil.rmtree(ops_env.repo_dir / "metadata")
    shutil.copytree(old, ops_env.repo_dir / "metadata")
    assert not terminal.poll().changed
    _assert_kept(terminal, ["builtin@1.0.0", "dg-extra@1.1.0"], "verify", "version")


def test_package_downgrade_is_refused(ops_env: OpsEnv, server: Server,
                                      terminal: PackageManager) -> None:
    """Even validly signed metadata cannot replace a package by an older version."""
    ops_env.publish("dg-extra", "2.0.0")
    assert terminal.poll().changed and terminal.activate_staged() is not None
    ops_env.repo.withdraw("dg-extra", "2.0.0",
                          [keymod.load_private(p) for p in ops_env.keys.glob("*.key")])
    ops_env.publish("dg-extra", "1.0.0")
    result = terminal.poll()
    assert not result.changed
    assert any("downgrade" in r for r in result.rejected)
    _assert_kept(terminal, ["builtin@1.0.0", "dg-extra@2.0.0"], "select", "downgrade")


def test_builder_signature_required_when_configured(ops_env: OpsEnv, server: Server,
                                                    tmp_path: Path) -> None:
    signer = keymod.load_public(ops_env.keys / "signer.pub")
    other = keymod.load_public(keymod.generate(tmp_path / "k", "other").public)
    ops_env.publish("dg-extra", "1.0.0")
    good = make_terminal(tmp_path / "t1", ops_env, server.url, signer_keys=[signer])
    good.load_active()
    assert good.poll().changed
    strict = make_terminal(tmp_path / "t2", ops_env, server.url, signer_keys=[other])
    strict.load_active()
    assert not strict.poll().changed
    _assert_kept(strict, ["builtin@1.0.0"], "verify", "not trusted")


def test_invalid_package_is_rejected_at_validation_and_not_retried(
        ops_env: OpsEnv, server: Server, terminal: PackageManager) -> None:
    """A signed package whose flow names a step type this app lacks never gets staged."""
    archive = ops_env.build_signed(ops_env.source("dg-extra", "1.0.0"))
    # Ops tooling refuses to publish it, so build the bad archive by hand and sign the
    # metadata directly (a package built for a newer app with a plug-in step type).
    from kiosk.packages.archive import pack_files, read_archive

    files = read_archive(archive.read_bytes())
    files["flows/housing_proof.toml"] = files["flows/housing_proof.toml"].replace(
        b'type = "finish"', b'type = "notarise"')
    bad = pack_files(files)
    privs = [keymod.load_private(p) for p in ops_env.keys.glob("*.key")]
    ops_env.repo.publish(bad, "dg-extra", "1.0.0", privs)
    result = terminal.poll()
    assert not result.changed and "notarise" in result.error
    _assert_kept(terminal, ["builtin@1.0.0"], "validate", "unknown step type 'notarise'")
    assert terminal.status()["rejected"][0]["package"] == "dg-extra@1.0.0"
    hits = len(server.hits)
    terminal.poll()
    assert not [h for h in server.hits[hits:] if ".kpkg" in h]  # not downloaded again


def test_rollout_ring_and_percent(ops_env: OpsEnv, server: Server, tmp_path: Path) -> None:
    ids = [f"DG-{i:04d}" for i in range(60)]
    low = next(i for i in ids if bucket(i) < 30)
    high = next(i for i in ids if bucket(i) >= 30)
    ops_env.publish("dg-extra", "1.0.0", percent=30)
    ops_env.publish("dg-ring", "1.0.0", ring=1, flows={"ring_service": {}})

    def staged(tid: str, ring: int) -> list[str] | None:
        mgr = make_terminal(tmp_path / f"{tid}-{ring}", ops_env, server.url, terminal_id=tid,
                            ring=ring)
        mgr.load_active()
        mgr.poll()
        return mgr.status()["staged"]

    assert staged(low, 9) == ["dg-extra@1.0.0"]
    assert staged(high, 9) is None
    assert staged(high, 1) == ["dg-ring@1.0.0"]
    assert staged(low, 0) == ["dg-extra@1.0.0", "dg-ring@1.0.0"]


def test_root_rotation_with_threshold(ops_env: OpsEnv, server: Server,
                                      terminal: PackageManager) -> None:
    """Offline ceremony: 2-of-3 new root keys, signed by the old root too; terminals follow."""
    ops_env.publish("dg-extra", "1.0.0")
    assert terminal.poll().changed
    new = [keymod.generate(ops_env.offline, f"root-{i}") for i in range(3)]
    new_targets = keymod.generate(ops_env.keys / "next", "targets")
    old_root = keymod.load_private(ops_env.offline / "root.key")
    ops_env.repo.write_root(
        root_keys=[keymod.load_public(k.public) for k in new], root_threshold=2,
        role_keys={"targets": [keymod.load_public(new_targets.public)],
                   "snapshot": [keymod.load_public(ops_env.keys / "snapshot.pub")],
                   "timestamp": [keymod.load_public(ops_env.keys / "timestamp.pub")]},
        role_thresholds={},
        signers=[old_root, *(keymod.load_private(k.private) for k in new[:2])])
    (ops_env.keys / "targets.key").unlink()  # the old targets key is retired
    shutil.move(new_targets.private, ops_env.keys / "targets.key")
    ops_env.publish("dg-extra", "1.1.0")
    assert terminal.poll().changed
    assert terminal.status()["staged"] == ["dg-extra@1.1.0"]
    root = Metadata.from_file(str(terminal.data_dir / "tuf/metadata/root.json")).signed
    assert root.version == 2 and root.roles["root"].threshold == 2


def test_root_rotation_needs_old_root_signature(ops_env: OpsEnv) -> None:
    from kiosk.packages.repository import RepositoryError

    new = keymod.generate(ops_env.offline, "root-x")
    with pytest.raises(RepositoryError, match="lacks signatures"):
        ops_env.repo.write_root(
            root_keys=[keymod.load_public(new.public)], root_threshold=1,
            role_keys={r: [keymod.load_public(ops_env.keys / f"{r}.pub")]
                       for r in ("targets", "snapshot", "timestamp")},
            role_thresholds={}, signers=[keymod.load_private(new.private)])


def test_withdrawn_package_is_dropped_at_next_activation(ops_env: OpsEnv, server: Server,
                                                         terminal: PackageManager) -> None:
    ops_env.publish("dg-extra", "1.0.0")
    assert terminal.poll().changed and terminal.activate_staged() is not None
    ops_env.repo.withdraw("dg-extra", None,
                          [keymod.load_private(p) for p in ops_env.keys.glob("*.key")])
    assert terminal.poll().changed
    assert terminal.status()["staged"] == []
    pkg = terminal.activate_staged()
    assert pkg is not None and pkg.versions == {"builtin": "1.0.0"}


def test_mix_and_match_is_rejected(ops_env: OpsEnv, server: Server,
                                   terminal: PackageManager) -> None:
    """Targets metadata that the snapshot does not name (an old one under a new name)."""
    ops_env.publish("dg-extra", "1.0.0")
    ops_env.publish("dg-extra", "1.1.0")
    meta = ops_env.repo_dir / "metadata"
    (meta / "2.targets.json").write_bytes((meta / "1.targets.json").read_bytes())
    assert not terminal.poll().changed
    _assert_kept(terminal, ["builtin@1.0.0"], "verify", "")


def test_targets_threshold_needs_enough_keys(ops_env: OpsEnv, tmp_path: Path) -> None:
    from kiosk.packages.repository import RepositoryError

    second = keymod.generate(tmp_path / "k2", "targets-2")
    ops_env.repo.write_root(
        root_keys=[keymod.load_public(ops_env.offline / "root.pub")], root_threshold=1,
        role_keys={"targets": [keymod.load_public(ops_env.keys / "targets.pub"),
                               keymod.load_public(second.public)],
                   "snapshot": [keymod.load_public(ops_env.keys / "snapshot.pub")],
                   "timestamp": [keymod.load_public(ops_env.keys / "timestamp.pub")]},
        role_thresholds={"targets": 2},
        signers=[keymod.load_private(ops_env.offline / "root.key")])
    with pytest.raises(RepositoryError, match="threshold is 2"):
        ops_env.publish("dg-extra", "1.0.0")
    shutil.copy(second.private, ops_env.keys / "targets-2.key")
    ops_env.publish("dg-extra", "1.0.0")
    md = Metadata.from_file(str(ops_env.repo_dir / "metadata" / "1.targets.json"))
    assert len(md.signatures) == 2


def _publish_raw(ops_env: OpsEnv, files: dict[str, bytes], pkg_id: str, version: str) -> None:
    """Sign metadata for an archive the ops tooling would refuse to build (pack_files does
    not check), as a compromised build machine or a buggy tool could."""
    from kiosk.packages.archive import pack_files

    privs = [keymod.load_private(p) for p in ops_env.keys.glob("*.key")]
    ops_env.repo.publish(pack_files(files), pkg_id, version, privs)


def _bad_files(ops_env: OpsEnv, kind: str) -> dict[str, bytes]:
    from kiosk.packages.archive import read_archive

    good = ops_env.build_signed(ops_env.source("dg-bad", "1.0.0", flows={"bad_flow": {}}))
    files = read_archive(good.read_bytes())
    deep = b"deep = " + b"[" * 10_000 + b"]" * 10_000 + b"\n"
    if kind == "manifest-malformed":
        files["manifest.toml"] = b'id = "dg-bad"\nversion = "1.0.0"\nflows = ["bad_flow"\n'
    elif kind == "manifest-deep":
        files["manifest.toml"] += deep
    elif kind == "flow-deep":
        files["flows/bad_flow.toml"] += b"\n[params]\n" + deep
    elif kind == "strings-deep":
        files["strings/en.json"] = b'{"x": ' + b"[" * 10_000 + b"]" * 10_000 + b"}"
    return files


@pytest.mark.parametrize("kind,words", [
    ("manifest-malformed", "not valid toml"),
    ("manifest-deep", "nested more than"),
    ("flow-deep", "nested more than"),
    ("strings-deep", "nested more than"),
])
def test_signed_package_with_bad_toml_is_rejected_and_the_poll_goes_on(
        ops_env: OpsEnv, server: Server, terminal: PackageManager, kind: str,
        words: str) -> None:
    """Malformed or absurdly nested TOML/JSON in a signed package: that package is recorded
    as rejected (not downloaded again), the others are staged, the active set stays."""
    ops_env.publish("dg-extra", "1.0.0")
    _publish_raw(ops_env, _bad_files(ops_env, kind), "dg-bad", "1.0.0")
    result = terminal.poll()
    assert result.changed and result.staged == ("dg-extra@1.0.0",)
    assert any(r.startswith("dg-bad@1.0.0") and words in r.lower() for r in result.rejected), \
        result.rejected
    status = terminal.status()
    assert status["active"] == ["builtin@1.0.0"]  # last known-good set until activation
    (rejected,) = [r for r in status["rejected"] if r["package"] == "dg-bad@1.0.0"]
    assert words in rejected["reason"].lower()
    hits = len(server.hits)
    assert not terminal.poll().changed
    assert not [h for h in server.hits[hits:] if "dg-bad" in h]  # not downloaded again
    pkg = terminal.activate_staged()
    assert pkg is not None and pkg.versions == {"builtin": "1.0.0", "dg-extra": "1.0.0"}


def test_package_above_the_size_limit_is_not_downloaded(
        ops_env: OpsEnv, server: Server, terminal: PackageManager,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The signed length is checked against the package limit before any download (the
    limit is lowered here so that an ordinary package exceeds it)."""
    ops_env.publish("dg-extra", "1.0.0")
    monkeypatch.setattr("kiosk.packages.updater.MAX_ARCHIVE_BYTES", 100)
    result = terminal.poll()
    assert not result.changed and "above the package limit" in result.rejected[0]
    assert not [h for h in server.hits if ".kpkg" in h]
    assert terminal.status()["rejected"][0]["package"] == "dg-extra@1.0.0"
