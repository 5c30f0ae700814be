"""`kiosk pack`: build, sign, verify and publish flow packages; terminal status and poll.

Authoring:  new (scaffold a service), preview (every screen and document as PNGs),
            build (reports every problem at once with file and line, then builds).
Ops side:   keygen, build, sign, verify, root (offline ceremony), publish, refresh, withdraw.
Terminal:   status (active, staged, last error), poll (check the repository now).
See docs/ops-guide.md for the whole workflow.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

ROLES = ("root", "targets", "snapshot", "timestamp", "signer")


def _fail(msg: str) -> int:
    print(f"error: {msg}", file=sys.stderr)
    return 1


def _errors() -> tuple[type[BaseException], ...]:
    from kiosk.flows.model import DefinitionError
    from kiosk.packages.keys import KeyFileError, SignatureError
    from kiosk.packages.repository import RepositoryError

    return DefinitionError, KeyFileError, SignatureError, RepositoryError, OSError


def cmd_keygen(args: argparse.Namespace) -> int:
    from kiosk.packages.keys import PASSPHRASE_ENV, generate

    names = args.name or ([args.role] if args.role else list(ROLES))
    phrase = os.environ.get(PASSPHRASE_ENV, "").encode() or None
    out = []
    for name in names:
        pair = generate(Path(args.out), name, phrase)
        out.append({"name": name, "private": str(pair.private), "public": str(pair.public),
                    "keyid": pair.keyid, "encrypted": phrase is not None})
    print(json.dumps(out, indent=1))
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    from kiosk.packages.lint import lint
    from kiosk.packages.ops import build

    problems = lint(Path(args.dir))  # every problem at once, each with file and line
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        return _fail(f"{len(problems)} problem{'s' if len(problems) > 1 else ''} in {args.dir}; "
                     "nothing built")
    path, checked = build(Path(args.dir), Path(args.output) if args.output else None)
    flows = ", ".join(checked.flows) if len(checked.flows) <= 12 else \
        f"{', '.join(checked.flows[:12])}, … ({len(checked.flows)} in all)"
    print(f"built {checked.id}@{checked.version} -> {path} (sha256 {checked.sha256}, "
          f"flows: {flows})")
    return 0


def cmd_new(args: argparse.Namespace) -> int:
    from kiosk.packages.authoring import NewService, scaffold

    def items(text: str | None) -> tuple[str, ...]:
        return tuple(x.strip() for x in (text or "").split(",") if x.strip())

    new = NewService(args.id, args.shape, args.title_zh, args.category,
                     title_hk=args.title_hk or "", title_en=args.title_en or "",
                     department=args.department, zone=args.zone or "",
                     fields=items(args.fields) or NewService.fields,
                     materials=items(args.materials) or NewService.materials)
    for rel in scaffold(Path(args.dir), new):
        print(f"wrote {Path(args.dir) / rel}")
    print(f"next: fill in the TODOs, then `kiosk pack preview {args.dir} --out OUT "
          f"--flows {args.id}` and `kiosk pack build {args.dir}`")
    return 0


def cmd_preview(args: argparse.Namespace) -> int:
    from kiosk.config import load_config
    from kiosk.ui.pack_preview import preview

    def items(text: str | None) -> list[str]:
        return [x.strip() for x in (text or "").split(",") if x.strip()]

    report = preview(load_config(args.config), Path(args.dir), Path(args.out),
                     flows=items(args.flows) or None, locales=items(args.locales) or None,
                     modes=items(args.modes) or None, sizes=items(args.sizes) or None)
    print(f"preview: {report.runs} runs, {report.screens} screens, {report.documents} "
          f"documents -> {Path(args.out) / 'index.html'}")
    for tag in report.failed_runs:
        print(f"  did not complete: {tag}", file=sys.stderr)
    return 0 if not report.failed_runs else 1


def cmd_sign(args: argparse.Namespace) -> int:
    from kiosk.packages.keys import load_private
    from kiosk.packages.ops import sign

    path = sign(Path(args.file), load_private(Path(args.key)))
    print(f"signed {args.file} -> {path}")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from kiosk.packages.keys import load_public
    from kiosk.packages.ops import verify

    checked, keyid = verify(Path(args.file), [load_public(Path(p)) for p in args.pubkey])
    print(f"OK {checked.id}@{checked.version} sha256 {checked.sha256} signed by {keyid[:16]}…")
    return 0


def cmd_root(args: argparse.Namespace) -> int:
    from kiosk.packages.keys import load_private, load_public
    from kiosk.packages.repository import Repository

    def pubs(paths: list[str] | None) -> list[Any]:
        return [load_public(Path(p)) for p in paths or []]

    version = Repository(Path(args.repo)).write_root(
        root_keys=pubs(args.root_pub), root_threshold=args.threshold,
        role_keys={"targets": pubs(args.targets_pub), "snapshot": pubs(args.snapshot_pub),
                   "timestamp": pubs(args.timestamp_pub)},
        role_thresholds={"targets": args.targets_threshold},
        signers=[load_private(Path(p)) for p in args.sign_key],
        expires=timedelta(days=args.expires_days))
    print(f"wrote {args.repo}/metadata/{version}.root.json")
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    from kiosk.packages.keys import load_public
    from kiosk.packages.ops import publish
    from kiosk.packages.rollout import Rollout

    rollout = Rollout.from_json({k: v for k, v in (("ring", args.ring), ("percent", args.percent))
                                 if v is not None})
    pub = publish(Path(args.file), Path(args.repo), Path(args.keys),
                  signers=[load_public(Path(p)) for p in args.signer or []], rollout=rollout)
    scope = json.dumps(rollout.to_json()) if not rollout.everyone else "all terminals"
    print(f"published {pub.target} ({pub.length} bytes, sha256 {pub.sha256[:16]}…) to {scope}; "
          f"targets v{pub.targets_version}, timestamp v{pub.timestamp_version}")
    return 0


def cmd_refresh(args: argparse.Namespace) -> int:
    from kiosk.packages.ops import load_key_dir
    from kiosk.packages.repository import Repository

    privs, _ = load_key_dir(Path(args.keys))
    print(f"timestamp v{Repository(Path(args.repo)).refresh(privs)}")
    return 0


def cmd_withdraw(args: argparse.Namespace) -> int:
    from kiosk.packages.ops import load_key_dir
    from kiosk.packages.repository import Repository

    privs, _ = load_key_dir(Path(args.keys))
    pid, _, version = args.package.partition("@")
    for path in Repository(Path(args.repo)).withdraw(pid, version or None, privs):
        print(f"withdrew {path}")
    return 0


def _manager(args: argparse.Namespace) -> Any:
    from kiosk.config import load_config
    from kiosk.packages.manager import PackageManager

    return PackageManager.from_config(load_config(args.config))


def cmd_status(args: argparse.Namespace) -> int:
    mgr = _manager(args)
    mgr.ensure_builtin()
    status = mgr.status()
    if args.json:
        print(json.dumps(status, indent=1, ensure_ascii=False))
        return 0
    print(f"active:  {', '.join(status['active'])}")
    print(f"staged:  {', '.join(status['staged']) if status['staged'] is not None else '-'}")
    err = status["last_error"]
    print(f"last error: {err['stage']}: {err.get('package') or ''} {err['reason']}"
          if err else "last error: -")
    return 0


def cmd_poll(args: argparse.Namespace) -> int:
    mgr = _manager(args)
    mgr.load_active()
    result = mgr.poll()
    print(json.dumps({"staged": list(result.staged) if result.changed else None,
                      "rejected": list(result.rejected), "error": result.error or None},
                     indent=1, ensure_ascii=False))
    return 1 if result.error else 0


def _guarded(func: Any) -> Any:
    def run(args: argparse.Namespace) -> int:
        from kiosk.config import ConfigError

        try:
            return int(func(args))
        except (ConfigError, BrokenPipeError):
            raise  # reported by kiosk.cli like every command's (a closed pipe: quietly)
        except _errors() as exc:
            return _fail(str(exc))
        except ValueError as exc:  # rollout or version arguments
            return _fail(str(exc))
    return run


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("pack", help="flow packages: build, sign, verify, publish, status")
    sub = p.add_subparsers(dest="pack_command", required=True)

    s = sub.add_parser("keygen", help="Ed25519 key pairs (passphrase from $KIOSK_PACK_PASSPHRASE)")
    s.add_argument("--out", default="keys", help="folder for NAME.key / NAME.pub")
    s.add_argument("--role", choices=ROLES, help="one key named after a role")
    s.add_argument("--name", action="append", help="key name (repeatable); default all roles")
    s.set_defaults(func=_guarded(cmd_keygen))

    s = sub.add_parser("build", help="build and check a package archive from a source folder")
    s.add_argument("dir")
    s.add_argument("-o", "--output", help="archive file (default ID-VERSION.kpkg)")
    s.set_defaults(func=_guarded(cmd_build))

    s = sub.add_parser("new", help="scaffold a service of a shape into a package source folder")
    s.add_argument("dir")
    s.add_argument("--shape", required=True, choices=("certificate", "guide", "query"))
    s.add_argument("--id", required=True, help="flow id (lower-case letters, digits, '_')")
    s.add_argument("--title-zh", required=True, help="the service's title in Simplified Chinese")
    s.add_argument("--title-hk", help="Traditional Chinese title (else a TODO)")
    s.add_argument("--title-en", help="English title (else a TODO)")
    s.add_argument("--category", required=True, help="a category id (kiosk.catalog.categories)")
    s.add_argument("--department", default="dg_gov_service", help="department id (dept.<id>)")
    s.add_argument("--zone", help="a zone declared in the manifest")
    s.add_argument("--fields", help="certificate/query: field ids the platform answers, a,b,c")
    s.add_argument("--materials", help="guide: material ids, a,b,c")
    s.set_defaults(func=_guarded(cmd_new))

    s = sub.add_parser("preview", help="render every screen and document of a package to PNGs")
    s.add_argument("dir")
    s.add_argument("--out", required=True, help="folder for the PNGs and index.html")
    s.add_argument("--flows", help="only these flows (a,b,c); default every flow of DIR")
    s.add_argument("--locales", help="default zh_CN,zh_HK,en")
    s.add_argument("--modes", help="default standard,elder")
    s.add_argument("--sizes", help="default 1920x1080,1080x1920")
    s.add_argument("--config")
    s.set_defaults(func=_guarded(cmd_preview))

    s = sub.add_parser("sign", help="write FILE.sig, the builder's detached signature")
    s.add_argument("file")
    s.add_argument("--key", required=True)
    s.set_defaults(func=_guarded(cmd_sign))

    s = sub.add_parser("verify", help="check FILE.sig and the package content")
    s.add_argument("file")
    s.add_argument("--pubkey", required=True, action="append")
    s.set_defaults(func=_guarded(cmd_verify))

    s = sub.add_parser("root", help="write the next root metadata (offline key ceremony)")
    s.add_argument("--repo", required=True)
    s.add_argument("--root-pub", action="append", required=True)
    s.add_argument("--threshold", type=int, default=1, help="root signatures needed")
    s.add_argument("--targets-pub", action="append", required=True)
    s.add_argument("--targets-threshold", type=int, default=1)
    s.add_argument("--snapshot-pub", action="append", required=True)
    s.add_argument("--timestamp-pub", action="append", required=True)
    s.add_argument("--sign-key", action="append", required=True,
                   help="root private keys signing this version (old and new when rotating)")
    s.add_argument("--expires-days", type=int, default=365)
    s.set_defaults(func=_guarded(cmd_root))

    s = sub.add_parser("publish", help="add a signed package to the repository (TUF metadata)")
    s.add_argument("file")
    s.add_argument("--repo", required=True)
    s.add_argument("--keys", default=os.environ.get("KIOSK_PACK_KEYS", "keys"),
                   help="folder of online keys and signer*.pub (outside the repository)")
    s.add_argument("--signer", action="append", help="builder public key(s) to accept")
    s.add_argument("--ring", type=int, help="only terminals in rings 0..RING")
    s.add_argument("--percent", type=int, help="only terminals whose bucket is < PERCENT")
    s.set_defaults(func=_guarded(cmd_publish))

    s = sub.add_parser("refresh", help="re-sign snapshot and timestamp (run from cron)")
    s.add_argument("--repo", required=True)
    s.add_argument("--keys", default=os.environ.get("KIOSK_PACK_KEYS", "keys"))
    s.set_defaults(func=_guarded(cmd_refresh))

    s = sub.add_parser("withdraw", help="remove ID or ID@VERSION from the repository")
    s.add_argument("package")
    s.add_argument("--repo", required=True)
    s.add_argument("--keys", default=os.environ.get("KIOSK_PACK_KEYS", "keys"))
    s.set_defaults(func=_guarded(cmd_withdraw))

    s = sub.add_parser("status", help="terminal: active, staged and rejected packages")
    s.add_argument("--config")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=_guarded(cmd_status))

    s = sub.add_parser("poll", help="terminal: check the repository now and stage a new set")
    s.add_argument("--config")
    s.set_defaults(func=_guarded(cmd_poll))
