"""The package archive: a deterministic gzip'd tar with strict member rules.

A package is data only. `read_archive` accepts exactly this layout and nothing else:

    manifest.toml
    flows/<name>.toml
    templates/<name>.toml
    strings/<locale>.json          (locale in kiosk.i18n.LOCALES)
    assets/[<dir>/...]<name>.(png|jpg|jpeg|webp)

Members must be regular files (no links, devices or directories with odd modes), with
relative, normalised ASCII names, without execute bits, within size limits, and their
content must look like what the name says (UTF-8 text for TOML/JSON that parses and is
not nested absurdly deep, image magic for assets). Anything else is rejected with the
archive name, the member and the reason.

Limits hold before anything big is read. tarfile reads a pax or GNU long-name header
whole as soon as it meets it, so `_scan_headers` walks the decompressed stream's header
blocks first (streaming, a block at a time) and refuses extended headers above
MAX_EXT_HEADER_BYTES, pax records that change sizes or layout, sparse and global
headers, and members or totals above the limits; only then does tarfile parse it.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import tarfile
import tomllib
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kiosk.flows.model import DefinitionError
from kiosk.i18n import LOCALES

SUFFIX = ".kpkg"
MAX_ARCHIVE_BYTES = 64 * 1024 * 1024
MAX_MEMBER_BYTES = 8 * 1024 * 1024
MAX_TOTAL_BYTES = 64 * 1024 * 1024
MAX_MEMBERS = 2048  # a 300-service catalog (flowpacks/gba) has ~620 files
MAX_DEPTH = 4
MAX_EXT_HEADER_BYTES = 64 * 1024  # one pax or GNU long-name/long-link header
MAX_EXT_HEADERS = 3  # extended headers in front of one member (pax + long name + link)
MAX_NESTING = 32  # arrays/tables inside each other in a TOML or JSON member

# pax keywords that only name or date a member. Anything else ("size", "GNU.sparse.*",
# vendor records) would change how much data follows or how it is laid out, and is
# refused so that this scan and tarfile always agree on where each header is.
_PAX_KEYS = frozenset({b"path", b"linkpath", b"mtime", b"atime", b"ctime", b"uid", b"gid",
                       b"uname", b"gname", b"hdrcharset", b"charset", b"comment"})
_PAX_RECORD = re.compile(rb"(\d+) ([^=]+)=")  # the same record syntax tarfile parses
_EXT_TYPES = (tarfile.XHDTYPE, tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK)
_REFUSED_TYPES = {tarfile.XGLTYPE: "global pax headers are not allowed",
                  tarfile.SOLARIS_XHDTYPE: "Solaris extended headers are not allowed",
                  tarfile.GNUTYPE_SPARSE: "sparse files are not allowed"}
_DATA_TYPES = (tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.CONTTYPE)
_CHUNK = 64 * 1024
# A source folder may keep what its files are generated from (flowpacks/gba/src): left out.
SOURCE_DIR = "src"

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
        _check_structure(archive, name, data)
    return kind


def _nesting(value: Any) -> int:
    """How deep lists and tables nest in a parsed document (iteratively: no recursion)."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)
    return deepest


def _check_structure(archive: str, name: str, data: bytes) -> None:
    """A TOML or JSON member parses, and is not nested deeper than MAX_NESTING."""
    text = data.decode("utf-8")
    try:
        doc = json.loads(text) if name.endswith(".json") else tomllib.loads(text)
    except RecursionError:
        raise ArchiveError(archive, name, f"nested more than {MAX_NESTING} levels deep") \
            from None
    except ValueError as exc:  # TOMLDecodeError and JSONDecodeError (with line, column)
        raise ArchiveError(archive, name,
                           f"not valid {'JSON' if name.endswith('.json') else 'TOML'}: {exc}") \
            from exc
    if _nesting(doc) > MAX_NESTING:
        raise ArchiveError(archive, name, f"nested more than {MAX_NESTING} levels deep")


def collect_dir(root: Path) -> dict[str, bytes]:
    """Read a package source directory, applying the same rules as an archive."""
    root = Path(root)
    if not root.is_dir():
        raise ArchiveError(str(root), "", "not a directory")
    label = root.name or str(root)
    files: dict[str, bytes] = {}
    total = 0
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if rel.split("/")[0] == SOURCE_DIR:
            continue  # the package's authoring data (kiosk.packages.authoring), not shipped
        if path.is_symlink():
            raise ArchiveError(label, rel, "symbolic links are not allowed")
        if path.is_dir():
            continue
        if not path.is_file():
            raise ArchiveError(label, rel, "not a regular file")
        st = path.stat()
        if st.st_mode & 0o111:
            raise ArchiveError(label, rel, "has an execute bit; packages carry no programs")
        # Limits before reading: a stray disk image in the folder is not read into memory.
        if st.st_size > MAX_MEMBER_BYTES:
            raise ArchiveError(label, rel, f"larger than {MAX_MEMBER_BYTES} bytes")
        total += st.st_size
        if total > MAX_TOTAL_BYTES or len(files) >= MAX_MEMBERS:
            raise ArchiveError(label, rel, "package exceeds the size or member limit")
        with open(path, "rb") as fh:
            data = fh.read(MAX_MEMBER_BYTES + 1)  # + 1: a file that grew since stat() fails
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


