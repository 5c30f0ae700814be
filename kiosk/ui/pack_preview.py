"""`kiosk pack preview DIR --out OUT`: every screen of every flow of a package source
folder, and every document it prints, as PNGs with an HTML index.

The package is installed into a throw-away package store the way a terminal installs one
(built into an archive, unpacked, verified, composed on top of the built-in package), so
the preview shows what a terminal would show. Then, like `kiosk gallery`, a scripted
citizen walks each flow through the real widgets against the reference backend on
127.0.0.1, in each language, mode and orientation; the documents it prints on the
simulated printers (the A4 PDF, the receipt's ESC/POS bytes) are rendered to PNG too.
"""

from __future__ import annotations

import html
import json
import logging
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import shiboken6
from PySide6.QtCore import QSize, QTimer

from kiosk.backend.client import BackendClient
from kiosk.backend.embedded import EmbeddedBackend
from kiosk.config import Config
from kiosk.runtime import Runtime
from kiosk.ui.app import ensure_app
from kiosk.ui.citizen import DEFAULT_SCRIPT, ScriptedCitizen
from kiosk.ui.citizen_scripts import script_for
from kiosk.ui.gallery import LOCALES, MODES, SIZES, gallery_config, reference_platforms
from kiosk.ui.layout_check import layout_problems
from kiosk.ui.main_window import MainWindow

log = logging.getLogger(__name__)

# What the citizen taps on the generic shapes' screens (kiosk.packages.authoring).
SHAPE_SCRIPT: dict[str, list[object]] = {
    "show.info": ["action-done"],
    "guide.info": [["option-section:steps"], ["option-section:where"], ["action-print"]],
}


@dataclass
class PreviewReport:
    runs: int = 0
    screens: int = 0
    documents: int = 0
    failed_runs: list[str] = field(default_factory=list)
    problems: dict[str, list[str]] = field(default_factory=dict)
    pages: dict[str, list[tuple[str, list[str]]]] = field(default_factory=dict)
    docs: dict[str, list[str]] = field(default_factory=dict)


def install_for_preview(src: Path, data_dir: Path) -> str:
    """Install the package at `src` as a terminal would (the built-in package below it);
    return its id. The built-in package itself is previewed as the built-in one."""
    from flowpacks import BUILTIN_DIR
    from kiosk.packages.archive import build_archive
    from kiosk.packages.manager import PackageManager
    from kiosk.packages.store import entries_json

    mgr = PackageManager(data_dir / "packages", BUILTIN_DIR)
    data = build_archive(src)
    entry = mgr.store.install(data, src.name)
    if entry.id == "builtin":
        return "builtin"
    state = mgr.store.read_state()
    state["active"] = entries_json([entry])
    mgr.store.write_state(state)
    mgr.load_set([entry])  # refuse here, with the reason, what a terminal would refuse
    return entry.id


def _size(text: str) -> tuple[int, int]:
    w, _, h = text.partition("x")
    return int(w), int(h)


def preview(base: Config, src: Path, out: Path, flows: list[str] | None = None,
            locales: list[str] | None = None, modes: list[str] | None = None,
            sizes: list[str] | None = None, timeout_s: float = 60.0) -> PreviewReport:
    app = ensure_app(headless=True)
    report = PreviewReport()
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="kiosk-preview-") as tmp:
        data_dir = Path(tmp)
        pkg_id = install_for_preview(Path(src), data_dir)
        spool = data_dir / "spool"
        cfg = gallery_config(base, spool).with_section("storage", data_dir=str(data_dir))
        if pkg_id == "builtin":
            cfg = cfg.with_section("packages", builtin_dir=str(Path(src).resolve()))
        try:
            with reference_platforms(cfg) as (backend, city):
                probe = Runtime.create(cfg)
                cfg = city.serve(cfg, probe.package.platforms, data_dir / "city.secret")
                own = [fid for fid, origin in probe.package.flow_origin.items()
                       if origin.startswith(f"{pkg_id}@")] if probe.package.layers else \
                    list(probe.package.flows)
                probe.close()
                unknown = [f for f in flows or [] if f not in own]
                if unknown:
                    raise ValueError(f"not flows of {src}: {', '.join(unknown)}")
                for flow_id in flows or own:
                    _preview_flow(app, cfg, backend, flow_id, out, spool, report,
                                  locales or list(LOCALES), modes or list(MODES),
                                  [_size(s) for s in sizes] if sizes else list(SIZES), timeout_s)
        finally:
            write_index(out, report)  # what was rendered, even when a run broke off
    return report


def _preview_flow(app: object, cfg: Config, backend: EmbeddedBackend, flow_id: str, out: Path,
                  spool: Path, report: PreviewReport, locales: list[str], modes: list[str],
                  sizes: list[tuple[int, int]], timeout_s: float) -> None:
    report.pages[flow_id] = []
    for w, h in sizes:
        for mode in modes:
            for locale in locales:
                tag = f"{locale}-{mode}-{w}x{h}"
                shots = out / flow_id / tag
                shutil.rmtree(spool, ignore_errors=True)
                try:
                    ok = _run(app, cfg, backend, flow_id, shots, locale, mode, (w, h), report,
                              timeout_s)
                except Exception as exc:  # one run's failure must not lose the others
                    log.exception("preview run %s/%s failed", flow_id, tag)
                    report.problems[f"{flow_id}/{tag}"] = [f"run failed: {exc}"]
                    ok = False
                report.runs += 1
                if not ok:
                    report.failed_runs.append(f"{flow_id}/{tag}")
                pngs = sorted(p.relative_to(out).as_posix() for p in shots.glob("*.png"))
                report.pages[flow_id].append((tag, pngs))
                if flow_id not in report.docs:  # the documents do not change with the UI
                    report.docs[flow_id] = _documents(spool, out / flow_id / "documents", out)
                    report.documents += len(report.docs[flow_id])


