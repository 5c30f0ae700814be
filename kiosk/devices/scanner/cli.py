"""`kiosk device scan URI [--count N] [--timeout S] [--json]`: print what a scanner reads."""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time


def cmd_scan(args: argparse.Namespace) -> int:
    from kiosk.devices.base import Cancelled, DeviceError
    from kiosk.devices.registry import create_device
    from kiosk.i18n import Translator
    from kiosk.maintenance.messages import cli_locale, device_name, explain, status_line

    t = Translator(cli_locale(getattr(args, "lang", None)))

    dev = create_device("scanner", args.uri)  # a URI it cannot serve: kiosk.cli explains
    dev.open()
    cancel = threading.Event()
    read = 0
    deadline = time.monotonic() + args.timeout
    code_rc = 0
    try:
        st = dev.status()
        if not args.json:
            print(status_line(t, "scanner", st.to_dict()), file=sys.stderr)
        while read < args.count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                code = dev.read_code(remaining, cancel,  # type: ignore[attr-defined]
                                     fresh=read == 0)
            except DeviceError as err:
                if err.key == "scanner.timeout":
                    break
                if err.key == "scanner.offline" and time.monotonic() < deadline:
                    continue  # unplugged: the service keeps reconnecting
                info = explain(err, t, kind="scanner", uri=args.uri)
                print(f"{device_name(t, 'scanner')}{t('technician.colon')}{info.render()}",
                      file=sys.stderr)
                code_rc = 1
                break
            read += 1
            if args.json:
                print(json.dumps({"n": read, "code": code, "length": len(code)},
                                 ensure_ascii=False), flush=True)
            else:
                print(code, flush=True)
    except (KeyboardInterrupt, Cancelled):
        pass
    finally:
        stats = dev.pipeline.stats.to_dict() if hasattr(dev, "pipeline") else {}
        dev.close()
    summary = {"read": read, "wanted": args.count, **stats}
    if args.json:
        print(json.dumps({"summary": summary}))
    else:
        print("summary: " + " ".join(f"{k}={v}" for k, v in summary.items()), file=sys.stderr)
    if code_rc:
        return code_rc
    return 0 if read >= args.count else 1


def register(dsub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = dsub.add_parser("scan", help="read codes from a scanner and print them")
    p.add_argument("uri", help="e.g. qr+serial:///dev/ttyACM0?baud=9600&suffix=CR")
    p.add_argument("--count", type=int, default=1, help="stop after N codes (default 1)")
    p.add_argument("--timeout", type=float, default=30.0, help="give up after S seconds")
    p.add_argument("--json", action="store_true", help="one JSON object per code")
    p.set_defaults(func=cmd_scan, kind="scanner")
