"""The replay worker: deliver the outbox to the platform, in order per stream.

- Order: a stream is delivered strictly from its head; while the head waits for a
  retry, nothing behind it is sent. Streams are independent of each other.
- Transient failures (network errors, timeouts, 408, 429, 5xx) retry forever with
  exponential backoff and full jitter, capped; a `Retry-After` is a floor (retry no
  sooner), jitter is added on top so that a fleet told the same value still spreads.
- Permanent failures (other 4xx, or a per-item rejection) move the item to the
  dead-letter table with the reason. A whole batch refused with a 4xx is retried item by
  item first, so only the offending item is buried.
- Batching: one request carries up to `batch_size` items of a stream when the platform
  supports `/api/v1/outbox/batch`; otherwise items go one by one with an Idempotency-Key.
- Crash safety: items are deleted only after the platform acknowledged them; the
  platform de-duplicates by idempotency key, so a replay after a crash (or a lost
  acknowledgement) is applied once.
- Acknowledgement: only an answer that names the item's idempotency key with `applied`
  or `duplicate` deletes it (`deferred` asks for it again later). Any other 2xx (an
  empty body, `{"ok": true}`, a captive portal's page, results for other keys, a status
  it does not know) leaves the item in place and is retried with
  backoff; once an item has been sent `unacked_limit` times and still not acknowledged,
  it moves to the dead-letter table (kept, encrypted, counted in the terminal's health,
  `kiosk outbox retry-dead` puts it back): a fault someone must look at, never a loss.

One replay pass runs at a time per database, across processes (an flock beside it),
so the kiosk's worker and a technician's `kiosk outbox flush` never interleave a stream.
"""

from __future__ import annotations

import fcntl
import logging
import math
import os
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Protocol

from kiosk.backend.errors import CUT_SHORT, BackendError
from offline_cache.outbox import Item, Outbox, Undecryptable

log = logging.getLogger(__name__)

NETWORK_PREFIX = "network:"
UNACKED_PREFIX = "unacknowledged:"
# Sends of one item answered with a 2xx that does not acknowledge it, before it goes to
# dead letters (with the default backoff, some ten minutes of trying).
UNACKED_LIMIT = 8


class Outcome(Enum):
    DELIVERED = "delivered"  # applied now or earlier (duplicate)
    REJECTED = "rejected"  # permanent: dead letter
    DEFERRED = "deferred"  # the platform named it but did not process it: retry later
    UNACKNOWLEDGED = "unacknowledged"  # a 2xx that does not acknowledge it: retry, then bury


@dataclass(frozen=True)
class ItemResult:
    key: str
    outcome: Outcome
    status: int = 0
    error: str = ""


class TransientError(Exception):
    """The whole request failed but may succeed later."""

    def __init__(self, error: str, *, status: int = 0, retry_after: float | None = None) -> None:
        super().__init__(error)
        self.error, self.status, self.retry_after = error, status, retry_after


class PermanentError(Exception):
    """The whole request was refused and will be refused again (a 4xx)."""

    def __init__(self, error: str, *, status: int = 0) -> None:
        super().__init__(error)
        self.error, self.status = error, status


class NotAcknowledged(Exception):
    """A 2xx answer that acknowledges nothing (not JSON: a portal's page, a proxy's)."""

    def __init__(self, error: str, *, status: int = 0) -> None:
        super().__init__(error)
        self.error, self.status = error, status


