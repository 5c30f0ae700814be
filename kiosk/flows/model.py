"""Flow definitions as data: steps, parameters and transitions, and the package of flows.

`FlowPackage` lives here, with the other data types, rather than beside the loader in
`package.py`: the loader checks steps against the step types, and the step types (and
the flow context) only need the package's shape. Keeping the shape apart keeps that
from becoming an import circle.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiosk.i18n import Translator

END = "__end__"
# Keys of a step table that are not parameters of the step type.
_STEP_META = {"id", "type", "on", "counted", "position_of"}


class DefinitionError(ValueError):
    """A flow package file is invalid. Names the file, the path inside it and the problem."""

    def __init__(self, file: str, path: str, problem: str) -> None:
        super().__init__(f"{file}: {path}: {problem}")
        self.file, self.path, self.problem = file, path, problem


@dataclass(frozen=True)
class StepDef:
    id: str
    type: str
    params: Mapping[str, Any] = field(default_factory=dict)
    on: Mapping[str, str] = field(default_factory=dict)
    counted: bool = True  # counts towards "step N of M"
    # An alternative branch (e.g. the payment-detail preview beside the certificate
    # preview) shows the position of the counted step it stands in for.
    position_of: str = ""


DEVICE_KINDS = frozenset({"idcard", "sscard", "receipt", "a4", "scanner", "camera", "doccam"})


@dataclass(frozen=True)
class FlowDef:
    id: str
    title: str  # string key
    steps: tuple[StepDef, ...]
    subtitle: str = ""
    icon: str = ""
    requires_online: bool = True
    enabled: bool = True
    order: int = 100
    identify_methods: tuple[str, ...] = ()
    # Devices without which the service cannot give the citizen its result (the A4
    # printer for a certificate, the receipt printer for a queue ticket): while one of
    # them is known to be faulted (out of paper, cover open, offline) the tile is paused.
    requires_devices: tuple[str, ...] = ()
    # Where the service sits in the catalog (issue 17): a category id the app knows
    # (kiosk.catalog.categories), the department's name key, extra search words (any
    # language, Chinese characters or pinyin), a zone id declared in the manifest, and
    # the platform whose connector serves its requests ("" = the terminal's own).
    category: str = ""
    department: str = ""
    keywords: tuple[str, ...] = ()
    zone: str = ""
    platform: str = ""

    def index_of(self, step_id: str) -> int:
        for i, s in enumerate(self.steps):
            if s.id == step_id:
                return i
        raise KeyError(step_id)

    @property
    def counted_steps(self) -> list[StepDef]:
        return [s for s in self.steps if s.counted]

    def position(self, step_id: str) -> tuple[int, int]:
        """(n, m) for "step n of m"; (0, 0) for a step that shows no position."""
        counted = [s.id for s in self.counted_steps]
        step = self.steps[self.index_of(step_id)]
        target = step.position_of or step.id
        if target in counted:
            return counted.index(target) + 1, len(counted)
        return 0, 0


def _req(d: Mapping[str, Any], key: str, typ: type, file: str, path: str) -> Any:
    if key not in d:
        raise DefinitionError(file, f"{path}.{key}" if path else key, "is required")
    value = d[key]
    if not isinstance(value, typ):
        raise DefinitionError(file, f"{path}.{key}" if path else key,
                              f"must be {typ.__name__}, got {type(value).__name__}")
    return value


def parse_flow(data: Mapping[str, Any], file: str) -> FlowDef:
    fid = _req(data, "id", str, file, "")
    steps_raw = _req(data, "steps", list, file, "")
    if not steps_raw:
        raise DefinitionError(file, "steps", "must not be empty")
    steps: list[StepDef] = []
    seen: set[str] = set()
    for i, raw in enumerate(steps_raw):
        path = f"steps[{i}]"
        if not isinstance(raw, Mapping):
            raise DefinitionError(file, path, "must be a table")
        sid = _req(raw, "id", str, file, path)
        if sid in seen:
            raise DefinitionError(file, f"{path}.id", f"duplicate step id {sid!r}")
        seen.add(sid)
        on = raw.get("on", {})
        if not isinstance(on, Mapping) or not all(isinstance(v, str) for v in on.values()):
            raise DefinitionError(file, f"{path}.on", "must map outcomes to step ids")
        params = {k: v for k, v in raw.items() if k not in _STEP_META}
        position_of = raw.get("position_of", "")
        if not isinstance(position_of, str):
            raise DefinitionError(file, f"{path}.position_of", "must be a step id")
        steps.append(StepDef(sid, _req(raw, "type", str, file, path), params, dict(on),
                             bool(raw.get("counted", True)), position_of))
    counted_ids = {s.id for s in steps if s.counted}
    for i, s in enumerate(steps):
        if s.position_of and s.position_of not in counted_ids:
            raise DefinitionError(file, f"steps[{i}].position_of",
                                  f"{s.position_of!r} is not a counted step of this flow")
        for outcome, target in s.on.items():
            if target != END and target not in seen:
                raise DefinitionError(file, f"steps[{i}].on.{outcome}",
                                      f"unknown target step {target!r}")
    methods = data.get("identify_methods", [])
    needs = data.get("requires_devices", [])
    if not isinstance(needs, list) or not all(n in DEVICE_KINDS for n in needs):
        raise DefinitionError(file, "requires_devices",
                              f"must list device kinds of {sorted(DEVICE_KINDS)}")
    keywords = data.get("keywords", [])
    if not isinstance(keywords, list) or not all(isinstance(k, str) for k in keywords):
        raise DefinitionError(file, "keywords", "must be a list of strings")
    for key in ("category", "department", "zone", "platform"):
        if not isinstance(data.get(key, ""), str):
            raise DefinitionError(file, key, "must be a string")
    return FlowDef(
        id=fid, title=_req(data, "title", str, file, ""), steps=tuple(steps),
        subtitle=str(data.get("subtitle", "")), icon=str(data.get("icon", "")),
        requires_online=bool(data.get("requires_online", True)),
        enabled=bool(data.get("enabled", True)), order=int(data.get("order", 100)),
        identify_methods=tuple(methods), requires_devices=tuple(needs),
        category=str(data.get("category", "")), department=str(data.get("department", "")),
        keywords=tuple(keywords), zone=str(data.get("zone", "")),
        platform=str(data.get("platform", "")),
    )


@dataclass(frozen=True)
class Zone:
    """A group of services that run against another city's platform (广州专区, 港澳专区).
    Declared in a package's manifest: `[[zones]] id, title (string key), platform, order`."""

    id: str
    title: str
    platform: str = ""
    order: int = 100


