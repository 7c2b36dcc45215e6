"""The public API: only disclosure-controlled aggregates of PUBLIC incidents ever leave.

Runs on SQLite and PostgreSQL over a small synthetic demo plus planted clusters
(:mod:`tests.public_data`).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from tests.public_data import GT_CITY, MIXCO, POINTS, Planted
from tests.public_data import public_store as _public_store

from safestreets.access.audit import verify
from safestreets.api.app import create_app
from safestreets.config import Settings
from safestreets.spatial.public import cell_labels
from safestreets.stats import public as rules
from safestreets.store.public import aggregate_public

K = 5
TODAY = datetime.now(UTC).date()

#: Every key a public JSON response may hold, at any depth.
ALLOWED_KEYS = frozenset(
    {
        # options
        "k", "delay_days", "published_through", "cell_m", "coordinate_decimals", "countries",
        "categories", "statement", "code", "name", "years", "id", "sensitive", "finest_level",
        "on_map",
        # area tables
        "country", "country_name", "year", "level", "category", "period_start", "period_end",
        "rows", "admin1", "admin1_name", "hidden", "total", "population", "rate_per_100k",
        "values", "count", "hidden_rows", "hidden_values", "synthetic",
        # GeoJSON
        "type", "features", "geometry", "coordinates", "properties", "category_name", "bands",
        "label", "low", "high", "cells", "cells_shown", "incidents_shown", "cell", "band",
        "band_label", "municipality", "department", "kind",
    }
)  # fmt: skip
#: Record-level fields: none may appear anywhere (a subset of what ALLOWED_KEYS rules out).
RECORD_FIELDS = frozenset(
    {
        "incident_id", "source", "source_record_id", "occurred_at", "occurred_precision",
        "reported_at", "local_category", "locality", "lon", "lat", "location_precision",
        "place_type", "weapon", "context", "victim_count", "owner_agency", "handling_code",
        "batch_id", "victims", "victim_no", "sex", "age", "age_band", "iccs_code",
    }
)  # fmt: skip


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


@pytest.fixture(scope="module")
def responses(client: TestClient) -> list[tuple[str, Any]]:
    """Every public response, collected once per backend."""
    return list(every_public_response(client))


def get(client: TestClient, url: str) -> Any:
    response = client.get(url)
    assert response.status_code == 200, response.text
    return response.json()


def walk(value: Any, path: str = "") -> Iterator[tuple[str, str | None, Any]]:
    """Every (path, key, value) of a JSON document."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield f"{path}.{key}", key, item
            yield from walk(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield f"{path}[{i}]", None, item
            yield from walk(item, f"{path}[{i}]")


def every_public_response(client: TestClient) -> Iterator[tuple[str, Any]]:
    """Every public route, for every published country and year, category and language."""
    yield "/api/v1/public/outlines", get(client, "/api/v1/public/outlines")
    for lang in ("es", "en"):
        options = get(client, f"/api/v1/public/options?lang={lang}")
        yield f"options {lang}", options
        for country in options["countries"]:
            for year in country["years"]:
                q = f"country={country['code']}&year={year}&lang={lang}"
                urls = [f"/api/v1/public/municipalities?{q}", f"/api/v1/public/departments?{q}",
                        f"/api/v1/public/hotspots?{q}"]  # fmt: skip
                for cat in rules.categories():
                    route = "departments" if cat.sensitive else "municipalities"
                    urls.append(f"/api/v1/public/{route}?{q}&category={cat.id}")
                    if not cat.sensitive:
                        urls.append(f"/api/v1/public/hotspots?{q}&category={cat.id}")
                for url in urls:
                    yield url, get(client, url)


def test_no_public_response_holds_a_record_level_field(
    responses: list[tuple[str, Any]], public_store: tuple[Engine, Planted]
) -> None:
    _, planted = public_store
    record_ids = set(planted.source_record_ids)
    seen = 0
    for url, body in responses:
        seen += 1
        for path, key, value in walk(body):
            if key is not None:
                assert key in ALLOWED_KEYS, f"{url}: unexpected key {path}"
                assert key not in RECORD_FIELDS, f"{url}: record field {path}"
            if isinstance(value, str):
                assert value not in record_ids, f"{url}: a record id at {path}"
                assert "PLANTED" not in value and "SYNTHETIC-DEMO" not in value, f"{url}: {path}"
                assert "street of" not in value, f"{url}: a locality at {path}"
    assert seen > 60


def test_no_published_count_below_k(responses: list[tuple[str, Any]]) -> None:
    for url, body in responses:
        for path, key, value in walk(body):
            if key in ("count", "total", "incidents_shown") and value is not None:
                assert value == 0 or value >= K, f"{url}: {path} = {value}"
        if body.get("type") == "FeatureCollection" and "bands" in body:
            for f in body["features"]:
                p = f["properties"]
                assert (p["count"] is None) == p["hidden"], url
                assert p["hidden"] or p["count"] >= K, url
        for row in body.get("rows", []):
            if row["hidden"]:
                assert row["total"] is None and all(v["count"] is None for v in row["values"])
            hidden = [v for v in row["values"] if v["hidden"]]
            if body["category"] is None:  # every category listed
                # A lone hidden count would be the row total minus the others.
                assert len(hidden) != 1 or row["total"] is None, f"{url}: {row['code']}"


def test_coordinates_have_at_most_four_decimals_and_only_cells_are_drawn(
    responses: list[tuple[str, Any]],
) -> None:
    for url, body in responses:
        for f in body.get("features", []):
            for _, _, value in walk(f["geometry"]["coordinates"]):
                if isinstance(value, float):
                    assert round(value, 4) == value, f"{url}: {value}"
            if "hotspots" in url:
                assert f["geometry"]["type"] == "Polygon"
                ring = f["geometry"]["coordinates"][0]
                assert len(ring) == 5 and ring[0] == ring[-1]


def cell(name: str) -> str:
    """The label of the 500 m cell of a planted cluster."""
    lon, lat = POINTS[name]
    return cell_labels([lon], [lat], country="GT", cell_m=500)[0]


def test_the_planted_public_clusters_show_as_expected(client: TestClient) -> None:
    label = {name: cell(name) for name in POINTS}
    every = get(client, "/api/v1/public/hotspots?country=GT&year=2024")
    cells = {f["id"]: f["properties"] for f in every["features"]}
    assert cells[label["A"]]["count"] == 12 and cells[label["A"]]["band_label"] == "10–19"
    assert cells[label["A"]]["municipality"] == "Municipio de Guatemala"
    assert cells[label["I"]]["count"] == 8  # 6 robberies + 2 thefts
    assert label["B"] not in cells  # 3 thefts: below k, not drawn at all
    assert label["F"] not in cells  # sensitive only: never on the map
    robbery = get(client, "/api/v1/public/hotspots?country=GT&year=2024&category=robbery")
    rob = {f["id"]: f["properties"] for f in robbery["features"]}
    assert rob[label["A"]]["count"] == 12
    # 2 thefts hidden, so the 6 robberies of the same cell are hidden too (8 - 6 = 2).
    assert rob[label["I"]] | {"band_label": None} == {
        "cell": label["I"], "count": None, "hidden": True, "band": "hidden", "band_label": None,
        "municipality": "Municipio de Guatemala", "department": "Guatemala",
    }  # fmt: skip
    table = get(client, "/api/v1/public/municipalities?country=GT&year=2024&category=robbery")
    city = next(r for r in table["rows"] if r["code"] == GT_CITY)
    assert city["values"] == [
        {"category": "robbery", "count": 18, "rate_per_100k": None, "hidden": False}
    ]
    assert city["total"] == 30  # robberies 12 + 6, thefts 3 + 7 + 2
    assert table["synthetic"] is False
    assert get(client, "/api/v1/public/municipalities?country=SV&year=2023")["synthetic"] is True


def test_non_public_records_never_contribute(
    client: TestClient, responses: list[tuple[str, Any]], public_store: tuple[Engine, Planted]
) -> None:
    labels = {cell(n) for n in "CDE"}
    for url, body in responses:
        if "country=GT" not in url:
            continue
        for f in body.get("features", []):
            assert f["id"] not in labels, url
        for row in body.get("rows", []):
            if row["code"] == MIXCO:  # the 60 non-public robberies were all recorded there
                assert row["total"] == 0, url
    # Control: the same cluster, once PUBLIC, does show (the check above can fail).
    engine, _ = public_store
    c_cell = cell("C")
    flip = "UPDATE incident SET handling_code = :code WHERE source_record_id LIKE 'C-%'"
    with engine.begin() as conn:
        conn.execute(text(flip), {"code": "PUBLIC"})
    try:
        shown = get(client, "/api/v1/public/hotspots?country=GT&year=2024")
        assert {f["id"]: f["properties"]["count"] for f in shown["features"]}[c_cell] == 20
    finally:
        with engine.begin() as conn:
            conn.execute(text(flip), {"code": "NATIONAL"})


def test_nothing_newer_than_the_delay(
    client: TestClient,
    responses: list[tuple[str, Any]],
    public_store: tuple[Engine, Planted],
    tmp_path: Path,
) -> None:
    engine, planted = public_store
    g_cell = cell("G")
    recent_year = planted.recent_day.year
    options = get(client, "/api/v1/public/options")
    assert options["delay_days"] == 30
    assert options["published_through"] == (TODAY - timedelta(days=30)).isoformat()
    gt = next(c for c in options["countries"] if c["code"] == "GT")
    assert gt["years"] == [2024]  # the recent cluster's year is not published
    for url, body in responses:
        for f in body.get("features", []):
            assert f["id"] != g_cell, url
    for route in ("municipalities", "departments", "hotspots"):
        response = client.get(f"/api/v1/public/{route}?country=GT&year={recent_year}")
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "not_publishable"
        assert "30 days" in response.json()["error"]["message"]
    # A longer delay holds 2024 back too.
    longer = (TODAY - date(2024, 12, 31)).days + 1
    held = client_for(engine, tmp_path, public_delay_days=longer)
    gt = next(c for c in get(held, "/api/v1/public/options")["countries"] if c["code"] == "GT")
    assert gt["years"] == []
    assert held.get("/api/v1/public/hotspots?country=GT&year=2024").status_code == 400
    latest = get(held, "/api/v1/public/hotspots?country=GT")  # the latest published year
    assert latest["year"] == 2023 and latest["features"] == []


@pytest.mark.parametrize(
    ("through", "thefts"), [(date(2024, 6, 14), 3 + 2), (date(2024, 6, 15), 3 + 2 + 7)]
)
def test_the_store_cuts_at_the_last_publishable_day(
    public_store: tuple[Engine, Planted], through: date, thefts: int
) -> None:
    engine, _ = public_store

    def count(records: Any) -> Any:
        return records.with_columns(rules.classify()).group_by("category").len("count")

    out = aggregate_public(engine, country="GT", year=2024, through=through, reduce=count)
    assert dict(out.rows())["theft"] == thefts


def test_each_public_read_is_audited(
    client: TestClient, public_store: tuple[Engine, Planted]
) -> None:
    engine, _ = public_store
    count = "SELECT count(*) FROM audit_log WHERE action = 'query:public_map'"
    with engine.connect() as conn:
        before = conn.execute(text(count)).scalar_one()
    get(client, "/api/v1/public/hotspots?country=GT&year=2024")
    with engine.connect() as conn:
        assert conn.execute(text(count)).scalar_one() == before + 1
        actor, agency, detail = conn.execute(
            text(
                "SELECT actor, agency, detail FROM audit_log "
                "WHERE action = 'query:public_map' ORDER BY seq DESC LIMIT 1"
            )
        ).one()
    assert actor == "public" and agency is None
    assert '"country":"GT"' in detail.replace(" ", "") and '"year":2024' in detail.replace(" ", "")
    assert verify(engine).ok


def test_the_store_lets_only_counts_out(public_store: tuple[Engine, Planted]) -> None:
    engine, _ = public_store
    with pytest.raises(Exception, match="must return counts"):
        aggregate_public(
            engine, country="GT", year=2024, through=TODAY, reduce=lambda records: records
        )
    with pytest.raises(Exception, match="must return counts"):
        aggregate_public(
            engine,
            country="GT",
            year=2024,
            through=TODAY,
            reduce=lambda r: r.group_by("lon").len("count"),
        )


def test_sensitive_categories_only_by_department(client: TestClient) -> None:
    for cat in ("sexual_violence", "domestic_violence", "trafficking"):
        for route in ("municipalities", "hotspots"):
            response = client.get(f"/api/v1/public/{route}?country=GT&year=2024&category={cat}")
            assert response.status_code == 400, route
            error = response.json()["error"]
            assert error["code"] == "not_publishable"
            assert "sensitive" in error["message"] and "department" in error["message"]
            assert "/api/v1/public/departments" in error["hint"]
    refused = client.get("/api/v1/public/departments?country=GT&year=2024&category=robbery")
    assert refused.status_code == 400
    departments = get(client, "/api/v1/public/departments?country=GT&year=2024&lang=en")
    assert departments["level"] == "admin1"
    assert [c["id"] for c in departments["categories"]] == [
        "sexual_violence",
        "trafficking",
        "domestic_violence",
    ]
    gt01 = next(r for r in departments["rows"] if r["code"] == "GT-01")
    assert gt01["name"] == "Guatemala" and gt01["total"] == 14
    assert {v["category"]: v["count"] for v in gt01["values"]} == {
        "sexual_violence": 8,
        "trafficking": 0,
        "domestic_violence": 6,
    }
    # The municipal table holds no sensitive category, and the domestic assaults are not
    # counted as assaults there.
    table = get(client, "/api/v1/public/municipalities?country=GT&year=2024")
    assert all(not c["sensitive"] for c in table["categories"])
    city = next(r for r in table["rows"] if r["code"] == GT_CITY)
    assert {v["category"]: v["count"] for v in city["values"]}["assault"] == 0


def test_rates_where_a_population_is_loaded(
    public_store: tuple[Engine, Planted], tmp_path: Path
) -> None:
    engine, _ = public_store
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO population (country, admin1, admin2, year, population, source) "
                "VALUES ('GT', 'GT-01', :a2, 2024, 1000000, 'test')"
            ),
            {"a2": GT_CITY},
        )
    try:
        table = get(
            client_for(engine, tmp_path), "/api/v1/public/municipalities?country=GT&year=2024"
        )
        city = next(r for r in table["rows"] if r["code"] == GT_CITY)
        assert city["population"] == 1_000_000 and city["rate_per_100k"] == 3.0
        robbery = next(v for v in city["values"] if v["category"] == "robbery")
        assert robbery["rate_per_100k"] == 1.8
        assert all(v["rate_per_100k"] is None for v in city["values"] if v["hidden"])
        other = next(r for r in table["rows"] if r["code"] == MIXCO)
        assert other["rate_per_100k"] is None  # no population: counts only
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM population WHERE source = 'test'"))


