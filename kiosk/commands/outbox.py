"""`kiosk outbox status|retry-dead|flush`: the offline outbox for technicians and ops.

- `status [--json]`: depth per stream, oldest age, dead letters, drops, refusals, and any
  database file set aside at start. Exit 0.
- `retry-dead [--key K ...] [--old-secret-file F | --old-secret-env VAR ...]`: put dead
  letters back at the end of their streams. Dead letters sealed with a key this terminal
  does not hold (items of a terminal secret rotated before the outbox had its own data
  key) stay where they are, listed, and the exit status is 1; given the secret they were
  written under, they are re-sealed under the data key and queued like the others.
- `flush`: deliver now (ignoring backoff); exit 0 if the outbox is empty afterwards,
  1 if anything is left (the reason per stream is printed), 2 if it cannot run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any


def _services(args: argparse.Namespace) -> Any:
    from kiosk.config import load_config
    from kiosk.offline import OfflineServices, embedded_secret
    from kiosk.runtime import read_secret

    cfg = load_config(args.config)

    def secret() -> bytes:
        if cfg.backend.url == "embedded":
            return embedded_secret(cfg.data_dir)
        return read_secret(cfg)

    return cfg, OfflineServices(cfg, secret, old_secrets=_old_secrets(args)), secret


def _parse_secret(value: str) -> bytes:
    """A secret as the terminal reads it (hex, else the text itself)."""
    value = value.strip()
    try:
        return bytes.fromhex(value)
    except ValueError:
        return value.encode()


def _old_secrets(args: argparse.Namespace) -> list[bytes]:
    out = []
    for path in getattr(args, "old_secret_file", None) or []:
        try:
            out.append(_parse_secret(Path(path).expanduser().read_text()))
        except OSError as exc:
            print(f"cannot read --old-secret-file {path}: {exc.strerror}", file=sys.stderr)
            raise SystemExit(2) from None
    for name in getattr(args, "old_secret_env", None) or []:
        if not os.environ.get(name):
            print(f"--old-secret-env {name}: the variable is not set", file=sys.stderr)
            raise SystemExit(2)
        out.append(_parse_secret(os.environ[name]))
    return out


def _open(args: argparse.Namespace) -> tuple[Any, Any, Any]:
    cfg, services, secret = _services(args)
    outbox = services.open()
    if outbox is None:
        print(f"outbox unavailable: {services.error}", file=sys.stderr)
        if services.error_detail:
            print(services.error_detail, file=sys.stderr)
        raise SystemExit(2)
    return cfg, services, secret


def cmd_status(args: argparse.Namespace) -> int:
    _, services, _ = _open(args)
    try:
        data = services.outbox.status().as_dict()
    finally:
        services.close()
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=1))
        return 0
    print(f"queued: {data['items']} item(s), {data['bytes']} bytes; "
          f"accepting citizen submissions: {'yes' if data['accepting'] else data['refusal']}")
    for s in data["streams"]:
        print(f"  {s['stream']:<16} depth {s['depth']:>6}  oldest {s['oldest_age_s']}s  "
              f"attempts {s['attempts']}  next in {s['next_attempt_in_s']}s  {s['last_error']}")
    print(f"dead letters: {data['dead_letters']}")
    for d in data["dead"]:
        print(f"  {d['stream']:<16} {d['key']}  status {d['status']}  {d['reason']}")
    if data["dropped_telemetry"] or data["refused"]:
        print(f"telemetry dropped: {data['dropped_telemetry']}; refused: {data['refused']}")
    for i in data["incidents"]:
        print(f"SET ASIDE at start ({i['kind']}): {i['path']}: {i['detail']}")
    return 0


def cmd_retry_dead(args: argparse.Namespace) -> int:
    _, services, _ = _open(args)
    try:
        n = services.outbox.retry_dead(args.key or None, skip_unreadable=True)
        stuck = services.outbox.unreadable_dead(args.key or None)
    finally:
        services.close()
    print(f"{n} dead letter(s) queued again")
    for kid, keys in stuck.items():
        print(f"{len(keys)} dead letter(s) left: sealed with key {kid}, which this terminal "
              f"does not hold (a terminal secret rotated earlier); run again with "
              f"--old-secret-file FILE holding the secret they were written under: "
              f"{', '.join(keys[:10])}{' …' if len(keys) > 10 else ''}")
    return 1 if stuck else 0


def cmd_flush(args: argparse.Namespace) -> int:
    from kiosk.backend.client import BackendClient
    from offline_cache.replay import HttpDeliverer, ReplayWorker

    cfg, services, secret = _open(args)
    if cfg.backend.url == "embedded":
        print("backend.url is 'embedded': there is no platform to deliver to", file=sys.stderr)
        services.close()
        return 2
    client = BackendClient(cfg.backend.url, cfg.terminal.id, secret(),
                           connect_timeout=cfg.backend.connect_timeout_s,
                           read_timeout=cfg.backend.read_timeout_s)
    worker = ReplayWorker(services.outbox, HttpDeliverer(client),
                          batch_size=cfg.offline.batch_size)
    try:
        started = time.monotonic()
        left = worker.flush(lock_timeout=args.wait)
        report = worker.last_report
        dead = len(services.outbox.status().dead)
    finally:
        services.close()
    print(f"delivered {report.delivered}, dead-lettered {report.dead}, left {left} "
          f"({time.monotonic() - started:.1f}s); dead letters now {dead}")
    for stream, error in report.failed_streams.items():
        print(f"  {stream}: {error}")
    return 0 if left == 0 else 1


def register(sub: Any) -> None:
    p = sub.add_parser("outbox", help="offline outbox: status, retry dead letters, flush")
    osub = p.add_subparsers(dest="outbox_command", required=True)

    s = osub.add_parser("status", help="depth per stream, oldest age, dead letters")
    s.add_argument("--config")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_status)

    s = osub.add_parser("retry-dead", help="queue dead letters again")
    s.add_argument("--config")
    s.add_argument("--key", action="append", help="only this idempotency key (repeatable)")
    s.add_argument("--old-secret-file", action="append", metavar="FILE",
                   help="a terminal secret used before a rotation: dead letters written "
                        "under it are re-sealed and queued (repeatable)")
    s.add_argument("--old-secret-env", action="append", metavar="VAR",
                   help="the same, from an environment variable (repeatable)")
    s.set_defaults(func=cmd_retry_dead)

    s = osub.add_parser("flush", help="deliver now; exit 1 if anything is left")
    s.add_argument("--config")
    s.add_argument("--wait", type=float, default=30.0,
                   help="seconds to wait for a replay pass running in the kiosk")
    s.set_defaults(func=cmd_flush)
