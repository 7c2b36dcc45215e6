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
    # Small and fast: rates by country and period, by ICCS code and victim sex (at 10M demo
    # incidents 179k rows against 1.4M for "national"; the benchmark's table query runs in a
    # fifth of the time: docs/benchmarks.md).
    "national_sex": ("iccs_code", "sex"),
    "national": ("iccs_code", "sex", "age_band", "weapon", "context"),
    "area": ("admin1", "admin2", "iccs_code"),
    "admin1_victim": ("admin1", "iccs_code", "sex", "age_band", "context"),
    "place": ("admin1", "iccs_code", "place_type", "weapon"),
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


def aggregate(rows: pl.DataFrame, grain: str) -> pl.DataFrame:
    """Sum victim rows (or partial rollups) to one grain."""
    keys = list(grain_columns(grain))
    return rows.group_by(keys).agg(pl.col("incidents").sum(), pl.col("victims").sum())
