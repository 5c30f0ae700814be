"""Outbox delivery endpoints: batched, de-duplicated by idempotency key, exactly once.

`POST /api/v1/outbox/batch` takes `{"items": [{"key", "stream", "created", "payload"}]}`
and answers one result per item, in order: `applied`, `duplicate` (already applied:
the terminal must treat it as delivered) or `rejected` with an error code (permanent:
the terminal moves it to its dead-letter table). `POST /api/v1/outbox/item` takes one
item with an `Idempotency-Key` header (for terminals that do not batch).

Every result names the item's idempotency key (`{"key", "status", ...}`): that is the
acknowledgement. A terminal deletes an item only on a result naming its key; any other
2xx (an empty body, `{"ok": true}`, a proxy's page) leaves it queued.

Items of stream `evaluation` become service evaluations (the same list as
`POST /api/v1/evaluations`); `assist_callback` (a citizen's call-back request after an
unanswered help call, docs/assist.md) must carry a mainland mobile number, the terminal
and the service; other streams are kept as they arrive.

Admin endpoints (X-Admin-Token, only when $REFBACKEND_ADMIN_TOKEN is set) count what
was applied and inject faults for tests: forced status codes with Retry-After, and
"commit then lose the answer" (error, stall or dropped connection after applying).
"""

from __future__ import annotations

import os
import re
import secrets
import threading
import time
from collections import defaultdict
from typing import Any, Literal

from fastapi import Depends, Header, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, Field, ValidationError

from reference_backend.app import ApiError, EvaluationRequest, Platform

MAX_BATCH = 500
STREAM_RE = re.compile(r"^[a-z][a-z0-9_.-]{0,63}$")
MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")


class OutboxItem(BaseModel):
    key: str = Field(min_length=8, max_length=128)
    stream: str = Field(min_length=1, max_length=64)
    created: float = 0.0
    payload: Any = None


class Batch(BaseModel):
    items: list[OutboxItem] = Field(min_length=1, max_length=MAX_BATCH)


class Fault(BaseModel):
    mode: Literal["status", "commit_then_error", "commit_then_stall", "commit_then_drop"]
    count: int = Field(default=1, ge=1)
    status: int = Field(default=503, ge=400, le=599)
    retry_after: float | None = None
    stall_s: float = Field(default=2.0, ge=0, le=60)
    terminal: str = ""  # empty: any terminal


