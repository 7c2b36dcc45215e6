"""Reads for the public map: aggregates of PUBLIC incidents, never records.

The public map is built only from incidents whose owner agency marked them ``PUBLIC`` (the
handling code; ``NATIONAL``, ``REGIONAL`` and ``RESTRICTED`` records never contribute): the
rule :func:`safestreets.access.policy.aggregate_scope` states for the anonymous principal,
turned into SQL by :func:`safestreets.store.visibility.aggregate_clause`. The handling code,
the country, the year and the publication delay are applied here, in the SQL and on the
local dates, whoever calls; each read is audited (``query:public_map``) in its transaction.

:func:`aggregate_public` reads the few columns a count needs (no ids, sources, free text,
times or victims), computes each record's local month, and hands the records to a *reducer*
inside the function: a pure function (the categories and cells of
:mod:`safestreets.stats.public` and :mod:`safestreets.spatial.public`) that the caller passes
in, since ``store`` does not import the analytic packages. Only the reducer's result leaves,
after a check that it is a table of counts keyed by area, cell, category or month.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Final

import polars as pl
from sqlalchemy import Engine, and_, select

from safestreets import records, schema
from safestreets.access.policy import PUBLIC, Principal
from safestreets.errors import InputError
from safestreets.store import tables
from safestreets.store.aggregates import _frame
from safestreets.store.audit_log import append_for
from safestreets.store.visibility import aggregate_clause

__all__ = [
    "AGGREGATE_COLUMNS",
    "PUBLIC",
    "REDUCER_COLUMNS",
    "Reducer",
    "aggregate_public",
    "public_synthetic",
    "public_years",
]

#: Who reads for the public map: the anonymous principal (sums of PUBLIC records only).
_PUBLIC = Principal.public()
#: What a reducer sees of each record.
REDUCER_COLUMNS: Final = (
    "admin1",
    "admin2",
    "iccs_code",
    "context",
    "month",
    "lon",
    "lat",
    "location_precision",
)
#: The only columns that may leave :func:`aggregate_public`; ``count`` is required.
AGGREGATE_COLUMNS: Final = frozenset({"admin1", "admin2", "category", "cell", "month", "count"})
_READ: Final = (
    "admin1",
    "admin2",
    "iccs_code",
    "context",
    "occurred_at",
    "occurred_precision",
    "source_timezone",
    "lon",
    "lat",
    "location_precision",
)

Reducer = Callable[[pl.DataFrame], pl.DataFrame]


def public_years(engine: Engine) -> dict[str, list[int]]:
    """The local calendar years holding PUBLIC incidents, per country (from the rollups)."""
    t = tables.rollups["national_sex"]
    stmt = (
        select(t.c.country, t.c.year)
        .where(aggregate_clause(_PUBLIC, t), t.c.incidents > 0)
        .group_by(t.c.country, t.c.year)
    )
    out: dict[str, list[int]] = {}
    with engine.connect() as conn:
        for country, year in conn.execute(stmt).all():
            if country is not None and year is not None:
                out.setdefault(str(country), []).append(int(year))
    return {c: sorted(set(years)) for c, years in sorted(out.items())}


def public_synthetic(engine: Engine, country: str) -> bool:
    """Whether any PUBLIC incident of ``country`` came from a synthetic (demo) batch."""
    i, b = tables.incident, tables.batch
    stmt = (
        select(i.c.incident_id)
        .join(b, b.c.batch_id == i.c.batch_id)
        .where(i.c.country == country, aggregate_clause(_PUBLIC, i), b.c.synthetic.is_(True))
        .limit(1)
    )
    with engine.connect() as conn:
        return conn.execute(stmt).first() is not None


def aggregate_public(
    engine: Engine,
    *,
    country: str,
    year: int,
    through: date,
    reduce: Reducer,
) -> pl.DataFrame:
    """Counts of a country's PUBLIC incidents of one local calendar year, by ``reduce``.

    Records enter only if their handling code is ``PUBLIC``, their local date falls in
    ``year`` and on or before ``through`` (the publication delay), and they have a time
    (an undated record cannot be held back by a delay). A record dated to the month only
    enters when its whole month is on or before ``through``.

    Args:
        engine: The store.
        country: ISO2 code.
        year: Local calendar year.
        through: Last local date that may be published.
        reduce: Pure function from records (:data:`REDUCER_COLUMNS`) to counts.

    Returns:
        What ``reduce`` returned.

    Raises:
        InputError: ``reduce`` returned something other than counts (a column outside
            :data:`AGGREGATE_COLUMNS`, or no integer ``count``).
    """
    t = tables.incident
    start = date(year, 1, 1)
    end = min(date(year, 12, 31), through)
    if end < start:
        return _checked(reduce(_empty()))
    # Local dates differ from UTC by at most 14 h: widen the UTC window by a day each side,
    # then cut exactly on the local dates.
    lo = datetime.combine(start - timedelta(days=1), datetime.min.time(), UTC)
    hi = datetime.combine(end + timedelta(days=2), datetime.min.time(), UTC)
    stmt = select(*[t.c[c] for c in _READ]).where(
        and_(
            t.c.country == country,
            aggregate_clause(_PUBLIC, t),
            t.c.occurred_at.is_not(None),
            t.c.occurred_at >= lo,
            t.c.occurred_at < hi,
        )
    )
    with engine.begin() as conn:
        rows = _frame(conn, stmt, {c: schema.INCIDENT[c] for c in _READ})
        detail = {"country": country, "year": year, "through": end.isoformat(), "rows": rows.height}
        append_for(conn, _PUBLIC, "query:public_map", detail=detail)
    local = records.local_dates(rows)
    published = (
        pl.when(pl.col("local_date").is_not_null())
        .then(pl.col("local_date") <= end)
        .when(pl.col("month").is_not_null())
        .then(pl.date(pl.col("year"), pl.col("month"), 1).dt.month_end() <= end)
        .otherwise(pl.lit(date(year, 12, 31)) <= end)
    )
    keep = local.select(((pl.col("year") == year) & published).fill_null(False)).to_series()
    frame = rows.with_columns(month=local["month"]).filter(keep).select(REDUCER_COLUMNS)
    return _checked(reduce(frame))


def _empty() -> pl.DataFrame:
    spec = {c: schema.INCIDENT.get(c, pl.Int8()) for c in REDUCER_COLUMNS}
    return pl.DataFrame(schema=spec)


def _checked(out: pl.DataFrame) -> pl.DataFrame:
    extra = set(out.columns) - AGGREGATE_COLUMNS
    if extra or "count" not in out.columns or not out.schema["count"].is_integer():
        raise InputError(
            "a public reducer must return counts keyed by area, cell, category or month; "
            f"got columns {out.columns}",
            hint=f"allowed: {', '.join(sorted(AGGREGATE_COLUMNS))}, with an integer count",
        )
    return out
