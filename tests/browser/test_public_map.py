"""The public safe-streets map, without login: what the map draws is what the table publishes."""

from __future__ import annotations

import re
from typing import Any

import pytest
from tests.browser.conftest import expect, shot

from safestreets.web.i18n import Translator

pytestmark = pytest.mark.browser

ES, EN = Translator("es"), Translator("en")


def test_public_map_without_login(page: Any) -> None:
    page.goto("/mapa?country=SV&year=2023")
    assert re.search(r"/mapa\?", page.url)  # no detour through the login page
    assert page.locator("html").get_attribute("lang") == "es"
    expect(page.locator("h1")).to_have_text(ES("pm_title"))
    # Anonymous: the navigation offers the login, not the dashboard.
    expect(page.locator("nav a[href='/login']")).to_have_count(1)
    expect(page.locator("nav a[href='/overview']")).to_have_count(0)

    # The vendored Leaflet draws the outlines and one focusable shape per published cell,
    # fetched from /api/v1/public: as many as the cell table (the map's text alternative).
    rows = page.locator("#pm-cells tbody tr")
    published = rows.count()
    assert published >= 1, "the demo store should publish at least one cell for SV 2023"
    cells = page.locator("#pm-map .pm-cell")
    expect(cells).to_have_count(published)
    expect(page.locator("#pm-map .leaflet-overlay-pane path").first).to_be_attached()
    shot(page, "10-public-map-es")

    # Keyboard: Tab-reachable cells open their card with Enter; the card names the same
    # municipality and count as the first row of the table.
    first = rows.first.locator("td")
    municipality, count = first.nth(0).inner_text(), first.nth(2).inner_text()
    labels = [cells.nth(i).get_attribute("aria-label") or "" for i in range(published)]
    best = next(i for i, label in enumerate(labels) if count in label)
    cells.nth(best).focus()
    page.keyboard.press("Enter")
    popup = page.locator(".leaflet-popup-content")
    expect(popup).to_be_visible()
    if municipality != "–":
        expect(popup).to_contain_text(municipality)
    expect(popup).to_contain_text(count)
    shot(page, "11-public-map-cell-card")


def test_public_map_sensitive_category_is_by_department_only(page: Any) -> None:
    page.goto("/mapa?country=SV&year=2023")
    sensitive = page.locator("#pm-category optgroup").nth(1).locator("option").first
    value = sensitive.get_attribute("value")
    assert value
    page.select_option("#pm-category", value)
    page.locator("form.pm-controls button[type=submit]").click()
    page.wait_for_url(re.compile(rf"category={value}"))
    # No map and no cells for a sensitive category: a table by department, and a note saying so.
    expect(page.locator("#pm-map")).to_have_count(0)
    expect(page.locator("#pm-cells")).to_have_count(0)
    expect(page.locator("table.pm-table")).to_have_count(1)
    expect(page.locator("p[role=note]")).to_be_visible()
    shot(page, "12-public-map-sensitive-by-department")


def test_public_map_in_english(page: Any) -> None:
    page.goto("/mapa?country=SV&year=2023")
    page.locator("a.lang-switch").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("h1")).to_have_text(EN("pm_title"))
    # The choice of country and year survives the switch; the map is drawn again.
    expect(page.locator("#pm-country")).to_have_value("SV")
    expect(page.locator("#pm-map .pm-cell").first).to_be_attached()
    shot(page, "13-public-map-en")
