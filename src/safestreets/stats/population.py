"""Denominators: mid-year populations by area, sex and age band, for any period.

Precedence: populations the user loaded (``safestreets population load``) replace the
package's national figures for the same area, sex, age band and year. Years between two known
years are interpolated linearly; years outside the known range are *missing* (never
extrapolated, never zero). A period spanning several years gets the day-weighted mean of the
years it covers.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

import polars as pl

from safestreets import schema
from safestreets.reference import population as ref_population

#: Identity of a population series.
KEY = ("country", "admin1", "admin2", "sex", "age_band")
_ADULT_BANDS = ("18-19", "20-24", "25-29", "30-44", "45-59", "60+")
_MINOR_BANDS = ("0-9", "10-14", "15-17")


def package_populations() -> pl.DataFrame:
    """The national populations shipped with the package, in :data:`schema.POPULATION` form."""
    ref = ref_population.country_population()
    return schema.conform(ref.with_columns(pl.col("year").cast(pl.Int32)), schema.POPULATION)


def population_table(user: pl.DataFrame | None = None) -> pl.DataFrame:
    """Package populations overridden by user rows, plus derivable totals.

    Derived rows fill gaps only: both sexes from female + male, ``0-17`` and ``18+`` from the
    UNODC bands, when every part is known for that area and year.
    """
    base = package_populations()
    if user is not None and not user.is_empty():
        # A population of zero (or less) is no denominator: treated as missing, so the rate
        # is refused (or left empty), never infinite.
        u = schema.conform(user, schema.POPULATION).filter(pl.col("population") > 0)
        base = pl.concat([base.join(u, on=[*KEY, "year"], how="anti", nulls_equal=True), u])
    return _derive(base)


def _derive(table: pl.DataFrame) -> pl.DataFrame:
    out = table
    for band, parts in (("0-17", _MINOR_BANDS), ("18+", _ADULT_BANDS)):
        keys = ["country", "admin1", "admin2", "sex", "year"]
        fine = out.filter(pl.col("age_band").is_in(list(parts)))
        if fine.is_empty():
            continue
        summed = (
            fine.group_by(keys)
            .agg(pl.col("population").sum(), n=pl.col("age_band").n_unique())
            .filter(pl.col("n") == len(parts))
            .drop("n")
            .with_columns(age_band=pl.lit(band), source=pl.lit("derived: sum of age bands"))
        )
        out = _add_missing(out, summed)
    by_sex = out.filter(pl.col("sex").is_in(["female", "male"]))
    if not by_sex.is_empty():
        keys = ["country", "admin1", "admin2", "age_band", "year"]
        summed = (
            by_sex.group_by(keys)
            .agg(pl.col("population").sum(), n=pl.col("sex").n_unique())
            .filter(pl.col("n") == 2)
            .drop("n")
            .with_columns(sex=pl.lit(None, dtype=pl.String), source=pl.lit("derived: f + m"))
        )
        out = _add_missing(out, summed)
    return out


def _add_missing(table: pl.DataFrame, extra: pl.DataFrame) -> pl.DataFrame:
    extra = schema.conform(extra, schema.POPULATION)
    new = extra.join(table, on=[*KEY, "year"], how="anti", nulls_equal=True)
    return pl.concat([table, new])


def _blank(frame: pl.DataFrame) -> pl.DataFrame:
    # join_asof cannot match null "by" keys: use "" for "all" in the key columns.
    return frame.with_columns([pl.col(k).cast(pl.String).fill_null("") for k in KEY])


def at_years(table: pl.DataFrame, wanted: pl.DataFrame) -> pl.DataFrame:
    """Population of each wanted (key, year), interpolated between known years.

    Args:
        table: Rows with :data:`KEY`, ``year`` and ``population``.
        wanted: Rows with :data:`KEY` and ``year``.

    Returns:
        ``wanted``'s distinct rows with ``population`` (Float64, null when the year is outside
        the known years of that series) and ``interpolated`` (Boolean).
    """
    cols = [*KEY, "year"]
    t = (
        _blank(table.select(*cols, "population"))
        .with_columns(pl.col("year").cast(pl.Int32), pl.col("population").cast(pl.Float64))
        .sort("year")
    )
    w = _blank(wanted.select(cols).unique()).with_columns(pl.col("year").cast(pl.Int32))
    w = w.sort("year")
    back = w.join_asof(
        t.rename({"year": "y0", "population": "p0"}).with_columns(year=pl.col("y0")),
        on="year",
        by=list(KEY),
        strategy="backward",
        check_sortedness=False,  # sorted by year above; polars cannot check within groups
    )
    fwd = w.join_asof(
        t.rename({"year": "y1", "population": "p1"}).with_columns(year=pl.col("y1")),
        on="year",
        by=list(KEY),
        strategy="forward",
        check_sortedness=False,
    )
    both = back.join(fwd, on=cols, how="left")
    exact = pl.col("y0") == pl.col("year")
    between = pl.col("y0").is_not_null() & pl.col("y1").is_not_null() & ~exact
    slope = (pl.col("p1") - pl.col("p0")) / (pl.col("y1") - pl.col("y0")).cast(pl.Float64)
    out = both.with_columns(
        population=pl.when(exact)
        .then(pl.col("p0"))
        .when(between)
        .then(pl.col("p0") + slope * (pl.col("year") - pl.col("y0")).cast(pl.Float64)),
        interpolated=between,
    ).select(*cols, "population", "interpolated")
    return out.with_columns([pl.col(k).replace("", None) for k in KEY])


def year_weights(start: date, end: date) -> list[tuple[int, float]]:
    """Share of the days of ``start..end`` (inclusive) falling in each calendar year."""
    total = (end - start).days + 1
    out: list[tuple[int, float]] = []
    cur = start
    while cur <= end:
        year_end = min(end, date(cur.year, 12, 31))
        days = (year_end - cur).days + 1
        out.append((cur.year, days / total))
        cur = year_end + timedelta(days=1)
    return out


def for_periods(table: pl.DataFrame, requests: pl.DataFrame) -> pl.DataFrame:
    """Population of each requested area/sex/age and period (day-weighted over years).

    Args:
        table: Population table (see :func:`population_table`).
        requests: Rows with :data:`KEY`, ``period_start`` and ``period_end`` (Date).

    Returns:
        ``requests``' distinct rows with ``population`` (Float64; null if any year needed is
        unknown) and ``interpolated``.
    """
    req = requests.select(*KEY, "period_start", "period_end").unique()
    periods = req.select("period_start", "period_end").unique()
    weights = pl.DataFrame(
        [(s, e, y, w) for s, e in periods.iter_rows() for y, w in year_weights(s, e)],
        schema={"period_start": pl.Date, "period_end": pl.Date, "year": pl.Int32, "w": pl.Float64},
        orient="row",
    )
    need = req.join(weights, on=["period_start", "period_end"])
    pops = at_years(table, need.select(*KEY, "year"))
    joined = need.join(pops, on=[*KEY, "year"], how="left", nulls_equal=True)
    return joined.group_by([*KEY, "period_start", "period_end"]).agg(
        population=pl.when(pl.col("population").null_count() == 0).then(
            (pl.col("population") * pl.col("w")).sum()
        ),
        interpolated=pl.col("interpolated").any(),
    )


def countries_of(table: pl.DataFrame) -> Sequence[str]:
    """Countries with any population."""
    return sorted(table["country"].unique().to_list())
