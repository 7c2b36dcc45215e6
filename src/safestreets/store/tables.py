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
    LargeBinary,
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


# --- accounts, access and audit (revision 0004; rules in safestreets.access.policy) ---------

#: Agencies that own records and employ users. ``agency_id`` is the value records carry in
#: ``owner_agency``; ``country`` is empty for a regional body (e.g. the SICA secretariat).
agency = Table(
    "agency",
    metadata,
    Column("agency_id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("country", String(2)),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
Index("ix_agency_country", agency.c.country)

app_user = Table(
    "app_user",
    metadata,
    Column("user_id", BigKey, primary_key=True, autoincrement=True),
    Column("username", Text, nullable=False, unique=True),
    Column("agency_id", Text, ForeignKey("agency.agency_id"), nullable=False),
    # Argon2id (PHC string); empty for accounts that only use API tokens.
    Column("password_hash", Text),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("disabled_at", DateTime(timezone=True)),
)

user_role = Table(
    "user_role",
    metadata,
    Column(
        "user_id",
        BigInteger,
        ForeignKey("app_user.user_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("role", String(20), primary_key=True),
    Column("granted_at", DateTime(timezone=True), nullable=False),
    Column("granted_by", Text),
)

#: API tokens: only the SHA-256 of the secret is stored; the secret is shown once.
api_token = Table(
    "api_token",
    metadata,
    Column("token_id", BigKey, primary_key=True, autoincrement=True),
    Column(
        "user_id",
        BigInteger,
        ForeignKey("app_user.user_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(16), nullable=False),
    Column("label", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True)),
    Column("last_used_at", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
)

#: Failed-login counters per user name and per client address (throttling survives restarts).
login_throttle = Table(
    "login_throttle",
    metadata,
    Column("scope", String(10), primary_key=True),  # user | address
    Column("key", Text, primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("window_started_at", DateTime(timezone=True), nullable=False),
    Column("locked_until", DateTime(timezone=True)),
)

#: The grant list of RESTRICTED records, for any kind of record (incidents now, alerts later).
#: The key leads with what a read asks ("which incidents are granted to GT or to GT-PNC?").
record_grant = Table(
    "record_grant",
    metadata,
    Column("record_kind", String(20), primary_key=True),
    Column("grantee_kind", String(10), primary_key=True),  # country | agency
    Column("grantee", Text, primary_key=True),
    Column("record_id", BigInteger, primary_key=True),
    Column("granted_at", DateTime(timezone=True), nullable=False),
    Column("granted_by", Text),
)
Index("ix_record_grant_record", record_grant.c.record_kind, record_grant.c.record_id)

#: The hash-chained audit log: every entry's hash covers its fields and the previous hash.
audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", BigKey, primary_key=True, autoincrement=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", Text, nullable=False),
    Column("agency", Text),
    Column("action", Text, nullable=False),
    Column("target", Text),
    Column("detail", Text),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)
Index("ix_audit_log_agency_seq", audit_log.c.agency, audit_log.c.seq)

#: One row (id 1): the newest entry's seq and hash. Appends lock it, so they are serialised.
audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
)


# --- cross-border alerts, hit/no-hit queries, follow-up requests (revision 0005) ------------

#: One alert: a wanted, missing or previously convicted person, a stolen vehicle, a lost or
#: stolen firearm or one recovered at a crime scene. The subject's fields share one row (a
#: person's, a vehicle's or a firearm's columns are filled, by kind); a person contributed in
#: privacy-preserving mode has no name columns, only ``clk`` and ``clk_blocks``. ``country``
#: is the owner agency's country (the access rules read it as every record's).
alert = Table(
    "alert",
    metadata,
    Column("alert_id", BigKey, primary_key=True, autoincrement=True),
    Column("reference", String(32), nullable=False, unique=True),
    Column("kind", String(20), nullable=False),
    Column("owner_agency", Text, ForeignKey("agency.agency_id"), nullable=False),
    Column("country", String(2)),
    Column("handling_code", String(12), nullable=False),
    # The owner's own id: (owner_agency, external_id) is the natural key of bulk re-runs.
    Column("external_id", Text, nullable=False),
    Column("status", String(10), nullable=False),  # active | cancelled | expired
    Column("valid_from", DateTime(timezone=True), nullable=False),
    Column("valid_until", DateTime(timezone=True), nullable=False),
    Column("contact", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("instructions", Text),
    Column("iccs_code", String(16)),
    Column("warrant_ref", Text),
    Column("is_child", Boolean),
    *[Column(name, Text) for name in schema.PERSON_COLUMNS if name != "record_id"],
    Column("plate", Text),
    Column("plate_country", String(2)),
    Column("vin", String(17)),
    Column("make", Text),
    Column("model", Text),
    Column("colour", Text),
    Column("year", Integer),
    Column("serial", Text),
    Column("calibre", Text),
    Column("firearm_type", Text),
    Column("encoding", String(8), nullable=False),  # plain | clk
    Column("clk", LargeBinary),
    Column("clk_blocks", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("updated_by", Text, nullable=False),
    # The alert_state version of the write that last changed the row (revision 0006): a
    # process holding a match index reads only the alerts changed since it built it.
    Column("version", BigInteger, nullable=False, server_default="0"),
)
Index("uq_alert_owner_external", alert.c.owner_agency, alert.c.external_id, unique=True)
Index("ix_alert_version", alert.c.version)
Index("ix_alert_status_valid_until", alert.c.status, alert.c.valid_until)

#: One row (id 1) counting changes to alerts, so a process holding an in-memory match index
#: knows, with one cheap read, whether it must refresh it.
alert_state = Table(
    "alert_state",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("version", BigInteger, nullable=False),
)

#: Every hit/no-hit query: who asked, when, about what kind of subject, and the answer. The
#: query's own personal data is not kept (only a keyed digest, to spot repeated queries).
hit_query = Table(
    "hit_query",
    metadata,
    Column("query_id", BigKey, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", Text, nullable=False),
    Column("user_id", BigInteger),
    Column("agency", Text),
    Column("subject", String(10), nullable=False),
    Column("mode", String(8), nullable=False),  # plain | clk
    Column("purpose", Text),
    Column("digest", String(64)),
    Column("hits", Integer, nullable=False),
)
Index("ix_hit_query_user", hit_query.c.user_id, hit_query.c.query_id)

#: The alerts a query hit: the owner agency sees who searched for its records from here.
hit = Table(
    "hit",
    metadata,
    Column(
        "query_id",
        BigInteger,
        ForeignKey("hit_query.query_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("alert_id", BigInteger, ForeignKey("alert.alert_id"), primary_key=True),
    Column("owner_agency", Text, nullable=False),
    Column("score", Float, nullable=False),
)
Index("ix_hit_owner", hit.c.owner_agency, hit.c.query_id)

#: Follow-up requests: after a hit, the querying officer asks the owner for the details.
followup = Table(
    "followup",
    metadata,
    Column("request_id", BigKey, primary_key=True, autoincrement=True),
    Column("query_id", BigInteger, ForeignKey("hit_query.query_id"), nullable=False),
    Column("alert_id", BigInteger, ForeignKey("alert.alert_id"), nullable=False),
    Column("owner_agency", Text, nullable=False),
    Column("requester_user_id", BigInteger, nullable=False),
    Column("requester", Text, nullable=False),
    Column("requester_agency", Text),
    Column("reason", Text, nullable=False),
    Column("status", String(10), nullable=False),  # pending | approved | denied
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("decided_at", DateTime(timezone=True)),
    Column("decided_by", Text),
    Column("decision_reason", Text),
)
Index("ix_followup_owner_status", followup.c.owner_agency, followup.c.status)
Index("ix_followup_requester", followup.c.requester_user_id)
