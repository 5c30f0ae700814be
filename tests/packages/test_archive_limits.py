"""Size limits hold before anything big is read: hostile tar metadata, huge files.

The hostile archives are written block by block (raw 512-byte tar headers), because
tarfile will not write them. Their 1 GiB bodies are many copies of one small gzip member
(gzip streams may be concatenated), so each archive is about a megabyte on disk and a
gigabyte once decompressed. Every refusal runs in a child process whose peak memory is
read from /proc/self/status (VmHWM): reading the payload would show up as about a
gigabyte. Not ru_maxrss: it survives execve, so a child forked from a big pytest process
reports the parent's size (the whole suite's run saw 836 MB for every child).
"""

from __future__ import annotations

import gzip
import io
import os
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from kiosk.packages import keys as keymod
from kiosk.packages.archive import MAX_ARCHIVE_BYTES, ArchiveError, read_archive

from .conftest import OpsEnv

REPO = Path(__file__).resolve().parents[2]
GIB = 1024 ** 3
MIB = 1024 ** 2
# Far above what checking headers needs, far below the gigabyte a payload read costs.
GROWTH_LIMIT_KIB = 64 * 1024


def header(name: str, size: int, typeflag: bytes) -> bytes:
    """One ustar header block with a correct checksum (size in octal, up to 8 GiB)."""
    b = bytearray(512)
    raw = name.encode()
    b[0:len(raw)] = raw
    b[100:108] = b"0000644\0"
    b[108:116] = b"0000000\0"
    b[116:124] = b"0000000\0"
    b[124:136] = b"%011o\0" % size
    b[136:148] = b"00000000000\0"
    b[156:157] = typeflag
    b[257:265] = b"ustar\x0000"
    b[148:156] = b" " * 8
    b[148:156] = b"%06o\0 " % sum(b)
    return bytes(b)


def pax_body(records: dict[str, str]) -> bytes:
    out = b""
    for key, value in records.items():
        rec = f" {key}={value}\n".encode()
        n = len(rec) + 1
        n = len(rec) + len(str(n))
        out += str(n).encode() + rec
    return out + b"\0" * (-len(out) % 512)


def zeros_gz(n: int) -> bytes:
    """n zero bytes as concatenated gzip members (1 MiB each)."""
    chunk = gzip.compress(b"\0" * MIB, compresslevel=9)
    return chunk * (n // MIB) + gzip.compress(b"\0" * (n % MIB))


def manifest_block() -> bytes:
    data = b'id = "x"\nversion = "1.0.0"\n'
    return header("manifest.toml", len(data), b"0") + data + b"\0" * (512 - len(data))


def hostile(kind: str) -> bytes:
    """Archives whose metadata claims (and really holds) a gigabyte."""
    head = manifest_block()
    if kind == "pax-1gib":  # a pax extended header of 1 GiB
        return gzip.compress(head + header("././@PaxHeader", GIB, b"x")) + zeros_gz(GIB)
    if kind == "gnu-longname-1gib":
        return gzip.compress(head + header("././@LongLink", GIB, b"L")) + zeros_gz(GIB)
    if kind == "gnu-longlink-1gib":
        return gzip.compress(head + header("././@LongLink", GIB, b"K")) + zeros_gz(GIB)
    if kind == "member-1gib":  # a regular member above the per-member limit
        return gzip.compress(head + header("flows/a.toml", GIB, b"0")) + zeros_gz(GIB)
    raise AssertionError(kind)


MEMORY = """
def vm(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0
"""

CHILD = MEMORY + """
import sys
from pathlib import Path
from kiosk.packages.archive import ArchiveError, read_archive
data = Path(sys.argv[1]).read_bytes()
before = vm("VmRSS")
try:
    read_archive(data, "evil.kpkg")
    print("ACCEPTED")
except ArchiveError as exc:
    print("REFUSED", exc)
print("GROWTH_KIB", vm("VmHWM") - before)
"""

# `kiosk ...` in a child that reports its own peak (VmHWM) when it exits.
PEAK = MEMORY + """
import atexit, sys
from kiosk.cli import main
atexit.register(lambda: print("PEAK_KIB", vm("VmHWM"), flush=True))
sys.exit(main(sys.argv[1:]))
"""


def run_child(argv: list[str]) -> tuple[int, str, int]:
    """Run a child; return its exit status, output and peak RSS in KiB (its VmHWM)."""
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, check=False)
    out = proc.stdout.decode(errors="replace")
    peak = int(out.rsplit("PEAK_KIB", 1)[1].split()[0]) if "PEAK_KIB" in out else -1
    return proc.returncode, out, peak


