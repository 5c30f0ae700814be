"""The `kiosk` command: demo, run, bench, flows, backend."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

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
    start_file_logging(cfg, args.log_level)  # the same masked log `kiosk run` writes
    if args.headless or args.out or not has_display():
        sizes = list(SIZES.values()) if args.all_sizes else [_size(s) for s in args.size or []]
        return run_headless(cfg, Path(args.out or "demo-out"), args.flow, sizes or None,
                            assisted=args.assisted)
    return run_with_display(cfg)


def start_file_logging(cfg: Any, level: str) -> None:
    """Log to the configured, size-rotated file too (what `maintenance export-logs` packs)."""
    from kiosk.logs import setup_file_logging

    setup_file_logging(cfg, level)


def cmd_run(args: argparse.Namespace) -> int:
    from kiosk.config import load_config
    from kiosk.runtime import Runtime
    from kiosk.ui.app import run_kiosk

    cfg = load_config(args.config)
    start_file_logging(cfg, args.log_level)  # size-rotated file in the data folder
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
            online = "yes" if r["requires_online"] else "no"
            print(f"{r['id']:<24} {r['title']:<16} online={online}")
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
    "kiosk.commands.catalog",
    "kiosk.commands.document",
)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="kiosk", description="莞家政务 self-service terminal")
    ap.add_argument("--version", action="version", version=f"kiosk {__version__}")
    ap.add_argument("--log-level", default="INFO")
    ap.add_argument("--lang", choices=("zh_CN", "zh_HK", "en"), default=None,
                    help="language of messages (default: $KIOSK_LANG, else zh_CN)")
    sub = ap.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help="run the kiosk on embedded defaults (headless: scripted)")
    p.add_argument("--config")
    p.add_argument("--headless", action="store_true", help="scripted citizen, no window")
    p.add_argument("--out", help="output folder for screenshots, PDF, receipt (headless)")
    p.add_argument("--flow", default="ss_certificate")
    p.add_argument("--size", action="append",
                   help="WxH or landscape/portrait/square (repeatable; headless)")
    p.add_argument("--all-sizes", action="store_true", help="1920x1080, 1080x1920, 1280x1024")
    p.add_argument("--assisted", action="store_true",
                   help="headless: the citizen asks a hall agent for help at the period step "
                   "([assist] centre_url, an agent on duty: scripts/demo starts one)")
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
    from kiosk.devices.base import DeviceError
    from kiosk.logs import setup_logging

    setup_logging(args.log_level)
    try:
        try:
            rc = int(args.func(args) or 0)
        except ConfigError as exc:
            # Commands load the configuration before they start anything (a backend child
            # process, a window, a device), so nothing is left running here.
            print(f"kiosk {args.command}: {exc}", file=sys.stderr)
            rc = 2
        except DeviceError as exc:  # a device URI it cannot serve, a device it cannot open
            rc = report_device_error(args, exc)
        except KeyboardInterrupt:
            print(file=sys.stderr)
            rc = 130
        except BrokenPipeError:
            raise
        except OSError as exc:  # a path given on the command line: missing, not writable
            rc = report_os_error(args, exc)
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
    except BrokenPipeError:
        return _pipe_closed()
    return rc


def report_device_error(args: argparse.Namespace, err: Any) -> int:
    """Print a device error for a person (or as JSON with `--json`); 2 for a bad URI."""
    from kiosk.commands.device import guess_kind
    from kiosk.i18n import Translator
    from kiosk.maintenance.messages import cli_locale, explain

    from_config = getattr(err, "uri", None) is not None  # DeviceSet.from_config: a config key
    uri = str(getattr(err, "uri", None) or getattr(args, "uri", "") or "")
    kind = getattr(err, "kind", None) or getattr(args, "kind", None) or \
        (guess_kind(uri) if uri else None)
    t = Translator(cli_locale(getattr(args, "lang", None)))
    info = explain(err, t, kind=kind, uri=uri)
    if getattr(args, "json", False):
        print(json.dumps({"ok": False, "kind": kind, "uri": uri, **info.to_dict()},
                         ensure_ascii=False))
    else:
        print(f"kiosk {args.command}: {info.render()}", file=sys.stderr)
        if from_config:
            print(f"  {t('technician.error.config_key', name=str(kind))}",
                  file=sys.stderr)
        if getattr(args, "kind_guessed", False) and err.key == "device.unsupported_uri":
            print(f"  {t('technician.hint.kind')}", file=sys.stderr)
    return 1 if err.retryable else 2


def report_os_error(args: argparse.Namespace, exc: OSError) -> int:
    """A file the command was told to read or write: say which and why, no traceback."""
    from kiosk.i18n import Translator
    from kiosk.maintenance.messages import cli_locale

    t = Translator(cli_locale(getattr(args, "lang", None)))
    where = f"{exc.filename}: " if exc.filename else ""
    detail = f"{where}{exc.strerror or type(exc).__name__}"
    print(f"kiosk {args.command}: {t('technician.error.file', detail=detail)}", file=sys.stderr)
    return 1


def _pipe_closed() -> int:
    """The reader went away (`kiosk flows list --json | head -1`): stop quietly.

    SIGPIPE stays ignored (its Python default): the kiosk's sockets to printers and the
    platform rely on EPIPE errors rather than being killed. Further writes to stdout
    (the interpreter's final flush) go to /dev/null instead of raising again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass
    return 128 + 13  # what a shell shows for a command ended by SIGPIPE


if __name__ == "__main__":
    sys.exit(main())
