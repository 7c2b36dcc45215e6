"""Aggregate reads of the store: what is loaded, in a handful of GROUP BY queries.

These are counts only, never record-level data, so they do not pass through the access
filter of :mod:`safestreets.access`. Everything is computed in the database (SQLite or
PostgreSQL); no incident row is loaded into Python.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, Field
from sqlalchemy import ColumnClause, Engine, func, literal_column, select

from safestreets.reference.iccs import iccs_name, is_iccs_code
from safestreets.store import tables

__all__ = [
    "UNMAPPED",
    "BatchInfo",
    "CountryCount",
    "SectionCount",
    "SourceCount",
    "Summary",
    "incident_count",
    "summary",
]

#: The ``section`` of the row that counts incidents without an ICCS code.
UNMAPPED = "unmapped"


class CountryCount(BaseModel):
    country: str = Field(description="ISO 3166-1 alpha-2 code")
    count: int


class SectionCount(BaseModel):
    section: str = Field(description='2-digit ICCS section, or "unmapped" (no ICCS code)')
    name_es: str | None = Field(description="official Spanish name; null for unmapped/unknown")
    name_en: str | None = Field(description="official English name; null for unmapped/unknown")
    count: int


class SourceCount(BaseModel):
    source: str
    synthetic: bool = Field(description="loaded by a batch flagged synthetic (demo data)")
    count: int


class BatchInfo(BaseModel):
    batch_id: int
    kind: str
    source: str
    file_name: str | None
    synthetic: bool
    rows_read: int
    rows_loaded: int
    rows_rejected: int
    rows_duplicate: int
    finished_at: datetime | None


class Summary(BaseModel):
    """What the store holds, for the landing page and ``GET /api/v1/summary``."""

    incidents: int
    by_country: list[CountryCount]
    by_section: list[SectionCount]
    by_source: list[SourceCount]
    occurred_min: datetime | None
    occurred_max: datetime | None
    batches: int
    count_rows: int = Field(description="rows of aggregated statistics (table stat_count)")
    population_rows: int
    latest_batches: list[BatchInfo]


def _utc(value: datetime | None) -> datetime | None:
    # SQLite hands timestamps back naive; they are stored in UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _section_names(section: str) -> tuple[str | None, str | None]:
    if not is_iccs_code(section):
        return None, None
    return iccs_name(section, "es"), iccs_name(section, "en")


def summary(engine: Engine, *, latest: int = 10) -> Summary:
    """Count what is loaded: incidents by country, ICCS section and source, batches and more.

    Args:
        engine: An initialised store (see ``safestreets.store.migrate.upgrade``).
        latest: How many of the most recent batches to list.

    Returns:
        The summary; sections are ordered by code with ``"unmapped"`` last, countries and
        sources by descending count.
    """
    inc, bat = tables.incident, tables.batch
    # Inline literals: PostgreSQL only matches GROUP BY expressions that render identically,
    # and two sets of bound parameters would not.
    start: ColumnClause[int] = literal_column("1")
    length: ColumnClause[int] = literal_column("2")
    section = func.substr(inc.c.iccs_code, start, length).label("section")
    n = func.count().label("n")

    totals_q = select(
        select(func.count()).select_from(inc).scalar_subquery().label("incidents"),
        select(func.min(inc.c.occurred_at)).scalar_subquery().label("occurred_min"),
        select(func.max(inc.c.occurred_at)).scalar_subquery().label("occurred_max"),
        select(func.count()).select_from(bat).scalar_subquery().label("batches"),
        select(func.count()).select_from(tables.stat_count).scalar_subquery().label("counts"),
        select(func.count()).select_from(tables.population).scalar_subquery().label("population"),
    )
    country_q = select(inc.c.country, n).group_by(inc.c.country).order_by(n.desc(), inc.c.country)
    section_q = select(section, n).group_by(section)
    source_q = (
        select(inc.c.source, bat.c.synthetic, n)
        .select_from(inc.join(bat, inc.c.batch_id == bat.c.batch_id))
        .group_by(inc.c.source, bat.c.synthetic)
        .order_by(n.desc(), inc.c.source)
    )
    batches_q = (
        select(
            bat.c.batch_id,
            bat.c.kind,
            bat.c.source,
            bat.c.file_name,
            bat.c.synthetic,
            bat.c.rows_read,
            bat.c.rows_loaded,
            bat.c.rows_rejected,
            bat.c.rows_duplicate,
            bat.c.finished_at,
        )
        .order_by(bat.c.batch_id.desc())
        .limit(latest)
    )

    with engine.connect() as conn:
        totals = conn.execute(totals_q).one()
        countries = conn.execute(country_q).all()
        sections = conn.execute(section_q).all()
        sources = conn.execute(source_q).all()
        latest_rows = conn.execute(batches_q).mappings().all()

    by_section: dict[str, int] = {}
    for code, count in sections:
        key = code if code else UNMAPPED  # null and empty codes alike
        by_section[key] = by_section.get(key, 0) + int(count)
    section_rows = []
    for key in sorted(by_section, key=lambda k: (k == UNMAPPED, k)):
        name_es, name_en = (None, None) if key == UNMAPPED else _section_names(key)
        section_rows.append(
            SectionCount(section=key, name_es=name_es, name_en=name_en, count=by_section[key])
        )

    return Summary(
        incidents=int(totals.incidents),
        by_country=[CountryCount(country=c, count=int(k)) for c, k in countries],
        by_section=section_rows,
        by_source=[
            SourceCount(source=src, synthetic=bool(syn), count=int(k)) for src, syn, k in sources
        ],
        occurred_min=_utc(totals.occurred_min),
        occurred_max=_utc(totals.occurred_max),
        batches=int(totals.batches),
        count_rows=int(totals.counts),
        population_rows=int(totals.population),
        latest_batches=[
            BatchInfo(**{**row, "finished_at": _utc(row["finished_at"])}) for row in latest_rows
        ],
    )


def incident_count(engine: Engine) -> int:
    """The number of stored incidents (one cheap query, for health checks)."""
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(tables.incident)).scalar_one())
