"""What a rendered document is, apart from how it is rendered (no reportlab import)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

AssetResolver = Callable[[str], Path]


@dataclass(frozen=True)
class RenderedPdf:
    pdf: bytes
    pages: int
