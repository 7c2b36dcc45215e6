"""``/api/v1/agencies`` and ``/api/v1/users``: admins manage their own agency's accounts only;
every permission change is audited."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from tests.api.conftest import OPERATOR, World, assert_envelope, audit_entries

from safestreets.access import accounts
from safestreets.access.policy import Principal
from safestreets.api.auth import current_principal
from safestreets.errors import InputError


def test_agencies_are_listed_to_users(world: World) -> None:
    body = world.get("/api/v1/agencies", "gt-viewer").json()
    assert body["items"] == [
        {"agency_id": "GT-MP", "name": "GT-MP", "country": "GT"},
        {"agency_id": "GT-PNC", "name": "GT-PNC", "country": "GT"},
        {"agency_id": "SICA", "name": "SICA", "country": None},
        {"agency_id": "SV-PNC", "name": "SV-PNC", "country": "SV"},
    ]


def test_registering_agencies_is_the_operators(world: World) -> None:
    body = {"agency_id": "HN-PN", "name": "Policía Nacional", "country": "HN"}
    post = world.client.post("/api/v1/agencies", json=body, headers=world.auth("gt-admin"))
    error = assert_envelope(post, 403, "forbidden")
    assert "safestreets agencies add" in error["hint"]
    # The route itself works for a principal the access rules allow (the operator).
    app = world.client.app
    app.dependency_overrides[current_principal] = lambda: OPERATOR  # type: ignore[attr-defined]
    try:
        made = TestClient(app).post("/api/v1/agencies", json=body)
    finally:
        app.dependency_overrides.clear()  # type: ignore[attr-defined]
    assert made.status_code == 201 and made.json() == body
    assert audit_entries(world.engine, "agency:add")[-1]["target"] == "agency:HN-PN"


def test_admin_lists_and_pages_own_agency_only(world: World) -> None:
    body = world.get("/api/v1/users", "gt-admin").json()
    assert [u["username"] for u in body["items"]] == [
        "gt-admin",
        "gt-analyst",
        "gt-liaison",
        "gt-viewer",
    ]
    assert body["total"] == 4 and body["next"] is None
    assert {u["agency_id"] for u in body["items"]} == {"GT-PNC"}
    first = world.get("/api/v1/users?page_size=2", "gt-admin").json()
    assert [u["username"] for u in first["items"]] == ["gt-admin", "gt-analyst"]
    second = world.get(first["next"], "gt-admin").json()
    assert [u["username"] for u in second["items"]] == ["gt-liaison", "gt-viewer"]
    assert second["next"] is None
    sv = world.get("/api/v1/users", "sv-admin").json()
    assert [u["username"] for u in sv["items"]] == ["sv-admin", "sv-analyst"]


def test_admin_creates_grants_disables_and_each_change_is_audited(world: World) -> None:
    h = world.auth("gt-admin")
    made = world.client.post(
        "/api/v1/users",
        json={"username": "Gt-New", "roles": ["viewer"], "password": "twelve chars ok"},
        headers=h,
    )
    assert made.status_code == 201, made.text
    user = made.json()
    assert (user["username"], user["agency_id"], user["roles"], user["has_password"]) == (
        "gt-new",
        "GT-PNC",
        ["viewer"],
        True,
    )
    changed = world.client.patch(
        "/api/v1/users/gt-new", json={"grant": ["analyst"], "revoke": ["viewer"]}, headers=h
    ).json()
    assert changed["roles"] == ["analyst"]
    off = world.client.patch("/api/v1/users/gt-viewer", json={"disabled": True}, headers=h)
    assert off.json()["disabled"] is True
    # The disabled account's token stops working at once.
    assert_envelope(world.get("/api/v1/me", "gt-viewer"), 401, "unauthorized")
    on = world.client.patch("/api/v1/users/gt-viewer", json={"disabled": False}, headers=h)
    assert on.json()["disabled"] is False
    assert world.get("/api/v1/me", "gt-viewer").status_code == 200
    pw = world.client.patch(
        "/api/v1/users/gt-new", json={"password": "another passphrase"}, headers=h
    )
    assert pw.status_code == 200
    trail = [
        (e["action"], e["target"], e["actor"], e["agency"])
        for action in ("user:add", "user:roles", "user:disable", "user:enable", "user:password")
        for e in audit_entries(world.engine, action)
        if e["actor"] == "gt-admin"
    ]
    assert trail == [
        ("user:add", "user:gt-new", "gt-admin", "GT-PNC"),
        ("user:roles", "user:gt-new", "gt-admin", "GT-PNC"),
        ("user:disable", "user:gt-viewer", "gt-admin", "GT-PNC"),
        ("user:enable", "user:gt-viewer", "gt-admin", "GT-PNC"),
        ("user:password", "user:gt-new", "gt-admin", "GT-PNC"),
    ]


def test_admin_of_one_agency_cannot_manage_another(world: World) -> None:
    h = world.auth("gt-admin")
    # Another agency's account is not even confirmed to exist.
    assert_envelope(world.get("/api/v1/users/sv-analyst", "gt-admin"), 404, "not_found")
    patch = world.client.patch("/api/v1/users/sv-analyst", json={"disabled": True}, headers=h)
    assert_envelope(patch, 404, "not_found")
    post = world.client.post(
        "/api/v1/users", json={"username": "intruder", "agency_id": "SV-PNC"}, headers=h
    )
    error = assert_envelope(post, 403, "forbidden")
    assert "SV-PNC" in error["message"]
    # Nothing changed in SV-PNC.
    sv = world.get("/api/v1/users", "sv-admin").json()
    assert [(u["username"], u["disabled"]) for u in sv["items"]] == [
        ("sv-admin", False),
        ("sv-analyst", False),
    ]


def test_only_admins_manage_and_regional_is_the_operators(world: World) -> None:
    for user in ("gt-analyst", "gt-viewer", "sica-regional"):
        assert_envelope(world.get("/api/v1/users", user), 403, "forbidden")
        patch = world.client.patch(
            "/api/v1/users/gt-viewer", json={"grant": ["admin"]}, headers=world.auth(user)
        )
        assert_envelope(patch, 403, "forbidden")
    grant = world.client.patch(
        "/api/v1/users/gt-analyst", json={"grant": ["regional"]}, headers=world.auth("gt-admin")
    )
    error = assert_envelope(grant, 403, "forbidden")
    assert "regional" in error["message"]
    bad_role = world.client.patch(
        "/api/v1/users/gt-analyst", json={"grant": ["superuser"]}, headers=world.auth("gt-admin")
    )
    assert_envelope(bad_role, 422, "invalid_request")
    short = world.client.post(
        "/api/v1/users",
        json={"username": "gt-short", "password": "short"},
        headers=world.auth("gt-admin"),
    )
    error = assert_envelope(short, 422, "invalid_request")
    assert "12 characters" in error["message"]


def test_changes_apply_together_or_not_at_all(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A role grant and a disable, then a password the account rules refuse: all rolled back.
    def refuse(*args: object, **kwargs: object) -> None:
        raise InputError("refused for the test", hint="none")

    monkeypatch.setattr(accounts, "set_password", refuse)
    response = world.client.patch(
        "/api/v1/users/gt-viewer",
        json={"grant": ["analyst"], "disabled": True, "password": "a good long passphrase"},
        headers=world.auth("gt-admin"),
    )
    assert_envelope(response, 400, "input_error")
    after = world.get("/api/v1/users/gt-viewer", "gt-admin").json()
    assert (after["roles"], after["disabled"]) == (["viewer"], False)
    assert not [e for e in audit_entries(world.engine, "user:roles") if e["actor"] == "gt-admin"]


def test_operator_is_not_reachable_over_http(world: World) -> None:
    # No header, cookie or token makes a request the operator.
    me = world.client.get("/api/v1/me", headers={"X-Operator": "1"}).json()
    assert me["authenticated"] is False
    assert isinstance(OPERATOR, Principal) and OPERATOR.operator
