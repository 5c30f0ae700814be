"""Log rotation (in process and with logrotate) and the masked log export."""

from __future__ import annotations

import grp
import gzip
import logging
import os
import pwd
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from kiosk.logs import log_file, setup_file_logging, setup_logging
from kiosk.maintenance.logexport import (
    ExportError,
    export_logs,
    export_targets,
    log_sources,
    mask_line,
)

REPO = Path(__file__).resolve().parents[2]
ID = "441900199001011234"


@pytest.fixture
def restore_logging():  # type: ignore[no-untyped-def]
    root = logging.getLogger()
    saved, level = list(root.handlers), root.level
    yield
    for h in list(root.handlers):
        root.removeHandler(h)
        h.close()
    for h in saved:
        root.addHandler(h)
    root.setLevel(level)


def test_file_rotates_by_size_and_keeps_n_backups(kiosk_config, restore_logging) -> None:  # type: ignore[no-untyped-def]
    cfg = kiosk_config.with_section("operations", log_max_mb=0.01, log_backups=3)
    path = setup_file_logging(cfg)
    assert path == log_file(cfg) == cfg.data_dir / "logs" / "kiosk.log"
    log = logging.getLogger("kiosk.soak")
    for i in range(2000):
        log.info("line %05d for card %s", i, ID)
    names = sorted(p.name for p in path.parent.iterdir())
    assert names == ["kiosk.log", "kiosk.log.1", "kiosk.log.2", "kiosk.log.3"]
    for p in path.parent.iterdir():
        assert p.stat().st_size <= 10_485 + 200
        assert ID not in p.read_text()  # the masking filter is on the file handler too


def test_logrotate_friendly_handler_reopens_a_moved_file(tmp_path, restore_logging) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "kiosk.log"
    setup_logging("INFO", path, max_bytes=0)
    logging.getLogger("kiosk").info("before")
    path.rename(tmp_path / "kiosk.log.1")  # what logrotate does (without copytruncate)
    logging.getLogger("kiosk").info("after")
    assert "after" in path.read_text() and "after" not in (tmp_path / "kiosk.log.1").read_text()


@pytest.mark.skipif(shutil.which("logrotate") is None, reason="logrotate not installed")
def test_shipped_logrotate_config(tmp_path) -> None:  # type: ignore[no-untyped-def]
    logdir = tmp_path / "log"
    logdir.mkdir()
    (logdir / "kiosk.log").write_text("x" * 200_000)
    conf = (REPO / "deploy" / "logrotate" / "guanjia-kiosk").read_text()
    conf = conf.replace("/var/lib/guanjia-kiosk/logs", str(logdir))
    user = pwd.getpwuid(os.getuid()).pw_name
    group = grp.getgrgid(os.getgid()).gr_name
    conf = conf.replace("kiosk kiosk", f"{user} {group}")
    (tmp_path / "conf").write_text(conf + "\n")
    out = subprocess.run(["logrotate", "-f", "-s", str(tmp_path / "state"), str(tmp_path / "conf")],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert (logdir / "kiosk.log").exists()
    assert any(p.name.startswith("kiosk.log.1") for p in logdir.iterdir())


def test_mask_line() -> None:
    line = f"id {ID} 15-digit 441900900101123 phone 13812345678 at 1767225600.123 job 42"
    out, n = mask_line(line)
    assert out == ("id 4419**********1234 15-digit 4419*******1123 phone 138****5678 "
                   "at 1767225600.123 job 42")
    assert n == 3


def test_export_masks_current_rotated_and_gzipped_logs(tmp_path) -> None:  # type: ignore[no-untyped-def]
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "kiosk.log").write_text(f"now {ID}\n")
    (logs / "kiosk.log.1").write_text("older 13812345678\n")
    (logs / "kiosk.log.2.gz").write_bytes(gzip.compress(f"oldest {ID}\n".encode()))
    (logs / "other.log").write_text("not ours")
    assert [p.name for p in log_sources(logs / "kiosk.log")] == [
        "kiosk.log", "kiosk.log.1", "kiosk.log.2.gz"]
    dest = tmp_path / "usb"
    res = export_logs(logs / "kiosk.log", dest, "DG/01 x", snapshot={"note": f"card {ID}"})
    assert res.path.parent == dest and res.path.name.startswith("kiosk-logs-DG_01_x-")
    assert res.masked == 4
    assert not list(dest.glob(".*.part"))
    with zipfile.ZipFile(res.path) as zf:
        assert sorted(zf.namelist()) == ["README.txt", "health.json", "logs/kiosk.log",
                                         "logs/kiosk.log.1", "logs/kiosk.log.2"]
        everything = "".join(zf.read(n).decode() for n in zf.namelist())
    assert ID not in everything and "13812345678" not in everything
    assert "oldest 4419**********1234" in everything and "not ours" not in everything


def test_export_to_an_unwritable_place(tmp_path) -> None:  # type: ignore[no-untyped-def]
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ExportError) as err:
        export_logs(tmp_path / "kiosk.log", blocker / "sub", "T")
    assert err.value.key == "maintenance.export.not_writable"
    if os.geteuid() != 0:  # root may write anywhere
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o500)
        with pytest.raises(ExportError):
            export_logs(tmp_path / "kiosk.log", ro, "T")


def test_export_targets_include_the_fallback(tmp_path) -> None:  # type: ignore[no-untyped-def]
    targets = export_targets([tmp_path])
    assert targets[-1] == tmp_path
    assert all(str(t).startswith(("/media/", "/run/media/", "/mnt/")) for t in targets[:-1])
