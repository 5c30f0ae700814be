"""The `kiosk` command: demo, run, bench, flows, backend."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from kiosk import __version__


def _size(text: str) -> tuple[int, int]:
    from kiosk.demo import SIZES

    if text in SIZES:
        return SIZES[text]
    w, _, h = text.lower().partition("x")
    return int(w), int(h)


def cmd_demo(args: argparse.Namespace) -> int:
    from kiosk.config import load_config
    from kiosk.demo import SIZES, run_headless, run_with_display
    from kiosk.ui.app import has_display

    cfg = load_config(args.config)
    if args.headless or args.out or not has_display():
        sizes = list(SIZES.values()) if args.all_sizes else [_size(s) for s in args.size or []]
        return run_headless(cfg, Path(args.out or "demo-out"), args.flow, sizes or None)
    return run_with_display(cfg)


def cmd_run(args: argparse.Namespace) -> int:
    from kiosk.config import load_config
    from kiosk.runtime import Runtime
    from kiosk.logs import setup_file_logging
    from kiosk.ui.app import run_kiosk

    cfg = load_config(args.config)
    setup_file_logging(cfg, args.log_level)  # size-rotated file in the data folder
    return run_kiosk(Runtime.create(cfg))


def cmd_flows(args: argparse.Namespace) -> int:
    from kiosk.config import load_config
    from kiosk.runtime import Runtime

    rt = Runtime.create(load_config(args.config))
    t = rt.package.translator("zh_CN")
    rows = [{"id": f.id, "title": t(f.title), "requires_online": f.requires_online,
             "steps": [s.id for s in f.steps], "package": f"{rt.package.id}@{rt.package.version}"}
            for f in rt.package.catalog()]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=1))
    else:
        for r in rows:
            print(f"{r['id']:<24} {r['title']:<16} online={'yes' if r['requires_online'] else 'no'}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from kiosk.bench import main as bench_main

    return bench_main(args)


def cmd_backend(args: argparse.Namespace) -> int:
    from reference_backend.__main__ import main as backend_main

    return backend_main(["--host", args.host, "--port", str(args.port)])


# Command groups that live in their own modules (each has `register(subparsers)`).
COMMAND_MODULES = (
    "kiosk.commands.device",
    "kiosk.commands.outbox",
    "kiosk.commands.pack",
    "kiosk.commands.face",
    "kiosk.commands.maintenance",
    "kiosk.commands.gallery",
)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="kiosk", description="莞家政务 self-service terminal")
    ap.add_argument("--version", action="version", version=f"kiosk {__version__}")
    ap.add_argument("--log-level", default="INFO")
    sub = ap.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help="run the kiosk on embedded defaults (headless: scripted)")
    p.add_argument("--config")
    p.add_argument("--headless", action="store_true", help="scripted citizen, no window")
    p.add_argument("--out", help="output folder for screenshots, PDF, receipt (headless)")
    p.add_argument("--flow", default="ss_certificate")
    p.add_argument("--size", action="append",
                   help="WxH or landscape/portrait/square (repeatable; headless)")
    p.add_argument("--all-sizes", action="store_true", help="1920x1080, 1080x1920, 1280x1024")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("run", help="run the kiosk with the configured devices and platform")
    p.add_argument("--config")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("flows", help="list the active flows")
    p.add_argument("action", choices=["list"])
    p.add_argument("--config")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_flows)

    p = sub.add_parser("bench", help="measure start-up, flow, rendering and memory")
    p.add_argument("--json", action="store_true")
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--only", action="append", help="run only these bench modules (e.g. core)")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("backend", help="run the reference backend ($REFBACKEND_TERMINALS)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8700)
    p.set_defaults(func=cmd_backend)

    from kiosk.plugins import optional_modules

    for mod in optional_modules(COMMAND_MODULES):
        mod.register(sub)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from kiosk.config import ConfigError
    from kiosk.logs import setup_logging

    setup_logging(args.log_level)
    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:
        # Commands load the configuration before they start anything (a backend child
        # process, a window, a device), so nothing is left running here.
        print(f"kiosk {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
