"""What a platform call can fail with: `BackendError` (a translation key for the UI, a
`retryable` flag for the outbox) and the Retry-After parser.

Standard library only, so that devices and flow steps can catch platform errors
without importing the requests-based client.
"""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime

# Keys of answers the client stopped reading (too slow, too large): whatever their status,
# they say nothing about the request, so the outbox retries them like a network failure.
CUT_SHORT = frozenset({"backend.timeout", "backend.answer_too_large"})


class BackendError(Exception):
    """A platform call that did not give a usable answer.

    `key` is a translation key (`backend.timeout`, `backend.redirect_refused`, ...);
    `detail` is for the log; `status` is the HTTP status (0 when there was none);
    `retryable` tells the outbox to try again later rather than bury the item.
    """

    def __init__(self, key: str, detail: str = "", *, status: int = 0,
                 retryable: bool = True, retry_after: float | None = None) -> None:
        super().__init__(f"{key} ({status}): {detail}" if status else f"{key}: {detail}")
        self.key, self.detail, self.status, self.retryable = key, detail, status, retryable
        self.retry_after = retry_after  # seconds, from a 429/503 Retry-After header


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when - (time.time() if now is None else now))


__all__ = ["CUT_SHORT", "BackendError", "parse_retry_after"]
