"""Fixtures of the API tests: a store on each backend, and a small known data set."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, insert

from safestreets.store import tables


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
