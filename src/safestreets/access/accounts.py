"""Agencies, users, roles, passwords, logins and API tokens.

Every change is audited in the transaction that makes it (``conn``); the actor is a
:class:`~safestreets.access.policy.Principal`: the local operator (CLI on the database host)
or an ``admin`` of the agency concerned. Passwords are hashed with Argon2id (argon2-cffi);
API token secrets are random, shown once, and stored only as their SHA-256. Logins are
throttled per user name and per client address with counters kept in the database, so a
restart does not reset them; :func:`login` therefore manages its own transaction (a failed
attempt must be counted and audited even though it raises).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Connection, Engine, delete, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from safestreets.access.policy import ROLES, Principal, may_for_agency
from safestreets.errors import (
    AccessDenied,
    AuthenticationFailed,
    InputError,
    NotFound,
    TooManyAttempts,
)
from safestreets.store import tables
from safestreets.store.audit_log import append, append_for, utc

__all__ = [
    "COUNTRIES",
    "Agency",
    "NewToken",
    "ThrottlePolicy",
    "Token",
    "User",
    "add_agency",
    "add_user",
    "authenticate_token",
    "create_token",
    "get_user",
    "hash_password",
    "hash_token",
    "list_agencies",
    "list_tokens",
    "list_users",
    "login",
    "principal_for",
    "revoke_token",
    "set_disabled",
    "set_password",
    "set_roles",
    "verify_password",
]

#: The member countries (ISO 3166-1 alpha-2); an agency without one is a regional body.
COUNTRIES = ("BZ", "GT", "SV", "HN", "NI", "CR", "PA")
#: Shortest password accepted.
MIN_PASSWORD = 12
#: Token secrets start with this, so a leaked one is recognisable (e.g. by secret scanners).
TOKEN_PREFIX = "sst_"

_AGENCY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_USERNAME = re.compile(r"[a-z0-9][a-z0-9._@-]{1,63}")

#: argon2-cffi's defaults: Argon2id, 3 passes, 64 MiB, 4 lanes (RFC 9106's second choice).
_HASHER = PasswordHasher()


@dataclass(frozen=True)
class ThrottlePolicy:
    """How many failed logins lock a user name or an address, and for how long."""

    user_failures: int = 5
    address_failures: int = 20
    window: timedelta = timedelta(minutes=15)
    lockout: timedelta = timedelta(minutes=15)


@dataclass(frozen=True)
class Agency:
    agency_id: str
    name: str
    country: str | None


@dataclass(frozen=True)
class User:
    user_id: int
    username: str
    agency_id: str
    country: str | None
    roles: tuple[str, ...]
    disabled: bool
    has_password: bool

    def principal(self) -> Principal:
        """The principal this account acts as."""
        return Principal(
            user_id=self.user_id,
            name=self.username,
            agency=self.agency_id,
            country=self.country,
            roles=frozenset(self.roles),
            disabled=self.disabled,
        )


@dataclass(frozen=True)
class Token:
    token_id: int
    username: str
    prefix: str
    label: str | None
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class NewToken:
    """A freshly created token: ``secret`` exists only here, never in the database."""

    token_id: int
    secret: str
    prefix: str


def _now(now: datetime | None) -> datetime:
    return utc(now) if now is not None else datetime.now(UTC)


def _opt_utc(value: Any) -> datetime | None:
    return None if value is None else utc(value)


# --- secrets -------------------------------------------------------------------------------


def hash_password(password: str) -> str:
    """An Argon2id PHC string for ``password`` (salted; never the same twice)."""
    return _HASHER.hash(password)


def verify_password(stored: str, password: str) -> bool:
    """Whether ``password`` matches the stored Argon2 hash (False for a malformed hash)."""
    try:
        return _HASHER.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _HASHER.hash(secrets.token_hex(16))


def hash_token(secret: str) -> str:
    """SHA-256 (hex) of a token secret.

    A fast hash is enough here: secrets are 256 random bits, not guessable words, and a
    token is looked up by its hash on every request.
    """
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InputError(
            f"the password is too short ({len(password)} characters)",
            hint=f"use at least {MIN_PASSWORD} characters; a few unrelated words work well",
        )


# --- who may change accounts ----------------------------------------------------------------


def _require_admin_of(actor: Principal, agency_id: str, what: str) -> None:
    if not may_for_agency(actor, "manage:users", agency_id):
        raise AccessDenied(
            f"{actor.name} may not {what} of agency {agency_id}",
            hint="only an admin of that agency, or the operator on the database host, may",
        )


# --- agencies ------------------------------------------------------------------------------


def add_agency(
    conn: Connection,
    actor: Principal,
    *,
    agency_id: str,
    name: str,
    country: str | None,
    now: datetime | None = None,
) -> Agency:
    """Register an agency (operator only). ``country`` None makes it a regional body."""
    if not actor.operator:
        raise AccessDenied(
            "only the operator may register agencies",
            hint="run `safestreets agencies add` on the database host",
        )
    agency_id = agency_id.strip()
    if not _AGENCY_ID.fullmatch(agency_id):
        raise InputError(
            f"not a valid agency id: {agency_id!r}",
            hint="letters, digits, '.', '_' and '-', e.g. GT-PNC (the records' owner_agency)",
        )
    if country is not None:
        country = country.strip().upper()
        if country not in COUNTRIES:
            raise InputError(
                f"unknown country {country!r}",
                hint=f"one of {', '.join(COUNTRIES)}, or none for a regional body",
            )
    if conn.execute(
        select(tables.agency.c.agency_id).where(tables.agency.c.agency_id == agency_id)
    ).first():
        raise InputError(f"agency {agency_id} already exists", hint="`safestreets agencies list`")
    conn.execute(
        insert(tables.agency).values(
            agency_id=agency_id, name=name, country=country, created_at=_now(now)
        )
    )
    append(
        conn,
        actor=actor.name,
        agency=agency_id,
        action="agency:add",
        target=f"agency:{agency_id}",
        detail={"name": name, "country": country},
        now=now,
    )
    return Agency(agency_id, name, country)


def list_agencies(conn: Connection) -> list[Agency]:
    """All agencies, by id."""
    t = tables.agency
    rows = conn.execute(select(t).order_by(t.c.agency_id)).all()
    return [Agency(r.agency_id, r.name, r.country) for r in rows]


def _agency(conn: Connection, agency_id: str) -> Agency:
    t = tables.agency
    row = conn.execute(select(t).where(t.c.agency_id == agency_id)).first()
    if row is None:
        raise NotFound(f"no agency {agency_id!r}", hint="`safestreets agencies list`")
    return Agency(row.agency_id, row.name, row.country)


# --- users ---------------------------------------------------------------------------------


def _normalise_username(username: str) -> str:
    name = username.strip().lower()
    if not _USERNAME.fullmatch(name):
        raise InputError(
            f"not a valid user name: {username!r}",
            hint="2-64 characters: letters, digits, '.', '_', '@' and '-'",
        )
    return name


def _check_roles(roles: Iterable[str]) -> list[str]:
    out = sorted(set(roles))
    bad = [r for r in out if r not in ROLES]
    if bad:
        raise InputError(
            f"unknown role {bad[0]!r}",
            hint=f"roles are {', '.join(ROLES)} ('public' is the anonymous principal)",
        )
    return out


def _user_row(conn: Connection, *, username: str | None = None, user_id: int | None = None) -> Any:
    u, a = tables.app_user, tables.agency
    q = select(u, a.c.country).join(a, a.c.agency_id == u.c.agency_id)
    q = (
        q.where(u.c.username == username)
        if username is not None
        else q.where(u.c.user_id == user_id)
    )
    return conn.execute(q).first()


def _roles_of(conn: Connection, user_id: int) -> tuple[str, ...]:
    r = tables.user_role
    rows = conn.execute(select(r.c.role).where(r.c.user_id == user_id).order_by(r.c.role))
    return tuple(row.role for row in rows)


def _user(conn: Connection, row: Any) -> User:
    return User(
        user_id=int(row.user_id),
        username=row.username,
        agency_id=row.agency_id,
        country=row.country,
        roles=_roles_of(conn, int(row.user_id)),
        disabled=bool(row.disabled),
        has_password=row.password_hash is not None,
    )


def get_user(conn: Connection, username: str) -> User:
    """The account ``username`` (NotFound when there is none)."""
    row = _user_row(conn, username=_normalise_username(username))
    if row is None:
        raise NotFound(f"no user {username!r}", hint="`safestreets users list`")
    return _user(conn, row)


def principal_for(conn: Connection, username: str) -> Principal:
    """The principal of account ``username``, with its current roles and state."""
    return get_user(conn, username).principal()


def add_user(
    conn: Connection,
    actor: Principal,
    *,
    username: str,
    agency_id: str,
    roles: Sequence[str] = (),
    password: str | None = None,
    now: datetime | None = None,
) -> User:
    """Create an account in ``agency_id`` (an admin of that agency, or the operator).

    Without a password the account can only use API tokens.
    """
    name = _normalise_username(username)
    _require_admin_of(actor, agency_id, "add users")
    agency = _agency(conn, agency_id)
    wanted = _check_roles(roles)
    _check_grantable(actor, wanted)
    if password is not None:
        _check_password(password)
    at = _now(now)
    if _user_row(conn, username=name) is not None:
        raise InputError(f"user {name} already exists", hint="`safestreets users list`")
    user_id = conn.execute(
        insert(tables.app_user)
        .values(
            username=name,
            agency_id=agency.agency_id,
            password_hash=None if password is None else hash_password(password),
            disabled=False,
            created_at=at,
        )
        .returning(tables.app_user.c.user_id)
    ).scalar_one()
    for role in wanted:
        conn.execute(
            insert(tables.user_role).values(
                user_id=user_id, role=role, granted_at=at, granted_by=actor.name
            )
        )
    _audit_change(conn, actor, agency.agency_id, "user:add", name, {"roles": wanted}, at)
    return get_user(conn, name)


def _check_grantable(actor: Principal, roles: Iterable[str]) -> None:
    # SICA-level access is the region's decision, not one agency's.
    if "regional" in roles and not actor.operator:
        raise AccessDenied(
            "only the operator may grant or revoke the regional role",
            hint="ask the regional system operator",
        )


def _audit_change(
    conn: Connection,
    actor: Principal,
    agency_id: str,
    action: str,
    username: str,
    detail: dict[str, Any],
    now: datetime,
) -> None:
    # Filed under the account's agency, so that agency's admins see it in their trail even
    # when the operator made the change.
    append(
        conn,
        actor=actor.name,
        agency=agency_id,
        action=action,
        target=f"user:{username}",
        detail=detail,
        now=now,
    )


def list_users(conn: Connection, actor: Principal, *, agency_id: str | None = None) -> list[User]:
    """Accounts (an admin sees those of their own agency only)."""
    if not actor.operator:
        if agency_id is not None and agency_id != actor.agency:
            _require_admin_of(actor, agency_id, "list users")
        agency_id = actor.agency
        _require_admin_of(actor, agency_id or "", "list users")
    u, a = tables.app_user, tables.agency
    q = select(u, a.c.country).join(a, a.c.agency_id == u.c.agency_id).order_by(u.c.username)
    if agency_id is not None:
        q = q.where(u.c.agency_id == agency_id)
    return [_user(conn, row) for row in conn.execute(q).all()]


def set_roles(
    conn: Connection,
    actor: Principal,
    username: str,
    *,
    grant: Sequence[str] = (),
    revoke: Sequence[str] = (),
    now: datetime | None = None,
) -> User:
    """Grant and revoke roles of an account (admin of its agency, or the operator)."""
    user = get_user(conn, username)
    _require_admin_of(actor, user.agency_id, "change roles of users")
    add, drop = _check_roles(grant), _check_roles(revoke)
    _check_grantable(actor, [*add, *drop])
    at = _now(now)
    r = tables.user_role
    added = [role for role in add if role not in user.roles]
    dropped = [role for role in drop if role in user.roles and role not in add]
    for role in added:
        conn.execute(
            insert(r).values(user_id=user.user_id, role=role, granted_at=at, granted_by=actor.name)
        )
    if dropped:
        conn.execute(delete(r).where(r.c.user_id == user.user_id, r.c.role.in_(dropped)))
    if added or dropped:
        detail = {"granted": added, "revoked": dropped}
        _audit_change(conn, actor, user.agency_id, "user:roles", user.username, detail, at)
    return get_user(conn, user.username)


def set_disabled(
    conn: Connection,
    actor: Principal,
    username: str,
    *,
    disabled: bool = True,
    now: datetime | None = None,
) -> User:
    """Disable (or enable again) an account; a disabled account sees nothing and cannot log in."""
    user = get_user(conn, username)
    _require_admin_of(actor, user.agency_id, "disable users")
    at = _now(now)
    u = tables.app_user
    conn.execute(
        update(u)
        .where(u.c.user_id == user.user_id)
        .values(disabled=disabled, disabled_at=at if disabled else None)
    )
    action = "user:disable" if disabled else "user:enable"
    _audit_change(conn, actor, user.agency_id, action, user.username, {}, at)
    return get_user(conn, user.username)


def set_password(
    conn: Connection,
    actor: Principal,
    username: str,
    password: str,
    *,
    now: datetime | None = None,
) -> None:
    """Set an account's password (the user themself, an admin of its agency, or the operator)."""
    user = get_user(conn, username)
    if actor.user_id != user.user_id:
        _require_admin_of(actor, user.agency_id, "set passwords")
    _check_password(password)
    u = tables.app_user
    conn.execute(
        update(u).where(u.c.user_id == user.user_id).values(password_hash=hash_password(password))
    )
    _audit_change(conn, actor, user.agency_id, "user:password", user.username, {}, _now(now))


