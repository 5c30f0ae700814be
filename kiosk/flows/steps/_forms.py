"""Shared by the form step types: masked text for screens, definition checks.

Every citizen-facing text is a string key; a translated text may carry data
placeholders (`{checkin.appointment.time}`), filled with the masked rendering so a
screen never shows a full name or ID number.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kiosk.documents.textfmt import TemplateError, render
from kiosk.flows.context import FlowContext, StepError
from kiosk.flows.model import DefinitionError, StepDef

# Outcomes the engine understands without a transition.
BUILTIN_OUTCOMES = ("next", "done", "cancel")


def say(ctx: FlowContext, key: str, **kw: Any) -> str:
    """Translate `key` and fill data placeholders (masked: this is for the screen)."""
    if not key:
        return ""
    text = ctx.t(ctx.for_identity(key), **kw)
    try:
        return render(text, ctx.template_data(), masked=True)
    except TemplateError as err:
        raise StepError("error.app", f"{key}: {err}", retry=False) from err


def fill(ctx: FlowContext, template: str, extra: Mapping[str, Any] | None = None) -> str:
    data = ctx.template_data()
    if extra:
        data.update(extra)
    try:
        return render(template, data, masked=True)
    except TemplateError as err:
        raise StepError("error.app", f"{template}: {err}", retry=False) from err


def text_or_key(ctx: FlowContext, text: str) -> str:
    """A template given inline or as a string key (translated for the session's language)."""
    return ctx.t(text) if ctx.t.has(text) else text


def check_outcome(step: StepDef, outcome: str, file: str, path: str) -> None:
    if outcome not in BUILTIN_OUTCOMES and outcome not in step.on:
        raise DefinitionError(file, path, f"outcome {outcome!r} has no transition in `on`")


def check_strings(pkg: Any, keys: list[str], file: str, path: str) -> None:
    from kiosk.i18n import app_strings

    zh = pkg.strings.get("zh_CN", {})
    for key in keys:
        if key and key not in zh and key not in app_strings("zh_CN"):
            raise DefinitionError(file, path, f"string {key!r} missing in zh_CN")


def back_outcome(step: StepDef) -> str:
    return "back" if "back" in step.on else "cancel"
