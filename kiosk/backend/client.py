"""Signed JSON-over-HTTP client for the service platform (requests).

Every request is signed (see `signing`) over the request target exactly as it goes on
the wire; writes carry an Idempotency-Key so that a replay is applied once. Failures
become `BackendError` (from `kiosk.backend.errors`, re-exported here) with a
translation key the UI can show and a `retryable` flag the outbox uses.

Toward a network the terminal does not control (a bank branch's LAN, a station's
captive portal, a proxy that misbehaves):

- Redirects are never followed off the configured origin (scheme, host, port): the
  signed request and its headers go nowhere else (`backend.redirect_refused`, logged
  with the reason). A same-origin 307/308 (or 301/302/303 for a GET) is followed at most
  `MAX_REDIRECTS` times, signed again for its new target. The health check follows none.
- Every call has a total deadline (connect, send, headers, body, redirects): a
  watchdog shuts the socket down when it passes, since per-read timeouts never fire
  while a server drips a byte at a time (`backend.timeout`).
- Every answer has a size cap, checked against Content-Length before anything is read
  and again while reading (`backend.answer_too_large`); the connection is closed, not
  reused, after an abort.

Authentication is a strategy (`Auth`): the terminal's own HMAC signing (`HmacAuth`, the
default) or another platform's, e.g. OAuth2 client credentials
(`kiosk.backend.connectors`). A 401 that the strategy can cure (a bearer token the
platform stopped taking) is sent once more with fresh credentials, never more.
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, Protocol
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from kiosk.backend.errors import BackendError, parse_retry_after
from kiosk.backend.signing import sign_headers, wire_target

log = logging.getLogger(__name__)

# A learnt clock offset is only replaced by one that differs by at least this much
# (the Date header has one-second resolution; the platform allows 300 s).
CLOCK_STEP_S = 5.0

MAX_REDIRECTS = 3
REDIRECTS = frozenset({301, 302, 303, 307, 308})
KEEPS_METHOD = frozenset({307, 308})  # the others turn a POST into a GET without its body
DEFAULT_DEADLINE_S = 30.0
DEFAULT_MAX_ANSWER = 8 * 1024 * 1024  # the largest real answer (a face photo) is far below
HEALTH_MAX_ANSWER = 64 * 1024
CHUNK = 64 * 1024


@dataclass(frozen=True)
class Answer:
    """One HTTP answer, read whole within the call's deadline and size cap."""

    status: int
    headers: Mapping[str, str]  # case-insensitive (requests' CaseInsensitiveDict)
    body: bytes

    def json(self) -> Any:
        """The body as JSON (None when empty); ValueError when it is not JSON."""
        return json.loads(self.body) if self.body else None


# -- the deadline watchdog ------------------------------------------------------------------
_current = threading.local()  # the _Watch of the exchange running on this thread


class _Watch:
    """One exchange's wall-clock deadline. When it passes, the socket in use is shut
    down: that wakes a read blocked on a server that sends a byte now and then."""

    def __init__(self, at: float) -> None:
        self.at = at  # time.monotonic() value
        self.expired = False
        self._conn: HTTPConnection | None = None
        self._done = False
        self._lock = threading.Lock()

    def attach(self, conn: HTTPConnection) -> None:
        """The connection this exchange uses (called at its request and after connect)."""
        with self._lock:
            self._conn = conn
            expired = self.expired and not self._done
        if expired:
            _shut(conn)

    def expire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.expired = True
            conn = self._conn
        if conn is not None:
            _shut(conn)

    @property
    def done(self) -> bool:
        return self._done

    @contextmanager
    def running(self) -> Iterator[_Watch]:
        if self.at <= time.monotonic():
            self.expired = True
            raise BackendError("backend.timeout", "call deadline passed before sending")
        _current.watch = self
        _WATCHDOG.add(self)
        try:
            yield self
        finally:
            with self._lock:
                self._done = True
                self._conn = None
            _current.watch = None


