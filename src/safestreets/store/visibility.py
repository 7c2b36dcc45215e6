"""The access rules in SQL: a :class:`~safestreets.access.policy.Scope` as a WHERE clause.

Every store read that returns records for a principal adds :func:`visible_clause` to its
WHERE (aggregate reads add :func:`aggregate_clause`), so the database never hands a row to
Python that the principal may not see. The rules themselves are in
:mod:`safestreets.access.policy`; this module only translates them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, false, or_, select, true
from sqlalchemy.sql import FromClause
from sqlalchemy.sql.elements import ColumnElement

from safestreets.access.policy import Principal, Scope, aggregate_scope, record_scope
from safestreets.store import tables

__all__ = ["aggregate_clause", "owner_country_is", "scope_clause", "visible_clause"]


def owner_country_is(table: FromClause, country: str) -> ColumnElement[bool]:
    """The record's owner agency is registered in ``country`` (or, when the owner is not a
    registered agency, the record itself is in ``country``)."""
    ag = tables.agency
    owner = table.c.owner_agency
    return or_(
        owner.in_(select(ag.c.agency_id).where(ag.c.country == country)),
        and_(
            table.c.country == country,
            # agency_id is never NULL, so NOT IN is safe; a NULL owner is "not registered".
            or_(owner.is_(None), owner.not_in(select(ag.c.agency_id))),
        ),
    )


def scope_clause(
    scope: Scope,
    table: FromClause,
    *,
    record_kind: str | None = None,
    id_column: str | None = None,
) -> ColumnElement[bool]:
    """The rows of ``table`` that ``scope`` admits.

    ``table`` needs ``owner_agency``, ``handling_code`` and ``country`` columns. Grants apply
    only when ``record_kind`` and ``id_column`` say how its rows are named in
    ``record_grant``; without them the grant ground admits nothing (never more).
    """
    if scope.everything:
        return true()
    code = table.c.handling_code
    parts: list[ColumnElement[bool]] = []
    if scope.own_agency is not None:
        parts.append(table.c.owner_agency == scope.own_agency)
    if scope.country is not None and scope.country_codes:
        parts.append(
            and_(code.in_(sorted(scope.country_codes)), owner_country_is(table, scope.country))
        )
    if scope.open_codes:
        parts.append(code.in_(sorted(scope.open_codes)))
    if scope.grant_codes and scope.grantees and record_kind and id_column:
        g = tables.record_grant
        named: list[ColumnElement[bool]] = [
            and_(g.c.grantee_kind == kind, g.c.grantee == grantee)
            for kind, grantee in sorted(scope.grantees)
        ]
        # Uncorrelated: the grant list of this principal is read once, then matched by id.
        granted = select(g.c.record_id).where(g.c.record_kind == record_kind, or_(*named))
        parts.append(and_(code.in_(sorted(scope.grant_codes)), table.c[id_column].in_(granted)))
    if not parts:
        return false()
    return or_(*parts)


def visible_clause(
    principal: Principal,
    table: FromClause | None = None,
    *,
    record_kind: str = "incident",
    id_column: str = "incident_id",
) -> ColumnElement[bool]:
    """Rows of ``table`` (default: ``incident``) that ``principal`` may read record by record."""
    t: Any = tables.incident if table is None else table
    return scope_clause(record_scope(principal), t, record_kind=record_kind, id_column=id_column)


def aggregate_clause(principal: Principal, table: FromClause) -> ColumnElement[bool]:
    """Rows of ``table`` (a rollup or the incident table) whose sums ``principal`` may read."""
    return scope_clause(aggregate_scope(principal), table)
