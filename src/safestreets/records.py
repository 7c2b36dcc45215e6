"""Pure functions over canonical incident and victim frames, shared by store and stats."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Final

import polars as pl

from safestreets.query import DIMENSIONS, AggregateQuery
from safestreets.reference import geo

# Written where the name is not known: unidentified bodies, blank forms.
_UNKNOWN_NAMES = frozenset(
    {
        "nn", "n n", "xx", "x", "n", "sn", "s n", "sin nombre", "desconocido", "desconocida",
        "no identificado", "no identificada", "sin identificar", "ignorado", "ignorada",
        "no consta", "nd", "n d", "sd", "s d", "cadaver", "cadaver no identificado",
        "persona desconocida", "unknown", "unidentified", "na", "n a", "none", "null",
    }
)  # fmt: skip

VICTIM_ROW_SCHEMA: Final[dict[str, pl.DataType]] = {
    **{d: pl.String() for d in DIMENSIONS},
    "local_date": pl.Date(),
    "year": pl.Int32(),
    "month": pl.Int8(),
    "incidents": pl.Int64(),
    "victims": pl.Int64(),
}


def local_clock(occurred_at: pl.Series, zones: pl.Series) -> pl.Series:
    """UTC times as the wall-clock times (naive) of each row's IANA time zone.

    A null zone is UTC; an unknown zone name gives the UTC clock rather than a failed query.
    """
    occ = occurred_at
    if occ.dtype == pl.Datetime and getattr(occ.dtype, "time_zone", None) is None:
        occ = occ.dt.replace_time_zone("UTC")
    tz = zones.fill_null("UTC")
    local = occ.dt.replace_time_zone(None).alias("local")
    for zone in tz.unique().to_list():
        try:
            conv = occ.dt.convert_time_zone(zone).dt.replace_time_zone(None)
        except Exception:  # an unknown zone name: keep UTC
            continue
        local = pl.select(pl.when(tz == zone).then(conv).otherwise(local)).to_series()
    return local.cast(pl.Datetime("us"))


def local_dates(incidents: pl.DataFrame) -> pl.DataFrame:
    """``local_date``, ``year`` and ``month`` of each incident in its source's time zone.

    ``month`` is null when the source gave only the year; ``local_date`` is null when it
    gave only the month or the year (it cannot be placed in a week or a day range).
    """
    local = local_clock(incidents["occurred_at"], incidents["source_timezone"])
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


def is_in(col: pl.Expr, values: Sequence[str | None]) -> pl.Expr:
    """``col`` among ``values``, where a ``None`` among them matches null."""
    present = [v for v in values if v is not None]
    expr = col.is_in(present)
    if len(present) < len(values):
        expr = expr | col.is_null()
    return expr


def iccs_match(col: pl.Expr, codes: Sequence[str]) -> pl.Expr:
    """Codes equal to, or finer than, any of ``codes`` (ICCS codes nest by prefix)."""
    expr = pl.lit(False)
    for c in codes:
        expr = expr | col.str.starts_with(c)
    return expr.fill_null(False)


def aggregate_rows(rows: pl.DataFrame, q: AggregateQuery) -> pl.DataFrame:
    """Filter victim rows (:func:`victim_rows`) by ``q`` and sum them by its dims and time.

    Returns the dims, ``year`` (and ``month``, and ``local_date`` for ``day`` resolution),
    ``incidents`` and ``victims``; rows without the time detail asked for are left out.
    """
    if q.iccs is not None:
        rows = rows.filter(iccs_match(pl.col("iccs_code"), q.iccs))
    for dim, values in q.equals.items():
        rows = rows.filter(is_in(pl.col(dim), values))
    lo = q.date_from or (date(q.year_from, 1, 1) if q.year_from else None)
    hi = q.date_to or (date(q.year_to, 12, 31) if q.year_to else None)
    if lo is not None:
        rows = rows.filter(pl.col("year") >= lo.year)
    if hi is not None:
        rows = rows.filter(pl.col("year") <= hi.year)
    if q.date_from is not None:
        rows = rows.filter(pl.col("local_date") >= q.date_from)
    if q.date_to is not None:
        rows = rows.filter(pl.col("local_date") <= q.date_to)
    time_cols = {
        "year": ["year"],
        "month": ["year", "month"],
        "day": ["year", "month", "local_date"],
    }
    if q.resolution == "day":
        rows = rows.filter(pl.col("local_date").is_not_null())
    elif q.resolution == "month":
        rows = rows.filter(pl.col("month").is_not_null())
    keys = [*q.dims, *time_cols[q.resolution]]
    return rows.group_by(keys).agg(pl.col("incidents").sum(), pl.col("victims").sum())


def unknown_name(text: str | None) -> bool:
    """True for blanks and the placeholders written for unknown names ("NN", "Desconocido")."""
    return text is None or geo.normalise_name(text) in _UNKNOWN_NAMES or not text.strip()