class _Watchdog:
    """One thread that expires every call's `_Watch` at its deadline (a timer thread per
    call would cost more than the rest of a call to the platform on the LAN)."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, _Watch]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def add(self, watch: _Watch) -> None:
        with self._cond:
            heapq.heappush(self._heap, (watch.at, next(self._seq), watch))
            if self._thread is None or not self._thread.is_alive():  # first use, or a fork
                self._thread = threading.Thread(target=self._run, daemon=True,
                                                name="backend-deadlines")
                self._thread.start()
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._heap and self._heap[0][2].done:  # finished calls: drop
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._cond.wait()
                    continue
                left = self._heap[0][0] - time.monotonic()
                if left > 0:
                    self._cond.wait(left)
                    continue
                watch = heapq.heappop(self._heap)[2]
            watch.expire()


_WATCHDOG = _Watchdog()


def _shut(conn: HTTPConnection) -> None:
    # http.client drops `conn.sock` once the headers say the connection will close, while
    # the body is still read from that socket: hence the reference kept at connect.
    sock = getattr(conn, "sock", None) or getattr(conn, "_watched_sock", None)
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _watched(conn: HTTPConnection) -> None:
    watch = getattr(_current, "watch", None)
    if watch is not None:
        watch.attach(conn)


class _Watched:
    """Puts the connection's socket under the call's deadline watch (HTTP and HTTPS)."""

    sock: Any

    def request(self, *args: Any, **kwargs: Any) -> None:
        _watched(self)  # type: ignore[arg-type]  # mixed into an HTTPConnection
        super().request(*args, **kwargs)  # type: ignore[misc]

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        self._watched_sock = self.sock
        _watched(self)  # type: ignore[arg-type]  # the socket exists now: an expiry shuts it


class _WatchedHTTP(_Watched, HTTPConnection):
    pass


class _WatchedHTTPS(_Watched, HTTPSConnection):
    pass


class _Pool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTP


class _TlsPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPS


_POOLS: Mapping[str, type[HTTPConnectionPool]] = {"http": _Pool, "https": _TlsPool}


class _Adapter(HTTPAdapter):
    """requests' adapter with connections the deadline watchdog can reach."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(_POOLS)

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **kwargs)
        if hasattr(manager, "pool_classes_by_scheme"):
            manager.pool_classes_by_scheme = dict(_POOLS)
        return manager


def _origin(url: str) -> tuple[str, str, int]:
    u = urlsplit(url)
    scheme = u.scheme.lower()
    return scheme, (u.hostname or "").lower(), u.port or (443 if scheme == "https" else 80)


def _show_origin(o: tuple[str, str, int]) -> str:
    return f"{o[0]}://{o[1]}:{o[2]}"


class Auth(Protocol):
    """How requests to one platform are authenticated."""

    def headers(self, method: str, target: str, body: bytes, now: float) -> dict[str, str]:
        """Headers for a request whose target on the wire is exactly `target`; may raise
        BackendError (e.g. a token endpoint that refuses)."""
        ...

    def renew(self) -> bool:
        """After a 401: True if fresh credentials were obtained (worth one more send)."""
        ...


@dataclass(frozen=True)
class HmacAuth:
    """The terminal's own scheme: HMAC-SHA256 over the request (`signing`)."""

    terminal_id: str
    secret: bytes = field(repr=False)

    def headers(self, method: str, target: str, body: bytes, now: float) -> dict[str, str]:
        return sign_headers(self.terminal_id, self.secret, method, target, body, now=now)

    def renew(self) -> bool:
        return False  # a refused signature is not cured by signing again (the clock is)


