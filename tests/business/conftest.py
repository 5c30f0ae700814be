"""Business flows end to end: real widgets, a scripted citizen, the reference backend."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from PySide6.QtCore import QSize
from PySide6.QtWidgets import QAbstractButton, QLabel

from emulators.escpos_decoder import decode
from kiosk.flows.screens import Screen
from kiosk.ui.citizen import DEFAULT_SCRIPT, ScriptedCitizen
from kiosk.ui.citizen_scripts import script_for
from kiosk.ui.main_window import MainWindow


def all_texts(win: MainWindow) -> str:
    parts = [w.text() for w in win.findChildren(QLabel) if w.isVisible()]
    parts += [w.text() for w in win.findChildren(QAbstractButton) if w.isVisible()]
    return "\n".join(parts)


@dataclass
class Visit:
    """What the citizen went through: screen names, the descriptors and texts shown.

    Holds no Qt object: a Python reference cycle through a widget would be collected
    later on whatever thread happens to run the garbage collector (a crash in Qt).
    """

    ok: bool = False
    screens: list[tuple[str, Screen | None, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return [n for n, _, _ in self.screens]

    def shown(self, suffix: str) -> list[tuple[Screen | None, str]]:
        return [(s, t) for n, s, t in self.screens if n.endswith(suffix)]

    def texts(self) -> str:
        return "\n".join(t for _, _, t in self.screens)


@pytest.fixture
def business_runtime(make_runtime):  # type: ignore[no-untyped-def]
    """A runtime on simulated devices (camera off: no flow here uses it)."""

    def make(**devices: str) -> Any:
        devices.setdefault("camera", "")
        return make_runtime(**devices)

    return make


def _collect_on_gui_thread() -> None:
    import gc

    from PySide6.QtCore import QCoreApplication, QEvent

    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    QCoreApplication.processEvents()
    gc.collect()


@pytest.fixture(autouse=True)
def _qt_garbage_dies_on_the_gui_thread() -> Any:
    """The cyclic garbage collector runs only here, on the GUI thread.

    Left automatic, it runs on whichever thread allocates at that moment — often a
    flow thread rendering a PDF — and traverses Qt wrappers while the GUI thread
    changes them (an occasional segfault). Teardown runs last, after the runtimes
    that still referenced the windows are closed.
    """
    import gc

    was_enabled = gc.isenabled()  # the app's gc_guard keeps it off for good
    _collect_on_gui_thread()
    gc.disable()
    try:
        yield
    finally:
        _collect_on_gui_thread()
        from kiosk.ui import gc_guard

        if was_enabled and gc_guard._guard is None:  # a window installed the guard: stay off
            gc.enable()


@pytest.fixture
def make_window(qtbot):  # type: ignore[no-untyped-def]
    """Kiosk windows that are deleted on the GUI thread when the test ends.

    A window's Python wrapper left for the garbage collector could be collected on a
    flow thread of a later test, and a Qt object destroyed off the GUI thread crashes.
    """
    made: list[MainWindow] = []

    def make(rt: Any, size: tuple[int, int] = (1920, 1080)) -> MainWindow:
        win = MainWindow(rt, QSize(*size))
        win.resize(*size)
        win.show()
        made.append(win)
        return win

    yield make
    for win in made:
        win.close()
        win.deleteLater()
    made.clear()
    _collect_on_gui_thread()


@pytest.fixture
def drive(qtbot, make_window):  # type: ignore[no-untyped-def]
    """Run a flow through the real MainWindow with a scripted citizen; return the Visit."""

    def run(rt: Any, flow_id: str, *, script: dict[str, Any] | None = None,
            size: tuple[int, int] = (1920, 1080),
            inspect: Callable[[MainWindow, str], None] | None = None,
            timeout_ms: int = 60000, elder: bool = False) -> Visit:
        win = make_window(rt, size)
        result: dict[str, bool] = {}
        visit = Visit()

        def look(w: MainWindow, name: str) -> None:
            visit.screens.append((name, w.flow_view.step_screen, all_texts(w)))
            if inspect is not None:
                inspect(w, name)

        full = {**script_for(flow_id, DEFAULT_SCRIPT), **(script or {})}
        citizen = ScriptedCitizen(win, flow_id, None, lambda ok: result.update(ok=ok),
                                  script=full, delay_ms=30, inspect=look, elder=elder)
        win.screenShown.emit(win.current_screen)
        qtbot.waitUntil(lambda: "ok" in result, timeout=timeout_ms)
        visit.ok = result["ok"]
        visit.errors = list(citizen.errors)
        return visit

    return run


class Admin:
    """The reference backend's admin endpoints (fault injection, state)."""

    def __init__(self, backend: Any) -> None:
        self.url = backend.url
        self.headers = {"X-Admin-Token": backend.admin_token}

    def fault(self, prefix: str, mode: str = "status", *, status: int = 503,
              stall_s: float = 3.0, count: int = 1) -> None:
        r = requests.post(f"{self.url}/_admin/services/faults", headers=self.headers, timeout=5,
                          json={"prefix": prefix, "mode": mode, "status": status,
                                "stall_s": stall_s, "count": count})
        r.raise_for_status()

    def clear(self) -> None:
        requests.delete(f"{self.url}/_admin/services/faults", headers=self.headers,
                        timeout=5).raise_for_status()

    def services(self) -> dict[str, Any]:
        r = requests.get(f"{self.url}/_admin/services/state", headers=self.headers, timeout=5)
        r.raise_for_status()
        return r.json()  # type: ignore[no-any-return]

    def platform(self) -> dict[str, Any]:
        r = requests.get(f"{self.url}/_admin/state", headers=self.headers, timeout=5)
        r.raise_for_status()
        return r.json()  # type: ignore[no-any-return]


@pytest.fixture
def admin(backend):  # type: ignore[no-untyped-def]
    a = Admin(backend)
    a.clear()
    yield a
    a.clear()


def receipt_texts(rt: Any) -> list[str]:
    return [decode(job).render_text() for job in rt.devices["receipt"].jobs]


needs_poppler = pytest.mark.skipif(shutil.which("pdftotext") is None,
                                   reason="poppler-utils missing")


def pdf_pages(pdf: bytes, tmp_path: Path, name: str = "doc") -> list[str]:
    """The text of every page (pdftotext -layout), in order."""
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(pdf)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True,
                          check=True).stdout
    pages = int(next(line.split()[-1] for line in info.splitlines()
                     if line.startswith("Pages:")))
    return [subprocess.run(["pdftotext", "-f", str(n), "-l", str(n), "-layout", str(path), "-"],
                           capture_output=True, text=True, check=True).stdout
            for n in range(1, pages + 1)]


def flat(text: str) -> str:
    return "".join(text.split())


def render_pages(pdf: bytes, tmp_path: Path, name: str = "doc") -> list[Path]:
    """Render every page to PNG (pdftoppm) — to look at, and to check ink is on the page."""
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "50", "-png", str(path), str(tmp_path / name)],
                   check=True)
    return sorted(tmp_path.glob(f"{name}-*.png"))


def ink_ratio(png: Path) -> float:
    """Share of clearly non-white pixels on a rendered page."""
    from PIL import Image

    img = Image.open(png).convert("L")
    hist = img.histogram()
    dark = sum(hist[:200])
    return dark / (img.width * img.height)
