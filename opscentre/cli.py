"""`kiosk-ops`: the operations centre's command line.

    kiosk-ops serve --broker URL --db URL --listen HOST:PORT [--config FILE] [--instance NAME]
    kiosk-ops stack --dir DIR [--json] [--listen HOST:PORT] [--simulated N]
    kiosk-ops simulate --stack DIR --terminals N --seconds S      (opscentre.simulate)
    kiosk-ops user add NAME --role ROLE [--db URL | --stack DIR]  (password on stdin; ROLE:
                                                   viewer, agent, operator, admin)
    kiosk-ops token create NAME [--role ROLE] [--db URL | --stack DIR]
    kiosk-ops migrate [--db URL | --stack DIR]
    kiosk-ops bench [--json] [--quick]
    kiosk-ops keys init|show [--dir DIR] [--json]                 (opscentre.command_cli)
    kiosk-ops command TERMINAL ACTION [key=value …] [--wait] [--json] (--stack DIR | --db …)
    kiosk-ops rollout start|status|halt|resume|rollback …         (opscentre.rollout_cli)
    kiosk-ops assist calls [--json] [--terminal ID] (--stack DIR | --db …) (opscentre.assist.cli)

The database is `--db`, else `$KIOSK_OPS_DB`, else `opscentre.db` here (SQLite).
The centre's broker password: `--broker-password-file`, else `$KIOSK_OPS_BROKER_PASSWORD`.
"""

from __future__ import annotations

import argparse
import getpass
import importlib
import json
import logging
import os
import secrets
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger("opscentre")

DEMO_TERMINAL = "DG-DEMO-0001"
STACK_FILE = "stack.json"


class CliError(Exception):
    pass


def _db_of(args: argparse.Namespace) -> str:
    if getattr(args, "stack", None):
        return f"sqlite:///{Path(args.stack).resolve() / 'centre.db'}"
    return str(args.db or os.environ.get("KIOSK_OPS_DB") or "opscentre.db")


def _sessions(args: argparse.Namespace) -> Any:
    from opscentre.db import make_engine, make_sessionmaker, upgrade

    engine = make_engine(_db_of(args), writer=True)
    upgrade(engine)
    return make_sessionmaker(engine)


# -- serve -------------------------------------------------------------------------------------
def _broker_password(args: argparse.Namespace) -> str:
    if args.broker_password_file:
        try:
            return Path(args.broker_password_file).read_text().strip()
        except OSError as exc:
            raise CliError(f"--broker-password-file: {exc.strerror}") from None
    return os.environ.get("KIOSK_OPS_BROKER_PASSWORD", "")


def cmd_serve(args: argparse.Namespace) -> int:
    from kiosk.fleet.link import BrokerUrlError, parse_broker_url
    from opscentre import settings as settings_mod
    from opscentre.server import Centre, ServeOptions, parse_listen

    try:
        parse_broker_url(args.broker)
        host, port = parse_listen(args.listen)
        settings = settings_mod.load(args.config)
    except (BrokerUrlError, ValueError) as exc:
        raise CliError(str(exc)) from None
    command_key = args.command_key or os.environ.get("KIOSK_OPS_COMMAND_KEY", "")
    if command_key:
        from opscentre.signing import SigningKeyError, load_key

        try:
            load_key(command_key)
        except SigningKeyError as exc:
            raise CliError(f"--command-key: {exc}") from None
    centre = Centre(ServeOptions(
        broker=args.broker, db=_db_of(args), host=host, port=port,
        broker_user=args.broker_user, broker_password=_broker_password(args),
        ca_file=args.ca_file or "", instance=args.instance or "", settings=settings,
        command_key=command_key))
    centre.run(lambda c: print(json.dumps({"console": c.console_url}), flush=True))
    return 0


# -- stack ---------------------------------------------------------------------------------------
def _stack_login(sessions: Any, root: Path) -> dict[str, Any]:
    """The stack's admin login, a hall agent's login and an API token: made once, kept in
    DIR/stack.json (0600)."""
    from opscentre import auth
    from opscentre.web.models import ApiToken, User

    path = root / STACK_FILE
    try:
        kept = json.loads(path.read_text())
    except (OSError, ValueError):
        kept = {}
    with sessions() as db:
        user = db.query(User).filter_by(name=kept.get("login", {}).get("user", "")).first()
        token = db.query(ApiToken).filter_by(name=kept.get("token_name", "")).first()
        if user is None:
            name, password = "admin", secrets.token_urlsafe(12)
            if db.query(User).filter_by(name=name).first() is not None:
                name = f"admin-{secrets.token_hex(3)}"
            auth.add_user(db, name, "admin", password, by="stack")
            kept["login"] = {"user": name, "password": password}
        agent = db.query(User).filter_by(name=kept.get("agent", {}).get("user", "")).first()
        if agent is None:  # remote help's hall agent (docs/assist.md): answers calls at /assist
            name, password = "agent", secrets.token_urlsafe(12)
            if db.query(User).filter_by(name=name).first() is not None:
                name = f"agent-{secrets.token_hex(3)}"
            auth.add_user(db, name, "agent", password, by="stack")
            kept["agent"] = {"user": name, "password": password}
        if token is None or token.revoked_at is not None:
            kept["token_name"] = f"stack-{secrets.token_hex(4)}"
            kept["token"] = auth.create_token(db, kept["token_name"], "operator", by="stack")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(kept, f, indent=1)
    return kept


