"""Longest stall of the Qt event loop while a whole flow runs through the real widgets."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys

PROBE = r"""
import os, sys, time, tempfile
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from PySide6.QtCore import QSize, QTimer
from kiosk.config import Config
from kiosk.runtime import Runtime
from kiosk.ui.app import build_window, ensure_app
from kiosk.ui.citizen import ScriptedCitizen
app = ensure_app(headless=True)
cfg = Config().with_section("devices", idcard="sim://?card=chen", a4="sim://", receipt="sim://")
rt = Runtime.create(cfg); rt.open_devices(); rt.start_backend(wait=True)
win = build_window(rt, QSize(1920, 1080)); win.show()
gaps = []
last = [time.perf_counter()]
def tick():
    now = time.perf_counter(); gaps.append(now - last[0]); last[0] = now
timer = QTimer(); timer.setInterval(2); timer.timeout.connect(tick); timer.start()
done = {}
citizen = ScriptedCitizen(win, "ss_certificate", None, lambda ok: (done.update(ok=ok), app.quit()),
                          delay_ms=20)
win.screenShown.emit(win.current_screen)
app.exec()
rt.close()
print("STALL", max(gaps) * 1000 if gaps else -1, done.get("ok"))
"""


def measure(repeat: int) -> dict[str, float]:
    """`ui_max_stall_ms`: worst gap between 2 ms timer ticks during a certificate flow."""
    samples = []
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    for _ in range(max(1, min(repeat, 3))):
        out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                             env=env, timeout=180)
        for line in out.stdout.splitlines():
            if line.startswith("STALL") and line.split()[2] == "True":
                samples.append(float(line.split()[1]))
    return {"ui_max_stall_ms": round(statistics.median(samples), 1) if samples else float("nan")}
