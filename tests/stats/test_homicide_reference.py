"""Published homicide rates reproduced from counts and populations (all 212 country-years).

The vintage is pinned: UNODC 2025 release as published by OWID (homicide-reference README).
The counts are that rate times the WDI population, rounded (UNODC's own counts were not
obtainable), so each rate can be reproduced within the rounding of its count
(0.5 / population x 100,000) plus 0.01.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Engine

from safestreets.ingest.counts import load_counts
from safestreets.stats.indicators import Request, compute
from safestreets.store.aggregates import StoreData

REFERENCE = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "homicide-reference"
PANEL = REFERENCE / "homicide_panel_ca7.csv"
POPULATION = REFERENCE / "population_wdi_sp_pop_totl_ca7.csv"


@pytest.fixture(scope="module")
def panel() -> pl.DataFrame:
    if not PANEL.exists():
        pytest.skip(f"../shared/data not present: {PANEL} is missing")
    iso = pl.read_csv(POPULATION).select("iso3", "iso2").unique()
    return pl.read_csv(PANEL).join(iso, on="iso3")


def test_all_country_years_reproduced(store: Engine, panel: pl.DataFrame, tmp_path: Path) -> None:
    counts_csv = tmp_path / "unodc_counts.csv"
    panel.select(
        source=pl.lit("UNODC-2025 (victims = rate x WDI population)"),
        country=pl.col("iso3"),  # alpha-3 is accepted and normalised
        admin1=pl.lit(None, dtype=pl.String),
        admin2=pl.lit(None, dtype=pl.String),
        period=pl.col("year").cast(pl.String),
        iccs_code=pl.lit("0101"),
        local_category=pl.lit("Intentional homicide"),
        unit=pl.lit("victims"),
        count=pl.col("victims_est_from_owid_rate_x_wdi_pop"),
    ).write_csv(counts_csv)
    report = load_counts(counts_csv, store)
    assert report.rows_loaded == 212
    result = compute("homicide_rate", Request(by=("country", "year")), StoreData(store))
    got = result.frame.join(
        panel.select(
            country="iso2",
            period=pl.col("year").cast(pl.String),
            published="rate_owid_unodc_2025",
        ),
        on=["country", "period"],
    )
    assert got.height == 212
    assert (got["basis"] == "counts").all()
    off = got.with_columns(
        error=(pl.col("rate_per_100k") - pl.col("published")).abs(),
        tolerance=0.5 / pl.col("population") * 1e5 + 0.01,
    ).filter(pl.col("error") > pl.col("tolerance"))
    assert off.is_empty(), off.select("country", "period", "rate_per_100k", "published")


def test_anchor_values(panel: pl.DataFrame) -> None:
    """The README's anchors, on the pure engine (no store)."""
    from safestreets import schema
    from safestreets.stats.frames import FrameData

    counts = panel.select(
        source=pl.lit("UNODC"),
        country="iso2",
        period=pl.col("year").cast(pl.String),
        period_start=pl.date(pl.col("year"), 1, 1),
        period_end=pl.date(pl.col("year"), 12, 31),
        iccs_code=pl.lit("0101"),
        unit=pl.lit("victims"),
        count="victims_est_from_owid_rate_x_wdi_pop",
    )
    f = compute(
        "homicide_rate",
        Request(by=("country", "year")),
        FrameData(counts_frame=schema.conform(counts, schema.COUNT)),
    ).frame
    rate = {(c, p): r for c, p, r in f.select("country", "period", "rate_per_100k").iter_rows()}
    for (country, year), published in {
        ("HN", "2012"): 82.29,
        ("SV", "2015"): 107.64,
        ("SV", "2022"): 7.90,
        ("GT", "2023"): 23.37,
        ("CR", "2023"): 17.75,
        ("PA", "2023"): 12.47,
        ("BZ", "2022"): 28.06,
        ("NI", "2021"): 11.35,
    }.items():
        assert rate[(country, year)] == pytest.approx(published, abs=0.03), (country, year)
