"""Logging setup: every handler masks ID-number-shaped strings (defence in depth).

A log file rotates by size inside the process (`max_bytes` > 0: RotatingFileHandler,
`backups` old files kept); with `max_bytes=0` the file is left to logrotate and reopened
when logrotate moves it (WatchedFileHandler; see deploy/logrotate/guanjia-kiosk).
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from kiosk.identity import MaskingFilter

if TYPE_CHECKING:
    from kiosk.config import Config

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup_logging(level: str = "INFO", file: Path | None = None, *, max_bytes: int = 0,
                  backups: int = 5) -> None:
    root = logging.getLogger()
    root.setLevel(level)
    for h in list(root.handlers):
        root.removeHandler(h)
        if getattr(h, "kiosk_owned", False):
            h.close()  # ours (a file): release it; others' handlers are theirs to close
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if file is not None:
        file.parent.mkdir(parents=True, exist_ok=True)
        if max_bytes > 0:
            handlers.append(logging.handlers.RotatingFileHandler(
                file, maxBytes=max_bytes, backupCount=max(1, backups), encoding="utf-8"))
        else:
            handlers.append(logging.handlers.WatchedFileHandler(file, encoding="utf-8"))
    for h in handlers:
        h.kiosk_owned = True  # type: ignore[attr-defined]
        h.setFormatter(logging.Formatter(FORMAT))
        h.addFilter(MaskingFilter())
        root.addHandler(h)
    for noisy in ("urllib3", "PIL", "fontTools"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from kiosk.maintenance.health import install_last_error_handler

    install_last_error_handler()  # the heartbeat and the maintenance screen show it


def log_file(config: Config) -> Path:
    """Where the kiosk writes its log: `operations.log_file`, else <data_dir>/logs/kiosk.log."""
    ops = config.operations
    if ops.log_file:
        return Path(ops.log_file).expanduser()
    return config.data_dir / "logs" / "kiosk.log"


def setup_file_logging(config: Config, level: str = "INFO") -> Path:
    """Log to stderr and to the configured, size-rotated file; return the file's path."""
    ops = config.operations
    path = log_file(config)
    setup_logging(level, path, max_bytes=int(ops.log_max_mb * 1024 * 1024),
                  backups=ops.log_backups)
    return path