# --- logins and throttling -------------------------------------------------------------------


def _counter(conn: Connection, scope: str, key: str, now: datetime) -> Any:
    """The (scope, key) counter row, created if absent and locked for this transaction."""
    t = tables.login_throttle
    values = {"scope": scope, "key": key, "failures": 0, "window_started_at": now}
    ins: Any = (pg_insert if conn.dialect.name == "postgresql" else sqlite_insert)(t)
    conn.execute(ins.values(**values).on_conflict_do_nothing())
    q = select(t).where(t.c.scope == scope, t.c.key == key).with_for_update()
    return conn.execute(q).one()


def _locked_until(conn: Connection, scope: str, key: str, now: datetime) -> datetime | None:
    t = tables.login_throttle
    row = conn.execute(select(t.c.locked_until).where(t.c.scope == scope, t.c.key == key)).first()
    if row is None or row.locked_until is None:
        return None
    until = utc(row.locked_until)
    return until if until > now else None


def _fail(
    conn: Connection, scope: str, key: str, limit: int, policy: ThrottlePolicy, now: datetime
) -> None:
    row = _counter(conn, scope, key, now)
    started = utc(row.window_started_at)
    failures = 1 if now - started > policy.window else int(row.failures) + 1
    if now - started > policy.window:
        started = now
    values: dict[str, Any] = {"failures": failures, "window_started_at": started}
    if failures >= limit:
        # Locked: the count starts afresh when the lock ends.
        values = {"failures": 0, "window_started_at": now, "locked_until": now + policy.lockout}
    t = tables.login_throttle
    conn.execute(update(t).where(t.c.scope == scope, t.c.key == key).values(**values))


