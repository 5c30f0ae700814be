"""Staged rollout: which terminals take a package version.

A target's custom metadata may carry `rollout = {"ring": R, "percent": P}`. A terminal
takes it when its configured ring is <= R (ring 0 = lab terminals, 1 = pilot halls, …)
or when its bucket is < P. The bucket is a stable number 0..99 from the SHA-256 of the
terminal id, so the same terminals are the first 5 % for every package. A target
without `rollout` goes to every terminal.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

GENERAL_RING = 9  # terminals with no ring configured


def bucket(terminal_id: str) -> int:
    return int.from_bytes(hashlib.sha256(terminal_id.encode("utf-8")).digest()[:8], "big") % 100


@dataclass(frozen=True)
class Rollout:
    ring: int | None = None
    percent: int | None = None

    @property
    def everyone(self) -> bool:
        return self.ring is None and self.percent is None

    def to_json(self) -> dict[str, int]:
        out = {}
        if self.ring is not None:
            out["ring"] = self.ring
        if self.percent is not None:
            out["percent"] = self.percent
        return out

    @classmethod
    def from_json(cls, data: Any) -> Rollout:
        if data is None:
            return cls()
        if not isinstance(data, dict) or set(data) - {"ring", "percent"}:
            raise ValueError(f"rollout must be {{ring, percent}}, got {data!r}")
        ring, pct = data.get("ring"), data.get("percent")
        for name, v, hi in (("ring", ring, GENERAL_RING), ("percent", pct, 100)):
            if v is not None and (not isinstance(v, int) or isinstance(v, bool)
                                  or not 0 <= v <= hi):
                raise ValueError(f"rollout {name} must be an integer 0..{hi}, got {v!r}")
        return cls(ring, pct)

    def includes(self, terminal_id: str, ring: int = GENERAL_RING) -> bool:
        if self.everyone:
            return True
        if self.ring is not None and ring <= self.ring:
            return True
        return self.percent is not None and bucket(terminal_id) < self.percent
