"""`kiosk device read-id URI`: read one card and print the identity (masked unless asked).

Works for every card reader URI: `sam+serial://…` (resident ID card), `pcsc://…`
(social-security card), `sim://…`. This is how a field technician checks a reader.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from typing import Any

from kiosk.identity import Identity

READER_KINDS = {"sam+serial": "idcard", "pcsc": "sscard"}


def identity_dict(identity: Identity, personal: bool) -> dict[str, Any]:
    """Masked fields by default; every field with `personal=True` (photo as a size only)."""
    if not personal:
        return identity.masked_view()
    return {
        "source": identity.source.value, "card_kind": identity.card_kind,
        "id_number": identity.id_number, "name": identity.name,
        "english_name": identity.english_name, "gender": identity.gender.value,
        "birth_date": identity.birth_date.isoformat() if identity.birth_date else "",
        "ethnicity": identity.ethnicity, "address": identity.address,
        "issuer": identity.issuer, "nationality": identity.nationality,
        "pass_number": identity.pass_number, "card_number": identity.card_number,
        "valid_from": identity.valid_from.isoformat() if identity.valid_from else "",
        "valid_to": identity.valid_to.isoformat() if identity.valid_to else "长期",
        "photo_format": identity.photo_format,
        "photo_bytes": len(identity.photo) if identity.photo else 0,
        "extra": {k: v for k, v in identity.extra.items() if isinstance(v, (str, int))},
    }


def cmd_read_id(args: argparse.Namespace) -> int:
    from kiosk.devices.base import Cancelled, DeviceError
    from kiosk.devices.registry import create_device
    from kiosk.i18n import Translator

    kind = args.kind = args.kind or READER_KINDS.get(args.uri.split(":", 1)[0], "idcard")
    t = Translator(args.locale or getattr(args, "lang", None) or "zh_CN")
    events: list[str] = []

    def on_event(ev: Any) -> None:
        events.append(ev.value)
        if not args.json:
            print(f"… {ev.value}", file=sys.stderr, flush=True)

    dev = create_device(kind, args.uri)  # a URI it cannot serve: kiosk.cli explains, exit 2
    try:
        dev.open()
        try:
            identity = dev.read_identity(args.timeout, threading.Event(),  # type: ignore[attr-defined]
                                         on_event=on_event)
        finally:
            dev.close()
    except DeviceError as err:
        from kiosk.maintenance.messages import device_name, explain

        info = explain(err, t, kind=kind, uri=args.uri)
        out = {"ok": False, "kind": kind, "error": err.key, "message": info.message,
               "detail": err.detail, "events": events,
               "text": f"{device_name(t, kind)}{t('technician.colon')}{info.render()}"}
        _print(out, args.json)
        return 2 if err.key.endswith(".no_card") else 1  # 2: nobody put a card on it
    except (Cancelled, KeyboardInterrupt):
        return 130
    out = {"ok": True, "kind": kind, "events": events,
           "identity": identity_dict(identity, args.show_personal_data)}
    _print(out, args.json)
    return 0


def _print(out: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps({k: v for k, v in out.items() if k != "text"}, ensure_ascii=False))
        return
    if not out["ok"]:
        print(out["text"])
        return
    for key, value in out["identity"].items():
        if value not in ("", None, {}):
            print(f"{key:>14}: {value}")


def register(dsub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = dsub.add_parser("read-id", help="wait for a card on a reader, read it, print the identity")
    p.add_argument("uri", help="sam+serial:///dev/ttyUSB0?baud=115200, pcsc://?reader=ACS, sim://")
    p.add_argument("--kind", choices=("idcard", "sscard"), default=None,
                   help="device kind (guessed from the URI scheme)")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for a card")
    p.add_argument("--json", action="store_true")
    p.add_argument("--show-personal-data", action="store_true",
                   help="print full ID number, name and address (technician only)")
    p.add_argument("--locale", default=None,
                   help="language of error messages (default: kiosk --lang, else zh_CN)")
    p.set_defaults(func=cmd_read_id)
