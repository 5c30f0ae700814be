"""`kiosk gallery --out DIR`: every screen of every flow, each mode and language."""

from __future__ import annotations

import argparse
from pathlib import Path


def cmd_gallery(args: argparse.Namespace) -> int:
    from kiosk.config import load_config
    from kiosk.ui.gallery import LOCALES, MODES, SIZES, run_gallery

    sizes = SIZES
    if args.size:
        sizes = tuple(tuple(int(x) for x in s.lower().split("x")) for s in args.size)  # type: ignore[assignment]
    report = run_gallery(load_config(args.config), Path(args.out), args.flow or None,
                         sizes, tuple(args.mode or MODES), tuple(args.locale or LOCALES))
    print(f"gallery: {report.runs} runs, {report.screens} screens, "
          f"{len(report.problems)} screens with layout problems, "
          f"{len(report.failed_runs)} runs that did not finish; see {args.out}/report.json")
    for name, problems in list(report.problems.items())[:20]:
        print(f"  {name}: {problems[0]}")
    return 0 if report.ok else 1


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("gallery", help="screenshots of every screen in each mode and language")
    p.add_argument("--out", required=True)
    p.add_argument("--config")
    p.add_argument("--flow", action="append", help="only these flows (repeatable)")
    p.add_argument("--size", action="append", help="WxH (repeatable)")
    p.add_argument("--mode", action="append", choices=["standard", "elder"])
    p.add_argument("--locale", action="append", choices=["zh_CN", "zh_HK", "en"])
    p.set_defaults(func=cmd_gallery)
