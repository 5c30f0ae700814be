"""`kiosk catalog search QUERY`: the home screen's search, from a shell.

It searches the terminal's active package set (the one `kiosk run` would start with:
`kiosk.packages.manager.PackageManager.load_active`, from `--config`), or with
`--package DIR` a package source folder over the built-in package (what a terminal
holding it would show, before it is built and published), with the same `CatalogIndex`
the home screen uses, so the ranking is the kiosk's.
`--json`: a list of {"id", "title", "score", "why"}, best first.
Exit 0 (also with no hits), 2 for a bad language, limit or package.
"""

from __future__ import annotations

import argparse
import json
import sys
import unicodedata
from pathlib import Path
from typing import Any

from kiosk.i18n import LOCALES


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - _width(text))


def _package(args: argparse.Namespace) -> Any:
    from kiosk.flows.model import DefinitionError

    try:
        if args.package:
            return load_over_builtin(Path(args.package))
        from kiosk.config import load_config
        from kiosk.packages.manager import PackageManager

        return PackageManager.from_config(load_config(args.config)).load_active()
    except DefinitionError as exc:
        print(f"kiosk catalog search: the package cannot be loaded: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def load_over_builtin(root: Path) -> Any:
    """A package source folder as a terminal would hold it: over the built-in package,
    validated as one set (its templates may use the built-in package's assets)."""
    from flowpacks import BUILTIN_DIR
    from kiosk.flows.model import DefinitionError
    from kiosk.flows.package import compose, load_package, validate_package

    if not (root / "manifest.toml").is_file():
        raise DefinitionError(str(root), "manifest.toml", "not a package folder")
    if root.resolve() == BUILTIN_DIR.resolve():
        return load_package(root)
    pkg = compose([load_package(BUILTIN_DIR, validate_steps=False),
                   load_package(root, validate_steps=False)])
    validate_package(pkg)
    return pkg


def index_for(pkg: Any) -> Any:
    """The home screen's index over a package set's catalog, in every language."""
    from kiosk.catalog.search import CatalogIndex

    translators = {loc: pkg.translator(loc) for loc in LOCALES}
    zones = {loc: {z.id: str(translators[loc](z.title)) for z in pkg.zones.values()}
             for loc in LOCALES}
    return CatalogIndex.build(pkg.catalog(), translators, zones)


def cmd_search(args: argparse.Namespace) -> int:
    locale = args.search_lang or getattr(args, "lang", None) or "zh_CN"
    if locale not in LOCALES:
        print(f"kiosk catalog search: unknown language {locale!r} "
              f"(one of {', '.join(LOCALES)})", file=sys.stderr)
        return 2
    if args.limit < 1:
        print("kiosk catalog search: --limit must be at least 1", file=sys.stderr)
        return 2
    hits = index_for(_package(args)).search(args.query, locale, limit=args.limit)
    if args.json:
        print(json.dumps([{"id": h.flow_id, "title": h.title, "score": h.score, "why": h.why}
                          for h in hits], ensure_ascii=False, indent=1))
        return 0
    if not hits:
        print(f"no service matches {args.query!r} ({locale})")
        return 0
    wid = max(len(h.flow_id) for h in hits)
    wtitle = max(_width(h.title) for h in hits)
    print(f"{'#':>3}  {'id':<{wid}}  {_pad('title', wtitle)}  {'score':>5}  why")
    for i, h in enumerate(hits, 1):
        print(f"{i:>3}  {h.flow_id:<{wid}}  {_pad(h.title, wtitle)}  {h.score:>5g}  {h.why}")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("catalog", help="the service catalog (search as the home screen does)")
    csub = p.add_subparsers(dest="catalog_command", required=True)
    s = csub.add_parser("search", help="services matching QUERY, best first")
    s.add_argument("query", metavar="QUERY",
                   help="characters, pinyin (full, initials, prefixes) or English words")
    # Its own dest: `kiosk --lang` (the language of messages) stays what it was.
    s.add_argument("--lang", dest="search_lang", metavar="|".join(LOCALES),
                   help="language of the titles searched (default: kiosk --lang, else zh_CN)")
    s.add_argument("--json", action="store_true", help="a JSON list, best first")
    s.add_argument("--limit", type=int, default=20, help="at most N services (default 20)")
    s.add_argument("--config", help="the terminal's config (its active package set)")
    s.add_argument("--package", metavar="DIR",
                   help="search this package source folder (over the built-in one) instead")
    s.set_defaults(func=cmd_search)
