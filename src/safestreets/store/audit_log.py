"""Appending to the hash-chained audit log, in the caller's transaction.

Each entry's ``hash`` is the SHA-256 of a canonical JSON object of its fields and the
previous entry's hash (:func:`entry_hash`), so changing, removing, inserting or moving an
entry breaks the chain from there on (:mod:`safestreets.access.audit` verifies it). The
store appends here because audited reads live in the store (rules in ARCHITECTURE.md:
every read of records is audited in the same transaction); the verification and the
audit views are in :mod:`safestreets.access.audit`.

Appends are serialised on the one-row ``audit_head``: PostgreSQL locks it with
``SELECT ... FOR UPDATE`` until the transaction ends; SQLite has one writer at a time, and
the first statement of an append is a write, so the lock is taken before the head is read.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import Connection, insert, select, update

from safestreets.access.policy import Principal
from safestreets.store import tables

__all__ = [
    "GENESIS",
    "Entry",
    "append",
    "append_for",
    "canonical_json",
    "entry_hash",
    "utc",
]

#: The ``prev_hash`` of the first entry.
GENESIS: Final = "0" * 64


@dataclass(frozen=True)
class Entry:
    """One audit entry as stored."""

    seq: int
    at: datetime
    actor: str
    agency: str | None
    action: str
    target: str | None
    detail: str | None
    prev_hash: str
    hash: str

    def expected_hash(self, seq: int | None = None) -> str:
        """The hash its fields give (at ``seq`` instead of its own, when given)."""
        return entry_hash(
            seq=self.seq if seq is None else seq,
            at=self.at,
            actor=self.actor,
            agency=self.agency,
            action=self.action,
            target=self.target,
            detail=self.detail,
            prev_hash=self.prev_hash,
        )


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, UTF-8 text: one spelling per value, so hashes are stable."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def utc(value: datetime | str) -> datetime:
    """An aware UTC datetime (SQLite returns naive UTC text or datetimes; PostgreSQL aware)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def entry_hash(
    *,
    seq: int,
    at: datetime,
    actor: str,
    agency: str | None,
    action: str,
    target: str | None,
    detail: str | None,
    prev_hash: str,
) -> str:
    """SHA-256 (hex) of the canonical JSON of an entry's fields and the previous hash.

    The time is written in UTC to the microsecond, which both backends keep exactly; the
    detail is hashed as the stored text, so verification never re-serialises JSON.
    """
    payload = {
        "seq": seq,
        "at": utc(at).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "actor": actor,
        "agency": agency,
        "action": action,
        "target": target,
        "detail": detail,
        "prev_hash": prev_hash,
    }
    return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()


def append(
    conn: Connection,
    *,
    actor: str,
    agency: str | None,
    action: str,
    target: str | None = None,
    detail: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> Entry:
    """Append one entry in ``conn``'s transaction; it is kept only if that transaction commits."""
    head = tables.audit_head
    if conn.dialect.name == "sqlite":
        # Take SQLite's write lock before reading the head (a no-op write); the driver opens
        # the transaction at the first write, so no older snapshot can be behind it.
        conn.execute(update(head).where(head.c.id == 1).values(seq=head.c.seq))
    row = conn.execute(
        select(head.c.seq, head.c.hash).where(head.c.id == 1).with_for_update()
    ).one()
    at = utc(now) if now is not None else datetime.now(UTC)
    entry = Entry(
        seq=int(row.seq) + 1,
        at=at,
        actor=actor,
        agency=agency,
        action=action,
        target=target,
        detail=None if detail is None else canonical_json(dict(detail)),
        prev_hash=row.hash,
        hash="",
    )
    h = entry.expected_hash()
    conn.execute(
        insert(tables.audit_log).values(
            seq=entry.seq,
            at=entry.at,
            actor=entry.actor,
            agency=entry.agency,
            action=entry.action,
            target=entry.target,
            detail=entry.detail,
            prev_hash=entry.prev_hash,
            hash=h,
        )
    )
    conn.execute(update(head).where(head.c.id == 1).values(seq=entry.seq, hash=h))
    return replace(entry, hash=h)


def append_for(
    conn: Connection,
    principal: Principal,
    action: str,
    *,
    target: str | None = None,
    detail: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> Entry:
    """Append an entry whose actor is ``principal`` (its name and agency)."""
    return append(
        conn,
        actor=principal.name,
        agency=principal.agency,
        action=action,
        target=target,
        detail=detail,
        now=now,
    )
