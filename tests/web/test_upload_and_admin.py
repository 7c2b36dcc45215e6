"""Uploading a file from the page, the audit trail page, and the admin's user pages.

These tests change the module's store (a batch, accounts): each uses names of its own.
"""

from __future__ import annotations

import re

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.web.conftest import PASSWORD, World, csrf_of, make_client, post_form, sign_in, signed

from safestreets.store import tables

CSV = (
    "record_id,country,occurred_at,local_category,iccs_code,lon,lat,owner_agency,handling_code\n"
    "UP-1,SV,2023-05-02T10:00:00,Robo,0401,-89.19,13.69,BZ-BPD,PUBLIC\n"
    "UP-2,SV,2023-05-03T11:00:00,Hurto,0502,-89.20,13.70,,\n"
    "UP-3,SV,not a date,Robo,0401,-89.19,13.69,,\n"
)


def _upload(client: TestClient, data: dict[str, str], content: str = CSV) -> httpx.Response:
    token = csrf_of(client.get("/upload").text)
    return client.post(
        "/upload",
        data={**data, "csrf_token": token},
        files={"file": ("web-upload.csv", content.encode(), "text/csv")},
    )


def test_upload_shows_the_validation_report_and_owns_the_records(world: World) -> None:
    client = signed(world, "analyst.sv")
    r = _upload(client, {"profile": "safestreets-csv", "handling_code": "REGIONAL"})
    assert r.status_code == 200
    html = r.text
    assert "Informe de validación" in html
    assert "2 filas cargadas y 1 rechazadas" in html
    report = re.search(r'<table class="data" id="report-table">(.*?)</table>', html, re.S)
    reasons = re.search(r'<table class="data" id="reasons-table">(.*?)</table>', html, re.S)
    assert report is not None and "web-upload.csv" in html
    assert reasons is not None and "fecha ilegible" in reasons.group(1)
    assert "invalid_date" in reasons.group(1)
    # Owned by the uploader's agency with the chosen code, whatever the file said.
    t = tables.incident
    with world.engine.connect() as conn:
        rows = conn.execute(
            select(t.c.owner_agency, t.c.handling_code).where(
                t.c.source_record_id.in_(["UP-1", "UP-2", "UP-3"])
            )
        ).all()
        audit = conn.execute(
            select(tables.audit_log.c.action, tables.audit_log.c.target).where(
                tables.audit_log.c.actor == "analyst.sv",
                tables.audit_log.c.action == "ingest",
            )
        ).all()
    assert sorted(rows) == [("SV-PNC", "REGIONAL"), ("SV-PNC", "REGIONAL")]
    assert audit and audit[0].target.startswith("batch:")


def test_upload_of_an_unreadable_file_says_why(world: World) -> None:
    client = signed(world, "analyst.sv")
    r = _upload(client, {"profile": "safestreets-csv"}, content="only,a,header\n")
    assert r.status_code == 400
    assert "No se cargó nada" in r.text


def test_upload_needs_its_role_and_its_token(world: World) -> None:
    viewer = signed(world, "viewer.sv")
    r = viewer.post(
        "/upload",
        data={"csrf_token": csrf_of(viewer.get("/overview").text)},
        files={"file": ("x.csv", CSV.encode(), "text/csv")},
    )
    assert r.status_code == 403
    analyst = signed(world, "analyst.sv")
    r = analyst.post("/upload", files={"file": ("x.csv", CSV.encode(), "text/csv")})
    assert r.status_code == 403


def test_audit_page_shows_the_agency_trail_and_verifies_the_chain(world: World) -> None:
    client = signed(world, "admin.sv")
    html = client.get("/audit").text
    rows = re.findall(r"<tr><th scope=\"row\" class=\"num\">\d+</th>(.*?)</tr>", html, re.S)
    assert rows and any("login" in r for r in rows)
    assert "admin.bz" not in html  # another agency's trail is not here
    checked = client.get("/audit?verify=1").text
    assert "Cadena intacta" in checked
    filtered = client.get("/audit?action=login&limit=50").text
    actions = re.findall(r'<td class="code">([a-z:_]+)</td>', filtered)
    assert actions and set(actions) == {"login"}


