"""The dashboard pages: both languages, role gating, offline assets, table alternatives,
downloads, and what the figures are made of."""

from __future__ import annotations

import io
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.web.conftest import World, signed

from safestreets.store import tables
from safestreets.web.base import STATIC_DIR
from safestreets.web.session import LANG_COOKIE

URL_RE = re.compile(r"https?://", re.I)
#: Every dashboard page, with a word that only its Spanish and its English version has.
PAGES = {
    "/overview": ("Indicadores clave por país", "Key indicators by country"),
    "/indicators": ("Explorador de indicadores", "Indicator explorer"),
    "/hotspots?kind=counts&cell=10000": ("Mapa de análisis", "Analysis map"),
    "/upload": ("Cargar y validar", "Upload and validate"),
    "/audit": ("Registro de auditoría", "Audit trail"),
    "/users": ("Cuentas de SV-PNC", "Accounts of SV-PNC"),
    "/account": ("Mi cuenta", "My account"),
    "/login": ("Iniciar sesión", "Sign in"),
}


@pytest.fixture(scope="module")
def admin_m(world: World) -> TestClient:
    return signed(world, "admin.sv")


@pytest.fixture(scope="module")
def viewer_m(world: World) -> TestClient:
    return signed(world, "viewer.sv")


def html_of(client: TestClient, url: str, **headers: str) -> str:
    r = client.get(url, headers=headers)
    assert r.status_code == 200, (url, r.status_code, r.text[:300])
    assert r.headers["content-type"].startswith("text/html")
    return r.text


@pytest.mark.parametrize("url", list(PAGES))
def test_every_page_in_spanish_and_english(admin_m: TestClient, anon: TestClient, url: str) -> None:
    client = anon if url == "/login" else admin_m
    es_word, en_word = PAGES[url]
    spanish = html_of(client, url, **{"Accept-Language": "es"})
    assert '<html lang="es">' in spanish and es_word in spanish and en_word not in spanish
    english = html_of(client, url, **{"Accept-Language": "en-US,en;q=0.9"})
    assert '<html lang="en">' in english and en_word in english and es_word not in english
    sep = "&" if "?" in url else "?"
    by_switch = html_of(client, f"{url}{sep}lang=en", **{"Accept-Language": "es"})
    assert '<html lang="en">' in by_switch and en_word in by_switch
    # The switch became the user's setting: it now beats the browser's language.
    assert '<html lang="en">' in html_of(client, url, **{"Accept-Language": "es"})
    client.cookies.delete(LANG_COOKIE)


def test_pages_have_no_external_urls_and_a_strict_csp(admin_m: TestClient) -> None:
    for url in PAGES:
        if url == "/login":
            continue
        r = admin_m.get(url)
        assert not URL_RE.search(r.text), url
        csp = r.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp, url
        assert r.headers["cache-control"] == "no-store"
        for ref in re.findall(r'(?:src|href)="([^"]+)"', r.text):
            assert ref.startswith(("/", "#", "data:image/svg+xml;base64,")), (url, ref)


def test_own_static_files_reach_nothing_outside(anon: TestClient) -> None:
    for name in ("safestreets.css", "dashboard_map.js"):
        r = anon.get(f"/static/{name}")
        assert r.status_code == 200
        assert not URL_RE.search(r.text), name
    # The vendored Leaflet carries its site in comments and the SVG namespace, but fetches
    # nothing: no url() leaves the package and its images are here.
    css = (STATIC_DIR / "vendor" / "leaflet" / "leaflet.css").read_text()
    assert not re.search(r"url\(\s*['\"]?https?:", css)
    for image in re.findall(r"url\(\s*['\"]?(images/[^)'\"]+)", css):
        assert (STATIC_DIR / "vendor" / "leaflet" / image).is_file()


def test_a_viewer_has_no_upload_audit_or_user_admin(viewer_m: TestClient) -> None:
    nav = html_of(viewer_m, "/overview")
    assert 'href="/overview"' in nav and 'href="/indicators"' in nav
    for url in ("/upload", "/audit", "/users"):
        assert f'href="{url}"' not in nav
        r = viewer_m.get(url)
        assert r.status_code == 403 and "Sin permiso" in r.text, url
    r = viewer_m.get("/indicators/download?indicator=homicide_rate&format=csv")
    assert r.status_code == 403
    assert "Las descargas requieren" in html_of(viewer_m, "/indicators")


def test_an_admin_without_a_reading_role_sees_no_figures(world: World) -> None:
    boss = signed(world, "boss.sv")
    html = html_of(boss, "/overview")
    assert "Su cuenta no tiene un rol que lea datos" in html
    assert "<table" not in html
    nav = html_of(boss, "/users")
    assert 'href="/audit"' in nav and 'href="/upload"' in nav
    # The explorer gives it what the public gets: PUBLIC records, disclosure-controlled.
    explorer = html_of(boss, "/indicators?indicator=homicide_count&area=country&period=year")
    assert "Tabla pública:" in explorer and "Las descargas requieren" in explorer


