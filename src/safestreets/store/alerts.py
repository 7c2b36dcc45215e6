"""Alerts, hit/no-hit queries and follow-up requests in the store.

Writes take frames that :func:`safestreets.sharing.alerts.validate_alerts` accepted; reads
that return alert records take the requesting principal and apply the access rules in SQL
(:func:`~safestreets.store.visibility.visible_clause` with ``record_kind="alert"``), and every
read, write, query, request and decision is appended to the audit chain in the same
transaction. Who may do what is decided in :mod:`safestreets.sharing.hits` (the service);
this module checks ownership where the SQL needs it and nothing more.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import polars as pl
from sqlalchemy import (
    Connection,
    Engine,
    and_,
    bindparam,
    func,
    insert,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.sql.elements import ColumnElement

from safestreets.access.policy import Principal
from safestreets.errors import InputError, NotFound
from safestreets.sharing.alerts import (
    ALERT_COLUMNS,
    new_reference,
)
from safestreets.store import tables
from safestreets.store.access_reads import AUDIT_IDS, in_transaction
from safestreets.store.audit_log import append, append_for, utc
from safestreets.store.visibility import visible_clause

__all__ = [
    "ALERT_FIELDS",
    "LoadCounts",
    "active_clause",
    "alert_rows",
    "alert_version",
    "alerts_for",
    "changed_alerts",
    "expire_alerts",
    "index_frame",
    "upsert_alerts",
]

#: Stored alert columns a caller may read: the canonical ones but the encoding's bits, and
#: the bookkeeping the store adds.
ALERT_FIELDS: Final = (
    "alert_id",
    "reference",
    "owner_agency",
    "country",
    "status",
    *(c for c in ALERT_COLUMNS if c not in ("clk", "clk_blocks")),
    "encoding",
    "created_at",
    "created_by",
    "updated_at",
    "updated_by",
)

#: Columns a bulk load writes from the validated frame (the rest are bookkeeping).
_WRITTEN: Final = ALERT_COLUMNS


#: A load inserting at least this many alerts refreshes PostgreSQL's statistics of the table.
ANALYZE_AFTER: Final = 10_000


@dataclass(frozen=True)
class LoadCounts:
    """What a load did: rows inserted, changed, and unchanged (idempotent re-runs)."""

    inserted: int
    updated: int
    unchanged: int
    references: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready counts."""
        return {"inserted": self.inserted, "updated": self.updated, "unchanged": self.unchanged}


def active_clause(now: datetime) -> ColumnElement[bool]:
    """Alerts that may be returned as hits at ``now``: active and within their validity
    (:func:`alert_rows` tests the same in Python, for rows read by key)."""
    a = tables.alert
    return and_(a.c.status == "active", a.c.valid_from <= now, a.c.valid_until > now)


def alert_version(conn: Connection | Engine) -> int:
    """The change counter of the alerts (one indexed read; the match index compares it)."""
    with in_transaction(conn) as c:
        return int(c.execute(select(tables.alert_state.c.version)).scalar_one())


def _bump(conn: Connection) -> int:
    """The next alert version, for the rows this transaction writes.

    The update locks the state row until the transaction ends (PostgreSQL row lock; SQLite's
    single writer), so versions are handed out in commit order: a reader that sees version
    ``v`` sees every row written with a version up to ``v``.
    """
    s = tables.alert_state
    return int(
        conn.execute(
            update(s).where(s.c.id == 1).values(version=s.c.version + 1).returning(s.c.version)
        ).scalar_one()
    )


def _agency_country(conn: Connection, agency: str) -> str | None:
    row = conn.execute(
        select(tables.agency.c.country).where(tables.agency.c.agency_id == agency)
    ).first()
    if row is None:
        raise InputError(
            f"unknown agency {agency!r}",
            hint="alerts belong to a registered agency: safestreets agencies add ...",
        )
    country: str | None = row.country
    return country


def _value(v: Any) -> Any:
    if isinstance(v, datetime):
        return utc(v)
    return v


