"""Identity services of the reference platform: QR identity codes and reference face photos.

QR codes the terminal may be shown:

* `GJZW:ID:<token>` — a citizen's identity code from the government app (电子身份码). The
  app refreshes it every minute; the platform resolves an unexpired token to the holder.
  Demo tokens (`demo_identity_qr(key)`) never expire; `demo_identity_qr(key, expired=True)`
  always has. With $REFBACKEND_ADMIN_TOKEN set, `POST /_admin/identity/qr` issues a code
  for a citizen with a chosen lifetime (tests).
* `GJZW:APPT:<token>` — an appointment code (see `reference_backend/services.py`); it
  resolves to the appointment and its holder, and counts as expired once the check-in
  window has closed.

`POST /api/v1/identity/qr/resolve {"qr"}` answers `{"kind": "identity"|"appointment",
"holder": {...}, "appointment"?: {...}, "expires_at"}`, or 400 `qr_malformed`,
404 `qr_unknown`, 410 `qr_expired`.

`POST /api/v1/identity/face-photo {"id_number"}` returns the reference photo for face
verification (`image_b64`, `content_type`) or 404 `no_face_photo`. The reference
platform holds no photos of its own: only in a test or demo configuration,
$REFBACKEND_FACE_PHOTOS names a folder of test photos (the tests use tests/data/faces) and
$REFBACKEND_FACE_MAP (`chen=rose_leslie_1.jpg,li=biden_1.jpg`) which synthetic citizen
gets which file (a built-in map is used otherwise). The backend package holds no face
image; the tests' photos are public test fixtures, never a citizen's.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import secrets
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import Depends, Header
from pydantic import BaseModel, Field

from kiosk.identity import mask_id_number, mask_name
from reference_backend.app import ApiError, Platform
from synthetic.citizens import BY_ID, BY_KEY, Citizen

ID_PREFIX = "GJZW:ID:"
APPT_PREFIX = "GJZW:APPT:"
QR_PATTERN = re.compile(r"^GJZW:(ID|APPT):[A-Z0-9]{8,64}$")
NEVER = 4102444800.0  # 2100-01-01: demo codes do not expire

DEFAULT_FACE_MAP = {"chen": "rose_leslie_1.jpg", "li": "biden_1.jpg", "wang": "adams_1.jpg",
                    "ouyang": "kit_harington_1.jpg", "huang": "obama_2.jpg"}
CONTENT_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png"}


def demo_identity_token(key: str, expired: bool = False) -> str:
    salt = "expired" if expired else "demo"
    return "ID" + hashlib.sha256(f"identity-qr:{salt}:{key}".encode()).hexdigest()[:18].upper()


def demo_identity_qr(key: str, expired: bool = False) -> str:
    """A demo identity code for a synthetic citizen (valid for ever, or always expired)."""
    return ID_PREFIX + demo_identity_token(key, expired)


class ResolveRequest(BaseModel):
    qr: str = Field(max_length=200)


class PhotoRequest(BaseModel):
    id_number: str = Field(min_length=15, max_length=18)


class IssueRequest(BaseModel):
    citizen: str = Field(max_length=32)
    ttl_s: float = Field(default=60.0, ge=0, le=86400 * 366)


def holder_of(c: Citizen) -> dict[str, str]:
    """The holder as the population register has it (the terminal uses it for the session)."""
    return {"id_number": c.id_number, "name": c.name, "gender_code": c.gender,
            "birth_date": c.birth.isoformat(), "masked_name": mask_name(c.name),
            "masked_id": mask_id_number(c.id_number)}


def face_map() -> dict[str, str]:
    raw = os.environ.get("REFBACKEND_FACE_MAP", "")
    if not raw:
        return dict(DEFAULT_FACE_MAP)
    pairs = (item.split("=", 1) for item in raw.split(",") if "=" in item)
    return {k.strip(): v.strip() for k, v in pairs}


def register(platform: Platform) -> None:
    app, state = platform.app, platform.state
    state.qr_tokens = {}  # token -> (citizen key, expires_at epoch seconds)
    for key in BY_KEY:
        state.qr_tokens[demo_identity_token(key)] = (key, NEVER)
        state.qr_tokens[demo_identity_token(key, expired=True)] = (key, 0.0)
    guard = [Depends(platform.terminal)]

    def resolve_appointment(token: str) -> dict[str, Any]:
        from synthetic import services as syn

        key = syn.BY_TOKEN.get(token)
        if key is None:
            raise ApiError(404, "qr_unknown")
        now = datetime.now()
        appt = syn.appointment(key, now)
        if appt is None:
            raise ApiError(404, "qr_unknown")
        closes = datetime.fromisoformat(str(appt["_slot"])) + timedelta(minutes=syn.LATE_MIN)
        if now > closes:
            raise ApiError(410, "qr_expired")
        return {"kind": "appointment", "holder": holder_of(syn.BY_KEY[key]),
                "appointment": {k: v for k, v in appt.items() if not k.startswith("_")},
                "expires_at": closes.isoformat(timespec="seconds")}

    @app.post("/api/v1/identity/qr/resolve", dependencies=guard)
    def resolve(req: ResolveRequest) -> dict[str, Any]:
        m = QR_PATTERN.match(req.qr)
        if m is None:
            raise ApiError(400, "qr_malformed")
        token = req.qr.split(":", 2)[2]
        if m.group(1) == "APPT":
            return resolve_appointment(token)
        with state.lock:
            entry = state.qr_tokens.get(token)
        if entry is None:
            raise ApiError(404, "qr_unknown")
        key, expires = entry
        if time.time() >= expires:
            raise ApiError(410, "qr_expired")
        return {"kind": "identity", "holder": holder_of(BY_KEY[key]),
                "expires_at": datetime.fromtimestamp(min(expires, NEVER)).isoformat(
                    timespec="seconds")}

    @app.post("/api/v1/identity/face-photo", dependencies=guard)
    def face_photo(req: PhotoRequest) -> dict[str, Any]:
        folder = os.environ.get("REFBACKEND_FACE_PHOTOS", "")
        c = BY_ID.get(req.id_number.upper())
        name = face_map().get(c.key, "") if c is not None else ""
        path = Path(folder) / name if folder and name else None
        if path is None or "/" in name or not path.is_file() or \
                path.suffix.lower() not in CONTENT_TYPES:
            raise ApiError(404, "no_face_photo")
        return {"image_b64": base64.b64encode(path.read_bytes()).decode("ascii"),
                "content_type": CONTENT_TYPES[path.suffix.lower()]}

    admin_token = os.environ.get("REFBACKEND_ADMIN_TOKEN", "")
    if not admin_token:
        return

    def admin(x_admin_token: str = Header(default="")) -> None:
        if not secrets.compare_digest(x_admin_token, admin_token):
            raise ApiError(403, "forbidden")

    @app.post("/_admin/identity/qr", dependencies=[Depends(admin)], include_in_schema=False)
    def issue(req: IssueRequest) -> dict[str, Any]:
        if req.citizen not in BY_KEY:
            raise ApiError(404, "no_record")
        token = "ID" + secrets.token_hex(9).upper()
        expires = time.time() + req.ttl_s
        with state.lock:
            state.qr_tokens[token] = (req.citizen, expires)
        return {"qr": ID_PREFIX + token, "expires_at": expires}