def test_overview_figures_follow_the_access_rules(admin_m: TestClient, world: World) -> None:
    html = html_of(admin_m, "/overview")
    rows = re.findall(r"<tr>\s*<th scope=\"row\">(.*?)</tr>", html, re.S)
    own = [r for r in rows if "El Salvador" in r]
    other = [r for r in rows if "Belice" in r]
    assert own and "nacionales (su país)" in own[0]
    assert other and "solo compartidos regionalmente" in other[0]
    t = tables.audit_log
    with world.engine.connect() as conn:
        queries = conn.execute(
            select(t.c.action).where(t.c.actor == "admin.sv", t.c.action == "query:aggregates")
        ).all()
    assert len(queries) >= 3  # one per indicator, audited


def test_charts_and_maps_have_table_alternatives(admin_m: TestClient) -> None:
    overview = html_of(admin_m, "/overview")
    sparks = re.findall(r'<svg class="spark" role="img"[^>]*><title>([^<]+)</title>', overview)
    assert sparks and all("valores en la tabla" in s for s in sparks)
    assert overview.count('<details class="table-alt">') == 3
    assert overview.count("<caption>") >= 6

    explorer = html_of(admin_m, "/indicators?indicator=homicide_rate&area=country&period=year")
    assert '<figure class="chart">' in explorer
    assert 'src="data:image/svg+xml;base64,' in explorer
    assert 'href="#result-table"' in explorer and 'id="result-table"' in explorer

    for kind in ("gistar", "kde", "counts"):
        page = html_of(admin_m, f"/hotspots?kind={kind}&cell=5000")
        assert 'id="dash-map"' in page and 'href="#cells-table"' in page
        assert 'id="cells-table"' in page, kind
        assert re.search(r'<script type="application/json" id="dash-map-data">\{', page)
    gistar = html_of(admin_m, "/hotspots?kind=gistar&cell=5000")
    # Class in words and a shape, never colour alone.
    assert "▲</span> punto caliente" in gistar


def test_explorer_breakdowns_and_filters(admin_m: TestClient) -> None:
    html = html_of(
        admin_m,
        "/indicators?indicator=homicide_count&area=country&period=year&breakdown=sex&country=SV",
    )
    table = re.search(r'<table class="data" id="result-table">(.*?)</table>', html, re.S)
    assert table is not None
    body = table.group(1)
    assert "El Salvador" in body and "Belice" not in body
    assert ">Sexo<" in body
    # An option the indicator does not have is dropped, not an error.
    html = html_of(admin_m, "/indicators?indicator=homicide_rate&breakdown=nonsense")
    assert 'id="result-table"' in html


def test_explorer_reports_bad_dates_on_the_page(admin_m: TestClient) -> None:
    html = html_of(admin_m, "/indicators?indicator=homicide_rate&from=2023&to=2022")
    assert 'role="alert"' in html and "from is after to" in html


@pytest.mark.parametrize(
    ("fmt", "content_type"),
    [
        ("csv", "text/csv; charset=utf-8"),
        ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ],
)
def test_downloads(admin_m: TestClient, world: World, fmt: str, content_type: str) -> None:
    url = f"/indicators/download?indicator=homicide_rate&area=country&period=year&format={fmt}"
    r = admin_m.get(url)
    assert r.status_code == 200
    assert r.headers["content-type"] == content_type
    assert r.headers["content-disposition"] == f'attachment; filename="homicide_rate.{fmt}"'
    if fmt == "csv":
        text = r.content.decode("utf-8-sig")
        header = text.splitlines()[0].split(",")
        assert header[:3] == ["indicator", "area", "area_name"]
        assert "rate_per_100k" in header
        assert {line.split(",")[1] for line in text.splitlines()[1:]} == {"BZ", "SV"}
    else:
        from openpyxl import load_workbook

        wb = load_workbook(io.BytesIO(r.content))
        assert wb.sheetnames == ["data", "about"]
        assert wb["data"]["A1"].value == "indicator"
    t = tables.audit_log
    with world.engine.connect() as conn:
        exports = conn.execute(
            select(t.c.detail).where(t.c.actor == "admin.sv", t.c.action == "export")
        ).all()
    assert any(f'"format":"{fmt}"' in row.detail for row in exports)


def test_unknown_page_and_errors_are_html(admin_m: TestClient) -> None:
    r = admin_m.get("/no-such-page")
    assert r.status_code == 404 and "Página no encontrada" in r.text