def _same(stored: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    for k, v in new.items():
        old = stored.get(k)
        if isinstance(v, datetime) and old is not None:
            if utc(old) != utc(v):
                return False
        elif old != v:
            return False
    return True


def upsert_alerts(
    conn: Connection,
    actor: Principal,
    ready: pl.DataFrame,
    *,
    owner_agency: str,
    source: str | None = None,
    now: datetime | None = None,
) -> LoadCounts:
    """Store validated alerts of ``owner_agency``: new ``external_id`` inserted, changed rows
    updated, identical rows left alone (a re-run of the same file changes nothing).

    One audit entry (``alert:load``) in the owner's trail records the counts and the source.
    Runs in the caller's transaction: the whole load is kept or none of it.
    """
    now = utc(now or datetime.now(UTC))
    country = _agency_country(conn, owner_agency)
    a = tables.alert
    existing: dict[str, dict[str, Any]] = {}
    ids = ready.get_column("external_id").to_list() if ready.height else []
    cols = [a.c[c] for c in _WRITTEN]
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        for row in conn.execute(
            select(a.c.alert_id, a.c.reference, a.c.status, *cols).where(
                a.c.owner_agency == owner_agency, a.c.external_id.in_(chunk)
            )
        ).mappings():
            existing[row["external_id"]] = dict(row)
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    unchanged = 0
    refs: list[str] = []
    flags = [c for c in ("from_defaulted", "until_defaulted") if c in ready.columns]
    for rec in ready.select(*_WRITTEN, *flags).iter_rows(named=True):
        from_defaulted = bool(rec.pop("from_defaulted", False))
        until_defaulted = bool(rec.pop("until_defaulted", False))
        values = {k: _value(v) for k, v in rec.items()}
        values["encoding"] = "clk" if values.get("clk") is not None else "plain"
        old = existing.get(rec["external_id"])
        if old is not None and from_defaulted:
            # Validity the source did not give was filled in from the clock: an existing
            # alert keeps its own (a re-run on another day changes nothing).
            values.pop("valid_from")
            if until_defaulted:
                values.pop("valid_until")
        if old is None:
            ref = new_reference(country, rec["kind"])
            refs.append(ref)
            inserts.append(
                {
                    **values,
                    "reference": ref,
                    "owner_agency": owner_agency,
                    "country": country,
                    "status": "active",
                    "created_at": now,
                    "created_by": actor.name,
                    "updated_at": now,
                    "updated_by": actor.name,
                }
            )
        elif (
            _same(old, {k: v for k, v in values.items() if k != "encoding"})
            and old["status"] != "cancelled"
        ):
            unchanged += 1
        else:
            refs.append(old["reference"])
            updates.append(
                {
                    **values,
                    "_id": old["alert_id"],
                    "status": "active",
                    "updated_at": now,
                    "updated_by": actor.name,
                }
            )
    if inserts or updates:
        version = _bump(conn)
        for written in (*inserts, *updates):
            written["version"] = version
    for start in range(0, len(inserts), 10000):
        conn.execute(insert(a), inserts[start : start + 10000])
    if len(inserts) >= ANALYZE_AFTER and conn.dialect.name == "postgresql":
        # Fresh statistics at once: until autovacuum analyses a table that just grew, the
        # planner scans it for the few alerts changed since a version (0.4 s at 200,000).
        conn.exec_driver_sql("ANALYZE alert")
    by_fields: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for upd in updates:  # rows that keep their validity set fewer fields: one statement each
        by_fields.setdefault(tuple(k for k in upd if k != "_id"), []).append(upd)
    for fields, rows in by_fields.items():
        stmt = (
            update(a)
            .where(a.c.alert_id == bindparam("_id"))
            .values({k: bindparam(k) for k in fields})
        )
        conn.execute(stmt, rows)
    detail: dict[str, Any] = {
        "inserted": len(inserts),
        "updated": len(updates),
        "unchanged": unchanged,
        "source": source,
    }
    if len(refs) <= AUDIT_IDS:
        detail["references"] = refs
    append(
        conn,
        actor=actor.name,
        agency=owner_agency,
        action="alert:load",
        target=owner_agency,
        detail=detail,
        now=now,
    )
    return LoadCounts(len(inserts), len(updates), unchanged, tuple(refs))


def update_alert(
    conn: Connection,
    actor: Principal,
    reference: str,
    changes: Mapping[str, Any],
    *,
    now: datetime | None = None,
) -> None:
    """Change fields of one alert (the caller checked the actor may); audited."""
    now = utc(now or datetime.now(UTC))
    a = tables.alert
    row = conn.execute(
        select(a.c.alert_id, a.c.owner_agency).where(a.c.reference == reference)
    ).first()
    if row is None:
        raise NotFound(f"no alert {reference}")
    values = {k: _value(v) for k, v in changes.items()}
    conn.execute(
        update(a)
        .where(a.c.alert_id == row.alert_id)
        .values(**values, updated_at=now, updated_by=actor.name, version=_bump(conn))
    )
    append(
        conn,
        actor=actor.name,
        agency=row.owner_agency,
        action="alert:update",
        target=reference,
        detail={"fields": sorted(changes)},
        now=now,
    )


def owner_of(conn: Connection, reference: str) -> tuple[int, str, str, str]:
    """``(alert_id, owner_agency, handling_code, status)`` of an alert (no personal data)."""
    a = tables.alert
    row = conn.execute(
        select(a.c.alert_id, a.c.owner_agency, a.c.handling_code, a.c.status).where(
            a.c.reference == reference
        )
    ).first()
    if row is None:
        raise NotFound(f"no alert {reference}")
    return int(row.alert_id), row.owner_agency, row.handling_code, row.status


def expire_alerts(conn: Connection, actor: Principal, *, now: datetime | None = None) -> int:
    """Mark active alerts past their validity as ``expired`` (one audit entry per owner).

    Queries never return an expired alert whether or not this ran (they test the validity
    themselves); marking them keeps lists and counts honest.
    """
    now = utc(now or datetime.now(UTC))
    a = tables.alert
    rows = conn.execute(
        select(a.c.owner_agency, func.count())
        .where(a.c.status == "active", a.c.valid_until <= now)
        .group_by(a.c.owner_agency)
    ).all()
    if not rows:
        return 0
    conn.execute(
        update(a)
        .where(a.c.status == "active", a.c.valid_until <= now)
        .values(status="expired", updated_at=now, updated_by=actor.name, version=_bump(conn))
    )
    total = 0
    for owner, n in rows:
        total += int(n)
        append(
            conn,
            actor=actor.name,
            agency=owner,
            action="alert:expire",
            target=owner,
            detail={"expired": int(n)},
            now=now,
        )
    return total


def _frame(rows: Sequence[Sequence[Any]], columns: Sequence[str]) -> pl.DataFrame:
    """Rows read with these columns first (any further ones ignored) as a frame."""
    if not rows:
        return pl.DataFrame({c: [] for c in columns})
    values = list(zip(*(tuple(r)[: len(columns)] for r in rows), strict=True))
    return pl.DataFrame(
        {c: list(v) for c, v in zip(columns, values, strict=True)}, infer_schema_length=None
    )


@dataclass(frozen=True)
class AlertFilter:
    """What a caller asks for among the alerts it may see."""

    kinds: tuple[str, ...] = ()
    status: tuple[str, ...] = ()
    owner_agency: str | None = None
    reference: str | None = None
    after_id: int | None = None
    limit: int | None = 100

    def clause(self) -> ColumnElement[bool]:
        a = tables.alert
        parts: list[ColumnElement[bool]] = []
        if self.kinds:
            parts.append(a.c.kind.in_(self.kinds))
        if self.status:
            parts.append(a.c.status.in_(self.status))
        if self.owner_agency:
            parts.append(a.c.owner_agency == self.owner_agency)
        if self.reference:
            parts.append(a.c.reference == self.reference)
        if self.after_id is not None:
            parts.append(a.c.alert_id > self.after_id)
        return and_(*parts) if parts else true()

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k in ("kinds", "status", "owner_agency", "reference", "after_id", "limit"):
            v = getattr(self, k)
            if v not in ((), None):
                out[k] = list(v) if isinstance(v, tuple) else v
        return out


def alerts_for(
    principal: Principal,
    *,
    conn: Connection | Engine,
    where: AlertFilter | None = None,
    now: datetime | None = None,
) -> pl.DataFrame:
    """The alerts matching ``where`` that ``principal`` may see, by the same rule as incidents
    (owner, handling code, grant list); audited as ``read:alerts``."""
    f = where or AlertFilter()
    a = tables.alert
    stmt = (
        select(*[a.c[c] for c in ALERT_FIELDS])
        .where(f.clause(), visible_clause(principal, a, record_kind="alert", id_column="alert_id"))
        .order_by(a.c.alert_id)
    )
    if f.limit is not None:
        stmt = stmt.limit(f.limit)
    with in_transaction(conn) as c:
        rows = c.execute(stmt).all()
        frame = _frame(rows, ALERT_FIELDS)
        refs = frame.get_column("reference").to_list() if frame.height else []
        detail: dict[str, Any] = {"filter": f.describe(), "rows": len(rows)}
        if len(refs) <= AUDIT_IDS:
            detail["references"] = refs
        append_for(c, principal, "read:alerts", detail=detail, now=now)
    return frame


#: What the service's match indexes read of an alert.
INDEXED: Final = ("alert_id", "kind", "encoding", *ALERT_COLUMNS)


def index_frame(conn: Connection | Engine, *, now: datetime) -> pl.DataFrame:
    """Every alert that may hit at ``now`` (the :data:`INDEXED` columns), for the service's
    match indexes.

    Not a read on anyone's behalf: the index is the service's own machinery (like a database
    index), it never leaves the process, and what a query may reveal is decided per hit.
    """
    a = tables.alert
    stmt = select(*[a.c[c] for c in INDEXED]).where(active_clause(now))
    with in_transaction(conn) as c:
        return _frame(c.execute(stmt).all(), INDEXED)


def changed_alerts(
    conn: Connection | Engine, since_version: int, *, now: datetime
) -> tuple[list[int], pl.DataFrame]:
    """The alerts written with a version above ``since_version``: the ids of all of them (any
    status), and those that may hit at ``now`` as :func:`index_frame` gives them.

    Found by the version index alone, with validity tested here: with the status in the SQL,
    SQLite walks the (status, valid_until) index over every active alert.
    """
    a = tables.alert
    stmt = select(*[a.c[c] for c in INDEXED], a.c.status).where(a.c.version > since_version)
    with in_transaction(conn) as c:
        rows = c.execute(stmt).all()
    hits = [r for r in rows if _hits_at(dict(r._mapping), now)]
    return [int(r.alert_id) for r in rows], _frame(hits, INDEXED)


def alert_rows(
    conn: Connection, alert_ids: Sequence[int], *, now: datetime | None = None
) -> dict[int, dict[str, Any]]:
    """The stored rows of these alerts that may hit at ``now`` (the service decides what of
    them a hit reveals; expired or cancelled alerts are left out)."""
    if not alert_ids:
        return {}
    a = tables.alert
    # By primary key only, with status and validity tested here: given the status condition
    # in SQL, SQLite picks the (status, valid_until) index and walks every active alert
    # (170 ms at a million alerts, against 1.4 ms by key).
    rows = conn.execute(
        select(*[a.c[c] for c in ALERT_FIELDS]).where(a.c.alert_id.in_(list(alert_ids)))
    ).mappings()
    out = {int(r["alert_id"]): dict(r) for r in rows}
    if now is None:
        return out
    return {k: r for k, r in out.items() if _hits_at(r, now)}


def _hits_at(row: Mapping[str, Any], now: datetime) -> bool:
    """:func:`active_clause` for one row read by key: active and within its validity."""
    t = utc(now)
    return bool(row["status"] == "active" and utc(row["valid_from"]) <= t < utc(row["valid_until"]))


# --- hit/no-hit queries ---------------------------------------------------------------------


@dataclass(frozen=True)
class HitRow:
    """One alert a query hit: enough to record it and to tell its owner."""

    alert_id: int
    reference: str
    owner_agency: str
    score: float


def record_query(
    conn: Connection,
    principal: Principal,
    *,
    subject: str,
    mode: str,
    purpose: str | None,
    digest: str | None,
    hits: Sequence[HitRow],
    now: datetime | None = None,
) -> int:
    """Keep one query and the alerts it hit; audit it in the asker's trail and, for each
    owner agency hit, in that owner's trail too (so an owner sees who searched for its
    records). Returns the query id."""
    now = utc(now or datetime.now(UTC))
    q = tables.hit_query
    query_id = int(
        conn.execute(
            insert(q)
            .values(
                at=now,
                actor=principal.name,
                user_id=principal.user_id,
                agency=principal.agency,
                subject=subject,
                mode=mode,
                purpose=purpose,
                digest=digest,
                hits=len(hits),
            )
            .returning(q.c.query_id)
        ).scalar_one()
    )
    if hits:
        conn.execute(
            insert(tables.hit),
            [
                {
                    "query_id": query_id,
                    "alert_id": h.alert_id,
                    "owner_agency": h.owner_agency,
                    "score": h.score,
                }
                for h in hits
            ],
        )
    append_for(
        conn,
        principal,
        "hits:query",
        target=str(query_id),
        detail={
            "subject": subject,
            "mode": mode,
            "result": "hit" if hits else "no_hit",
            "references": [h.reference for h in hits],
            "purpose": purpose,
        },
        now=now,
    )
    owners: dict[str, list[str]] = {}
    for h in hits:
        owners.setdefault(h.owner_agency, []).append(h.reference)
    for owner, refs in sorted(owners.items()):
        if owner == principal.agency:
            continue
        append(
            conn,
            actor=principal.name,
            agency=owner,
            action="hits:hit",
            target=str(query_id),
            detail={"by_agency": principal.agency, "subject": subject, "references": refs},
            now=now,
        )
    return query_id


#: Columns of the searches an owner sees (who searched for its alerts).
SEARCH_COLUMNS: Final = (
    "query_id",
    "at",
    "actor",
    "agency",
    "subject",
    "mode",
    "purpose",
    "reference",
    "kind",
    "score",
)


def searches_of(
    conn: Connection | Engine,
    principal: Principal,
    *,
    agency: str,
    limit: int = 200,
    now: datetime | None = None,
) -> pl.DataFrame:
    """Queries that hit the alerts of ``agency``, newest first (who, when, which alert);
    the read is audited as ``read:searches``."""
    q, h, a = tables.hit_query, tables.hit, tables.alert
    stmt = (
        select(
            q.c.query_id,
            q.c.at,
            q.c.actor,
            q.c.agency,
            q.c.subject,
            q.c.mode,
            q.c.purpose,
            a.c.reference,
            a.c.kind,
            h.c.score,
        )
        .join(h, h.c.query_id == q.c.query_id)
        .join(a, a.c.alert_id == h.c.alert_id)
        .where(h.c.owner_agency == agency)
        .order_by(q.c.query_id.desc(), a.c.reference)
        .limit(limit)
    )
    with in_transaction(conn) as c:
        rows = c.execute(stmt).all()
        append_for(
            c, principal, "read:searches", target=agency, detail={"rows": len(rows)}, now=now
        )
    return _frame(rows, SEARCH_COLUMNS)


def query_hit(conn: Connection, query_id: int, reference: str) -> tuple[dict[str, Any], int]:
    """The query (``user_id``, ``agency``) and the alert id of one of its hits.

    Raises:
        NotFound: The query did not hit that alert.
    """
    q, h, a = tables.hit_query, tables.hit, tables.alert
    row = conn.execute(
        select(q.c.query_id, q.c.user_id, q.c.agency, q.c.actor, h.c.alert_id, h.c.owner_agency)
        .join(h, h.c.query_id == q.c.query_id)
        .join(a, a.c.alert_id == h.c.alert_id)
        .where(q.c.query_id == query_id, a.c.reference == reference)
    ).first()
    if row is None:
        raise NotFound(f"query {query_id} did not hit alert {reference}")
    return dict(row._mapping), int(row.alert_id)


# --- follow-up requests ---------------------------------------------------------------------

#: Columns of a follow-up request as listed (no personal data of the subject).
REQUEST_COLUMNS: Final = (
    "request_id",
    "query_id",
    "reference",
    "kind",
    "owner_agency",
    "requester",
    "requester_agency",
    "reason",
    "status",
    "created_at",
    "decided_at",
    "decided_by",
    "decision_reason",
)


def _request_select() -> Any:
    f, a = tables.followup, tables.alert
    return select(
        f.c.request_id,
        f.c.query_id,
        a.c.reference,
        a.c.kind,
        f.c.owner_agency,
        f.c.requester,
        f.c.requester_agency,
        f.c.reason,
        f.c.status,
        f.c.created_at,
        f.c.decided_at,
        f.c.decided_by,
        f.c.decision_reason,
        f.c.requester_user_id,
    ).join(a, a.c.alert_id == f.c.alert_id)


def file_request(
    conn: Connection,
    principal: Principal,
    *,
    query_id: int,
    alert_id: int,
    reference: str,
    owner_agency: str,
    reason: str,
    now: datetime | None = None,
) -> int:
    """A pending follow-up request; audited in the requester's and the owner's trails."""
    now = utc(now or datetime.now(UTC))
    f = tables.followup
    if principal.user_id is None:
        raise InputError("follow-up requests are filed by a user account")
    request_id = int(
        conn.execute(
            insert(f)
            .values(
                query_id=query_id,
                alert_id=alert_id,
                owner_agency=owner_agency,
                requester_user_id=principal.user_id,
                requester=principal.name,
                requester_agency=principal.agency,
                reason=reason,
                status="pending",
                created_at=now,
            )
            .returning(f.c.request_id)
        ).scalar_one()
    )
    detail = {"query_id": query_id, "reference": reference, "owner_agency": owner_agency}
    append_for(conn, principal, "request:file", target=str(request_id), detail=detail, now=now)
    if owner_agency != principal.agency:
        append(
            conn,
            actor=principal.name,
            agency=owner_agency,
            action="request:received",
            target=str(request_id),
            detail={**detail, "by_agency": principal.agency},
            now=now,
        )
    return request_id


def get_request(conn: Connection, request_id: int) -> dict[str, Any]:
    """One follow-up request (the service checks who may see it)."""
    row = conn.execute(_request_select().where(tables.followup.c.request_id == request_id)).first()
    if row is None:
        raise NotFound(f"no follow-up request {request_id}")
    return dict(row._mapping)


def requests_where(
    conn: Connection | Engine,
    *,
    requester_user_id: int | None = None,
    owner_agency: str | None = None,
    status: str | None = None,
    limit: int = 200,
) -> pl.DataFrame:
    """Follow-up requests filed by a user, or addressed to an owner agency (or both)."""
    f = tables.followup
    grounds: list[ColumnElement[bool]] = []
    if requester_user_id is not None:
        grounds.append(f.c.requester_user_id == requester_user_id)
    if owner_agency is not None:
        grounds.append(f.c.owner_agency == owner_agency)
    if not grounds:
        return _frame([], REQUEST_COLUMNS)
    stmt = _request_select().where(or_(*grounds))
    if status:
        stmt = stmt.where(f.c.status == status)
    stmt = stmt.order_by(f.c.request_id.desc()).limit(limit)
    with in_transaction(conn) as c:
        rows = c.execute(stmt).all()
    return _frame(rows, REQUEST_COLUMNS)


def decide_request(
    conn: Connection,
    principal: Principal,
    request_id: int,
    *,
    approve: bool,
    reason: str,
    now: datetime | None = None,
) -> str:
    """Approve or deny a pending request (the service checked the principal may); audited in
    the owner's and the requester's trails. Returns the new status."""
    now = utc(now or datetime.now(UTC))
    f = tables.followup
    status = "approved" if approve else "denied"
    done = conn.execute(
        update(f)
        .where(f.c.request_id == request_id, f.c.status == "pending")
        .values(status=status, decided_at=now, decided_by=principal.name, decision_reason=reason)
    ).rowcount
    if done != 1:
        raise InputError(
            f"follow-up request {request_id} is not pending",
            hint="a request is decided once",
        )
    req = get_request(conn, request_id)
    detail = {"reference": req["reference"], "status": status, "reason": reason}
    append_for(
        conn,
        principal,
        "request:approve" if approve else "request:deny",
        target=str(request_id),
        detail=detail,
        now=now,
    )
    if req["requester_agency"] != principal.agency:
        append(
            conn,
            actor=principal.name,
            agency=req["requester_agency"],
            action="request:decided",
            target=str(request_id),
            detail=detail,
            now=now,
        )
    return status


def released_alert(
    conn: Connection, principal: Principal, request_id: int, *, now: datetime | None = None
) -> dict[str, Any]:
    """The full alert behind an approved request, for its requester only; audited as
    ``read:released``. The requester test is in the SQL: another user, even of the same
    agency, gets NotFound."""
    f, a = tables.followup, tables.alert
    if principal.user_id is None:
        raise NotFound(f"no released details for request {request_id}")
    row = conn.execute(
        select(*[a.c[c] for c in ALERT_FIELDS])
        .join(f, f.c.alert_id == a.c.alert_id)
        .where(
            f.c.request_id == request_id,
            f.c.requester_user_id == principal.user_id,
            f.c.status == "approved",
        )
    ).first()
    if row is None:
        raise NotFound(
            f"no released details for request {request_id}",
            hint="details are released to the requester once the owner agency approves",
        )
    append_for(
        conn,
        principal,
        "read:released",
        target=str(request_id),
        detail={"reference": row.reference},
        now=now,
    )
    return dict(row._mapping)
