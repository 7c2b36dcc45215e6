"""Signing in: API tokens (password login, throttling, logout), ``/me``, and the web session
cookie (signed, HttpOnly, SameSite, CSRF on unsafe requests)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI, Request, Response
from fastapi.testclient import TestClient
from sqlalchemy import update
from tests.api.conftest import OPERATOR, World, assert_envelope, audit_entries

from safestreets.access.accounts import add_user, set_disabled
from safestreets.api.auth import CSRF_HEADER, SESSION_COOKIE, login_session, principal_of
from safestreets.store import tables

PASSWORD = "a long enough passphrase"


@pytest.fixture
def with_password(world: World) -> World:
    """The world plus ``gt-pw`` (analyst of GT-PNC) who signs in with :data:`PASSWORD`."""
    with world.engine.begin() as conn:
        add_user(
            conn,
            OPERATOR,
            username="gt-pw",
            agency_id="GT-PNC",
            roles=["analyst"],
            password=PASSWORD,
        )
    return world


def sign_in(world: World, password: str = PASSWORD, **extra: Any) -> Any:
    body = {"username": "gt-pw", "password": password, **extra}
    return world.client.post("/api/v1/auth/token", json=body)


def test_token_from_password_works_until_logout(with_password: World) -> None:
    world = with_password
    response = sign_in(world, label="laptop", expires_in_days=2)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["token"].startswith("sst_") and body["prefix"] == body["token"][:12]
    assert body["user"]["username"] == "gt-pw" and body["user"]["roles"] == ["analyst"]
    assert body["user"]["may"]["read:records"] is True
    headers = {"Authorization": f"Bearer {body['token']}"}
    me = world.client.get("/api/v1/me", headers=headers).json()
    assert (me["username"], me["agency"], me["country"], me["via"]) == (
        "gt-pw",
        "GT-PNC",
        "GT",
        "token",
    )
    assert world.client.get("/api/v1/incidents", headers=headers).status_code == 200
    # Login and token creation are audited; so is the logout that revokes it.
    assert audit_entries(world.engine, "login")[-1]["actor"] == "gt-pw"
    created = audit_entries(world.engine, "token:create")[-1]
    assert created["detail"]["label"] == "laptop"
    out = world.client.post("/api/v1/auth/logout", headers=headers).json()
    assert out == {"logged_out": True, "revoked_token_id": body["token_id"]}
    assert audit_entries(world.engine, "logout")[-1]["detail"]["token_id"] == body["token_id"]
    error = assert_envelope(world.client.get("/api/v1/me", headers=headers), 401, "unauthorized")
    assert "revoked" in error["hint"]


def test_wrong_password_then_throttled(with_password: World) -> None:
    world = with_password
    for _ in range(5):
        assert_envelope(sign_in(world, "not the password"), 401, "unauthorized")
    # Locked now: even the right password is refused for a while, with a hint saying when.
    error = assert_envelope(sign_in(world), 429, "throttled")
    assert "try again after" in error["hint"]
    assert len(audit_entries(world.engine, "login:failed")) == 5
    assert len(audit_entries(world.engine, "login:refused")) == 1


def test_disabled_account_cannot_sign_in_or_use_its_token(with_password: World) -> None:
    world = with_password
    with world.engine.begin() as conn:
        set_disabled(conn, OPERATOR, "gt-pw")
        set_disabled(conn, OPERATOR, "gt-viewer")
    assert_envelope(sign_in(world), 401, "unauthorized")
    assert_envelope(world.get("/api/v1/me", "gt-viewer"), 401, "unauthorized")


def test_expired_token_is_refused(world: World) -> None:
    with world.engine.begin() as conn:
        conn.execute(update(tables.api_token).values(expires_at=tables.api_token.c.created_at))
    assert_envelope(world.get("/api/v1/me", "gt-analyst"), 401, "unauthorized")


def test_me_of_the_public(world: World) -> None:
    me = world.client.get("/api/v1/me").json()
    assert me["authenticated"] is False and me["username"] == "public"
    assert me["roles"] == ["public"] and me["via"] is None
    assert me["may"]["query:aggregates"] is True and me["may"]["read:records"] is False


# --- the web session ----------------------------------------------------------------------


def _session_client(world: World, username: str) -> tuple[TestClient, str]:
    """A client holding the session cookie of ``username``; and its CSRF token."""
    app: FastAPI = world.client.app  # type: ignore[assignment]
    from safestreets.access.accounts import principal_for

    with world.engine.connect() as conn:
        principal = principal_for(conn, username)
    response = Response()
    scope = {"type": "http", "app": app, "headers": [], "scheme": "http", "path": "/"}
    csrf = login_session(response, principal, request=Request(scope))
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    lowered = cookie.lower()
    assert "httponly" in lowered and "samesite=lax" in lowered and "max-age=" in lowered
    assert "secure" not in lowered  # plain http in the test
    client = TestClient(app)
    client.cookies.set(SESSION_COOKIE, cookie.split(";")[0].split("=", 1)[1])
    return client, csrf


def test_session_cookie_signs_in_and_needs_csrf_for_writes(world: World) -> None:
    client, csrf = _session_client(world, "gt-admin")
    me = client.get("/api/v1/me").json()
    assert (me["username"], me["via"]) == ("gt-admin", "session")
    body = {"username": "gt-cookie", "roles": ["viewer"]}
    error = assert_envelope(client.post("/api/v1/users", json=body), 403, "forbidden")
    assert CSRF_HEADER in error["hint"]
    wrong = client.post("/api/v1/users", json=body, headers={CSRF_HEADER: "guess"})
    assert_envelope(wrong, 403, "forbidden")
    made = client.post("/api/v1/users", json=body, headers={CSRF_HEADER: csrf})
    assert made.status_code == 201, made.text
    out = client.post("/api/v1/auth/logout", headers={CSRF_HEADER: csrf})
    assert out.json() == {"logged_out": True, "revoked_token_id": None}
    assert f"{SESSION_COOKIE}=" in out.headers["set-cookie"]  # cleared
    assert audit_entries(world.engine, "logout")[-1]["detail"] == {"via": "session"}


def test_forged_stale_or_disabled_sessions_are_the_public(world: World) -> None:
    client, _ = _session_client(world, "gt-analyst")
    good = client.cookies.get(SESSION_COOKIE)
    assert good
    client.cookies.set(SESSION_COOKIE, good[:-2] + ("AA" if not good.endswith("AA") else "BB"))
    assert client.get("/api/v1/me").json()["authenticated"] is False
    client.cookies.set(SESSION_COOKIE, good)
    assert client.get("/api/v1/me").json()["username"] == "gt-analyst"
    with world.engine.begin() as conn:
        set_disabled(conn, OPERATOR, "gt-analyst")
    assert client.get("/api/v1/me").json()["authenticated"] is False
    assert client.get("/api/v1/incidents").status_code == 401


def test_a_cookie_signed_with_another_secret_is_ignored(world: World) -> None:
    from itsdangerous import URLSafeTimedSerializer

    forged = URLSafeTimedSerializer("not-the-secret", salt="safestreets.session.v1").dumps(
        {"u": 1, "n": "gt-admin", "c": "x"}
    )
    client = TestClient(world.client.app)
    client.cookies.set(SESSION_COOKIE, forged)
    assert client.get("/api/v1/me").json()["authenticated"] is False


def test_bearer_token_wins_and_never_falls_back(world: World) -> None:
    client, _ = _session_client(world, "gt-admin")
    me = client.get("/api/v1/me", headers=world.auth("sv-analyst")).json()
    assert (me["username"], me["via"]) == ("sv-analyst", "token")
    bad = client.get("/api/v1/me", headers={"Authorization": "Bearer nope"})
    assert_envelope(bad, 401, "unauthorized")


def test_principal_of_is_resolved_once_per_request(world: World) -> None:
    scope = {
        "type": "http",
        "app": world.client.app,
        "headers": [(b"authorization", f"Bearer {world.tokens['gt-viewer']}".encode())],
        "path": "/",
    }
    request = Request(scope)
    first = principal_of(request)
    assert first.name == "gt-viewer" and principal_of(request) is first
