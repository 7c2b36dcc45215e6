"""The grant lists of RESTRICTED records: which countries or agencies may see them.

A grant names one record (``record_kind``, ``record_id``) and one grantee (a member country or
an agency). Grants matter only while the record's handling code is ``RESTRICTED``; they are
kept when the code changes, so restricting a record again restores its list. Granting is a
permission change: only an admin of the record's owner agency (or the operator) may do it,
and it is audited.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Connection, delete, insert, select

from safestreets.access.policy import GRANTEE_KINDS, Principal, may
from safestreets.errors import AccessDenied, InputError, NotFound
from safestreets.store import tables
from safestreets.store.audit_log import append

__all__ = ["RECORD_KINDS", "grant", "grants_of", "revoke"]

#: Record kinds and (table, id column) where their owner is found.
RECORD_KINDS: dict[str, tuple[str, str]] = {
    "incident": ("incident", "incident_id"),
    "alert": ("alert", "alert_id"),
}


def _owner(conn: Connection, record_kind: str, record_id: int) -> str | None:
    if record_kind not in RECORD_KINDS:
        raise InputError(
            f"unknown record kind {record_kind!r}", hint=f"one of {', '.join(RECORD_KINDS)}"
        )
    table_name, id_col = RECORD_KINDS[record_kind]
    t = tables.metadata.tables[table_name]
    row = conn.execute(select(t.c.owner_agency).where(t.c[id_col] == record_id)).first()
    if row is None:
        raise NotFound(f"no {record_kind} {record_id}")
    owner: str | None = row.owner_agency
    return owner


def _check(actor: Principal, owner: str | None, grantee_kind: str) -> None:
    if grantee_kind not in GRANTEE_KINDS:
        raise InputError(
            f"unknown grantee kind {grantee_kind!r}", hint="a grant names a country or an agency"
        )
    if actor.operator:
        return
    if not may(actor, "manage:grants") or owner is None or actor.agency != owner:
        raise AccessDenied(
            f"{actor.name} may not change the grants of records owned by {owner}",
            hint="only an admin of the owner agency, or the operator, may",
        )


def grant(
    conn: Connection,
    actor: Principal,
    *,
    record_kind: str,
    record_id: int,
    grantee_kind: str,
    grantee: str,
    now: datetime | None = None,
) -> bool:
    """Add a grantee to a record's list; False when it was already there."""
    owner = _owner(conn, record_kind, record_id)
    _check(actor, owner, grantee_kind)
    g = tables.record_grant
    key = {
        "record_kind": record_kind,
        "record_id": record_id,
        "grantee_kind": grantee_kind,
        "grantee": grantee,
    }
    exists = conn.execute(select(g.c.record_id).filter_by(**key)).first()
    if exists:
        return False
    at = now or datetime.now(UTC)
    conn.execute(insert(g).values(**key, granted_at=at, granted_by=actor.name))
    append(
        conn,
        actor=actor.name,
        agency=owner,
        action="grant:add",
        target=f"{record_kind}:{record_id}",
        detail={"grantee_kind": grantee_kind, "grantee": grantee},
        now=at,
    )
    return True


def revoke(
    conn: Connection,
    actor: Principal,
    *,
    record_kind: str,
    record_id: int,
    grantee_kind: str,
    grantee: str,
    now: datetime | None = None,
) -> bool:
    """Remove a grantee from a record's list; False when it was not there."""
    owner = _owner(conn, record_kind, record_id)
    _check(actor, owner, grantee_kind)
    g = tables.record_grant
    done = conn.execute(
        delete(g).filter_by(
            record_kind=record_kind,
            record_id=record_id,
            grantee_kind=grantee_kind,
            grantee=grantee,
        )
    ).rowcount
    if done:
        append(
            conn,
            actor=actor.name,
            agency=owner,
            action="grant:revoke",
            target=f"{record_kind}:{record_id}",
            detail={"grantee_kind": grantee_kind, "grantee": grantee},
            now=now,
        )
    return bool(done)


def grants_of(conn: Connection, record_kind: str, record_id: int) -> list[tuple[str, str]]:
    """The (grantee kind, grantee) pairs of one record."""
    g = tables.record_grant
    rows = conn.execute(
        select(g.c.grantee_kind, g.c.grantee)
        .where(g.c.record_kind == record_kind, g.c.record_id == record_id)
        .order_by(g.c.grantee_kind, g.c.grantee)
    )
    return [(r.grantee_kind, r.grantee) for r in rows]
