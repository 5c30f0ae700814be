"""Fill a declared platform request (nested tables and lists of templates) from flow data,
and check at load time that a request asks for real identity values where it needs them."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from kiosk.documents.textfmt import placeholders, render
from kiosk.flows.model import DefinitionError, StepDef
from kiosk.identity import MASKED_FIELDS


def render_request(obj: Any, data: Mapping[str, Any]) -> Any:
    if isinstance(obj, str):
        return render(obj, data)
    if isinstance(obj, Mapping):
        return {k: render_request(v, data) for k, v in obj.items()}
    if isinstance(obj, list):
        return [render_request(v, data) for v in obj]
    return obj


def _texts(obj: Any) -> Iterator[str]:
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, Mapping):
        for v in obj.values():
            yield from _texts(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _texts(v)


# Step types that hold another person of the visit, and the name they store them under
# by default (a spouse by their card, a principal named by an authorisation code).
PERSON_STEPS = {"identify_companion": "companion", "authorisation_code": "principal"}


def _people(pkg: Any) -> set[str]:
    """`identity` and the names the package's person steps store a person under."""
    names = {"identity"}
    for flow in getattr(pkg, "flows", {}).values():
        names.update(str(s.params.get("store_as", PERSON_STEPS[s.type])) for s in flow.steps
                     if s.type in PERSON_STEPS)
    return names


def check_request(step: StepDef, pkg: Any, file: str, path: str) -> None:
    """`{identity.id_number}` is masked (the view's default): a request that sends it
    would ask the platform about `4419**********1234`. Say so when the package loads."""
    people = _people(pkg)
    for text in _texts(step.params.get("request", {})):
        for ref, _ in placeholders(text):
            parts = ref.split(".")
            if len(parts) == 2 and parts[0] in people and parts[1] in MASKED_FIELDS:
                raise DefinitionError(file, f"{path}.request", (
                    f"{{{ref}}} is masked; the platform needs {{{parts[0]}.full.{parts[1]}}}"))
