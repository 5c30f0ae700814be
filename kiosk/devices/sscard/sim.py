"""In-process social-security card reader simulator (`sim://?card=li`)."""

from __future__ import annotations

import threading

from kiosk.devices.idcard.api import CardEventSink
from kiosk.devices.idcard.sim import SimIdCardReader
from kiosk.identity import Identity, IdentitySource


class SimSsCardReader(SimIdCardReader):
    kind = "sscard"

    def read_identity(self, timeout: float, cancel: threading.Event,
                      on_event: CardEventSink | None = None) -> Identity:
        ident = super().read_identity(timeout, cancel, on_event)
        return Identity(
            source=IdentitySource.SS_CARD, id_number=ident.id_number, name=ident.name,
            gender=ident.gender, birth_date=ident.birth_date, ethnicity=ident.ethnicity,
            card_kind="social_security",
        )