class Deliverer(Protocol):
    def deliver(self, items: Sequence[Item]) -> list[ItemResult]: ...


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with full jitter: uniform(0, min(cap, base * 2**(attempt-1)))."""

    base: float = 1.0
    cap: float = 300.0
    retry_after_cap: float = 3600.0

    def window(self, attempt: int) -> float:
        return min(self.cap, self.base * 2.0 ** max(0, min(attempt - 1, 40)))

    def delay(self, attempt: int, rng: random.Random, retry_after: float | None = None) -> float:
        jitter = rng.uniform(0.0, self.window(attempt))
        if retry_after is None or math.isnan(retry_after):
            return jitter
        return min(max(0.0, retry_after), self.retry_after_cap) + jitter


@dataclass
class PassReport:
    delivered: int = 0
    dead: int = 0
    failed_streams: dict[str, str] = field(default_factory=dict)
    next_due: float | None = None
    requests: int = 0

    @property
    def progress(self) -> bool:
        return bool(self.delivered or self.dead)


class ReplayLock:
    """An exclusive flock beside the database: one replay pass at a time, any process."""

    def __init__(self, db_path: Path) -> None:
        self.path = db_path.with_name(db_path.name + ".replay.lock")
        self._fd: int | None = None

    def acquire(self, timeout: float = 0.0) -> bool:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self._fd = fd
                return True
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    return False
                time.sleep(0.05)

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


# A batch request carries at most this many sealed bytes (one larger item goes alone):
# a backlog of captured pages (hundreds of KB each) must not become one request of
# hundreds of MB, nor be held in memory all at once.
BATCH_BYTES = 4 * 1024 * 1024


class ReplayWorker:
    def __init__(self, outbox: Outbox, deliverer: Deliverer, *, batch_size: int = 100,
                 backoff: Backoff | None = None, clock: Callable[[], float] = time.time,
                 rng: random.Random | None = None,
                 on_link: Callable[[bool], None] | None = None,
                 on_stream_link: Callable[[str, bool], None] | None = None,
                 idle_poll_s: float = 30.0, unacked_limit: int = UNACKED_LIMIT,
                 batch_bytes: int = BATCH_BYTES) -> None:
        self.outbox = outbox
        self.deliverer = deliverer
        self.batch_size = max(1, batch_size)
        self.batch_bytes = max(1, batch_bytes)
        self.backoff = backoff or Backoff()
        self.clock = clock
        self.rng = rng or random.Random()
        self.on_link = on_link  # evidence for the network monitor: True ok, False unreachable
        # The same per stream, when streams go to different platforms (a stream's platform
        # answering says nothing of another's link): used instead of on_link when set.
        self.on_stream_link = on_stream_link
        self.idle_poll_s = idle_poll_s
        self.unacked_limit = max(1, unacked_limit)
        self.lock = ReplayLock(outbox.path)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._reconnect_at: float | None = None
        self._thread: threading.Thread | None = None
        self._pruned_at = 0.0
        self.last_report = PassReport()

    # -- one pass -----------------------------------------------------------------------
    def run_pass(self, *, force: bool = False, reconnect: bool = False,
                 lock_timeout: float = 0.0) -> PassReport | None:
        """Deliver everything due (`force`: ignore backoff; `reconnect`: retry network
        failures now). None if another pass holds the lock."""
        if not self.lock.acquire(lock_timeout):
            return None
        try:
            report = PassReport()
            for stream in self.outbox.streams():
                if self._stop.is_set() and not force:
                    break
                self._drain_stream(stream, report, force, reconnect)
            self.last_report = report
            return report
        finally:
            self.lock.release()

    def _drain_stream(self, stream: str, report: PassReport, force: bool,
                      reconnect: bool) -> None:
        size = self.batch_size
        while True:
            now = self.clock()
            batch = self.outbox.head(stream, size, max_bytes=self.batch_bytes)
            if not batch:
                return
            head = batch[0]
            if isinstance(head, Undecryptable):
                self.outbox.bury([head], f"undecryptable: {head.reason}", now=now)
                report.dead += 1
                continue
            eligible = force or head.next_attempt <= now or (
                reconnect and head.last_error.startswith(NETWORK_PREFIX))
            if not eligible:
                report.next_due = min(report.next_due or head.next_attempt, head.next_attempt)
                return
            items: list[Item] = []
            for it in batch:  # stop before an undecryptable item; it is buried next round
                if isinstance(it, Undecryptable):
                    break
                items.append(it)
            report.requests += 1
            try:
                results = self.deliverer.deliver(items)
            except TransientError as exc:
                self._transient(items, exc, report, now)
                return
            except PermanentError as exc:
                if len(items) > 1:
                    size = 1  # find the offending item: resend one at a time
                    continue
                self.outbox.bury(items, exc.error, exc.status, now=now)
                report.dead += 1
                self._link(True, stream)
                continue
            if any(r.outcome is not Outcome.UNACKNOWLEDGED for r in results):
                self._link(True, stream)  # the platform answered (not a portal or a proxy)
            if not self._apply(items, results, report, now):
                return
            size = self.batch_size

    def _apply(self, items: Sequence[Item], results: Sequence[ItemResult],
               report: PassReport, now: float) -> bool:
        """Record a batch's per-item results; False if the stream must wait."""
        by_key = {r.key: r for r in results}
        done: list[Item] = []
        for i, it in enumerate(items):
            r = by_key.get(it.key)
            if r is None and i:
                break  # not sent this time (one-by-one delivery): the stream goes on from here
            if r is None:
                r = ItemResult(it.key, Outcome.DEFERRED, 0, "not sent by the deliverer")
            if r.outcome is Outcome.DELIVERED:
                done.append(it)
                continue
            self.outbox.ack(done, now)
            report.delivered += len(done)
            done = []
            if r.outcome is Outcome.REJECTED:
                self.outbox.bury([it], r.error or "rejected", r.status, now=now)
                report.dead += 1
                continue
            if r.outcome is Outcome.UNACKNOWLEDGED and it.attempts + 1 >= self.unacked_limit:
                self.outbox.bury([it], f"{UNACKED_PREFIX} {it.attempts + 1} sends answered "
                                 f"without an acknowledgement; last: {r.error}", r.status,
                                 now=now)
                report.dead += 1
                continue
            self._wait(items[i:], r, report, now)
            return False
        self.outbox.ack(done, now)
        report.delivered += len(done)
        return True

    def _wait(self, rest: Sequence[Item], r: ItemResult, report: PassReport,
              now: float) -> None:
        """The head of `rest` was deferred or not acknowledged: it and what follows wait."""
        head = rest[0]
        delay = self.backoff.delay(head.attempts + 1, self.rng)
        if r.outcome is Outcome.UNACKNOWLEDGED:
            error = f"{UNACKED_PREFIX} {r.error}"
            log.warning("outbox %s: the answer did not acknowledge %s (%s); kept, attempt "
                        "%d of %d before dead letter", head.stream, head.key, r.error,
                        head.attempts + 1, self.unacked_limit)
        else:
            error = r.error or "deferred by the platform"
        self.outbox.fail(rest, error, now + delay)
        report.failed_streams[head.stream] = error
        report.next_due = min(report.next_due or now + delay, now + delay)

    def _transient(self, items: Sequence[Item], exc: TransientError, report: PassReport,
                   now: float) -> None:
        head = items[0]
        delay = self.backoff.delay(head.attempts + 1, self.rng, exc.retry_after)
        due = now + delay
        error = exc.error if exc.status else f"{NETWORK_PREFIX} {exc.error}"
        if exc.retry_after is not None:
            error += f" (retry-after {exc.retry_after:g}s)"
        self.outbox.fail(items, error, due)
        report.failed_streams[head.stream] = error
        report.next_due = min(report.next_due or due, due)
        if not exc.status:
            self._link(False, head.stream)
        log.info("outbox %s: %d item(s) not delivered (%s); next attempt in %.1fs",
                 head.stream, len(items), error, delay)

    def _link(self, ok: bool, stream: str) -> None:
        if self.on_stream_link is not None or self.on_link is not None:
            try:
                if self.on_stream_link is not None:
                    self.on_stream_link(stream, ok)
                elif self.on_link is not None:
                    self.on_link(ok)
            except Exception:  # a listener must not stop delivery
                log.exception("link listener failed")

    # -- flush (technician / CLI) ----------------------------------------------------------
    def flush(self, *, max_passes: int = 50, lock_timeout: float = 30.0) -> int:
        """Deliver now, ignoring backoff; return how many items are left undelivered."""
        total = PassReport()
        for _ in range(max_passes):
            report = self.run_pass(force=True, lock_timeout=lock_timeout)
            if report is None:
                total.failed_streams["*"] = "another replay pass holds the lock"
                break
            total.delivered += report.delivered
            total.dead += report.dead
            total.requests += report.requests
            total.failed_streams = dict(report.failed_streams)
            if not report.failed_streams or not report.progress:
                break
        self.last_report = total
        return self.outbox.depth()

    # -- background thread -------------------------------------------------------------------
    def wake(self) -> None:
        self._wake.set()

    def reconnected(self, spread_s: float) -> None:
        """The link came back: retry network failures after a random delay in [0, spread]."""
        self._reconnect_at = self.clock() + self.rng.uniform(0.0, max(0.0, spread_s))
        self._wake.set()

    def start(self) -> ReplayWorker:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, daemon=True, name="outbox-replay")
            self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            reconnect = False
            if self._reconnect_at is not None and self.clock() >= self._reconnect_at:
                reconnect, self._reconnect_at = True, None
            try:
                report = self.run_pass(reconnect=reconnect)
                if self.clock() - self._pruned_at > 3600:  # keep the local journal bounded
                    self._pruned_at = self.clock()
                    self.outbox.prune_journal()
            except Exception:  # storage trouble: keep the thread alive, try again later
                log.exception("outbox replay pass failed")
                report = None
            now = self.clock()
            wait = self.idle_poll_s
            if report is not None and report.next_due is not None:
                wait = min(wait, max(0.05, report.next_due - now))
            if report is None:
                wait = min(wait, 1.0)
            if self._reconnect_at is not None:
                wait = min(wait, max(0.0, self._reconnect_at - now))
            self._wake.wait(wait)
            self._wake.clear()


