"""Load and validate a flow package directory (manifest, flows, templates, assets, strings).

A package is data only. Loading never imports or evaluates anything from it; every
reference (step type, template, asset, string) is checked at load time so that a bad
package is rejected before a citizen meets it.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiosk.flows.model import DefinitionError, FlowDef, parse_flow
from kiosk.i18n import LOCALES, Translator


@dataclass(frozen=True)
class FlowPackage:
    root: Path
    id: str
    version: str
    min_app_version: str
    flows: Mapping[str, FlowDef]
    templates: Mapping[str, Mapping[str, Any]]
    strings: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def asset(self, rel: str) -> Path:
        """Resolve an asset path inside the package; refuse anything outside it."""
        path = (self.root / rel).resolve()
        if not path.is_relative_to(self.root.resolve()) or not path.is_file():
            raise DefinitionError(rel, "", "asset missing or outside the package")
        return path

    def translator(self, locale: str) -> Translator:
        return Translator(locale, self.strings)

    def catalog(self) -> list[FlowDef]:
        """Enabled flows in home-screen order."""
        return sorted((f for f in self.flows.values() if f.enabled), key=lambda f: f.order)


def _load_toml(path: Path, root: Path) -> dict[str, Any]:
    rel = str(path.relative_to(root))
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise DefinitionError(rel, "", f"not valid TOML: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise DefinitionError(rel, "", "not UTF-8 text") from exc


def load_package(root: Path, *, validate_steps: bool = True) -> FlowPackage:
    root = Path(root)
    manifest_path = root / "manifest.toml"
    if not manifest_path.is_file():
        raise DefinitionError("manifest.toml", "", "missing")
    manifest = _load_toml(manifest_path, root)
    for key in ("id", "version", "flows"):
        if key not in manifest:
            raise DefinitionError("manifest.toml", key, "is required")
    flows: dict[str, FlowDef] = {}
    for i, fid in enumerate(manifest["flows"]):
        fpath = root / "flows" / f"{fid}.toml"
        rel = f"flows/{fid}.toml"
        if not fpath.is_file():
            raise DefinitionError("manifest.toml", f"flows[{i}]", f"{rel} does not exist")
        flow = parse_flow(_load_toml(fpath, root), rel)
        if flow.id != fid:
            raise DefinitionError(rel, "id", f"is {flow.id!r}, manifest says {fid!r}")
        flows[fid] = flow
    templates: dict[str, Mapping[str, Any]] = {}
    tdir = root / "templates"
    if tdir.is_dir():
        for tpath in sorted(tdir.glob("*.toml")):
            templates[tpath.stem] = _load_toml(tpath, root)
    strings: dict[str, dict[str, str]] = {}
    for locale in LOCALES:
        spath = root / "strings" / f"{locale}.json"
        if spath.is_file():
            try:
                strings[locale] = json.loads(spath.read_text(encoding="utf-8"))
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise DefinitionError(f"strings/{locale}.json", "", f"not valid JSON: {exc}") \
                    from exc
    pkg = FlowPackage(root, str(manifest["id"]), str(manifest["version"]),
                      str(manifest.get("min_app_version", "0")), flows, templates, strings)
    if validate_steps:
        validate_package(pkg)
    return pkg


def validate_package(pkg: FlowPackage) -> None:
    """Check every flow's steps against the registered step types and the package's files."""
    from kiosk.flows.steps import STEP_TYPES

    zh = pkg.strings.get("zh_CN", {})
    for flow in pkg.flows.values():
        rel = f"flows/{flow.id}.toml"
        if flow.title not in zh:
            raise DefinitionError(rel, "title", f"string {flow.title!r} missing in zh_CN")
        for i, step in enumerate(flow.steps):
            cls = STEP_TYPES.get(step.type)
            if cls is None:
                raise DefinitionError(rel, f"steps[{i}].type", f"unknown step type {step.type!r}")
            cls.validate(step, pkg, rel, f"steps[{i}]")
