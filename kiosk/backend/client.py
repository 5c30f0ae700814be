"""Signed JSON-over-HTTP client for the service platform (requests).

Every request is signed (see `signing`); writes carry an Idempotency-Key so that a
replay is applied once. Failures become `BackendError` with a translation key the UI
can show and a `retryable` flag the outbox uses.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import requests

from kiosk.backend.signing import sign_headers

log = logging.getLogger(__name__)


class BackendError(Exception):
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


# A learnt clock offset is only replaced by one that differs by at least this much
# (the Date header has one-second resolution; the platform allows 300 s).
CLOCK_STEP_S = 5.0


class BackendClient:
    def __init__(self, base_url: str, terminal_id: str, secret: bytes, *,
                 connect_timeout: float = 3.0, read_timeout: float = 10.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.base_url = base_url.rstrip("/")
        self._prefix = urlsplit(self.base_url).path
        self.terminal_id = terminal_id
        self._secret = secret
        self.timeout = (connect_timeout, read_timeout)
        # requests.Session is not documented as thread-safe: one per thread.
        self._local = threading.local()
        self._clock = clock
        # Platform time minus our time, learnt when the platform refuses a timestamp as
        # stale (a terminal whose RTC drifted or reset): signatures then use platform time.
        self.clock_offset = 0.0

    @property
    def _http(self) -> requests.Session:
        s = getattr(self._local, "session", None)
        if s is None:
            s = requests.Session()
            self._local.session = s
        return s

    def request(self, method: str, path: str, payload: Any = None, *,
                idempotency_key: str | None = None, timeout: tuple[float, float] | None = None
                ) -> Any:
        body = b"" if payload is None else json.dumps(payload, ensure_ascii=False,
                                                      separators=(",", ":")).encode()
        resp = self._send(method, path, body, payload is not None, idempotency_key, timeout)
        if resp.status_code == 401 and self._learn_clock(resp):
            # Signed again with platform time and a fresh nonce: the refused request was
            # not applied, so sending it again applies it at most once.
            resp = self._send(method, path, body, payload is not None, idempotency_key, timeout)
        return self._answer(resp, method, path)

    def _send(self, method: str, path: str, body: bytes, is_json: bool,
              idempotency_key: str | None, timeout: tuple[float, float] | None
              ) -> requests.Response:
        headers = sign_headers(self.terminal_id, self._secret, method, self._prefix + path, body,
                               now=self._clock() + self.clock_offset)
        if is_json:
            headers["Content-Type"] = "application/json"
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        try:
            return self._http.request(method, self.base_url + path, data=body, headers=headers,
                                      timeout=timeout or self.timeout)
        except requests.Timeout as exc:
            raise BackendError("backend.timeout", type(exc).__name__) from exc
        except requests.RequestException as exc:
            raise BackendError("backend.unreachable", type(exc).__name__) from exc

    def _learn_clock(self, resp: requests.Response) -> bool:
        """After a 401 for a stale timestamp, take the platform's clock from its `Date`
        header; True if that changes our offset (worth signing again). The header is as
        trustworthy as the channel (TLS to the platform in production); a wrong one can
        only make requests fail, since the platform still checks every signature and nonce.
        """
        try:
            refused = resp.json().get("error") == "stale_timestamp"
        except (ValueError, AttributeError):
            refused = False
        date = resp.headers.get("Date")
        if not refused or not date:
            return False
        try:
            offset = parsedate_to_datetime(date).timestamp() - self._clock()
        except (TypeError, ValueError):
            return False
        if abs(offset - self.clock_offset) < CLOCK_STEP_S:
            return False  # already on platform time: the refusal is something else
        log.warning("terminal clock differs from the platform's by %.0f s; "
                    "signing with platform time", offset)
        self.clock_offset = offset
        return True

    @staticmethod
    def _answer(resp: requests.Response, method: str, path: str) -> Any:
        code = resp.status_code
        try:
            data = resp.json() if resp.content else None
        except ValueError:
            data = None
        if 200 <= code < 300:
            if data is None and resp.content:
                raise BackendError("backend.server_error", "answer is not JSON", status=code)
            return data
        err = data.get("error") if isinstance(data, dict) else None
        log.info("%s %s -> %s %s", method, path, code, err or "")
        if code == 401:
            raise BackendError("backend.auth_failed", str(err), status=code, retryable=False)
        if code == 404 and err:
            raise BackendError(f"backend.{err}", status=code, retryable=False)
        if code in (408, 429) or code >= 500:
            raise BackendError("backend.server_error", str(err), status=code, retryable=True,
                               retry_after=parse_retry_after(resp.headers.get("Retry-After")))
        raise BackendError("backend.bad_request", str(err), status=code, retryable=False)

    def get_json(self, path: str, **kw: Any) -> Any:
        return self.request("GET", path, **kw)

    def post_json(self, path: str, payload: Any, **kw: Any) -> Any:
        return self.request("POST", path, payload, **kw)

    def health(self, timeout: float = 2.0) -> bool:
        try:
            r = self._http.get(self.base_url + "/health", timeout=(timeout, timeout))
            return r.status_code == 200
        except requests.RequestException:
            return False
