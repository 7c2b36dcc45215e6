"""A store for the public-map tests: a small synthetic demo plus planted clusters in Guatemala.

The demo (El Salvador, one year) gives realistic bulk; the planted records, each group at a
point of its own (so in a 500 m cell of its own), give exact expectations:

========  =================================================  ==============================
cluster   records (Guatemala, 2024 unless said)              what the public must see
========  =================================================  ==============================
``A``     12 PUBLIC robberies                                a cell of 12; Guatemala 12
``B``     3 PUBLIC thefts                                    nothing at cell level (3 < k)
``C/D/E`` 20 NATIONAL / REGIONAL / RESTRICTED robberies      nothing at all (not PUBLIC)
``F``     8 PUBLIC sexual violence + 6 PUBLIC domestic       by department only, no cell
          assaults
``G``     15 PUBLIC robberies ten days ago                   nothing (inside the delay)
``H``     7 PUBLIC thefts on 2024-06-15                      (store test of ``through``)
``I``     6 PUBLIC robberies + 2 PUBLIC thefts               a cell of 8, both counts hidden
========  =================================================  ==============================
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import polars as pl
from sqlalchemy import Engine
from tests.conftest import postgres_store, sqlite_store

from safestreets import schema
from safestreets.demo import generate_region
from safestreets.ingest.load import load_canonical

GT_CITY = "0101"  # Municipio de Guatemala
MIXCO = "0108"

#: (lon, lat) of each planted cluster: at least 1 km apart, all in Guatemala department.
POINTS: dict[str, tuple[float, float]] = {
    "A": (-90.5133, 14.6407),
    "B": (-90.5300, 14.6200),
    "C": (-90.6000, 14.6300),
    "D": (-90.6150, 14.6450),
    "E": (-90.6300, 14.6600),
    "F": (-90.4900, 14.6000),
    "G": (-90.4700, 14.5850),
    "H": (-90.5500, 14.5800),
    "I": (-90.4500, 14.6300),
}


@dataclass(frozen=True)
class Planted:
    """What was planted, for the assertions."""

    recent_day: date  # cluster G's local date
    source_record_ids: tuple[str, ...]


def _rows(
    name: str,
    n: int,
    *,
    iccs: str,
    handling: str = "PUBLIC",
    day: date = date(2024, 3, 10),
    admin2: str = GT_CITY,
    context: str | None = None,
) -> list[dict[str, Any]]:
    lon, lat = POINTS[name]
    return [
        {
            "incident_id": None,
            "source": "PLANTED-GT",
            "source_record_id": f"{name}-{iccs}-{i}",
            "country": "GT",
            "admin1": "GT-01",
            "admin2": admin2,
            "locality": f"street of {name}",
            # Guatemala is UTC-6: 18:00 UTC is noon, the same local date.
            "occurred_at": datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=18),
            "occurred_precision": "minute",
            "source_timezone": "America/Guatemala",
            "reported_at": datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=20),
            "local_category": f"planted {iccs}",
            "iccs_code": iccs,
            "mapping_quality": "exact",
            # a few metres apart: the same cell, never the same point twice
            "lon": lon + i * 0.00002,
            "lat": lat,
            "location_precision": "exact",
            "place_type": "street",
            "weapon": "unknown",
            "context": context,
            "victim_count": 1,
            "owner_agency": "GT-PNC",
            "handling_code": handling,
            "batch_id": None,
        }
        for i in range(n)
    ]


def planted_frames(today: date) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The planted incidents and their victims (one each, some under 18)."""
    recent = today - timedelta(days=10)
    rows = [
        *_rows("A", 12, iccs="0401"),
        *_rows("B", 3, iccs="0502"),
        *_rows("C", 20, iccs="0401", handling="NATIONAL", admin2=MIXCO),
        *_rows("D", 20, iccs="0401", handling="REGIONAL", admin2=MIXCO),
        *_rows("E", 20, iccs="0401", handling="RESTRICTED", admin2=MIXCO),
        *_rows("F", 8, iccs="0301"),
        *_rows("F", 6, iccs="0201", context="family"),
        *_rows("G", 15, iccs="0401", day=recent),
        *_rows("H", 7, iccs="0502", day=date(2024, 6, 15)),
        *_rows("I", 6, iccs="0401"),
        *_rows("I", 2, iccs="0502"),
    ]
    incidents = pl.DataFrame(rows, schema=schema.INCIDENT)
    victims = pl.DataFrame(
        {
            "source_record_id": incidents["source_record_id"],
            "victim_no": [1] * incidents.height,
            "sex": ["female"] * incidents.height,
            "age": [15 + (i % 40) for i in range(incidents.height)],
            "age_band": ["15-17" if i % 40 < 3 else "30-44" for i in range(incidents.height)],
        },
        schema={
            "source_record_id": pl.String,
            **{k: v for k, v in schema.VICTIM.items() if k != "incident_id"},
        },
    )
    return incidents, victims


def load_public_demo(engine: Engine, today: date) -> Planted:
    """Load the synthetic demo (El Salvador, 2023) and the planted Guatemalan clusters."""
    chunks = [
        (c.incidents, c.victims)
        for c in generate_region(seed=11, incidents=4000, years=1, end_year=2023, countries=["SV"])
    ]
    load_canonical(iter(chunks), engine, source="SYNTHETIC-DEMO", label="demo", synthetic=True)
    incidents, victims = planted_frames(today)
    load_canonical(iter([(incidents, victims)]), engine, source="PLANTED-GT", label="planted")
    return Planted(
        recent_day=today - timedelta(days=10),
        source_record_ids=tuple(incidents["source_record_id"].to_list()),
    )


def public_store(
    backend: str, tmp_path_factory: Any, today: date
) -> Iterator[tuple[Engine, Planted]]:
    """A migrated store on ``backend`` (sqlite or postgresql) holding the public demo."""
    if backend == "sqlite":
        engine = sqlite_store(tmp_path_factory.mktemp("public") / "t.sqlite")
        try:
            yield engine, load_public_demo(engine, today)
        finally:
            engine.dispose()
        return
    stores = postgres_store()
    engine = next(stores)
    try:
        yield engine, load_public_demo(engine, today)
    finally:
        stores.close()  # drops the test schema
