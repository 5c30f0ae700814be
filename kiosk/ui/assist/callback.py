"""A call back when nobody answered: the citizen's mobile number, through the outbox.

The request is a durable outbox item of stream `assist_callback` (phone, terminal,
service, time), delivered to the platform like evaluations; the number is never
logged (the outbox stores it sealed and deletes it once delivered).
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger(__name__)

STREAM = "assist_callback"
# A mainland mobile number: 11 digits, 1 then 3–9 (the carriers' prefixes).
MOBILE = re.compile(r"^1[3-9]\d{9}$")


def valid_mobile(text: str) -> bool:
    return bool(MOBILE.match(text))


def payload(phone: str, terminal: str, service: str, at: datetime | None = None
            ) -> dict[str, Any]:
    when = (at or datetime.now(UTC)).astimezone(UTC)
    return {"phone": phone, "terminal": terminal, "service": service,
            "requested_at": when.isoformat(timespec="seconds")}


def request_callback(runtime: Any, phone: str, service: str) -> str:
    """Queue the request; "" when it is safely in the outbox, else an error key."""
    from kiosk.flows.context import StepError

    if not valid_mobile(phone):
        return "assist.callback.invalid"
    try:
        runtime.record(STREAM, payload(phone, runtime.config.terminal.id, service))
    except StepError as err:  # the outbox is full or its disk failed: say so, keep nothing
        log.error("call-back request not queued: %s", err.detail)  # no number in the log
        return "assist.callback.failed"
    log.info("call-back request queued for service %s", service or "-")
    return ""
