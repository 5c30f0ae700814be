"""The base of every step type: parameters declared as data, checked when a package loads."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

from kiosk.flows.model import DefinitionError, StepDef

if TYPE_CHECKING:
    from kiosk.flows.context import FlowContext, StepResult
    from kiosk.flows.model import FlowPackage


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
