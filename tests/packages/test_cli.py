"""`kiosk pack` end to end, as ops and a technician type it (in-process CLI, real HTTP)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from flowpacks import BUILTIN_DIR
from kiosk.cli import main

from .conftest import serve, write_source


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    rc = main(["--log-level", "WARNING", *argv])
    out = capsys.readouterr()
    return rc, out.out + out.err


def test_ops_workflow_and_terminal_status(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("KIOSK_PACK_PASSPHRASE", raising=False)
    rc, out = run(capsys, "pack", "keygen", "--out", "keys")
    assert rc == 0 and len(json.loads(out)) == 5
    (tmp_path / "offline").mkdir()
    for ext in ("key", "pub"):
        shutil.move(f"keys/root.{ext}", f"offline/root.{ext}")
    rc, out = run(capsys, "pack", "keygen", "--out", "keys", "--role", "targets")
    assert rc == 1 and "refusing to overwrite" in out

    # The built-in package builds in the same format, reproducibly.
    assert run(capsys, "pack", "build", str(BUILTIN_DIR), "-o", "b1.kpkg")[0] == 0
    assert run(capsys, "pack", "build", str(BUILTIN_DIR), "-o", "b2.kpkg")[0] == 0
    assert Path("b1.kpkg").read_bytes() == Path("b2.kpkg").read_bytes()

    write_source(tmp_path / "src", "dg-extra", "1.2.0")
    rc, out = run(capsys, "pack", "build", "src", "-o", ".")
    assert rc == 0 and "dg-extra@1.2.0 -> dg-extra-1.2.0.kpkg" in out
    pkg = Path("dg-extra-1.2.0.kpkg")

    rc, out = run(capsys, "pack", "verify", str(pkg), "--pubkey", "keys/signer.pub")
    assert rc == 1 and "unsigned" in out
    assert run(capsys, "pack", "sign", str(pkg), "--key", "keys/signer.key")[0] == 0
    rc, out = run(capsys, "pack", "verify", str(pkg), "--pubkey", "keys/signer.pub")
    assert rc == 0 and out.startswith("OK dg-extra@1.2.0")
    rc, out = run(capsys, "pack", "verify", str(pkg), "--pubkey", "keys/targets.pub")
    assert rc == 1 and "not trusted" in out
    tampered = Path("tampered.kpkg")
    data = bytearray(pkg.read_bytes())
    data[-20] ^= 0xFF
    tampered.write_bytes(bytes(data))
    shutil.copy(f"{pkg}.sig", f"{tampered}.sig")
    rc, out = run(capsys, "pack", "verify", str(tampered), "--pubkey", "keys/signer.pub")
    assert rc == 1 and "modified after signing" in out

    roles = [f"--{r}-pub=keys/{r}.pub" for r in ("targets", "snapshot", "timestamp")]
    rc, out = run(capsys, "pack", "root", "--repo", "repo", "--root-pub", "offline/root.pub",
                  *roles, "--sign-key", "offline/root.key")
    assert rc == 0 and "1.root.json" in out
    rc, out = run(capsys, "pack", "publish", str(tampered), "--repo", "repo", "--keys", "keys")
    assert rc == 1 and "modified after signing" in out
    shutil.copy("offline/root.key", "keys/root.key")
    rc, out = run(capsys, "pack", "publish", str(pkg), "--repo", "repo", "--keys", "keys")
    assert rc == 1 and "root key" in out and "offline" in out
    Path("keys/root.key").unlink()
    rc, out = run(capsys, "pack", "publish", str(pkg), "--repo", "repo", "--keys", "keys",
                  "--percent", "100")
    assert rc == 0 and '"percent": 100' in out
    assert not list(Path("repo").rglob("*.key"))

    # A terminal configured for that repository.
    with serve(tmp_path / "repo") as srv:
        Path("kiosk.toml").write_text(
            f'[storage]\ndata_dir = "{tmp_path / "data"}"\n'
            f'[terminal]\nid = "DG-CLI-0001"\n'
            f'[packages]\nrepository_url = "{srv.url}"\n'
            f'trusted_root = "{tmp_path / "repo/metadata/1.root.json"}"\n', "utf-8")
        rc, out = run(capsys, "pack", "status", "--json", "--config", "kiosk.toml")
        status = json.loads(out)
        assert rc == 0 and status["active"] == ["builtin@1.0.0"] and status["staged"] is None
        assert status["terminal"]["id"] == "DG-CLI-0001"
        rc, out = run(capsys, "pack", "poll", "--config", "kiosk.toml")
        assert rc == 0 and json.loads(out)["staged"] == ["dg-extra@1.2.0"]
        rc, out = run(capsys, "pack", "status", "--config", "kiosk.toml")
        assert "staged:  dg-extra@1.2.0" in out and "last error: -" in out

        srv.faults["timestamp.json"] = lambda body: b"garbage"
        rc, out = run(capsys, "pack", "poll", "--config", "kiosk.toml")
        assert rc == 1
        status = json.loads(run(capsys, "pack", "status", "--json", "--config", "kiosk.toml")[1])
        assert status["last_error"]["stage"] == "verify"
        assert "malformed" in status["last_error"]["reason"]

    rc, out = run(capsys, "pack", "withdraw", "dg-extra@1.2.0", "--repo", "repo", "--keys", "keys")
    assert rc == 0 and "withdrew packages/dg-extra/dg-extra-1.2.0.kpkg" in out
    assert run(capsys, "pack", "refresh", "--repo", "repo", "--keys", "keys")[0] == 0


def test_encrypted_key_needs_the_passphrase(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIOSK_PACK_PASSPHRASE", "correct horse")
    rc, out = run(capsys, "pack", "keygen", "--out", str(tmp_path), "--role", "root")
    assert rc == 0 and json.loads(out)[0]["encrypted"] is True
    assert b"ENCRYPTED" in (tmp_path / "root.key").read_bytes()
    pkg = tmp_path / "b.kpkg"
    assert run(capsys, "pack", "build", str(BUILTIN_DIR), "-o", str(pkg))[0] == 0
    monkeypatch.delenv("KIOSK_PACK_PASSPHRASE")
    rc, out = run(capsys, "pack", "sign", str(pkg), "--key", str(tmp_path / "root.key"))
    assert rc == 1 and "encrypted" in out
    monkeypatch.setenv("KIOSK_PACK_PASSPHRASE", "wrong")
    rc, out = run(capsys, "pack", "sign", str(pkg), "--key", str(tmp_path / "root.key"))
    assert rc == 1 and "wrong passphrase" in out
    monkeypatch.setenv("KIOSK_PACK_PASSPHRASE", "correct horse")
    assert run(capsys, "pack", "sign", str(pkg), "--key", str(tmp_path / "root.key"))[0] == 0


def test_terminal_commands_report_a_bad_configuration(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """`kiosk pack status/poll` load the configuration like `kiosk run`: one report, exit 2."""
    bad = tmp_path / "k.toml"
    bad.write_text("[packages]\nring = 12\npoll_interval_s = -1\n", encoding="utf-8")
    for command in ("status", "poll"):
        rc, out = run(capsys, "pack", command, "--config", str(bad))
        assert rc == 2, out
        assert f"{bad}:2: packages.ring: must be at most 9, got 12" in out
        assert f"{bad}:3: packages.poll_interval_s: must be greater than 0, got -1" in out
