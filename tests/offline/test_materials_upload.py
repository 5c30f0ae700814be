"""Captured materials (capture_document) queued while the link is down: sealed at rest in
the outbox, delivered once the link is back, applied once, deleted once acknowledged."""

from __future__ import annotations

import base64
import dataclasses
import time
from typing import Any

from kiosk.flows.interaction import ScriptedInteraction
from kiosk.flows.model import parse_flow
from kiosk.flows.screens import Response, Screen, ScreenKind
from kiosk.network import LinkState

from .helpers import client_for

FLOW = {"id": "materials_offline", "title": "doccam.title", "requires_online": False,
        "steps": [{"id": "pages", "type": "capture_document", "material": "application_form"},
                  {"id": "end", "type": "finish"}]}


def _citizen(script: list[str]) -> Any:
    todo = list(script)

    def answer(screen: Screen) -> Response | None:
        if screen.kind is ScreenKind.PROGRESS:
            return None
        if screen.kind in (ScreenKind.CAMERA, ScreenKind.PREVIEW) and todo:
            return Response(todo.pop(0))
        primary = [a for a in screen.actions if a.primary]
        return Response(primary[0].id) if primary else Response("home")

    return answer


def test_material_crosses_a_dropped_link_sealed_and_is_deleted_once_delivered(  # type: ignore[no-untyped-def]
        make_runtime, backend, proxy, admin) -> None:
    rt = make_runtime(doccam="sim://?size=800x600&fps=20&scenes=straight,hard")
    flow = parse_flow(FLOW, "test")
    rt.package = dataclasses.replace(rt.package, flows={**rt.package.flows, flow.id: flow})
    rt.backend = client_for(backend, proxy.url, read_timeout=5.0)
    rt.config = rt.config.with_section("offline", probe_interval_s=0.2, probe_backoff_cap_s=0.3,
                                       backoff_base_s=0.05, backoff_cap_s=0.3,
                                       reconnect_spread_s=0.2)
    rt.offline.config = rt.config
    proxy.cut()
    rt.start_offline()
    monitor = rt.offline.monitor
    assert monitor is not None and monitor.wait_for(LinkState.OFFLINE, 20)
    session = rt.new_session()
    ui = ScriptedInteraction(session.cancel, _citizen(["take", "add", "take", "done"]))
    assert rt.run_flow(flow.id, session, ui).outcome == "completed"
    outbox = rt.offline.outbox
    [item] = list(outbox.head("materials", 10))
    pdf = base64.b64decode(item.payload["pdf_b64"])
    assert pdf.startswith(b"%PDF-") and item.payload["pages"] == 2
    # sealed at rest: neither the PDF nor its base64 text is in the outbox's files
    raw = b"".join(p.read_bytes() for p in rt.config.data_dir.glob("outbox.db*"))
    assert pdf[1000:1200] not in raw and item.payload["pdf_b64"][1000:1200].encode() not in raw
    time.sleep(0.5)  # the worker keeps trying while the link is down ...
    assert item.key not in admin.applied("materials")["order"].get("materials", [])  # ... in vain
    assert list(outbox.head("materials", 10))  # and the material is still queued
    proxy.restore()
    assert monitor.wait_for(LinkState.ONLINE, 20)
    deadline = time.monotonic() + 30
    while list(outbox.head("materials", 10)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list(outbox.head("materials", 10)) == [], outbox.status().as_dict()  # deleted
    assert admin.applied("materials")["order"]["materials"].count(item.key) == 1  # applied once