def test_errors_use_the_envelope(client: TestClient) -> None:
    for url, status, code in [
        ("/api/v1/public/municipalities?country=XX", 400, "unknown_reference"),
        ("/api/v1/public/municipalities?country=GT&category=murder", 400, "input_error"),
        ("/api/v1/public/hotspots?country=GT&lang=fr", 422, "invalid_request"),
        ("/api/v1/public/hotspots", 422, "invalid_request"),
    ]:
        response = client.get(url)
        assert response.status_code == status, url
        body = response.json()
        assert set(body) == {"error"} and body["error"]["code"] == code, url


def test_routes_have_stable_operation_ids(client: TestClient) -> None:
    spec = get(client, "/openapi.json")
    ops = {
        op["operationId"]: path
        for path, methods in spec["paths"].items()
        for op in methods.values()
        if path.startswith("/api/v1/public")
    }
    assert ops == {
        "public_options": "/api/v1/public/options",
        "public_municipalities": "/api/v1/public/municipalities",
        "public_departments": "/api/v1/public/departments",
        "public_hotspots": "/api/v1/public/hotspots",
        "public_outlines": "/api/v1/public/outlines",
    }
    hot = client.get("/api/v1/public/hotspots?country=GT&year=2024")
    assert hot.headers["content-type"].startswith("application/geo+json")


def test_outlines_are_the_reference_outlines_and_points(client: TestClient) -> None:
    body = get(client, "/api/v1/public/outlines?lang=en")
    kinds = [f["properties"]["kind"] for f in body["features"]]
    assert kinds.count("country") == 7
    assert kinds.count("admin1") > 90
    belize = next(f for f in body["features"] if f["id"] == "BZ")
    assert belize["properties"]["name"] == "Belize"
    assert belize["geometry"]["type"] in ("Polygon", "MultiPolygon")
    assert client.get("/api/v1/public/outlines").headers["cache-control"].startswith("public")
