"""Skeleton benchmarks: cold start, certificate flow, PDF render."""

from __future__ import annotations

import copy
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

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
def report():
    import resource
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"READY {time.time() - t0:.4f} {rss:.1f}", flush=True)
    app.quit()
def ready(name):
    if name == "attract":  # interactive: the event loop takes input with the screen up
        QTimer.singleShot(0, report)
win.screenShown.connect(ready)
app.exec()
"""

# The baseline: a bare PySide6 process, one full-screen window with a label, measured to
# the same point (the event loop running with the window shown).
BARE_PROBE = r"""
import os, sys, time
t0 = float(sys.argv[1])
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QLabel
app = QApplication([])
label = QLabel("莞家政务")
label.showFullScreen()
def report():
    import resource
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"READY {time.time() - t0:.4f} {rss:.1f}", flush=True)
    app.quit()
QTimer.singleShot(0, report)
app.exec()
"""


def _start_once(probe: str, env: dict[str, str]) -> tuple[float, float] | None:
    t0 = time.time()
    out = subprocess.run([sys.executable, "-c", probe, str(t0)], check=False,
                         capture_output=True, text=True, env=env, timeout=120)
    for line in out.stdout.splitlines():
        if line.startswith("READY"):
            return float(line.split()[1]), float(line.split()[2])
    return None


def cold_start(repeat: int) -> tuple[float, float, float]:
    """Process start to an interactive home (attract) screen, offscreen; its peak RSS; and
    the baseline (a bare PySide6 window with a label), run alternately with it."""
    samples, rss, bare = [], [], []
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    for _ in range(repeat):
        got = _start_once(PROBE, env)
        if got:
            samples.append(got[0])
            rss.append(got[1])
        got = _start_once(BARE_PROBE, env)
        if got:
            bare.append(got[0])
    nan = float("nan")
    return (round(statistics.median(samples), 3) if samples else nan,
            round(max(rss), 1) if rss else nan,
            round(statistics.median(bare), 3) if bare else nan)


class _RecordingClient:
    """The platform client, noting each call the flow makes (on the flow's thread: not
    the link monitor's) and a copy of its answer (the session wipes the original), so
    the baseline can make the very same calls directly."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.thread = threading.current_thread()
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any], Any]] = []

    def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        answer = getattr(self.client, name)(*args, **kwargs)
        if threading.current_thread() is self.thread:
            self.calls.append((name, copy.deepcopy(args), copy.deepcopy(kwargs),
                               copy.deepcopy(answer)))
        return answer

    def request(self, *args: Any, **kwargs: Any) -> Any:
        return self._call("request", *args, **kwargs)

    def get_json(self, *args: Any, **kwargs: Any) -> Any:
        return self._call("get_json", *args, **kwargs)

    def post_json(self, *args: Any, **kwargs: Any) -> Any:
        return self._call("post_json", *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


def certificate_flow_s(repeat: int) -> tuple[float, float]:
    """Software time of the certificate flow: zero-latency sims, backend on loopback.

    Baseline (measured alternately with the flow, same process): the platform calls the
    flow made, made directly with the platform client, plus one render of the same
    certificate (the flow renders it twice, printed and masked, and rasterises a preview).
    """
    from flowpacks import BUILTIN_DIR
    from kiosk.config import Config
    from kiosk.documents.a4 import render_a4
    from kiosk.flows.interaction import ScriptedInteraction
    from kiosk.flows.package import load_package
    from kiosk.flows.screens import Response, ScreenKind
    from kiosk.runtime import Runtime
    from synthetic.citizens import BY_KEY

    answers = {ScreenKind.CONSENT: Response("agree"), ScreenKind.PREVIEW: Response("print"),
               ScreenKind.RATING: Response("submit", {"stars": 5, "tags": []}),
               ScreenKind.RESULT: Response("done"), ScreenKind.ERROR: Response("home"),
               ScreenKind.CHOICE: Response("participation"), ScreenKind.FORM: Response("confirm")}
    cfg = Config().with_section("devices", idcard="sim://?card=chen", a4="sim://",
                                receipt="sim://")
    rt = Runtime.create(cfg)
    rt.open_devices()
    rt.start_backend(wait=True)
    client = rt.backend
    recorder = _RecordingClient(client)
    samples, base = [], []
    try:
        for i in range(repeat + 1):
            if i == 0:  # the warm-up run (fonts, connections) also notes the platform calls
                rt.backend = recorder  # type: ignore[assignment]
            s = rt.new_session()
            ui = ScriptedInteraction(s.cancel, lambda sc: answers.get(sc.kind))
            t = time.perf_counter()
            result = rt.run_flow("ss_certificate", s, ui)
            dt = time.perf_counter() - t
            s.wipe()
            rt.backend = client
            if result.outcome != "completed":
                raise RuntimeError(f"flow did not complete: {result}")
            if i:
                samples.append(dt)
            base.append(_direct_calls_and_render(client, recorder, render_a4,
                                                 load_package(BUILTIN_DIR), BY_KEY["chen"]))
    finally:
        rt.close()
    return round(statistics.median(samples), 4), round(statistics.median(base[1:]), 4)


def _direct_calls_and_render(client: Any, recorder: _RecordingClient, render_a4: Any,
                             pkg: Any, citizen: Any) -> float:
    record = next((a for _, args, _, a in recorder.calls
                   if args and str(args[0]).endswith("/statement")), None)
    if record is None:
        raise RuntimeError("the flow made no statement call: the baseline has nothing to do")
    data = {"record": record, "identity": {"id_number": citizen.id_number, "name": citizen.name},
            "terminal": {"id": "BENCH"}, "now": {"date": "2026-01-01"}}
    t = time.perf_counter()
    for name, args, kwargs, _ in recorder.calls:
        getattr(client, name)(*args, **kwargs)
    render_a4(pkg.templates["ss_certificate_a4"], data, pkg.asset)
    return time.perf_counter() - t


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
        start_s, start_rss, start_base_s = cold_start(repeat)
        flow_s, flow_base_s = certificate_flow_s(repeat)
        return {
            "cold_start_s": start_s,
            "cold_start_s_baseline": start_base_s,
            "ui_start_rss_mb": start_rss,
            "certificate_flow_s": flow_s,
            "certificate_flow_s_baseline": flow_base_s,
            "pdf_render_s": pdf_render_s(repeat),
        }