@pytest.mark.parametrize("kind,reason", [
    ("pax-1gib", "extended header"),
    ("gnu-longname-1gib", "extended header"),
    ("gnu-longlink-1gib", "extended header"),
    ("member-1gib", "larger than"),
])
def test_huge_metadata_is_refused_before_it_is_read(tmp_path: Path, kind: str,
                                                    reason: str) -> None:
    evil = tmp_path / f"{kind}.kpkg"
    evil.write_bytes(hostile(kind))
    assert evil.stat().st_size < 4 * MIB
    rc, out, _ = run_child([sys.executable, "-c", CHILD, str(evil)])
    assert rc == 0, out
    assert "REFUSED" in out and reason in out, out
    growth = int(out.rsplit("GROWTH_KIB", 1)[1])
    assert growth < GROWTH_LIMIT_KIB, f"{kind}: memory grew by {growth} KiB while refusing"


def _gz(raw: bytes) -> bytes:
    return gzip.compress(raw + b"\0" * 1024)


@pytest.mark.parametrize("blocks,reason", [
    # pax records that would change how much data follows, or how it is laid out
    (lambda: header("././@PaxHeader", 512, b"x") + pax_body({"size": str(GIB)})
     + header("flows/a.toml", 1, b"0") + b"x" + b"\0" * 511, "'size'"),
    (lambda: header("././@PaxHeader", 512, b"x")
     + pax_body({"GNU.sparse.major": "1", "GNU.sparse.minor": "0"})
     + header("flows/a.toml", 1, b"0") + b"x" + b"\0" * 511, "'GNU.sparse.major'"),
    (lambda: header("pax_global_header", 512, b"g") + pax_body({"comment": "x"}), "global"),
    (lambda: header("flows/a.toml", 0, b"S"), "sparse"),
    # a chain of extended headers (tarfile follows it recursively)
    (lambda: (header("././@PaxHeader", 512, b"x") + pax_body({"path": "flows/a.toml"})) * 300
     + header("flows/a.toml", 1, b"0") + b"x" + b"\0" * 511, "extended headers in a row"),
], ids=["pax-size", "pax-sparse", "pax-global", "gnu-sparse", "pax-chain"])
def test_tar_metadata_that_could_mislead_the_reader_is_refused(blocks: Callable[[], bytes],
                                                                reason: str) -> None:
    data = _gz(manifest_block() + blocks())
    with pytest.raises(ArchiveError) as err:
        read_archive(data, "evil.kpkg")
    assert reason in err.value.problem, err.value


def test_small_pax_and_gnu_headers_still_work() -> None:
    """What tarfile writes for ordinary members (a pax header or a GNU long-name header
    for a name above 100 bytes, pax for a non-ASCII name) passes the bounds, and the
    member rules apply to the long names as before."""
    long_name = "assets/" + "a" * 48 + "/" + "b" * 48 + ".png"  # 108 bytes: a valid name
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 16
    for fmt in (tarfile.PAX_FORMAT, tarfile.GNU_FORMAT):
        for name, data in ((long_name, png), ("flows/服务.toml", b"x = 1")):
            raw = io.BytesIO()
            with tarfile.open(fileobj=raw, mode="w:gz", format=fmt) as tar:
                for member, content in (("manifest.toml", b'id = "x"\n'), (name, data)):
                    info = tarfile.TarInfo(member)
                    info.size, info.mode = len(content), 0o644
                    tar.addfile(info, io.BytesIO(content))
            if name == long_name:
                assert read_archive(raw.getvalue(), "ok.kpkg")[long_name] == png
            else:
                with pytest.raises(ArchiveError) as err:
                    read_archive(raw.getvalue(), "ok.kpkg")
                assert err.value.path == name and "ASCII" in err.value.problem


