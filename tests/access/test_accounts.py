"""Accounts: Argon2 passwords, login throttling (with an injected clock), API tokens, who may
change what, and that every change is audited. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, create_engine, select, text

from safestreets.access import accounts
from safestreets.access.accounts import (
    ThrottlePolicy,
    add_agency,
    add_user,
    authenticate_token,
    create_token,
    get_user,
    hash_password,
    list_tokens,
    list_users,
    login,
    revoke_token,
    set_disabled,
    set_password,
    set_roles,
    verify_password,
)
from safestreets.access.audit import verify
from safestreets.access.grants import grant, grants_of, revoke
from safestreets.access.policy import Principal
from safestreets.errors import (
    AccessDenied,
    AuthenticationFailed,
    InputError,
    NotFound,
    TooManyAttempts,
)
from safestreets.store import tables

OPERATOR = Principal.local_operator("tester")
PASSWORD = "correct horse battery staple"
T0 = datetime(2025, 5, 1, 9, 0, tzinfo=UTC)
POLICY = ThrottlePolicy(
    user_failures=3,
    address_failures=5,
    window=timedelta(minutes=10),
    lockout=timedelta(minutes=15),
)


def setup(engine: Engine) -> None:
    with engine.begin() as conn:
        add_agency(conn, OPERATOR, agency_id="GT-PNC", name="PNC Guatemala", country="GT")
        add_agency(conn, OPERATOR, agency_id="SV-PNC", name="PNC El Salvador", country="sv")
        add_agency(conn, OPERATOR, agency_id="SICA", name="SICA", country=None)
        add_user(
            conn,
            OPERATOR,
            username="Alice",
            agency_id="GT-PNC",
            roles=["admin", "analyst"],
            password=PASSWORD,
        )
        add_user(conn, OPERATOR, username="bob", agency_id="SV-PNC", roles=["viewer"])


def actions(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return [r.action for r in conn.execute(select(tables.audit_log.c.action))]


def test_argon2_hashes_verify_and_reject() -> None:
    h = hash_password(PASSWORD)
    assert h.startswith("$argon2id$")
    assert PASSWORD not in h
    assert hash_password(PASSWORD) != h  # salted
    assert verify_password(h, PASSWORD)
    assert not verify_password(h, PASSWORD + "!")
    assert not verify_password("not a hash", PASSWORD)


def test_accounts_and_roles(store: Engine) -> None:
    setup(store)
    with store.begin() as conn:
        alice = get_user(conn, "ALICE ")
        assert alice.username == "alice" and alice.country == "GT"
        assert alice.roles == ("admin", "analyst") and alice.has_password
        p = alice.principal()
        assert (p.agency, p.country, p.is_member, p.is_regional) == ("GT-PNC", "GT", True, False)
        # An admin manages users of their own agency...
        add_user(conn, p, username="carol", agency_id="GT-PNC", roles=["viewer"])
        assert set_roles(conn, p, "carol", grant=["liaison"], revoke=["viewer"]).roles == (
            "liaison",
        )
        assert [u.username for u in list_users(conn, p)] == ["alice", "carol"]
        # ...and no other agency's, nor the regional role.
        with pytest.raises(AccessDenied):
            add_user(conn, p, username="dave", agency_id="SV-PNC")
        with pytest.raises(AccessDenied):
            set_roles(conn, p, "bob", grant=["analyst"])
        with pytest.raises(AccessDenied):
            list_users(conn, p, agency_id="SV-PNC")
        with pytest.raises(AccessDenied):
            set_roles(conn, p, "carol", grant=["regional"])
        bob = get_user(conn, "bob").principal()
        with pytest.raises(AccessDenied):
            add_user(conn, bob, username="eve", agency_id="SV-PNC")
        with pytest.raises(AccessDenied):
            add_agency(conn, p, agency_id="X", name="X", country="GT")
        # The operator may grant the regional role.
        add_user(conn, OPERATOR, username="sica1", agency_id="SICA", roles=["regional"])
        assert get_user(conn, "sica1").principal().is_regional
    with store.begin() as conn, pytest.raises(InputError, match="unknown role"):
        set_roles(conn, OPERATOR, "bob", grant=["superuser"])
    with store.begin() as conn, pytest.raises(InputError, match="already exists"):
        add_user(conn, OPERATOR, username="bob", agency_id="SV-PNC")
    with store.begin() as conn, pytest.raises(InputError, match="unknown country"):
        add_agency(conn, OPERATOR, agency_id="MX-X", name="x", country="MX")
    with store.begin() as conn, pytest.raises(InputError, match="too short"):
        set_password(conn, OPERATOR, "bob", "short")
    with store.begin() as conn, pytest.raises(NotFound):
        add_user(conn, OPERATOR, username="zed", agency_id="NOPE")
    got = actions(store)
    assert got.count("agency:add") == 3 and got.count("user:add") == 4
    assert got.count("user:roles") == 1
    assert verify(store).ok


def test_login_and_throttling(store: Engine) -> None:
    setup(store)
    p = login(store, "alice", PASSWORD, address="10.0.0.1", now=T0, policy=POLICY)
    assert p.name == "alice" and p.agency == "GT-PNC"
    # Two failures, then a success: the user's count starts again.
    for i in range(2):
        with pytest.raises(AuthenticationFailed):
            login(store, "alice", "nope", address="10.0.0.1", now=T0 + timedelta(seconds=i))
    login(store, "alice", PASSWORD, now=T0 + timedelta(minutes=1), policy=POLICY)
    # Three failures lock the name: even the right password is refused, without a check.
    for i in range(3):
        with pytest.raises(AuthenticationFailed):
            login(store, "alice", "nope", now=T0 + timedelta(minutes=2, seconds=i), policy=POLICY)
    with pytest.raises(TooManyAttempts, match="too many"):
        login(store, "alice", PASSWORD, now=T0 + timedelta(minutes=3), policy=POLICY)
    # The lock is in the database: a new engine (a restart) sees it.
    fresh = create_engine(store.url, connect_args=_connect_args(store))
    try:
        with pytest.raises(TooManyAttempts):
            login(fresh, "alice", PASSWORD, now=T0 + timedelta(minutes=16), policy=POLICY)
    finally:
        fresh.dispose()
    # After the lockout window it opens again.
    assert login(store, "alice", PASSWORD, now=T0 + timedelta(minutes=18), policy=POLICY)
    got = actions(store)
    assert got.count("login") == 3 and got.count("login:failed") == 5
    assert got.count("login:refused") == 2
    assert verify(store).ok


def _connect_args(engine: Engine) -> dict[str, str]:
    # The PostgreSQL test store lives in a schema of its own (see tests/conftest.py).
    if engine.dialect.name != "postgresql":
        return {}
    with engine.connect() as conn:
        schema = conn.execute(text("SELECT current_schema()")).scalar()
    return {"options": f"-csearch_path={schema}"}


def test_address_throttling_and_unknown_users(store: Engine) -> None:
    setup(store)
    # Guessing many names from one address locks the address, not the names.
    for i in range(5):
        with pytest.raises(AuthenticationFailed, match="wrong user name or password"):
            login(store, f"ghost{i}", "x", address="10.9.9.9", now=T0, policy=POLICY)
    with pytest.raises(TooManyAttempts):
        login(store, "alice", PASSWORD, address="10.9.9.9", now=T0, policy=POLICY)
    assert login(store, "alice", PASSWORD, address="10.1.1.1", now=T0, policy=POLICY)
    # A failure window that has passed starts afresh.
    for minutes in (0, 11, 22):
        with pytest.raises(AuthenticationFailed):
            login(store, "bob", "x", now=T0 + timedelta(minutes=minutes), policy=POLICY)
    with pytest.raises(AuthenticationFailed):  # bob has no password: never a login
        login(store, "bob", "", now=T0 + timedelta(minutes=40), policy=POLICY)


def test_disabled_users_cannot_log_in_or_use_tokens(store: Engine) -> None:
    setup(store)
    with store.begin() as conn:
        tok = create_token(conn, OPERATOR, "alice")
        set_disabled(conn, OPERATOR, "alice")
    with pytest.raises(AuthenticationFailed):
        login(store, "alice", PASSWORD, now=T0, policy=POLICY)
    with store.begin() as conn:
        with pytest.raises(AuthenticationFailed):
            authenticate_token(conn, tok.secret)
        assert get_user(conn, "alice").principal().disabled
        set_disabled(conn, OPERATOR, "alice", disabled=False)
        assert authenticate_token(conn, tok.secret).name == "alice"


def test_tokens_are_stored_hashed_and_revocable(store: Engine) -> None:
    setup(store)
    with store.begin() as conn:
        alice = get_user(conn, "alice").principal()
        tok = create_token(conn, alice, "alice", label="script", now=T0)
        expiring = create_token(conn, OPERATOR, "bob", expires_at=T0 + timedelta(days=1), now=T0)
        with pytest.raises(AccessDenied):
            create_token(conn, alice, "bob")
    assert tok.secret.startswith("sst_") and len(tok.secret) > 40
    # The secret is in no table: not the token's, not the audit log.
    with store.connect() as conn:
        for table in (tables.api_token, tables.audit_log):
            for row in conn.execute(select(table)):
                assert not any(tok.secret in str(v) for v in row), table.name
        stored = conn.execute(select(tables.api_token.c.token_hash)).scalars().all()
    assert accounts.hash_token(tok.secret) in stored
    with store.begin() as conn:
        p = authenticate_token(conn, tok.secret, now=T0 + timedelta(hours=1))
        assert (p.name, p.agency) == ("alice", "GT-PNC")
        listed = list_tokens(conn, alice, "alice")
        assert listed[0].last_used_at == T0 + timedelta(hours=1)
        assert listed[0].label == "script" and listed[0].prefix == tok.secret[:12]
        with pytest.raises(AuthenticationFailed):
            authenticate_token(conn, tok.secret + "x")
        assert authenticate_token(conn, expiring.secret, now=T0 + timedelta(hours=23))
        with pytest.raises(AuthenticationFailed):
            authenticate_token(conn, expiring.secret, now=T0 + timedelta(days=2))
        revoked = revoke_token(conn, alice, tok.token_id, now=T0 + timedelta(hours=2))
        assert revoked.revoked_at == T0 + timedelta(hours=2)
        with pytest.raises(AuthenticationFailed):
            authenticate_token(conn, tok.secret)
        with pytest.raises(AccessDenied):
            revoke_token(conn, alice, expiring.token_id)
    got = actions(store)
    assert got.count("token:create") == 2 and got.count("token:revoke") == 1
    assert verify(store).ok


def test_grants_are_permission_changes(store: Engine) -> None:
    setup(store)
    with store.begin() as conn:
        conn.execute(
            tables.incident.insert().values(
                incident_id=1,
                source="GT-PNC",
                source_record_id="1",
                country="GT",
                owner_agency="GT-PNC",
                handling_code="RESTRICTED",
                batch_id=1,
            )
        )
        alice = get_user(conn, "alice").principal()
        bob = get_user(conn, "bob").principal()
        kw = {"record_kind": "incident", "record_id": 1}
        assert grant(conn, alice, **kw, grantee_kind="country", grantee="SV")
        assert not grant(conn, alice, **kw, grantee_kind="country", grantee="SV")
        assert grant(conn, OPERATOR, **kw, grantee_kind="agency", grantee="SICA")
        assert grants_of(conn, "incident", 1) == [("agency", "SICA"), ("country", "SV")]
        with pytest.raises(AccessDenied):
            grant(conn, bob, **kw, grantee_kind="country", grantee="HN")
        with pytest.raises(InputError):
            grant(conn, alice, **kw, grantee_kind="planet", grantee="Mars")
        assert revoke(conn, alice, **kw, grantee_kind="country", grantee="SV")
        assert not revoke(conn, alice, **kw, grantee_kind="country", grantee="SV")
        with pytest.raises(NotFound):
            grant(
                conn,
                alice,
                record_kind="incident",
                record_id=2,
                grantee_kind="country",
                grantee="SV",
            )
    got = actions(store)
    assert got.count("grant:add") == 2 and got.count("grant:revoke") == 1
