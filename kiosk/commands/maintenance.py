"""`kiosk selftest` and `kiosk maintenance …`: technician and remote-support commands.

`kiosk selftest [--config FILE] [--json]` opens every configured device (the demo
configuration unless told otherwise), runs its self-test, prints a report and exits 1
when any device fails. `kiosk maintenance set-pin` stores the technician PIN (read
without echo, or from stdin), `card-entry` makes a technician-card config entry,
`health` prints a health snapshot, `export-logs DIR` writes the masked log zip.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path
from typing import Any


def _config(args: argparse.Namespace) -> Any:
    from kiosk.config import load_config

    return load_config(getattr(args, "config", None))


def _translator(args: argparse.Namespace) -> Any:
    from kiosk.i18n import Translator
    from kiosk.maintenance.messages import cli_locale

    return Translator(cli_locale(getattr(args, "lang", None)))


def cmd_selftest(args: argparse.Namespace) -> int:
    from kiosk.maintenance.selftest import run_configured

    run = run_configured(_config(args), timeout_s=args.timeout,
                         only=set(args.only) if args.only else None)
    if args.json:
        print(json.dumps(run.to_dict(), ensure_ascii=False, indent=1))
    else:
        print(run.render())
    return 0 if run.passed else 1


def _read_secret(prompt: str, from_stdin: bool) -> str:
    if from_stdin or not sys.stdin.isatty():
        return sys.stdin.readline().strip()
    return getpass.getpass(prompt)


def _recorder(cfg: Any) -> Any:
    """The runtime's durable `record` (audit reaches the platform), else the log."""
    try:
        from kiosk.runtime import Runtime

        return Runtime.create(cfg).record
    except Exception:  # noqa: BLE001 - no runtime, no record: the command still answers
        import logging

        audit_log = logging.getLogger("kiosk.audit")
        return lambda stream, payload: audit_log.warning("%s %s", stream, payload)


def cmd_set_pin(args: argparse.Namespace) -> int:
    from kiosk.maintenance.access import MaintenanceAccess
    from kiosk.maintenance.pin import PinPolicyError

    cfg = _config(args)
    pin = _read_secret("New technician PIN (6-12 digits): ", args.stdin)
    if not args.stdin and sys.stdin.isatty() and getpass.getpass("Repeat the PIN: ") != pin:
        print("the two PINs differ; nothing changed", file=sys.stderr)
        return 2
    access = MaintenanceAccess(cfg, _recorder(cfg))
    try:
        access.pins.set_pin(pin)
    except PinPolicyError as exc:
        t = _translator(args)
        print(t("technician.pin_refused", reason=t(exc.key)) + f"  [{exc.key}]",
              file=sys.stderr)
        return 2
    access.audit("pin_set", via="shell")
    print(f"technician PIN stored in {access.pins.hash_file} (salted scrypt hash)")
    return 0


def cmd_card_entry(args: argparse.Namespace) -> int:
    from kiosk.maintenance.access import CardEntryError, card_entry

    number = _read_secret("Technician card number (not echoed): ", args.stdin)
    try:
        entry = card_entry(number, args.label)
    except CardEntryError as exc:
        print(_translator(args)("technician.card_refused", reason=str(exc)), file=sys.stderr)
        return 2
    print("Add this line to maintenance.technician_cards in the terminal's config:")
    print(json.dumps(entry, ensure_ascii=False))
    return 0


def cmd_health(args: argparse.Namespace) -> int:
    from kiosk.maintenance.health import collect
    from kiosk.runtime import Runtime

    rt = Runtime.create(_config(args))
    try:
        rt.open_devices()
        snap = collect(rt).to_dict()
    finally:
        rt.close()
    if args.json:
        print(json.dumps(snap, ensure_ascii=False, indent=1))
    else:
        from kiosk.maintenance.health_report import render_health

        print(render_health(snap, _translator(args)))
    return 1 if any(d["fault"] for d in snap["devices"]) else 0


def cmd_export_logs(args: argparse.Namespace) -> int:
    from kiosk.logs import log_file
    from kiosk.maintenance.logexport import ExportError, export_logs

    cfg = _config(args)
    try:
        res = export_logs(log_file(cfg), Path(args.dest), cfg.terminal.id)
    except ExportError as exc:
        t = _translator(args)
        print(t("technician.export_failed", reason=t(exc.key), dest=args.dest,
                detail=exc.detail) + f"  [{exc.key}]", file=sys.stderr)
        return 1
    print(f"{res.path} ({res.bytes} bytes, {len(res.files)} files, {res.masked} values masked)")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("selftest", help="self-test every configured device; exit 1 on failure")
    p.add_argument("--config", help="terminal config (default: the demo configuration)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--only", action="append", help="only this device kind (repeatable)")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds per run")
    p.set_defaults(func=cmd_selftest)

    m = sub.add_parser("maintenance", help="technician access, health, log export")
    msub = m.add_subparsers(dest="maintenance_command", required=True)
    p = msub.add_parser("set-pin", help="store the technician PIN (salted scrypt hash)")
    p.add_argument("--config")
    p.add_argument("--stdin", action="store_true", help="read the PIN from stdin")
    p.set_defaults(func=cmd_set_pin)
    p = msub.add_parser("card-entry", help="make a technician-card entry for the config")
    p.add_argument("--label", default="", help="a note for humans (default: masked number)")
    p.add_argument("--stdin", action="store_true", help="read the card number from stdin")
    p.set_defaults(func=cmd_card_entry)
    p = msub.add_parser("health", help="print a health snapshot of the configured terminal")
    p.add_argument("--config")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_health)
    p = msub.add_parser("export-logs", help="write the masked logs as a zip into DEST")
    p.add_argument("dest")
    p.add_argument("--config")
    p.set_defaults(func=cmd_export_logs)
