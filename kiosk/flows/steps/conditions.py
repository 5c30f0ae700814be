"""Conditions as data: `{path = "checkin.status", equals = "on_time"}`.

Used by `branch` (which transition to take) and by `choose`/`info` (which options
and actions to offer). A condition is a table with a data `path` and exactly one
test; `all = [...]` and `any = [...]` combine conditions. Nothing here runs code
from a package.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kiosk.documents.textfmt import TemplateError, lookup
from kiosk.flows.model import DefinitionError

TESTS = ("equals", "not_equals", "in", "not_in", "exists", "empty", "gt", "ge", "lt", "le")
_MISSING = object()


def check_condition(cond: Any, file: str, path: str) -> None:
    """Raise DefinitionError unless `cond` is a well-formed condition table."""
    if not isinstance(cond, Mapping):
        raise DefinitionError(file, path, "a condition must be a table")
    for combo in ("all", "any"):
        if combo in cond:
            parts = cond[combo]
            if set(cond) != {combo} or not isinstance(parts, list) or not parts:
                raise DefinitionError(file, f"{path}.{combo}",
                                      "must be the only key and a non-empty list of conditions")
            for i, part in enumerate(parts):
                check_condition(part, file, f"{path}.{combo}[{i}]")
            return
    if not isinstance(cond.get("path"), str) or not cond["path"]:
        raise DefinitionError(file, f"{path}.path", "is required (a data path like record.status)")
    tests = [k for k in cond if k != "path"]
    if len(tests) != 1 or tests[0] not in TESTS:
        raise DefinitionError(file, path, f"needs exactly one test of: {', '.join(TESTS)}")
    test = tests[0]
    value = cond[test]
    if test in ("in", "not_in") and not isinstance(value, list):
        raise DefinitionError(file, f"{path}.{test}", "must be a list")
    if test in ("exists", "empty") and not isinstance(value, bool):
        raise DefinitionError(file, f"{path}.{test}", "must be true or false")
    if test in ("gt", "ge", "lt", "le") and (not isinstance(value, (int, float))
                                               or isinstance(value, bool)):
        raise DefinitionError(file, f"{path}.{test}", "must be a number")


def _value(data: Mapping[str, Any], path: str) -> Any:
    try:
        return lookup(data, path)
    except TemplateError:
        return _MISSING


def holds(cond: Mapping[str, Any], data: Mapping[str, Any]) -> bool:
    """Evaluate a (checked) condition against flow data; a missing path is simply absent."""
    if "all" in cond:
        return all(holds(c, data) for c in cond["all"])
    if "any" in cond:
        return any(holds(c, data) for c in cond["any"])
    value = _value(data, cond["path"])
    if "exists" in cond:
        return (value is not _MISSING and value is not None) == bool(cond["exists"])
    if "empty" in cond:
        is_empty = value is _MISSING or value is None or (
            hasattr(value, "__len__") and len(value) == 0)
        return is_empty == bool(cond["empty"])
    if value is _MISSING:
        return "not_equals" in cond or "not_in" in cond
    if "equals" in cond:
        return bool(value == cond["equals"])
    if "not_equals" in cond:
        return bool(value != cond["not_equals"])
    if "in" in cond:
        return value in cond["in"]
    if "not_in" in cond:
        return value not in cond["not_in"]
    try:
        number = float(value)
    except (TypeError, ValueError):
        return False
    for test, ok in (("gt", number > cond.get("gt", 0)), ("ge", number >= cond.get("ge", 0)),
                     ("lt", number < cond.get("lt", 0)), ("le", number <= cond.get("le", 0))):
        if test in cond:
            return bool(ok)
    return False
