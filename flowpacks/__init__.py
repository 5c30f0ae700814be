"""Flow packages shipped with the application (data only: flows, templates, assets, strings)."""

from pathlib import Path

BUILTIN_DIR = Path(__file__).resolve().parent / "builtin"
# The Greater Bay Area catalog (~300 services), generated from gba/src/services.toml.
GBA_DIR = Path(__file__).resolve().parent / "gba"
