"""Fixtures of the API tests: a store on each backend, a small known data set, and a world of
agencies, accounts and incidents for the access-aware routes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert, select

from safestreets.access.accounts import add_agency, add_user, create_token
from safestreets.access.policy import Principal
from safestreets.api.app import create_app
from safestreets.config import Settings
from safestreets.store import tables
from safestreets.store.aggregates import rebuild_rollups


@pytest.fixture
def backend(store: Engine) -> Engine:
    """The suite-wide ``store`` fixture (SQLite and PostgreSQL) under this folder's name."""
    return store


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def _batch(conn: Any, **fields: Any) -> int:
    row = {
        "kind": "incidents",
        "synthetic": False,
        "started_at": utc(2024, 2, 1, 11, 0),
        "finished_at": utc(2024, 2, 1, 12, 0),
        "rows_read": 0,
        "rows_loaded": 0,
        "rows_rejected": 0,
        "rows_duplicate": 0,
        "rows_unmapped_category": 0,
        **fields,
    }
    return int(conn.execute(insert(tables.batch).values(**row)).inserted_primary_key[0])


def seed(engine: Engine) -> dict[str, int]:
    """Insert three batches, five incidents, one count row and two population rows.

    PNC-GT (real): GT x3 with ICCS 0101, 0201 and none; demo (synthetic): SV 0101, BZ 0501.
    Returns the batch ids by name.
    """
    with engine.begin() as conn:
        real = _batch(
            conn,
            source="PNC-GT",
            file_name="pnc_2024.csv",
            rows_read=12345,
            rows_loaded=3,
            rows_rejected=12341,
            rows_duplicate=1,
        )
        demo = _batch(
            conn,
            source="demo",
            synthetic=True,
            file_name=None,
            rows_read=2,
            rows_loaded=2,
            finished_at=utc(2024, 2, 2, 8, 30),
        )
        counts = _batch(
            conn,
            kind="counts",
            source="INE-GT",
            file_name="<b>counts</b>.csv",
            finished_at=None,
        )
        incident = {"handling_code": "NATIONAL", "occurred_at": None, "iccs_code": None}
        conn.execute(
            insert(tables.incident),
            [
                {
                    **incident,
                    "incident_id": 1,
                    "source": "PNC-GT",
                    "source_record_id": "a1",
                    "country": "GT",
                    "iccs_code": "0101",
                    "occurred_at": utc(2024, 1, 5, 10),
                    "batch_id": real,
                },
                {
                    **incident,
                    "incident_id": 2,
                    "source": "PNC-GT",
                    "source_record_id": "a2",
                    "country": "GT",
                    "iccs_code": "020111",
                    "occurred_at": utc(2024, 1, 20),
                    "batch_id": real,
                },
                {
                    **incident,
                    "incident_id": 3,
                    "source": "PNC-GT",
                    "source_record_id": "a3",
                    "country": "GT",
                    "occurred_at": utc(2024, 1, 31, 18),
                    "batch_id": real,
                },
                {
                    **incident,
                    "incident_id": 4,
                    "source": "demo",
                    "source_record_id": "d1",
                    "country": "SV",
                    "iccs_code": "0101",
                    "occurred_at": utc(2023, 12, 31, 23, 30),
                    "batch_id": demo,
                },
                {
                    **incident,
                    "incident_id": 5,
                    "source": "demo",
                    "source_record_id": "d2",
                    "country": "BZ",
                    "iccs_code": "0501",
                    "batch_id": demo,
                },
            ],
        )
        conn.execute(
            insert(tables.stat_count).values(
                source="INE-GT",
                country="GT",
                period="2023",
                unit="victims",
                count=3000,
                iccs_code="0101",
                batch_id=counts,
            )
        )
        conn.execute(
            insert(tables.population),
            [
                {"country": "GT", "year": 2023, "population": 18_000_000},
                {"country": "SV", "year": 2023, "population": 6_300_000},
            ],
        )
    return {"real": real, "demo": demo, "counts": counts}


