"""Skeleton benchmarks: cold start, certificate flow, PDF render."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROBE = r"""
import os, sys, time
t0 = float(sys.argv[1])
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from PySide6.QtCore import QSize, QTimer
from kiosk.config import load_config
from kiosk.runtime import Runtime
from kiosk.ui.app import build_window, ensure_app
app = ensure_app(headless=True)
rt = Runtime.create(load_config())
import threading
threading.Thread(target=rt.open_devices, daemon=True).start()
win = build_window(rt, QSize(1920, 1080))
win.show()
def ready(name):
    if name == "attract":
        import resource
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"READY {time.time() - t0:.4f} {rss:.1f}", flush=True)
        app.quit()
win.screenShown.connect(ready)
app.exec()
"""


def cold_start(repeat: int) -> tuple[float, float]:
    """Process start to an interactive home (attract) screen, offscreen; and its peak RSS."""
    samples, rss = [], []
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    for _ in range(repeat):
        t0 = time.time()
        out = subprocess.run([sys.executable, "-c", PROBE, str(t0)], capture_output=True,
                             text=True, env=env, timeout=120)
        for line in out.stdout.splitlines():
            if line.startswith("READY"):
                samples.append(float(line.split()[1]))
                rss.append(float(line.split()[2]))
    if not samples:
        return float("nan"), float("nan")
    return round(statistics.median(samples), 3), round(max(rss), 1)


def certificate_flow_s(repeat: int) -> float:
    """Software time of the certificate flow: zero-latency sims, backend on loopback."""
    from kiosk.config import Config
    from kiosk.flows.interaction import ScriptedInteraction
    from kiosk.flows.screens import Response, ScreenKind
    from kiosk.runtime import Runtime

    answers = {ScreenKind.CONSENT: Response("agree"), ScreenKind.PREVIEW: Response("print"),
               ScreenKind.RATING: Response("submit", {"stars": 5, "tags": []}),
               ScreenKind.RESULT: Response("done"), ScreenKind.ERROR: Response("home"),
               ScreenKind.CHOICE: Response("participation"), ScreenKind.FORM: Response("confirm")}
    cfg = Config().with_section("devices", idcard="sim://?card=chen", a4="sim://",
                                receipt="sim://")
    rt = Runtime.create(cfg)
    rt.open_devices()
    rt.start_backend(wait=True)
    samples = []
    try:
        for i in range(repeat + 1):
            s = rt.new_session()
            ui = ScriptedInteraction(s.cancel, lambda sc: answers.get(sc.kind))
            t = time.perf_counter()
            result = rt.run_flow("ss_certificate", s, ui)
            dt = time.perf_counter() - t
            s.wipe()
            if result.outcome != "completed":
                raise RuntimeError(f"flow did not complete: {result}")
            if i:  # the first run warms fonts and connections
                samples.append(dt)
    finally:
        rt.close()
    return round(statistics.median(samples), 4)


def pdf_render_s(repeat: int) -> float:
    from datetime import date

    from flowpacks import BUILTIN_DIR
    from kiosk.documents.a4 import render_a4
    from kiosk.flows.package import load_package
    from reference_backend.data import contribution_record
    from synthetic.citizens import BY_KEY

    pkg = load_package(BUILTIN_DIR)
    c = BY_KEY["chen"]
    record = contribution_record(c, 12, date.today()) | {"verify_code": "AAAA-BBBB-CCCC",
                                                         "verify_url": "http://x/verify/A"}
    data = {"record": record, "identity": {"id_number": c.id_number, "name": c.name},
            "terminal": {"id": "BENCH"}, "now": {"date": "2026-01-01"}}
    tpl = pkg.templates["ss_certificate_a4"]
    render_a4(tpl, data, pkg.asset)  # font load
    samples = []
    for _ in range(max(repeat, 5)):
        t = time.perf_counter()
        render_a4(tpl, data, pkg.asset)
        samples.append(time.perf_counter() - t)
    return round(statistics.median(samples), 4)


def measure(repeat: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as d:
        os.environ.setdefault("KIOSK_STORAGE_DATA_DIR", str(Path(d)))
        start_s, start_rss = cold_start(repeat)
        return {
            "cold_start_s": start_s,
            "ui_start_rss_mb": start_rss,
            "certificate_flow_s": certificate_flow_s(repeat),
            "pdf_render_s": pdf_render_s(repeat),
        }
