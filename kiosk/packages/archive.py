"""The package archive: a deterministic gzip'd tar with strict member rules.

A package is data only. `read_archive` accepts exactly this layout and nothing else:

    manifest.toml
    flows/<name>.toml
    templates/<name>.toml
    strings/<locale>.json          (locale in kiosk.i18n.LOCALES)
    assets/[<dir>/...]<name>.(png|jpg|jpeg|webp)

Members must be regular files (no links, devices or directories with odd modes), with
relative, normalised ASCII names, without execute bits, within size limits, and their
content must look like what the name says (UTF-8 text for TOML/JSON, image magic for
assets). Anything else is rejected with the archive name, the member and the reason.
"""

from __future__ import annotations

import gzip
import io
import re
import tarfile
import zlib
from collections.abc import Mapping
from pathlib import Path

from kiosk.flows.model import DefinitionError
from kiosk.i18n import LOCALES

SUFFIX = ".kpkg"
MAX_ARCHIVE_BYTES = 64 * 1024 * 1024
MAX_MEMBER_BYTES = 8 * 1024 * 1024
MAX_TOTAL_BYTES = 64 * 1024 * 1024
MAX_MEMBERS = 512
MAX_DEPTH = 4

_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_IMAGE_MAGIC = {
    ".png": (b"\x89PNG\r\n\x1a\n",),
    ".jpg": (b"\xff\xd8\xff",),
    ".jpeg": (b"\xff\xd8\xff",),
    ".webp": (b"RIFF",),
}


class ArchiveError(DefinitionError):
    """The archive itself is unacceptable (names the archive, the member and the reason)."""


def _kind_of(name: str) -> str:
    """Classify a member name: manifest, flow, template, strings or asset; '' if not allowed."""
    parts = name.split("/")
    if name == "manifest.toml":
        return "manifest"
    if len(parts) == 2 and parts[0] in ("flows", "templates") and parts[1].endswith(".toml"):
        return parts[0][:-1]
    if len(parts) == 2 and parts[0] == "strings" and parts[1] in {f"{x}.json" for x in LOCALES}:
        return "strings"
    if parts[0] == "assets" and 2 <= len(parts) <= MAX_DEPTH and \
            Path(parts[-1]).suffix.lower() in _IMAGE_MAGIC:
        return "asset"
    return ""


def check_member(archive: str, name: str, data: bytes) -> str:
    """Check one member's name and content; return its kind or raise ArchiveError."""
    if not name or name.startswith("/") or "\\" in name or "\0" in name:
        raise ArchiveError(archive, name, "absolute or malformed path")
    parts = name.split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise ArchiveError(archive, name, "path with '.', '..' or empty segments")
    if not all(_SEGMENT.match(p) for p in parts):
        raise ArchiveError(archive, name, "name must be ASCII letters, digits, '.', '_' or '-'")
    kind = _kind_of(name)
    if not kind:
        raise ArchiveError(archive, name, "not allowed in a package (data only: manifest.toml, "
                           "flows/*.toml, templates/*.toml, strings/<locale>.json, "
                           "assets/*.png|jpg|jpeg|webp)")
    if len(data) > MAX_MEMBER_BYTES:
        raise ArchiveError(archive, name, f"larger than {MAX_MEMBER_BYTES} bytes")
    if kind == "asset":
        suffix = Path(name).suffix.lower()
        if not data.startswith(_IMAGE_MAGIC[suffix]) or \
                (suffix == ".webp" and data[8:12] != b"WEBP"):
            raise ArchiveError(archive, name, f"content is not a {suffix[1:]} image")
    else:
        if b"\0" in data:
            raise ArchiveError(archive, name, "binary content in a text file")
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ArchiveError(archive, name, "not UTF-8 text") from exc
        if data.startswith(b"#!"):
            raise ArchiveError(archive, name, "looks like a script")
    return kind


def collect_dir(root: Path) -> dict[str, bytes]:
    """Read a package source directory, applying the same rules as an archive."""
    root = Path(root)
    if not root.is_dir():
        raise ArchiveError(str(root), "", "not a directory")
    label = root.name or str(root)
    files: dict[str, bytes] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_symlink():
            raise ArchiveError(label, rel, "symbolic links are not allowed")
        if path.is_dir():
            continue
        if not path.is_file():
            raise ArchiveError(label, rel, "not a regular file")
        if path.stat().st_mode & 0o111:
            raise ArchiveError(label, rel, "has an execute bit; packages carry no programs")
        data = path.read_bytes()
        check_member(label, rel, data)
        files[rel] = data
    _check_totals(label, files)
    return files


def _check_totals(archive: str, files: Mapping[str, bytes]) -> None:
    if "manifest.toml" not in files:
        raise ArchiveError(archive, "manifest.toml", "missing")
    if len(files) > MAX_MEMBERS:
        raise ArchiveError(archive, "", f"more than {MAX_MEMBERS} members")
    if sum(len(d) for d in files.values()) > MAX_TOTAL_BYTES:
        raise ArchiveError(archive, "", f"more than {MAX_TOTAL_BYTES} bytes unpacked")


def pack_files(files: Mapping[str, bytes]) -> bytes:
    """Deterministic archive bytes: sorted members, fixed owner, mode and times."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name in sorted(files):
            data = files[name]
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0, compresslevel=9) as gz:
        gz.write(raw.getvalue())
    return out.getvalue()


def build_archive(root: Path) -> bytes:
    """Build the archive of a package source directory (same input -> same bytes)."""
    return pack_files(collect_dir(root))


def read_archive(data: bytes, archive: str = "package") -> dict[str, bytes]:
    """Unpack archive bytes in memory, enforcing every member rule; return name -> content."""
    if len(data) > MAX_ARCHIVE_BYTES:
        raise ArchiveError(archive, "", f"archive larger than {MAX_ARCHIVE_BYTES} bytes")
    files: dict[str, bytes] = {}
    total = 0
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            for member in tar:
                name = member.name
                if not member.isfile():
                    what = "link" if member.issym() or member.islnk() else \
                        "directory" if member.isdir() else "special file"
                    raise ArchiveError(archive, name, f"{what} members are not allowed")
                if member.mode & 0o111:
                    raise ArchiveError(archive, name,
                                       "has an execute bit; packages carry no programs")
                if member.size > MAX_MEMBER_BYTES:
                    raise ArchiveError(archive, name, f"larger than {MAX_MEMBER_BYTES} bytes")
                total += member.size
                if total > MAX_TOTAL_BYTES or len(files) >= MAX_MEMBERS:
                    raise ArchiveError(archive, name, "archive exceeds the size or member limit")
                if name in files:
                    raise ArchiveError(archive, name, "duplicate member")
                fobj = tar.extractfile(member)
                content = fobj.read(member.size + 1) if fobj else b""
                if len(content) != member.size:
                    raise ArchiveError(archive, name, "truncated member")
                check_member(archive, name, content)
                files[name] = content
    except ArchiveError:
        raise
    except (tarfile.TarError, EOFError, OSError, gzip.BadGzipFile, zlib.error,
            ValueError) as exc:
        raise ArchiveError(archive, "", f"not a readable package archive ({exc})") from exc
    _check_totals(archive, files)
    return files
