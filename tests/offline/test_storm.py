"""Reconnect storm: a fleet whose link returns at once, against one rate-limited platform.

A simulation with virtual time: many real outboxes (SQLite files) and replay workers, one
platform that serves `CAPACITY` requests per second and answers the rest with 429 and a
Retry-After. Asserted on the spread of attempts, never on wall time: with full jitter the
busiest second stays a small fraction of the fleet and no terminal retries before its
Retry-After; without jitter the whole fleet hits the same second again and again.
"""

from __future__ import annotations

import heapq
import random
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from offline_cache.crypto import PayloadKey
from offline_cache.outbox import Item, Outbox, OutboxPolicy
from offline_cache.replay import Backoff, ItemResult, Outcome, ReplayWorker, TransientError

FLEET = 120
CAPACITY = 12  # requests per second the platform accepts
RETRY_AFTER = 5.0
SPREAD = 10.0  # reconnect spread (config offline.reconnect_spread_s)


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


class Platform:
    """The rate-limited peer: remembers every attempt (time, terminal, status)."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.load: Counter[int] = Counter()
        self.attempts: list[tuple[float, int, int]] = []

    def for_terminal(self, tid: int) -> Any:
        platform = self

        class Deliverer:
            def deliver(self, items: Sequence[Item]) -> list[ItemResult]:
                t = platform.clock()
                second = int(t)
                if platform.load[second] >= CAPACITY:
                    platform.attempts.append((t, tid, 429))
                    raise TransientError("http (429): busy", status=429, retry_after=RETRY_AFTER)
                platform.load[second] += 1
                platform.attempts.append((t, tid, 200))
                return [ItemResult(i.key, Outcome.DELIVERED) for i in items]

        return Deliverer()


class UpperBound(random.Random):
    """No jitter at all: always the top of the window (lock-step fleet)."""

    def uniform(self, a: float, b: float) -> float:
        return b


def simulate(tmp: Path, rng_for: Any, spread: float) -> Platform:
    clock = Clock()
    platform = Platform(clock)
    key = PayloadKey.derive(b"fleet", "DG-SIM")
    workers: list[ReplayWorker] = []
    for tid in range(FLEET):
        ob = Outbox(tmp / f"t{tid}.db", key, OutboxPolicy(min_free_bytes=0))
        ob.enqueue("transaction", {"terminal": tid})
        ob.fail(ob.head("transaction"), "network: unreachable", next_attempt=10_000.0)  # type: ignore[arg-type]
        workers.append(ReplayWorker(ob, platform.for_terminal(tid), clock=clock,
                                    rng=rng_for(tid), backoff=Backoff(base=1.0, cap=60.0)))
    queue: list[tuple[float, int, bool]] = []
    for tid, w in enumerate(workers):  # the link comes back everywhere at t=0
        w.reconnected(spread)
        assert w._reconnect_at is not None
        heapq.heappush(queue, (w._reconnect_at, tid, True))
    while queue:
        t, tid, reconnect = heapq.heappop(queue)
        clock.now = t
        report = workers[tid].run_pass(reconnect=reconnect)
        assert report is not None
        if report.next_due is not None:
            heapq.heappush(queue, (report.next_due, tid, False))
    for w in workers:
        assert w.outbox.depth() == 0
        w.outbox.close()
    return platform


def _retries_honour_retry_after(attempts: list[tuple[float, int, int]]) -> bool:
    last_429: dict[int, float] = {}
    for t, tid, status in sorted(attempts):
        if tid in last_429 and t < last_429[tid] + RETRY_AFTER:
            return False
        if status == 429:
            last_429[tid] = t
    return True


def test_full_jitter_and_retry_after_spread_a_reconnecting_fleet(tmp_path: Path) -> None:
    (tmp_path / "jitter").mkdir()
    (tmp_path / "lockstep").mkdir()
    jitter = simulate(tmp_path / "jitter", lambda tid: random.Random(tid), SPREAD)
    lockstep = simulate(tmp_path / "lockstep", lambda tid: UpperBound(), 0.0)

    per_second = Counter(int(t) for t, _, _ in jitter.attempts)
    lock_per_second = Counter(int(t) for t, _, _ in lockstep.attempts)
    # Without jitter the whole fleet arrives in the same second, again after every 429.
    assert max(lock_per_second.values()) == FLEET
    storms = [s for s, n in lock_per_second.items() if n > FLEET // 2]
    assert len(storms) >= 3
    # With full jitter the busiest second carries a small share of the fleet ...
    assert max(per_second.values()) <= FLEET // 4, per_second.most_common(3)
    # ... far fewer requests are refused, and nobody retries before its Retry-After.
    refused = sum(1 for *_, s in jitter.attempts if s == 429)
    lock_refused = sum(1 for *_, s in lockstep.attempts if s == 429)
    assert refused * 4 < lock_refused, (refused, lock_refused)
    assert _retries_honour_retry_after(jitter.attempts)
    assert _retries_honour_retry_after(lockstep.attempts)
    assert len({tid for _, tid, s in jitter.attempts if s == 200}) == FLEET
