"""Render an A4 document template (data) to PDF.

Block types: title, subtitle, paragraph, fields (key/value grid), table (breaks
across pages with a repeated header, optional totals row), issuer (office name and
date with the seal image placed over them), qr (verification code), spacer.
Page furniture: header, footer with "page N of M", diagonal watermark.

The renderer (`a4_render`, reportlab) is imported on the first render, not when a flow
package that has a preview step is loaded: reportlab's import was ~0.1 s of the
kiosk's cold start.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kiosk.documents.types import AssetResolver, RenderedPdf

__all__ = ["AssetResolver", "RenderedPdf", "render_a4"]


def render_a4(template: Mapping[str, Any], data: Mapping[str, Any],
              assets: AssetResolver, *, masked: bool = False) -> RenderedPdf:
    """Render a template with data to PDF bytes. `masked` is for on-screen previews."""
    from kiosk.documents.a4_render import render_pdf

    return render_pdf(template, data, assets, masked=masked)
