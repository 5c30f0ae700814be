"""`query`: POST a templated request to a platform and keep the answer for later steps.

A flow (or one step) may name another platform (`platform = "gz"`, a connector from
`[platforms.gz]`); its JSON need not be ours. Three optional JMESPath expressions, compiled
and checked when the package loads, map it declaratively (docs/platforms.md):

- `request_map` over the rendered `request`: the body the platform expects;
- `error_map` over the answer: null when it is a result, else the name of the error
  (`no_record` becomes `backend.no_record`, any other name `backend.server_error`);
- `response_map` over the answer: the shape later steps and templates read.

The keys a citizen sees stay the platform client's (`backend.timeout`, `backend.no_record`,
...): a mapped answer that is not an object is `backend.server_error`.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import jmespath  # type: ignore[import-untyped]
from jmespath.exceptions import JMESPathError  # type: ignore[import-untyped]

from kiosk.backend.errors import BackendError
from kiosk.flows.context import FlowContext, StepError, StepResult
from kiosk.flows.model import DefinitionError
from kiosk.flows.screens import ScreenKind
from kiosk.flows.steps._request import check_request, render_request
from kiosk.flows.steps.base import StepType

MAPS = ("request_map", "response_map", "error_map")
# Error names an `error_map` may give that citizens already have words for.
KNOWN_ERRORS = frozenset({"no_record", "server_error", "bad_request", "auth_failed",
                          "unreachable", "timeout"})


@lru_cache(maxsize=512)
def compiled(expression: str) -> Any:
    """A compiled JMESPath expression (kept: flows run the same ones all day)."""
    return jmespath.compile(expression)


class QueryStep(StepType):
    """POST a templated request to a platform and keep the (mapped) answer."""

    name = "query"
    required = ("endpoint", "store_as")
    optional = ("request", "progress", "platform", *MAPS)
    string_params = ("progress",)

    @classmethod
    def validate(cls, step, pkg, file, path):  # type: ignore[no-untyped-def]
        super().validate(step, pkg, file, path)
        check_request(step, pkg, file, path)
        for key in MAPS:
            expression = step.params.get(key)
            if expression is None:
                continue
            if not isinstance(expression, str) or not expression.strip():
                raise DefinitionError(file, f"{path}.{key}", "must be a JMESPath expression "
                                      "(a non-empty string)")
            try:
                compiled(expression)
            except JMESPathError as exc:
                first = str(exc).strip().splitlines()[0]
                raise DefinitionError(file, f"{path}.{key}",
                                      f"not a valid JMESPath expression: {first}") from None
        platform = step.params.get("platform")
        if platform is not None and platform != "" and \
                platform not in getattr(pkg, "platforms", ()):
            raise DefinitionError(file, f"{path}.platform", f"platform {platform!r} is not "
                                  "declared in the manifest's platforms")

    def run(self, ctx: FlowContext) -> StepResult:
        t = ctx.t
        ctx.ui.show(ctx.screen(ScreenKind.PROGRESS, t(self.param("progress", "query.progress")),
                               illustration="search", idle=False))
        platform = str(self.param("platform", ctx.flow.platform) or "")
        client = ctx.platform_client(platform)
        if client is None:
            raise StepError("backend.unreachable", f"platform {platform or 'terminal'!r} "
                            "has no connector")
        # The platform is one of the two readers that get real identity values.
        body = render_request(self.param("request", {}), ctx.template_data(reveal=True))
        if self.param("request_map"):
            body = compiled(self.param("request_map")).search(body)
        try:
            answer = client.post_json(self.param("endpoint"), body)
        except BackendError as err:
            raise StepError(err.key, err.detail, retry=err.retryable) from err
        ctx.data[self.param("store_as")] = self._mapped(answer, platform)
        return StepResult("next")

    def _mapped(self, answer: Any, platform: str) -> Any:
        """The answer through `error_map` and `response_map` (the answer itself if none)."""
        where = f"platform {platform or 'terminal'} {self.param('endpoint')}"
        if self.param("error_map"):
            error = compiled(self.param("error_map")).search(answer)
            if error not in (None, False, ""):
                name = str(error)
                key = f"backend.{name}" if name in KNOWN_ERRORS else "backend.server_error"
                raise StepError(key, f"{where} answered error {name[:60]!r}",
                                retry=key != "backend.no_record")
        if not self.param("response_map"):
            return answer
        mapped = compiled(self.param("response_map")).search(answer)
        if not isinstance(mapped, dict):
            raise StepError("backend.server_error", f"{where}: response_map gave "
                            f"{type(mapped).__name__}, not an object")
        return mapped
