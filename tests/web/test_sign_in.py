"""Signing in and out of the pages: cookies, CSRF on every form, redirects, own settings."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.web.conftest import PASSWORD, World, csrf_of, make_client, post_form, sign_in

from safestreets.store import tables
from safestreets.web.session import ANON_CSRF_COOKIE, LANG_COOKIE


def _cookie_header(response: httpx.Response, name: str) -> str:
    headers = [h for h in response.headers.get_list("set-cookie") if h.startswith(name + "=")]
    assert headers, f"no {name} cookie set"
    return headers[-1]


def _actions(world: World, actor: str) -> list[str]:
    t = tables.audit_log
    with world.engine.connect() as conn:
        rows = conn.execute(select(t.c.action).where(t.c.actor == actor).order_by(t.c.seq))
        return [r.action for r in rows]


def test_front_door_leads_to_login_then_overview(world: World) -> None:
    client = make_client(world)
    r = client.get("/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    r = client.get("/overview", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=%2Foverview"
    sign_in(client, "admin.sv")
    r = client.get("/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/overview"
    assert client.get("/login", follow_redirects=False).status_code == 303


def test_login_sets_an_httponly_samesite_session_cookie(world: World) -> None:
    client = make_client(world)
    page = client.get("/login")
    anon = _cookie_header(page, ANON_CSRF_COOKIE).lower()
    assert "httponly" in anon and "samesite=strict" in anon
    r = client.post(
        "/login",
        data={
            "username": "Admin.SV",  # names are case-insensitive
            "password": PASSWORD,
            "csrf_token": csrf_of(page.text),
            "next": "/indicators",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/indicators"
    cookie = _cookie_header(r, "safestreets_session").lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie
    html = client.get("/overview").text
    assert "admin.sv · SV-PNC" in html and "Cerrar sesión" in html
    assert "login" in _actions(world, "admin.sv")


def test_wrong_password_is_refused_and_audited(world: World) -> None:
    client = make_client(world)
    token = csrf_of(client.get("/login").text)
    r = client.post(
        "/login",
        data={"username": "analyst.sv", "password": "not-the-password", "csrf_token": token},
    )
    assert r.status_code == 401
    assert "Usuario o contraseña incorrectos." in r.text
    assert 'value="analyst.sv"' in r.text  # the name is kept, never the password
    assert "not-the-password" not in r.text
    assert client.get("/overview", follow_redirects=False).status_code == 303
    t = tables.audit_log
    with world.engine.connect() as conn:
        failed = conn.execute(
            select(t.c.target).where(t.c.action == "login:failed", t.c.target == "user:analyst.sv")
        ).all()
    assert failed


def test_login_without_or_with_a_foreign_csrf_token_is_refused(world: World) -> None:
    client = make_client(world)
    client.get("/login")
    data = {"username": "admin.sv", "password": PASSWORD}
    r = client.post("/login", data=data)
    assert r.status_code == 403 and "text/html" in r.headers["content-type"]
    assert "Sin permiso" in r.text
    other = make_client(world)
    foreign = csrf_of(other.get("/login").text)
    assert client.post("/login", data={**data, "csrf_token": foreign}).status_code == 403
    assert client.get("/overview", follow_redirects=False).status_code == 303  # not signed in


def test_forms_of_a_session_need_its_own_token(world: World, admin: TestClient) -> None:
    other = sign_in(make_client(world), "analyst.sv")
    foreign = csrf_of(other.get("/overview").text)
    cases: list[tuple[str, dict[str, Any]]] = [
        ("/logout", {}),
        ("/account/language", {"lang": "en"}),
        ("/users", {"username": "csrf.victim", "roles": ["viewer"]}),
        ("/users/viewer.sv/disable", {"disabled": "1"}),
    ]
    for url, data in cases:
        assert admin.post(url, data=data).status_code == 403, url
        assert admin.post(url, data={**data, "csrf_token": foreign}).status_code == 403, url
    # Nothing happened: still signed in, no account made, the viewer still active.
    assert admin.get("/overview", follow_redirects=False).status_code == 200
    t = tables.app_user
    with world.engine.connect() as conn:
        assert conn.execute(select(t).where(t.c.username == "csrf.victim")).first() is None
        viewer = conn.execute(select(t.c.disabled).where(t.c.username == "viewer.sv")).scalar()
    assert viewer is False


def test_logout_ends_the_session_and_is_audited(world: World) -> None:
    client = sign_in(make_client(world), "viewer.sv")
    r = post_form(client, "/overview", "/logout", {}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert "safestreets_session=" in r.headers["set-cookie"]
    assert client.get("/overview", follow_redirects=False).status_code == 303
    assert "logout" in _actions(world, "viewer.sv")


def test_next_never_leaves_the_site(world: World) -> None:
    client = make_client(world)
    token = csrf_of(client.get("/login").text)
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil"):
        r = client.post(
            "/login",
            data={
                "username": "viewer.sv",
                "password": PASSWORD,
                "csrf_token": token,
                "next": target,
            },
            follow_redirects=False,
        )
        assert r.status_code == 303 and r.headers["location"] == "/overview", target
        token = csrf_of(client.get("/account").text)


def test_disabled_account_loses_its_session_at_once(world: World) -> None:
    from safestreets.access import accounts
    from safestreets.access.policy import Principal

    operator = Principal.local_operator("web-tests")
    with world.engine.begin() as conn:
        accounts.add_user(
            conn,
            operator,
            username="short.lived",
            agency_id="SV-PNC",
            roles=["viewer"],
            password=PASSWORD,
        )
    client = sign_in(make_client(world), "short.lived")
    assert client.get("/overview", follow_redirects=False).status_code == 200
    with world.engine.begin() as conn:
        accounts.set_disabled(conn, operator, "short.lived")
    assert client.get("/overview", follow_redirects=False).status_code == 303


def test_language_setting_is_kept_and_beats_the_browser(world: World) -> None:
    client = sign_in(make_client(world), "analyst.sv")
    spanish_browser = {"Accept-Language": "es-GT,es;q=0.9"}
    assert '<html lang="es">' in client.get("/overview", headers=spanish_browser).text
    r = post_form(client, "/account", "/account/language", {"lang": "en"}, follow_redirects=False)
    assert r.status_code == 303
    cookie = _cookie_header(r, LANG_COOKIE).lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    html = client.get("/overview", headers=spanish_browser).text
    assert '<html lang="en">' in html and "Key indicators by country" in html
    # The switch link (?lang=) beats the setting, and becomes the setting.
    assert '<html lang="es">' in client.get("/overview?lang=es").text
    assert '<html lang="es">' in client.get("/overview").text


def test_change_own_password(world: World) -> None:
    from safestreets.access import accounts
    from safestreets.access.policy import Principal

    with world.engine.begin() as conn:
        accounts.add_user(
            conn,
            Principal.local_operator("web-tests"),
            username="changes.password",
            agency_id="SV-PNC",
            roles=["viewer"],
            password=PASSWORD,
        )
    client = sign_in(make_client(world), "changes.password")
    new = "a-brand-new-passphrase"
    bad = post_form(
        client, "/account", "/account/password", {"current": "wrong", "new": new, "repeat": new}
    )
    assert bad.status_code == 400 and "La contraseña actual no es correcta." in bad.text
    short = post_form(
        client,
        "/account",
        "/account/password",
        {"current": PASSWORD, "new": "short", "repeat": "short"},
    )
    assert short.status_code == 400 and "al menos 12 caracteres" in short.text
    ok = post_form(
        client, "/account", "/account/password", {"current": PASSWORD, "new": new, "repeat": new}
    )
    assert ok.status_code == 200 and "Contraseña cambiada." in ok.text
    sign_in(make_client(world), "changes.password", new)
    assert "user:password" in _actions(world, "changes.password")
