"""Tests of safestreets.reference.population."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from safestreets.errors import ReferenceError_
from safestreets.reference import population as pop


def test_country_population_table() -> None:
    df = pop.country_population()
    assert df.columns == ["country", "year", "population", "source"]
    assert df.schema["population"] == pl.Int64
    assert df.height == 7 * 35
    assert df["year"].min() == 1990 and df["year"].max() == 2024
    assert "SP.POP.TOTL" in df["source"][0]


def test_population_of() -> None:
    assert pop.population_of("BZ", 1990) == 183076
    assert pop.population_of("sv", 2012) > 6_000_000
    with pytest.raises(ReferenceError_):
        pop.population_of("SV", 1950)
    with pytest.raises(ReferenceError_):
        pop.population_of("MX", 2020)


@pytest.mark.parametrize(
    ("country", "year", "rate"),
    [
        ("HN", 2012, 82.29),
        ("SV", 2015, 107.64),
        ("SV", 2022, 7.90),
        ("GT", 2023, 23.37),
        ("CR", 2023, 17.75),
        ("PA", 2023, 12.47),
        ("BZ", 2022, 28.06),
        ("NI", 2021, 11.35),
    ],
)
def test_homicide_anchor_values(country: str, year: int, rate: float) -> None:
    df = pop.homicide_rates().filter((pl.col("country") == country) & (pl.col("year") == year))
    assert df.height == 1
    assert df["rate_per_100k"][0] == pytest.approx(rate, abs=0.01)


def test_homicide_rates_table() -> None:
    df = pop.homicide_rates()
    assert df.height == 212
    assert df.columns == ["country", "year", "rate_per_100k", "source"]
    assert "UNODC" in df["source"][0]


def test_latest_homicide_rate() -> None:
    assert pop.latest_homicide_rate("SV") == (2022, pytest.approx(7.90, abs=0.01))
    assert pop.latest_homicide_rate("NI")[0] == 2021
    with pytest.raises(ReferenceError_):
        pop.latest_homicide_rate("XX")


def test_population_matches_upstream(shared_data: Path) -> None:
    up = pl.read_csv(
        shared_data / "homicide-reference" / "population_wdi_sp_pop_totl_ca7.csv",
        schema_overrides={"m49": pl.String},
    ).filter(pl.col("year") >= 1990)
    ours = pop.country_population()
    joined = up.join(ours, left_on=["iso2", "year"], right_on=["country", "year"], how="full")
    assert joined.height == ours.height == up.height
    assert (joined["population"] == joined["population_right"]).all()
