"""`kiosk device …`: technician commands for one device, by URI.

`status` works for every kind. Device areas add their own sub-commands (read-id, scan,
…) in `kiosk/devices/<kind>/cli.py` with a `register(sub)` function; commands that
compose documents (print-test) live in `kiosk/commands/`. All are listed in
DEVICE_CLI_MODULES.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

DEVICE_CLI_MODULES = (
    "kiosk.devices.idcard.cli",
    "kiosk.devices.sscard.cli",
    "kiosk.commands.print_test",
    "kiosk.devices.scanner.cli",
    "kiosk.devices.camera.cli",
)


def cmd_status(args: argparse.Namespace) -> int:
    """Open the device and ask it; a URI it cannot serve is a DeviceError for `kiosk.cli`."""
    from kiosk.devices.base import DeviceError, DeviceState
    from kiosk.devices.registry import create_device
    from kiosk.i18n import Translator
    from kiosk.maintenance.messages import cli_locale, explain, status_line

    t = Translator(cli_locale(getattr(args, "lang", None)))
    dev = create_device(args.kind, args.uri)  # bad URI: reported by kiosk.cli, exit 2
    out: dict[str, Any] = {"kind": args.kind, "uri": args.uri}
    try:
        dev.open()
    except DeviceError as err:  # nothing answers there (or not the right thing)
        info = explain(err, t, kind=args.kind, uri=args.uri)
        out.update(state=DeviceState.NO_DEVICE.value, details=[], message=info.message,
                   error=err.key, detail=err.detail)
    else:
        try:
            out.update(dev.status().to_dict())
        finally:
            _close_quietly(dev)
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
    else:
        line = status_line(t, args.kind, out)
        detail = out.get("detail")
        print(f"{line} — {detail}" if detail else line)
        print(f"  {args.uri}")
    return 0 if out["state"] == "online" else 1


def _close_quietly(dev: Any) -> None:
    from kiosk.devices.base import DeviceError

    try:
        dev.close()
    except DeviceError:
        pass


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    dev = sub.add_parser("device", help="technician commands for one device")
    dsub = dev.add_subparsers(dest="device_command", required=True)
    p = dsub.add_parser("status", help="open a device by URI and print its status")
    p.add_argument("uri")
    p.add_argument("--kind", default=None,
                   help="idcard, sscard, receipt, a4, scanner, camera (guessed from the URI)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_with_kind(cmd_status))
    from kiosk.plugins import optional_modules

    for mod in optional_modules(DEVICE_CLI_MODULES):
        mod.register(dsub)


SCHEME_KINDS = {
    "sam+serial": "idcard", "pcsc": "sscard", "escpos+tcp": "receipt",
    "escpos+serial": "receipt", "escpos+usb": "receipt", "cups": "a4", "ipp": "a4",
    "qr+serial": "scanner", "opencv": "camera",
}


def guess_kind(uri: str) -> str:
    scheme = uri.split(":", 1)[0]
    return SCHEME_KINDS.get(scheme, "idcard")


def _with_kind(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def wrapped(args: argparse.Namespace) -> int:
        if getattr(args, "kind", None) is None:
            args.kind, args.kind_guessed = guess_kind(args.uri), True
        return fn(args)

    return wrapped
