"""`kiosk-ops assist calls [--json] [--terminal ID] [--limit N] (--db URL | --stack DIR)`:
the newest remote-help call records (terminal, service, times, waited, talk time,
outcome, agents), as a table or one JSON document."""

from __future__ import annotations

import argparse
import json
from typing import Any

HEADER = ("requested (UTC)", "terminal", "service", "waited", "talk", "outcome", "agents")


def _secs(value: float | None) -> str:
    return "—" if value is None else f"{int(value) // 60}:{int(value) % 60:02d}"


def table(calls: list[dict[str, Any]]) -> str:
    rows = [HEADER] + [(c["requested_at"][:19].replace("T", " "), c["terminal"],
                        c["service"] or "—", _secs(c["waited_s"]), _secs(c["talk_s"]),
                        c["outcome"] or "(in progress)", " → ".join(c["agents"]) or "—")
                       for c in calls]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADER))]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip()
                     for r in rows)


def cmd_calls(args: argparse.Namespace) -> int:
    from opscentre.assist.records import recent
    from opscentre.cli import _sessions

    with _sessions(args)() as db:
        calls = recent(db, args.limit, args.terminal or "")
    if args.json:
        print(json.dumps({"calls": calls}, ensure_ascii=False))
    elif calls:
        print(table(calls))
    else:
        print("no calls")
    return 0


def add_parsers(sub: Any, db_options: Any) -> None:
    """The `assist` sub-commands of `kiosk-ops`."""
    a = sub.add_parser("assist", help="remote help (docs/assist.md)").add_subparsers(
        dest="action", required=True)
    c = a.add_parser("calls", help="the newest call records")
    c.add_argument("--json", action="store_true", help="one JSON document {calls: [...]}")
    c.add_argument("--terminal", metavar="ID", help="only this terminal's calls")
    c.add_argument("--limit", type=int, default=50, metavar="N")
    db_options(c)
    c.set_defaults(func=cmd_calls)
