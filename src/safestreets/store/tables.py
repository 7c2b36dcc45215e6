"""SQLAlchemy Core tables. Column names and types follow :mod:`safestreets.schema`."""

from __future__ import annotations

from typing import Any

import polars as pl
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.types import TypeEngine

from safestreets import schema
from safestreets.store import rollup

#: 64-bit keys; on SQLite an INTEGER PRIMARY KEY is the rowid itself (no extra index).
BigKey = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _sql_type(dtype: pl.DataType) -> TypeEngine[Any]:
    if dtype == pl.Int64:
        return BigInteger()
    if dtype in (pl.Int32, pl.Int16):
        return Integer()
    if dtype == pl.Float64:
        return Float()
    if isinstance(dtype, pl.Datetime):
        return DateTime(timezone=True)
    if dtype == pl.Date:
        return Date()
    if dtype == pl.Boolean:
        return Boolean()
    return Text()


def _columns(spec: dict[str, pl.DataType], **overrides: Column[Any]) -> list[Column[Any]]:
    return [overrides.get(name, Column(name, _sql_type(dt))) for name, dt in spec.items()]


#: One ingest run: a file (or a generated dataset) loaded in one transaction.
batch = Table(
    "batch",
    metadata,
    Column("batch_id", BigKey, primary_key=True, autoincrement=True),
    Column("kind", String(20), nullable=False),  # incidents | counts | population
    Column("source", Text, nullable=False),
    Column("profile", Text),
    Column("file_name", Text),
    Column("file_sha256", String(64)),
    Column("synthetic", Boolean, nullable=False, default=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Column("rows_read", BigInteger, nullable=False, default=0),
    Column("rows_loaded", BigInteger, nullable=False, default=0),
    Column("rows_rejected", BigInteger, nullable=False, default=0),
    Column("rows_duplicate", BigInteger, nullable=False, default=0),
    Column("rows_unmapped_category", BigInteger, nullable=False, default=0),
    Column("report_json", Text),
)

incident = Table(
    "incident",
    metadata,
    *_columns(
        schema.INCIDENT,
        incident_id=Column("incident_id", BigKey, primary_key=True, autoincrement=False),
        source=Column("source", Text, nullable=False),
        source_record_id=Column("source_record_id", Text, nullable=False),
        country=Column("country", String(2), nullable=False),
        handling_code=Column(
            "handling_code", String(12), nullable=False, server_default="NATIONAL"
        ),
        # No foreign key to batch: a per-row referential check costs PostgreSQL ~40 % of a
        # bulk load (measured on 500k rows), and the loader writes the batch row and its
        # incidents in one transaction, so the link cannot dangle.
        batch_id=Column("batch_id", BigInteger, nullable=False),
    ),
    # No unique index on (source, source_record_id): incident_id is derived from that pair
    # (see safestreets.ingest.transform.record_ids), so the primary key enforces it, and a
    # second index over 1M+ text keys would double the cost of a bulk load.
)

victim = Table(
    "victim",
    metadata,
    *_columns(
        schema.VICTIM,
        incident_id=Column(
            "incident_id",
            BigInteger,
            ForeignKey("incident.incident_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        victim_no=Column("victim_no", Integer, primary_key=True),
    ),
)

#: Rows of an ingest batch that could not be loaded, with their reasons.
quarantine = Table(
    "quarantine",
    metadata,
    Column("batch_id", BigInteger, ForeignKey("batch.batch_id"), primary_key=True),
    Column("row_number", BigInteger, primary_key=True),
    Column("reasons", Text, nullable=False),
    Column("raw", Text, nullable=False),
)

stat_count = Table(
    "stat_count",
    metadata,
    Column("count_id", BigKey, primary_key=True, autoincrement=True),
    *_columns(
        schema.COUNT,
        source=Column("source", Text, nullable=False),
        country=Column("country", String(2), nullable=False),
        period=Column("period", String(16), nullable=False),
        unit=Column("unit", String(10), nullable=False),
        count=Column("count", BigInteger, nullable=False),
        batch_id=Column("batch_id", BigInteger, ForeignKey("batch.batch_id"), nullable=False),
    ),
)
Index(
    "ix_stat_count_key",
    stat_count.c.source,
    stat_count.c.country,
    stat_count.c.admin1,
    stat_count.c.admin2,
    stat_count.c.period,
    stat_count.c.iccs_code,
    stat_count.c.local_category,
    stat_count.c.unit,
)
# The dimensions added in revision 0002 (sex, age band, weapon, place, context) are part of a
# count's identity too; the index above stays a prefix that narrows the duplicate check.

population = Table(
    "population",
    metadata,
    Column("population_id", BigKey, primary_key=True, autoincrement=True),
    *_columns(
        schema.POPULATION,
        country=Column("country", String(2), nullable=False),
        year=Column("year", Integer, nullable=False),
        population=Column("population", BigInteger, nullable=False),
    ),
)
Index(
    "ix_population_area_year",
    population.c.country,
    population.c.admin1,
    population.c.admin2,
    population.c.year,
)

_ROLLUP_TYPES: dict[str, Any] = {
    "country": String(2),
    "handling_code": String(12),
    "year": Integer(),
    "month": Integer(),
}


def _rollup_table(grain: str) -> Table:
    cols: list[Column[Any]] = [Column("batch_id", BigInteger, nullable=False)]
    for name in rollup.grain_columns(grain):
        cols.append(Column(name, _ROLLUP_TYPES.get(name, Text())))
    cols += [Column(m, BigInteger, nullable=False) for m in rollup.MEASURES]
    return Table(rollup.table_name(grain), metadata, *cols)


#: Incidents and victims summed per batch over each grain of :mod:`safestreets.store.rollup`;
#: written in the ingest transaction. No primary key: rows are only appended and summed.
rollups: dict[str, Table] = {g: _rollup_table(g) for g in rollup.GRAINS}
