"""Step types by name: built-ins from an explicit table, plug-ins from entry points.

A built-in step type is named here as `module:Class` and imported the first time a
flow (or a package check) asks for it, so the engine, the package loader and every
step module can be imported on their own: no module has to import all the steps.
Third parties add step types through the `guanjia_kiosk.step_types` entry-point
group (`load_entry_point_steps`); they may add names, never replace one.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Iterator, MutableMapping
from typing import Generic, TypeVar, cast

from kiosk.flows.steps.base import StepType

log = logging.getLogger(__name__)

_S = "kiosk.flows.steps."
BUILTIN: dict[str, str] = {
    "consent": _S + "consent:ConsentStep",
    "query": _S + "query:QueryStep",
    "evaluate": _S + "evaluate:EvaluateStep",
    "finish": _S + "finish:FinishStep",
    "choose": _S + "choose:ChooseStep",
    "period": _S + "period:PeriodStep",
    "enter_text": _S + "enter_text:EnterTextStep",
    "branch": _S + "branch:BranchStep",
    "info": _S + "info:InfoStep",
    "ticket": _S + "ticket:TicketStep",
    "preview": _S + "preview:PreviewStep",
    "print_a4": _S + "print_a4:PrintA4Step",
    "print_receipt": _S + "print_receipt:PrintReceiptStep",
    "identify": _S + "identify:IdentifyStep",
    "identify_companion": _S + "companion:IdentifyCompanionStep",
    "verify_face": _S + "face:VerifyFaceStep",
    "guide_browse": _S + "guide:GuideBrowseStep",
    "capture_document": _S + "capture_document:CaptureDocumentStep",
    "signature": _S + "signature:SignatureStep",
    "authorisation_code": _S + "authorisation:AuthorisationCodeStep",
    "verify_certificate": _S + "verify_certificate:VerifyCertificateStep",
}

T = TypeVar("T")


class LazyTable(MutableMapping[str, type[T]], Generic[T]):
    """Name -> class; entries given as `module:Class` are imported on first lookup.

    Membership and iteration never import anything; a lookup imports one module and
    checks that the class is a `base` subclass whose `name` is the key it is filed under.
    """

    def __init__(self, base: type, targets: dict[str, str]) -> None:
        # `base` is an abstract class (StepType, IdentifyMethod), which mypy does not take
        # for a `type[T]` argument; T comes from the table's declared type instead.
        self._base = base
        self._targets = dict(targets)
        self._classes: dict[str, type[T]] = {}
        self._lock = threading.Lock()

    def __getitem__(self, name: str) -> type[T]:
        cls = self._classes.get(name)
        if cls is not None:
            return cls
        with self._lock:
            if name not in self._classes:
                target = self._targets[name]  # KeyError: not a known name
                self._classes[name] = self._load(name, target)
            return self._classes[name]

    def _load(self, name: str, target: str) -> type[T]:
        module_name, _, attr = target.partition(":")
        cls = getattr(importlib.import_module(module_name), attr)
        if not (isinstance(cls, type) and issubclass(cls, self._base)):
            raise TypeError(f"{target} is not a {self._base.__name__}")
        if getattr(cls, "name", None) != name:
            raise TypeError(f"{target} is named {getattr(cls, 'name', None)!r}, filed as {name!r}")
        return cast("type[T]", cls)  # checked above: a subclass of `base`

    def __setitem__(self, name: str, cls: type[T]) -> None:
        with self._lock:
            self._targets.pop(name, None)
            self._classes[name] = cls

    def __delitem__(self, name: str) -> None:
        with self._lock:
            found = self._classes.pop(name, None) is not None
            found = self._targets.pop(name, None) is not None or found
        if not found:
            raise KeyError(name)

    def __contains__(self, name: object) -> bool:
        return name in self._classes or name in self._targets

    def __iter__(self) -> Iterator[str]:
        return iter(list(dict.fromkeys([*self._targets, *self._classes])))

    def __len__(self) -> int:
        return len(set(self._targets) | set(self._classes))

    def loaded(self) -> frozenset[str]:
        """Names whose class has been imported (for tests of the lazy loading)."""
        return frozenset(self._classes)


STEP_TYPES: LazyTable[StepType] = LazyTable(StepType, BUILTIN)


def step_type(cls: type[StepType]) -> type[StepType]:
    """Register a step type class under its `name` (for code outside the built-in table)."""
    STEP_TYPES[cls.name] = cls
    return cls


def load_entry_point_steps() -> list[str]:
    """Register step types that installed plug-ins advertise; return their names."""
    from importlib.metadata import entry_points

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
