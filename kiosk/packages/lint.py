"""`kiosk pack build`'s checks: every problem of a package source folder at once, each with
its file and line.

The terminal's loader (kiosk.flows.package) stops at the first fault, which is right for
a terminal deciding whether to take a package, and wrong for the person writing one: with
300 services they want the whole list. This module runs the same checks file by file and
step by step, keeps going after each fault, and adds the author's checks the loader does
not make: unreachable steps, a string missing in one language, a template field that no
step of the flow provides, TODO markers. tomllib gives no line numbers, so the line of the
offending key or table is found again in the source text (`locate`).
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiosk.flows.model import END, DefinitionError, FlowDef, FlowPackage, StepDef, Zone, parse_flow

TODO_MARK = re.compile(r"\bTODO\b")
_JSON_KEY = re.compile(r'^\s*"([^"]+)"\s*:')
STRING_KEY = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")
# Data every template may read besides what the flow's steps store.
CONTEXT_ROOTS = frozenset({"identity", "terminal", "now", "page", "pages"})
# Where a step type stores its result when the flow does not say (`store_as`).
DEFAULT_STORE = {"preview": "document", "period": "period", "guide_browse": "matter",
                 "evaluate": "evaluation", "ticket": "ticket", "face": "face",
                 "identify_qr": "appointment", "identify_companion": "companion",
                 "print_a4": "printed", "print_receipt": "printed"}
# Table keys whose other texts are filled per item of a list (`{name}` of each row).
_ITEM_SCOPED = ("rows", "list")
# Step parameters that name data, steps or files, never a string key.
_NOT_TEXT = frozenset({"id", "type", "template", "endpoint", "store_as", "document",
                       "illustration", "icon", "limits", "list", "path", "options_from",
                       "source", "cache_key", "when", "request", "position_of"})


@dataclass(frozen=True, order=True)
class Problem:
    file: str
    line: int  # 1-based; 0 when the problem is about the file as a whole
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}" if self.line else \
            f"{self.file}: {self.message}"


# -- lines --------------------------------------------------------------------------------
_SEG = re.compile(r"([^.\[\]]+)(?:\[(\d+)\])?")


def _is_header(line: str) -> bool:
    s = line.lstrip()
    return s.startswith("[") and "=" not in s


def locate(text: str, path: str) -> int:
    """The 1-based line of a dotted path (`steps[3].template`, `zones[0].platform`,
    `blocks[2].columns[1]`) in a TOML text; the nearest line found, 1 if nothing is."""
    lines = text.splitlines()
    at = -1  # index of the line found so far
    for name, index in _SEG.findall(path):
        n = int(index) if index else None
        found = _find_table(lines, at, name, n) if n is not None else None
        if found is None:
            found = _find_key(lines, at, name)
            if found is not None and n is not None:
                found = _find_element(lines, found, n)
        if found is None:
            break
        at = found
    return at + 1 if at >= 0 else 1


def _find_table(lines: list[str], after: int, name: str, n: int) -> int | None:
    header = re.compile(rf"^\s*\[\[\s*{re.escape(name)}\s*\]\]")
    hits = [i for i, line in enumerate(lines) if i > after and header.match(line)]
    return hits[n] if n < len(hits) else None


def _find_key(lines: list[str], after: int, name: str) -> int | None:
    key = re.compile(rf"^\s*{re.escape(name)}\s*=|^\s*\[\s*{re.escape(name)}\s*\]|"
                     rf"[{{,]\s*{re.escape(name)}\s*=")
    for i in range(after + 1 if after >= 0 else 0, len(lines)):
        if i > after + 1 and after >= 0 and _is_header(lines[i]) and \
                not lines[i].lstrip().startswith(f"[{name}"):
            return None  # left the table the path is in
        if key.search(lines[i]):
            return i
    if after >= 0 and key.search(lines[after]):
        return after
    return None


def _find_element(lines: list[str], key_line: int, n: int) -> int:
    """The n-th element of an array that starts on `key_line` (one element per line, or
    the key's own line when the array is written on one line)."""
    if lines[key_line].rstrip().endswith("]") or "[" not in lines[key_line]:
        return key_line
    count = -1
    for i in range(key_line + 1, len(lines)):
        s = lines[i].strip()
        if s.startswith("]"):
            break
        if s and not s.startswith("#"):
            count += 1
            if count == n:
                return i
    return key_line


def json_line(text: str, key: str) -> int:
    needle = json.dumps(key, ensure_ascii=False) + ":"
    for i, line in enumerate(text.splitlines()):
        if line.lstrip().startswith(needle):
            return i + 1
    return 1


def text_line(text: str, needle: str) -> int:
    for i, line in enumerate(text.splitlines()):
        if needle in line:
            return i + 1
    return 1


# -- the checks -----------------------------------------------------------------------------
class Linter:
    def __init__(self, src: Path, builtin_dir: Path | None) -> None:
        self.src, self.builtin_dir = Path(src), builtin_dir
        self.problems: list[Problem] = []
        self.texts: dict[str, str] = {}

    def add(self, file: str, line: int, message: str) -> None:
        self.problems.append(Problem(file, line, message))

    def at(self, err: DefinitionError) -> None:
        """A loader's error, placed at the line of its path in its file."""
        file = err.file.partition(":")[2] if ":" in err.file else err.file
        text = self.texts.get(file)
        if text is None:
            self.add(file, 0, f"{err.path}: {err.problem}" if err.path else err.problem)
        elif file.endswith(".json"):
            self.add(file, json_line(text, err.path), f"{err.path}: {err.problem}")
        else:
            self.add(file, locate(text, err.path) if err.path else 1,
                     f"{err.path}: {err.problem}" if err.path else err.problem)

    def _collect(self) -> dict[str, bytes]:
        """The folder's files under the archive's member rules, each fault noted (a syntax
        error is left to the parser below, which knows its line); a file over the size
        limit is never read."""
        from kiosk.packages.archive import (
            MAX_MEMBER_BYTES,
            MAX_MEMBERS,
            SOURCE_DIR,
            ArchiveError,
            check_member,
        )

        files: dict[str, bytes] = {}
        if not self.src.is_dir():
            self.add(str(self.src), 0, "not a directory")
            return files
        for path in sorted(self.src.rglob("*")):
            rel = path.relative_to(self.src).as_posix()
            if rel.split("/")[0] == SOURCE_DIR or (path.is_dir() and not path.is_symlink()):
                continue
            if path.is_symlink() or not path.is_file():
                self.add(rel, 0, "symbolic links and special files are not allowed")
                continue
            if path.stat().st_size > MAX_MEMBER_BYTES:
                self.add(rel, 0, f"larger than {MAX_MEMBER_BYTES} bytes")
                continue
            data = path.read_bytes()
            try:
                check_member(self.src.name, rel, data)
            except ArchiveError as exc:
                if not exc.problem.startswith("not valid"):
                    self.add(rel, 0, exc.problem)
                    continue
            files[rel] = data
        if len(files) > MAX_MEMBERS:
            self.add(str(self.src), 0, f"more than {MAX_MEMBERS} files")
        return files

    def run(self) -> list[Problem]:
        files = self._collect()
        for name, data in files.items():
            if name.endswith((".toml", ".json")):
                try:
                    self.texts[name] = data.decode("utf-8")
                except UnicodeDecodeError:
                    self.add(name, 0, "not UTF-8 text")
        self._todo()
        manifest = self._toml("manifest.toml")
        if manifest is None:
            return sorted(set(self.problems))
        pkg = self._package(manifest)
        if pkg is not None:
            self._flows(pkg)
        return sorted(set(self.problems))

    def _todo(self) -> None:
        for name, text in self.texts.items():
            for i, line in enumerate(text.splitlines()):
                if TODO_MARK.search(line):
                    key = _JSON_KEY.match(line) if name.endswith(".json") else None
                    self.add(name, i + 1, f"TODO marker left in {key.group(1)!r}" if key
                             else "TODO marker left in the package")

    def _toml(self, name: str) -> dict[str, Any] | None:
        text = self.texts.get(name)
        if text is None:
            self.add(name, 0, "missing")
            return None
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            at = re.search(r"at line (\d+)", str(exc))  # 3.11's error has no lineno
            self.add(name, int(at.group(1)) if at else 1, f"not valid TOML: {exc}")
            return None

    def _package(self, manifest: dict[str, Any]) -> FlowPackage | None:
        from kiosk.flows.package import _check_manifest, _check_strings, _zones
        from kiosk.i18n import LOCALES

        try:
            _check_manifest(manifest)
        except DefinitionError as exc:
            self.at(exc)
            return None
        zones: dict[str, Zone] = {}
        try:
            zones = _zones(manifest)
        except DefinitionError as exc:
            self.at(exc)
        flows: dict[str, FlowDef] = {}
        for i, fid in enumerate(manifest["flows"]):
            rel = f"flows/{fid}.toml"
            if rel not in self.texts:
                self.add("manifest.toml", locate(self.texts["manifest.toml"], f"flows[{i}]"),
                         f"lists {fid!r} but {rel} does not exist")
                continue
            data = self._toml(rel)
            if data is None:
                continue
            try:
                flow = parse_flow(data, rel)
            except DefinitionError as exc:
                self.at(exc)
                continue
            if flow.id != fid:
                self.add(rel, locate(self.texts[rel], "id"),
                         f"id is {flow.id!r}, the manifest says {fid!r}")
            flows[fid] = flow
        for name in sorted(self.texts):
            if name.startswith("flows/") and name[6:-5] not in manifest["flows"]:
                self.add(name, 1, "not listed in manifest.toml flows")
        templates: dict[str, Mapping[str, Any]] = {}
        for name in sorted(n for n in self.texts if n.startswith("templates/")):
            tpl = self._toml(name)
            if tpl is not None:
                if tpl.get("kind") not in ("a4", "receipt"):
                    self.add(name, locate(self.texts[name], "kind"), "kind must be a4 or receipt")
                templates[name[10:-5]] = tpl
        strings: dict[str, dict[str, str]] = {}
        for locale in LOCALES:
            rel = f"strings/{locale}.json"
            if rel not in self.texts:
                continue
            try:
                strings[locale] = _check_strings(json.loads(self.texts[rel]), rel)
            except json.JSONDecodeError as exc:
                self.add(rel, exc.lineno, f"not valid JSON: {exc.msg}")
            except DefinitionError as exc:
                self.at(exc)
        zh = strings.get("zh_CN", {})
        for locale, table in strings.items():
            self._scripts(locale, table)
            for key in table:
                if key not in zh:
                    self.add(f"strings/{locale}.json", json_line(self.texts[
                        f"strings/{locale}.json"], key), f"{key!r} is not defined in zh_CN.json")
        return FlowPackage(self.src, str(manifest["id"]), str(manifest["version"]),
                           str(manifest.get("min_app_version", "0")), flows, templates, strings,
                           disable=tuple(manifest.get("disable", ())), zones=zones,
                           platforms=tuple(manifest.get("platforms", ())))

    def _scripts(self, locale: str, table: Mapping[str, str]) -> None:
        """A text in another language or script than its file's (Simplified characters in
        zh_HK, Chinese in en): what the screens' layout check calls mixed-language."""
        from kiosk.i18n import in_other_language

        rel = f"strings/{locale}.json"
        for key, text in table.items():
            if in_other_language(text, locale):
                self.add(rel, json_line(self.texts[rel], key),
                         f"{key!r} is not written in {locale}: {text[:24]!r}")

    def _composed(self, pkg: FlowPackage) -> FlowPackage:
        from kiosk.flows.package import compose, load_package

        if self.builtin_dir is None or pkg.id == "builtin":
            return pkg
        return compose([load_package(self.builtin_dir, validate_steps=False), pkg])

    def _flows(self, own: FlowPackage) -> None:
        from kiosk.flows.steps.registry import STEP_TYPES
        from kiosk.packages.manager import load_plugins

        load_plugins()
        pkg = self._composed(own)
        for flow in own.flows.values():
            rel = f"flows/{flow.id}.toml"
            text = self.texts[rel]
            self._catalog(flow, pkg, rel, text)
            for i, step in enumerate(flow.steps):
                cls = STEP_TYPES.get(step.type)
                if cls is None:
                    self.add(rel, locate(text, f"steps[{i}].type"),
                             f"steps[{i}].type: unknown step type {step.type!r}")
                    continue
                try:
                    cls.validate(step, pkg, rel, f"steps[{i}]")
                except DefinitionError as exc:
                    self.at(exc)
            for i in unreachable(flow):
                self.add(rel, locate(text, f"steps[{i}]"),
                         f"step {flow.steps[i].id!r} can never be reached")
            self._languages(flow, pkg, rel, text)
            self._template_fields(flow, pkg)

    def _catalog(self, flow: FlowDef, pkg: FlowPackage, rel: str, text: str) -> None:
        from kiosk.catalog.categories import BY_ID

        if flow.category and flow.category not in BY_ID:
            self.add(rel, locate(text, "category"), f"unknown category {flow.category!r} "
                     f"(known: {', '.join(sorted(BY_ID))})")
        if flow.zone and flow.zone not in pkg.zones:
            self.add(rel, locate(text, "zone"), f"unknown zone {flow.zone!r}: declare it in "
                     "the manifest's [[zones]]")
        if flow.platform and flow.platform not in pkg.platforms:
            self.add(rel, locate(text, "platform"), f"unknown platform {flow.platform!r}: "
                     "list it in the manifest's platforms")

    def _languages(self, flow: FlowDef, pkg: FlowPackage, rel: str, text: str) -> None:
        """Every string key the flow names exists in every language."""
        from kiosk.i18n import LOCALES, app_strings

        keys = [flow.title, flow.subtitle, flow.department]
        keys += [k for s in flow.steps for k in _texts(s.params)]
        seen = set()
        for key in keys:
            if not key or key in seen or not STRING_KEY.match(key):
                continue
            seen.add(key)
            known = [loc for loc in LOCALES
                     if key in pkg.strings.get(loc, {}) or key in app_strings(loc)]
            if not known:
                self.add(rel, text_line(text, f'"{key}"'), f"string {key!r} missing in "
                         f"every language ({', '.join(LOCALES)})")
                continue
            for loc in LOCALES:
                if loc not in known:
                    self.add(rel, text_line(text, f'"{key}"'), f"string {key!r} missing in {loc}")

    def _template_fields(self, flow: FlowDef, pkg: FlowPackage) -> None:
        """A template a step uses reads only data some step of the flow stores."""
        provided = set(CONTEXT_ROOTS) | ({_stored(s) for s in flow.steps} - {""})
        for step in flow.steps:
            name = step.params.get("template")
            if not isinstance(name, str) or name not in pkg.templates:
                continue
            rel = f"templates/{name}.toml"
            text = self.texts.get(rel)
            if text is None:
                continue  # the built-in package's template: checked there
            for ref in sorted(set(_template_refs(pkg.templates[name]))):
                root = ref.split(".")[0]
                if root not in provided:
                    self.add(rel, text_line(text, "{" + ref), (
                        f"field {{{ref}}} is not provided by any step of flow {flow.id!r} "
                        f"(it stores: {', '.join(sorted(provided - CONTEXT_ROOTS))})"))


def _stored(step: StepDef) -> str:
    if "store_as" in step.params:
        return str(step.params["store_as"])
    if step.type == "choose":
        return step.id
    return DEFAULT_STORE.get(step.type, "")


def _texts(obj: Any) -> Iterator[str]:
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, Mapping):
        for k, v in obj.items():
            if k not in _NOT_TEXT:
                yield from _texts(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _texts(v)


def _template_refs(obj: Any, scoped: bool = False) -> Iterator[str]:
    """Placeholders of a template read from the flow's data (not those of list items)."""
    from kiosk.documents.textfmt import placeholders

    if isinstance(obj, str):
        if not scoped:
            for ref, _ in placeholders(obj):
                yield ref
    elif isinstance(obj, Mapping):
        item = any(isinstance(obj.get(k), str) for k in _ITEM_SCOPED)
        for k, v in obj.items():
            if k in _ITEM_SCOPED and isinstance(v, str):
                yield v  # the list's own path is flow data
            elif k == "totals":
                yield from _template_refs(v, scoped)
            else:
                yield from _template_refs(v, scoped or (item and k in ("columns", "text",
                                                                       "item")))
    elif isinstance(obj, list):
        for v in obj:
            yield from _template_refs(v, scoped)


def unreachable(flow: FlowDef) -> list[int]:
    """Indices of steps no path from the first step reaches (outcomes go where `on` says,
    `next` to the following step, `done`/`cancel` end the flow)."""
    reach, todo = {0}, [0]
    while todo:
        i = todo.pop()
        for j in _successors(flow, i):
            if j not in reach:
                reach.add(j)
                todo.append(j)
    return [i for i in range(len(flow.steps)) if i not in reach]


def _successors(flow: FlowDef, i: int) -> list[int]:
    step = flow.steps[i]
    out = [flow.index_of(t) for t in step.on.values() if t != END]
    outcomes = _outcomes(step)
    falls = "next" in outcomes and "next" not in step.on
    if falls and i + 1 < len(flow.steps):
        out.append(i + 1)
    return out


def _outcomes(step: StepDef) -> set[str]:
    """What a step can answer: an info screen with actions answers their ids; a finish
    step ends the flow; every other step may go on (`next`) besides what `on` maps."""
    if step.type == "finish":
        return {"done"}
    actions = step.params.get("actions")
    if step.type == "info" and isinstance(actions, list) and actions:
        return {str(a.get("id")) for a in actions if isinstance(a, Mapping)}
    return {"next"}


def lint(src: Path, builtin_dir: Path | None = None) -> list[Problem]:
    """Every problem of the package source folder `src`, sorted by file and line."""
    if builtin_dir is None:
        from flowpacks import BUILTIN_DIR

        builtin_dir = BUILTIN_DIR
    return Linter(src, builtin_dir).run()