def login(
    engine: Engine,
    username: str,
    password: str,
    *,
    address: str | None = None,
    now: datetime | None = None,
    policy: ThrottlePolicy | None = None,
) -> Principal:
    """Check a user name and password; the principal, or AuthenticationFailed.

    After ``policy.user_failures`` failures within ``policy.window`` the user name is refused
    for ``policy.lockout`` (TooManyAttempts, without looking at the password), likewise an
    address after ``policy.address_failures``. Unknown names cost the same Argon2 check as
    known ones and fail with the same message. Every attempt is audited.
    """
    pol = policy or ThrottlePolicy()
    at = _now(now)
    name = username.strip().lower()
    with engine.begin() as conn:
        row = _user_row(conn, username=name)
        agency_id = None if row is None else row.agency_id
        locks = [_locked_until(conn, "user", name, at)]
        if address:
            locks.append(_locked_until(conn, "address", address, at))
        until = max((x for x in locks if x is not None), default=None)
        if until is not None:
            append(
                conn,
                actor="unauthenticated",
                agency=agency_id,
                action="login:refused",
                target=f"user:{name}",
                detail={"address": address, "locked_until": until.isoformat()},
                now=at,
            )
            refused = TooManyAttempts(
                "too many failed logins",
                hint=f"try again after {until:%Y-%m-%d %H:%M} UTC",
            )
        else:
            refused = None
            stored = None if row is None else row.password_hash
            ok = verify_password(stored or _dummy_hash(), password) and stored is not None
            active = row is not None and not row.disabled
            if ok and active:
                t = tables.login_throttle
                conn.execute(delete(t).where(t.c.scope == "user", t.c.key == name))
                if stored is not None and _HASHER.check_needs_rehash(stored):
                    u = tables.app_user
                    conn.execute(
                        update(u)
                        .where(u.c.user_id == row.user_id)
                        .values(password_hash=hash_password(password))
                    )
                principal = _user(conn, row).principal()
                append_for(conn, principal, "login", detail={"address": address}, now=at)
                return principal
            _fail(conn, "user", name, pol.user_failures, pol, at)
            if address:
                _fail(conn, "address", address, pol.address_failures, pol, at)
            reason = "unknown user" if row is None else ("disabled" if ok else "wrong password")
            append(
                conn,
                actor="unauthenticated",
                agency=agency_id,
                action="login:failed",
                target=f"user:{name}",
                detail={"address": address, "reason": reason},
                now=at,
            )
    # Raised after the commit: the failure is counted and audited.
    raise refused or AuthenticationFailed(
        "wrong user name or password", hint="check both; repeated failures lock the account"
    )


