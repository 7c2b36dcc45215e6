"""Incidents as point events for spatial analysis (the store side of ``safestreets.spatial``).

Only the columns a map needs are read, straight into Polars: time, its precision and zone,
coordinates and their precision, ICCS code and place type. The spatial package turns them into
events (:func:`safestreets.spatial.events.events_from_incidents`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import polars as pl
from sqlalchemy import Engine, and_, select
from sqlalchemy.sql.elements import ColumnElement

from safestreets.access.policy import Principal
from safestreets.store import tables
from safestreets.store.aggregates import _iccs_clause, _in
from safestreets.store.audit_log import append_for
from safestreets.store.visibility import visible_clause

__all__ = ["EVENT_COLUMNS", "read_incident_points"]

#: Incident columns read for spatial work.
EVENT_COLUMNS = (
    "occurred_at",
    "occurred_precision",
    "source_timezone",
    "lon",
    "lat",
    "location_precision",
    "iccs_code",
    "place_type",
    "country",
    "admin1",
    "admin2",
)


def read_incident_points(
    engine: Engine,
    *,
    countries: Sequence[str] = (),
    admin1: Sequence[str] = (),
    admin2: Sequence[str] = (),
    iccs: Sequence[str] = (),
    sources: Sequence[str] = (),
    date_from: date | None = None,
    date_to: date | None = None,
    principal: Principal | None = None,
) -> pl.DataFrame:
    """Incidents with coordinates matching the filters (UTC times; local-date cut later).

    ``date_from``/``date_to`` widen the UTC window by a day each side: local dates differ from
    UTC by at most 14 hours, and the exact local cut is made on the events.

    With a ``principal``, only the incidents it may see are read (the access rule is part of
    the SQL) and the read is audited (``read:incident_points``) in the same transaction.
    Without one, the caller is the local operator: every incident, no audit entry.
    """
    t = tables.incident
    where: list[ColumnElement[bool]] = [t.c.lon.is_not(None), t.c.lat.is_not(None)]
    for col, values in (
        ("country", countries),
        ("admin1", admin1),
        ("admin2", admin2),
        ("source", sources),
    ):
        if values:
            where.append(_in(t.c[col], list(values)))
    if iccs:
        where.append(_iccs_clause(t.c.iccs_code, list(iccs)))
    if date_from is not None:
        lo = datetime.combine(date_from - timedelta(days=1), datetime.min.time(), UTC)
        where.append(t.c.occurred_at >= lo)
    if date_to is not None:
        hi = datetime.combine(date_to + timedelta(days=2), datetime.min.time(), UTC)
        where.append(t.c.occurred_at < hi)
    if principal is not None:
        where.append(visible_clause(principal, t))
    stmt = select(*[t.c[c] for c in EVENT_COLUMNS]).where(and_(*where))
    if principal is None:
        with engine.connect() as conn:
            frame = pl.read_database(stmt, connection=conn, infer_schema_length=None)
    else:
        with engine.begin() as conn:
            frame = pl.read_database(stmt, connection=conn, infer_schema_length=None)
            filters = {
                "countries": list(countries),
                "admin1": list(admin1),
                "admin2": list(admin2),
                "iccs": list(iccs),
                "sources": list(sources),
                "date_from": date_from,
                "date_to": date_to,
            }
            detail = {
                "filter": {k: v for k, v in filters.items() if v not in ([], None)},
                "rows": frame.height,
            }
            append_for(conn, principal, "read:incident_points", detail=detail)
    if frame.is_empty():
        return pl.DataFrame(
            schema={
                **{c: pl.String() for c in EVENT_COLUMNS},
                "occurred_at": pl.Datetime("us", "UTC"),
                "lon": pl.Float64(),
                "lat": pl.Float64(),
            }
        )
    occ = frame["occurred_at"]
    if occ.dtype == pl.String:
        occ = occ.str.to_datetime(time_unit="us", time_zone="UTC", strict=False)
    elif isinstance(occ.dtype, pl.Datetime):
        occ = (
            occ.dt.replace_time_zone("UTC")
            if occ.dtype.time_zone is None
            else occ.dt.convert_time_zone("UTC")
        ).cast(pl.Datetime("us", "UTC"))
    return frame.with_columns(
        occ.alias("occurred_at"),
        pl.col("lon").cast(pl.Float64),
        pl.col("lat").cast(pl.Float64),
    )