def _run(app: object, cfg: Config, backend: EmbeddedBackend, flow_id: str, shots: Path,
         locale: str, mode: str, size: tuple[int, int], report: PreviewReport,
         timeout_s: float) -> bool:
    w, h = size
    rt = Runtime.create(cfg)
    rt.open_devices()
    rt.backend = BackendClient(backend.url, cfg.terminal.id, backend.secret)
    rt.backend_ready.set()
    rt.start_platforms()
    win = MainWindow(rt, QSize(w, h))
    win.resize(w, h)
    win.show()
    result: dict[str, bool] = {}

    def inspect(win: MainWindow, name: str) -> None:
        if name.endswith(".preview"):
            wait_for_pages(win)  # the screenshot shows the document, not a blank page
        if shiboken6.isValid(win):
            found = layout_problems(win)
            if found:
                report.problems[f"{flow_id}/{locale}-{mode}-{w}x{h}/{name}"] = found

    def done(ok: bool) -> None:
        result["ok"] = ok
        app.quit()  # type: ignore[attr-defined]

    script = {**script_for(flow_id, DEFAULT_SCRIPT), **SHAPE_SCRIPT}
    citizen = ScriptedCitizen(win, flow_id, shots, done, script=script, delay_ms=40,
                              inspect=inspect, locale=locale, elder=(mode == "elder"))
    QTimer.singleShot(0, lambda: win.screenShown.emit(win.current_screen))
    watchdog = QTimer()
    watchdog.setSingleShot(True)
    watchdog.timeout.connect(lambda: done(False))
    watchdog.start(int(timeout_s * 1000))
    app.exec()  # type: ignore[attr-defined]
    watchdog.stop()
    report.screens += len(citizen.seen)
    win.close()
    win.deleteLater()
    rt.close()
    app.processEvents()  # type: ignore[attr-defined]
    return result.get("ok", False)


def wait_for_pages(win: MainWindow, timeout_s: float = 10.0) -> None:
    """Let the document views draw their page (rendered on a worker thread)."""
    from PySide6.QtWidgets import QApplication

    from kiosk.ui.document_view import DocumentView

    views = [v for v in win.findChildren(DocumentView) if v.isVisible()]
    until = time.monotonic() + timeout_s
    while any(v.image.pix.isNull() for v in views) and time.monotonic() < until:
        QApplication.processEvents()
        time.sleep(0.01)


def _documents(spool: Path, dst: Path, out: Path) -> list[str]:
    """The run's printed documents as PNGs: A4 pages (poppler) and receipts (the ESC/POS
    decoder's picture of the paper)."""
    from emulators.escpos_decoder import decode
    from emulators.escpos_render import render_png

    dst.mkdir(parents=True, exist_ok=True)
    made: list[Path] = []
    for i, pdf in enumerate(sorted((spool / "a4").glob("*.pdf"))):
        shutil.copy(pdf, dst / f"a4-{i + 1}.pdf")
        prefix = dst / f"a4-{i + 1}"
        subprocess.run(["pdftoppm", "-png", "-r", "60", str(pdf), str(prefix)], check=True,
                       capture_output=True, timeout=60)
        made += sorted(dst.glob(f"a4-{i + 1}-*.png"))
    for i, raw in enumerate(sorted((spool / "receipt").glob("*.bin"))):
        made.append(render_png(decode(raw.read_bytes()).events, dst / f"receipt-{i + 1}.png"))
    return [p.relative_to(out).as_posix() for p in made]


def write_index(out: Path, report: PreviewReport) -> Path:
    """index.html: per flow, each configuration's screens in order, then its documents."""
    parts = ["<!doctype html><html lang='zh-CN'><meta charset='utf-8'>",
             ("<title>Package preview</title><style>body{font-family:sans-serif}"
             "img{width:240px;margin:2px;border:1px solid #ccc}h2{margin-top:2em}"
             ".bad{color:#b00}</style><body>"),
             (f"<h1>Package preview</h1><p>{report.runs} runs, {report.screens} screens, "
             f"{report.documents} documents</p>")]
    if report.failed_runs:
        parts.append("<p class='bad'>did not complete: "
                     + ", ".join(html.escape(t) for t in report.failed_runs) + "</p>")
    parts.append("<ul>" + "".join(f"<li><a href='#{html.escape(f)}'>{html.escape(f)}</a></li>"
                                  for f in report.pages) + "</ul>")
    for flow_id, runs in report.pages.items():
        parts.append(f"<h2 id='{html.escape(flow_id)}'>{html.escape(flow_id)}</h2>")
        for tag, pngs in runs:
            parts.append(f"<h3>{html.escape(tag)}</h3><div>" + "".join(
                f"<a href='{html.escape(p)}'><img src='{html.escape(p)}' "
                f"title='{html.escape(Path(p).name)}'></a>" for p in pngs) + "</div>")
        docs = report.docs.get(flow_id, [])
        if docs:
            parts.append("<h3>documents</h3><div>" + "".join(
                f"<a href='{html.escape(p)}'><img src='{html.escape(p)}'></a>" for p in docs)
                + "</div>")
    if report.problems:
        parts.append("<h2>layout problems</h2><pre>" + html.escape(json.dumps(
            report.problems, ensure_ascii=False, indent=1)) + "</pre>")
    path = out / "index.html"
    path.write_text("\n".join(parts) + "</body></html>\n", "utf-8")
    return path