class HttpDeliverer:
    """Deliver over the platform API with the signed backend client (batched if supported)."""

    BATCH_PATH = "/api/v1/outbox/batch"
    ITEM_PATH = "/api/v1/outbox/item"

    def __init__(self, client: Any, *, batching: bool = True) -> None:
        self.client = client
        self.batching = batching

    def deliver(self, items: Sequence[Item]) -> list[ItemResult]:
        if self.batching and len(items) > 1:
            try:
                return self._batch(items)
            except PermanentError as exc:
                if exc.status not in (404, 405):
                    raise
                log.warning("platform has no batch endpoint; delivering one by one")
                self.batching = False
        return [self._one(items[0])]

    @staticmethod
    def _wire(it: Item) -> dict[str, Any]:
        return {"key": it.key, "stream": it.stream, "created": it.created, "payload": it.payload}

    def _call(self, path: str, body: Any, key: str | None = None) -> Any:
        try:
            return self.client.post_json(path, body, idempotency_key=key)
        except BackendError as err:
            if 200 <= err.status < 300 and err.key not in CUT_SHORT:
                # a "success" read whole that is not the platform's JSON (a portal's page)
                raise NotAcknowledged(f"http ({err.status}): {err.key} {err.detail}".strip(),
                                      status=err.status) from err
            if err.status == 0 or err.retryable:
                what = f"{err.key} {err.detail}".strip()
                raise TransientError(f"http ({err.status}): {what}" if err.status
                                     else what, status=err.status,
                                     retry_after=getattr(err, "retry_after", None)) from err
            raise PermanentError(f"http {err.status}: {err.detail or err.key}",
                                 status=err.status) from err

    def _batch(self, items: Sequence[Item]) -> list[ItemResult]:
        """One result per item: the platform's where it names the item's key."""
        try:
            answer = self._call(self.BATCH_PATH, {"items": [self._wire(i) for i in items]})
        except NotAcknowledged as exc:
            return [ItemResult(i.key, Outcome.UNACKNOWLEDGED, exc.status, exc.error)
                    for i in items]
        results = answer.get("results") if isinstance(answer, dict) else None
        if not isinstance(results, list):
            why = f"batch answer without results ({_describe(answer)})"
            return [ItemResult(i.key, Outcome.UNACKNOWLEDGED, 0, why) for i in items]
        by_key = {r.key: r for r in (_result(x) for x in results if isinstance(x, dict))}
        missing = "the batch answer does not name the item"
        return [by_key.get(i.key) or ItemResult(i.key, Outcome.UNACKNOWLEDGED, 0, missing)
                for i in items]

    def _one(self, it: Item) -> ItemResult:
        try:
            answer = self._call(self.ITEM_PATH, self._wire(it), key=it.key)
        except PermanentError as exc:
            return ItemResult(it.key, Outcome.REJECTED, exc.status, exc.error)
        except NotAcknowledged as exc:
            return ItemResult(it.key, Outcome.UNACKNOWLEDGED, exc.status, exc.error)
        if isinstance(answer, dict) and answer.get("key") == it.key:
            return _result(answer)
        return ItemResult(it.key, Outcome.UNACKNOWLEDGED, 0,
                          f"answer does not name the item ({_describe(answer)})")


def _describe(answer: Any) -> str:
    """What an answer was, without its content (it may be anyone's page)."""
    if answer is None:
        return "empty body"
    if isinstance(answer, dict):
        return "an object naming another key" if "key" in answer else \
            f"an object with fields {sorted(map(str, answer))[:5]}"
    return f"a JSON {type(answer).__name__}"


def _result(r: dict[str, Any]) -> ItemResult:
    status = r.get("status")
    key = str(r.get("key", ""))
    if status in ("applied", "duplicate"):
        return ItemResult(key, Outcome.DELIVERED)
    if status == "rejected":
        return ItemResult(key, Outcome.REJECTED, 422, str(r.get("error", "rejected")))
    if status == "deferred":  # the platform asks for the item again later
        return ItemResult(key, Outcome.DEFERRED, 0, str(r.get("error", "")))
    return ItemResult(key, Outcome.UNACKNOWLEDGED, 0,
                      f"result status {str(status)[:40]!r} is not an acknowledgement")
