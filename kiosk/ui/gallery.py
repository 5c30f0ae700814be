"""Render every screen of every flow in each mode and language, and check the layouts.

A scripted citizen walks each flow through the real widgets (simulated devices,
reference backend) at each panel size; every screen it passes is saved as a PNG and
checked by `layout_check` (no clipped or elided text, nothing off screen).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import shiboken6
from PySide6.QtCore import QSize, QTimer
from PySide6.QtWidgets import QApplication

from kiosk.backend.client import BackendClient
from kiosk.backend.embedded import EmbeddedBackend, EmbeddedCity
from kiosk.config import Config
from kiosk.documents.verify import seal_dir
from kiosk.runtime import Runtime
from kiosk.ui.app import ensure_app
from kiosk.ui.assist.tour import assist_tour
from kiosk.ui.citizen import ScriptedCitizen
from kiosk.ui.layout_check import layout_problems
from kiosk.ui.main_window import MainWindow

SIZES = ((1920, 1080), (1080, 1920))
MODES = ("standard", "elder")
LOCALES = ("zh_CN", "zh_HK", "en")


@dataclass
class GalleryReport:
    screens: int = 0
    runs: int = 0
    failed_runs: list[str] = field(default_factory=list)
    problems: dict[str, list[str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems and not self.failed_runs


def gallery_config(base: Config, spool: Path) -> Config:
    return base.with_section(
        "devices", idcard="sim://?card=chen&delay_ms=300", sscard="sim://",
        a4=f"sim://?spool={spool / 'a4'}", receipt=f"sim://?spool={spool / 'receipt'}",
    ).with_section("session", idle_timeout_s=600, countdown_s=10).with_section(
        # the help button on every screen, and the call's screens (no centre is called)
        "assist", centre_url="ws://127.0.0.1:9")


@contextmanager
def reference_platforms(cfg: Config) -> Iterator[tuple[EmbeddedBackend, EmbeddedCity]]:
    """The reference backend and a reference city platform (the zones' platform, issue 17)
    for runtimes wired by hand (gallery, pack preview), stopped on leaving. Like the
    terminal's embedded platform, the backend keeps its e-seals where the runtime's
    trusted root points, so certificates are sealed and verified before they print."""
    backend = EmbeddedBackend(cfg.terminal.id,
                              extra_args=["--seal-dir", str(seal_dir(cfg))]).start()
    city = EmbeddedCity(cfg.terminal.id).start()
    try:
        if not backend.wait_ready(30) or not city.wait_ready(30):
            raise RuntimeError("reference backend did not start")
        yield backend, city
    finally:
        backend.stop()
        city.stop()


def run_gallery(base: Config, out: Path | None, flows: list[str] | None = None,
                sizes: tuple[tuple[int, int], ...] = SIZES, modes: tuple[str, ...] = MODES,
                locales: tuple[str, ...] = LOCALES, timeout_s: float = 60.0) -> GalleryReport:
    app = ensure_app(headless=True)
    report = GalleryReport()
    spool = (out or Path("/tmp")) / ".gallery-spool"
    cfg = gallery_config(base, spool)
    with reference_platforms(cfg) as (backend, city):
        probe = Runtime.create(cfg)
        flow_ids = flows or [f.id for f in probe.package.catalog()]
        for flow_id in flow_ids:
            for w, h in sizes:
                for mode in modes:
                    for locale in locales:
                        tag = f"{flow_id}/{locale}-{mode}-{w}x{h}"
                        rt = Runtime.create(cfg)
                        rt.open_devices()
                        rt.backend = BackendClient(backend.url, cfg.terminal.id, backend.secret)
                        rt.backend_ready.set()
                        for platform in rt.package.platforms:
                            rt.attach_city(platform, city)
                        win = MainWindow(rt, QSize(w, h))
                        win.resize(w, h)
                        win.show()
                        result: dict[str, bool] = {}
                        seen_countdown: list[str] = []

                        def inspect(win: MainWindow, name: str, tag: str = tag, w: int = w,
                                    h: int = h, seen_countdown: list[str] = seen_countdown
                                    ) -> None:
                            if not shiboken6.isValid(win):
                                return  # the run timed out and its window is gone
                            found = layout_problems(win)
                            if (win.width(), win.height()) != (w, h):
                                found.append(f"window is {win.width()}x{win.height()}")
                            if found:
                                report.problems[f"{tag}/{name}"] = found
                            if name.count(".") == 2 and not seen_countdown:
                                # The idle countdown over the first step screen.
                                seen_countdown.append(name)
                                win._on_countdown(9)
                                over = layout_problems(win)
                                if out is not None:
                                    (out / tag).mkdir(parents=True, exist_ok=True)
                                    win.grab().save(str(out / tag / "00-countdown.png"))
                                win._hide_overlay()
                                if over:
                                    report.problems[f"{tag}/{name}+countdown"] = over

                        def done(ok: bool, result: dict[str, bool] = result) -> None:
                            result["ok"] = ok
                            app.quit()

                        shots = out / tag if out else None
                        citizen = ScriptedCitizen(win, flow_id, shots, done, delay_ms=40,
                                                  inspect=inspect, locale=locale,
                                                  elder=(mode == "elder"))
                        QTimer.singleShot(0, lambda win=win: win.screenShown.emit(
                            win.current_screen))
                        watchdog = QTimer()  # per run, stopped after it: a stale
                        watchdog.setSingleShot(True)  # timer must not end a later run
                        watchdog.timeout.connect(lambda: done(False))
                        watchdog.start(int(timeout_s * 1000))
                        app.exec()
                        watchdog.stop()
                        report.runs += 1
                        report.screens += len(citizen.seen)
                        if not result.get("ok"):
                            report.failed_runs.append(tag)
                        win.close()
                        win.deleteLater()
                        rt.close()
                        app.processEvents()
        if not flows:  # the catalog's own pages (issue 17), once per size, mode, language
            for w, h in sizes:
                for mode in modes:
                    for locale in locales:
                        rt = Runtime.create(cfg)
                        rt.open_devices()
                        rt.backend = BackendClient(backend.url, cfg.terminal.id, backend.secret)
                        rt.backend_ready.set()
                        _catalog_tour(rt, QSize(w, h), locale, mode == "elder", report,
                                      out / f"catalog/{locale}-{mode}-{w}x{h}" if out else None)
                        rt.close()
                        app.processEvents()
        probe.close()
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "report.json").write_text(json.dumps(
            {"runs": report.runs, "screens": report.screens, "failed_runs": report.failed_runs,
             "problems": report.problems}, ensure_ascii=False, indent=1), encoding="utf-8")
    return report


def _catalog_tour(rt: Runtime, size: QSize, locale: str, elder: bool, report: GalleryReport,
                  shots: Path | None) -> None:
    """Home, the biggest category (and its next page), each zone (and a category of a big
    one), search with results and with none — reached by touching the widgets."""
    from kiosk.ui.citizen import tap

    win = MainWindow(rt, size)
    win.resize(size)
    win.show()
    tap(win.attract.touch)
    win.set_locale(locale)
    win.set_elder(elder)
    tag = f"catalog/{locale}-{'elder' if elder else 'standard'}-{size.width()}x{size.height()}"
    home, n = win.home, 0

    def look(name: str) -> None:
        nonlocal n
        n += 1
        report.screens += 1
        found = layout_problems(win)
        if (win.width(), win.height()) != (size.width(), size.height()):
            found.append(f"window is {win.width()}x{win.height()}")
        if found:
            report.problems[f"{tag}/{name}"] = found
        if shots is not None:
            shots.mkdir(parents=True, exist_ok=True)
            win.grab().save(str(shots / f"{n:02d}-{name}.png"))

    def card(gid: str) -> None:
        grid = home.grids["categories"]
        while gid not in grid.cards and grid.next.isEnabled():
            tap(grid.next)
        tap(grid.cards[gid])

    look("home")
    biggest = max(home.catalog.categories, key=lambda g: len(g.flows), default=None)
    if biggest is not None:
        card(biggest.id)
        look("category")
        if home.grids["services"].pages > 1:
            tap(home.grids["services"].next)
            look("category-2")
        tap(home.back)  # type: ignore[arg-type]
    for zone in list(home.catalog.zones):
        card(zone.id)
        look(f"zone-{zone.id}")
        if "categories" in home.grids:  # a big zone: its categories first
            tap(next(iter(home.grids["categories"].cards.values())))
            look(f"zone-{zone.id}-category")
            tap(home.back)  # type: ignore[arg-type]
        tap(home.back)  # type: ignore[arg-type]
    tap(home.search_field)  # type: ignore[arg-type]
    keyboard = home.keyboard
    assert keyboard is not None
    for letters, name in (("SBZM" if locale != "en" else "FUND", "search"),
                          ("QQQQ", "search-none")):
        for key in letters:
            keyboard.press(key)
        deadline = time.monotonic() + 30  # the search thread's answer (its index at first)
        while home.answered != home.query() and time.monotonic() < deadline:
            QApplication.processEvents()
            time.sleep(0.01)
        look(name)
    assist_tour(win, look)  # the screens of a help call (kiosk/ui/assist)
    report.runs += 1
    win.close()
    win.deleteLater()


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
