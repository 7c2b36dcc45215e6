"""Aggregates of incidents and victims kept ready at ingest ("rollups").

A GROUP BY over millions of raw rows is slow on SQLite and not fast on PostgreSQL (see
docs/benchmarks.md), so each ingest batch also writes, in the same transaction, its incidents
and victims summed over a few *grains*: fixed sets of dimensions at month resolution. An
indicator query reads the smallest grain that holds every dimension it needs and falls back
to the raw rows otherwise (ISO weeks, custom date ranges, or a dimension mix no grain holds).

The unit of a rollup row is the *victim row* (:func:`victim_rows`): one row per recorded
victim, plus one row of sex ``unknown`` for victims an incident counts but does not describe.
``incidents`` counts each incident once, on its first victim row, so incident counts stay
additive over any breakdown (an incident is attributed to its first victim's sex and age).
Months are in the source's local time zone: a homicide at 23:00 on 31 January in Guatemala
City is a January homicide although it is 1 February in UTC.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import polars as pl

#: Columns every grain has (who owns the records and when they happened).
BASE: Final = ("source", "owner_agency", "handling_code", "country", "year", "month")
MEASURES: Final = ("incidents", "victims")

#: The grains, smallest expected first; each adds these dimensions to :data:`BASE`.
GRAINS: Final[dict[str, tuple[str, ...]]] = {
    "national": ("iccs_code", "sex", "age_band", "weapon", "context"),
    "area": ("admin1", "admin2", "iccs_code"),
    "admin1_victim": ("admin1", "iccs_code", "sex", "age_band", "context"),
    "place": ("admin1", "iccs_code", "place_type", "weapon"),
}
#: Every dimension a query may group or filter by, on records.
DIMENSIONS: Final = (
    "source",
    "owner_agency",
    "handling_code",
    "country",
    "admin1",
    "admin2",
    "iccs_code",
    "sex",
    "age_band",
    "weapon",
    "place_type",
    "context",
)

VICTIM_ROW_SCHEMA: Final[dict[str, pl.DataType]] = {
    **{d: pl.String() for d in DIMENSIONS},
    "local_date": pl.Date(),
    "year": pl.Int32(),
    "month": pl.Int8(),
    "incidents": pl.Int64(),
    "victims": pl.Int64(),
}


def table_name(grain: str) -> str:
    """SQL table name of a grain."""
    return f"rollup_{grain}"


def grain_columns(grain: str) -> tuple[str, ...]:
    """Key columns of a grain, in table order."""
    return (*BASE, *GRAINS[grain])


def choose_grain(needed: Sequence[str]) -> str | None:
    """The first (smallest) grain holding every needed dimension, or None."""
    need = set(needed) - {"year", "month"}
    for name, dims in GRAINS.items():
        if need <= set(BASE) | set(dims):
            return name
    return None


def local_dates(incidents: pl.DataFrame) -> pl.DataFrame:
    """``local_date``, ``year`` and ``month`` of each incident in its source's time zone.

    ``month`` is null when the source gave only the year; ``local_date`` is null when it
    gave only the month or the year (it cannot be placed in a week or a day range).
    """
    occ = incidents["occurred_at"]
    tz = incidents["source_timezone"].fill_null("UTC")
    local = pl.Series("local", [None] * incidents.height, dtype=pl.Datetime("us"))
    for zone in tz.unique().to_list():
        sel = tz == zone
        try:
            conv = occ.dt.convert_time_zone(zone).dt.replace_time_zone(None)
        except Exception:  # an unknown zone name: UTC rather than a failed query
            conv = occ.dt.replace_time_zone(None)
        local = pl.select(pl.when(sel).then(conv).otherwise(local)).to_series()
    precision = incidents["occurred_precision"].fill_null("exact")
    frame = pl.DataFrame({"local": local, "precision": precision})
    return frame.select(
        local_date=pl.when(pl.col("precision").is_in(["month", "year"]).not_()).then(
            pl.col("local").dt.date()
        ),
        year=pl.col("local").dt.year().cast(pl.Int32),
        month=pl.when(pl.col("precision") != "year").then(pl.col("local").dt.month().cast(pl.Int8)),
    )


def victim_rows(incidents: pl.DataFrame, victims: pl.DataFrame) -> pl.DataFrame:
    """One row per victim (the unit of every rollup), with the incident's dimensions.

    Args:
        incidents: Canonical incidents (:data:`safestreets.schema.INCIDENT` columns).
        victims: Their victims (:data:`safestreets.schema.VICTIM` columns), possibly empty.

    Returns:
        Frame in :data:`VICTIM_ROW_SCHEMA`: ``victims`` is 1 per described victim; an
        incident with more victims than described (``victim_count``) gets one extra row of
        sex ``unknown`` carrying the rest; an incident with no victim rows gets one row with
        ``victim_count`` victims (1 if unknown, 0 if it says none). ``incidents`` is 1 on the
        first row of each incident and 0 on the others.
    """
    dates = local_dates(incidents)
    inc = incidents.select(
        "incident_id",
        *[pl.col(d).cast(pl.String) for d in DIMENSIONS if d not in ("sex", "age_band")],
        victim_count=pl.col("victim_count").cast(pl.Int64),
    ).hstack(dates)
    vic = victims.select(
        pl.col("incident_id"),
        pl.col("victim_no"),
        pl.col("sex").cast(pl.String).fill_null("unknown"),
        pl.col("age_band").cast(pl.String),
    )
    described = vic.group_by("incident_id").agg(described=pl.len().cast(pl.Int64))
    inc = inc.join(described, on="incident_id", how="left").with_columns(
        pl.col("described").fill_null(0)
    )
    # Victims an incident counts but does not describe (all of them when none is described).
    rest = inc.with_columns(
        victims=pl.when(pl.col("described") == 0)
        .then(pl.col("victim_count").fill_null(1))
        .otherwise((pl.col("victim_count").fill_null(0) - pl.col("described")).clip(0)),
    ).filter((pl.col("described") == 0) | (pl.col("victims") > 0))
    rest = rest.with_columns(
        sex=pl.lit("unknown"),
        age_band=pl.lit(None, dtype=pl.String),
        incidents=(pl.col("described") == 0).cast(pl.Int64),
    )
    first = vic.group_by("incident_id").agg(first_no=pl.col("victim_no").min())
    desc = (
        vic.join(first, on="incident_id")
        .join(inc, on="incident_id", how="inner")
        .with_columns(
            victims=pl.lit(1, dtype=pl.Int64),
            incidents=(pl.col("victim_no") == pl.col("first_no")).cast(pl.Int64),
        )
    )
    cols = list(VICTIM_ROW_SCHEMA)
    out = pl.concat([desc.select(cols), rest.select(cols)], how="vertical_relaxed")
    return out.cast(VICTIM_ROW_SCHEMA)  # type: ignore[arg-type]


def aggregate(rows: pl.DataFrame, grain: str) -> pl.DataFrame:
    """Sum victim rows (or partial rollups) to one grain."""
    keys = list(grain_columns(grain))
    return rows.group_by(keys).agg(pl.col("incidents").sum(), pl.col("victims").sum())
