"""The JSON API: health, summary and the one error envelope."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from safestreets import __version__
from safestreets.access.accounts import add_agency, add_user, create_token
from safestreets.access.policy import Principal
from safestreets.api.app import create_app
from safestreets.config import Settings
from safestreets.reference.iccs import iccs_name
from safestreets.store.engine import get_engine
from safestreets.store.migrate import head_revision
from safestreets.store.reads import summary

ENVELOPE_KEYS = {"code", "message", "hint"}


def client_for(engine: Engine, tmp_path: Path) -> TestClient:
    return TestClient(create_app(Settings(data_dir=tmp_path), engine))


@pytest.fixture
def fresh_engine(tmp_path: Path) -> Engine:
    """A database file that was never initialised."""
    return get_engine(f"sqlite:///{tmp_path}/never-initialised.sqlite")


def assert_envelope(response, status: int, code: str) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == ENVELOPE_KEYS
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body["error"]


# --- health ------------------------------------------------------------------------------


def test_health_ok(seeded: tuple[Engine, dict[str, int]], tmp_path: Path) -> None:
    engine, _ = seeded
    response = client_for(engine, tmp_path).get("/api/v1/health")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "version": __version__,
        "database": engine.dialect.name,
        "schema_revision": head_revision(),
        "incidents": 5,
    }


def test_health_empty_database(backend: Engine, tmp_path: Path) -> None:
    body = client_for(backend, tmp_path).get("/api/v1/health").json()
    assert body["status"] == "ok"
    assert body["incidents"] == 0


def test_health_degraded_when_not_initialised(fresh_engine: Engine, tmp_path: Path) -> None:
    response = client_for(fresh_engine, tmp_path).get("/api/v1/health")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert body["database"] == "sqlite"
    assert body["version"] == __version__
    assert set(body["error"]) == ENVELOPE_KEYS
    assert body["error"]["code"] == "store_error"
    assert "safestreets init" in body["error"]["hint"]


def test_health_degraded_when_unreachable(tmp_path: Path) -> None:
    # A directory where the database file should be: SQLite cannot open it.
    (tmp_path / "db.sqlite").mkdir()
    engine = get_engine(f"sqlite:///{tmp_path}/db.sqlite")
    response = client_for(engine, tmp_path).get("/api/v1/health")
    assert response.status_code == 503
    assert response.json()["status"] == "degraded"
    assert response.json()["error"]["code"] == "store_error"


# --- summary -----------------------------------------------------------------------------


def test_summary_counts(seeded: tuple[Engine, dict[str, int]]) -> None:
    engine, ids = seeded
    s = summary(engine)
    assert s.incidents == 5
    assert [(r.country, r.count) for r in s.by_country] == [("GT", 3), ("BZ", 1), ("SV", 1)]
    assert [(r.section, r.count) for r in s.by_section] == [
        ("01", 2),
        ("02", 1),
        ("05", 1),
        ("unmapped", 1),
    ]
    first = s.by_section[0]
    assert (first.name_es, first.name_en) == (iccs_name("01", "es"), iccs_name("01", "en"))
    assert (s.by_section[-1].name_es, s.by_section[-1].name_en) == (None, None)
    assert [(r.source, r.synthetic, r.count) for r in s.by_source] == [
        ("PNC-GT", False, 3),
        ("demo", True, 2),
    ]
    assert s.occurred_min == datetime(2023, 12, 31, 23, 30, tzinfo=UTC)
    assert s.occurred_max == datetime(2024, 1, 31, 18, tzinfo=UTC)
    assert (s.batches, s.count_rows, s.population_rows) == (3, 1, 2)
    assert [b.batch_id for b in s.latest_batches] == [ids["counts"], ids["demo"], ids["real"]]
    real = s.latest_batches[2]
    assert (real.source, real.file_name, real.synthetic, real.kind) == (
        "PNC-GT",
        "pnc_2024.csv",
        False,
        "incidents",
    )
    assert (real.rows_read, real.rows_loaded, real.rows_rejected, real.rows_duplicate) == (
        12345,
        3,
        12341,
        1,
    )
    assert real.finished_at == datetime(2024, 2, 1, 12, tzinfo=UTC)
    assert s.latest_batches[0].finished_at is None
    assert s.latest_batches[1].synthetic is True
    assert [b.batch_id for b in summary(engine, latest=1).latest_batches] == [ids["counts"]]


def test_summary_empty(backend: Engine) -> None:
    s = summary(backend)
    assert s.incidents == 0
    assert s.by_country == s.by_section == s.by_source == s.latest_batches == []
    assert s.occurred_min is None and s.occurred_max is None
    assert (s.batches, s.count_rows, s.population_rows) == (0, 0, 0)


def _admin_token(engine: Engine) -> dict[str, str]:
    operator = Principal.local_operator("test")
    with engine.begin() as conn:
        add_agency(conn, operator, agency_id="GT-PNC", name="PNC", country="GT")
        add_user(conn, operator, username="gt-admin", agency_id="GT-PNC", roles=["admin"])
        add_user(conn, operator, username="gt-analyst", agency_id="GT-PNC", roles=["analyst"])
        admin = create_token(conn, operator, "gt-admin").secret
        analyst = create_token(conn, operator, "gt-analyst").secret
    return {"admin": admin, "analyst": analyst}


def test_summary_route(seeded: tuple[Engine, dict[str, int]], tmp_path: Path) -> None:
    engine, _ = seeded
    tokens = _admin_token(engine)
    client = client_for(engine, tmp_path)
    # Counts over every record, whatever its handling code: admins only.
    assert_envelope(client.get("/api/v1/summary"), 401, "unauthorized")
    analyst = {"Authorization": f"Bearer {tokens['analyst']}"}
    assert_envelope(client.get("/api/v1/summary", headers=analyst), 403, "forbidden")
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    response = client.get("/api/v1/summary", headers=admin)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {
        "incidents",
        "by_country",
        "by_section",
        "by_source",
        "occurred_min",
        "occurred_max",
        "batches",
        "count_rows",
        "population_rows",
        "latest_batches",
    }
    assert body["incidents"] == 5
    assert {"country": "GT", "count": 3} in body["by_country"]
    assert body["by_section"][-1] == {
        "section": "unmapped",
        "name_es": None,
        "name_en": None,
        "count": 1,
    }
    assert {"source": "demo", "synthetic": True, "count": 2} in body["by_source"]
    occurred_min = datetime.fromisoformat(body["occurred_min"])
    assert occurred_min == datetime(2023, 12, 31, 23, 30, tzinfo=UTC)
    assert len(body["latest_batches"]) == 3
    latest = client.get("/api/v1/summary?latest=2", headers=admin).json()["latest_batches"]
    assert len(latest) == 2


# --- errors ------------------------------------------------------------------------------


def test_not_initialised_is_503_envelope(fresh_engine: Engine, tmp_path: Path) -> None:
    response = client_for(fresh_engine, tmp_path).get("/api/v1/public/options")
    error = assert_envelope(response, 503, "store_error")
    assert "safestreets init" in error["hint"]


def test_unknown_api_path_is_404_envelope(sqlite_engine: Engine, tmp_path: Path) -> None:
    response = client_for(sqlite_engine, tmp_path).get("/api/v1/no-such-thing")
    error = assert_envelope(response, 404, "not_found")
    assert "/api/v1/no-such-thing" in error["message"]
    assert error["hint"]


def test_wrong_method_is_405_envelope(sqlite_engine: Engine, tmp_path: Path) -> None:
    response = client_for(sqlite_engine, tmp_path).post("/api/v1/health")
    assert_envelope(response, 405, "method_not_allowed")


def test_invalid_parameter_is_422_envelope(sqlite_engine: Engine, tmp_path: Path) -> None:
    client = client_for(sqlite_engine, tmp_path)
    url = "/api/v1/public/municipalities?country=GT&year="
    error = assert_envelope(client.get(url + "many"), 422, "invalid_request")
    assert "year" in error["message"]
    bad_date = "/api/v1/indicators/homicide_rate?by=country&from=2024-13"
    assert_envelope(client.get(bad_date), 422, "invalid_request")
