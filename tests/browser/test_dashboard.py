"""The signed-in dashboard in a real browser: log in, upload, report, map, language, download,
log out. Each test starts from a fresh browser context (no cookies) and signs in by the form."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from tests.browser.conftest import ADMIN, ANALYST, PASSWORD, expect, shot

from safestreets.web.i18n import Translator

pytestmark = pytest.mark.browser

ES, EN = Translator("es"), Translator("en")


def sign_in(page: Any, username: str = ADMIN, password: str = PASSWORD) -> None:
    """Fill in the login form and wait for the overview."""
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.locator("form[action='/login'] button[type=submit]").click()
    page.wait_for_url(re.compile(r"/overview"))


def test_log_in_and_out(page: Any) -> None:
    # The front door of a visitor is the login page.
    page.goto("/")
    page.wait_for_url(re.compile(r"/login"))
    expect(page.locator("h1")).to_have_text(ES("login_title"))
    shot(page, "20-login-es")

    # A wrong password: the form says so (role=alert) and nobody is signed in.
    page.fill("#username", ADMIN)
    page.fill("#password", "not-the-password-at-all")
    page.locator("form[action='/login'] button[type=submit]").click()
    expect(page.locator("#login-error")).to_be_visible()
    expect(page.locator("#login-error")).to_contain_text(ES("login_failed"))
    expect(page.locator("a.whoami")).to_have_count(0)
    # The form keeps the name and moves the focus to the password.
    expect(page.locator("#username")).to_have_value(ADMIN)

    page.fill("#password", PASSWORD)
    page.locator("form[action='/login'] button[type=submit]").click()
    page.wait_for_url(re.compile(r"/overview"))
    expect(page.locator("a.whoami")).to_contain_text(ADMIN)
    expect(page.locator("h1")).to_have_text(ES("overview_title"))
    # An admin sees the admin pages in the navigation; the session cookie is HttpOnly.
    for href in ("/overview", "/indicators", "/hotspots", "/upload", "/audit", "/users"):
        expect(page.locator(f"nav a[href='{href}']")).to_have_count(1)
    cookies = {c["name"]: c for c in page.context.cookies()}
    session = [c for c in cookies.values() if "session" in c["name"]]
    assert session and all(c["httpOnly"] for c in session), cookies
    assert all(c["sameSite"] in ("Lax", "Strict") for c in session)
    shot(page, "21-overview-es")

    # Log out: back to the login page, and the dashboard is closed again.
    page.locator("form[action='/logout'] button").click()
    page.wait_for_url(re.compile(r"/login"))
    expect(page.locator("a.whoami")).to_have_count(0)
    page.goto("/overview")
    page.wait_for_url(re.compile(r"/login"))
    shot(page, "29-logged-out")


def test_upload_a_file_and_see_the_report(page: Any, tmp_path: Path) -> None:
    rows = [
        "record_id,country,occurred_at,iccs_code,lat,lon",
        "web-1,SV,2023-03-01T10:00:00,0401,13.70,-89.20",
        "web-2,SV,2023-03-02T11:30:00,0501,13.69,-89.19",
        "web-3,SV,2023-03-03T22:15:00,0101,13.71,-89.21",
        "web-4,SV,not a date,0401,13.70,-89.20",
    ]
    upload = tmp_path / "incidentes-web.csv"
    upload.write_text("\n".join(rows) + "\n", encoding="utf-8")

    sign_in(page)
    page.locator("nav a[href='/upload']").click()
    page.wait_for_url(re.compile(r"/upload"))
    page.set_input_files("#u-file", str(upload))
    page.select_option("#u-profile", "safestreets-csv")
    page.select_option("#u-code", "NATIONAL")
    shot(page, "30-upload-form")
    page.locator("form[action='/upload'] button[type=submit]").click()

    report = page.locator("#report-table")
    expect(report).to_be_visible()
    expect(report.locator("caption")).to_contain_text("incidentes-web.csv")
    figures = {
        th.inner_text().strip(): td.inner_text().strip()
        for th, td in zip(
            report.locator("tbody th").all(), report.locator("tbody td").all(), strict=True
        )
    }
    assert figures[ES("col_read")] == "4"
    assert figures[ES("col_loaded")] == "3"
    assert figures[ES("col_rejected")] == "1"
    # The rejected row is named with its reason and its line in the file (the header is 1).
    reasons = page.locator("#reasons-table tbody tr")
    expect(reasons).to_have_count(1)
    expect(reasons.first.locator("td").nth(0)).to_have_text("1")
    expect(reasons.first.locator("td").nth(1)).to_have_text("5")
    shot(page, "31-upload-report")


def test_hotspot_map(page: Any) -> None:
    sign_in(page)
    page.locator("nav a[href='/hotspots']").click()
    page.wait_for_url(re.compile(r"/hotspots"))
    page.select_option("#m-country", "SV")
    page.locator("form[action='/hotspots'] button[type=submit]").click()
    page.wait_for_url(re.compile(r"country=SV"))
    # Leaflet drew the country outline and every cell of the layer the server computed; the
    # table under the map (its text alternative) lists the most significant of them.
    expect(page.locator("#dash-map.leaflet-container")).to_be_visible()
    drawn = page.locator("#dash-map[data-features]")
    expect(drawn).to_be_attached()
    layer = json.loads(page.locator("#dash-map-data").text_content() or "{}")
    features = layer["layer"]["features"]
    assert len(features) > 0
    assert int(drawn.get_attribute("data-features") or -1) == len(features)
    expect(page.locator("#dash-map .leaflet-overlay-pane path").first).to_be_attached()
    rows = page.locator("#cells-table tbody tr")
    expect(rows.first).to_be_visible()
    listed = {r.inner_text() for r in rows.locator("th").all()}
    assert listed <= {f["properties"]["cell"] for f in features}
    shot(page, "40-hotspot-map")


def test_switch_language(page: Any) -> None:
    sign_in(page)
    expect(page.locator("html")).to_have_attribute("lang", "es")
    page.locator("a.lang-switch").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("h1")).to_have_text(EN("overview_title"))
    shot(page, "50-overview-en")

    # The account setting wins over the browser's Accept-Language (es-SV) on every page.
    page.locator("a.whoami").click()
    page.wait_for_url(re.compile(r"/account"))
    page.select_option("#lang-select", "en")
    page.locator("form[action='/account/language'] button").click()
    page.wait_for_url(re.compile(r"/account"))
    page.goto("/indicators")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("h1")).to_have_text(EN("explorer_title"))
    shot(page, "51-explorer-en-by-setting")


def test_download_a_table(page: Any) -> None:
    sign_in(page, ANALYST)
    page.goto("/indicators?indicator=homicide_rate&country=SV&period=year")
    table = page.locator("main table.data").first
    expect(table).to_be_visible()
    shot(page, "60-explorer-table")
    shown = [r.inner_text() for r in table.locator("tbody tr").all()]
    assert shown

    with page.expect_download() as info:
        page.locator("a[href^='/indicators/download'][href*='format=csv']").click()
    download = info.value
    assert download.suggested_filename == "homicide_rate.csv"
    text = Path(download.path()).read_text(encoding="utf-8-sig")
    records = list(csv.DictReader(io.StringIO(text)))
    # The file holds the table on the page: one row per year, same counts (as the page
    # formats them for Spanish).
    assert len(records) == len(shown)
    for rec, row in zip(records, shown, strict=True):
        assert rec["country"] == "SV" and rec["indicator"] == "homicide_rate"
        assert rec["period"] in row and ES.number(int(rec["count"])) in row, (rec, row)

    with page.expect_download() as info:
        page.locator("a[href^='/indicators/download'][href*='format=xlsx']").click()
    xlsx = info.value
    assert xlsx.suggested_filename == "homicide_rate.xlsx"
    book = load_workbook(io.BytesIO(Path(xlsx.path()).read_bytes()), read_only=True)
    sheet = book.worksheets[0]
    values = list(sheet.iter_rows(values_only=True))
    head = list(values[0])
    counts = [(str(r[head.index("period")]), r[head.index("count")]) for r in values[1:]]
    assert counts == [(r["period"], int(r["count"])) for r in records]


def test_admin_sees_the_audit_trail_and_the_users(page: Any) -> None:
    sign_in(page, ADMIN)
    page.locator("nav a[href='/audit']").click()
    page.wait_for_url(re.compile(r"/audit"))
    page.fill("#a-action", "login")
    page.locator("form[action='/audit'] button[type=submit]:not([name])").click()
    page.wait_for_url(re.compile(r"action=login"))
    trail = page.locator("table.audit tbody tr")
    expect(trail.first).to_be_visible()
    # This very sign-in is on record, under the admin's name.
    actors = {r.locator("td").nth(1).inner_text() for r in trail.all()}
    assert ADMIN in actors, actors
    # The chain verifies (every entry's hash covers the previous one).
    page.locator("form[action='/audit'] button[name=verify]").click()
    expect(page.locator("p.notice-ok[role=status]")).to_be_visible()
    shot(page, "70-audit-trail")

    page.locator("nav a[href='/users']").click()
    page.wait_for_url(re.compile(r"/users"))
    names = {n.split()[0] for n in page.locator("table.users tbody th").all_inner_texts()}
    assert {ADMIN, ANALYST} <= names
    shot(page, "71-users")


def test_analyst_has_no_admin_pages(page: Any) -> None:
    sign_in(page, ANALYST)
    expect(page.locator("nav a[href='/indicators']")).to_have_count(1)
    expect(page.locator("nav a[href='/audit']")).to_have_count(0)
    expect(page.locator("nav a[href='/users']")).to_have_count(0)
    response = page.goto("/users")
    assert response is not None and response.status == 403
    shot(page, "72-analyst-forbidden-users")
