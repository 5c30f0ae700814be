"""Flow packages shipped with the application (data only: flows, templates, assets, strings)."""

from pathlib import Path

BUILTIN_DIR = Path(__file__).resolve().parent / "builtin"
# The Greater Bay Area catalog (~300 services), generated from gba/src/services.toml.
GBA_DIR = Path(__file__).resolve().parent / "gba"
# Paper materials under the document camera (材料提交); on the demo terminal.
MATERIALS_DIR = Path(__file__).resolve().parent / "materials"