# --- API tokens ----------------------------------------------------------------------------


def create_token(
    conn: Connection,
    actor: Principal,
    username: str,
    *,
    label: str | None = None,
    expires_at: datetime | None = None,
    now: datetime | None = None,
) -> NewToken:
    """A new API token for ``username``; its secret is returned once and stored only hashed."""
    user = get_user(conn, username)
    if actor.user_id != user.user_id:
        _require_admin_of(actor, user.agency_id, "create tokens for users")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    prefix = secret[: len(TOKEN_PREFIX) + 8]
    at = _now(now)
    token_id = conn.execute(
        insert(tables.api_token)
        .values(
            user_id=user.user_id,
            token_hash=hash_token(secret),
            prefix=prefix,
            label=label,
            created_at=at,
            expires_at=None if expires_at is None else utc(expires_at),
        )
        .returning(tables.api_token.c.token_id)
    ).scalar_one()
    detail = {"token_id": int(token_id), "prefix": prefix, "label": label}
    _audit_change(conn, actor, user.agency_id, "token:create", user.username, detail, at)
    return NewToken(int(token_id), secret, prefix)


def _token(row: Any) -> Token:
    return Token(
        token_id=int(row.token_id),
        username=row.username,
        prefix=row.prefix,
        label=row.label,
        created_at=utc(row.created_at),
        expires_at=_opt_utc(row.expires_at),
        last_used_at=_opt_utc(row.last_used_at),
        revoked_at=_opt_utc(row.revoked_at),
    )


