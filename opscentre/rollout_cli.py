"""`kiosk-ops rollout …` (the parser is in `opscentre.cli`) and the stack's repository.

    kiosk-ops rollout start PKG@VERSION [--file ARCHIVE] [--waves 0,5,25,100]
        [--soak-minutes M] [--max-rejected R] [--max-rolled-back R] [--max-error-screens R]
        [--min-sessions N] [--operator NAME] [--json]
    kiosk-ops rollout status [ID | PKG@VERSION | PKG] [--json]
    kiosk-ops rollout halt REF [--note TEXT] [--json]
    kiosk-ops rollout resume REF [--json]
    kiosk-ops rollout rollback REF [--json]
    (each with --stack DIR, or --db URL and --config FILE with a [rollouts] section)

The command works on the database and the repository folder directly, as the console
does; a running centre (`kiosk-ops serve` or `stack`) evaluates the waves. `--json`
prints one line (the rollout with its waves' live counts). Exit status: 0 done, 1 refused
(the reason's key and detail on stderr), 2 a usage error.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path
from typing import Any

from opscentre import rollouts
from opscentre.rollouts import RolloutError, StartSpec
from opscentre.settings import RolloutSettings

STACK_SOAK_S = 60.0  # the demo's waves soak for a minute


# -- the embedded stack's repository -------------------------------------------------------------
def stack_repository(root: Path) -> RolloutSettings:
    """A TUF repository for `kiosk-ops stack --dir DIR` (made once): DIR/repo (served at
    /repo/), its online keys in DIR/package-keys, an inbox DIR/inbox. The root key is
    made here too (DIR/package-root, 0600): fine for a demo on one machine; a deployment
    keeps root keys offline (docs/ops-guide.md)."""
    from kiosk.packages import keys as keymod
    from kiosk.packages.repository import Repository

    repo, keys, offline, inbox = (root / "repo", root / "package-keys", root / "package-root",
                                  root / "inbox")
    inbox.mkdir(parents=True, exist_ok=True)
    if not (repo / "metadata" / "root.json").is_file():
        for role in ("targets", "snapshot", "timestamp", "signer"):
            if not (keys / f"{role}.key").exists():
                keymod.generate(keys, role)
        if not (offline / "root.key").exists():
            keymod.generate(offline, "root")
        Repository(repo).write_root(
            root_keys=[keymod.load_public(offline / "root.pub")], root_threshold=1,
            role_keys={r: [keymod.load_public(keys / f"{r}.pub")]
                       for r in ("targets", "snapshot", "timestamp")},
            role_thresholds={}, signers=[keymod.load_private(offline / "root.key")])
    return RolloutSettings(repository=str(repo), keys=str(keys), inbox=str(inbox),
                           serve_repository=True, soak_s=STACK_SOAK_S)


def _settings(args: argparse.Namespace) -> RolloutSettings:
    from opscentre import settings as settings_mod

    if getattr(args, "stack", None):
        root = Path(args.stack).resolve()
        if not (root / "repo" / "metadata" / "root.json").is_file():
            raise RolloutError("rollout.error.no_repository", 409,
                               f"{root} is not a kiosk-ops stack folder with a repository")
        return stack_repository(root)
    if getattr(args, "config", None):
        try:
            return settings_mod.load(args.config).rollouts
        except settings_mod.SettingsError as exc:
            raise RolloutError("rollout.error.bad_request", 400, str(exc)) from None
    return RolloutSettings()


# -- output ---------------------------------------------------------------------------------------
def _pct(v: float | None) -> str:
    return "—" if v is None else f"{v * 100:.1f} %"


def _text(d: dict[str, Any]) -> str:
    lines = [(f"rollout #{d['id']} {d['label']}  {d['state']}  wave {d['wave'] + 1}/"
             f"{len(d['waves'])} ({d['scope']})  previous {d['previous_version'] or '—'}")]
    if d["state"] == "halted":
        h = d["halt_detail"]
        if d["halt_reason"] == "rollout.halt.operator":
            lines.append(f"halted by {h.get('by')}" + (f": {d['note']}" if d.get("note") else ""))
        else:
            lines.append(f"halted by itself in wave {h['wave'] + 1}: {h['rule']} "
                         f"{_pct(h['rate'])} > {_pct(h['threshold'])} ({h['count']} of "
                         f"{h['of']}); first failing terminal {h.get('terminal') or '—'}")
    t = d["thresholds"]
    lines.append(f"thresholds: rejected {_pct(t['rejected'])}, rolled back "
                 f"{_pct(t['rolled_back'])}, error screens {_pct(t['error_screens'])} "
                 f"(after {int(t['min_sessions'])} sessions); soak {d['soak_s']:g} s")
    lines.append(f"{'wave':<5}{'scope':<8}{'terms':>6}{'answ':>6}{'activ':>7}{'rej':>5}"
                 f"{'rollb':>7}{'err/sess':>10}  state")
    for w in d["waves_detail"]:
        s = w["stats"]
        when = ("passed" if w["passed_at"] else "soaking" if w["soak_until"] else
                "waiting" if w["published_at"] else "not yet")
        if s and w["published_at"]:
            c = s["counts"]
            lines.append(f"{w['index'] + 1:<5}{w['scope']:<8}{s['terminals']:>6}"
                         f"{s['answered']:>6}{c['activated']:>7}{c['rejected']:>5}"
                         f"{c['rolled_back']:>7}{s['error_screens']:>5}/{s['sessions']:<4}  "
                         f"{when}")
        else:
            lines.append(f"{w['index'] + 1:<5}{w['scope']:<8}{'':>41}  {when}")
    if d.get("back_on_previous") is not None:
        lines.append(f"back on {d['previous_version']}: {d['back_on_previous']} terminal(s)")
    return "\n".join(lines)


def _show(d: dict[str, Any], as_json: bool) -> None:
    print(json.dumps(d, ensure_ascii=False) if as_json else _text(d), flush=True)


# -- commands ---------------------------------------------------------------------------------
def _operator(args: argparse.Namespace) -> str:
    return args.operator or f"cli:{getpass.getuser()}"


def _run(args: argparse.Namespace, fn: Any) -> int:
    from opscentre.cli import _sessions

    try:
        settings = _settings(args)
        with _sessions(args)() as db:
            out = fn(db, rollouts.Publisher(settings), settings)
    except RolloutError as exc:
        print(f"kiosk-ops rollout: {exc.key}" + (f": {exc.detail}" if exc.detail else ""),
              file=sys.stderr)
        return 1
    _show(out, args.json)
    return 0


def cmd_start(args: argparse.Namespace) -> int:
    from opscentre.cli import CliError

    def go(db: Any, publisher: rollouts.Publisher, settings: RolloutSettings) -> Any:
        archive = Path(args.file) if args.file else \
            rollouts.inbox_archives(settings).get(args.package)
        try:
            spec = StartSpec.parse(
                args.package, settings, waves=args.waves, archive=archive,
                soak_s=None if args.soak_minutes is None else args.soak_minutes * 60,
                thresholds={"rejected": args.max_rejected, "rolled_back": args.max_rolled_back,
                            "error_screens": args.max_error_screens,
                            "min_sessions": args.min_sessions})
        except ValueError as exc:
            raise CliError(str(exc)) from None
        return rollouts.describe(db, rollouts.start(db, publisher, spec, _operator(args)))

    return _run(args, go)


def cmd_status(args: argparse.Namespace) -> int:
    if args.ref:
        return _run(args, lambda db, _p, _s: rollouts.describe(db, rollouts.find(db, args.ref)))
    from opscentre.cli import _sessions

    with _sessions(args)() as db:
        rows = rollouts.listing(db)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False), flush=True)
    else:
        for r in rows:
            print(f"#{r['id']:<4} {r['label']:<28} {r['state']:<12} wave {r['wave'] + 1}/"
                  f"{len(r['waves'])} ({r['scope']})  {r['created_by']} {r['created_at']}")
    return 0


def _action(fn: Any, **extra: Any) -> Any:
    def cmd(args: argparse.Namespace) -> int:
        kw = {k: getattr(args, k) for k in extra}

        def go(db: Any, publisher: rollouts.Publisher, _s: RolloutSettings) -> Any:
            r = rollouts.find(db, args.ref)
            return rollouts.describe(db, fn(db, publisher, r.id, _operator(args), "", **kw))

        return _run(args, go)
    return cmd


def add_parsers(sub: Any, db_options: Any) -> None:
    """The `rollout` sub-commands of `kiosk-ops`."""
    r = sub.add_parser("rollout", help="guarded package rollouts through the TUF repository"
                       ).add_subparsers(dest="action", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        db_options(p)
        p.add_argument("--config", help="the centre's TOML with [rollouts] (repository, keys)")
        p.add_argument("--operator", help="who acts, for the audit log (default cli:$USER)")
        p.add_argument("--json", action="store_true", help="one JSON line")

    s = r.add_parser("start", help="publish PKG@VERSION to the first wave")
    s.add_argument("package", metavar="PKG@VERSION")
    s.add_argument("--file", help="its built and signed archive (.sig beside it); default: "
                   "the inbox's, or the target already in the repository")
    s.add_argument("--waves", help="0,5,25,100: 0 = ring 0 (lab terminals), then percent")
    s.add_argument("--soak-minutes", type=float, metavar="M",
                   help="how long each wave stays healthy before the next")
    s.add_argument("--max-rejected", type=float, metavar="R")
    s.add_argument("--max-rolled-back", type=float, metavar="R")
    s.add_argument("--max-error-screens", type=float, metavar="R")
    s.add_argument("--min-sessions", type=int, metavar="N")
    common(s)
    s.set_defaults(func=cmd_start)

    st = r.add_parser("status", help="one rollout with its waves, or the list")
    st.add_argument("ref", nargs="?", metavar="ID|PKG@VERSION|PKG")
    common(st)
    st.set_defaults(func=cmd_status)

    for name, fn, text in (("halt", rollouts.halt, ("stop widening: the version stays at "
                            "its wave")),
                           ("resume", rollouts.resume, "go on with a halted rollout"),
                           ("rollback", rollouts.roll_back, ("withdraw the version; terminals "
                            "go back to the previous one"))):
        p = r.add_parser(name, help=text)
        p.add_argument("ref", metavar="ID|PKG@VERSION|PKG")
        if name == "halt":
            p.add_argument("--note", default="", help="why (shown on the page)")
        common(p)
        p.set_defaults(func=_action(fn, **({"note": ""} if name == "halt" else {})))


# -- the demo's packages ------------------------------------------------------------------------
DEMO_PACKAGE = "dg-demo"
DEMO_VERSIONS = ("1.0.0", "1.1.0", "1.2.0")  # 1.0.0 everywhere; 1.1.0 good; 1.2.0 "bad"


def _demo_source(dst: Path, version: str) -> Path:
    """A small package: one notice service (consent, finish) whose title names the version."""
    (dst / "flows").mkdir(parents=True, exist_ok=True)
    (dst / "strings").mkdir(exist_ok=True)
    (dst / "flows" / "demo_notice.toml").write_text(
        'id = "demo_notice"\ntitle = "flow.demo_notice.title"\ncategory = "public"\norder = 90\n'
        "requires_online = false\nenabled = true\n\n"
        '[[steps]]\nid = "consent"\ntype = "consent"\ntext = "flow.demo_notice.text"\n\n'
        '[[steps]]\nid = "done"\ntype = "finish"\n', "utf-8")
    (dst / "manifest.toml").write_text(
        f'id = "{DEMO_PACKAGE}"\nversion = "{version}"\nmin_app_version = "0.1.0"\n'
        'flows = ["demo_notice"]\ndescription = "demo package for guarded rollouts"\n',
        "utf-8")
    words = {"zh_CN": (f"办事指南 {version}", "本服务仅展示办事须知。"),
             "zh_HK": (f"辦事指南 {version}", "本服務僅展示辦事須知。"),
             "en": (f"Service guide {version}", "This service only shows a notice.")}
    for locale, (title, text) in words.items():
        (dst / "strings" / f"{locale}.json").write_text(json.dumps(
            {"flow.demo_notice.title": title, "flow.demo_notice.text": text},
            ensure_ascii=False), "utf-8")
    return dst


def demo_packages(root: Path, settings: RolloutSettings) -> list[str]:
    """On a stack's first run: dg-demo@1.0.0 published to every terminal (what the fleet
    runs), 1.1.0 and 1.2.0 built and signed into the inbox, ready to roll out from the
    console (scripts/demo tells the simulated terminals that 1.2.0 is bad)."""
    from kiosk.packages import keys as keymod
    from kiosk.packages import ops
    from kiosk.packages.repository import Repository

    inbox = Path(settings.inbox)
    repo = Repository(Path(settings.repository))
    if any(inbox.glob("*.kpkg")) or repo.list_targets():
        return []
    signer = keymod.load_private(Path(settings.keys) / "signer.key")
    made = []
    for version in DEMO_VERSIONS:
        src = _demo_source(root / "package-src" / f"{DEMO_PACKAGE}-{version}", version)
        archive, _ = ops.build(src, inbox / f"{DEMO_PACKAGE}-{version}.kpkg")
        ops.sign(archive, signer)
        made.append(f"{DEMO_PACKAGE}@{version}")
    first = inbox / f"{DEMO_PACKAGE}-{DEMO_VERSIONS[0]}.kpkg"
    ops.publish(first, Path(settings.repository), Path(settings.keys))
    for leftover in (first, first.with_name(first.name + ".sig")):
        leftover.unlink()
    return made
