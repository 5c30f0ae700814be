"""Placeholder replaced below."""

from __future__ import annotations

from reference_backend.app import Platform


def register(platform: Platform) -> None:
    pass