def cmd_stack(args: argparse.Namespace) -> int:
    from opscentre.broker import BrokerError, Mosquitto, embedded_broker
    from opscentre.server import Centre, ServeOptions, parse_listen

    root = Path(args.dir).resolve()
    root.mkdir(parents=True, exist_ok=True)
    host, port = parse_listen(args.listen)
    terminals = [DEMO_TERMINAL, *args.terminal,
                 *(f"SIM-{n:05d}" for n in range(1, args.simulated + 1))]
    from opscentre.signing import SigningKeyError, init_keys

    try:
        key, _ = init_keys(root / "keys")  # commands: the demo terminal pins its public half
    except (SigningKeyError, OSError) as exc:
        raise CliError(f"signing key: {exc}") from None
    from opscentre import rollout_cli
    from opscentre.settings import AssistSettings, CentreSettings

    # rollouts: a TUF repository served at /repo/, demo packages in its inbox (first run)
    packages = rollout_cli.stack_repository(root)
    rollout_cli.demo_packages(root, packages)
    try:
        setup = embedded_broker(root / "broker", terminals)
        broker = Mosquitto(setup).start()
    except BrokerError as exc:
        raise CliError(str(exc)) from None
    try:
        centre = Centre(ServeOptions(
            broker=setup.url, db=f"sqlite:///{root / 'centre.db'}", host=host, port=port,
            broker_password=setup.password("opscentre"), instance="stack",
            command_key=str(key.path), settings=CentreSettings(rollouts=packages, assist=(
                AssistSettings(terminal_password_file=str(setup.root / "passwd"))))))
        centre.migrate()
        kept = _stack_login(centre.sessions, root)

        def announce(c: Centre) -> None:
            info = {"console": c.console_url, "broker": setup.url, "token": kept["token"],
                    "login": kept["login"], "agent": kept["agent"],
                    "command_key": {"public": key.public_b64, "key_id": key.key_id,
                                    "file": str(root / "keys" / "command-key.pub")},
                    "repository": f"{c.console_url}/repo",
                    "trusted_root": str(root / "repo" / "metadata" / "1.root.json")}
            kept.update(console=c.console_url, broker=setup.url,
                        command_key=info["command_key"], repository=info["repository"],
                        trusted_root=info["trusted_root"],
                        broker_pid=broker.proc.pid if broker.proc else None)
            fd = os.open(root / STACK_FILE, os.O_WRONLY | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                json.dump(kept, f, indent=1)
            if args.json:
                print(json.dumps(info, ensure_ascii=False), flush=True)
            else:
                print(f"console  {info['console']}\nlogin    {kept['login']['user']} / "
                      f"{kept['login']['password']}\nagent    {info['console']}/assist  "
                      f"{kept['agent']['user']} / {kept['agent']['password']}\n"
                      f"broker   {setup.url}\ntoken    "
                      f"{kept['token']}\nstack    {root}  (Ctrl-C stops)", flush=True)

        centre.run(announce)
    finally:
        broker.stop()
    return 0


# -- accounts ------------------------------------------------------------------------------------
def _read_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("password: ")
        if getpass.getpass("again: ") != first:
            raise CliError("the passwords differ")
        return first
    line = sys.stdin.readline()
    return line.removesuffix("\n")


def cmd_user_add(args: argparse.Namespace) -> int:
    from opscentre import auth

    password = _read_password()
    sessions = _sessions(args)
    try:
        with sessions() as db:
            auth.add_user(db, args.name, args.role, password, by="cli")
    except auth.AuthError as exc:
        raise CliError(f"user {args.name!r} not added: {exc.key}") from None
    print(f"user {args.name} added ({args.role})")
    return 0


def cmd_token_create(args: argparse.Namespace) -> int:
    from opscentre import auth

    sessions = _sessions(args)
    try:
        with sessions() as db:
            token = auth.create_token(db, args.name, args.role, by="cli")
    except auth.AuthError as exc:
        raise CliError(f"token {args.name!r} not created: {exc.key}") from None
    print(token)  # the only time it is shown
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from opscentre.db import current_revision, make_engine, upgrade

    engine = make_engine(_db_of(args), writer=True)
    upgrade(engine)
    print(f"database at revision {current_revision(engine)}")
    return 0


def cmd_simulate(args: argparse.Namespace, rest: list[str]) -> int:
    try:
        simulate = importlib.import_module("opscentre.simulate")
    except ImportError:
        raise CliError("the fleet simulator (opscentre/simulate.py) is not installed") from None
    return int(simulate.main(rest) or 0)


def cmd_bench(args: argparse.Namespace) -> int:
    bench = importlib.import_module("opscentre.bench")
    return int(bench.main(args))


# -- parser --------------------------------------------------------------------------------------
def _db_options(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--db", help="database URL or SQLite file ($KIOSK_OPS_DB)")
    g.add_argument("--stack", metavar="DIR", help="the database of `kiosk-ops stack --dir DIR`")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kiosk-ops", description="莞家政务 operations centre")
    p.add_argument("-v", "--verbose", action="store_true")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("serve", help="ingest, alerts, notifications and the console")
    s.add_argument("--broker", required=True, help="mqtt://host:port or mqtts://host:port")
    s.add_argument("--db", help="database URL or SQLite file ($KIOSK_OPS_DB)")
    s.add_argument("--listen", default="127.0.0.1:8780", help="HOST:PORT of the console")
    s.add_argument("--config", help="the centre's TOML (alert thresholds, notifications)")
    s.add_argument("--instance", help="this instance's name (default: the host name); the "
                   "same name after a restart resumes its broker session")
    s.add_argument("--broker-user", default="opscentre")
    s.add_argument("--broker-password-file")
    s.add_argument("--ca-file", help="CA of the broker's certificate (mqtts://)")
    s.add_argument("--command-key", metavar="FILE", help="the commands' signing key "
                   "(kiosk-ops keys init; else $KIOSK_OPS_COMMAND_KEY; none: no commands)")
    s.set_defaults(func=cmd_serve)

    st = sub.add_parser("stack", help="a private broker and the centre on SQLite, for demos")
    st.add_argument("--dir", required=True)
    st.add_argument("--json", action="store_true", help="one JSON line once it is up")
    st.add_argument("--listen", default="127.0.0.1:0")
    st.add_argument("--simulated", type=int, default=50, metavar="N",
                    help="credentials for simulated terminals SIM-00001… (default 50)")
    st.add_argument("--terminal", action="append", default=[], metavar="ID",
                    help="provision another terminal (repeatable)")
    st.set_defaults(func=cmd_stack)

    sub.add_parser("simulate", help="simulated terminals (options: kiosk-ops simulate -h)",
                   add_help=False)

    u = sub.add_parser("user", help="console accounts").add_subparsers(dest="action",
                                                                        required=True)
    ua = u.add_parser("add", help="add an account (password on standard input)")
    ua.add_argument("name")
    ua.add_argument("--role", required=True, choices=("viewer", "agent", "operator", "admin"))
    _db_options(ua)
    ua.set_defaults(func=cmd_user_add)

    t = sub.add_parser("token", help="API tokens").add_subparsers(dest="action", required=True)
    tc = t.add_parser("create", help="a bearer token for scripts (printed once)")
    tc.add_argument("name")
    tc.add_argument("--role", default="viewer", choices=("viewer", "operator", "admin"))
    _db_options(tc)
    tc.set_defaults(func=cmd_token_create)

    m = sub.add_parser("migrate", help="bring the database's schema up to date")
    _db_options(m)
    m.set_defaults(func=cmd_migrate)

    b = sub.add_parser("bench", help="ingest rate, offline detection, API p95, storage, RSS")
    b.add_argument("--json", action="store_true")
    b.add_argument("--quick", action="store_true", help="small numbers (a smoke run)")
    b.set_defaults(func=cmd_bench)

    from opscentre import command_cli, rollout_cli
    from opscentre.assist import cli as assist_cli

    command_cli.add_parsers(sub, _db_options)
    rollout_cli.add_parsers(sub, _db_options)
    assist_cli.add_parsers(sub, _db_options)  # remote help's call records (issue 19)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.DEBUG if "-v" in argv or "--verbose" in argv
                        else logging.INFO, format="%(asctime)s %(levelname)s %(name)s: "
                        "%(message)s", stream=sys.stderr)
    if "-v" not in argv and "--verbose" not in argv:  # alembic lists its plugins at INFO on
        logging.getLogger("alembic").setLevel(logging.WARNING)  # every command otherwise
    if argv[:1] == ["simulate"]:  # its options are the simulator's own
        try:
            return cmd_simulate(argparse.Namespace(), argv[1:])
        except CliError as exc:
            print(f"kiosk-ops: {exc}", file=sys.stderr)
            return 2
    args = parser().parse_args(argv)
    try:
        return int(args.func(args))
    except CliError as exc:
        print(f"kiosk-ops: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    # `python -m opscentre.cli` runs this file as __main__: main() of the imported module,
    # so that a CliError raised by a sub-command's module (opscentre.command_cli) is the
    # class main() catches, not a second copy of it
    from opscentre.cli import main as _main

    sys.exit(_main())
