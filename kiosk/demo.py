"""`kiosk demo`: the kiosk on embedded defaults (simulated devices, reference backend).

With a display it opens the full-screen kiosk. Without one (or with `--headless`) a
scripted citizen goes through a flow using the real widgets and leaves, in OUT:
a screenshot of every screen it passed, the printed A4 PDF, and the receipt (ESC/POS
bytes plus a readable text rendering). Either way it logs, masked, to the same file as
`kiosk run` (`kiosk.logs.log_file`; set up by `kiosk.cli`), so `kiosk maintenance
export-logs` after a demo or a training session holds its logs.
"""

from __future__ import annotations

import logging
from pathlib import Path

from kiosk.config import Config

log = logging.getLogger(__name__)

SIZES = {"landscape": (1920, 1080), "portrait": (1080, 1920), "square": (1280, 1024)}


def demo_config(base: Config, spool: Path | None) -> Config:
    cfg = base
    if spool is not None:
        cfg = cfg.with_section(
            "devices",
            idcard="sim://?card=chen&delay_ms=400",
            a4=f"sim://?spool={spool / 'a4'}",
            receipt=f"sim://?spool={spool / 'receipt'}",
        )
    return cfg.with_section("backend", url="embedded")


def run_headless(base: Config, out: Path, flow_id: str = "ss_certificate",
                 sizes: list[tuple[int, int]] | None = None, timeout_s: float = 90.0) -> int:
    from kiosk.ui.headless_demo import run_headless_demo

    return run_headless_demo(demo_config, base, out, flow_id, sizes or [SIZES["landscape"]],
                             timeout_s)


def run_with_display(base: Config) -> int:
    from kiosk.runtime import Runtime
    from kiosk.ui.app import run_kiosk

    return run_kiosk(Runtime.create(demo_config(base, None)))
