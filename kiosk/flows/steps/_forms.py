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
from kiosk.i18n import Translator, localize, rendered

# Outcomes the engine understands without a transition.
BUILTIN_OUTCOMES = ("next", "done", "cancel")


def say(ctx: FlowContext, key: str, **kw: Any) -> str:
    """Translate `key` and fill data placeholders (masked: this is for the screen). The
    result can be drawn again in another language (`kiosk.i18n.Text`)."""
    if not key:
        return ""
    data = ctx.template_data()
    variant = ctx.for_identity(key)

    def draw(t: Translator) -> str:
        try:
            return render(t(variant, **kw), localize(data, t.locale), masked=True)
        except TemplateError as err:
            raise StepError("error.app", f"{key}: {err}", retry=False) from err
    return rendered(draw, ctx.t)


def fill(ctx: FlowContext, template: str, extra: Mapping[str, Any] | None = None) -> str:
    """A template given inline or as a string key, filled with the session's data (masked);
    drawn again in another language on a switch."""
    data = ctx.template_data()
    if extra:
        data.update(extra)

    def draw(t: Translator) -> str:
        text = t(template) if t.has(template) else template
        try:
            return render(text, localize(data, t.locale), masked=True)
        except TemplateError as err:
            raise StepError("error.app", f"{template}: {err}", retry=False) from err
    return rendered(draw, ctx.t, data=True)


def text_or_key(ctx: FlowContext, text: str) -> str:
    """A template given inline or as a string key: `fill` takes either (kept for callers)."""
    return text


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
