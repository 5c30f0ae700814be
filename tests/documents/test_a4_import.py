"""Loading a flow package (which loads the preview and print steps) does not import
reportlab: the renderer loads on the first document, not during the kiosk's cold start."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
from flowpacks import BUILTIN_DIR
from kiosk.flows.package import load_package
load_package(BUILTIN_DIR)
assert "kiosk.flows.steps.preview" in sys.modules, "the preview step was not loaded"
print("reportlab" in sys.modules)
"""


def test_loading_the_package_leaves_reportlab_unimported() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.strip() == "False", out.stdout + out.stderr


def test_the_first_render_loads_it() -> None:
    from pathlib import Path

    from kiosk.documents.a4 import render_a4

    doc = render_a4({"kind": "a4", "blocks": [{"type": "title", "text": "标题"}]}, {},
                    lambda rel: Path(rel))
    assert doc.pdf.startswith(b"%PDF") and doc.pages == 1 and "reportlab" in sys.modules
