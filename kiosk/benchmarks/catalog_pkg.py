"""The ~300-service catalog package (flowpacks/gba, issue 17): build, activation, start.

catalog_pkg_build_s          `kiosk pack build`'s work on flowpacks/gba: the archive and
                             the check a terminal will make (schema, steps, templates)
catalog_pkg_activate_s       a terminal switching to a staged builtin + gba set: verify
                             every file's hash, load, validate (`activate_staged`)
catalog_cold_start_s         process start to the home screen painted, gba active
catalog_cold_start_s_baseline  the same with the built-in package alone, same run,
                             alternating (subprocesses)
catalog_cold_start_ratio     the two divided (goal <= 1.3)
catalog_start_rss_mb         peak RSS of that process at the home screen, gba active;
                             `_baseline` with the built-in package alone
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Start the kiosk, leave the attract screen as a citizen does, and report when the home
# screen (with its catalog) has been painted.
PROBE = r"""
import os, sys, time
t0 = float(sys.argv[1])
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from PySide6.QtCore import QSize, QTimer
from kiosk.config import load_config
from kiosk.runtime import Runtime
from kiosk.ui.app import build_window, ensure_app
from kiosk.ui.citizen import tap
app = ensure_app(headless=True)
rt = Runtime.create(load_config())
win = build_window(rt, QSize(1920, 1080))
win.show()
def report():
    import resource
    win.grab()  # the home screen painted, every tile of it
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"READY {time.time() - t0:.4f} {rss:.1f} {len(rt.package.flows)}", flush=True)
    app.quit()
def shown(name):
    if name == "attract":
        QTimer.singleShot(0, lambda: tap(win.attract.touch))
    elif name == "home":
        QTimer.singleShot(0, report)
win.screenShown.connect(shown)
app.exec()
"""


def _install_gba(data_dir: Path) -> None:
    """gba as the terminal's active set (kiosk.demo.demo_catalog does the same)."""
    from kiosk.config import Config
    from kiosk.demo import demo_catalog

    demo_catalog(Config().with_section("storage", data_dir=str(data_dir)))


def _start(data_dir: Path) -> tuple[float, float, int] | None:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", KIOSK_STORAGE_DATA_DIR=str(data_dir),
               KIOSK_BACKEND_URL="http://127.0.0.1:9")  # no platform: start-up only
    t0 = time.time()
    run = subprocess.run([sys.executable, "-c", PROBE, str(t0)], capture_output=True,
                         text=True, env=env, timeout=180, check=False)
    for line in run.stdout.splitlines():
        if line.startswith("READY"):
            _, s, rss, n = line.split()
            return float(s), float(rss), int(n)
    print(f"bench: catalog_pkg: start failed: {run.stderr[-400:]}", file=sys.stderr)
    return None


def _build_s(repeat: int) -> float:
    from flowpacks import GBA_DIR
    from kiosk.packages.ops import build

    samples = []
    with tempfile.TemporaryDirectory(prefix="kiosk-bench-gba-") as tmp:
        for _ in range(repeat):
            t = time.perf_counter()
            build(GBA_DIR, Path(tmp) / "gba.kpkg")
            samples.append(time.perf_counter() - t)
    return round(statistics.median(samples), 3)


def _activate_s(repeat: int) -> float:
    from flowpacks import BUILTIN_DIR, GBA_DIR
    from kiosk.packages.archive import build_archive
    from kiosk.packages.manager import PackageManager
    from kiosk.packages.store import entries_json

    samples = []
    with tempfile.TemporaryDirectory(prefix="kiosk-bench-gba-") as tmp:
        mgr = PackageManager(Path(tmp) / "packages", BUILTIN_DIR)
        mgr.load_active()
        entry = mgr.store.install(build_archive(GBA_DIR), "gba")
        for _ in range(repeat):
            state = mgr.store.read_state()
            state["active"], state["previous"], state["staged"] = None, None, \
                entries_json([entry])
            mgr.store.write_state(state)
            t = time.perf_counter()
            pkg = mgr.activate_staged()
            samples.append(time.perf_counter() - t)
            assert pkg is not None and "gba" in pkg.versions
    return round(statistics.median(samples), 3)


def measure(repeat: int) -> dict[str, float]:
    repeat = max(1, min(repeat, 5))
    out: dict[str, float] = {"catalog_pkg_build_s": _build_s(min(repeat, 3)),
                             "catalog_pkg_activate_s": _activate_s(repeat)}
    with tempfile.TemporaryDirectory(prefix="kiosk-bench-start-") as tmp:
        big, small = Path(tmp) / "gba", Path(tmp) / "builtin"
        _install_gba(big)
        starts: dict[Path, list[tuple[float, float, int]]] = {big: [], small: []}
        for _ in range(repeat):
            for data_dir in (big, small):  # alternately: the same machine load for both
                got = _start(data_dir)
                if got is not None:
                    starts[data_dir].append(got)
    if starts[big] and starts[small]:
        s_big = statistics.median(s for s, _, _ in starts[big])
        s_small = statistics.median(s for s, _, _ in starts[small])
        out.update({
            "catalog_cold_start_s": round(s_big, 3),
            "catalog_cold_start_s_baseline": round(s_small, 3),
            "catalog_cold_start_ratio": round(s_big / s_small, 3),
            "catalog_start_rss_mb": round(max(r for _, r, _ in starts[big]), 1),
            "catalog_start_rss_mb_baseline": round(max(r for _, r, _ in starts[small]), 1),
            "catalog_start_services": float(starts[big][0][2]),
            "catalog_start_services_baseline": float(starts[small][0][2]),
        })
    return out
