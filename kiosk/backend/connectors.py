"""One connector per platform a flow may name (issue 17; docs/platforms.md).

The terminal's own platform ("" in a flow) is `[backend]`; others are `[platforms.<id>]`.
A `Connector` is a `BackendClient` (deadline, size cap, no off-origin redirects, the same
`BackendError` keys) with the platform's authentication and a requests-per-minute limit:

- `hmac`: the terminal's own signing (terminal id and secret of `[backend]`);
- `oauth2`: client credentials through Authlib's `OAuth2Session`: the token is fetched
  on first use, kept, fetched again before it expires (the library's leeway), and once
  more after a 401, whose request is then sent again once. A token endpoint that refuses
  the client is `backend.auth_failed` (not retried: a technician must fix the
  credentials); one that cannot be reached is `backend.unreachable` / `backend.timeout`.

Tokens and secrets are never logged: only the platform id, the endpoint's host and the
OAuth2 error code.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from authlib.integrations.requests_client import (  # type: ignore[import-untyped]
    OAuth2Session,
    OAuthError,
)

from kiosk.backend.client import BackendClient, BackendError, HmacAuth, _Adapter, _read, _Watch
from kiosk.config import PlatformConfig

log = logging.getLogger(__name__)

TERMINAL = ""  # the terminal's own platform, as a flow names it (by not naming one)
TOKEN_LEEWAY_S = 60  # fetch a new token this long before the old one expires
TOKEN_MAX_ANSWER = 64 * 1024


class OAuth2ClientCredentials:
    """Bearer tokens by the client-credentials grant (Authlib), kept until near expiry."""

    def __init__(self, platform: str, token_url: str, client_id: str,
                 client_secret: Callable[[], str], *, scope: str = "",
                 timeout: tuple[float, float] = (3.0, 10.0), deadline_s: float = 30.0,
                 leeway: int = TOKEN_LEEWAY_S) -> None:
        self.platform = platform
        self.token_url = token_url
        self._client_id = client_id
        self._secret = client_secret  # read when a token is fetched, never kept in a log
        self._scope = scope
        self._timeout = timeout
        self._deadline_s = deadline_s
        self._leeway = leeway
        self._session: OAuth2Session | None = None
        self._lock = threading.Lock()
        self.fetches = 0  # tokens fetched (for the health view and tests)

    def _oauth(self) -> OAuth2Session:
        if self._session is None:
            self._session = OAuth2Session(
                self._client_id, self._secret(), scope=self._scope or None,
                token_endpoint=self.token_url, grant_type="client_credentials",
                leeway=self._leeway)
            for scheme in ("http://", "https://"):  # connections the deadline can reach
                self._session.mount(scheme, _Adapter())
        return self._session

    def headers(self, method: str, target: str, body: bytes, now: float) -> dict[str, str]:
        with self._lock:
            oauth = self._oauth()
            token = oauth.token
            if not token or token.is_expired(leeway=self._leeway):
                self._fetch(oauth)  # first use, or about to expire: a new one first
            access = oauth.token["access_token"]
        return {"Authorization": f"Bearer {access}"}

    def renew(self) -> bool:
        """The platform refused our token: fetch a new one (True) or say why (raises)."""
        with self._lock:
            log.info("platform %s refused its bearer token; fetching a new one",
                     self.platform)
            self._fetch(self._oauth())
        return True

    def _fetch(self, oauth: OAuth2Session) -> None:
        where = urlsplit(self.token_url).netloc
        with _Watch(time.monotonic() + self._deadline_s).running() as watch:
            self._fetch_within(oauth, watch, where)
            if watch.expired:  # a close-delimited answer cut by the watchdog looks complete
                raise BackendError("backend.timeout", f"token endpoint {where}: no answer "
                                   "within the call's deadline")

    def _fetch_within(self, oauth: OAuth2Session, watch: _Watch, where: str) -> None:
        """The token endpoint's answer is read under the same deadline and a size cap as
        any platform answer (Authlib parses the body read here)."""

        def capped(resp: requests.Response, *_: Any, **__: Any) -> requests.Response:
            resp._content = _read(resp, TOKEN_MAX_ANSWER, watch)
            return resp

        try:
            oauth.fetch_token(self.token_url, grant_type="client_credentials",
                              timeout=self._timeout, allow_redirects=False, stream=True,
                              hooks={"response": capped})
        except OAuthError as exc:  # the endpoint answered with an OAuth2 error
            self._session = None  # the secret is read again next time (a fixed file)
            log.error("platform %s: token endpoint %s refused the client: %s", self.platform,
                      where, exc.error)
            raise BackendError("backend.auth_failed", f"token endpoint refused: {exc.error}",
                               status=401, retryable=False) from None
        except requests.Timeout:
            raise BackendError("backend.timeout", f"token endpoint {where}") from None
        except requests.HTTPError as exc:  # a 5xx, or an error page instead of JSON
            code = exc.response.status_code if exc.response is not None else 0
            log.warning("platform %s: token endpoint %s answered %s", self.platform, where,
                        code)
            refused = 400 <= code < 500
            raise BackendError("backend.auth_failed" if refused else "backend.server_error",
                               f"token endpoint answered {code}", status=code,
                               retryable=not refused) from None
        except requests.RequestException as exc:
            if watch.expired:
                raise BackendError("backend.timeout", f"token endpoint {where}: no answer "
                                   "within the call's deadline") from None
            log.warning("platform %s: token endpoint %s unreachable: %s", self.platform,
                        where, type(exc).__name__)
            raise BackendError("backend.unreachable",
                               f"token endpoint {where}: {type(exc).__name__}") from None
        except (ValueError, KeyError) as exc:  # not a token (a portal's page, a redirect)
            if watch.expired:  # what came before the deadline cut it short
                raise BackendError("backend.timeout", f"token endpoint {where}: no answer "
                                   "within the call's deadline") from None
            raise BackendError("backend.server_error", f"token endpoint {where}: no token "
                               f"in its answer ({type(exc).__name__})") from None
        if not oauth.token or "access_token" not in oauth.token:
            raise BackendError("backend.server_error", f"token endpoint {where}: no token")
        self.fetches += 1
        log.info("platform %s: bearer token fetched (expires in %s s)", self.platform,
                 oauth.token.get("expires_in", "?"))


class RateLimit:
    """At most `per_minute` calls in any 60 s; a call waits for a slot within its deadline."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._sent: deque[float] = deque()
        self._lock = threading.Lock()

    def acquire(self, deadline_s: float) -> None:
        if self.per_minute <= 0:
            return
        give_up = self._clock() + deadline_s
        while True:
            with self._lock:
                now = self._clock()
                while self._sent and self._sent[0] <= now - 60.0:
                    self._sent.popleft()
                if len(self._sent) < self.per_minute:
                    self._sent.append(now)
                    return
                free_at = self._sent[0] + 60.0
            if free_at > give_up:
                raise BackendError("backend.timeout", f"over the platform's limit of "
                                   f"{self.per_minute} requests per minute")
            time.sleep(max(0.01, free_at - self._clock()))


