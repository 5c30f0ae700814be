"""`info`: show information to read (lead text, big number, rows, tabbed sections)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kiosk.documents.textfmt import TemplateError, lookup
from kiosk.flows.context import FlowContext, StepResult
from kiosk.flows.interaction import ask
from kiosk.flows.model import DefinitionError
from kiosk.flows.screens import Action, ScreenKind
from kiosk.flows.steps._forms import (
    back_outcome,
    check_outcome,
    check_strings,
    fill,
    say,
    text_or_key,
)
from kiosk.flows.steps.base import StepType
from kiosk.flows.steps.conditions import check_condition, holds


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
            check_strings(pkg, [sec["label"]], file, f"{p}.label")
            for j, row in enumerate(sec.get("rows", [])):
                cls._check_row(row, pkg, file, f"{p}.rows[{j}]")
        for i, act in enumerate(step.params.get("actions", [])):
            p = f"{path}.actions[{i}]"
            if not isinstance(act, Mapping) or not {"id", "label"} <= set(act):
                raise DefinitionError(file, p, "needs `id` and `label`")
            check_strings(pkg, [act["label"]], file, f"{p}.label")
            check_outcome(step, act["id"], file, f"{p}.id")
            if "when" in act:
                check_condition(act["when"], file, f"{p}.when")

    @staticmethod
    def _check_row(row: Any, pkg: Any, file: str, p: str) -> None:
        if not isinstance(row, Mapping) or not {"label", "value"} <= set(row):
            raise DefinitionError(file, p, "needs `label` (a string key) and `value`")
        check_strings(pkg, [row["label"]], file, f"{p}.label")
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
                return StepResult(back_outcome(self.step))
