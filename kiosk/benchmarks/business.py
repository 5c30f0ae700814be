"""Business flows: software time of each flow (zero-latency sims, backend on loopback),
and the render time of a 36-month tax list (several pages)."""

from __future__ import annotations

import statistics
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

# flow -> (card on the reader, answers by screen "<step>.<kind>" or "<kind>")
PLANS: dict[str, tuple[str, dict[str, Any]]] = {
    "ss_certificate": ("chen", {"kind.choice": "payment_detail"}),
    "tax_list": ("chen", {"mode.choice": "range"}),
    "no_property": ("chen", {"scope.choice": "self"}),
    "provident_fund": ("ouyang", {}),
    "queue_ticket": ("chen", {"show.info": "done"}),
    "evaluation": ("chen", {"keyboard": ("confirm", "A021")}),
    "service_guide": ("chen", {"detail.info": "print"}),
}
COMMON = {"consent": "agree", "form": "confirm", "preview": "print", "rating": "submit",
          "result": "done", "error": "home"}


def _answer(plan: dict[str, Any]) -> Any:
    from kiosk.flows.screens import Response, Screen, ScreenKind

    def answer(s: Screen) -> Response | None:
        for key in (f"{s.step_id}.{s.kind.value}", s.kind.value):
            if key in plan or key in COMMON:
                got = plan.get(key, COMMON.get(key))
                if isinstance(got, tuple):
                    return Response(got[0], got[1])
                if s.kind is ScreenKind.RATING:
                    return Response("submit", {"stars": 5, "tags": []})
                return Response(str(got))
        if s.kind is ScreenKind.CHOICE and s.options:
            return Response(s.options[0].id)
        if s.kind is ScreenKind.INFO and s.actions:  # e.g. "reprint or done": the primary
            primary = [a for a in s.actions if a.primary] or list(s.actions)
            return Response(primary[0].id)
        return None

    return answer


def flow_times(repeat: int) -> dict[str, float]:
    from kiosk.config import Config
    from kiosk.flows.interaction import ScriptedInteraction
    from kiosk.runtime import Runtime

    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as d:
        for flow, (card, plan) in PLANS.items():
            cfg = Config().with_section("devices", idcard=f"sim://?card={card}", a4="sim://",
                                        receipt="sim://", camera="")
            cfg = cfg.with_section("storage", data_dir=str(Path(d) / flow))
            rt = Runtime.create(cfg)
            rt.open_devices()
            rt.start_backend(wait=True)
            samples = []
            try:
                for i in range(repeat + 1):
                    s = rt.new_session()
                    ui = ScriptedInteraction(s.cancel, _answer(plan))
                    t = time.perf_counter()
                    result = rt.run_flow(flow, s, ui)
                    dt = time.perf_counter() - t
                    s.wipe()
                    if result.outcome != "completed":
                        raise RuntimeError(f"{flow} did not complete: {result}")
                    if i:
                        samples.append(dt)
            finally:
                rt.close()
            out[f"flow_{flow}_s"] = round(statistics.median(samples), 4)
    return out


def tax_list_render_s(repeat: int) -> tuple[float, int]:
    from flowpacks import BUILTIN_DIR
    from kiosk.documents.a4 import render_a4
    from kiosk.flows.package import load_package
    from synthetic.citizens import BY_KEY
    from synthetic.services import tax_rows

    pkg = load_package(BUILTIN_DIR)
    c = BY_KEY["chen"]
    rows = tax_rows(c, (2022, 1), (2024, 12))
    for k, r in enumerate(rows, 1):
        r["seq"] = k
    record = {"person": {"name": c.name}, "period": {"start": "2022-01", "end": "2024-12"},
              "rows": rows, "count": len(rows),
              "totals": {"income": sum((float(r["income"]) for r in rows), 0.0),
                         "tax": sum((float(r["tax"]) for r in rows), 0.0)},
              "authority": "国家税务总局东莞市税务局", "serial": "GS0",
              "issued_at": str(date.today()),
              "verify_code": "AAAA-BBBB-CCCC", "verify_url": "http://x/verify/A"}
    data = {"record": record, "identity": {"id_number": c.id_number, "name": c.name},
            "terminal": {"id": "BENCH"}, "now": {"date": str(date.today())}}
    tpl = pkg.templates["tax_list_a4"]
    doc = render_a4(tpl, data, pkg.asset)
    samples = []
    for _ in range(max(repeat, 3)):
        t = time.perf_counter()
        render_a4(tpl, data, pkg.asset)
        samples.append(time.perf_counter() - t)
    return round(statistics.median(samples), 4), doc.pages


def measure(repeat: int) -> dict[str, float]:
    out = flow_times(repeat)
    seconds, pages = tax_list_render_s(repeat)
    out["tax_list_pdf_render_s"] = seconds
    out["tax_list_pdf_pages"] = float(pages)
    return out
