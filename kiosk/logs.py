"""Logging setup: every handler masks ID-number-shaped strings (defence in depth)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from kiosk.identity import MaskingFilter

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup_logging(level: str = "INFO", file: Path | None = None) -> None:
    root = logging.getLogger()
    root.setLevel(level)
    for h in list(root.handlers):
        root.removeHandler(h)
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if file is not None:
        file.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(file, encoding="utf-8"))
    for h in handlers:
        h.setFormatter(logging.Formatter(FORMAT))
        h.addFilter(MaskingFilter())
        root.addHandler(h)
    for noisy in ("urllib3", "PIL", "fontTools"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