@pytest.fixture
def seeded(backend: Engine) -> tuple[Engine, dict[str, int]]:
    """The ``backend`` store with :func:`seed` data in it, and the batch ids."""
    return backend, seed(backend)


# --- a multi-agency world for the access-aware routes ----------------------------------------

OPERATOR = Principal.local_operator("tests")

#: (username, agency, roles) of the world's accounts; each gets an API token.
USERS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("gt-admin", "GT-PNC", ("admin",)),
    ("gt-analyst", "GT-PNC", ("analyst",)),
    ("gt-viewer", "GT-PNC", ("viewer",)),
    ("sv-admin", "SV-PNC", ("admin",)),
    ("sv-analyst", "SV-PNC", ("analyst",)),
    ("sica-regional", "SICA", ("regional",)),
    ("gt-liaison", "GT-PNC", ("liaison",)),
)

#: Incident ids by group (see :func:`build_world`).
GT_NATIONAL = tuple(range(101, 131))  # GT-PNC, NATIONAL, 20 packed + 10 spread
GT_RESTRICTED = (131,)  # GT-PNC, RESTRICTED without grants: the owner only
GT_MP_NATIONAL = (132,)  # GT-MP (another GT agency), NATIONAL
SV_NATIONAL = tuple(range(140, 150))  # SV-PNC, NATIONAL
SV_REGIONAL = (150, 151)  # SV-PNC, REGIONAL: every member agency and the regional role
GT_PUBLIC = tuple(range(160, 166))  # GT-PNC, PUBLIC

#: What each account may read, record by record (the rule table of docs/security.md).
VISIBLE: dict[str, frozenset[int]] = {
    "gt-analyst": frozenset(
        (*GT_NATIONAL, *GT_RESTRICTED, *GT_MP_NATIONAL, *SV_REGIONAL, *GT_PUBLIC)
    ),
    "gt-viewer": frozenset(
        (*GT_NATIONAL, *GT_RESTRICTED, *GT_MP_NATIONAL, *SV_REGIONAL, *GT_PUBLIC)
    ),
    "sv-analyst": frozenset((*SV_NATIONAL, *SV_REGIONAL)),
    "sica-regional": frozenset(SV_REGIONAL),
    "gt-liaison": frozenset(
        (*GT_NATIONAL, *GT_RESTRICTED, *GT_MP_NATIONAL, *SV_REGIONAL, *GT_PUBLIC)
    ),
}


@dataclass
class World:
    """A store with agencies, accounts, tokens and incidents, and a client on it."""

    engine: Engine
    client: TestClient
    tokens: dict[str, str]

    def auth(self, username: str) -> dict[str, str]:
        """The Authorization header of ``username``'s token."""
        return {"Authorization": f"Bearer {self.tokens[username]}"}

    def get(self, url: str, user: str | None = None, **kw: Any) -> Any:
        return self.client.get(url, headers=self.auth(user) if user else None, **kw)