class Connector(BackendClient):
    """A platform's client: its URL, authentication, timeouts and limits."""

    def __init__(self, platform: str, base_url: str, terminal_id: str, secret: bytes, *,
                 limit: RateLimit | None = None, **kw: Any) -> None:
        super().__init__(base_url, terminal_id, secret, **kw)
        self.platform = platform
        self.limit = limit or RateLimit(0)

    def request(self, method: str, path: str, payload: Any = None, **kw: Any) -> Any:
        deadline = kw.get("deadline_s")
        self.limit.acquire(self.deadline_s if deadline is None else deadline)
        return super().request(method, path, payload, **kw)


def client_secret(cfg: PlatformConfig, environ: Mapping[str, str]) -> Callable[[], str]:
    """Where a platform's OAuth2 client secret is read (when a token is first fetched)."""

    def read() -> str:
        if cfg.client_secret_file:
            return Path(os.path.expanduser(cfg.client_secret_file)).read_text().strip()
        value = environ.get(cfg.client_secret_env, "")
        if not value:
            raise BackendError("backend.auth_failed", f"client secret missing: set "
                               f"${cfg.client_secret_env} or client_secret_file",
                               retryable=False)
        return value

    return read


def make_connector(platform: str, cfg: PlatformConfig, *, base_url: str, terminal_id: str,
                   secret: Callable[[], bytes],
                   oauth_secret: Callable[[], str] | None = None,
                   client_id: str = "", environ: Mapping[str, str] | None = None
                   ) -> Connector:
    """A connector for `[platforms.<platform>]`; `base_url` (and, for the embedded city
    platform, its client id and secret) as resolved by the runtime."""
    timeout = (cfg.connect_timeout_s, cfg.timeout_s)
    common: dict[str, Any] = {"connect_timeout": cfg.connect_timeout_s,
                                  "read_timeout": cfg.timeout_s, "deadline_s": cfg.timeout_s,
                                  "max_answer_bytes": cfg.max_answer_bytes,
                                  "health_path": cfg.health_path,
                                  "limit": RateLimit(cfg.requests_per_minute)}
    if cfg.auth == "hmac":
        key = secret()
        return Connector(platform, base_url, terminal_id, key,
                         auth=HmacAuth(terminal_id, key), **common)
    token_url = cfg.token_url or base_url.rstrip("/") + "/oauth/token"
    read = oauth_secret or client_secret(cfg, os.environ if environ is None else environ)
    auth = OAuth2ClientCredentials(platform, token_url, client_id or cfg.client_id, read,
                                   scope=cfg.scope, timeout=timeout, deadline_s=cfg.timeout_s)
    return Connector(platform, base_url, terminal_id, b"", auth=auth, **common)


__all__ = ["TERMINAL", "Connector", "OAuth2ClientCredentials", "RateLimit", "client_secret",
           "make_connector"]
