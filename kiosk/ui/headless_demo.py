"""The headless demo: a scripted citizen drives the real widgets offscreen."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from functools import partial
from pathlib import Path

from PySide6.QtCore import QSize, QTimer

from emulators.escpos_decoder import decode
from emulators.escpos_render import render_png
from kiosk.config import Config
from kiosk.runtime import Runtime
from kiosk.ui.app import build_window, ensure_app
from kiosk.ui.citizen import DEFAULT_SCRIPT, ScriptedCitizen
from kiosk.ui.citizen_scripts import FLOW_SCRIPTS, script_for
from kiosk.ui.main_window import MainWindow
from kiosk.ui.pack_preview import SHAPE_SCRIPT, wait_for_pages


def _pages_drawn(win: MainWindow, name: str) -> None:
    """The preview's screenshot shows the document (its page is drawn on a worker thread)."""
    if name.endswith(".preview"):
        wait_for_pages(win)


def _carry_on(win: MainWindow, _stage: str = "") -> None:
    """The assisted visit got stuck (no agent came): end any call, go on without help."""
    from kiosk.ui.citizen import find_button, tap

    if win.assist is not None and win.assist.call is not None:
        win.assist.call.hang_up("citizen")
    button = find_button(win.flow_view, "action-confirm")
    if button is not None:
        tap(button)


def run_headless_demo(demo_config: Callable[[Config, Path | None], Config], base: Config,
                      out: Path, flow_id: str, sizes: list[tuple[int, int]],
                      timeout_s: float, catalog: Callable[[Config], object] | None = None,
                      assisted: bool = False) -> int:
    """Run the scripted citizen through `flow_id` at each size; write screens and prints.

    `assisted` (the certificate flow, with `[assist] centre_url` set and a hall agent on
    duty there — scripts/demo starts one in Chromium): at the period step the citizen calls
    for help, and confirms the period the agent proposes (kiosk.ui.assist.demo)."""

    out.mkdir(parents=True, exist_ok=True)
    app = ensure_app(headless=True)
    ok_all = True
    for w, h in sizes:
        tag = f"{w}x{h}"
        spool = out / ".spool" / tag
        shutil.rmtree(spool, ignore_errors=True)
        cfg = demo_config(base, spool)
        if catalog is not None:
            catalog(cfg)  # the ~300-service catalog (kiosk.demo.demo_catalog)
        runtime = Runtime.create(cfg)
        if flow_id not in runtime.package.flows:
            print(f"unknown flow {flow_id!r}; known: {', '.join(runtime.package.flows)}")
            return 2
        runtime.open_devices()
        runtime.start_backend(wait=True)
        heartbeat = None
        if cfg.fleet.broker_url:  # the demo fleet (scripts/demo): this terminal reports too
            from kiosk.heartbeat import Heartbeat

            heartbeat = Heartbeat(runtime).start()
        win = build_window(runtime, QSize(w, h), voice_dir=out / "voice" / tag)
        win.resize(w, h)
        win.show()
        result: dict[str, bool] = {}

        def done(ok: bool, result: dict[str, bool] = result) -> None:
            result["ok"] = ok
            app.quit()

        shots = out / "screens" / tag if len(sizes) > 1 else out / "screens"
        script = None if flow_id in FLOW_SCRIPTS else \
            {**script_for(flow_id, DEFAULT_SCRIPT), **SHAPE_SCRIPT}  # a generated service
        visit = None
        if assisted and win.assist is not None and flow_id == "ss_certificate":
            from kiosk.ui.assist.demo import ASSIST_STEP, AssistedVisit

            step = ASSIST_STEP.removeprefix(f"{flow_id}.")
            script = {**script_for(flow_id, DEFAULT_SCRIPT), step: []}  # the visit taps there
            visit = AssistedVisit(win, shots, on_failed=partial(_carry_on, win))
        citizen = ScriptedCitizen(win, flow_id, shots, done, script=script,
                                  inspect=_pages_drawn)
        watchdog = QTimer()  # per size: must not end the next size's run
        watchdog.setSingleShot(True)
        watchdog.timeout.connect(lambda: done(False))
        watchdog.start(int((timeout_s + (300 if visit else 0)) * 1000))
        app.exec()
        watchdog.stop()
        ok = result.get("ok", False)
        ok_all &= ok
        prefix = "" if len(sizes) == 1 else f"{tag}-"
        pdfs = sorted((spool / "a4").glob("*.pdf"))
        receipts = sorted((spool / "receipt").glob("*.bin"))
        if pdfs:
            shutil.copy(pdfs[-1], out / f"{prefix}certificate.pdf")
        if receipts:
            data = receipts[-1].read_bytes()
            (out / f"{prefix}receipt.escpos").write_bytes(data)
            decoded = decode(data)
            (out / f"{prefix}receipt.txt").write_text(decoded.render_text(), encoding="utf-8")
            render_png(decoded.events, out / f"{prefix}receipt.png")
        if visit is not None:
            media = f", help to media {visit.media_s} s" if visit.media_s is not None else ""
            print(f"[{tag}] remote help: {visit.result or 'not reached'}{media}")
            ok_all &= visit.result == "done"
        print(f"[{tag}] {'completed' if ok else 'FAILED'}: {len(citizen.seen)} screens, "
              f"{len(pdfs)} A4 job(s), {len(receipts)} receipt(s)"
              + (f"; errors: {citizen.errors}" if citizen.errors else ""))
        win.close()
        win.deleteLater()
        if heartbeat is not None:
            heartbeat.beat()  # the visit's last health, then a goodbye (retained offline)
            heartbeat.stop()
        runtime.close()
        shutil.rmtree(out / ".spool", ignore_errors=True)
    print(f"demo output in {out.resolve()}")
    return 0 if ok_all else 1
