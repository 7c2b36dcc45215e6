"""The alert exchange in a real browser, as a liaison officer at a crossing works it.

El Salvador's PNC (SV-PNC) files a RESTRICTED wanted-person alert; a liaison officer of
Guatemala's PNC queries at the border, using the keyboard only, and gets a hit that shows the
reference, the contact point and the instructions but no personal data; the officer files a
follow-up request; SV-PNC's admin approves it with a reason; the officer reads the released
details, and a colleague of the same agency cannot. Screenshots of each step go to
``test-artifacts/browser/`` (80-89).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from tests.browser.conftest import ADMIN, ANALYST, PASSWORD, LiveApp, expect, shot

from safestreets.web.i18n import Translator

pytestmark = pytest.mark.browser

ES = Translator("es")

#: The agency and accounts this module adds to the shared test server (names of its own).
GT_AGENCY = "GT-PNC"
LIAISON = "enlace.gt"
COLLEAGUE = "colega.gt"

WANTED = {
    "given_names": "Óscar Armando",
    "surname_1": "Quiñónez",
    "surname_2": "Villatoro",
    "date_of_birth": "1979-11-23",
    "national_id": "43464098-3",
    "warrant_ref": "OC-SS-2024-0442",
}


@pytest.fixture(scope="module")
def exchange(live_app: LiveApp) -> Iterator[LiveApp]:
    """Guatemala's agency and its two liaison officers on the shared test server."""
    from safestreets.access.accounts import add_agency, add_user
    from safestreets.access.policy import Principal

    operator = Principal.local_operator("browser-alert-tests")
    with live_app.engine.begin() as conn:
        add_agency(conn, operator, agency_id=GT_AGENCY, name="PNC Guatemala (demo)", country="GT")
        for name in (LIAISON, COLLEAGUE):
            add_user(
                conn, operator, username=name, agency_id=GT_AGENCY, roles=["liaison"],
                password=PASSWORD,
            )  # fmt: skip
    yield live_app


def sign_in(page: Any, username: str) -> None:
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.locator("form[action='/login'] button[type=submit]").click()
    page.wait_for_url(re.compile(r"/overview"))


def sign_out(page: Any) -> None:
    page.locator("form[action='/logout'] button").click()
    page.wait_for_url(re.compile(r"/login"))


