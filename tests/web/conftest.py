"""Fixtures of the web-page tests: SQLite stores, empty or holding a small known data set."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert

from safestreets.api.app import create_app
from safestreets.config import Settings
from safestreets.store import tables


def _client(engine: Engine, tmp_path: Path) -> TestClient:
    return TestClient(create_app(Settings(data_dir=tmp_path), engine))


@pytest.fixture
def empty_client(sqlite_engine: Engine, tmp_path: Path) -> TestClient:
    return _client(sqlite_engine, tmp_path)


@pytest.fixture
def client(sqlite_engine: Engine, tmp_path: Path) -> TestClient:
    """A store with a real source (GT, 12,345 rows read) and a synthetic one (SV, BZ)."""
    engine = sqlite_engine
    when = datetime(2024, 2, 1, 12, tzinfo=UTC)
    batch = {"kind": "incidents", "started_at": when, "finished_at": when, "rows_loaded": 2}
    with engine.begin() as conn:
        real = conn.execute(
            insert(tables.batch).values(
                **batch,
                source="PNC-GT",
                synthetic=False,
                rows_read=12345,
                file_name="<script>alert(1)</script>.csv",
            )
        ).inserted_primary_key[0]
        demo = conn.execute(
            insert(tables.batch).values(**batch, source="demo-synth", synthetic=True, rows_read=2)
        ).inserted_primary_key[0]
        rows = [
            ("PNC-GT", "GT", "0101", datetime(2024, 1, 5, tzinfo=UTC), real),
            ("PNC-GT", "GT", None, datetime(2024, 3, 9, tzinfo=UTC), real),
            ("demo-synth", "SV", "0401", None, demo),
            ("demo-synth", "BZ", "0501", None, demo),
        ]
        conn.execute(
            insert(tables.incident),
            [
                {
                    "incident_id": i,
                    "source": src,
                    "source_record_id": str(i),
                    "country": country,
                    "iccs_code": code,
                    "occurred_at": at,
                    "handling_code": "NATIONAL",
                    "batch_id": b,
                }
                for i, (src, country, code, at, b) in enumerate(rows, start=1)
            ],
        )
    return _client(engine, tmp_path)
