"""Reads that know who is asking: records limited in SQL to what a principal may see, and
audited in the same transaction.

Each function takes a :class:`~safestreets.access.policy.Principal` and a ``conn``: a
Connection (the entry is written in the caller's transaction and kept only if it commits:
use ``engine.begin()``) or an Engine (the function commits the read and its entry itself).
The read runs first and the entry is appended last, so the lock that serialises appends is
held only for the append, not for the read.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import polars as pl
from sqlalchemy import Connection, Engine, and_, select
from sqlalchemy.sql import FromClause
from sqlalchemy.sql.elements import ColumnElement

from safestreets import schema
from safestreets.access.policy import Principal, may
from safestreets.errors import AccessDenied
from safestreets.store import tables
from safestreets.store.aggregates import _frame, _iccs_clause, _in
from safestreets.store.audit_log import append_for, utc
from safestreets.store.visibility import visible_clause

__all__ = ["AUDIT_COLUMNS", "IncidentFilter", "audit_trail", "in_transaction", "incidents_for"]

#: Up to this many ids of the records returned are written in a read's audit entry.
AUDIT_IDS = 100


@contextmanager
def in_transaction(conn: Connection | Engine) -> Iterator[Connection]:
    """The caller's connection as it is, or a new transaction on an engine (committed)."""
    if isinstance(conn, Connection):
        yield conn
    else:
        with conn.begin() as c:
            yield c


@dataclass(frozen=True)
class IncidentFilter:
    """What a caller asks for, before the access rules narrow it.

    Empty tuples mean no filter; ``occurred_from``/``occurred_to`` bound ``occurred_at``
    (UTC, from inclusive, to exclusive).
    """

    countries: tuple[str, ...] = ()
    admin1: tuple[str, ...] = ()
    admin2: tuple[str, ...] = ()
    iccs: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    owner_agencies: tuple[str, ...] = ()
    handling_codes: tuple[str, ...] = ()
    incident_ids: tuple[int, ...] = ()
    occurred_from: datetime | None = None
    occurred_to: datetime | None = None
    limit: int | None = None

    def clause(self, t: FromClause) -> ColumnElement[bool]:
        """The filter as SQL over ``t`` (the incident table)."""
        where: list[ColumnElement[bool]] = []
        for col, values in (
            ("country", self.countries),
            ("admin1", self.admin1),
            ("admin2", self.admin2),
            ("source", self.sources),
            ("owner_agency", self.owner_agencies),
            ("handling_code", self.handling_codes),
        ):
            if values:
                where.append(_in(t.c[col], list(values)))
        if self.iccs:
            where.append(_iccs_clause(t.c.iccs_code, list(self.iccs)))
        if self.incident_ids:
            where.append(t.c.incident_id.in_(list(self.incident_ids)))
        if self.occurred_from is not None:
            where.append(t.c.occurred_at >= utc(self.occurred_from))
        if self.occurred_to is not None:
            where.append(t.c.occurred_at < utc(self.occurred_to))
        return and_(True, *where)

    def describe(self) -> dict[str, Any]:
        """The filters that are set (for the audit entry)."""
        out: dict[str, Any] = {}
        for name, value in self.__dict__.items():
            if value in ((), None):
                continue
            out[name] = value.isoformat() if isinstance(value, datetime) else value
        return out


def incidents_for(
    principal: Principal,
    *,
    where: IncidentFilter | None = None,
    conn: Connection | Engine,
    now: datetime | None = None,
) -> pl.DataFrame:
    """The incidents matching ``where`` that ``principal`` may see (canonical columns).

    Audited as ``read:incidents`` with the filter, the number of rows and (up to
    :data:`AUDIT_IDS`) their ids. A principal that may see nothing gets an empty frame, and
    the attempt is audited all the same.
    """
    f = where or IncidentFilter()
    t = tables.incident
    stmt = (
        select(*[t.c[c] for c in schema.INCIDENT])
        .where(f.clause(t), visible_clause(principal, t))
        .order_by(t.c.incident_id)
    )
    if f.limit is not None:
        stmt = stmt.limit(f.limit)

    with in_transaction(conn) as c:
        frame = _frame(c, stmt, schema.INCIDENT)
        ids = frame["incident_id"].to_list()
        detail: dict[str, Any] = {"filter": f.describe(), "rows": frame.height}
        if len(ids) <= AUDIT_IDS:
            detail["ids"] = ids
        append_for(c, principal, "read:incidents", detail=detail, now=now)
    return frame


#: Columns of an audit trail frame.
AUDIT_COLUMNS: dict[str, pl.DataType] = {
    "seq": pl.Int64(),
    "at": schema.UTC_TS,
    "actor": pl.String(),
    "agency": pl.String(),
    "action": pl.String(),
    "target": pl.String(),
    "detail": pl.String(),
    "hash": pl.String(),
}


def audit_trail(
    principal: Principal,
    *,
    conn: Connection | Engine,
    agency: str | None = None,
    actions: Sequence[str] = (),
    since_seq: int | None = None,
    limit: int | None = 100,
    now: datetime | None = None,
) -> pl.DataFrame:
    """Audit entries, newest first: an admin gets their own agency's trail, the operator any.

    An entry belongs to the trail of the agency in its ``agency`` column: the actor's for
    logins, reads and queries; the account's or the record owner's for changes (so changes
    the operator makes to an agency's accounts are in that agency's trail). Reading the trail
    is itself audited (``read:audit``).
    """
    if not principal.operator:
        if not may(principal, "read:audit") or principal.agency is None:
            raise AccessDenied(
                f"{principal.name} may not read audit trails",
                hint="an agency's trail is open to its admins",
            )
        if agency is not None and agency != principal.agency:
            raise AccessDenied(
                f"{principal.name} may not read the audit trail of {agency}",
                hint=f"admins see their own agency's trail ({principal.agency})",
            )
        agency = principal.agency
    t = tables.audit_log
    cols = [t.c[c] for c in AUDIT_COLUMNS]
    where: list[ColumnElement[bool]] = []
    if agency is not None:
        where.append(t.c.agency == agency)
    if actions:
        where.append(t.c.action.in_(list(actions)))
    if since_seq is not None:
        where.append(t.c.seq > since_seq)
    stmt = select(*cols).where(and_(True, *where)).order_by(t.c.seq.desc())
    if limit is not None:
        stmt = stmt.limit(limit)

    with in_transaction(conn) as c:
        frame = _frame(c, stmt, AUDIT_COLUMNS)
        detail = {"agency": agency, "actions": list(actions), "rows": frame.height}
        append_for(c, principal, "read:audit", detail=detail, now=now)
    return frame
