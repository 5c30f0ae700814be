"""`authorisation_code`: an agent acting for someone else (亲友代办) types the code the
principal got from the platform (e.g. in the government app's 授权代办), and the platform
names the principal and what the code allows.

The agent has identified already (the session's `identity`); the principal is held like
a companion who identified with their own card (`session.companions[store_as]`, source
`authorisation`), so templates and requests read `{principal.name}` masked and
`{principal.full.id_number}` only where they may. The screen shows the principal masked
and the scope; the agent confirms it is the right person. A code the platform does not
know, one that has expired, one for another service or the agent's own: a clear message
and another try, three tries in all.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from kiosk.backend.errors import BackendError
from kiosk.flows.context import FlowContext, StepError, StepResult
from kiosk.flows.interaction import ask
from kiosk.flows.model import DefinitionError
from kiosk.flows.screens import Action, ScreenKind
from kiosk.flows.steps._forms import back_outcome, say
from kiosk.flows.steps.base import StepType
from kiosk.i18n import typed
from kiosk.identity import Gender, Identity, IdentitySource, is_valid_id_number

log = logging.getLogger(__name__)

MAX_TRIES = 3
CODE = re.compile(r"^[0-9]{6,12}$")
ENDPOINT = "/api/v1/authorisation/resolve"
_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,31}$")
# What the platform says about a code, and the message the agent reads for it.
REFUSALS = {"backend.auth_code_unknown": "authorisation.unknown",
            "backend.auth_code_expired": "authorisation.expired",
            "backend.auth_code_out_of_scope": "authorisation.out_of_scope",
            "backend.auth_code_self": "authorisation.self"}


def principal_of(answer: Any) -> Identity:
    """The principal the platform named; StepError when the answer is not usable."""
    who = answer.get("principal") if isinstance(answer, dict) else None
    if not isinstance(who, dict) or not is_valid_id_number(str(who.get("id_number", ""))) \
            or not str(who.get("name", "")).strip():
        raise StepError("backend.server_error", "authorisation answer names no principal")
    gender = str(who.get("gender", "0"))
    return Identity(source=IdentitySource.AUTHORISATION, id_number=str(who["id_number"]),
                    name=str(who["name"]).strip(),
                    gender=Gender(gender) if gender in Gender._value2member_map_ else
                    Gender.UNKNOWN, card_kind="")


class AuthorisationCodeStep(StepType):
    """Type the principal's authorisation code; the platform names the principal."""

    name = "authorisation_code"
    optional = ("store_as", "title", "text", "hint", "confirm_title", "endpoint", "service",
                "max_len", "back")
    string_params = ("title", "text", "hint", "confirm_title")

    @classmethod
    def validate(cls, step, pkg, file, path):  # type: ignore[no-untyped-def]
        super().validate(step, pkg, file, path)
        store_as = step.params.get("store_as", "principal")
        if store_as in ("identity", "record") or not _NAME.match(str(store_as)):
            raise DefinitionError(file, f"{path}.store_as",
                                  "must not replace the citizen's data (a lowercase name)")

    def run(self, ctx: FlowContext) -> StepResult:
        t = ctx.t
        if ctx.session.identity is None:
            raise StepError("error.app", "authorisation_code before the agent identified",
                            retry=False)
        status, tries, entry = "", 0, ""
        while True:
            screen = ctx.screen(
                ScreenKind.KEYBOARD, say(ctx, self.param("title", "authorisation.title")),
                text=say(ctx, self.param("text", "authorisation.text")),
                hint=say(ctx, self.param("hint", "authorisation.hint")), status=status,
                voice=status, keys="0123456789", entry=entry,
                max_len=int(self.param("max_len", 8)),
                actions=(Action("back", t("common.back")),
                         Action("confirm", t("common.confirm"), primary=True)))
            resp = ask(ctx.ui, screen)
            if resp.action in ("back", "cancel"):
                return StepResult(back_outcome(self.step))
            if resp.action != "confirm":
                continue
            code = re.sub(r"\s+", "", str(resp.value or ""))
            if not code:
                status = t("authorisation.empty")
                continue
            answer = self._resolve(ctx, code) if CODE.match(code) else \
                "authorisation.malformed"
            if isinstance(answer, str):  # refused: say why, and count the try
                refusal = answer
                tries += 1
                log.info("authorisation code refused for %s: %s (try %d)", ctx.flow.id,
                         refusal, tries)
                if tries >= MAX_TRIES:
                    raise StepError("authorisation.too_many_tries", retry=False)
                status, entry = t(refusal), ""
                continue
            if self._confirmed(ctx, answer):
                return StepResult("next")
            status, entry = "", ""  # not the right person: type another code

    def _resolve(self, ctx: FlowContext, code: str) -> dict[str, Any] | str:
        """The platform's answer, or the string key of why the code is refused."""
        ctx.ui.show(ctx.screen(ScreenKind.PROGRESS, ctx.t("authorisation.checking"),
                               illustration="search", idle=False))
        if ctx.backend is None:
            raise StepError("backend.unreachable", "no platform for authorisation codes")
        agent = ctx.session.identity
        body = {"code": code, "service": str(self.param("service", ctx.flow.id)),
                "agent_id_number": agent.id_number if agent is not None else ""}
        try:
            answer = ctx.backend.post_json(str(self.param("endpoint", ENDPOINT)), body)
        except BackendError as err:
            if err.key in REFUSALS:
                return REFUSALS[err.key]
            raise StepError(err.key, err.detail, retry=err.retryable) from err
        if not isinstance(answer, dict):
            raise StepError("backend.server_error", "authorisation answer is not an object")
        return answer

    def _confirmed(self, ctx: FlowContext, answer: dict[str, Any]) -> bool:
        """Show who the code names (masked) and what for; store them if the agent agrees."""
        t = ctx.t
        principal = principal_of(answer)
        agent = ctx.session.identity
        if agent is not None and principal.id_number == agent.id_number:
            raise StepError("authorisation.self", retry=False)  # the platform should have said
        scope = str(answer.get("scope_text") or ", ".join(map(str, answer.get("scope", []))))
        # The name and the scope are the platform's words: shown as they are in any language.
        rows = ((t("authorisation.row.principal"), typed(principal.masked_name, t)),
                (t("authorisation.row.id_number"), principal.masked_id),
                (t("authorisation.row.scope"), typed(scope, t)),
                (t("authorisation.row.valid_until"), str(answer.get("expires_at", ""))[:16]))
        screen = ctx.screen(
            ScreenKind.INFO, say(ctx, self.param("confirm_title", "authorisation.confirm_title")),
            text=t("authorisation.confirm_text"), rows=rows, illustration="consent",
            actions=(Action("back", t("authorisation.other_code")),
                     Action("confirm", t("common.confirm"), primary=True)))
        if ask(ctx.ui, screen).action != "confirm":
            return False
        store_as = str(self.param("store_as", "principal"))
        ctx.session.set_companion(store_as, principal)
        ctx.data[f"{store_as}_authorisation"] = {
            "method": "code", "reference": str(answer.get("reference", "")), "scope": scope,
            "expires_at": str(answer.get("expires_at", ""))}
        return True