def read_archive_file(path: Path) -> bytes:
    """Read an archive file, refusing one above MAX_ARCHIVE_BYTES before reading it."""
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        data = fh.read(MAX_ARCHIVE_BYTES + 1) if size <= MAX_ARCHIVE_BYTES else b""
    if size > MAX_ARCHIVE_BYTES or len(data) > MAX_ARCHIVE_BYTES:
        raise ArchiveError(Path(path).name, "",
                           f"archive larger than {MAX_ARCHIVE_BYTES} bytes ({size} bytes)")
    return data


def _padded(size: int) -> int:
    """Bytes a member of `size` occupies in the archive (whole 512-byte blocks)."""
    return -(-size // tarfile.BLOCKSIZE) * tarfile.BLOCKSIZE


def _read_exactly(stream: gzip.GzipFile, n: int) -> bytes | None:
    """n bytes from the stream (n is bounded by the caller), or None at a short end."""
    data = stream.read(n)
    return data if len(data) == n else None


def _skip(stream: gzip.GzipFile, n: int) -> bool:
    """Read past n bytes a chunk at a time; False if the stream ends first."""
    while n > 0:
        got = len(stream.read(min(n, _CHUNK)))
        if not got:
            return False
        n -= got
    return True


def _pax_path(archive: str, name: str, body: bytes) -> str:
    """Check a pax header's keywords (tarfile's own record syntax); return its path."""
    path, pos = "", 0
    while (match := _PAX_RECORD.match(body, pos)) is not None:
        length, keyword = int(match.group(1)), match.group(2)
        if length == 0:
            raise ArchiveError(archive, name, "malformed pax header")
        if keyword not in _PAX_KEYS:
            raise ArchiveError(archive, name, f"pax header keyword "
                               f"{keyword.decode('utf-8', 'replace')!r} is not allowed")
        if keyword == b"path":
            path = body[match.end(2) + 1:match.start(1) + length - 1].decode("utf-8",
                                                                            "replace")
        pos += length
    return path


def _scan_headers(data: bytes, archive: str) -> None:
    """Walk the tar headers in the gzip stream and enforce every size limit before tarfile
    reads anything: at most a block, an extended header (<= MAX_EXT_HEADER_BYTES) or a
    _CHUNK of member data is held at a time.

    The walk follows the same header chain tarfile does: the same block parser
    (`TarInfo.frombuf`), data skipped only for regular members, no pax record that moves
    the next header. It stops where tarfile stops (end block, bad header, short stream) or
    at the first member that is not a regular file, which read_archive then refuses.
    """
    members = total = ext = 0
    name = ""
    with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
        while True:
            try:
                info = tarfile.TarInfo.frombuf(stream.read(tarfile.BLOCKSIZE), "utf-8",
                                               "surrogateescape")
            except tarfile.HeaderError:
                return
            label = name or info.name
            if info.size < 0:
                raise ArchiveError(archive, label, "negative size in a tar header")
            if info.type in _REFUSED_TYPES:
                raise ArchiveError(archive, label, _REFUSED_TYPES[info.type])
            if info.type in _EXT_TYPES:
                ext += 1
                if ext > MAX_EXT_HEADERS:
                    raise ArchiveError(archive, label,
                                       f"more than {MAX_EXT_HEADERS} extended headers in a row")
                if info.size > MAX_EXT_HEADER_BYTES:
                    raise ArchiveError(archive, label,
                                       f"extended header of {info.size} bytes (limit "
                                       f"{MAX_EXT_HEADER_BYTES})")
                body = _read_exactly(stream, _padded(info.size))
                if body is None:
                    return
                body = body[:info.size]
                if info.type == tarfile.XHDTYPE:
                    name = _pax_path(archive, label, body) or name
                elif info.type == tarfile.GNUTYPE_LONGNAME:
                    name = body.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
                continue
            if info.type not in _DATA_TYPES:
                return  # a link, directory or device: read_archive refuses it
            members += 1
            total += info.size
            if info.size > MAX_MEMBER_BYTES:
                raise ArchiveError(archive, label, f"larger than {MAX_MEMBER_BYTES} bytes")
            if total > MAX_TOTAL_BYTES or members > MAX_MEMBERS:
                raise ArchiveError(archive, label, "archive exceeds the size or member limit")
            if not _skip(stream, _padded(info.size)):
                return
            ext, name = 0, ""


def read_archive(data: bytes, archive: str = "package") -> dict[str, bytes]:
    """Unpack archive bytes in memory, enforcing every member rule; return name -> content."""
    if len(data) > MAX_ARCHIVE_BYTES:
        raise ArchiveError(archive, "", f"archive larger than {MAX_ARCHIVE_BYTES} bytes")
    files: dict[str, bytes] = {}
    total = 0
    try:
        _scan_headers(data, archive)
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
