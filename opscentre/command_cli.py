"""`kiosk-ops keys …` and `kiosk-ops command …` (the parser is in `opscentre.cli`).

    kiosk-ops keys init [--dir DIR] [--json]     the centre's signing key pair (kept if there)
    kiosk-ops keys show [--dir DIR] [--json]     its public key, to pin on terminals
    kiosk-ops command TERMINAL ACTION [key=value …] [--wait] [--json] [--timeout S]
        [--ttl S] [--save FILE] (--stack DIR | --db URL --broker URL) [--key FILE]

`command` stores the command (with its audit entry, actor `cli:<user>` unless
`--operator`), signs it and publishes it itself; its answers reach the database through a
running centre's ingest (`kiosk-ops serve` or `stack`), which `--wait` reads. With
`--wait --json` it prints exactly one line, `{"id", "state", "result"}`, where `result`
is the terminal's result (with the attachment's name, type, size and sha256, and
`reason`/`detail` when the terminal gave them). Exit status: 0 when the command is done
(or, without `--wait`, sent), 1 when it is not, 2 when it could not be made.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import time
from pathlib import Path
from typing import Any

from kiosk.fleet import commands_protocol as cp
from opscentre import commands, signing
from opscentre.cli import CliError as UsageError
from opscentre.commands import CommandError, CommandService, Publisher
from opscentre.models import Command, CommandFile


# -- keys ---------------------------------------------------------------------------------
def _key_facts(key: signing.CommandKey, directory: Path, created: bool | None) -> dict[str, Any]:
    out: dict[str, Any] = {"public_key": key.public_b64, "key_id": key.key_id,
                           "private_file": str(directory / signing.PRIVATE_FILE),
                           "public_file": str(directory / signing.PUBLIC_FILE)}
    if created is not None:
        out["created"] = created
    return out


def _print_key(facts: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(facts), flush=True)
        return
    created = facts.get("created")
    made = "" if created is None else "made now" if created else "kept (already there)"
    print(f"public key   {facts['public_key']}\n"
          f"key id       {facts['key_id']}\n"
          f"private key  {facts['private_file']}  (0600{', ' + made if made else ''})\n"
          f"public file  {facts['public_file']}\n"
          "Pin the public key on every terminal: [fleet] command_key = \"<public key or "
          "the public file's path>\"", flush=True)


def cmd_keys_init(args: argparse.Namespace) -> int:
    directory = Path(args.dir) if args.dir else signing.default_dir()
    try:
        key, created = signing.init_keys(directory.resolve())
    except (signing.SigningKeyError, OSError) as exc:
        raise UsageError(str(exc)) from None
    _print_key(_key_facts(key, directory.resolve(), created), args.json)
    return 0


def cmd_keys_show(args: argparse.Namespace) -> int:
    directory = (Path(args.dir) if args.dir else signing.default_dir()).resolve()
    try:
        key = signing.load_key(directory / signing.PRIVATE_FILE)
    except signing.SigningKeyError as exc:
        raise UsageError(f"{exc} (kiosk-ops keys init makes one)") from None
    _print_key(_key_facts(key, directory, None), args.json)
    return 0


# -- command ------------------------------------------------------------------------------
def _where(args: argparse.Namespace) -> tuple[str, str, str, str, str]:
    """(database URL, broker URL, broker user, broker password, key file)."""
    if args.stack:
        from opscentre.broker import BrokerSetup

        root = Path(args.stack).resolve()
        try:
            setup = BrokerSetup.load(root / "broker")
        except (OSError, ValueError, KeyError) as exc:
            raise UsageError(f"--stack {root}: no kiosk-ops stack there ({exc})") from None
        return (f"sqlite:///{root / 'centre.db'}", args.broker or setup.url, "opscentre",
                setup.password("opscentre"),
                args.key or str(root / "keys" / signing.PRIVATE_FILE))
    db = args.db or os.environ.get("KIOSK_OPS_DB") or "opscentre.db"
    if not args.broker:
        raise UsageError("give --stack DIR, or --broker URL (and --db URL)")
    password = os.environ.get("KIOSK_OPS_BROKER_PASSWORD", "")
    if args.broker_password_file:
        try:
            password = Path(args.broker_password_file).read_text().strip()
        except OSError as exc:
            raise UsageError(f"--broker-password-file: {exc.strerror}") from None
    key = args.key or os.environ.get("KIOSK_OPS_COMMAND_KEY") or str(
        signing.default_dir() / signing.PRIVATE_FILE)
    return db, args.broker, args.broker_user, password, key


def _operator(args: argparse.Namespace) -> str:
    if args.operator:
        return str(args.operator)
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return f"cli:{os.getuid()}"


def _done_waiting(db: Any, cid: str) -> bool:
    cmd = db.get(Command, cid, populate_existing=True)
    if cmd is None or not commands.is_final(commands.shown_state(cmd)):
        return False
    if cmd.state != "done" or cmd.action not in ("screenshot", "logs"):
        return True
    f = db.get(CommandFile, cid, populate_existing=True)
    # a done screenshot or log bundle: wait for all its chunks too
    return f is not None and (f.data is not None or bool(f.problem))


def _outcome(db: Any, cid: str, save: str | None) -> dict[str, Any]:
    row = commands.get_command(db, cid)
    assert row is not None
    result = dict(row["result"])
    att = row["attachment"]
    if att is not None:
        result["attachment"] = {k: att[k] for k in ("name", "media_type", "size", "sha256",
                                                     "complete", "problem")}
        f = commands.attachment(db, cid)
        if save and f is not None and f.data is not None:
            Path(save).write_bytes(f.data)
            result["attachment"]["saved"] = str(Path(save).resolve())
    for k in ("reason", "detail"):
        if row[k]:
            result[k] = row[k]
    return {"id": cid, "state": row["state"], "result": result}


def cmd_command(args: argparse.Namespace) -> int:
    from opscentre.db import make_engine, make_sessionmaker, upgrade

    if args.action not in cp.ACTIONS:
        raise UsageError(f"unknown action {args.action!r}; one of {', '.join(cp.ACTIONS)}")
    try:
        cmd_args = cp.parse_args_text(args.action, args.args)
    except cp.CommandRefused as exc:
        raise UsageError(f"arguments of {args.action}: {exc.detail or exc.reason}") from None
    db_url, broker, user, password, key_file = _where(args)
    try:
        key = signing.load_key(key_file)
    except signing.SigningKeyError as exc:
        raise UsageError(f"signing key: {exc}") from None
    try:
        publisher = Publisher(broker, user, password, ca_file=args.ca_file or "").start(10.0)
    except ValueError as exc:
        raise UsageError(f"--broker: {exc}") from None
    engine = make_engine(db_url, writer=True)
    try:
        upgrade(engine)
        sessions = make_sessionmaker(engine)
        service = CommandService(key, publisher)
        with sessions() as db:
            try:
                [cmd] = service.issue(db, commands.Request(
                    (args.terminal,), args.action, cmd_args, args.ttl), _operator(args))
            except CommandError as exc:
                raise UsageError(f"{exc.key}: {exc.detail}" if exc.detail else exc.key) \
                    from None
            cid = cmd.id
        if args.wait:
            limit = args.timeout if args.timeout is not None else (
                (cmd.expires_at - cmd.issued_at).total_seconds() + commands.NO_ANSWER_GRACE_S
                + 5)
            deadline = time.monotonic() + limit
            with sessions() as db:
                while not _done_waiting(db, cid) and time.monotonic() < deadline:
                    db.rollback()  # a fresh snapshot next round
                    time.sleep(0.1)
        with sessions() as db:
            out = _outcome(db, cid, args.save)
    finally:
        publisher.stop()
        engine.dispose()
    if args.json:
        print(json.dumps(out, ensure_ascii=False, separators=(",", ":")), flush=True)
    else:
        print(f"command {out['id']} ({args.action} to {args.terminal}): {out['state']}")
        for k, v in out["result"].items():
            print(f"  {k}: {json.dumps(v, ensure_ascii=False)}")
    ok = out["state"] == "done" if args.wait else out["state"] not in ("unsent",)
    return 0 if ok else 1


def add_parsers(sub: Any, db_options: Any) -> None:
    """The `keys` and `command` sub-commands of `kiosk-ops`."""
    k = sub.add_parser("keys", help="the centre's command-signing key").add_subparsers(
        dest="action", required=True)
    for name, fn, text in (("init", cmd_keys_init, "make the key pair (an existing one is kept)"),
                           ("show", cmd_keys_show, "print the public key to pin")):
        p = k.add_parser(name, help=text)
        p.add_argument("--dir", help="the key's folder ($KIOSK_OPS_KEY_DIR, else ./ops-keys)")
        p.add_argument("--json", action="store_true", help="one JSON line")
        p.set_defaults(func=fn)

    c = sub.add_parser("command", help="send a signed command to a terminal",
                       description="Actions: " + ", ".join(cp.ACTIONS) + ". Arguments as "
                       "key=value: selftest device=receipt, print_test printer=a4, set_volume "
                       "level=40, screen_schedule off=23:00 on=06:30, out_of_service "
                       "message.zh_CN=… message.zh_HK=… message.en=…")
    c.add_argument("terminal")
    c.add_argument("action")
    c.add_argument("args", nargs="*", metavar="key=value")
    c.add_argument("--wait", action="store_true", help="wait for the terminal's final answer")
    c.add_argument("--json", action="store_true", help="one JSON line: id, state, result")
    c.add_argument("--timeout", type=float, metavar="S",
                   help="how long --wait waits (default: the command's time limit)")
    c.add_argument("--ttl", type=float, metavar="S", help="the command's time limit")
    c.add_argument("--save", metavar="FILE", help="write the screenshot or log bundle here")
    c.add_argument("--operator", help="who sends it, for the audit log (default cli:$USER)")
    db_options(c)
    c.add_argument("--broker", help="mqtt://host:port (default: the stack's)")
    c.add_argument("--broker-user", default="opscentre")
    c.add_argument("--broker-password-file", help="else $KIOSK_OPS_BROKER_PASSWORD")
    c.add_argument("--ca-file", help="CA of the broker's certificate (mqtts://)")
    c.add_argument("--key", help="the signing key (default: the stack's, else "
                   "$KIOSK_OPS_COMMAND_KEY, else ./ops-keys/command-key.pem)")
    c.set_defaults(func=cmd_command)
