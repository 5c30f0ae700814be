"""Accounts, tokens, sessions and the login limit (opscentre.auth) on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, update
from sqlalchemy.orm import Session, sessionmaker

from opscentre import auth
from opscentre.auth import AuthError, LoginPolicy
from opscentre.db import Base, alembic_config, make_engine, make_sessionmaker, upgrade
from opscentre.web.models import ApiToken, AuditEntry, LoginSession, User

POLICY = LoginPolicy(account_failures=3, address_failures=5, window_s=600)


@pytest.fixture
def db(db_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(db_url)
    upgrade(engine)
    yield make_sessionmaker(engine)
    engine.dispose()


CONSOLE_TABLES = {"console_users", "console_sessions", "console_tokens", "console_audit"}


def _tables_of(diff: object) -> set[str]:
    """The console tables an Alembic comparison entry is about."""
    found: set[str] = set()
    stack = [diff]
    while stack:
        item = stack.pop()
        if isinstance(item, list | tuple):
            stack.extend(item)
        elif isinstance(item, str) and item in CONSOLE_TABLES:
            found.add(item)
        else:
            table = getattr(item, "table", None)
            for name in (getattr(item, "name", None), getattr(table, "name", None)):
                if name in CONSOLE_TABLES:
                    found.add(str(name))
    return found


def test_the_console_migration_builds_what_its_models_describe(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine)
    assert set(inspect(engine).get_table_names()) >= CONSOLE_TABLES
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = [d for d in compare_metadata(ctx, Base.metadata) if _tables_of(d)]
    assert diff == [], "console models and migration disagree: add a migration"
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0001_centre")
    assert not CONSOLE_TABLES & set(inspect(engine).get_table_names())
    upgrade(engine)
    engine.dispose()


def actions(s: Session) -> list[str]:
    return list(s.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def test_a_password_is_stored_as_an_argon2id_hash_only(db: sessionmaker[Session]) -> None:
    with db() as s:
        auth.add_user(s, "ada", "admin", "a long enough secret")
    with db() as s:
        user = s.scalars(select(User)).one()
        assert user.password_hash.startswith("$argon2id$")
        assert "a long enough secret" not in user.password_hash
        assert actions(s) == ["user_added"]
        who, raw = auth.login(s, "ada", "a long enough secret", "127.0.0.1")
        assert (who.name, who.role, who.kind) == ("ada", "admin", "user")
        # the cookie's value is not in the database, only its hash
        assert s.get(LoginSession, raw) is None
        assert auth.session_principal(s, raw) == who


@pytest.mark.parametrize(("name", "role", "password", "key"), [
    ("ada", "admin", "short", "auth.password_short"),
    ("ada", "root", "a long enough secret", "auth.bad_role"),
    ("ada lovelace", "admin", "a long enough secret", "auth.bad_name"),
    ("", "admin", "a long enough secret", "auth.bad_name"),
    ("ada", "admin", "x" * 2000, "auth.password_long"),
])
def test_a_bad_account_is_refused_with_a_reason(db: sessionmaker[Session], name: str,
                                                role: str, password: str, key: str) -> None:
    with db() as s, pytest.raises(AuthError) as err:
        auth.add_user(s, name, role, password)
    assert err.value.key == key
    with db() as s:
        assert s.scalars(select(User)).all() == []


def test_a_second_user_of_the_same_name_is_refused(db: sessionmaker[Session]) -> None:
    with db() as s:
        auth.add_user(s, "ada", "viewer", "a long enough secret")
        with pytest.raises(AuthError) as err:
            auth.add_user(s, "ada", "admin", "another long secret")
    assert (err.value.key, err.value.status) == ("auth.user_exists", 409)
    with db() as s:
        assert s.scalars(select(User.role)).all() == ["viewer"]


def test_a_token_is_shown_once_and_stored_as_a_hash(db: sessionmaker[Session]) -> None:
    with db() as s:
        raw = auth.create_token(s, "nightly-report")
    assert raw.startswith("kops_") and len(raw) > 40
    with db() as s:
        row = s.scalars(select(ApiToken)).one()
        assert raw not in (row.token_hash, row.name) and row.role == "viewer"
        who = auth.token_principal(s, raw)
        assert who is not None and (who.kind, who.name, who.role) == ("token", "nightly-report",
                                                                      "viewer")
        assert auth.token_principal(s, raw[:-1] + ("A" if raw[-1] != "A" else "B")) is None
        auth.revoke_token(s, "nightly-report", by="ada")
        assert auth.token_principal(s, raw) is None
        assert actions(s) == ["token_created", "token_revoked"]


def _fail(s: Session, name: str, address: str, times: int) -> None:
    for _ in range(times):
        with pytest.raises(AuthError) as err:
            auth.login(s, name, "wrong password!", address, POLICY)
        assert err.value.key == "auth.login_failed"


def test_an_account_is_locked_after_n_failures_even_for_the_right_password(
        db: sessionmaker[Session]) -> None:
    with db() as s:
        auth.add_user(s, "ada", "admin", "a long enough secret")
        auth.add_user(s, "bob", "viewer", "another long secret")
        _fail(s, "ada", "10.0.0.1", POLICY.account_failures)
        # the right password, from another address: still refused, without a check
        with pytest.raises(AuthError) as err:
            auth.login(s, "ada", "a long enough secret", "10.0.0.2", POLICY)
        assert (err.value.key, err.value.status) == ("auth.rate_limited", 429)
        assert err.value.retry_after == POLICY.window_s
        # another account is not locked by it
        auth.login(s, "bob", "another long secret", "10.0.0.1", POLICY)
        assert actions(s).count("login_failed") == POLICY.account_failures
        assert "login_rate_limited" in actions(s)


def test_the_lock_ends_when_the_failures_leave_the_window(db: sessionmaker[Session]) -> None:
    with db() as s:
        auth.add_user(s, "ada", "admin", "a long enough secret")
        _fail(s, "ada", "10.0.0.1", POLICY.account_failures)
        with pytest.raises(AuthError):
            auth.login(s, "ada", "a long enough secret", "10.0.0.1", POLICY)
        # the failures age past the window (the rows are what the limit counts)
        old = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=POLICY.window_s + 5)
        s.execute(update(AuditEntry).values(at=old))
        s.commit()
        auth.login(s, "ada", "a long enough secret", "10.0.0.1", POLICY)


def test_a_successful_login_starts_the_account_count_afresh(db: sessionmaker[Session]) -> None:
    with db() as s:
        auth.add_user(s, "ada", "admin", "a long enough secret")
        _fail(s, "ada", "10.0.0.1", POLICY.account_failures - 1)
        auth.login(s, "ada", "a long enough secret", "10.0.0.1", POLICY)
        _fail(s, "ada", "10.0.0.1", POLICY.account_failures - 1)
        auth.login(s, "ada", "a long enough secret", "10.0.0.1", POLICY)


def test_an_address_guessing_many_names_is_limited(db: sessionmaker[Session]) -> None:
    with db() as s:
        auth.add_user(s, "ada", "admin", "a long enough secret")
        for i in range(POLICY.address_failures):
            _fail(s, f"guess{i}", "10.6.6.6", 1)
        with pytest.raises(AuthError) as err:
            auth.login(s, "ada", "a long enough secret", "10.6.6.6", POLICY)
        assert err.value.key == "auth.rate_limited"
        # ada from her own desk is not affected
        auth.login(s, "ada", "a long enough secret", "10.0.0.1", POLICY)


def test_an_unknown_name_and_a_wrong_password_read_the_same(db: sessionmaker[Session]) -> None:
    with db() as s:
        auth.add_user(s, "ada", "admin", "a long enough secret")
        keys = []
        for name in ("ada", "nobody"):
            with pytest.raises(AuthError) as err:
                auth.login(s, name, "wrong password!", "10.0.0.1", POLICY)
            keys.append((err.value.key, err.value.status))
        assert keys[0] == keys[1] == ("auth.login_failed", 401)


def test_sessions_end_when_idle_expired_disabled_or_logged_out(db: sessionmaker[Session]) -> None:
    with db() as s:
        auth.add_user(s, "ada", "admin", "a long enough secret")
        auth.add_user(s, "bob", "viewer", "another long secret")
        _, idle = auth.login(s, "ada", "a long enough secret", "127.0.0.1", POLICY)
        _, expired = auth.login(s, "ada", "a long enough secret", "127.0.0.1", POLICY)
        _, disabled = auth.login(s, "bob", "another long secret", "127.0.0.1", POLICY)
        who, out = auth.login(s, "ada", "a long enough secret", "127.0.0.1", POLICY)
        past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=POLICY.session_idle_s + 1)
        s.execute(update(LoginSession).where(LoginSession.id == auth._digest(idle))
                  .values(last_seen=past))
        s.execute(update(LoginSession).where(LoginSession.id == auth._digest(expired))
                  .values(expires_at=dt.datetime.now(dt.UTC)))
        s.commit()
        auth.set_disabled(s, "bob", True, by="ada")
        auth.logout(s, who)
        for raw in (idle, expired, disabled, out):
            assert auth.session_principal(s, raw, POLICY) is None
        with pytest.raises(AuthError):  # a disabled account cannot sign in either
            auth.login(s, "bob", "another long secret", "127.0.0.1", POLICY)


def test_a_hash_of_older_parameters_is_upgraded_at_login(db: sessionmaker[Session]) -> None:
    from argon2 import PasswordHasher

    with db() as s:
        auth.add_user(s, "ada", "admin", "a long enough secret")
        old = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(
            "a long enough secret")
        s.execute(update(User).values(password_hash=old))
        s.commit()
        auth.login(s, "ada", "a long enough secret", "127.0.0.1")
        new = s.scalar(select(User.password_hash))
        assert new != old and new is not None and "m=19456,t=2,p=1" in new
        auth.login(s, "ada", "a long enough secret", "127.0.0.1")  # and it still verifies


def test_a_login_clears_expired_sessions(db: sessionmaker[Session]) -> None:
    with db() as s:
        auth.add_user(s, "ada", "admin", "a long enough secret")
        _, old = auth.login(s, "ada", "a long enough secret", "127.0.0.1")
        s.execute(update(LoginSession).values(expires_at=dt.datetime.now(dt.UTC)))
        s.commit()
        auth.login(s, "ada", "a long enough secret", "127.0.0.1")
        assert s.get(LoginSession, auth._digest(old)) is None
        assert len(s.scalars(select(LoginSession)).all()) == 1
