"""The alert exchange pages: hit/no-hit queries, follow-up requests, the agency's alerts.

A small SYNTHETIC world: agency SV-PNC (A, El Salvador) owns the alerts; a liaison officer of
BZ-BPD (B, Belize) queries them. Every page is checked for the roles it opens to and the ones
it refuses, every form for its CSRF token, and the whole Prüm flow end to end: B's liaison
gets a hit on A's RESTRICTED alert without its personal data, files a request, A's admin
approves it with a reason, and the details are released to that requester only.

The tests share the module's store and run in file order where a test builds on the alerts
the first one created (each uses plates, serials and names of its own).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from tests.web.conftest import PASSWORD, World, build_world, csrf_of, make_client, sign_in

from safestreets.access.accounts import add_user
from safestreets.access.policy import Principal
from safestreets.schema import ALERT_KINDS, HANDLING_CODES
from safestreets.sharing import matcher
from safestreets.sharing.alerts import ALERT_COLUMNS
from safestreets.store import tables
from safestreets.web.alerts import ALERT_FORM_FIELDS, QUERY_FIELDS, SUBJECTS
from safestreets.web.i18n import Translator, catalog_keys

ES, EN = Translator("es"), Translator("en")

#: Accounts this module adds (agency -> user -> roles); the conftest's SV accounts are used too:
#: analyst.sv (analyst: manages SV's alerts, no cross-border queries), admin.sv (admin and
#: analyst: decides requests addressed to SV), viewer.sv, boss.sv (admin only).
EXTRA_USERS = {
    "liaison.bz": ("BZ-BPD", ("liaison",)),
    "colleague.bz": ("BZ-BPD", ("liaison",)),
    "liaison.sv": ("SV-PNC", ("liaison",)),
}

STOLEN_CAR = {
    "plate": "P 512-873",
    "plate_country": "SV",
    "vin": "1HGCM82633A004352",
    "make": "Toyota",
    "model": "Hilux",
    "colour": "Blanco",
}
WANTED = {
    "given_names": "José Luis",
    "surname_1": "Hernández",
    "surname_2": "Pérez",
    "date_of_birth": "1985-03-12",
    "sex": "M",
    "national_id": "18034064-3",
    "id_country": "SV",
    "nationality": "SV",
}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    w = build_world(tmp_path_factory.mktemp("web-alerts"))
    operator = Principal.local_operator("web-alert-tests")
    with w.engine.begin() as conn:
        for name, (agency, roles) in EXTRA_USERS.items():
            add_user(
                conn, operator, username=name, agency_id=agency, roles=roles, password=PASSWORD
            )
    yield w
    matcher.forget(str(w.engine.url))
    w.engine.dispose()


def signed(world: World, username: str, **overrides: Any) -> TestClient:
    return sign_in(make_client(world, **overrides), username)


def post(client: TestClient, page: str, action: str, data: dict[str, Any]) -> httpx.Response:
    """Open ``page`` for its CSRF token and post ``data`` to ``action`` (no redirect)."""
    token = csrf_of(client.get(page).text)
    return client.post(action, data={**data, "csrf_token": token}, follow_redirects=False)


def text(r: httpx.Response) -> str:
    """The page's text with its entities decoded (names with accents are escaped)."""
    return html.unescape(r.text)


def create_alert(client: TestClient, kind: str, fields: dict[str, str]) -> str:
    """Create an alert with the page's form; its new reference."""
    until = (date.today() + timedelta(days=200)).isoformat()  # the form's date picker
    data = {"kind": kind, "valid_until": until, **fields}
    r = post(client, f"/alerts?kind={kind}", "/alerts", data)
    assert r.status_code == 200, re.findall(r"notice-error.*?</p>", text(r), re.S)
    m = re.search(r"Alerta (\S+) creada", text(r))
    assert m is not None, text(r)[:2000]
    return m.group(1)


def query(client: TestClient, subject: str, fields: dict[str, str], **kw: str) -> httpx.Response:
    return post(client, f"/hits?subject={subject}", "/hits", {"subject": subject, **fields, **kw})


def card_of(page: str, reference: str) -> str | None:
    """The hit card of one alert in an answer page."""
    m = re.search(rf'<article class="hit-card[^"]*"[^>]*data-reference="{reference}".*?</article>',
                  page, re.S)  # fmt: skip
    return m.group(0) if m else None


