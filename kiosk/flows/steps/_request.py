"""Fill a declared platform request (nested tables and lists of templates) from flow data."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kiosk.documents.textfmt import render


def render_request(obj: Any, data: Mapping[str, Any]) -> Any:
    if isinstance(obj, str):
        return render(obj, data)
    if isinstance(obj, Mapping):
        return {k: render_request(v, data) for k, v in obj.items()}
    if isinstance(obj, list):
        return [render_request(v, data) for v in obj]
    return obj
