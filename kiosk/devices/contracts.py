"""Check a driver class against its kind's Protocol: member names AND signatures.

`isinstance(obj, SomeProtocol)` only asks whether the names exist. A driver whose
`print_pdf` takes `(pdf)` instead of `(pdf, title, timeout=120.0)` would pass it and
fail in front of a citizen. `violations()` compares every method's parameters (names,
kinds, defaults, annotations) and return annotation with the Protocol's, the way a
caller would see them. Used by the registry when a driver is first loaded and by the
contract test over every registered driver.
"""

from __future__ import annotations

import inspect
import typing
from typing import Any

_SKIP = {"__init__", "__subclasshook__", "__class_getitem__", "__init_subclass__",
         "__protocol_attrs__", "__non_callable_proto_members__", "__abstractmethods__"}


def protocol_members(proto: type) -> dict[str, Any]:
    """Name -> the Protocol's declaration (a function, a property, or None for a field)."""
    out: dict[str, Any] = {}
    for base in reversed(proto.__mro__):
        if base in (object, typing.Protocol, typing.Generic) or \
                not getattr(base, "_is_protocol", False):
            continue
        for name in getattr(base, "__annotations__", {}):
            out.setdefault(name, None)
        for name, value in vars(base).items():
            if name.startswith("_") or name in _SKIP:
                continue
            if inspect.isfunction(value) or isinstance(value, property):
                out[name] = value
    return out


def _hints(fn: Any) -> dict[str, Any] | None:
    try:
        return typing.get_type_hints(fn)
    except (NameError, TypeError, AttributeError, SyntaxError):  # a TYPE_CHECKING-only name
        return None


def _same_annotation(name: str, spec: Any, impl: Any, spec_hints: dict[str, Any] | None,
                     impl_hints: dict[str, Any] | None) -> bool:
    if impl is inspect.Parameter.empty:
        return spec is inspect.Parameter.empty
    if spec_hints is not None and impl_hints is not None and name in spec_hints \
            and name in impl_hints:
        return bool(spec_hints[name] == impl_hints[name])
    return str(spec).replace(" ", "") == str(impl).replace(" ", "")


def signature_problems(name: str, spec: Any, impl: Any) -> list[str]:
    """How `impl` differs from the Protocol method `spec` (empty: compatible)."""
    try:
        s_sig, i_sig = inspect.signature(spec), inspect.signature(impl)
    except (TypeError, ValueError):
        return [f"{name}: signature cannot be read"]
    s_params = [p for p in s_sig.parameters.values() if p.name != "self"]
    i_params = [p for p in i_sig.parameters.values() if p.name != "self"]
    s_hints, i_hints = _hints(spec), _hints(impl)
    problems = []
    for i, sp in enumerate(s_params):
        ip = i_params[i] if i < len(i_params) else None
        if ip is None or ip.name != sp.name or ip.kind != sp.kind:
            got = f"{ip.name} ({ip.kind.description})" if ip else "nothing"
            problems.append(f"{name}: parameter {i + 1} must be {sp.name} "
                            f"({sp.kind.description}), is {got}")
            continue
        if ip.default != sp.default:
            problems.append(f"{name}({sp.name}): default {ip.default!r}, contract says "
                            f"{sp.default!r}")
        if not _same_annotation(sp.name, sp.annotation, ip.annotation, s_hints, i_hints):
            problems.append(f"{name}({sp.name}): annotated {ip.annotation}, contract says "
                            f"{sp.annotation}")
    for ip in i_params[len(s_params):]:
        if ip.default is inspect.Parameter.empty and ip.kind not in (
                inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            problems.append(f"{name}: extra parameter {ip.name} without a default")
    if not _same_annotation("return", s_sig.return_annotation, i_sig.return_annotation,
                            s_hints, i_hints):
        problems.append(f"{name}: returns {i_sig.return_annotation}, contract says "
                        f"{s_sig.return_annotation}")
    return problems


def violations(cls: type, proto: type, instance: Any = None) -> list[str]:
    """Everything in which `cls` (and, for data members, `instance`) breaks `proto`."""
    problems = []
    for name, spec in protocol_members(proto).items():
        impl = inspect.getattr_static(cls, name, None)
        if spec is None or isinstance(spec, property):  # a field or a read-only property
            if spec is None and impl is None and instance is None:
                continue  # an instance attribute: only an instance can show it
            present = impl is not None or (instance is not None and hasattr(instance, name))
            if not present:
                problems.append(f"{name}: missing")
            elif isinstance(spec, property) and inspect.isfunction(impl):
                problems.append(f"{name}: a method, the contract reads it as an attribute")
            continue
        if impl is None:
            problems.append(f"{name}: missing")
            continue
        if isinstance(impl, (staticmethod, classmethod)):
            impl = impl.__func__
        if not callable(impl):
            problems.append(f"{name}: not a method")
            continue
        problems.extend(signature_problems(name, spec, impl))
    return problems
