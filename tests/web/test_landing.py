"""The landing page: languages, tables, the synthetic badge, the empty store, static assets."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from safestreets.api.app import create_app
from safestreets.config import Settings
from safestreets.reference.iccs import iccs_name
from safestreets.store.engine import get_engine
from safestreets.web.i18n import STRINGS, Translator, negotiate


def page(client: TestClient, url: str = "/", **headers: str) -> str:
    response = client.get(url, headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    return response.text


def test_spanish_by_default(client: TestClient) -> None:
    html = page(client)
    assert '<html lang="es">' in html
    assert "Registros por país" in html
    assert "Guatemala" in html and "Belice" in html and "El Salvador" in html
    assert iccs_name("01", "es") in html
    assert "Sin código ICCS" in html
    assert "12.345" in html  # rows read, Spanish grouping
    assert "del 5 de enero de 2024 al 9 de marzo de 2024" in html
    assert client.get("/").headers["content-language"] == "es"


@pytest.mark.parametrize(
    ("url", "headers"),
    [
        ("/?lang=en", {}),
        ("/", {"Accept-Language": "en"}),
        ("/", {"Accept-Language": "en-US,en;q=0.9,es;q=0.5"}),
    ],
)
def test_english(client: TestClient, url: str, headers: dict[str, str]) -> None:
    html = page(client, url, **headers)
    assert '<html lang="en">' in html
    assert "Records by country" in html
    assert "Belize" in html and "Belice" not in html
    assert iccs_name("01", "en") in html
    assert "12,345" in html
    assert "SYNTHETIC" in html and "SINTÉTICO" not in html


def test_query_overrides_accept_language(client: TestClient) -> None:
    assert '<html lang="es">' in page(client, "/?lang=es", **{"Accept-Language": "en"})


def test_tables_are_accessible(client: TestClient) -> None:
    html = page(client)
    assert html.count("<caption>") == 4  # country, source, section, batches
    assert 'scope="col"' in html and 'scope="row"' in html
    assert "<nav" in html and 'aria-label="Navegación principal"' in html


def test_synthetic_source_has_a_text_badge(client: TestClient) -> None:
    html = page(client)
    row = re.search(r"<tr class=\"synthetic\">.*?</tr>", html, re.S)
    assert row is not None
    assert "demo-synth" in row.group(0) and "SINTÉTICO" in row.group(0)
    real = re.search(r"<tr><th scope=\"row\">PNC-GT</th>.*?</tr>", html, re.S)
    assert real is not None and "SINTÉTICO" not in real.group(0)


def test_values_are_escaped(client: TestClient) -> None:
    html = page(client)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html


def test_empty_database_message(empty_client: TestClient) -> None:
    html = page(empty_client)
    assert "Aún no hay datos" in html
    assert "safestreets demo" in html and "safestreets ingest FILE --profile NAME" in html
    assert "<table" not in html
    assert "No data yet" in page(empty_client, "/?lang=en")


def test_not_initialised_database_page(tmp_path: Path) -> None:
    engine = get_engine(f"sqlite:///{tmp_path}/never.sqlite")
    response = TestClient(create_app(Settings(data_dir=tmp_path), engine)).get("/")
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("text/html")
    assert "safestreets init" in response.text


def test_unknown_page_is_html_404(empty_client: TestClient) -> None:
    response = empty_client.get("/no-such-page")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "Página no encontrada" in response.text


def test_static_css_is_served(empty_client: TestClient) -> None:
    html = page(empty_client)
    href = re.search(r'<link rel="stylesheet" href="([^"]+)"', html)
    assert href is not None and href.group(1).endswith("/static/safestreets.css")
    response = empty_client.get("/static/safestreets.css")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/css")
    assert ".badge-synthetic" in response.text
    assert "http://" not in response.text and "https://" not in response.text  # works offline


@pytest.mark.parametrize(
    ("query", "header", "expected"),
    [
        (None, None, "es"),
        ("en", None, "en"),
        ("EN", "es", "en"),
        ("fr", None, "es"),
        (None, "fr-FR, en;q=0.5", "en"),
        (None, "es;q=0.2, en;q=0.8", "en"),
        (None, "en;q=0, es", "es"),
        (None, "de", "es"),
        (None, "es-GT,es;q=0.9,en;q=0.8", "es"),
    ],
)
def test_negotiate(query: str | None, header: str | None, expected: str) -> None:
    assert negotiate(query, header) == expected


def test_every_string_has_both_languages() -> None:
    assert all(set(entry) == {"es", "en"} for entry in STRINGS.values())


def test_numbers_follow_the_locale() -> None:
    assert Translator("es").number(1234567) == "1.234.567"
    assert Translator("en").number(1234567) == "1,234,567"
