"""`period`: pick a year or a month range, never beyond what the platform allows."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kiosk.documents.textfmt import TemplateError, lookup
from kiosk.flows.context import FlowContext, StepError, StepResult
from kiosk.flows.interaction import ask
from kiosk.flows.model import DefinitionError
from kiosk.flows.periods import (
    PRESETS,
    Limits,
    PeriodError,
    check_range,
    month_index,
    month_text,
    preset_period,
    year_period,
)
from kiosk.flows.screens import Action, Field, ScreenKind
from kiosk.flows.steps._forms import back_outcome, say
from kiosk.flows.steps.base import StepType


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
        def month(i: int) -> str:  # in the citizen's language (redrawn on a switch)
            text = month_text(i)
            return ctx.t("period.month_fmt", y=text[:4], m=text[5:7])
        return ctx.t("period.limits", earliest=month(limits.earliest),
                     latest=month(limits.latest), max=limits.max_months)

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
                return StepResult(back_outcome(self.step))
            if resp.action in ("page_prev", "page_next"):
                page = max(0, min(pages - 1, page + (1 if resp.action == "page_next" else -1)))
                continue
            if resp.action.isdigit() and int(resp.action) in years:
                return self._done(ctx, year_period(int(resp.action), limits), "year")

    def _run_range(self, ctx: FlowContext, limits: Limits) -> StepResult:
        t = ctx.t
        presets = list(self.param("presets", ["last_6", "last_12"]))
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
                return StepResult(back_outcome(self.step))
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
                    current = type(current)(max(limits.earliest, month_index(start)),
                                            min(limits.latest, month_index(end)))
                except PeriodError:
                    pass


