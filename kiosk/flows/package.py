"""Load and validate a flow package (manifest, flows, templates, assets, strings).

A package is data only. Loading never imports or evaluates anything from it; every
reference (step type, template, asset, string) is checked at load time so that a bad
package is rejected before a citizen meets it.

Several packages form a *set* (`compose`): the built-in package at the bottom, then
packages from the ops repository. Later layers override flows, templates, strings and
assets by name, and `disable = ["flow_id"]` in a manifest switches a service off.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import tomli as tomllib  # the compiled wheel: a 300-service catalog parses in half the time

# FlowPackage is defined with the other data types; importing it from here still works.
from kiosk.flows.model import DefinitionError, FlowDef, FlowPackage, Zone, parse_flow
from kiosk.flows.steps.registry import STEP_TYPES
from kiosk.i18n import LOCALES

PACKAGE_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
VERSION = re.compile(r"^\d{1,6}(\.\d{1,6}){0,3}$")
TEMPLATE_KINDS = ("a4", "receipt")
_MANIFEST_KEYS = {"id", "version", "min_app_version", "flows", "disable", "priority",
                  "description", "zones", "platforms"}
PLATFORM_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


def version_key(version: str) -> tuple[int, ...]:
    """Comparable form of a dotted numeric version ("1.10.0" > "1.9.3")."""
    parts = [int(p) for p in version.split(".")]
    while len(parts) < 4:
        parts.append(0)
    return tuple(parts)


def _parse_toml(data: bytes, rel: str) -> dict[str, Any]:
    try:
        return tomllib.loads(data.decode("utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise DefinitionError(rel, "", f"not valid TOML: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise DefinitionError(rel, "", "not UTF-8 text") from exc


def _check_manifest(m: Mapping[str, Any]) -> None:
    f = "manifest.toml"
    for key in ("id", "version", "flows"):
        if key not in m:
            raise DefinitionError(f, key, "is required")
    for key in sorted(set(m) - _MANIFEST_KEYS):
        raise DefinitionError(f, key, f"unknown key (allowed: {', '.join(sorted(_MANIFEST_KEYS))})")
    if not isinstance(m["id"], str) or not PACKAGE_ID.match(m["id"]):
        raise DefinitionError(f, "id", "must be lower-case letters, digits, '-' or '_'")
    for key in ("version", "min_app_version"):
        if key in m and (not isinstance(m[key], str) or not VERSION.match(m[key])):
            raise DefinitionError(f, key, "must be a dotted numeric version like \"1.2.0\"")
    for key in ("flows", "disable"):
        value = m.get(key, [])
        if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
            raise DefinitionError(f, key, "must be a list of flow ids")
        if len(set(value)) != len(value):
            raise DefinitionError(f, key, "lists a flow twice")
    if "priority" in m and (not isinstance(m["priority"], int) or isinstance(m["priority"], bool)):
        raise DefinitionError(f, "priority", "must be an integer")
    platforms = m.get("platforms", [])
    if not isinstance(platforms, list) or not all(
            isinstance(p, str) and PLATFORM_ID.match(p) for p in platforms):
        raise DefinitionError(f, "platforms", "must be a list of platform ids")


def _zones(m: Mapping[str, Any]) -> dict[str, Zone]:
    f, zones = "manifest.toml", {}
    raw = m.get("zones", [])
    if not isinstance(raw, list):
        raise DefinitionError(f, "zones", "must be a list of tables")
    for i, z in enumerate(raw):
        path = f"zones[{i}]"
        if not isinstance(z, Mapping) or not isinstance(z.get("id"), str) \
                or not isinstance(z.get("title"), str):
            raise DefinitionError(f, path, "needs an id and a title (string key)")
        if z["id"] in zones:
            raise DefinitionError(f, f"{path}.id", f"duplicate zone id {z['id']!r}")
        platform = z.get("platform", "")
        if not isinstance(platform, str) or (platform and platform not in m.get("platforms", [])):
            raise DefinitionError(f, f"{path}.platform",
                                  f"{platform!r} is not listed in the manifest's platforms")
        zones[z["id"]] = Zone(z["id"], z["title"], platform, int(z.get("order", 100)))
    return zones


def _check_strings(table: Any, rel: str) -> dict[str, str]:
    if not isinstance(table, dict):
        raise DefinitionError(rel, "", "must be a JSON object of string keys to texts")
    for key, value in table.items():
        if not isinstance(value, str):
            raise DefinitionError(rel, key, f"must be a string, got {type(value).__name__}")
    return table


def load_files(files: Mapping[str, bytes], root: Path, *,
               validate_steps: bool = True) -> FlowPackage:
    """Build a package from its files (name -> bytes); `root` is where assets live."""
    if "manifest.toml" not in files:
        raise DefinitionError("manifest.toml", "", "missing")
    manifest = _parse_toml(files["manifest.toml"], "manifest.toml")
    _check_manifest(manifest)
    flows: dict[str, FlowDef] = {}
    for i, fid in enumerate(manifest["flows"]):
        rel = f"flows/{fid}.toml"
        if rel not in files:
            raise DefinitionError("manifest.toml", f"flows[{i}]", f"{rel} does not exist")
        flow = parse_flow(_parse_toml(files[rel], rel), rel)
        if flow.id != fid:
            raise DefinitionError(rel, "id", f"is {flow.id!r}, manifest says {fid!r}")
        flows[fid] = flow
    templates: dict[str, Mapping[str, Any]] = {}
    for name in sorted(n for n in files if n.startswith("templates/")):
        tpl = _parse_toml(files[name], name)
        if tpl.get("kind") not in TEMPLATE_KINDS:
            raise DefinitionError(name, "kind", f"must be one of {', '.join(TEMPLATE_KINDS)}")
        templates[name[len("templates/"):-len(".toml")]] = tpl
    strings: dict[str, dict[str, str]] = {}
    for locale in LOCALES:
        rel = f"strings/{locale}.json"
        if rel in files:
            try:
                strings[locale] = _check_strings(json.loads(files[rel].decode("utf-8")), rel)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise DefinitionError(rel, "", f"not valid JSON: {exc}") from exc
    zh = strings.get("zh_CN", {})
    for locale, table in strings.items():
        for key in table:
            if key not in zh:
                raise DefinitionError(f"strings/{locale}.json", key, "not defined in zh_CN.json")
    pkg = FlowPackage(root, manifest["id"], manifest["version"],
                      str(manifest.get("min_app_version", "0")), flows, templates, strings,
                      disable=tuple(manifest.get("disable", ())),
                      priority=int(manifest.get("priority", 100)),
                      zones=_zones(manifest), platforms=tuple(manifest.get("platforms", ())))
    if validate_steps:
        validate_package(pkg)
    return pkg


def check_listed(files: Mapping[str, bytes], pkg: FlowPackage) -> None:
    """Every flow file is listed in the manifest (ops build gate: catches forgotten flows)."""
    for name in sorted(files):
        if name.startswith("flows/") and name[len("flows/"):-len(".toml")] not in pkg.flows:
            raise DefinitionError(name, "", "not listed in manifest.toml flows")


def load_package(root: Path, *, validate_steps: bool = True) -> FlowPackage:
    """Load a package directory (a source dir or an unpacked archive)."""
    root = Path(root)
    files: dict[str, bytes] = {}
    for sub, pattern in (("", "manifest.toml"), ("flows", "*.toml"), ("templates", "*.toml"),
                         ("strings", "*.json")):
        for path in sorted((root / sub).glob(pattern)) if (root / sub).is_dir() else []:
            if path.is_file():
                files[path.relative_to(root).as_posix()] = path.read_bytes()
    return load_files(files, root, validate_steps=validate_steps)


def compose(packages: Sequence[FlowPackage]) -> FlowPackage:
    """Overlay packages (bottom first) into one set; a single package is returned as is."""
    if len(packages) == 1:
        return packages[0]
    flows: dict[str, FlowDef] = {}
    origin: dict[str, str] = {}
    templates: dict[str, Mapping[str, Any]] = {}
    strings: dict[str, dict[str, str]] = {}
    zones: dict[str, Zone] = {}
    platforms: dict[str, None] = {}
    for pkg in packages:
        zones.update(pkg.zones)
        platforms.update(dict.fromkeys(pkg.platforms))
        for fid in pkg.disable:
            flows.pop(fid, None)
            origin.pop(fid, None)
        for fid, flow in pkg.flows.items():
            flows[fid], origin[fid] = flow, pkg.label
        templates.update(pkg.templates)
        for locale, table in pkg.strings.items():
            strings.setdefault(locale, {}).update(table)
    top = packages[-1]
    return FlowPackage(top.root, "+".join(p.id for p in packages),
                       "+".join(p.version for p in packages),
                       max((p.min_app_version for p in packages), key=version_key),
                       flows, templates, strings, layers=tuple(packages), flow_origin=origin,
                       zones=zones, platforms=tuple(platforms))


def _template_assets(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if value.startswith("assets/") else []
    if isinstance(value, Mapping):
        return [a for v in value.values() for a in _template_assets(v)]
    if isinstance(value, list):
        return [a for v in value for a in _template_assets(v)]
    return []


def _check_catalog_refs(flow: FlowDef, pkg: FlowPackage, rel: str) -> None:
    from kiosk.catalog.categories import BY_ID

    if flow.category and flow.category not in BY_ID:
        raise DefinitionError(rel, "category", f"unknown category {flow.category!r} "
                              f"(known: {', '.join(sorted(BY_ID))})")
    if flow.zone and flow.zone not in pkg.zones:
        raise DefinitionError(rel, "zone", f"unknown zone {flow.zone!r}: declare it in "
                              "the manifest's [[zones]]")
    if flow.platform and flow.platform not in pkg.platforms:
        raise DefinitionError(rel, "platform", f"unknown platform {flow.platform!r}: list it "
                              "in the manifest's platforms")


def validate_package(pkg: FlowPackage, app_version: str | None = None) -> None:
    """Check every flow's steps against the registered step types and the package's files."""
    from kiosk import __version__

    if version_key(pkg.min_app_version) > version_key(app_version or __version__):
        raise DefinitionError(
            "manifest.toml", "min_app_version",
            f"needs app {pkg.min_app_version}, this is {app_version or __version__}")
    zh = pkg.strings.get("zh_CN", {})
    for flow in pkg.flows.values():
        rel = f"flows/{flow.id}.toml"
        if flow.id in pkg.flow_origin:
            rel = f"{pkg.flow_origin[flow.id]}:{rel}"
        if flow.title not in zh:
            raise DefinitionError(rel, "title", f"string {flow.title!r} missing in zh_CN")
        _check_catalog_refs(flow, pkg, rel)
        for i, step in enumerate(flow.steps):
            cls = STEP_TYPES.get(step.type)
            if cls is None:
                raise DefinitionError(rel, f"steps[{i}].type", f"unknown step type {step.type!r}")
            cls.validate(step, pkg, rel, f"steps[{i}]")
    for name, tpl in pkg.templates.items():
        for ref in _template_assets(tpl):
            try:
                pkg.asset(ref)
            except DefinitionError:
                raise DefinitionError(f"templates/{name}.toml", ref,
                                      "asset missing in the package") from None
