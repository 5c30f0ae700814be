"""Longest stall of the Qt event loop while a whole flow runs through the real widgets.

`ui_max_stall_ms`: the worst gap between 2 ms timer ticks while a scripted citizen runs
the certificate flow (devices and the platform working on worker threads).
`ui_max_stall_ms_baseline`: the same probe in the same process, right after the flow,
on the idle event loop (home screen up, nothing to do) for as long as the flow took:
what the machine's scheduling alone costs at that moment.
"""

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
started = time.perf_counter()
def finished(ok):
    done.update(ok=ok, flow=list(gaps), seconds=time.perf_counter() - started)
    gaps.clear()
    last[0] = time.perf_counter()
    QTimer.singleShot(max(200, int(done["seconds"] * 1000)), app.quit)  # idle, as long
citizen = ScriptedCitizen(win, "ss_certificate", None, finished, delay_ms=20)
win.screenShown.emit(win.current_screen)
app.exec()
rt.close()
flow = done.get("flow") or [-0.001]
print("STALL", max(flow) * 1000, done.get("ok"), max(gaps[1:] or [-0.001]) * 1000)
"""


def measure(repeat: int) -> dict[str, float]:
    """`ui_max_stall_ms` and its idle baseline, medians over up to 3 fresh processes."""
    samples, idle = [], []
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    for _ in range(max(1, min(repeat, 3))):
        out = subprocess.run([sys.executable, "-c", PROBE], check=False, capture_output=True,
                             text=True, env=env, timeout=180)
        for line in out.stdout.splitlines():
            parts = line.split()
            if parts[:1] == ["STALL"] and parts[2] == "True":
                samples.append(float(parts[1]))
                idle.append(float(parts[3]))
    nan = float("nan")
    return {"ui_max_stall_ms": round(statistics.median(samples), 1) if samples else nan,
            "ui_max_stall_ms_baseline": round(statistics.median(idle), 1) if idle else nan}
