"""National population and reference homicide rates of the seven countries.

* Population: World Bank, World Development Indicators, SP.POP.TOTL (mid-year total
  population), 1990-2024, CC BY 4.0.
* Homicide rates: UNODC intentional homicide victims per 100,000 (2025 release), as processed
  by Our World in Data (UN WPP 2024 denominators), CC BY 4.0.

These are national reference series for validation and denominators of last resort; they are
not the platform's own counts.
"""

from __future__ import annotations

from functools import lru_cache

import polars as pl

from safestreets.errors import ReferenceError_
from safestreets.reference._data import read_csv
from safestreets.reference.geo import _check_country

__all__ = [
    "HOMICIDE_SOURCE",
    "POPULATION_SOURCE",
    "country_population",
    "homicide_rates",
    "latest_homicide_rate",
    "population_of",
]

POPULATION_SOURCE = "World Bank, World Development Indicators, SP.POP.TOTL, CC BY 4.0"
HOMICIDE_SOURCE = (
    "UNODC, Intentional Homicide Victims (2025 release); UN WPP (2024) - "
    "with major processing by Our World in Data, CC BY 4.0"
)


@lru_cache(maxsize=1)
def country_population() -> pl.DataFrame:
    """Return the mid-year total population by country and year (1990-2024).

    Returns:
        Columns ``country`` (ISO2), ``year`` (Int64), ``population`` (Int64), ``source``.
    """
    df = read_csv("population_wdi.csv", {"year": pl.Int64, "population": pl.Int64})
    return df.with_columns(pl.lit(POPULATION_SOURCE).alias("source"))


@lru_cache(maxsize=1)
def _population_dict() -> dict[tuple[str, int], int]:
    return {
        (c, y): p for c, y, p in country_population().select("country", "year", "population").rows()
    }


def population_of(country: str, year: int) -> int:
    """Return the WDI mid-year population of a country in a year.

    Args:
        country: ISO2 code.
        year: Calendar year (1990-2024 shipped).

    Returns:
        The population.

    Raises:
        ReferenceError_: If the country is unknown or the year is not covered.
    """
    code = _check_country(country)
    try:
        return _population_dict()[(code, int(year))]
    except KeyError:
        years = country_population()["year"].to_list()
        raise ReferenceError_(
            f"no WDI population for {code} in {year}",
            hint=f"shipped years are {min(years)}-{max(years)}; "
            "supply a population table for other years",
        ) from None


@lru_cache(maxsize=1)
def homicide_rates() -> pl.DataFrame:
    """Return UNODC intentional homicide rates per 100,000 (2025 release, OWID copy).

    Coverage differs by country (BZ 2000-2022, GT 1992-2023 without 2015-2016, SV 1994-2022,
    HN 1990-2023 without 1996-1998, NI 1990-2021 without 2020, CR and PA 1990-2023).

    Returns:
        Columns ``country`` (ISO2), ``year`` (Int64), ``rate_per_100k`` (Float64), ``source``.
    """
    df = read_csv("homicide_rate_unodc.csv", {"year": pl.Int64, "rate_per_100k": pl.Float64})
    return df.with_columns(pl.lit(HOMICIDE_SOURCE).alias("source"))


def latest_homicide_rate(country: str) -> tuple[int, float]:
    """Return the most recent UNODC homicide rate of a country.

    Args:
        country: ISO2 code.

    Returns:
        ``(year, rate_per_100k)``.

    Raises:
        ReferenceError_: If the country is unknown or has no rate.
    """
    code = _check_country(country)
    df = homicide_rates().filter(pl.col("country") == code).sort("year")
    if df.is_empty():
        raise ReferenceError_(f"no UNODC homicide rate for {code}")
    year, rate = df.select("year", "rate_per_100k").row(-1)
    return int(year), float(rate)
