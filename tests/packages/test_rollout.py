"""Rollout rings and percentages (bucket from a hash of the terminal id)."""

from __future__ import annotations

import hashlib

import pytest

from kiosk.packages.rollout import Rollout, bucket


def test_bucket_is_a_stable_hash_of_the_terminal_id() -> None:
    tid = "DG-0412"
    expected = int.from_bytes(hashlib.sha256(tid.encode()).digest()[:8], "big") % 100
    assert bucket(tid) == expected
    counts = [0] * 10
    for i in range(2000):
        counts[bucket(f"DG-{i:05d}") // 10] += 1
    assert min(counts) > 120  # every decile gets terminals (2000/10 = 200 expected)


def test_includes_ring_or_percent() -> None:
    low = next(f"T{i}" for i in range(500) if bucket(f"T{i}") < 10)
    high = next(f"T{i}" for i in range(500) if bucket(f"T{i}") >= 10)
    assert Rollout().includes(high)
    r = Rollout(ring=1, percent=10)
    assert r.includes(high, ring=0) and r.includes(high, ring=1)
    assert not r.includes(high, ring=2)
    assert r.includes(low, ring=9)
    assert Rollout(percent=0).includes(low) is False
    assert Rollout(percent=100).includes(high)


@pytest.mark.parametrize("bad", [{"ring": -1}, {"percent": 101}, {"percent": "50"},
                                 {"ring": True}, {"rings": 1}, [1, 2]])
def test_malformed_rollout_is_refused(bad: object) -> None:
    with pytest.raises(ValueError):
        Rollout.from_json(bad)
