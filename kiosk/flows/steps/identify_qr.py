"""Identify method `qr`: the citizen shows a QR code (identity code or appointment code).

Codes read `GJZW:ID:<token>` (the government app's identity code, valid for a minute)
or `GJZW:APPT:<token>` (an appointment). The platform resolves the token
(`POST /api/v1/identity/qr/resolve`, see `reference_backend/identity.py`) to the holder,
who becomes the session's identity exactly as if their ID card had been read; an
appointment also lands in `data.appointment`. A code that is not ours is refused on the
spot ("malformed"), an unknown or expired one after asking the platform; each gets its
own message and the scanner keeps listening, so the citizen can show another code.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from datetime import date
from typing import Any

from kiosk.backend.errors import BackendError
from kiosk.devices.base import Cancelled, DeviceError, DeviceState
from kiosk.devices.scanner.api import CodeScanner
from kiosk.flows.steps._identify import Emit, IdentifyEvent, IdentifyMethod
from kiosk.identity import Gender, Identity, IdentitySource

log = logging.getLogger(__name__)

QR_PATTERN = re.compile(r"^GJZW:(ID|APPT):[A-Z0-9]{8,64}$")
RESOLVE = "/api/v1/identity/qr/resolve"
# Platform error code -> what the citizen is told (the scanner keeps listening).
RETRY_KEYS = {"qr_malformed": "qr.malformed", "qr_unknown": "qr.unknown",
              "qr_expired": "qr.expired"}


def platform_code(err: Any) -> str:
    """The platform's error code from a BackendError (404 keys, other 4xx details)."""
    if err.status == 404 and err.key.startswith("backend."):
        return str(err.key[len("backend."):])
    return str(err.detail)


def holder_identity(holder: dict[str, Any], kind: str) -> Identity:
    birth = holder.get("birth_date")
    return Identity(source=IdentitySource.QR, id_number=str(holder["id_number"]),
                    name=str(holder["name"]), gender=Gender(holder.get("gender_code", "0")),
                    birth_date=date.fromisoformat(birth) if birth else None,
                    card_kind="", extra={"qr_kind": kind})


class QrMethod(IdentifyMethod):
    name = "qr"
    prompt_key = "identify.prompt.qr"
    illustration = "qr"

    def _scanner(self) -> Any:
        return self.ctx.devices.get("scanner")

    def available(self) -> bool:
        dev = self._scanner()
        if not isinstance(dev, CodeScanner) or self.ctx.backend is None:
            return False
        return dev.status().state not in (DeviceState.NO_DEVICE, DeviceState.OFFLINE)

    def run(self, stop: threading.Event, deadline: float, emit: Emit) -> None:
        dev = self._scanner()
        while not stop.is_set():
            try:
                code = dev.read_code(max(0.1, deadline - time.monotonic()), stop)
            except Cancelled:
                return
            except DeviceError as err:
                if err.key == "scanner.offline" and time.monotonic() < deadline:
                    # Unplugged: the service reconnects by itself; say so and wait.
                    emit(IdentifyEvent("retry", "qr.scanner_offline", detail=err.detail))
                    stop.wait(0.5)
                    continue
                emit(IdentifyEvent("error", err.key, detail=err.detail))
                return
            if self._resolve(code, emit):
                return

    def _resolve(self, code: str, emit: Emit) -> bool:
        """Ask the platform about one code; True when the method is done."""
        m = QR_PATTERN.match(code)
        if m is None:
            log.info("qr: not a government code (len=%d)", len(code))
            emit(IdentifyEvent("retry", "qr.malformed"))
            return False
        emit(IdentifyEvent("status", "qr.checking"))
        try:
            answer = self.ctx.backend.post_json(RESOLVE, {"qr": code})
        except BackendError as err:
            key = RETRY_KEYS.get(platform_code(err))
            if key is not None:
                log.info("qr: platform refused the code: %s", key)
                emit(IdentifyEvent("retry", key))
                return False
            emit(IdentifyEvent("error", err.key, detail=err.detail))
            return True
        try:
            kind = str(answer["kind"])
            identity = holder_identity(answer["holder"], kind)
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("qr: resolve answer unusable: %s", type(exc).__name__)
            emit(IdentifyEvent("error", "backend.server_error"))
            return True
        if kind == "appointment" and isinstance(answer.get("appointment"), dict):
            self.ctx.data["appointment"] = dict(answer["appointment"])
        emit(IdentifyEvent("ok", identity=identity))
        return True
