"""`choose`: pick one option, listed in the flow or taken from flow data."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kiosk.documents.textfmt import TemplateError, lookup
from kiosk.flows.context import FlowContext, StepError, StepResult
from kiosk.flows.interaction import ask
from kiosk.flows.model import DefinitionError
from kiosk.flows.screens import Action, ScreenKind
from kiosk.flows.steps._forms import back_outcome, check_strings, fill, say, text_or_key
from kiosk.flows.steps.base import StepType
from kiosk.flows.steps.conditions import check_condition, holds


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
            check_strings(pkg, [opt["label"]], file, f"{p}.label")
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
                return StepResult(back_outcome(self.step))
            chosen = [(a, item) for a, item in options if a.id == resp.action]
            if not chosen:
                continue  # a stale tap on a replaced screen
            action, item = chosen[0]
            store = self.param("store_as", self.step.id)
            ctx.data[store] = action.id
            if item is not None:
                ctx.data[f"{store}_item"] = item
            if action.id in self.step.on or action.id in ("done", "cancel"):
                return StepResult(action.id)
            return StepResult("next")
