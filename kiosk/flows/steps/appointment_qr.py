"""Identify method `appointment_qr`: the citizen shows the appointment QR code from the app.

The code reads `GJZW:APPT:<token>` (see `reference_backend/services.py`). The platform
resolves it (`POST /api/v1/queue/appointments/resolve`) to the appointment holder;
the holder becomes the session's identity, exactly as if their ID card had been read.
Codes of another kind get a "this is not an appointment code" line and the scanner
keeps listening; so does an unknown or expired appointment.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import date

from kiosk.devices.base import Cancelled, DeviceError, DeviceState
from kiosk.flows.steps.identify import Emit, IdentifyEvent, IdentifyMethod, identify_method
from kiosk.identity import Gender, Identity, IdentitySource

log = logging.getLogger(__name__)

QR_PREFIX = "GJZW:APPT:"
RESOLVE = "/api/v1/queue/appointments/resolve"


def holder_identity(holder: dict[str, str], token: str) -> Identity:
    birth = holder.get("birth_date")
    return Identity(source=IdentitySource.QR, id_number=holder["id_number"], name=holder["name"],
                    gender=Gender(holder.get("gender_code", "0")),
                    birth_date=date.fromisoformat(birth) if birth else None,
                    card_kind="", extra={"appointment": token})


@identify_method
class AppointmentQrMethod(IdentifyMethod):
    name = "appointment_qr"
    prompt_key = "identify.prompt.appointment_qr"
    illustration = "id_card"

    def _scanner(self):  # type: ignore[no-untyped-def]
        return self.ctx.devices.get("scanner")

    def available(self) -> bool:
        dev = self._scanner()
        if dev is None or self.ctx.backend is None or not hasattr(dev, "read_code"):
            return False
        return dev.status().state not in (DeviceState.NO_DEVICE, DeviceState.OFFLINE)

    def run(self, stop: threading.Event, deadline: float, emit: Emit) -> None:
        from kiosk.backend.client import BackendError

        dev = self._scanner()
        while not stop.is_set():
            try:
                code = dev.read_code(max(0.1, deadline - time.monotonic()), stop)
            except Cancelled:
                return
            except DeviceError as err:
                emit(IdentifyEvent("error", err.key, detail=err.detail))
                return
            if not code.startswith(QR_PREFIX):
                emit(IdentifyEvent("retry", "appointment_qr.not_appointment"))
                continue
            emit(IdentifyEvent("status", "appointment_qr.checking"))
            try:
                answer = self.ctx.backend.post_json(RESOLVE, {"qr": code})
            except BackendError as err:
                if err.key == "backend.appointment_not_found":
                    emit(IdentifyEvent("retry", err.key))
                    continue
                emit(IdentifyEvent("error", err.key, detail=err.detail))
                return
            try:
                identity = holder_identity(answer["holder"], code[len(QR_PREFIX):])
            except (KeyError, TypeError, ValueError) as exc:
                log.warning("appointment resolve answer unusable: %s", type(exc).__name__)
                emit(IdentifyEvent("error", "backend.server_error"))
                return
            emit(IdentifyEvent("ok", identity=identity))
            return
