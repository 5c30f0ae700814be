"""`kiosk bench`: medians over repeated runs, printed as a table or one JSON object.

Each module in BENCH_MODULES has `measure(repeat) -> dict[str, float]`; their keys are
merged. Numbers go into issue notes; tests never assert on time. A budget `K` comes with
`K_baseline`, the same kind of work done the plainest way, measured in the same run (a
bare reportlab page, a bare PySide6 window, the platform calls made directly, the idle
event loop, empty soak sessions), so that `K / K_baseline` survives a noisy machine.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time

BENCH_MODULES = (
    "kiosk.benchmarks.core",
    "kiosk.benchmarks.business",
    "kiosk.benchmarks.outbox",
    "kiosk.benchmarks.ui_loop",
    "kiosk.benchmarks.documents",
    "kiosk.benchmarks.packages",
    "kiosk.benchmarks.face",
    "kiosk.benchmarks.cardreaders",
    "kiosk.benchmarks.soak",
    "kiosk.benchmarks.capture",
    "kiosk.benchmarks.catalog",
    "kiosk.benchmarks.catalog_pkg",
    "kiosk.benchmarks.seal",
    "kiosk.benchmarks.assist",
    "kiosk.benchmarks.assist_ui",
)


def peak_rss_mb() -> float:
    """Peak resident set size of this process and its reaped children, in MiB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round(max(own, kids) / 1024.0, 1)


def main(args: argparse.Namespace) -> int:
    import logging

    logging.getLogger().setLevel(logging.WARNING)
    results: dict[str, float] = {}
    only = set(getattr(args, "only", None) or [])
    started = time.monotonic()
    from kiosk.plugins import optional_modules

    wanted = [n for n in BENCH_MODULES if not only or n.rsplit(".", 1)[-1] in only]
    for mod in optional_modules(wanted):
        short = mod.__name__.rsplit(".", 1)[-1]
        print(f"bench: {short}…", file=sys.stderr)
        results.update(mod.measure(args.repeat))
    results["peak_rss_mb"] = peak_rss_mb()
    results["bench_wall_s"] = round(time.monotonic() - started, 1)
    if args.json:
        print(json.dumps(results, ensure_ascii=False))
    else:
        width = max(len(k) for k in results)
        for k, v in results.items():
            print(f"{k:<{width}}  {v}")
    return 0
