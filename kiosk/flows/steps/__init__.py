"""Step types: Python classes a flow package composes by name.

Register a step type with `@step_type`. Third parties can add step types through the
`guanjia_kiosk.step_types` entry-point group (loaded by `load_entry_point_steps`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

from kiosk.flows.model import DefinitionError, StepDef

if TYPE_CHECKING:
    from kiosk.flows.engine import FlowContext, StepResult
    from kiosk.flows.package import FlowPackage

STEP_TYPES: dict[str, type[StepType]] = {}


class StepType(ABC):
    name: ClassVar[str]
    required: ClassVar[tuple[str, ...]] = ()
    optional: ClassVar[tuple[str, ...]] = ()
    # Parameters whose value names a template in the package.
    template_params: ClassVar[tuple[str, ...]] = ()
    # Parameters whose value is a string key that must exist in zh_CN.
    string_params: ClassVar[tuple[str, ...]] = ()

    def __init__(self, step: StepDef) -> None:
        self.step = step
        self.params = step.params

    def param(self, name: str, default: Any = None) -> Any:
        return self.params.get(name, default)

    @classmethod
    def validate(cls, step: StepDef, pkg: FlowPackage, file: str, path: str) -> None:
        for key in cls.required:
            if key not in step.params:
                raise DefinitionError(file, f"{path}.{key}", f"required by step type {cls.name!r}")
        allowed = set(cls.required) | set(cls.optional)
        for key in step.params:
            if key not in allowed:
                raise DefinitionError(file, f"{path}.{key}",
                                      f"unknown parameter for step type {cls.name!r}")
        for key in cls.template_params:
            name = step.params.get(key)
            if name is not None and name not in pkg.templates:
                raise DefinitionError(file, f"{path}.{key}", f"template {name!r} not in package")
        zh = pkg.strings.get("zh_CN", {})
        from kiosk.i18n import app_strings

        for key in cls.string_params:
            value = step.params.get(key)
            values = value if isinstance(value, list) else [value] if value else []
            for v in values:
                if v not in zh and v not in app_strings("zh_CN"):
                    raise DefinitionError(file, f"{path}.{key}", f"string {v!r} missing in zh_CN")

    @abstractmethod
    def run(self, ctx: FlowContext) -> StepResult: ...


def step_type(cls: type[StepType]) -> type[StepType]:
    STEP_TYPES[cls.name] = cls
    return cls


def load_entry_point_steps() -> list[str]:
    """Register step types that installed plug-ins advertise; return their names."""
    from importlib.metadata import entry_points

    import logging

    log = logging.getLogger(__name__)
    names = []
    for ep in entry_points(group="guanjia_kiosk.step_types"):
        try:
            cls = ep.load()
        except Exception:  # a broken plug-in must not take the others (or the app) down
            log.exception("step type plug-in %s failed to load", ep.value)
            continue
        if not (isinstance(cls, type) and issubclass(cls, StepType)):
            log.warning("plug-in %s is not a StepType; ignored", ep.value)
        elif cls.name in STEP_TYPES and STEP_TYPES[cls.name] is not cls:
            log.warning("plug-in %s may not replace step type %r; ignored", ep.value, cls.name)
        else:
            STEP_TYPES[cls.name] = cls
            names.append(cls.name)
    return names


# Built-in step types register themselves on import.
from kiosk.flows.steps import basic, documents, identify  # noqa: E402,F401
from kiosk.flows.steps import face, identify_qr  # noqa: E402,F401  (issue 5)
from kiosk.flows.steps import companion, forms, guide  # noqa: E402,F401