def audit_actions(world: World, actor: str) -> list[str]:
    a = tables.audit_log
    with world.engine.connect() as conn:
        return list(conn.execute(select(a.c.action).where(a.c.actor == actor)).scalars())


@pytest.fixture(scope="module")
def car_alert(world: World) -> str:
    """A RESTRICTED stolen-vehicle alert of SV-PNC, created by its analyst through the form."""
    analyst = signed(world, "analyst.sv")
    return create_alert(
        analyst,
        "stolen_vehicle",
        {
            **STOLEN_CAR,
            "handling_code": "RESTRICTED",
            "contact": "Centro de Operaciones PNC, +503 2500-0000",
            "reason": "Robo con violencia, San Salvador",
            "external_id": "SV-ROBO-2024-0001",
        },
    )


# --- who may open what ---------------------------------------------------------------------------


def test_pages_open_to_their_roles_and_refuse_the_others(world: World) -> None:
    liaison = signed(world, "liaison.bz")
    for url in ("/hits", "/hits?subject=vehicle", "/hits?subject=firearm", "/requests"):
        assert liaison.get(url).status_code == 200, url
    # A liaison officer manages alerts and decides requests too (of their own agency).
    assert liaison.get("/alerts").status_code == 200
    assert liaison.get("/alerts/searches").status_code == 200

    analyst = signed(world, "analyst.sv")
    r = analyst.get("/hits")
    assert r.status_code == 403 and "Sin permiso" in r.text
    assert "Traceback" not in r.text
    assert analyst.get("/requests").status_code == 403
    assert analyst.get("/requests/1").status_code == 403
    assert analyst.get("/alerts/searches").status_code == 403
    assert analyst.get("/alerts").status_code == 200

    viewer = signed(world, "viewer.sv")
    for url in ("/hits", "/requests", "/alerts", "/alerts/searches"):
        assert viewer.get(url).status_code == 403, url

    boss = signed(world, "boss.sv")  # admin only: decides requests, reads no alert
    assert boss.get("/requests").status_code == 200
    assert boss.get("/alerts/searches").status_code == 200
    assert boss.get("/alerts").status_code == 403
    assert boss.get("/hits").status_code == 403

    anon = make_client(world)
    for url in ("/hits", "/requests", "/requests/1", "/alerts", "/alerts/searches"):
        r = anon.get(url, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login"), url


def test_the_navigation_shows_the_pages_each_user_may_open(world: World) -> None:
    def nav(client: TestClient) -> set[str]:
        block = re.search(r'<nav class="wrap site-nav".*?</nav>', client.get("/account").text, re.S)
        assert block is not None
        return set(re.findall(r'href="([^"]+)"', block.group(0)))

    assert {"/hits", "/requests", "/alerts"} <= nav(signed(world, "liaison.bz"))
    analyst = nav(signed(world, "analyst.sv"))
    assert "/alerts" in analyst and not {"/hits", "/requests"} & analyst
    boss = nav(signed(world, "boss.sv"))
    assert {"/requests", "/alerts/searches"} <= boss and not {"/hits", "/alerts"} & boss
    assert not {"/hits", "/requests", "/alerts", "/alerts/searches"} & nav(
        signed(world, "viewer.sv")
    )
    liaison_page = signed(world, "liaison.bz").get("/hits").text
    assert f">{ES('nav_hits')}<" in liaison_page and f">{ES('nav_requests')}<" in liaison_page


def test_every_form_needs_its_csrf_token(world: World, car_alert: str) -> None:
    liaison = signed(world, "liaison.bz")
    analyst = signed(world, "analyst.sv")
    admin = signed(world, "admin.sv")
    other = signed(world, "colleague.bz")
    foreign = csrf_of(other.get("/hits").text)  # a real token, of another session
    posts = [
        (liaison, "/hits", {"subject": "vehicle", "plate": STOLEN_CAR["plate"]}),
        (liaison, "/hits/request", {"query_id": "1", "reference": car_alert, "reason": "x"}),
        (admin, "/requests/1/decide", {"decision": "approve", "reason": "ok"}),
        (analyst, "/alerts", {"kind": "stolen_vehicle", "plate": "CSRF-1", "contact": "c"}),
        (analyst, f"/alerts/{car_alert}/cancel", {}),
    ]
    h, f = tables.hit_query, tables.followup
    with world.engine.connect() as conn:
        before = (
            len(conn.execute(select(h.c.query_id)).all()),
            len(conn.execute(select(f.c.request_id)).all()),
        )
    for client, url, data in posts:
        assert client.post(url, data=data).status_code == 403, url
        assert client.post(url, data={**data, "csrf_token": foreign}).status_code == 403, url
    with world.engine.connect() as conn:
        after = (
            len(conn.execute(select(h.c.query_id)).all()),
            len(conn.execute(select(f.c.request_id)).all()),
        )
        status = conn.execute(
            select(tables.alert.c.status).where(tables.alert.c.reference == car_alert)
        ).scalar_one()
        made = conn.execute(
            select(tables.alert.c.alert_id).where(tables.alert.c.plate == "CSRF-1")
        ).first()
    assert after == before and status == "active" and made is None


# --- the whole flow ------------------------------------------------------------------------------


def test_hit_request_approval_and_release_to_the_requester_only(
    world: World, car_alert: str
) -> None:
    liaison = signed(world, "liaison.bz")
    r = query(
        liaison,
        "vehicle",
        {"plate": "P512873", "plate_country": "SV"},
        purpose="Control fronterizo Santa Elena",
    )
    assert r.status_code == 200
    page = text(r)
    assert ES.plural("n_hits", 1) in page
    card = re.search(r'<article class="hit-card.*?</article>', page, re.S)
    assert card is not None
    hit = card.group(0)
    assert car_alert in hit and ES("kind_stolen_vehicle") in hit
    assert "SV-PNC" in hit and "Centro de Operaciones PNC, +503 2500-0000" in hit
    assert ES("instructions_stolen_vehicle") in hit and ES("handling_RESTRICTED") in hit
    # RESTRICTED: no details of the subject, a follow-up form instead.
    assert ES("hit_no_details") in hit
    for secret in (STOLEN_CAR["vin"], "Hilux", "Blanco", "Robo con violencia"):
        assert secret not in page, secret
    form = re.search(r'<form method="post" action="/hits/request".*?</form>', hit, re.S)
    assert form is not None
    query_id = re.search(r'name="query_id" value="(\d+)"', form.group(0))
    assert query_id is not None

    # A reason is required (the service says so in one line; nothing filed).
    r = post(
        liaison,
        "/hits",
        "/hits/request",
        {"query_id": query_id.group(1), "reference": car_alert, "reason": "  "},
    )
    assert r.status_code == 400 and "needs a reason" in r.text and "Traceback" not in r.text

    r = post(
        liaison,
        "/hits",
        "/hits/request",
        {
            "query_id": query_id.group(1),
            "reference": car_alert,
            "reason": "Vehículo detenido en Santa Elena; confirmar VIN",
        },
    )
    assert r.status_code == 303
    m = re.match(r"/requests\?filed=(\d+)$", r.headers["location"])
    assert m is not None
    request_id = int(m.group(1))
    mine = text(liaison.get(r.headers["location"]))
    assert ES("request_filed", id=request_id) in mine
    row = re.search(rf'<tr data-request="{request_id}">.*?</tr>', mine, re.S)
    assert row is not None and ES("request_status_pending") in row.group(0)
    # Nothing released while pending: the refusal says where it stands.
    r = liaison.get(f"/requests/{request_id}")
    assert r.status_code == 404
    assert ES("released_pending", id=request_id, agency="SV-PNC") in text(r)
    assert STOLEN_CAR["vin"] not in r.text

    # The owner's admin sees it; a decision needs a reason; approving releases the details.
    admin = signed(world, "admin.sv")
    received = text(admin.get("/requests"))
    row = re.search(rf'<tr data-request="{request_id}">.*?</tr>', received, re.S)
    assert row is not None and "liaison.bz" in row.group(0) and "confirmar VIN" in row.group(0)
    assert f'action="/requests/{request_id}/decide"' in row.group(0)
    r = post(
        admin, "/requests", f"/requests/{request_id}/decide", {"decision": "approve", "reason": ""}
    )
    assert r.status_code == 400 and "needs a reason" in r.text
    # Another agency's decider may not decide it.
    belize_admin = signed(world, "admin.bz")
    r = post(
        belize_admin,
        "/requests",
        f"/requests/{request_id}/decide",
        {"decision": "approve", "reason": "no es mío"},
    )
    assert r.status_code == 403 and "may not decide" in r.text
    r = post(
        admin,
        "/requests",
        f"/requests/{request_id}/decide",
        {"decision": "approve", "reason": "Denuncia vigente; coordinar con la PNC"},
    )
    assert r.status_code == 303 and r.headers["location"] == f"/requests?decided={request_id}"
    # Decided once.
    r = post(
        admin,
        "/requests",
        f"/requests/{request_id}/decide",
        {"decision": "deny", "reason": "otra vez"},
    )
    assert r.status_code == 400 and "not pending" in r.text

    mine = text(liaison.get("/requests"))
    row = re.search(rf'<tr data-request="{request_id}">.*?</tr>', mine, re.S)
    assert row is not None
    assert ES("request_status_approved") in row.group(0)
    assert "Denuncia vigente; coordinar con la PNC" in row.group(0)
    assert f'href="/requests/{request_id}"' in row.group(0)
    r = liaison.get(f"/requests/{request_id}")
    assert r.status_code == 200
    released = text(r)
    for value in (STOLEN_CAR["vin"], "Hilux", "Blanco", "Toyota", "Robo con violencia"):
        assert value in released, value
    assert car_alert in released and ES("released_title", id=request_id) in released

    # A colleague of the same agency gets nothing, nor does the owner's admin by this page.
    colleague = signed(world, "colleague.bz")
    r = colleague.get(f"/requests/{request_id}")
    assert r.status_code == 404
    assert ES("released_refused", id=request_id) in text(r)
    for value in (STOLEN_CAR["vin"], "Hilux", "Toyota"):
        assert value not in r.text
    assert colleague.get("/requests/999999").status_code == 404

    # Every step is in the audit chain, and the owner sees who searched for its alert.
    assert {"hits:query", "request:file", "read:released"} <= set(
        audit_actions(world, "liaison.bz")
    )
    assert "request:approve" in audit_actions(world, "admin.sv")
    searches = text(admin.get("/alerts/searches"))
    table = re.search(r'<table class="data" id="searches-table">.*?</table>', searches, re.S)
    assert table is not None
    assert "liaison.bz" in table.group(0) and car_alert in table.group(0)
    assert "Control fronterizo Santa Elena" in table.group(0)


def test_no_hit_in_spanish_and_english(world: World, car_alert: str) -> None:
    liaison = signed(world, "liaison.bz")
    r = query(liaison, "vehicle", {"plate": "ZZZ-9999", "plate_country": "BZ"})
    assert r.status_code == 200
    assert ES("no_hit") in r.text and 'id="no-hit"' in r.text and "hit-card" not in r.text
    # The form keeps what was typed.
    assert 'value="ZZZ-9999"' in r.text
    token = csrf_of(liaison.get("/hits?lang=en").text)
    r = liaison.post(
        "/hits?lang=en",
        data={"subject": "vehicle", "plate": "ZZZ-9999", "csrf_token": token},
    )
    assert r.status_code == 200 and r.headers["content-language"] == "en"
    assert EN("no_hit") in r.text and EN("hits_title") in r.text


def test_a_query_with_nothing_filled_in_is_a_one_line_error(world: World) -> None:
    liaison = signed(world, "liaison.bz")
    r = query(liaison, "firearm", {"serial": "  "})
    assert r.status_code == 400
    assert 'id="query-error"' in r.text and "no field filled in" in r.text
    assert "Traceback" not in r.text


def test_hits_on_a_regional_firearm_show_its_details(world: World) -> None:
    analyst = signed(world, "analyst.sv")
    reference = create_alert(
        analyst,
        "stolen_firearm",
        {
            "serial": "BX4472019",
            "make": "Glock",
            "model": "17",
            "calibre": "9mm",
            "handling_code": "REGIONAL",
            "contact": "Armería PNC",
            "reason": "Robada de la armería de Soyapango",
        },
    )
    liaison = signed(world, "liaison.bz")
    # A partly unreadable serial with two misread glyphs (8/B, O/0) still hits.
    r = query(liaison, "firearm", {"serial": "8X44?2O19", "make": "glock", "calibre": "9 mm"})
    assert r.status_code == 200
    page = text(r)
    card = card_of(page, reference)
    assert card is not None, page[:3000]
    details = re.search(r'<table class="data details">.*?</table>', card, re.S)
    assert details is not None and "BX4472019" in details.group(0) and "Glock" in details.group(0)
    assert "/hits/request" not in card


def test_an_alert_is_created_listed_and_cancelled_and_then_never_hits(world: World) -> None:
    analyst = signed(world, "analyst.sv")
    reference = create_alert(
        analyst,
        "stolen_vehicle",
        {
            "plate": "N 77-001",
            "plate_country": "SV",
            "handling_code": "REGIONAL",
            "contact": "PNC",
            "reason": "Robo",
        },
    )
    listing = text(analyst.get("/alerts"))
    row = re.search(rf'<tr data-reference="{reference}">.*?</tr>', listing, re.S)
    assert row is not None and ES("alert_status_active") in row.group(0)
    assert "WEB-" in row.group(0)  # a generated external id
    liaison = signed(world, "liaison.bz")
    assert reference in query(liaison, "vehicle", {"plate": "N77001"}).text

    r = post(analyst, "/alerts", f"/alerts/{reference}/cancel", {})
    assert r.status_code == 200
    assert ES("alert_cancelled", reference=reference) in text(r)
    row = re.search(rf'<tr data-reference="{reference}">.*?</tr>', text(r), re.S)
    assert row is not None and ES("alert_status_cancelled") in row.group(0)
    assert f"/alerts/{reference}/cancel" not in row.group(0)
    assert reference not in query(liaison, "vehicle", {"plate": "N77001"}).text
    # Only the owner agency manages it.
    other = signed(world, "liaison.bz")
    r = post(other, "/alerts", f"/alerts/{reference}/cancel", {})
    assert r.status_code == 403 and "may not manage" in r.text


def test_an_invalid_alert_is_refused_with_every_problem_and_the_form_kept(world: World) -> None:
    analyst = signed(world, "analyst.sv")
    r = post(
        analyst,
        "/alerts?kind=wanted_person",
        "/alerts",
        {
            "kind": "wanted_person",
            "given_names": "Mario",
            "surname_1": "Rivas",
            "iccs_code": "99999",
            "contact": "PNC",
            "reason": "Homicidio",
        },
    )
    assert r.status_code == 400
    page = text(r)
    assert 'id="alerts-error"' in page and "Traceback" not in page
    assert "warrant_ref" in page and "iccs_code" in page
    assert 'value="Mario"' in page and 'value="99999"' in page
    with world.engine.connect() as conn:
        made = conn.execute(
            select(tables.alert.c.alert_id).where(tables.alert.c.surname_1 == "Rivas")
        ).first()
    assert made is None


def test_the_person_flow_flags_a_missing_child_and_hides_a_restricted_wanted_person(
    world: World,
) -> None:
    liaison_sv = signed(world, "liaison.sv")
    wanted = create_alert(
        liaison_sv,
        "wanted_person",
        {
            **WANTED,
            "warrant_ref": "OC-2024-1187",
            "iccs_code": "0101",
            "handling_code": "RESTRICTED",
            "contact": "INTERPOL San Salvador",
            "reason": "Homicidio agravado",
        },
    )
    child = create_alert(
        liaison_sv,
        "missing_person",
        {
            "given_names": "Ana Gabriela",
            "surname_1": "Martínez",
            "surname_2": "López",
            "date_of_birth": "2014-06-02",
            "sex": "F",
            "handling_code": "REGIONAL",
            "contact": "CONNA, +503 2200-0000",
            "reason": "Desaparecida en Santa Ana",
        },
    )
    liaison = signed(world, "liaison.bz")
    # Without accents, the second given name dropped: still the same person.
    r = query(
        liaison,
        "person",
        {
            "given_names": "Jose",
            "surname_1": "Hernandez",
            "surname_2": "Perez",
            "date_of_birth": "1985-03-12",
            "sex": "M",
        },
    )
    assert r.status_code == 200
    page = text(r)
    assert wanted in page and ES("kind_wanted_person") in page
    card = card_of(page, wanted)
    assert card is not None, page[:3000]
    # RESTRICTED: nothing about the person in the hit (what the officer typed stays in the
    # form), a follow-up form instead.
    for secret in ("18034064-3", "1985-03-12", "OC-2024-1187", "Homicidio agravado", "Luis"):
        assert secret not in card, secret
    assert ES("hit_no_details") in card and 'action="/hits/request"' in card

    r = query(
        liaison,
        "person",
        {"given_names": "Ana", "surname_1": "Martinez", "surname_2": "Lopez",
         "date_of_birth": "2014-06-02"},
    )  # fmt: skip
    page = text(r)
    card = card_of(page, child)
    assert card is not None, page[:3000]
    assert 'class="hit-card hit-child"' in card and ES("child_flag") in card
    # REGIONAL: a member agency's officer sees the details on the hit.
    assert "Ana Gabriela" in card


def test_an_alert_past_its_validity_is_shown_expired_and_never_hits(world: World) -> None:
    analyst = signed(world, "analyst.sv")
    # The form refuses an end of validity in the past (one line, the form kept).
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    fields = {
        "kind": "stolen_firearm",
        "serial": "EXP771204",
        "handling_code": "PUBLIC",
        "contact": "PNC",
        "reason": "Hurto",
    }
    r = post(
        analyst, "/alerts?kind=stolen_firearm", "/alerts", {**fields, "valid_until": yesterday}
    )
    assert r.status_code == 400 and "valid_until" in r.text and 'value="EXP771204"' in r.text
    reference = create_alert(analyst, "stolen_firearm", fields)
    liaison = signed(world, "liaison.bz")
    assert reference in query(liaison, "firearm", {"serial": "EXP771204"}).text
    # Time passes (the store's clock is moved instead): expired whether or not the expiry
    # job ran, so no cancel button and no hit.
    a = tables.alert
    with world.engine.begin() as conn:
        conn.execute(
            update(a)
            .where(a.c.reference == reference)
            .values(
                valid_from=datetime.now(UTC) - timedelta(days=30),
                valid_until=datetime.now(UTC) - timedelta(days=1),
            )
        )
    row = re.search(
        rf'<tr data-reference="{reference}">.*?</tr>', text(analyst.get("/alerts")), re.S
    )
    assert row is not None and ES("alert_status_expired") in row.group(0)
    assert "/cancel" not in row.group(0)
    assert ES("no_hit") in query(liaison, "firearm", {"serial": "EXP771204"}).text


def test_the_pages_speak_english_with_lang_en(world: World, car_alert: str) -> None:
    liaison = signed(world, "liaison.bz")
    for url, title in (
        ("/hits?lang=en", "hits_title"),
        ("/requests?lang=en", "requests_title"),
        ("/alerts?lang=en", "alerts_title"),
        ("/alerts/searches?lang=en", "searches_title"),
    ):
        r = liaison.get(url)
        assert r.status_code == 200 and r.headers["content-language"] == "en", url
        assert f"<h1>{EN(title)}</h1>" in text(r), url
        assert ES(title) not in r.text, url
    firearm = liaison.get("/hits?subject=firearm&lang=en").text
    assert EN("serial_help") in firearm and EN("af_calibre") in firearm


def test_every_label_the_pages_build_is_in_both_catalogs() -> None:
    keys = {f"kind_{k}" for k in ALERT_KINDS} | {f"instructions_{k}" for k in ALERT_KINDS}
    keys |= {f"subject_{s}" for s in SUBJECTS}
    keys |= {f"af_{c}" for c in ALERT_COLUMNS if c not in ("clk", "clk_blocks")}
    keys |= {f"af_{name}" for fields in QUERY_FIELDS.values() for name, _ in fields}
    keys |= {f"af_{name}" for fields in ALERT_FORM_FIELDS.values() for name, _ in fields}
    keys |= {f"request_status_{s}" for s in ("pending", "approved", "denied")}
    keys |= {f"alert_status_{s}" for s in ("active", "cancelled", "expired")}
    keys |= {f"handling_{c}" for c in HANDLING_CODES}
    keys |= {"nav_hits", "nav_requests", "nav_alerts", "nav_searches"}
    for lang in ("es", "en"):
        assert sorted(keys - catalog_keys(lang)) == [], lang
    assert ES("nav_hits") == "Consultas / Hit-no-hit" and EN("no_hit") == "No hit"
