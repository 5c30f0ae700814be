"""`kiosk document …`: commands about documents.

- `verify FILE.pdf [--json] [--root PEM] [--config FILE]`: check a sealed certificate
  (signature, chain to the trusted root, timestamp, the file unchanged since sealing;
  `kiosk.documents.verify`). The root is `--root`, else the configuration's
  (`backend.seal_root`, or the embedded platform's demo root). Exit 0 when it passes,
  1 when it does not (the problems are printed), 2 when it cannot run (no file, no root).

Other document commands live in their own modules (`DOCUMENT_COMMANDS`), each with
`register(document_subparsers)`.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

# Modules adding `kiosk document <command>` (part F: the document camera's `capture`).
DOCUMENT_COMMANDS = ("kiosk.commands.document_capture",)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    doc = sub.add_parser("document", help="documents: verify a sealed certificate, capture paper")
    dsub = doc.add_subparsers(dest="document_command", required=True)

    p = dsub.add_parser("verify", help="check a sealed certificate PDF (exit 0 only if valid)")
    p.add_argument("file", help="the PDF to check")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--root", default="", help="PEM of the trusted root (default: configured)")
    p.add_argument("--config", default=None)
    p.set_defaults(func=cmd_verify)

    # -- further document commands register here, each module with register(dsub) -------
    from kiosk.plugins import optional_modules

    for mod in optional_modules(DOCUMENT_COMMANDS):
        mod.register(dsub)


def _root(args: argparse.Namespace) -> Path | None:
    if args.root:
        return Path(args.root).expanduser()
    from kiosk.config import load_config
    from kiosk.documents.verify import trusted_root

    return trusted_root(load_config(args.config))


def cmd_verify(args: argparse.Namespace) -> int:
    from kiosk.documents.verify import load_roots, verify_pdf

    root = _root(args)
    if root is None:
        print("kiosk document verify: no trusted root (--root PEM or backend.seal_root)",
              file=sys.stderr)
        return 2
    try:
        data = Path(args.file).read_bytes()
        roots = load_roots(root)
    except (OSError, ValueError) as exc:
        print(f"kiosk document verify: {exc}", file=sys.stderr)
        return 2
    # pyHanko logs every failed path search with a traceback; the verdict says it all
    logging.getLogger("pyhanko").setLevel(logging.CRITICAL)
    logging.getLogger("pyhanko_certvalidator").setLevel(logging.CRITICAL)
    verdict = verify_pdf(data, roots)
    if args.json:
        print(verdict.to_json())
    elif verdict.ok:
        print(f"valid: sealed by {verdict.office} at {verdict.signed_at}; "
              f"signed content sha256 {verdict.digest}")
    else:
        print(f"NOT valid: {', '.join(verdict.problems)}"
              + (f" (seal of {verdict.office})" if verdict.office else "")
              + (f"; {verdict.detail}" if verdict.detail else ""))
    return 0 if verdict.ok else 1