class OutboxState:
    """What the platform applied, per terminal; one lock makes check-and-apply atomic."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.applied: dict[tuple[str, str], dict[str, Any]] = {}
        self.order: dict[tuple[str, str], list[str]] = defaultdict(list)  # (tid, stream)
        self.received: dict[tuple[str, str], int] = defaultdict(int)
        self.requests = 0
        self.batches = 0
        self.faults: list[Fault] = []
        self.fault_hits = 0

    def take_fault(self, tid: str) -> Fault | None:
        with self.lock:
            for f in self.faults:
                if f.terminal in ("", tid):
                    f.count -= 1
                    if f.count <= 0:
                        self.faults.remove(f)
                    self.fault_hits += 1
                    return f
        return None


def _validate(item: OutboxItem) -> str:
    """Return a permanent error code, or "" if the item can be applied."""
    if not STREAM_RE.match(item.stream):
        return "bad_stream"
    if not isinstance(item.payload, dict):
        return "payload_not_object"
    if item.stream == "evaluation":
        try:
            EvaluationRequest.model_validate(item.payload)
        except ValidationError:
            return "invalid_evaluation"
    if item.stream == "assist_callback" and not (
            isinstance(item.payload.get("phone"), str) and MOBILE_RE.match(item.payload["phone"])
            and isinstance(item.payload.get("terminal"), str)
            and isinstance(item.payload.get("service"), str)):
        return "invalid_assist_callback"
    if item.payload.get("reject"):  # lets tests and demos produce a permanent failure
        return str(item.payload["reject"])[:40]
    return ""


def register(platform: Platform) -> None:
    app, state = platform.app, platform.state
    ob = OutboxState()
    state.outbox = ob

    def apply(tid: str, item: OutboxItem) -> dict[str, Any]:
        """Apply one item exactly once (call with ob.lock held)."""
        ob.received[(tid, item.key)] += 1
        done = ob.applied.get((tid, item.key))
        if done is not None:
            return {"key": item.key, "status": "duplicate", "id": done["id"]}
        error = _validate(item)
        sink = getattr(state, "outbox_sinks", {}).get(item.stream)  # a consumer an area registered
        if not error and sink is not None:
            error = sink(tid, item.stream, item.payload)
        if error:
            return {"key": item.key, "status": "rejected", "error": error}
        record: dict[str, Any] = {"id": len(ob.applied) + 1, "stream": item.stream,
                                  "created": item.created, "applied_at": time.time()}
        if item.stream == "evaluation":
            with state.lock:
                ev = item.payload | {"terminal": tid, "id": len(state.evaluations) + 1}
                state.evaluations.append(ev)
        ob.applied[(tid, item.key)] = record
        ob.order[(tid, item.stream)].append(item.key)
        return {"key": item.key, "status": "applied", "id": record["id"]}

    def answer(tid: str, items: list[OutboxItem], one: bool) -> Response:
        fault = ob.take_fault(tid)
        if fault is not None and fault.mode == "status":
            headers = {}
            if fault.retry_after is not None:
                headers["Retry-After"] = f"{fault.retry_after:g}"
            return JSONResponse({"error": "injected"}, status_code=fault.status, headers=headers)
        with ob.lock:
            ob.requests += 1
            ob.batches += 0 if one else 1
            results = [apply(tid, it) for it in items]
        if fault is not None and fault.mode == "commit_then_error":
            return JSONResponse({"error": "injected_after_commit"}, status_code=500)
        if fault is not None and fault.mode == "commit_then_stall":
            time.sleep(fault.stall_s)
        if fault is not None and fault.mode == "commit_then_drop":
            return StreamingResponse(_broken_body(), media_type="application/json")
        body: dict[str, Any] = results[0] if one else {"results": results}
        status = 200
        if one and results[0]["status"] == "rejected":
            status = 422
        return JSONResponse(body, status_code=status)

    @app.post("/api/v1/outbox/batch")
    def outbox_batch(batch: Batch, tid: str = Depends(platform.terminal)) -> Response:
        return answer(tid, batch.items, one=False)

    @app.post("/api/v1/outbox/item")
    def outbox_item(item: OutboxItem, tid: str = Depends(platform.terminal),
                    idempotency_key: str | None = Header(default=None)) -> Response:
        if not idempotency_key or idempotency_key != item.key:
            raise ApiError(400, "idempotency_key_required")
        return answer(tid, [item], one=True)

    catalog: dict[str, Any] = {"version": 1, "disabled": [], "notice": ""}
    state.reference_catalog = catalog

    @app.get("/api/v1/reference/catalog")
    def reference_catalog(_: str = Depends(platform.terminal)) -> dict[str, Any]:
        """Platform-side catalog data: services ops switched off, a notice for the home."""
        with ob.lock:
            return dict(catalog)

    admin_token = os.environ.get("REFBACKEND_ADMIN_TOKEN", "")
    if not admin_token:
        return

    def admin(x_admin_token: str = Header(default="")) -> None:
        if not secrets.compare_digest(x_admin_token, admin_token):
            raise ApiError(403, "forbidden")

    @app.get("/_admin/outbox/applied", dependencies=[Depends(admin)], include_in_schema=False)
    def applied(terminal: str = "", stream_prefix: str = "") -> dict[str, Any]:
        """Applied keys in order per stream, and how often each key was received."""
        with ob.lock:
            order = {s: list(keys) for (t, s), keys in ob.order.items()
                     if (not terminal or t == terminal) and s.startswith(stream_prefix)}
            wanted = {k for keys in order.values() for k in keys}
            received = {k: n for (t, k), n in ob.received.items()
                        if (not terminal or t == terminal)
                        and (k in wanted or not stream_prefix)}
            return {"order": order, "received": received, "requests": ob.requests,
                    "batches": ob.batches, "fault_hits": ob.fault_hits}

    @app.get("/_admin/outbox/counts", dependencies=[Depends(admin)], include_in_schema=False)
    def counts(terminal: str = "", stream_prefix: str = "") -> dict[str, Any]:
        with ob.lock:
            per = {s: len(keys) for (t, s), keys in ob.order.items()
                   if (not terminal or t == terminal) and s.startswith(stream_prefix)}
            return {"applied": sum(per.values()), "by_stream": per, "requests": ob.requests}

    @app.post("/_admin/reference/catalog", dependencies=[Depends(admin)],
              include_in_schema=False)
    def set_catalog(body: dict[str, Any]) -> dict[str, Any]:
        with ob.lock:
            catalog.update({k: body[k] for k in ("disabled", "notice") if k in body})
            catalog["version"] = int(catalog["version"]) + 1
            return dict(catalog)

    @app.post("/_admin/outbox/faults", dependencies=[Depends(admin)], include_in_schema=False)
    def add_fault(fault: Fault) -> dict[str, Any]:
        with ob.lock:
            ob.faults.append(fault)
            return {"faults": len(ob.faults)}

    @app.delete("/_admin/outbox/faults", dependencies=[Depends(admin)], include_in_schema=False)
    def clear_faults(_: Request) -> dict[str, Any]:
        with ob.lock:
            ob.faults.clear()
            return {"faults": 0}


async def _broken_body() -> Any:
    """Start a response, then fail: the server drops the connection mid-answer."""
    raise ConnectionAbortedError("injected: connection dropped after commit")
    yield b""  # pragma: no cover (makes this an async generator)