@dataclass(frozen=True)
class FlowPackage:
    root: Path
    id: str
    version: str
    min_app_version: str
    flows: Mapping[str, FlowDef]
    templates: Mapping[str, Mapping[str, Any]]
    strings: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    disable: tuple[str, ...] = ()
    priority: int = 100
    # For a composed set: its packages, bottom first; and which package each flow came from.
    layers: tuple[FlowPackage, ...] = ()
    flow_origin: Mapping[str, str] = field(default_factory=dict)
    # Catalog declarations (issue 17): zones by id, and the platform ids the package's
    # flows may name (each served by a connector the terminal's config defines).
    zones: Mapping[str, Zone] = field(default_factory=dict)
    platforms: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return f"{self.id}@{self.version}"

    @property
    def versions(self) -> dict[str, str]:
        """Package id -> version for every package in this set (heartbeats, status)."""
        return {p.id: p.version for p in self.layers} if self.layers else {self.id: self.version}

    def asset(self, rel: str) -> Path:
        """Resolve an asset path inside the package (top layer first); refuse escapes."""
        for pkg in reversed(self.layers) if self.layers else (self,):
            path = (pkg.root / rel).resolve()
            if path.is_relative_to(pkg.root.resolve()) and path.is_file():
                return path
        raise DefinitionError(rel, "", "asset missing or outside the package")

    def translator(self, locale: str) -> Translator:
        return Translator(locale, self.strings)

    def catalog(self) -> list[FlowDef]:
        """Enabled flows in home-screen order."""
        return sorted((f for f in self.flows.values() if f.enabled), key=lambda f: f.order)