def test_query_hit_request_approval_and_release(page: Any, exchange: LiveApp) -> None:
    # 1. SV-PNC's analyst files the alert with the form (a person kind is the default tab).
    sign_in(page, ANALYST)
    page.locator("nav a[href='/alerts']").click()
    page.wait_for_url(re.compile(r"/alerts"))
    expect(page.locator("nav.tabs a[aria-current=page]")).to_have_text(ES("kind_wanted_person"))
    for name, value in WANTED.items():
        page.fill(f"#a-{name}", value)
    page.select_option("#a-sex", "M")
    page.fill("#a-id_country", "SV")
    page.fill("#a-iccs_code", "0101")
    page.select_option("#a-handling_code", "RESTRICTED")
    page.fill("#a-valid_until", (date.today() + timedelta(days=90)).isoformat())
    page.fill("#a-contact", "Oficina Central Nacional INTERPOL, San Salvador")
    page.fill("#a-reason", "Homicidio agravado, Soyapango")
    page.locator("#alert-form button[type=submit]").click()
    message = page.locator("#alerts-message")
    expect(message).to_be_visible()
    found = re.search(r"(SV-WP-[0-9A-Z]+)", message.inner_text())
    assert found is not None, message.inner_text()
    reference = found.group(1)
    expect(page.locator(f"#alerts-table tr[data-reference='{reference}']")).to_contain_text(
        ES("alert_status_active")
    )
    shot(page, "80-alerts-created")
    sign_out(page)

    # 2. Guatemala's liaison officer queries with the keyboard only: the person tab is the
    # default; Tab walks the fields in order, Enter sends the form.
    sign_in(page, LIAISON)
    page.locator("nav a[href='/hits']").focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/hits"))
    expect(page.locator("h1")).to_have_text(ES("hits_title"))
    page.locator("#q-given_names").focus()
    page.keyboard.type("Oscar Armando")
    page.keyboard.press("Tab")
    expect(page.locator("#q-surname_1")).to_be_focused()
    page.keyboard.type("Quinonez")
    page.keyboard.press("Tab")
    page.keyboard.type("Villatoro")
    page.keyboard.press("Tab")
    expect(page.locator("#q-date_of_birth")).to_be_focused()
    page.keyboard.type("23/11/1979")
    page.locator("#q-purpose").focus()
    page.keyboard.type("Control migratorio, Pedro de Alvarado")
    shot(page, "81-query-form")
    page.keyboard.press("Enter")

    card = page.locator(f"article.hit-card[data-reference='{reference}']")
    expect(card).to_be_visible()
    expect(page.locator("#hit-summary")).to_contain_text(ES.plural("n_hits", 1))
    expect(card).to_contain_text(ES("kind_wanted_person"))
    expect(card).to_contain_text("Oficina Central Nacional INTERPOL, San Salvador")
    expect(card).to_contain_text(ES("instructions_wanted_person"))
    expect(card.locator(".no-details")).to_have_text(ES("hit_no_details"))
    card_text = card.inner_text()
    for secret in ("43464098-3", "OC-SS-2024-0442", "Homicidio", "1979-11-23", "Quiñónez"):
        assert secret not in card_text, secret
    shot(page, "82-hit-restricted")

    # 3. The follow-up request, from the hit.
    card.locator("textarea[name=reason]").fill("Persona retenida en la frontera; confirmar orden")
    card.locator("form.follow-up button[type=submit]").click()
    page.wait_for_url(re.compile(r"/requests\?filed=\d+"))
    filed = re.search(r"filed=(\d+)", page.url)
    assert filed is not None
    request_id = filed.group(1)
    row = page.locator(f"#sent-table tr[data-request='{request_id}']")
    expect(row).to_contain_text(ES("request_status_pending"))
    shot(page, "83-request-filed")
    sign_out(page)

    # 4. SV-PNC's admin approves it with a reason.
    sign_in(page, ADMIN)
    page.locator("nav a[href='/requests']").click()
    page.wait_for_url(re.compile(r"/requests"))
    row = page.locator(f"#received-table tr[data-request='{request_id}']")
    expect(row).to_contain_text(LIAISON)
    row.locator("textarea[name=reason]").fill("Orden vigente; coordinar entrega con la OCN")
    row.locator("button[value=approve]").click()
    page.wait_for_url(re.compile(rf"/requests\?decided={request_id}"))
    expect(page.locator(f"#received-table tr[data-request='{request_id}']")).to_contain_text(
        ES("request_status_approved")
    )
    shot(page, "84-request-approved")
    page.goto("/alerts/searches")
    expect(page.locator("#searches-table")).to_contain_text(LIAISON)
    sign_out(page)

    # 5. The requester reads the released details.
    sign_in(page, LIAISON)
    page.locator("nav a[href='/requests']").click()
    row = page.locator(f"#sent-table tr[data-request='{request_id}']")
    expect(row).to_contain_text("Orden vigente; coordinar entrega con la OCN")
    row.locator(f"a[href='/requests/{request_id}']").click()
    page.wait_for_url(re.compile(rf"/requests/{request_id}$"))
    details = page.locator("#released-details")
    for value in ("Quiñónez", "43464098-3", "1979-11-23"):
        expect(details).to_contain_text(value)
    expect(page.locator("#released-facts")).to_contain_text("OC-SS-2024-0442")
    shot(page, "85-released-details")
    sign_out(page)

    # 6. A colleague of the same agency gets a refusal, not the details.
    sign_in(page, COLLEAGUE)
    response = page.goto(f"/requests/{request_id}")
    assert response is not None and response.status == 404
    expect(page.locator("#released-refused")).to_be_visible()
    assert "43464098-3" not in page.content()
    shot(page, "86-released-refused-colleague")
