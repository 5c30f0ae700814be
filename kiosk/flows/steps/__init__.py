"""Step types: Python classes a flow package composes by name.

One module per step type (`consent.py`, `print_a4.py`, …), shared helpers in small
private modules (`_forms.py`, `_printing.py`, `_identify.py`). The registry
(`registry.py`) names the built-in types and imports each on first use; third
parties add types through the `guanjia_kiosk.step_types` entry-point group.
"""

from __future__ import annotations

from kiosk.flows.steps.base import StepType
from kiosk.flows.steps.registry import BUILTIN, STEP_TYPES, load_entry_point_steps, step_type

__all__ = ["BUILTIN", "STEP_TYPES", "StepType", "load_entry_point_steps", "step_type"]