def _incident(incident_id: int, owner: str, country: str, code: str, k: int) -> dict[str, Any]:
    # GT points: 20 packed within ~300 m of a corner of Guatemala City, the rest spread over
    # ~5 km (a hotspot to find); SV points around San Salvador.
    if country == "GT":
        lon0, lat0 = -90.52, 14.62
        spread = 0.003 if k < 20 else 0.05
    else:
        lon0, lat0, spread = -89.20, 13.70, 0.03
    step = (k % 10) / 10 - 0.45
    return {
        "incident_id": incident_id,
        "source": "TEST-" + owner,
        "source_record_id": str(incident_id),
        "country": country,
        "admin1": "GT-GU" if country == "GT" else "SV-SS",
        "occurred_at": utc(2024, 3, 1 + k % 28, 15),
        "occurred_precision": "minute",
        "source_timezone": "America/Guatemala" if country == "GT" else "America/El_Salvador",
        "local_category": "robo",
        "iccs_code": "0401",
        "mapping_quality": "exact",
        "lon": lon0 + spread * step,
        "lat": lat0 + spread * (((k // 10) % 3) / 3 - 0.33 + step / 7),
        "location_precision": "exact",
        "owner_agency": owner,
        "handling_code": code,
        "victim_count": 1,
    }


def build_world(engine: Engine, tmp_path: Path) -> World:
    """Agencies GT-PNC, GT-MP (GT), SV-PNC (SV) and SICA (regional body); the accounts of
    :data:`USERS` with one API token each; the incidents of the id groups above (robberies in
    March 2024 with coordinates), their rollups; no audit entry from the set-up reads."""
    groups = (
        (GT_NATIONAL, "GT-PNC", "GT", "NATIONAL"),
        (GT_RESTRICTED, "GT-PNC", "GT", "RESTRICTED"),
        (GT_MP_NATIONAL, "GT-MP", "GT", "NATIONAL"),
        (SV_NATIONAL, "SV-PNC", "SV", "NATIONAL"),
        (SV_REGIONAL, "SV-PNC", "SV", "REGIONAL"),
        (GT_PUBLIC, "GT-PNC", "GT", "PUBLIC"),
    )
    with engine.begin() as conn:
        batch = _batch(conn, source="TEST", rows_read=52, rows_loaded=52)
        for agency_id, country in (
            ("GT-PNC", "GT"),
            ("GT-MP", "GT"),
            ("SV-PNC", "SV"),
            ("SICA", None),
        ):
            add_agency(conn, OPERATOR, agency_id=agency_id, name=agency_id, country=country)
        rows = [
            {**_incident(i, owner, country, code, k), "batch_id": batch}
            for ids, owner, country, code in groups
            for k, i in enumerate(ids)
        ]
        conn.execute(insert(tables.incident), rows)
        rebuild_rollups(conn)
        tokens = {}
        for username, agency_id, roles in USERS:
            add_user(conn, OPERATOR, username=username, agency_id=agency_id, roles=roles)
            tokens[username] = create_token(conn, OPERATOR, username).secret
    client = TestClient(create_app(Settings(data_dir=tmp_path), engine))
    return World(engine, client, tokens)


@pytest.fixture
def world(backend: Engine, tmp_path: Path) -> World:
    """:func:`build_world` on each backend."""
    return build_world(backend, tmp_path)


@pytest.fixture
def sqlite_world(sqlite_engine: Engine, tmp_path: Path) -> World:
    """:func:`build_world` on SQLite only (routes whose answer does not depend on the SQL)."""
    return build_world(sqlite_engine, tmp_path)


def audit_entries(engine: Engine, action: str) -> list[dict[str, Any]]:
    """Audit entries of one action, oldest first, with the detail parsed."""
    t = tables.audit_log
    with engine.connect() as conn:
        rows = conn.execute(select(t).where(t.c.action == action).order_by(t.c.seq)).all()
    return [{**r._asdict(), "detail": json.loads(r.detail) if r.detail else None} for r in rows]


def assert_envelope(response: Any, status: int, code: str) -> dict[str, Any]:
    """The response is the one error envelope with this status and code; its ``error``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "hint"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    error: dict[str, Any] = body["error"]
    return error


#: A small canonical CSV whose rows claim another agency's ownership and a PUBLIC code (the
#: upload must override both), with one row that fails validation (no date).
CSV_UPLOAD = (
    "record_id,country,occurred_at,local_category,iccs_code,lon,lat,owner_agency,handling_code\n"
    """UP-1,GT,2024-04-02T21:40:00-06:00,Robo,0401,-90.5133,14.6417,SV-PNC,PUBLIC
UP-2,GT,2024-04-04T06:55:00-06:00,Robo a bus,0401,-90.5875,14.5269,SV-PNC,PUBLIC
UP-3,GT,,Robo,0401,-90.5,14.6,SV-PNC,PUBLIC
"""
)


@pytest.fixture
def csv_upload() -> bytes:
    """:data:`CSV_UPLOAD` as bytes."""
    return CSV_UPLOAD.encode("utf-8")