class BackendClient:
    def __init__(self, base_url: str, terminal_id: str, secret: bytes, *,
                 connect_timeout: float = 3.0, read_timeout: float = 10.0,
                 deadline_s: float = DEFAULT_DEADLINE_S,
                 max_answer_bytes: int = DEFAULT_MAX_ANSWER,
                 clock: Callable[[], float] = time.time,
                 auth: Auth | None = None, health_path: str = "/health") -> None:
        self.base_url = base_url.rstrip("/")
        self._prefix = urlsplit(self.base_url).path
        self._origin = _origin(self.base_url)
        self._root = self.base_url[:len(self.base_url) - len(self._prefix)]
        self.terminal_id = terminal_id
        self.auth: Auth = auth or HmacAuth(terminal_id, secret)
        self.health_path = health_path
        self.timeout = (connect_timeout, read_timeout)
        self.deadline_s = deadline_s  # a whole call, redirects and clock retry included
        self.max_answer_bytes = max_answer_bytes
        # requests.Session is not documented as thread-safe: one per thread.
        self._local = threading.local()
        self._clock = clock
        # Platform time minus our time, learnt when the platform refuses a timestamp as
        # stale (a terminal whose RTC drifted or reset): signatures then use platform time.
        self.clock_offset = 0.0
        self._health_note = ""

    @property
    def _http(self) -> requests.Session:
        s = getattr(self._local, "session", None)
        if s is None:
            s = requests.Session()
            s.mount("http://", _Adapter())
            s.mount("https://", _Adapter())
            self._local.session = s
        return s

    # -- calls ---------------------------------------------------------------------------
    def request(self, method: str, path: str, payload: Any = None, *,
                idempotency_key: str | None = None, timeout: tuple[float, float] | None = None,
                deadline_s: float | None = None) -> Any:
        body = b"" if payload is None else json.dumps(payload, ensure_ascii=False,
                                                      separators=(",", ":")).encode()
        at = time.monotonic() + (self.deadline_s if deadline_s is None else deadline_s)
        answer = self._call(method, self._prefix + path, body, payload is not None,
                            idempotency_key, timeout or self.timeout, at)
        return self._answer(answer, method, path)

    def _call(self, method: str, target: str, body: bytes, is_json: bool,
              idempotency_key: str | None, timeout: tuple[float, float], at: float) -> Answer:
        """Send, sign again once after a stale-clock 401, renew credentials once after
        another 401, follow same-origin redirects."""
        clock_retry = renew = True
        for _ in range(MAX_REDIRECTS + 1):
            answer = self._send(method, target, body, is_json, idempotency_key, timeout, at)
            if answer.status == 401 and clock_retry and self._learn_clock(answer):
                # Signed again with platform time and a fresh nonce: the refused request
                # was not applied, so sending it again applies it at most once.
                clock_retry = False
                answer = self._send(method, target, body, is_json, idempotency_key, timeout, at)
            if answer.status == 401 and renew and self.auth.renew():
                # A token the platform no longer takes (expired early, revoked): refused,
                # so not applied; one more send with the new one, and no further.
                renew = False
                answer = self._send(method, target, body, is_json, idempotency_key, timeout, at)
            if answer.status not in REDIRECTS:
                return answer
            target = self._redirect_target(answer, method, target)
        raise BackendError("backend.redirect_refused", f"more than {MAX_REDIRECTS} redirects",
                           status=answer.status)

    def _send(self, method: str, target: str, body: bytes, is_json: bool,
              idempotency_key: str | None, timeout: tuple[float, float], at: float) -> Answer:
        wire = wire_target(target)
        headers: dict[str, str] = {}
        if is_json:
            headers["Content-Type"] = "application/json"
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        prep = self._http.prepare_request(
            requests.Request(method, self._root + wire, data=body, headers=headers))
        if prep.path_url != wire:  # e.g. dot segments the HTTP stack would remove
            raise BackendError("backend.bad_request", f"request target {target!r} is not "
                               "sent as written", retryable=False)
        prep.headers.update(self.auth.headers(method, wire, body,
                                              self._clock() + self.clock_offset))
        return self._exchange(prep, timeout, at, self.max_answer_bytes)

    def _exchange(self, prep: requests.PreparedRequest, timeout: tuple[float, float],
                  at: float, cap: int) -> Answer:
        """One HTTP exchange within the deadline `at` and the size cap; no redirects."""
        # prep.url is set: the request was prepared from a URL (None only for an unprepared one)
        settings = self._http.merge_environment_settings(prep.url or "", {}, True, None, None)
        with _Watch(at).running() as watch:
            resp: requests.Response | None = None
            try:
                resp = self._http.send(prep, stream=True, allow_redirects=False,
                                       timeout=timeout, proxies=settings.get("proxies"),
                                       verify=settings.get("verify", True),
                                       cert=settings.get("cert"))
                body = b"" if resp.status_code in REDIRECTS else _read(resp, cap, watch)
            except requests.RequestException as exc:
                raise _transport_error(exc, watch, at) from exc
            except OSError as exc:
                raise _transport_error(exc, watch, at) from exc
            finally:
                if resp is not None:
                    resp.close()  # an unread or aborted body closes the connection
            if watch.expired:  # a close-delimited body cut by the watchdog looks complete
                raise BackendError("backend.timeout", _late(at))
            return Answer(resp.status_code, resp.headers, body)

    def _redirect_target(self, answer: Answer, method: str, target: str) -> str:
        """The same-origin target to follow, or BackendError (and why, in the log)."""
        location = answer.headers.get("Location", "")
        here = self._root + wire_target(target)
        there = urljoin(here, location)
        origin = _origin(there)
        why = ""
        if not location:
            why = "it names no Location"
        elif origin != self._origin:
            why = (f"{_show_origin(origin)} is not the platform's origin "
                   f"{_show_origin(self._origin)}; the signed request is not sent there")
        elif answer.status not in KEEPS_METHOD and method.upper() not in ("GET", "HEAD"):
            why = f"a {answer.status} would turn the {method} into a GET without its body"
        if why:
            log.warning("platform call %s %s: %s redirect refused: %s", method,
                        urlsplit(here).path, answer.status, why)
            raise BackendError("backend.redirect_refused", why, status=answer.status)
        u = urlsplit(there)
        log.info("platform call %s %s: following a same-origin %s redirect", method,
                 urlsplit(here).path, answer.status)
        return u.path + (f"?{u.query}" if u.query else "")

    def _learn_clock(self, answer: Answer) -> bool:
        """After a 401 for a stale timestamp, take the platform's clock from its `Date`
        header; True if that changes our offset (worth signing again). The header is as
        trustworthy as the channel (TLS to the platform in production); a wrong one can
        only make requests fail, since the platform still checks every signature and nonce.
        """
        try:
            refused = answer.json().get("error") == "stale_timestamp"
        except (ValueError, AttributeError):
            refused = False
        date = answer.headers.get("Date")
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
    def _answer(answer: Answer, method: str, path: str) -> Any:
        code = answer.status
        try:
            data = answer.json()
        except ValueError:
            data = None
        if 200 <= code < 300:
            if data is None and answer.body:
                kind = answer.headers.get("Content-Type", "no content type")
                raise BackendError("backend.server_error", f"answer is not JSON ({kind})",
                                   status=code)
            return data
        err = data.get("error") if isinstance(data, dict) else None
        log.info("%s %s -> %s %s", method, path, code, err or "")
        if code == 401:
            raise BackendError("backend.auth_failed", str(err), status=code, retryable=False)
        if code == 404 and err:
            raise BackendError(f"backend.{err}", status=code, retryable=False)
        if code in (408, 429) or code >= 500:
            raise BackendError("backend.server_error", str(err), status=code, retryable=True,
                               retry_after=parse_retry_after(answer.headers.get("Retry-After")))
        raise BackendError("backend.bad_request", str(err), status=code, retryable=False)

    def get_json(self, path: str, **kw: Any) -> Any:
        return self.request("GET", path, **kw)

    def post_json(self, path: str, payload: Any, **kw: Any) -> Any:
        return self.request("POST", path, payload, **kw)

    # -- health ------------------------------------------------------------------------------
    def health(self, timeout: float = 2.0) -> bool:
        """True if the platform itself answers `/health` with JSON: not a redirect (a
        captive portal's usual answer), not a page, within `timeout` in all."""
        prep = self._http.prepare_request(requests.Request("GET", self.base_url + self.health_path))
        try:
            answer = self._exchange(prep, (timeout, timeout), time.monotonic() + timeout,
                                    HEALTH_MAX_ANSWER)
        except BackendError as exc:
            return self._healthy(False, f"{exc.key} {exc.detail}")
        if answer.status in REDIRECTS:
            there = urljoin(self.base_url + self.health_path, answer.headers.get("Location", ""))
            return self._healthy(False, f"health check answered with a {answer.status} redirect "
                                 f"to {_show_origin(_origin(there))}; not followed (a captive "
                                 "portal or a proxy, not the platform)")
        if answer.status != 200:
            return self._healthy(False, f"health check answered {answer.status}")
        try:
            ok = isinstance(answer.json(), dict)
        except ValueError:
            ok = False
        return self._healthy(ok, "" if ok else "health check answer is not the platform's JSON "
                             f"({answer.headers.get('Content-Type', 'no content type')})")

    def _healthy(self, ok: bool, why: str) -> bool:
        """Log why the platform looks unreachable, once per change of reason."""
        if why != self._health_note:
            self._health_note = why
            if why:
                log.warning("platform health: %s", why)
        return ok


