"""`kiosk device pcsc-readers`: list PC/SC readers and whether a card is in each.

(Reading a social-security card is `kiosk device read-id pcsc://?reader=…`.)
"""

from __future__ import annotations

import argparse
import json


def cmd_readers(args: argparse.Namespace) -> int:
    from kiosk.devices.sscard.transport import PcscError, PcscTransport

    out: dict[str, object]
    try:
        transport = PcscTransport()
        readers = []
        for name in transport.readers():
            one = PcscTransport(name.lower())
            state = one.state()
            one.close()
            readers.append({"reader": name, "card_present": state.card_present,
                            "atr": state.atr.hex(" ").upper()})
        transport.close()
        out = {"ok": True, "readers": readers}
    except PcscError as err:
        out = {"ok": False, "error": err.fault.value, "detail": str(err), "readers": []}
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
    elif not out["ok"]:
        print(_t(args)("technician.pcsc.unavailable", detail=out["detail"]))
    elif not out["readers"]:
        print(_t(args)("technician.pcsc.no_readers"))
    else:
        for r in out["readers"]:  # type: ignore[attr-defined]
            card = f"card ATR {r['atr']}" if r["card_present"] else "no card"
            print(f"{r['reader']}: {card}")
    return 0 if out["ok"] else 1


def _t(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from kiosk.i18n import Translator
    from kiosk.maintenance.messages import cli_locale

    return Translator(cli_locale(getattr(args, "lang", None)))


def register(dsub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = dsub.add_parser("pcsc-readers", help="list PC/SC readers and card presence")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_readers)
