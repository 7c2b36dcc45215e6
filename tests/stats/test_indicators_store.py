"""The indicator engine on the store (SQLite and PostgreSQL): rollups, raw rows, migration."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from functools import lru_cache

import polars as pl
import pytest
from sqlalchemy import Engine, func, select, text
from tests.conftest import postgres_store, sqlite_store

from safestreets import schema
from safestreets.demo import generate_region
from safestreets.ingest.load import load_canonical
from safestreets.ingest.transform import incident_ids
from safestreets.stats.catalogue import Indicator
from safestreets.stats.frames import FrameData
from safestreets.stats.indicators import Request, compute
from safestreets.store import rollup, tables
from safestreets.store.aggregates import StoreData, rebuild_rollups

ALL_CRIME = Indicator.model_validate(
    {
        "id": "all_victims",
        "name": {"es": "x", "en": "x"},
        "description": {"es": "x", "en": "x"},
        "numerator": {"iccs": [f"{i:02d}" for i in range(1, 12)], "unit": "victims"},
        "denominator": {"none": True},
        "multiplier": 1,
        "breakdowns": [
            "country",
            "admin1",
            "admin2",
            "year",
            "quarter",
            "month",
            "week",
            "sex",
            "age_band",
            "weapon",
            "place_type",
            "iccs_division",
            "source",
        ],
    }
)


@lru_cache(maxsize=1)
def demo_frames() -> tuple[list[tuple[pl.DataFrame, pl.DataFrame]], pl.DataFrame, pl.DataFrame]:
    chunks = [(c.incidents, c.victims) for c in generate_region(seed=3, incidents=30_000, years=2)]
    inc = pl.concat([c[0] for c in chunks])
    inc = inc.with_columns(incident_id=incident_ids(inc["source"], inc["source_record_id"]))
    vic = pl.concat([c[1] for c in chunks]).join(
        inc.select("source_record_id", "incident_id"), on="source_record_id"
    )
    return chunks, schema.conform(inc, schema.INCIDENT), schema.conform(vic, schema.VICTIM)


def _load(engine: Engine) -> None:
    chunks, _, _ = demo_frames()
    load_canonical(iter(chunks), engine, source="SYNTHETIC-DEMO", label="test", synthetic=True)


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def loaded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """One store per backend with the demo loaded, shared by the read-only tests."""
    if request.param == "sqlite":
        engine = sqlite_store(tmp_path_factory.mktemp("loaded") / "t.sqlite")
        _load(engine)
        yield engine
        return
    for engine in postgres_store():
        _load(engine)
        yield engine


def _same(a: pl.DataFrame, b: pl.DataFrame) -> None:
    keys = [c for c in a.columns if c not in ("sources", "basis")]
    left = a.select(keys).sort(keys, nulls_last=True)
    right = b.select(keys).sort(keys, nulls_last=True)
    assert left.equals(right), (left.head(), right.head())


REQUESTS = [
    ("homicide_rate", Request(by=("country", "year"))),
    ("robbery_rate", Request(by=("country", "quarter"), where={"country": ("GT", "HN")})),
    ("homicide_count", Request(by=("country", "month", "sex"))),
    ("homicide_count", Request(by=("admin1", "year", "age_group"))),
    ("extortion_rate", Request(by=("country", "week"), where={"country": ("SV",)})),
    (
        "homicide_count",
        Request(by=("country",), date_from=date(2022, 3, 10), date_to=date(2022, 9, 20)),
    ),
    ("homicide_count", Request(by=("admin2", "year", "sex"), where={"country": ("CR",)})),
    ("theft_rate", Request(by=("country", "year", "place_type"))),
]


@pytest.mark.parametrize(("indicator", "request_"), REQUESTS)
def test_store_matches_frames(loaded: Engine, indicator: str, request_: Request) -> None:
    """Rollups (or raw rows) in SQL give exactly what the pure engine gives on frames."""
    _, inc, vic = demo_frames()
    from_store = compute(indicator, request_, StoreData(loaded))
    from_frames = compute(indicator, request_, FrameData(inc, vic))
    assert from_store.frame.height > 0
    _same(from_store.frame, from_frames.frame)


def test_grain_choice(loaded: Engine) -> None:
    data = StoreData(loaded)
    assert (
        compute("homicide_rate", Request(by=("country", "year")), data).read_from == "national_sex"
    )
    assert (
        compute("homicide_count", Request(by=("country", "year", "weapon")), data).read_from
        == "national"
    )
    assert compute("homicide_count", Request(by=("admin2", "year")), data).read_from == "area"
    assert (
        compute("homicide_count", Request(by=("admin1", "year", "sex")), data).read_from
        == "admin1_victim"
    )
    req = Request(by=("admin1", "place_type"), allow_missing_population=True)
    assert compute("robbery_rate", req, data).read_from == "place"
    # Weeks and odd ranges, or a mix no grain holds, read the raw rows.
    assert compute("homicide_count", Request(by=("week",)), data).read_from == "raw"
    assert compute("homicide_count", Request(by=("admin2", "year", "sex")), data).read_from == "raw"


def test_big_table_by_division_and_sex(loaded: Engine) -> None:
    _, inc, vic = demo_frames()
    req = Request(by=("country", "month", "iccs_division", "sex"))
    a = compute(ALL_CRIME, req, StoreData(loaded)).frame
    b = compute(ALL_CRIME, req, FrameData(inc, vic)).frame
    _same(a, b)
    # Independent count of victims: described ones, or victim_count (1 if unknown).
    n_desc = vic.group_by("incident_id").len("n")
    per = inc.join(n_desc, on="incident_id", how="left").select(
        pl.when(pl.col("n").is_not_null())
        .then(pl.max_horizontal(pl.col("n"), pl.col("victim_count").fill_null(0)))
        .otherwise(pl.col("victim_count").fill_null(1))
    )
    assert a["count"].sum() == per.to_series().sum()


def test_rollups_sum_to_the_records(loaded: Engine) -> None:
    _, inc, _ = demo_frames()
    with loaded.connect() as conn:
        for grain in rollup.GRAINS:
            t = tables.rollups[grain]
            assert conn.execute(select(func.sum(t.c.incidents))).scalar_one() == inc.height


def test_rebuild_gives_the_same_rollups(store: Engine) -> None:
    _load(store)
    before = compute("homicide_count", Request(by=("admin1", "month", "sex")), StoreData(store))
    with store.begin() as conn:
        assert rebuild_rollups(conn) == demo_frames()[1].height
    after = compute("homicide_count", Request(by=("admin1", "month", "sex")), StoreData(store))
    _same(before.frame, after.frame)


def test_reloading_adds_nothing(store: Engine) -> None:
    _load(store)
    first = compute("homicide_rate", Request(by=("country", "year")), StoreData(store)).frame
    _load(store)  # all duplicates: no new incidents, no new rollup rows
    again = compute("homicide_rate", Request(by=("country", "year")), StoreData(store)).frame
    _same(first, again)


def test_migration_backfills_rollups(tmp_path: pytest.TempPathFactory) -> None:
    """A store created before rollups existed gets them when migrated."""
    from alembic import command

    from safestreets.store.engine import get_engine
    from safestreets.store.migrate import _config

    engine = get_engine(f"sqlite:///{tmp_path}/old.sqlite")  # type: ignore[operator]
    cfg = _config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
        conn.execute(
            text(
                "INSERT INTO batch (batch_id, kind, source, synthetic, started_at, rows_read, "
                "rows_loaded, rows_rejected, rows_duplicate, rows_unmapped_category) VALUES "
                "(1, 'incidents', 'GT-PNC', 0, '2024-01-01 00:00:00', 2, 2, 0, 0, 0)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO incident (incident_id, source, source_record_id, country, "
                "occurred_at, occurred_precision, source_timezone, iccs_code, victim_count, "
                "handling_code, batch_id) VALUES "
                "(1, 'GT-PNC', 'a', 'GT', '2023-05-01 12:00:00.000000', 'minute', "
                "'America/Guatemala', '0101', 2, 'NATIONAL', 1), "
                "(2, 'GT-PNC', 'b', 'GT', '2023-06-01 12:00:00.000000', 'minute', "
                "'America/Guatemala', '0101', 1, 'NATIONAL', 1)"
            )
        )
        conn.execute(
            text("INSERT INTO victim (incident_id, victim_no, sex, age) VALUES (1, 1, 'male', 30)")
        )
    from safestreets.errors import StoreError
    from safestreets.store.engine import check_ready
    from safestreets.store.migrate import head_revision, upgrade

    # An old schema is refused with the way out, not read into a traceback.
    with pytest.raises(StoreError, match="revision 0001") as exc:
        check_ready(engine)
    assert exc.value.hint is not None and "safestreets init" in exc.value.hint
    assert upgrade(engine) == ("0001", head_revision())
    check_ready(engine)
    f = compute("homicide_count", Request(by=("country", "year", "sex")), StoreData(engine)).frame
    assert dict(zip(f["sex"], f["count"], strict=True)) == {"male": 1, "unknown": 2}
