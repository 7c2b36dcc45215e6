"""Contract tests: the JSON shapes of every ``/api/v1`` route, success and error, locked.

A change to a shape below is a change of the API contract: it must be deliberate (and
said in docs/api.md), never a side effect. Run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import io
from typing import Any

import pytest
from sqlalchemy import Engine
from tests.api.conftest import World, assert_envelope

from safestreets.access.policy import ROLES
from safestreets.api.accounts import Role

ME = {"authenticated", "username", "user_id", "agency", "country", "roles", "via", "may"}
INCIDENT = {
    "incident_id",
    "source",
    "source_record_id",
    "country",
    "admin1",
    "admin2",
    "locality",
    "occurred_at",
    "occurred_precision",
    "source_timezone",
    "reported_at",
    "local_category",
    "iccs_code",
    "mapping_quality",
    "lon",
    "lat",
    "location_precision",
    "place_type",
    "weapon",
    "context",
    "victim_count",
    "owner_agency",
    "handling_code",
    "batch_id",
}
USER = {"user_id", "username", "agency_id", "country", "roles", "disabled", "has_password"}
AUDIT_ENTRY = {"seq", "at", "actor", "agency", "action", "target", "detail", "hash"}
INDICATOR_INFO = {
    "id",
    "name",
    "description",
    "unit",
    "denominator",
    "share_of",
    "multiplier",
    "breakdowns",
    "sensitive",
    "references",
}
INDICATOR_TABLE = {
    "indicator",
    "name",
    "description",
    "unit",
    "by",
    "where",
    "date_from",
    "date_to",
    "scope",
    "read_from",
    "value_column",
    "columns",
    "rows",
    "totals",
    "disclosure_control",
    "notes",
}
REPORT = {
    "batch_id",
    "source",
    "profile",
    "file",
    "file_sha256",
    "read_as",
    "rows_read",
    "rows_loaded",
    "rows_rejected",
    "rows_duplicate",
    "rows_duplicate_in_file",
    "rows_duplicate_in_store",
    "rows_unmapped_category",
    "rejections",
    "rejection_samples",
    "warnings",
    "unmapped_categories",
    "occurred_min",
    "occurred_max",
    "notes",
    "seconds",
}
LAYER_META = {"kind", "events", "grid", "value", "parameters", "notes"}
GRID = {"kind", "cell_size_m", "cells", "area", "crs"}


def test_incident_model_is_the_canonical_schema() -> None:
    from safestreets import schema
    from safestreets.api.incidents import Incident

    assert set(Incident.model_fields) == set(schema.INCIDENT) == INCIDENT


def test_role_literal_is_the_access_roles() -> None:
    assert set(Role.__args__) == set(ROLES)  # type: ignore[attr-defined]


# --- success shapes --------------------------------------------------------------------------


def test_success_shapes(world: World) -> None:
    body = world.get("/api/v1/me", "gt-analyst").json()
    assert set(body) == ME and body["via"] == "token"

    page = world.get("/api/v1/incidents?limit=2", "gt-analyst").json()
    assert set(page) == {"items", "limit", "next_cursor", "next"}
    assert [set(i) for i in page["items"]] == [INCIDENT, INCIDENT]
    one = world.get(f"/api/v1/incidents/{page['items'][0]['incident_id']}", "gt-analyst").json()
    assert set(one) == INCIDENT

    agencies = world.get("/api/v1/agencies", "gt-viewer").json()
    assert set(agencies) == {"items"}
    assert set(agencies["items"][0]) == {"agency_id", "name", "country"}

    users = world.get("/api/v1/users", "gt-admin").json()
    assert set(users) == {"items", "page", "page_size", "total", "next"}
    assert set(users["items"][0]) == USER
    assert set(world.get("/api/v1/users/gt-viewer", "gt-admin").json()) == USER

    audit = world.get("/api/v1/audit?page_size=1", "gt-admin").json()
    assert set(audit) == {"items", "page", "page_size", "next"}
    assert set(audit["items"][0]) == AUDIT_ENTRY
    verify = world.get("/api/v1/audit/verify", "gt-admin").json()
    assert set(verify) == {"ok", "entries", "head_seq", "head_hash", "problem", "message"}
    anchor = world.get("/api/v1/audit/anchor", "gt-admin").json()
    assert set(anchor) == {"seq", "hash", "at", "line"}

    catalogue = world.get("/api/v1/indicators").json()
    assert set(catalogue) == {"items"}
    assert all(set(i) == INDICATOR_INFO for i in catalogue["items"])
    table = world.get("/api/v1/indicators/robbery_rate?by=country", "gt-analyst").json()
    assert set(table) == INDICATOR_TABLE and table["scope"] == "records"
    assert table["disclosure_control"] is None and table["totals"] is None
    public = world.get("/api/v1/indicators/robbery_rate?by=country").json()
    assert set(public) == INDICATOR_TABLE and public["scope"] == "public"
    assert set(public["disclosure_control"]) == {"k", "suppressed_cells", "statement"}

    for kind in ("counts", "kde", "gistar"):
        layer = world.get(f"/api/v1/hotspots/{kind}?country=GT&cell_size=1000", "gt-analyst")
        assert layer.status_code == 200, layer.text
        fc = layer.json()
        assert set(fc) == {"type", "bbox", "features", "meta"} and fc["type"] == "FeatureCollection"
        assert set(fc["meta"]) == LAYER_META and set(fc["meta"]["grid"]) == GRID
        feature = fc["features"][0]
        assert set(feature) == {"type", "id", "geometry", "properties"}
        assert set(feature["geometry"]) == {"type", "coordinates"}
        assert feature["geometry"]["type"] == "Polygon"
    empty = world.get("/api/v1/hotspots/counts?country=PA", "gt-analyst").json()
    assert set(empty) == {"type", "features", "meta"} and empty["features"] == []

    profiles = world.get("/api/v1/profiles", "gt-analyst").json()
    assert set(profiles) == {"items"}
    assert set(profiles["items"][0]) == {"name", "title", "source", "country", "format"}


def test_write_shapes(world: World, csv_upload: bytes) -> None:
    made = world.client.post(
        "/api/v1/users",
        json={"username": "gt-new", "roles": ["viewer"]},
        headers=world.auth("gt-admin"),
    )
    assert made.status_code == 201 and set(made.json()) == USER
    changed = world.client.patch(
        "/api/v1/users/gt-new", json={"grant": ["analyst"]}, headers=world.auth("gt-admin")
    )
    assert changed.status_code == 200 and set(changed.json()) == USER

    report = world.client.post(
        "/api/v1/ingest",
        files={"file": ("gt.csv", io.BytesIO(csv_upload), "text/csv")},
        data={"profile": "safestreets-csv"},
        headers=world.auth("gt-analyst"),
    )
    assert report.status_code == 201, report.text
    assert set(report.json()) == REPORT

    out = world.client.post("/api/v1/auth/logout", headers=world.auth("gt-viewer"))
    assert out.status_code == 200 and set(out.json()) == {"logged_out", "revoked_token_id"}


# --- error shapes ----------------------------------------------------------------------------

ANONYMOUS_401 = [
    ("get", "/api/v1/incidents"),
    ("get", "/api/v1/incidents/101"),
    ("get", "/api/v1/hotspots/counts"),
    ("get", "/api/v1/audit"),
    ("get", "/api/v1/audit/verify"),
    ("get", "/api/v1/audit/anchor"),
    ("get", "/api/v1/agencies"),
    ("post", "/api/v1/agencies"),
    ("get", "/api/v1/users"),
    ("post", "/api/v1/users"),
    ("get", "/api/v1/users/gt-admin"),
    ("patch", "/api/v1/users/gt-admin"),
    ("get", "/api/v1/profiles"),
    ("post", "/api/v1/ingest"),
    ("post", "/api/v1/auth/logout"),
]


@pytest.mark.parametrize(("method", "path"), ANONYMOUS_401)
def test_public_gets_401_on_record_level_and_account_routes(
    sqlite_world: World, method: str, path: str
) -> None:
    kwargs: dict[str, Any] = {"json": {}} if method in ("post", "patch") else {}
    if path.endswith("/ingest"):
        kwargs = {"files": {"file": ("a.csv", b"x\n1\n")}, "data": {"profile": "safestreets-csv"}}
    response = getattr(sqlite_world.client, method)(path, **kwargs)
    error = assert_envelope(response, 401, "unauthorized")
    assert "Bearer" in response.headers["www-authenticate"]
    assert "token" in error["hint"]


def test_error_shapes(world: World) -> None:
    bad = {"Authorization": "Bearer sst_not-a-token"}
    error = assert_envelope(world.client.get("/api/v1/me", headers=bad), 401, "unauthorized")
    assert "revoked" in error["hint"]
    assert_envelope(
        world.client.get("/api/v1/me", headers={"Authorization": "Basic abc"}), 401, "unauthorized"
    )
    error = assert_envelope(world.get("/api/v1/incidents", "gt-admin"), 403, "forbidden")
    assert "analyst" in error["hint"]
    assert_envelope(world.get("/api/v1/incidents/140", "gt-analyst"), 404, "not_found")
    assert_envelope(world.get("/api/v1/incidents?limit=0", "gt-analyst"), 422, "invalid_request")
    assert_envelope(world.get("/api/v1/incidents/-1", "gt-analyst"), 422, "invalid_request")
    assert_envelope(
        world.get("/api/v1/incidents?date_from=March", "gt-analyst"), 422, "invalid_request"
    )
    error = assert_envelope(
        world.get("/api/v1/incidents?date_from=2024-02-30", "gt-analyst"), 400, "input_error"
    )
    assert "YYYY" in error["hint"]
    assert_envelope(world.get("/api/v1/indicators/no_such_one"), 404, "not_found")
    assert_envelope(
        world.get("/api/v1/indicators/robbery_rate?by=nonsense", "gt-analyst"), 400, "input_error"
    )
    assert_envelope(
        world.get("/api/v1/hotspots/counts?cell_size=10", "gt-analyst"), 422, "invalid_request"
    )
    assert_envelope(world.get("/api/v1/hotspots/heat", "gt-analyst"), 422, "invalid_request")
    assert_envelope(world.get("/api/v1/audit", "gt-analyst"), 403, "forbidden")
    assert_envelope(world.get("/api/v1/audit?agency=SV-PNC", "gt-admin"), 403, "forbidden")
    assert_envelope(world.get("/api/v1/users/sv-analyst", "gt-admin"), 404, "not_found")
    assert_envelope(world.get("/api/v1/users", "gt-analyst"), 403, "forbidden")
    assert_envelope(
        world.client.post(
            "/api/v1/auth/token", json={"username": "gt-admin", "password": "wrong password!"}
        ),
        401,
        "unauthorized",
    )
    assert_envelope(world.client.post("/api/v1/auth/token", json={}), 422, "invalid_request")


def test_openapi_operation_ids_are_stable(sqlite_engine: Engine, tmp_path: Any) -> None:
    from fastapi.testclient import TestClient

    from safestreets.api.app import create_app
    from safestreets.config import Settings

    spec = TestClient(create_app(Settings(data_dir=tmp_path), sqlite_engine)).get("/openapi.json")
    ops = {
        (method.upper(), path): op["operationId"]
        for path, item in spec.json()["paths"].items()
        if not path.startswith("/api/v1/public")  # the public map's routes: their own test
        for method, op in item.items()
    }
    assert ops == {
        ("GET", "/api/v1/health"): "health",
        ("GET", "/api/v1/summary"): "summary",
        ("POST", "/api/v1/auth/token"): "create_token",
        ("POST", "/api/v1/auth/logout"): "logout",
        ("GET", "/api/v1/me"): "me",
        ("GET", "/api/v1/agencies"): "list_agencies",
        ("POST", "/api/v1/agencies"): "create_agency",
        ("GET", "/api/v1/users"): "list_users",
        ("POST", "/api/v1/users"): "create_user",
        ("GET", "/api/v1/users/{username}"): "get_user",
        ("PATCH", "/api/v1/users/{username}"): "update_user",
        ("GET", "/api/v1/incidents"): "list_incidents",
        ("GET", "/api/v1/incidents/{incident_id}"): "get_incident",
        ("GET", "/api/v1/profiles"): "list_profiles",
        ("POST", "/api/v1/ingest"): "ingest",
        ("GET", "/api/v1/indicators"): "list_indicators",
        ("GET", "/api/v1/indicators/{indicator_id}"): "get_indicator",
        ("GET", "/api/v1/hotspots/{kind}"): "get_hotspots",
        ("GET", "/api/v1/audit"): "list_audit",
        ("GET", "/api/v1/audit/verify"): "verify_audit",
        ("GET", "/api/v1/audit/anchor"): "get_audit_anchor",
        ("POST", "/api/v1/alerts"): "create_alert",
        ("GET", "/api/v1/alerts"): "list_alerts",
        ("GET", "/api/v1/alerts/{reference}"): "get_alert",
        ("PATCH", "/api/v1/alerts/{reference}"): "update_alert",
        ("GET", "/api/v1/searches"): "list_searches",
        ("POST", "/api/v1/hits/query"): "hit_query",
        ("POST", "/api/v1/hits/{query_id}/requests"): "file_request",
        ("GET", "/api/v1/requests"): "list_requests",
        ("POST", "/api/v1/requests/{request_id}/decision"): "decide_request",
        ("GET", "/api/v1/requests/{request_id}/details"): "request_details",
    }
    # Every documented error is the envelope.
    components = spec.json()["components"]["schemas"]
    assert set(components["ErrorEnvelope"]["properties"]) == {"error"}