def list_tokens(conn: Connection, actor: Principal, username: str) -> list[Token]:
    """The tokens of ``username`` (never their secrets, which are not stored)."""
    user = get_user(conn, username)
    if actor.user_id != user.user_id:
        _require_admin_of(actor, user.agency_id, "list tokens of users")
    t, u = tables.api_token, tables.app_user
    q = (
        select(t, u.c.username)
        .join(u, u.c.user_id == t.c.user_id)
        .where(t.c.user_id == user.user_id)
        .order_by(t.c.token_id)
    )
    return [_token(row) for row in conn.execute(q).all()]


def revoke_token(
    conn: Connection, actor: Principal, token_id: int, *, now: datetime | None = None
) -> Token:
    """Revoke a token for good (its owner, an admin of its agency, or the operator)."""
    t, u = tables.api_token, tables.app_user
    row = conn.execute(
        select(t, u.c.username, u.c.agency_id)
        .join(u, u.c.user_id == t.c.user_id)
        .where(t.c.token_id == token_id)
    ).first()
    if row is None:
        raise NotFound(f"no token {token_id}", hint="`safestreets users list` shows tokens")
    if actor.user_id != row.user_id:
        _require_admin_of(actor, row.agency_id, "revoke tokens of users")
    at = _now(now)
    if row.revoked_at is None:
        conn.execute(update(t).where(t.c.token_id == token_id).values(revoked_at=at))
        detail = {"token_id": token_id, "prefix": row.prefix}
        _audit_change(conn, actor, row.agency_id, "token:revoke", row.username, detail, at)
    q = select(t, u.c.username).join(u, u.c.user_id == t.c.user_id)
    return _token(conn.execute(q.where(t.c.token_id == token_id)).one())


#: last_used_at is written at most this often per token (not on every request).
_TOUCH_EVERY = timedelta(minutes=1)


def authenticate_token(conn: Connection, secret: str, *, now: datetime | None = None) -> Principal:
    """The principal of an API token, or AuthenticationFailed (unknown, revoked, expired or
    its user disabled). Records when the token was last used."""
    at = _now(now)
    t, u = tables.api_token, tables.app_user
    row = conn.execute(
        select(t.c.token_id, t.c.expires_at, t.c.revoked_at, t.c.last_used_at, u.c.username)
        .join(u, u.c.user_id == t.c.user_id)
        .where(t.c.token_hash == hash_token(secret))
    ).first()
    fail = AuthenticationFailed(
        "invalid API token", hint="it may have been revoked or have expired; create a new one"
    )
    if row is None or row.revoked_at is not None:
        raise fail
    if row.expires_at is not None and utc(row.expires_at) <= at:
        raise fail
    principal = principal_for(conn, row.username)
    if principal.disabled:
        raise fail
    if row.last_used_at is None or at - utc(row.last_used_at) >= _TOUCH_EVERY:
        conn.execute(update(t).where(t.c.token_id == row.token_id).values(last_used_at=at))
    return principal
