"""The public map page: languages, local assets only, table alternatives, keyboard, no records.

Runs on SQLite and PostgreSQL over the public demo of :mod:`tests.public_data`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from tests.public_data import Planted
from tests.public_data import public_store as _public_store

from safestreets.api.app import create_app
from safestreets.config import Settings
from safestreets.web.pages import STATIC_DIR

TODAY = datetime.now(UTC).date()
URL_RE = re.compile(r"https?://", re.I)


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def public_store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Engine, Planted]]:
    yield from _public_store(request.param, tmp_path_factory, TODAY)


def client_for(engine: Engine, tmp_path: Path, **settings: Any) -> TestClient:
    return TestClient(create_app(Settings(data_dir=tmp_path, **settings), engine))


@pytest.fixture(scope="module")
def client(
    public_store: tuple[Engine, Planted], tmp_path_factory: pytest.TempPathFactory
) -> TestClient:
    return client_for(public_store[0], tmp_path_factory.mktemp("app"))


def page(client: TestClient, url: str, **headers: str) -> str:
    client.cookies.clear()  # a ?lang= choice is remembered in a cookie
    response = client.get(url, headers=headers)
    assert response.status_code == 200, response.text[:500]
    assert response.headers["content-type"].startswith("text/html")
    return response.text


def test_spanish_by_default(client: TestClient) -> None:
    html = page(client, "/mapa?country=GT&year=2024")
    assert '<html lang="es">' in html
    assert "Mapa público de seguridad" in html
    assert "Qué muestra este mapa y qué oculta" in html
    assert "del 1 de enero de 2024 al 31 de diciembre de 2024" in html  # Babel, es
    assert "Se ocultan los conteos de 1 a 4" in html
    assert "Municipio de Guatemala" in html and "Robo" in html
    assert client.get("/mapa").headers["content-language"] == "es"


@pytest.mark.parametrize(
    ("url", "headers"),
    [
        ("/map?country=GT&year=2024&lang=en", {}),
        ("/mapa?country=GT&year=2024", {"Accept-Language": "en-GB,en;q=0.9,es;q=0.4"}),
    ],
)
def test_english(client: TestClient, url: str, headers: dict[str, str]) -> None:
    html = page(client, url, **headers)
    assert '<html lang="en">' in html
    assert "Public safety map" in html and "Mapa público" not in html
    assert "January 1, 2024 to December 31, 2024" in html
    assert "Robbery" in html and "Counts from 1 to 4 incidents are hidden" in html


def test_the_map_has_a_table_alternative_and_a_text_legend(client: TestClient) -> None:
    html = page(client, "/mapa?country=GT&year=2024&lang=en")
    cells = re.search(r'<table class="data" id="pm-cells">.*?</table>', html, re.S)
    assert cells is not None
    rows = re.findall(
        r"<tr><th scope=\"row\" class=\"num\">(\d+)</th>(.*?)</tr>", cells.group(0), re.S
    )
    assert [n for n, _ in rows] == ["1", "2", "3"]  # cells A (12), I (8), H (7)
    first = rows[0][1]
    assert ">12<" in first and "10–19" in first and "Municipio de Guatemala" in first
    assert "Map cells, from most to fewest incidents (the map as a table)</caption>" in html
    # the legend names every class in words next to its pattern: colour is never the only cue
    for band, label in [("b1", "5–9"), ("b2", "10–19"), ("b3", "20–39"), ("b4", "40 or more")]:
        assert f'fill="url(#pm-pat-{band})"' in html
        assert f"{label} incidents" in html
        assert f'<pattern id="pm-pat-{band}"' in html
    # the municipal table, with hidden counts marked in text
    assert "Public incidents by municipality and category, 2024" in html
    assert "× = hidden" in html


def test_a_category_map_marks_hidden_cells_in_text(client: TestClient) -> None:
    html = page(client, "/mapa?country=GT&year=2024&category=robbery&lang=en")
    assert 'fill="url(#pm-pat-hidden)"' in html
    assert "hidden: 1 to 4, or hidden to protect another number" in html
    cells = re.search(r'<table class="data" id="pm-cells">.*?</table>', html, re.S)
    assert cells is not None and '<span class="visually-hidden"> hidden</span>' in cells.group(0)


def test_a_sensitive_category_gets_the_department_table_and_no_map(client: TestClient) -> None:
    html = page(client, "/mapa?country=GT&year=2024&category=sexual_violence&lang=en")
    assert "is a sensitive category: it is published by department or province only" in html
    assert 'id="pm-map"' not in html and "leaflet.js" not in html
    assert "Public incidents of sensitive categories by department or province, 2024" in html
    row = re.search(r"<tr><th scope=\"row\">Guatemala</th>(.*?)</tr>", html, re.S)
    assert row is not None
    assert [c for c in re.findall(r'<td class="num">([^<]*)</td>', row.group(1))] == [
        "8", "0", "6", "14",
    ]  # fmt: skip


def test_keyboard_and_landmarks(client: TestClient) -> None:
    html = page(client, "/mapa?country=GT&year=2024")
    assert 'id="pm-map" class="pm-map" role="region" tabindex="0"' in html
    assert 'aria-describedby="pm-map-keys"' in html and 'id="pm-map-keys"' in html
    assert 'class="skip-link" href="#main"' in html
    for field in ("pm-country", "pm-year", "pm-category"):
        assert f'<label for="{field}">' in html and f'id="{field}"' in html
    assert '<button type="submit">Mostrar</button>' in html
    js = (STATIC_DIR / "public_map.js").read_text(encoding="utf-8")
    assert 'setAttribute("tabindex", "0")' in js and '"Enter"' in js


def _assets(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]+)"', html)


def test_only_local_assets_and_no_tiles_by_default(client: TestClient) -> None:
    html = page(client, "/mapa?country=GT&year=2024")
    assert not URL_RE.search(html)
    for asset in _assets(html):
        assert asset.startswith(("/", "#", "?")), asset
    for asset in ("/static/vendor/leaflet/leaflet.js", "/static/vendor/leaflet/leaflet.css",
                  "/static/public_map.js", "/static/public_map.css",
                  "/static/vendor/leaflet/images/layers.png"):  # fmt: skip
        assert client.get(asset).status_code == 200, asset
        if not asset.endswith(".png"):
            assert asset in html or "images" in asset
    for name in ("public_map.js", "public_map.css"):
        assert not URL_RE.search((STATIC_DIR / name).read_text(encoding="utf-8")), name
    license_text = (STATIC_DIR / "vendor" / "leaflet" / "LICENSE").read_text(encoding="utf-8")
    assert "BSD 2-Clause" in license_text
    assert '"tileUrl": null' in html
    csp = client.get("/mapa?country=GT&year=2024").headers["content-security-policy"]
    assert "script-src 'self'" in csp and "connect-src 'self'" in csp and "https:" not in csp


def test_a_configured_tile_layer_is_the_only_url(
    public_store: tuple[Engine, Planted], tmp_path: Path
) -> None:
    tiles = "https://tiles.example.org/{z}/{x}/{y}.png"
    client = client_for(
        public_store[0], tmp_path, map_tile_url=tiles, map_tile_attribution="Example tiles"
    )
    html = page(client, "/mapa?country=GT&year=2024&lang=en")
    assert URL_RE.findall(html) == ["https://"]
    assert '"tileUrl": "https://tiles.example.org/{z}/{x}/{y}.png"' in html
    assert "Background map: Example tiles." in html
    csp = client.get("/mapa?country=GT&year=2024").headers["content-security-policy"]
    assert "img-src 'self' data: https://tiles.example.org" in csp


def test_the_page_holds_no_record(client: TestClient, public_store: tuple[Engine, Planted]) -> None:
    _, planted = public_store
    for url in ("/mapa?country=GT&year=2024", "/mapa?country=SV&year=2023&lang=en",
                "/mapa?country=GT&year=2024&category=domestic_violence"):  # fmt: skip
        html = page(client, url)
        assert "street of" not in html and "PLANTED" not in html and "SYNTHETIC-DEMO" not in html
        assert not any(rid in html for rid in planted.source_record_ids)
        # coordinates appear only as cell centres, to 3 decimals
        for lat, lon in re.findall(r"(-?\d+,\d+), (-?\d+,\d+)</td>", html):
            assert len(lat.split(",")[1]) <= 3 and len(lon.split(",")[1]) <= 3


def test_synthetic_data_are_marked(client: TestClient) -> None:
    assert "SINTÉTICO" in page(client, "/mapa?country=SV&year=2023")
    assert "SINTÉTICO" not in page(client, "/mapa?country=GT&year=2024")


def test_errors_render_as_pages(client: TestClient) -> None:
    response = client.get("/mapa?country=GT&category=nope")
    assert response.status_code == 400 and "unknown category" in response.text
    assert "<html" in response.text
    recent = client.get(f"/mapa?country=GT&year={TODAY.year}")
    assert recent.status_code == 400 and "not published yet" in recent.text


def test_linked_from_the_navigation(client: TestClient) -> None:
    # The navigation of base.html, on every page.
    html = page(client, "/mapa?lang=en")
    assert re.search(r'<a href="/mapa[^"]*"\s*aria-current="page"', html)
