"""`kiosk demo`: the kiosk on embedded defaults (simulated devices, reference backend).

With a display it opens the full-screen kiosk. Without one (or with `--headless`) a
scripted citizen goes through a flow using the real widgets and leaves, in OUT:
a screenshot of every screen it passed, the printed A4 PDF, and the receipt (ESC/POS
bytes plus a readable text rendering).
"""

from __future__ import annotations

import logging
import shutil
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
    from PySide6.QtCore import QSize, QTimer

    from emulators.escpos_decoder import decode
    from kiosk.runtime import Runtime
    from kiosk.ui.app import build_window, ensure_app
    from kiosk.ui.citizen import ScriptedCitizen

    out.mkdir(parents=True, exist_ok=True)
    app = ensure_app(headless=True)
    sizes = sizes or [SIZES["landscape"]]
    ok_all = True
    for w, h in sizes:
        tag = f"{w}x{h}"
        spool = out / ".spool" / tag
        shutil.rmtree(spool, ignore_errors=True)
        cfg = demo_config(base, spool)
        runtime = Runtime.create(cfg)
        if flow_id not in runtime.package.flows:
            print(f"unknown flow {flow_id!r}; known: {', '.join(runtime.package.flows)}")
            return 2
        runtime.open_devices()
        runtime.start_backend(wait=True)
        win = build_window(runtime, QSize(w, h))
        win.resize(w, h)
        win.show()
        result: dict[str, bool] = {}

        def done(ok: bool, result: dict[str, bool] = result) -> None:
            result["ok"] = ok
            app.quit()

        shots = out / "screens" / tag if len(sizes) > 1 else out / "screens"
        citizen = ScriptedCitizen(win, flow_id, shots, done)
        QTimer.singleShot(int(timeout_s * 1000), lambda: done(False))
        app.exec()
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
            (out / f"{prefix}receipt.txt").write_text(decode(data).render_text(), encoding="utf-8")
        print(f"[{tag}] {'completed' if ok else 'FAILED'}: {len(citizen.seen)} screens, "
              f"{len(pdfs)} A4 job(s), {len(receipts)} receipt(s)"
              + (f"; errors: {citizen.errors}" if citizen.errors else ""))
        win.close()
        win.deleteLater()
        runtime.close()
        shutil.rmtree(out / ".spool", ignore_errors=True)
    print(f"demo output in {out.resolve()}")
    return 0 if ok_all else 1


def run_with_display(base: Config) -> int:
    from kiosk.runtime import Runtime
    from kiosk.ui.app import run_kiosk

    return run_kiosk(Runtime.create(demo_config(base, None)))
