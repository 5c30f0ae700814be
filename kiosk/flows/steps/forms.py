"""Form step types: choose, period, enter_text, branch, info, ticket.

Every citizen-facing text is a string key; a translated text may carry data
placeholders (`{checkin.appointment.time}`), filled with the masked rendering so a
screen never shows a full name or ID number. Options, actions and transitions may
depend on flow data through conditions declared as data (`conditions.py`).
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Mapping
from typing import Any

from kiosk.documents.textfmt import TemplateError, lookup, render
from kiosk.flows.engine import FlowContext, StepError, StepResult
from kiosk.flows.interaction import ask
from kiosk.flows.model import DefinitionError, StepDef
from kiosk.flows.periods import (
    PRESETS,
    Limits,
    PeriodError,
    check_range,
    month_cn,
    month_text,
    preset_period,
    year_period,
)
from kiosk.flows.screens import Action, Field, ScreenKind
from kiosk.flows.steps import StepType, step_type
from kiosk.flows.steps.conditions import check_condition, holds

log = logging.getLogger(__name__)

# Outcomes the engine understands without a transition.
BUILTIN_OUTCOMES = ("next", "done", "cancel")
MAX_MISSES = 5  # invalid entries in a row before the citizen is sent to staff
KEYSETS = {"letters": "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "digits": "0123456789",
           "alnum": "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"}


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


def _check_outcome(step: StepDef, outcome: str, file: str, path: str) -> None:
    if outcome not in BUILTIN_OUTCOMES and outcome not in step.on:
        raise DefinitionError(file, path, f"outcome {outcome!r} has no transition in `on`")


def _check_strings(pkg: Any, keys: list[str], file: str, path: str) -> None:
    from kiosk.i18n import app_strings

    zh = pkg.strings.get("zh_CN", {})
    for key in keys:
        if key and key not in zh and key not in app_strings("zh_CN"):
            raise DefinitionError(file, path, f"string {key!r} missing in zh_CN")


def _back_outcome(step: StepDef) -> str:
    return "back" if "back" in step.on else "cancel"


def _store(ctx: FlowContext, name: str, value: Any) -> None:
    ctx.data[name] = value


@step_type
class ChooseStep(StepType):
    """Pick one option: listed in the flow (`options`) or taken from data (`options_from`).

    The choice goes to `data[store_as]` (the item itself to `data[store_as + "_item"]`
    when options come from data). The outcome is the option id when `on` has a
    transition for it, else "next". Long lists are paged.
    """

    name = "choose"
    optional = ("title", "text", "hint", "options", "options_from", "option_id",
                "option_label", "store_as", "illustration", "page_size", "back", "empty")
    string_params = ("title", "text", "hint", "empty")

    @classmethod
    def validate(cls, step, pkg, file, path):  # type: ignore[no-untyped-def]
        super().validate(step, pkg, file, path)
        opts = step.params.get("options")
        if (opts is None) == (step.params.get("options_from") is None):
            raise DefinitionError(file, path, "needs exactly one of `options`, `options_from`")
        for i, opt in enumerate(opts or []):
            p = f"{path}.options[{i}]"
            if not isinstance(opt, Mapping) or not isinstance(opt.get("id"), str) \
                    or not isinstance(opt.get("label"), str):
                raise DefinitionError(file, p, "needs `id` and `label` (a string key)")
            unknown = set(opt) - {"id", "label", "when", "primary"}
            if unknown:
                raise DefinitionError(file, p, f"unknown key(s) {sorted(unknown)}")
            _check_strings(pkg, [opt["label"]], file, f"{p}.label")
            if "when" in opt:
                check_condition(opt["when"], file, f"{p}.when")

    def _options(self, ctx: FlowContext) -> list[tuple[Action, Any]]:
        if self.param("options") is not None:
            data = ctx.template_data()
            return [(Action(o["id"], say(ctx, o["label"]), bool(o.get("primary"))), None)
                    for o in self.param("options") if "when" not in o or holds(o["when"], data)]
        try:
            items = lookup(ctx.template_data(), self.param("options_from"))
        except TemplateError:
            items = []
        out = []
        for item in items if isinstance(items, list) else []:
            extra = item if isinstance(item, Mapping) else {"value": item}
            oid = fill(ctx, self.param("option_id", "{id}"), extra)
            label = fill(ctx, text_or_key(ctx, self.param("option_label", "{name}")), extra)
            out.append((Action(oid, label), item))
        return out

    def run(self, ctx: FlowContext) -> StepResult:
        t = ctx.t
        options = self._options(ctx)
        if not options:
            if "empty" in self.step.on:
                return StepResult("empty")
            raise StepError(self.param("empty", "choose.nothing"), retry=False)
        size = int(self.param("page_size", 6))
        page = 0
        pages = (len(options) + size - 1) // size
        while True:
            shown = options[page * size:(page + 1) * size]
            actions = []
            if self.param("back", True):
                actions.append(Action("back", t("common.back")))
            if page > 0:
                actions.append(Action("page_prev", t("common.page_prev")))
            if page < pages - 1:
                actions.append(Action("page_next", t("common.page_next"), primary=True))
            hint = say(ctx, self.param("hint", ""))
            if pages > 1:
                hint = (hint + "  " if hint else "") + t("common.page_of", n=page + 1, m=pages)
            screen = ctx.screen(ScreenKind.CHOICE, say(ctx, self.param("title", "choose.title")),
                                text=say(ctx, self.param("text", "")), hint=hint,
                                options=tuple(a for a, _ in shown), actions=tuple(actions),
                                illustration=self.param("illustration", ""))
            resp = ask(ctx.ui, screen)
            if resp.action == "page_prev":
                page = max(0, page - 1)
                continue
            if resp.action == "page_next":
                page = min(pages - 1, page + 1)
                continue
            if resp.action in ("back", "cancel"):
                return StepResult(_back_outcome(self.step))
            chosen = [(a, item) for a, item in options if a.id == resp.action]
            if not chosen:
                continue  # a stale tap on a replaced screen
            action, item = chosen[0]
            store = self.param("store_as", self.step.id)
            _store(ctx, store, action.id)
            if item is not None:
                _store(ctx, f"{store}_item", item)
            if action.id in self.step.on or action.id in ("done", "cancel"):
                return StepResult(action.id)
            return StepResult("next")


@step_type
class PeriodStep(StepType):
    """Pick a year or a month range, never beyond what the platform allows.

    `limits` names data like `{earliest = "2019-01", latest = "2025-05", max_months = 36}`
    (usually a platform answer). `mode = "year"` offers the allowed years as buttons;
    `mode = "range"` shows two touch steppers (start and end month) with presets.
    The result `{start, end, months, label, mode[, year]}` goes to `data[store_as]`.
    """

    name = "period"
    required = ("limits",)
    optional = ("mode", "title", "text", "presets", "default", "store_as", "back")
    string_params = ("title", "text")

    @classmethod
    def validate(cls, step, pkg, file, path):  # type: ignore[no-untyped-def]
        super().validate(step, pkg, file, path)
        if step.params.get("mode", "range") not in ("year", "range"):
            raise DefinitionError(file, f"{path}.mode", "must be \"year\" or \"range\"")
        for i, p in enumerate(step.params.get("presets", [])):
            if p not in PRESETS:
                raise DefinitionError(file, f"{path}.presets[{i}]",
                                      f"unknown preset {p!r} (known: {', '.join(PRESETS)})")
        default = step.params.get("default", "last_12")
        if default not in PRESETS:
            raise DefinitionError(file, f"{path}.default", f"unknown preset {default!r}")

    def _limits(self, ctx: FlowContext) -> Limits:
        try:
            return Limits.parse(lookup(ctx.template_data(), self.param("limits")))
        except (TemplateError, PeriodError) as err:
            key = err.key if isinstance(err, PeriodError) else "period.no_limits"
            raise StepError(key, str(err), retry=False) from err

    def _done(self, ctx: FlowContext, period: Any, mode: str) -> StepResult:
        ctx.data[self.param("store_as", "period")] = period.as_data(mode)
        return StepResult("next")

    def run(self, ctx: FlowContext) -> StepResult:
        limits = self._limits(ctx)
        if self.param("mode", "range") == "year":
            return self._run_year(ctx, limits)
        return self._run_range(ctx, limits)

    def _limits_hint(self, ctx: FlowContext, limits: Limits) -> str:
        return ctx.t("period.limits", earliest=month_cn(month_text(limits.earliest)),
                     latest=month_cn(month_text(limits.latest)), max=limits.max_months)

    def _run_year(self, ctx: FlowContext, limits: Limits) -> StepResult:
        t = ctx.t
        years = limits.years()
        size, page = 8, 0
        pages = (len(years) + size - 1) // size
        while True:
            actions = [Action("back", t("common.back"))]
            if page > 0:
                actions.append(Action("page_prev", t("common.page_prev")))
            if page < pages - 1:
                actions.append(Action("page_next", t("common.page_next")))
            screen = ctx.screen(ScreenKind.CHOICE,
                                say(ctx, self.param("title", "period.title.year")),
                                text=say(ctx, self.param("text", "")),
                                hint=self._limits_hint(ctx, limits),
                                options=tuple(Action(str(y), t("period.year", year=y))
                                              for y in years[page * size:(page + 1) * size]),
                                actions=tuple(actions))
            resp = ask(ctx.ui, screen)
            if resp.action in ("back", "cancel"):
                return StepResult(_back_outcome(self.step))
            if resp.action in ("page_prev", "page_next"):
                page = max(0, min(pages - 1, page + (1 if resp.action == "page_next" else -1)))
                continue
            if resp.action.isdigit() and int(resp.action) in years:
                return self._done(ctx, year_period(int(resp.action), limits), "year")

    def _run_range(self, ctx: FlowContext, limits: Limits) -> StepResult:
        t = ctx.t
        presets = [p for p in self.param("presets", ["last_6", "last_12"])]
        current = preset_period(self.param("default", "last_12"), limits)
        status = ""
        lo, hi = month_text(limits.earliest), month_text(limits.latest)
        while True:
            fields = (Field("start", t("period.start"), "month", month_text(current.start), lo, hi),
                      Field("end", t("period.end"), "month", month_text(current.end), lo, hi))
            screen = ctx.screen(
                ScreenKind.FORM, say(ctx, self.param("title", "period.title.range")),
                text=say(ctx, self.param("text", "")), hint=self._limits_hint(ctx, limits),
                status=status, fields=fields,
                options=tuple(Action(f"preset:{p}", t(f"period.preset.{p}")) for p in presets),
                actions=(Action("back", t("common.back")),
                         Action("confirm", t("common.confirm"), primary=True)))
            resp = ask(ctx.ui, screen)
            if resp.action in ("back", "cancel"):
                return StepResult(_back_outcome(self.step))
            if resp.action.startswith("preset:"):
                current = preset_period(resp.action[7:], limits)
                status = ""
                continue
            if resp.action != "confirm":
                continue
            value = resp.value if isinstance(resp.value, Mapping) else {}
            start = str(value.get("start", month_text(current.start)))
            end = str(value.get("end", month_text(current.end)))
            try:
                return self._done(ctx, check_range(start, end, limits), "range")
            except PeriodError as err:
                status = t(err.key, **err.values)
                try:  # keep what the citizen set, so they only fix what is wrong
                    current = type(current)(max(limits.earliest, _safe_index(start)),
                                            min(limits.latest, _safe_index(end)))
                except PeriodError:
                    pass


def _safe_index(text: str) -> int:
    from kiosk.flows.periods import month_index

    return month_index(text)


@step_type
class EnterTextStep(StepType):
    """Type a short text on the on-screen keys (a ticket number, pinyin initials)."""

    name = "enter_text"
    required = ("store_as",)
    optional = ("title", "text", "hint", "keys", "max_len", "pattern", "invalid", "back")
    string_params = ("title", "text", "hint", "invalid")

    @classmethod
    def validate(cls, step, pkg, file, path):  # type: ignore[no-untyped-def]
        super().validate(step, pkg, file, path)
        pattern = step.params.get("pattern")
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise DefinitionError(file, f"{path}.pattern", f"not a valid pattern: {exc}") \
                    from None

    def run(self, ctx: FlowContext) -> StepResult:
        t = ctx.t
        keys = self.param("keys", "alnum")
        keys = KEYSETS.get(keys, keys)
        pattern = self.param("pattern")
        entry, status, misses = "", "", 0
        while True:
            screen = ctx.screen(ScreenKind.KEYBOARD, say(ctx, self.param("title", "text.title")),
                                text=say(ctx, self.param("text", "")),
                                hint=say(ctx, self.param("hint", "")), status=status,
                                keys=keys, entry=entry, max_len=int(self.param("max_len", 12)),
                                actions=(Action("back", t("common.back")),
                                         Action("confirm", t("common.confirm"), primary=True)))
            resp = ask(ctx.ui, screen)
            if resp.action in ("back", "cancel"):
                return StepResult(_back_outcome(self.step))
            if resp.action != "confirm":
                continue
            entry = str(resp.value or "").strip().upper()
            if not entry or (pattern and not re.fullmatch(pattern, entry)):
                misses += 1
                if misses >= MAX_MISSES:  # stuck: offer staff help rather than a loop
                    raise StepError("text.too_many_tries", retry=False)
                status = t(self.param("invalid", "text.invalid"))
                continue
            ctx.data[self.param("store_as")] = entry
            return StepResult("next")


@step_type
class BranchStep(StepType):
    """Take a transition by a data condition: the first matching case wins.

    `cases = [{ when = {path = "record.result", equals = "found"}, outcome = "found" }]`,
    `default = "next"`. Shows nothing.
    """

    name = "branch"
    required = ("cases",)
    optional = ("default",)

    @classmethod
    def validate(cls, step, pkg, file, path):  # type: ignore[no-untyped-def]
        super().validate(step, pkg, file, path)
        cases = step.params["cases"]
        if not isinstance(cases, list) or not cases:
            raise DefinitionError(file, f"{path}.cases", "must be a non-empty list")
        for i, case in enumerate(cases):
            p = f"{path}.cases[{i}]"
            if not isinstance(case, Mapping) or set(case) != {"when", "outcome"}:
                raise DefinitionError(file, p, "needs exactly `when` and `outcome`")
            check_condition(case["when"], file, f"{p}.when")
            _check_outcome(step, case["outcome"], file, f"{p}.outcome")
        _check_outcome(step, step.params.get("default", "next"), file, f"{path}.default")

    def run(self, ctx: FlowContext) -> StepResult:
        data = ctx.template_data()
        for case in self.param("cases"):
            if holds(case["when"], data):
                log.info("branch %s.%s -> %s", ctx.flow.id, self.step.id, case["outcome"])
                return StepResult(case["outcome"])
        return StepResult(self.param("default", "next"))


@step_type
class InfoStep(StepType):
    """Show information to read: a lead text, a big number, label/value rows, sections.

    `rows = [{label = "key", value = "{ticket.number}", when = {...}}]`;
    `sections = [{id, label, list = "matter.materials", item = "{name}"} or
    {id, label, rows = [...]}]` shows one section at a time with tabs;
    `actions = [{id, label, primary, when}]`: the outcome is the action's id.
    """

    name = "info"
    optional = ("title", "text", "hint", "big", "rows", "sections", "actions", "illustration")
    string_params = ("title", "text", "hint")

    @classmethod
    def validate(cls, step, pkg, file, path):  # type: ignore[no-untyped-def]
        super().validate(step, pkg, file, path)
        for i, row in enumerate(step.params.get("rows", [])):
            cls._check_row(row, pkg, file, f"{path}.rows[{i}]")
        for i, sec in enumerate(step.params.get("sections", [])):
            p = f"{path}.sections[{i}]"
            if not isinstance(sec, Mapping) or not {"id", "label"} <= set(sec) \
                    or ("list" in sec) == ("rows" in sec):
                raise DefinitionError(file, p, "needs `id`, `label` and one of `list`, `rows`")
            _check_strings(pkg, [sec["label"]], file, f"{p}.label")
            for j, row in enumerate(sec.get("rows", [])):
                cls._check_row(row, pkg, file, f"{p}.rows[{j}]")
        for i, act in enumerate(step.params.get("actions", [])):
            p = f"{path}.actions[{i}]"
            if not isinstance(act, Mapping) or not {"id", "label"} <= set(act):
                raise DefinitionError(file, p, "needs `id` and `label`")
            _check_strings(pkg, [act["label"]], file, f"{p}.label")
            _check_outcome(step, act["id"], file, f"{p}.id")
            if "when" in act:
                check_condition(act["when"], file, f"{p}.when")

    @staticmethod
    def _check_row(row: Any, pkg: Any, file: str, p: str) -> None:
        if not isinstance(row, Mapping) or not {"label", "value"} <= set(row):
            raise DefinitionError(file, p, "needs `label` (a string key) and `value`")
        _check_strings(pkg, [row["label"]], file, f"{p}.label")
        if "when" in row:
            check_condition(row["when"], file, f"{p}.when")

    def _rows(self, ctx: FlowContext, rows: list[Mapping[str, Any]]) -> list[tuple[str, str]]:
        data = ctx.template_data()
        return [(say(ctx, r["label"]), fill(ctx, text_or_key(ctx, r["value"]))) for r in rows
                if "when" not in r or holds(r["when"], data)]

    def _section_rows(self, ctx: FlowContext, sec: Mapping[str, Any]) -> list[tuple[str, str]]:
        if "rows" in sec:
            return self._rows(ctx, sec["rows"])
        try:
            items = lookup(ctx.template_data(), sec["list"])
        except TemplateError:
            items = []
        out = []
        for k, item in enumerate(items if isinstance(items, list) else [], 1):
            extra = item if isinstance(item, Mapping) else {"value": item}
            out.append((f"{k}.", fill(ctx, text_or_key(ctx, sec.get("item", "{value}")), extra)))
        return out

    def run(self, ctx: FlowContext) -> StepResult:
        data = ctx.template_data()
        acts = [a for a in self.param("actions", [{"id": "next", "label": "common.next",
                                                   "primary": True}])
                if "when" not in a or holds(a["when"], data)]
        actions = tuple(Action(a["id"], say(ctx, a["label"]), bool(a.get("primary")))
                        for a in acts)
        sections = self.param("sections", [])
        current = sections[0]["id"] if sections else ""
        base_rows = self._rows(ctx, self.param("rows", []))
        while True:
            rows = list(base_rows)
            tabs: tuple[Action, ...] = ()
            if sections:
                sec = next(s for s in sections if s["id"] == current)
                rows += self._section_rows(ctx, sec)
                tabs = tuple(Action(f"section:{s['id']}", say(ctx, s["label"]),
                                    primary=s["id"] == current) for s in sections)
            screen = ctx.screen(ScreenKind.INFO, say(ctx, self.param("title", "info.title")),
                                text=say(ctx, self.param("text", "")),
                                hint=say(ctx, self.param("hint", "")),
                                big=fill(ctx, self.param("big", "")), rows=tuple(rows),
                                options=tabs, actions=actions,
                                illustration=self.param("illustration", ""))
            resp = ask(ctx.ui, screen)
            if resp.action.startswith("section:"):
                wanted = resp.action[8:]
                if any(s["id"] == wanted for s in sections):
                    current = wanted
                continue
            if resp.action in [a.id for a in actions]:
                return StepResult(resp.action)
            if resp.action in ("back", "cancel"):
                return StepResult(_back_outcome(self.step))


@step_type
class TicketStep(StepType):
    """Ask the platform to issue something once (a queue number): an idempotent POST.

    The idempotency key is kept for the session, so a retry after a timeout or a
    lost answer gets the same ticket instead of a second one.
    """

    name = "ticket"
    required = ("endpoint",)
    optional = ("request", "store_as", "progress")
    string_params = ("progress",)

    def run(self, ctx: FlowContext) -> StepResult:
        from kiosk.backend.client import BackendError
        from kiosk.flows.steps.basic import _render_request

        ctx.ui.show(ctx.screen(ScreenKind.PROGRESS, ctx.t(self.param("progress", "ticket.progress")),
                               illustration="receipt", idle=False))
        if ctx.backend is None:
            raise StepError("backend.unreachable", "no backend configured")
        try:
            body = _render_request(self.param("request", {}), ctx.template_data())
        except TemplateError as err:
            raise StepError("error.app", str(err), retry=False) from err
        keys = ctx.data.setdefault("_idempotency", {})
        key = keys.setdefault(self.step.id, uuid.uuid4().hex)
        try:
            answer = ctx.backend.post_json(self.param("endpoint"), body, idempotency_key=key)
        except BackendError as err:
            raise StepError(err.key, err.detail, retry=err.retryable) from err
        ctx.data[self.param("store_as", "ticket")] = answer
        return StepResult("next")

