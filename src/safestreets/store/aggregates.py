"""Reads and writes of aggregated statistics: rollups, published counts, populations.

The indicator engine (:mod:`safestreets.stats`) is pure; these functions feed it frames.
They push what SQL does well (filtering, GROUP BY over a rollup) into the database and
return small frames.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import polars as pl
from sqlalchemy import (
    BigInteger,
    Connection,
    Engine,
    Select,
    and_,
    cast,
    delete,
    func,
    insert,
    literal_column,
    or_,
    select,
)
from sqlalchemy.sql.elements import ColumnElement

from safestreets import records, schema
from safestreets.access.policy import Principal
from safestreets.query import COUNT_DIMENSIONS, DIMENSIONS, AggregateQuery, CountQuery
from safestreets.store import rollup, tables
from safestreets.store.audit_log import append_for
from safestreets.store.visibility import aggregate_clause

#: Dimensions a filter on incidents can be pushed to SQL for (victim sex/age cannot).
_INCIDENT_DIMS = tuple(d for d in DIMENSIONS if d not in ("sex", "age_band"))


@dataclass(frozen=True)
class Aggregates:
    """Summed incidents and victims, with how they were read."""

    frame: pl.DataFrame
    #: The rollup grain read, or ``"raw"``.
    read_from: str


# --- writing -------------------------------------------------------------------------------


def partial_rollups(
    incidents: pl.DataFrame, victims: pl.DataFrame, grains: Sequence[str] = tuple(rollup.GRAINS)
) -> dict[str, pl.DataFrame]:
    """Rollups of one chunk of new incidents, per grain (to be summed over the batch)."""
    if incidents.is_empty():
        return {}
    rows = records.victim_rows(incidents, victims)
    # Categorical keys group about three times faster than text when the partial sums of a
    # batch are merged (measured: 0.21 s against 0.63 s for 620k rows); merge_rollups turns
    # them back into text for the database.
    text = [c for c, t in rows.schema.items() if t == pl.String]
    rows = rows.with_columns([pl.col(c).cast(pl.Categorical) for c in text])
    return {g: rollup.aggregate(rows, g) for g in grains}


def merge_rollups(
    parts: Sequence[dict[str, pl.DataFrame]], batch_id: int
) -> dict[str, pl.DataFrame]:
    """Sum the chunk rollups of a batch into one frame per grain, tagged with the batch."""
    out: dict[str, pl.DataFrame] = {}
    for grain in rollup.GRAINS:
        frames = [p[grain] for p in parts if grain in p]
        if not frames:
            continue
        merged = rollup.aggregate(pl.concat(frames), grain)
        out[rollup.table_name(grain)] = merged.select(
            pl.lit(batch_id, dtype=pl.Int64).alias("batch_id"),
            *[pl.col(c) for c in rollup.grain_columns(grain)],
            *rollup.MEASURES,
        ).with_columns(
            pl.col("month").cast(pl.Int32),
            pl.col("year").cast(pl.Int32),
            pl.col(pl.Categorical).cast(pl.String),
        )
    return out


def rebuild_rollups(
    conn: Connection, *, grains: Sequence[str] | None = None, chunk: int = 500_000
) -> int:
    """Recompute rollups from the incident and victim tables; returns incidents read.

    Used by the migrations that add rollups (each fills only its own ``grains``: a later
    grain's table does not exist yet) and as a repair tool (all grains). Runs in the caller's
    transaction.
    """
    chosen = tuple(grains) if grains is not None else tuple(rollup.GRAINS)
    for g in chosen:
        conn.execute(delete(tables.rollups[g]))
    inc_t, vic_t = tables.incident, tables.victim
    batch_ids = [r[0] for r in conn.execute(select(inc_t.c.batch_id).distinct()).all()]
    total = 0
    cols = [inc_t.c[c] for c in schema.INCIDENT]
    for batch_id in batch_ids:
        parts: list[dict[str, pl.DataFrame]] = []
        last: int | None = None
        while True:
            q = select(*cols).where(inc_t.c.batch_id == batch_id).order_by(inc_t.c.incident_id)
            if last is not None:
                q = q.where(inc_t.c.incident_id > last)
            inc = _frame(conn, q.limit(chunk), schema.INCIDENT)
            if inc.is_empty():
                break
            last = int(inc["incident_id"].max())  # type: ignore[arg-type]
            ids = inc["incident_id"].to_list()
            vic = _frame(
                conn,
                select(*[vic_t.c[c] for c in schema.VICTIM]).where(vic_t.c.incident_id.in_(ids)),
                schema.VICTIM,
            )
            parts.append(partial_rollups(inc, vic, chosen))
            total += inc.height
        for name, frame in merge_rollups(parts, int(batch_id)).items():
            if frame.height:
                conn.execute(insert(tables.metadata.tables[name]), frame.to_dicts())
    return total


# --- reading -------------------------------------------------------------------------------


def _frame(conn: Connection, query: Select[Any], spec: dict[str, pl.DataType]) -> pl.DataFrame:
    result = conn.execute(query)
    names = list(result.keys())
    rows = result.all()
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    series = []
    for name, values in zip(names, columns, strict=True):
        dtype = spec.get(name, pl.String())
        vals: list[Any] = list(values)
        if isinstance(dtype, pl.Datetime):
            # Naive on SQLite, aware on PostgreSQL: both mean UTC.
            vals = [_utc(v) for v in vals]
        elif dtype == pl.Date:
            vals = [date.fromisoformat(v) if isinstance(v, str) else v for v in vals]
        elif dtype.is_integer():
            vals = [None if v is None else int(v) for v in vals]
        series.append(pl.Series(name, vals, dtype=dtype))
    return pl.DataFrame(series)


def _utc(v: Any) -> datetime | None:
    if v is None:
        return None
    if isinstance(v, str):
        v = datetime.fromisoformat(v)
    return v.replace(tzinfo=UTC) if v.tzinfo is None else v.astimezone(UTC)


def _in(col: ColumnElement[Any], values: Sequence[str | None]) -> ColumnElement[bool]:
    present = [v for v in values if v is not None]
    parts: list[ColumnElement[bool]] = []
    if present:
        parts.append(col.in_(present))
    if len(present) < len(values):
        parts.append(col.is_(None))
    return or_(*parts) if len(parts) > 1 else parts[0]


def _iccs_clause(col: ColumnElement[Any], codes: Sequence[str]) -> ColumnElement[bool]:
    # ICCS codes nest by prefix (01 > 0101 > 01011), so "this code or finer" is a prefix match.
    return or_(*[or_(col == c, col.like(f"{c}%")) for c in codes])


def _filters(t: Any, q: AggregateQuery, dims: Sequence[str]) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if q.iccs is not None:
        where.append(_iccs_clause(t.c.iccs_code, q.iccs))
    for dim, values in q.equals.items():
        if dim in dims:
            where.append(_in(t.c[dim], values))
    return where


def read_aggregates(
    engine: Engine | Connection, q: AggregateQuery, *, principal: Principal | None = None
) -> Aggregates:
    """Incidents and victims summed by ``q.dims`` and time, from a rollup or the raw rows.

    With a ``principal``, only the rows whose sums it may read are summed (the rule of
    :func:`safestreets.access.policy.aggregate_scope`, in the SQL: the rollups carry
    ``owner_agency`` and ``handling_code``), and the query is audited (``query:aggregates``)
    in the same transaction. Without one, the caller is the local operator: everything, no
    audit entry.
    """
    if principal is None:
        return _read_aggregates(engine, q, None)
    if isinstance(engine, Connection):
        return _audited_aggregates(engine, q, principal)
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SET LOCAL work_mem = '{PG_WORK_MEM}'")
        return _audited_aggregates(conn, q, principal)


def _audited_aggregates(conn: Connection, q: AggregateQuery, principal: Principal) -> Aggregates:
    agg = _read_aggregates(conn, q, principal)
    detail = {"query": asdict(q), "read_from": agg.read_from, "rows": agg.frame.height}
    append_for(conn, principal, "query:aggregates", detail=detail)
    return agg


def _read_aggregates(
    engine: Engine | Connection, q: AggregateQuery, principal: Principal | None
) -> Aggregates:
    grain = rollup.choose_grain(q.needed()) if q.resolution != "day" else None
    if grain is None:
        return Aggregates(_read_raw(engine, q, principal), "raw")
    t = tables.rollups[grain]
    time_cols = ["year"] if q.resolution == "year" else ["year", "month"]
    keys = [*q.dims, *time_cols]
    where = _filters(t, q, rollup.grain_columns(grain))
    if principal is not None:
        where.append(aggregate_clause(principal, t))
    if q.year_from is not None:
        where.append(t.c.year >= q.year_from)
    if q.year_to is not None:
        where.append(t.c.year <= q.year_to)
    if q.resolution == "month":
        where.append(t.c.month.is_not(None))
    stmt = (
        select(
            *[t.c[k] for k in keys],
            cast(func.sum(t.c.incidents), BigInteger).label("incidents"),
            cast(func.sum(t.c.victims), BigInteger).label("victims"),
        )
        .where(and_(True, *where))
        .group_by(*[t.c[k] for k in keys])
    )
    spec: dict[str, pl.DataType] = {
        **{d: pl.String() for d in q.dims},
        "year": pl.Int32(),
        "month": pl.Int8(),
        "incidents": pl.Int64(),
        "victims": pl.Int64(),
    }
    frame = _run(engine, stmt, spec, sort_memory=True)
    return Aggregates(frame, grain)


#: Sort memory for a rollup GROUP BY on PostgreSQL: with the default 4 MB the benchmark's
#: 1.4M-row group sorts on disk (2.7 s); with 64 MB in memory (0.9 s). Set for the read only.
PG_WORK_MEM = "64MB"


def _run(
    engine: Engine | Connection,
    stmt: Select[Any],
    spec: dict[str, pl.DataType],
    *,
    sort_memory: bool = False,
) -> pl.DataFrame:
    if isinstance(engine, Connection):
        return _frame(engine, stmt, spec)
    with engine.connect() as conn:
        if sort_memory and conn.dialect.name == "postgresql":
            # SET LOCAL lasts until the end of this read's transaction.
            conn.exec_driver_sql(f"SET LOCAL work_mem = '{PG_WORK_MEM}'")
        return _frame(conn, stmt, spec)


def _read_raw(
    engine: Engine | Connection, q: AggregateQuery, principal: Principal | None = None
) -> pl.DataFrame:
    inc_t, vic_t = tables.incident, tables.victim
    where = _filters(inc_t, q, _INCIDENT_DIMS)
    if principal is not None:
        where.append(aggregate_clause(principal, inc_t))
    # Local dates differ from UTC by at most 14 h: widen the UTC window by a day each side
    # and cut exactly on the local date afterwards.
    lo = q.date_from or (date(q.year_from, 1, 1) if q.year_from else None)
    hi = q.date_to or (date(q.year_to, 12, 31) if q.year_to else None)
    if lo is not None:
        where.append(
            inc_t.c.occurred_at
            >= datetime.combine(lo - timedelta(days=1), datetime.min.time(), UTC)
        )
    if hi is not None:
        where.append(
            inc_t.c.occurred_at < datetime.combine(hi + timedelta(days=2), datetime.min.time(), UTC)
        )
    inc_cols = [inc_t.c[c] for c in schema.INCIDENT if c not in ("lon", "lat", "locality")]
    inc_q = select(*inc_cols).where(and_(True, *where))
    vic_q = (
        select(*[vic_t.c[c] for c in schema.VICTIM])
        .join(inc_t, inc_t.c.incident_id == vic_t.c.incident_id)
        .where(and_(True, *where))
    )
    if isinstance(engine, Connection):
        inc = _frame(engine, inc_q, schema.INCIDENT)
        vic = _frame(engine, vic_q, schema.VICTIM)
    else:
        with engine.connect() as conn:
            inc = _frame(conn, inc_q, schema.INCIDENT)
            vic = _frame(conn, vic_q, schema.VICTIM)
    for col in ("lon", "lat", "locality"):
        inc = inc.with_columns(pl.lit(None, dtype=schema.INCIDENT[col]).alias(col))
    rows = records.victim_rows(inc, vic)
    return records.aggregate_rows(rows, q)


def read_counts(
    engine: Engine | Connection,
    *,
    iccs: Sequence[str] | None = None,
    equals: dict[str, tuple[str | None, ...]] | None = None,
    year_from: int | None = None,
    year_to: int | None = None,
) -> pl.DataFrame:
    """Published counts matching the filters, in :data:`schema.COUNT` columns (no batch id)."""
    t = tables.stat_count
    where: list[ColumnElement[bool]] = []
    if iccs is not None:
        where.append(_iccs_clause(t.c.iccs_code, iccs))
    for dim, values in (equals or {}).items():
        if dim in COUNT_DIMENSIONS:
            where.append(_in(t.c[dim], values))
    if year_from is not None:
        where.append(t.c.period_end >= date(year_from, 1, 1))
    if year_to is not None:
        where.append(t.c.period_start <= date(year_to, 12, 31))
    cols = [c for c in schema.COUNT if c != "batch_id"]
    stmt = select(*[t.c[c] for c in cols]).where(and_(True, *where))
    spec = {c: schema.COUNT[c] for c in cols}
    frame = _run(engine, stmt, spec)
    return frame


def read_population(
    engine: Engine | Connection, countries: Sequence[str] | None = None
) -> pl.DataFrame:
    """User-loaded populations (:data:`schema.POPULATION` columns)."""
    t = tables.population
    stmt = select(*[t.c[c] for c in schema.POPULATION])
    if countries:
        stmt = stmt.where(t.c.country.in_(list(countries)))
    return _run(engine, stmt, dict(schema.POPULATION))


def count_sources(engine: Engine | Connection) -> pl.DataFrame:
    """Sources with records or counts, with how many of each (for `indicators sources`)."""
    inc = tables.rollups["area"]
    rec = select(
        inc.c.source,
        inc.c.country,
        func.sum(inc.c.incidents).label("n"),
        literal_column("'records'").label("basis"),
    ).group_by(inc.c.source, inc.c.country)
    cnt = tables.stat_count
    cts = select(
        cnt.c.source,
        cnt.c.country,
        func.count().label("n"),
        literal_column("'counts'").label("basis"),
    ).group_by(cnt.c.source, cnt.c.country)
    spec = {"source": pl.String(), "country": pl.String(), "n": pl.Int64(), "basis": pl.String()}
    return pl.concat([_run(engine, rec, spec), _run(engine, cts, spec)])


class StoreData:
    """The store as the indicator engine's data provider (see ``stats.indicators``).

    With a ``principal``, incident sums cover only what it may read (see
    :func:`read_aggregates`) and each query is audited. Published counts and populations are
    public figures and are read whole.
    """

    def __init__(self, engine: Engine, principal: Principal | None = None) -> None:
        self.engine = engine
        self.principal = principal

    def aggregates(self, query: AggregateQuery) -> tuple[pl.DataFrame, str]:
        """Summed incidents and victims, and the rollup grain read (or ``raw``)."""
        agg = read_aggregates(self.engine, query, principal=self.principal)
        return agg.frame, agg.read_from

    def counts(self, query: CountQuery) -> pl.DataFrame:
        """Published counts matching the query's filters."""
        return read_counts(
            self.engine,
            iccs=query.iccs,
            equals=query.equals,
            year_from=query.year_from,
            year_to=query.year_to,
        )

    def populations(self, countries: Sequence[str] | None) -> pl.DataFrame:
        """User-loaded populations."""
        return read_population(self.engine, countries)
