"""Export the kiosk's logs to a folder (a technician's USB stick), personal data masked.

Logs are already masked when written; the export masks again line by line (defence in
depth: an ID number, a phone number or any long digit run that slipped through). The
result is one zip: the current and rotated log files (logrotate's `.gz` included), a
health snapshot and a short README, written under a temporary name, synced and then
renamed, so a stick pulled out early never holds a half file that looks complete.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import os
import re
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

_PHONE = re.compile(r"(?<![0-9])1[3-9][0-9]{9}(?![0-9])")
_LONG_DIGITS = re.compile(r"(?<![0-9])[0-9]{11,}[0-9Xx]?(?![0-9])")
REMOVABLE_ROOTS = ("/media", "/run/media", "/mnt")


class ExportError(Exception):
    def __init__(self, key: str, detail: str = "") -> None:
        super().__init__(f"{key}: {detail}" if detail else key)
        self.key, self.detail = key, detail


@dataclass(frozen=True)
class ExportResult:
    path: Path
    files: tuple[str, ...]
    bytes: int
    masked: int  # how many values the export masked (already-masked logs: usually 0)


def mask_line(line: str) -> tuple[str, int]:
    """Mask phone numbers (3+4 kept) and ID numbers or any longer digit run (4+4 kept)."""
    count = 0

    def keep(first: int, last: int) -> Callable[[re.Match[str]], str]:
        def sub(m: re.Match[str]) -> str:
            nonlocal count
            count += 1
            s = m.group(0)
            return s[:first] + "*" * (len(s) - first - last) + s[-last:]
        return sub

    out = _PHONE.sub(keep(3, 4), line)
    out = _LONG_DIGITS.sub(keep(4, 4), out)
    return out, count


def log_sources(log_file: Path) -> list[Path]:
    """The log file and its rotated siblings (`kiosk.log.1`, `kiosk.log.2.gz`, …), oldest last."""
    folder = log_file.parent
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir()
             if p.is_file() and (p.name == log_file.name or p.name.startswith(log_file.name + "."))]

    def order(p: Path) -> tuple[int, str]:
        rest = p.name[len(log_file.name):].lstrip(".").split(".")[0]
        return (int(rest) if rest.isdigit() else (0 if not rest else 10**6), p.name)

    return sorted(found, key=order)


def _read_text(path: Path) -> str:
    raw = path.read_bytes()
    if path.suffix == ".gz":
        raw = gzip.decompress(raw)
    return raw.decode("utf-8", errors="replace")


def export_targets(extra: Iterable[Path] = ()) -> list[Path]:
    """Writable folders a technician may export to: mounted removable media, then `extra`."""
    out: list[Path] = []
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        mounts = []
    for line in mounts:
        parts = line.split()
        if len(parts) > 1:
            point = Path(parts[1].replace("\\040", " "))
            if any(str(point).startswith(r + "/") for r in REMOVABLE_ROOTS) \
                    and os.access(point, os.W_OK):
                out.append(point)
    for p in extra:
        if p not in out:
            out.append(p)
    return out


def export_logs(log_file: Path, dest: Path, terminal_id: str, *,
                snapshot: dict[str, Any] | None = None,
                now: datetime | None = None) -> ExportResult:
    """Write `kiosk-logs-<terminal>-<time>.zip` into `dest` with masked logs."""
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError("maintenance.export.not_writable", type(exc).__name__) from None
    if not os.access(dest, os.W_OK):
        raise ExportError("maintenance.export.not_writable", str(dest))
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    safe_tid = re.sub(r"[^A-Za-z0-9_.-]+", "_", terminal_id)
    final = dest / f"kiosk-logs-{safe_tid}-{stamp}.zip"
    tmp = dest / f".{final.name}.part"
    names: list[str] = []
    masked = 0
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for src in log_sources(log_file):
                try:
                    text = _read_text(src)
                except (OSError, EOFError, gzip.BadGzipFile) as exc:
                    log.warning("log export: skipping %s (%s)", src.name, type(exc).__name__)
                    continue
                buf = io.StringIO()
                for line in text.splitlines(keepends=True):
                    clean, n = mask_line(line)
                    masked += n
                    buf.write(clean)
                name = src.name[:-3] if src.suffix == ".gz" else src.name
                zf.writestr(f"logs/{name}", buf.getvalue())
                names.append(f"logs/{name}")
            if snapshot is not None:
                body, n = mask_line(json.dumps(snapshot, ensure_ascii=False, indent=1))
                masked += n
                zf.writestr("health.json", body)
                names.append("health.json")
            zf.writestr("README.txt", (
                f"Terminal {terminal_id}, exported {stamp}.\n"
                "Personal data is masked (ID numbers 4+4 digits, phone numbers 3+4).\n"))
            names.append("README.txt")
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, final)
        dfd = os.open(dest, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        key = "maintenance.export.disk_full" if exc.errno == 28 else "maintenance.export.failed"
        raise ExportError(key, type(exc).__name__) from None
    return ExportResult(final, tuple(names), final.stat().st_size, masked)
