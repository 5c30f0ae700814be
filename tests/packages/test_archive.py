"""The archive format: reproducible builds and strict member rules (data only, never code)."""

from __future__ import annotations

import gzip
import io
import os
import shutil
import tarfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowpacks import BUILTIN_DIR
from kiosk.packages.archive import (
    MAX_MEMBER_BYTES,
    ArchiveError,
    build_archive,
    collect_dir,
    pack_files,
    read_archive,
)

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 16


def _tar(members: list[tarfile.TarInfo | tuple[str, bytes]]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        tar.addfile(_info("manifest.toml", b'id = "x"\n'), io.BytesIO(b'id = "x"\n'))
        for m in members:
            if isinstance(m, tarfile.TarInfo):
                tar.addfile(m)
            else:
                tar.addfile(_info(m[0], m[1]), io.BytesIO(m[1]))
    return raw.getvalue()


def _info(name: str, data: bytes, mode: int = 0o644) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), mode
    return info


def test_builtin_builds_reproducibly_and_round_trips() -> None:
    a, b = build_archive(BUILTIN_DIR), build_archive(BUILTIN_DIR)
    assert a == b
    files = read_archive(a)
    assert files["manifest.toml"] == (BUILTIN_DIR / "manifest.toml").read_bytes()
    assert "assets/seal_dg_social_insurance.png" in files
    assert pack_files(files) == a


def _link(name: str, kind: bytes, target: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info


@pytest.mark.parametrize("member,problem", [
    (("/etc/cron.d/x.toml", b"x"), "absolute"),
    (("flows/../../evil.toml", b"x"), "'..'"),
    (("flows/./a.toml", b"x"), "'.'"),
    (("flows\\a.toml", b"x"), "malformed"),
    (("flows/run.py", b"print(1)"), "not allowed"),
    (("hooks/post_install.sh", b"rm -rf /"), "not allowed"),
    (("assets/lib.so", b"\x7fELF"), "not allowed"),
    (("assets/seal.png", b"\x7fELF\x02\x01"), "not a png image"),
    (("flows/a.toml", b"#!/bin/sh\nrm -rf /\n"), "script"),
    (("flows/a.toml", b"id = \"\xff\xfe\""), "UTF-8"),
    (("strings/fr.json", b"{}"), "not allowed"),
    (("flows/服务.toml", b"x"), "ASCII"),
    (_link("flows/a.toml", tarfile.SYMTYPE, "/etc/passwd"), "link"),
    (_link("flows/b.toml", tarfile.LNKTYPE, "manifest.toml"), "link"),
    (_link("flows", tarfile.DIRTYPE, ""), "directory"),
    (_link("assets/dev.png", tarfile.CHRTYPE, ""), "special"),
])
def test_member_rules(member: tarfile.TarInfo | tuple[str, bytes], problem: str) -> None:
    with pytest.raises(ArchiveError) as err:
        read_archive(_tar([member]), "evil.kpkg")
    assert err.value.file == "evil.kpkg"
    assert problem in err.value.problem
    name = member.name if isinstance(member, tarfile.TarInfo) else member[0]
    assert err.value.path == name


def test_execute_bit_duplicates_and_sizes() -> None:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        tar.addfile(_info("manifest.toml", b"id='x'", 0o755), io.BytesIO(b"id='x'"))
    with pytest.raises(ArchiveError, match="execute bit"):
        read_archive(raw.getvalue())
    with pytest.raises(ArchiveError, match="duplicate"):
        read_archive(_tar([("manifest.toml", b"again")]))
    with pytest.raises(ArchiveError, match="larger than"):
        read_archive(_tar([("assets/big.png", PNG + b"\0" * MAX_MEMBER_BYTES)]))
    with pytest.raises(ArchiveError, match=r"manifest\.toml: missing"):
        read_archive(pack_files({"flows/a.toml": b"x = 1"}))


def test_truncated_and_garbage_archives() -> None:
    good = build_archive(BUILTIN_DIR)
    for bad in (good[: len(good) // 2], good[:10], b"", b"PK\x03\x04zip?", os.urandom(4096),
                gzip.compress(b"not a tar at all" * 100)):
        with pytest.raises(ArchiveError, match=r"not a readable package archive|missing"):
            read_archive(bad, "x.kpkg")


def test_source_folder_rules(tmp_path: Path) -> None:
    src = tmp_path / "pkg"
    shutil.copytree(BUILTIN_DIR, src)
    (src / "flows" / "evil.toml").symlink_to("/etc/passwd")
    with pytest.raises(ArchiveError, match="symbolic links"):
        collect_dir(src)
    (src / "flows" / "evil.toml").unlink()
    (src / "README.md").write_text("notes")
    with pytest.raises(ArchiveError, match="not allowed"):
        collect_dir(src)
    (src / "README.md").unlink()
    (src / "strings" / "en.json").chmod(0o755)
    with pytest.raises(ArchiveError, match="execute bit"):
        collect_dir(src)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048), st.integers(min_value=0, max_value=4000))
def test_fuzzed_archives_raise_archive_error_only(noise: bytes, cut: int) -> None:
    good = build_archive(BUILTIN_DIR)
    for data in (noise, good[:cut] + noise, gzip.compress(noise)):
        try:
            read_archive(data)
        except ArchiveError:
            pass