def test_admin_creates_an_account_with_a_password_shown_once(world: World) -> None:
    admin = signed(world, "admin.sv")
    r = post_form(admin, "/users", "/users", {"username": "New.Analyst", "roles": ["analyst"]})
    assert r.status_code == 200
    assert "Cuenta new.analyst creada." in r.text
    password = re.search(r'<code class="secret" id="new-password">([A-Za-z0-9]+)</code>', r.text)
    assert password is not None and len(password.group(1)) == 20
    assert password.group(1) not in admin.get("/users").text  # once
    newcomer = sign_in(make_client(world), "new.analyst", password.group(1))
    assert newcomer.get("/overview").status_code == 200
    with world.engine.connect() as conn:
        stored = conn.execute(
            select(tables.app_user.c.password_hash).where(
                tables.app_user.c.username == "new.analyst"
            )
        ).scalar()
    assert stored is not None and stored.startswith("$argon2") and password.group(1) not in stored


def test_admin_sets_roles_disables_and_resets(world: World) -> None:
    from safestreets.access import accounts
    from safestreets.access.policy import Principal

    with world.engine.begin() as conn:
        accounts.add_user(
            conn,
            Principal.local_operator("web-tests"),
            username="managed.one",
            agency_id="SV-PNC",
            roles=["viewer"],
            password=PASSWORD,
        )
    admin = signed(world, "admin.sv")
    r = post_form(admin, "/users", "/users/managed.one/roles", {"roles": ["analyst", "liaison"]})
    assert r.status_code == 200 and "Roles de managed.one guardados." in r.text
    with world.engine.connect() as conn:
        assert accounts.get_user(conn, "managed.one").roles == ("analyst", "liaison")
    r = post_form(admin, "/users", "/users/managed.one/password", {})
    new = re.search(r'<code class="secret" id="new-password">([A-Za-z0-9]+)</code>', r.text)
    assert new is not None
    sign_in(make_client(world), "managed.one", new.group(1))
    r = post_form(admin, "/users", "/users/managed.one/disable", {"disabled": "1"})
    assert "Cuenta managed.one desactivada." in r.text
    client = make_client(world)
    token = csrf_of(client.get("/login").text)
    refused = client.post(
        "/login", data={"username": "managed.one", "password": new.group(1), "csrf_token": token}
    )
    assert refused.status_code == 401
    # Every change is on the audit trail of the agency, by the admin.
    t = tables.audit_log
    with world.engine.connect() as conn:
        actions = {
            r.action
            for r in conn.execute(
                select(t.c.action).where(t.c.actor == "admin.sv", t.c.target == "user:managed.one")
            )
        }
    assert {"user:roles", "user:password", "user:disable"} <= actions


def test_admin_cannot_touch_another_agency_or_itself(world: World) -> None:
    admin = signed(world, "admin.sv")
    r = post_form(admin, "/users", "/users/admin.bz/disable", {"disabled": "1"})
    assert r.status_code == 403
    assert 'href="/users?lang=en"' in r.text  # the language switch leads to a page, not a form
    r = post_form(admin, "/users", "/users/admin.sv/disable", {"disabled": "1"})
    assert r.status_code == 400 and "No puede desactivar su propia cuenta." in r.text
    r = post_form(admin, "/users", "/users", {"username": "x.regional", "roles": ["regional"]})
    assert r.status_code == 403
    listed = admin.get("/users").text
    assert "admin.bz" not in listed and "viewer.sv" in listed
    with world.engine.connect() as conn:
        from safestreets.access import accounts

        assert not accounts.get_user(conn, "admin.bz").disabled