def _sign(path: Path, data: bytes, ops_env: OpsEnv) -> None:
    """Write PATH.sig: the builder's valid signature over `data`."""
    keymod.write_json(path.with_name(path.name + ".sig"),
                      keymod.sign_detached(data, keymod.load_private(ops_env.keys / "signer.key")))


KIOSK = [sys.executable, "-c", PEAK, "--log-level", "WARNING", "pack"]


@pytest.mark.parametrize("kind", ["pax-1gib", "huge-file"])
def test_pack_verify_and_publish_stay_bounded(tmp_path: Path, ops_env: OpsEnv, kind: str) -> None:
    """The ops commands refuse the same archives, and a huge file, without reading them."""
    evil = tmp_path / "evil.kpkg"
    if kind == "huge-file":
        with open(evil, "wb") as fh:  # sparse: takes no disk space
            fh.truncate(GIB)
        _sign(evil, b"", ops_env)  # the file is refused before its signature is checked
    else:
        evil.write_bytes(hostile(kind))
        _sign(evil, evil.read_bytes(), ops_env)
    want = "extended header" if kind == "pax-1gib" else f"larger than {MAX_ARCHIVE_BYTES}"
    for args in (["verify", str(evil), "--pubkey", str(ops_env.keys / "signer.pub")],
                 ["publish", str(evil), "--repo", str(ops_env.repo_dir),
                  "--keys", str(ops_env.keys)]):
        rc, out, peak_kib = run_child([*KIOSK, *args])
        assert rc == 1 and want in out, (args[0], out)
        assert 0 < peak_kib < 512 * 1024, f"kiosk pack {args[0]} peaked at {peak_kib} KiB"
    assert not list((ops_env.repo_dir / "targets").rglob("*.kpkg"))


def test_pack_build_does_not_read_a_huge_file_in_the_source_folder(tmp_path: Path) -> None:
    from flowpacks import BUILTIN_DIR

    src = tmp_path / "src"
    shutil.copytree(BUILTIN_DIR, src)
    with open(src / "assets" / "huge.png", "wb") as fh:  # sparse: takes no disk space
        fh.truncate(GIB)
    rc, out, peak_kib = run_child([*KIOSK, "build", str(src), "-o", str(tmp_path / "x.kpkg")])
    assert rc == 1 and "assets/huge.png: larger than" in out, out
    assert 0 < peak_kib < 512 * 1024, f"kiosk pack build peaked at {peak_kib} KiB"


@pytest.mark.parametrize("kind", ["huge", "deep"])
def test_signature_files_are_bounded_too(tmp_path: Path, ops_env: OpsEnv, kind: str) -> None:
    """A .sig beside a good archive: a gigabyte one is not read, a deeply nested one is a
    clean refusal (not a RecursionError traceback)."""
    archive = ops_env.build_signed(ops_env.source("dg-extra", "1.0.0"))
    sig = archive.with_name(archive.name + ".sig")
    if kind == "huge":
        with open(sig, "wb") as fh:
            fh.truncate(GIB)
        want = "larger than 65536 bytes; not a signature file"
    else:
        sig.write_text("[" * 20_000 + "]" * 20_000)
        want = "malformed signature file"
    for args in (["verify", str(archive), "--pubkey", str(ops_env.keys / "signer.pub")],
                 ["publish", str(archive), "--repo", str(ops_env.repo_dir),
                  "--keys", str(ops_env.keys)]):
        rc, out, peak_kib = run_child([*KIOSK, *args])
        assert rc == 1 and want in out and "Traceback" not in out, (args[0], out)
        assert 0 < peak_kib < 512 * 1024, f"kiosk pack {args[0]} peaked at {peak_kib} KiB"
