"""Console accounts: users and roles, passwords, sessions, API tokens, audit, login limits.

Roles are ordered: viewer (reads) < operator (also acknowledges alerts) < admin (also
manages users and tokens, reads the audit log). Passwords are hashed with argon2id at
OWASP's recommended cost (19 MiB, 2 passes, 1 lane: ~40 ms here; argon2-cffi's default of
64 MiB and 4 lanes took ~0.6 s on this 2-core centre, a CPU cost any stranger could make
us pay per login attempt); hashes made with other parameters are upgraded at the next
login. Session cookies and API tokens are 32 random bytes whose SHA-256 is all the
database keeps.

Failed logins are counted from the audit log, per account name (since its last successful
login) and per client address, inside a sliding window: past the limit a login is refused
before the password is even checked, whichever console instance the attempt reaches.

The functions that change something (`add_user`, `create_token`, `login`, …) commit their
own transaction, with its audit entry in it, so the CLI and the web layer call them alike.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from opscentre.db import utcnow
from opscentre.web.models import ApiToken, AuditEntry, LoginSession, User

ROLES = ("viewer", "agent", "operator", "admin")  # agent: answers remote help (docs/assist.md)
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
MIN_PASSWORD = 10
MAX_PASSWORD = 1024  # argon2 hashes anything, but a megabyte "password" is an attack
TOKEN_PREFIX = "kops_"  # recognisable in a leaked file or a secret scanner

_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# Checked when the account does not exist, so an unknown name costs the same time as a
# wrong password and the answer does not tell which it was.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


class AuthError(Exception):
    """Refused: `key` is a translation key for the page, `status` the HTTP status."""

    def __init__(self, key: str, status: int = 400, *, retry_after: int = 0) -> None:
        super().__init__(key)
        self.key, self.status, self.retry_after = key, status, retry_after


@dataclass(frozen=True)
class LoginPolicy:
    account_failures: int = 5  # wrong passwords for one account name in the window
    address_failures: int = 20  # wrong passwords from one client address in the window
    window_s: int = 15 * 60
    session_idle_s: int = 60 * 60
    session_max_s: int = 12 * 60 * 60


@dataclass(frozen=True)
class Principal:
    """Who is asking: a signed-in user (with their session) or an API token."""

    kind: str  # user | token
    name: str
    role: str
    session_id: str = ""
    csrf: str = ""

    @property
    def actor(self) -> str:
        return self.name if self.kind == "user" else f"token:{self.name}"

    def can(self, role: str) -> bool:
        return role_rank(self.role) >= role_rank(role)


def role_rank(role: str) -> int:
    try:
        return ROLES.index(role)
    except ValueError:
        return -1


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def audit(db: Session, actor: str, action: str, target: str = "", address: str = "",
          detail: Mapping[str, Any] | None = None, at: dt.datetime | None = None) -> None:
    """Add an audit entry to the current transaction (the caller commits)."""
    db.add(AuditEntry(at=at or utcnow(), actor=actor[:80], action=action, target=target[:128],
                      address=address[:64], detail=dict(detail or {})))


# -- users ---------------------------------------------------------------------------------
def _check_name(name: str) -> None:
    if not NAME.match(name):
        raise AuthError("auth.bad_name")


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise AuthError("auth.bad_role")


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AuthError("auth.password_short")
    if len(password) > MAX_PASSWORD:
        raise AuthError("auth.password_long")


def add_user(db: Session, name: str, role: str, password: str, *, by: str = "cli",
             address: str = "") -> User:
    """Create an account (committed, with its audit entry); AuthError if refused."""
    _check_name(name)
    _check_role(role)
    _check_password(password)
    if db.scalar(select(User.id).where(User.name == name)) is not None:
        raise AuthError("auth.user_exists", 409)
    user = User(name=name, role=role, password_hash=_hasher.hash(password))
    db.add(user)
    audit(db, by, "user_added", name, address, {"role": role})
    db.commit()
    return user


def _user(db: Session, name: str) -> User:
    user = db.scalar(select(User).where(User.name == name))
    if user is None:
        raise AuthError("auth.no_such_user", 404)
    return user


def set_role(db: Session, name: str, role: str, *, by: str, address: str = "") -> None:
    _check_role(role)
    user = _user(db, name)
    old, user.role = user.role, role
    audit(db, by, "user_role_changed", name, address, {"from": old, "to": role})
    db.commit()


def set_disabled(db: Session, name: str, disabled: bool, *, by: str, address: str = "") -> None:
    """Disable (and sign out everywhere) or re-enable an account."""
    user = _user(db, name)
    user.disabled = disabled
    if disabled:
        db.execute(delete(LoginSession).where(LoginSession.user_id == user.id))
    audit(db, by, "user_disabled" if disabled else "user_enabled", name, address)
    db.commit()


def set_password(db: Session, name: str, password: str, *, by: str, address: str = "") -> None:
    """A new password; every session of the account ends."""
    _check_password(password)
    user = _user(db, name)
    user.password_hash = _hasher.hash(password)
    db.execute(delete(LoginSession).where(LoginSession.user_id == user.id))
    audit(db, by, "user_password_changed", name, address)
    db.commit()


# -- API tokens ----------------------------------------------------------------------------
def create_token(db: Session, name: str, role: str = "viewer", *, by: str = "cli",
                 address: str = "") -> str:
    """A new bearer token (committed): the only time its value is ever seen."""
    _check_name(name)
    _check_role(role)
    if db.scalar(select(ApiToken.id).where(ApiToken.name == name)) is not None:
        raise AuthError("auth.token_exists", 409)
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    db.add(ApiToken(name=name, token_hash=_digest(raw), role=role, created_by=by))
    audit(db, by, "token_created", name, address, {"role": role})
    db.commit()
    return raw


def revoke_token(db: Session, name: str, *, by: str, address: str = "") -> None:
    tok = db.scalar(select(ApiToken).where(ApiToken.name == name))
    if tok is None:
        raise AuthError("auth.no_such_token", 404)
    if tok.revoked_at is None:
        tok.revoked_at = utcnow()
        audit(db, by, "token_revoked", name, address)
        db.commit()


def token_principal(db: Session, raw: str) -> Principal | None:
    """The principal of a bearer token, or None (unknown, revoked)."""
    if not raw.startswith(TOKEN_PREFIX) or len(raw) > 128:
        return None
    tok = db.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(raw)))
    if tok is None or tok.revoked_at is not None:
        return None
    now = utcnow()
    # one write a minute at most: a script polling every second must not write every second
    if tok.last_used_at is None or now - tok.last_used_at > dt.timedelta(minutes=1):
        tok.last_used_at = now
        db.commit()
    return Principal("token", tok.name, tok.role)


# -- logins and sessions -------------------------------------------------------------------
def _failures(db: Session, since: dt.datetime, *, target: str = "", address: str = "") -> int:
    q = select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "login_failed", AuditEntry.at > since)
    q = q.where(AuditEntry.target == target) if target else q.where(
        AuditEntry.address == address)
    return db.scalar(q) or 0


def _limited(db: Session, name: str, address: str, policy: LoginPolicy,
             now: dt.datetime) -> bool:
    since = now - dt.timedelta(seconds=policy.window_s)
    user = db.scalar(select(User).where(User.name == name))
    account_since = since
    if user is not None and user.last_login_at is not None:
        account_since = max(since, user.last_login_at)
    if _failures(db, account_since, target=name) >= policy.account_failures:
        return True
    return bool(address) and _failures(db, since, address=address) >= policy.address_failures


def _note_refusal(db: Session, name: str, address: str, now: dt.datetime) -> None:
    # Audited at most once a minute per (account, address): a flood of refused attempts
    # must not become a flood of rows.
    recent = db.scalar(select(AuditEntry.id).where(
        AuditEntry.action == "login_rate_limited", AuditEntry.target == name,
        AuditEntry.address == address, AuditEntry.at > now - dt.timedelta(minutes=1)).limit(1))
    if recent is None:
        audit(db, name if NAME.match(name) else "", "login_rate_limited", name, address, at=now)
        db.commit()


def _verify(user: User | None, password: str) -> bool:
    try:
        return _hasher.verify(user.password_hash if user else _DUMMY_HASH, password) and (
            user is not None)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def login(db: Session, name: str, password: str, address: str,
          policy: LoginPolicy = LoginPolicy()) -> tuple[Principal, str]:
    """Check a name and password: (principal, the session cookie's value), or AuthError."""
    now = utcnow()
    name = name.strip()[:64]
    if _limited(db, name, address, policy, now):
        _note_refusal(db, name, address, now)
        raise AuthError("auth.rate_limited", 429, retry_after=policy.window_s)
    user = db.scalar(select(User).where(User.name == name))
    if len(password) > MAX_PASSWORD or not _verify(user, password) or user is None or (
            user.disabled):
        audit(db, "", "login_failed", name, address, at=now)
        db.commit()
        raise AuthError("auth.login_failed", 401)
    if _hasher.check_needs_rehash(user.password_hash):  # parameters raised since it was set
        user.password_hash = _hasher.hash(password)
    # expired sessions go at each login: an indexed delete, and no sweeper to run
    db.execute(delete(LoginSession).where(LoginSession.expires_at < now))
    raw = secrets.token_urlsafe(32)
    row = LoginSession(id=_digest(raw), user_id=user.id, csrf=secrets.token_urlsafe(32),
                       created_at=now, last_seen=now, address=address[:64],
                       expires_at=now + dt.timedelta(seconds=policy.session_max_s))
    db.add(row)
    user.last_login_at = now
    audit(db, user.name, "login", user.name, address, at=now)
    db.commit()
    return Principal("user", user.name, user.role, row.id, row.csrf), raw


def session_principal(db: Session, raw: str, policy: LoginPolicy = LoginPolicy()
                      ) -> Principal | None:
    """The signed-in user of a session cookie, or None (unknown, expired, idle, disabled)."""
    if not raw or len(raw) > 128:
        return None
    row = db.get(LoginSession, _digest(raw))
    if row is None:
        return None
    now = utcnow()
    user = db.get(User, row.user_id)
    idle = now - row.last_seen > dt.timedelta(seconds=policy.session_idle_s)
    if user is None or user.disabled or now >= row.expires_at or idle:
        db.delete(row)
        db.commit()
        return None
    if now - row.last_seen > dt.timedelta(minutes=1):  # not a write on every page view
        row.last_seen = now
        db.commit()
    return Principal("user", user.name, user.role, row.id, row.csrf)


def logout(db: Session, who: Principal, address: str = "") -> None:
    if who.kind == "user" and who.session_id:
        db.execute(delete(LoginSession).where(LoginSession.id == who.session_id))
        audit(db, who.actor, "logout", who.name, address)
        db.commit()


def csrf_ok(who: Principal, given: str | None) -> bool:
    return bool(who.csrf) and given is not None and hmac.compare_digest(
        who.csrf.encode(), given.encode())