def _read(resp: requests.Response, cap: int, watch: _Watch) -> bytes:
    """The body, refused (unread) when its declared length is over `cap`."""
    declared = resp.headers.get("Content-Length", "").strip()
    if declared.isdigit() and int(declared) > cap:
        raise BackendError("backend.answer_too_large",
                           f"Content-Length {declared} over the cap of {cap} bytes",
                           status=resp.status_code)
    buf = bytearray()
    for chunk in resp.iter_content(CHUNK):
        buf += chunk
        if len(buf) > cap:
            raise BackendError("backend.answer_too_large",
                               f"answer over the cap of {cap} bytes", status=resp.status_code)
        if watch.expired or time.monotonic() > watch.at:
            watch.expired = True
            break
    return bytes(buf)


def _late(at: float) -> str:
    return f"no complete answer by the call's deadline ({time.monotonic() - at:+.1f} s)"


def _transport_error(exc: Exception, watch: _Watch, at: float) -> BackendError:
    if watch.expired:
        return BackendError("backend.timeout", _late(at))
    if isinstance(exc, requests.Timeout):
        return BackendError("backend.timeout", type(exc).__name__)
    return BackendError("backend.unreachable", type(exc).__name__)


__all__ = ["Answer", "Auth", "BackendClient", "BackendError", "HmacAuth", "parse_retry_after"]
