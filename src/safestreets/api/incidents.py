"""``/api/v1/incidents``: record-level reads, limited in SQL to what the principal may see.

Every call goes through :func:`safestreets.store.access_reads.incidents_for`, which applies
the access rules in the query and audits the read (filters, rows, ids) in the same
transaction. The public gets 401 and a signed-in user without a reading role 403.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import and_
from sqlalchemy.sql import FromClause
from sqlalchemy.sql.elements import ColumnElement

from safestreets.access.policy import Principal
from safestreets.api.auth import require
from safestreets.api.common import (
    DATE_PATTERN,
    MAX_ID,
    errors,
    next_link,
    parse_date,
    ready_engine,
    rows_of,
)
from safestreets.errors import InputError, NotFound
from safestreets.store.access_reads import IncidentFilter, incidents_for

router = APIRouter(tags=["incidents"])

#: Longest page of incidents.
MAX_LIMIT = 1000


class Incident(BaseModel):
    """One canonical incident (the columns of ``safestreets.schema.INCIDENT``)."""

    incident_id: int
    source: str | None
    source_record_id: str | None
    country: str | None = Field(description="ISO 3166-1 alpha-2")
    admin1: str | None
    admin2: str | None
    locality: str | None
    occurred_at: datetime | None = Field(description="UTC")
    occurred_precision: str | None
    source_timezone: str | None
    reported_at: datetime | None
    local_category: str | None = Field(description="the source's own label, verbatim")
    iccs_code: str | None
    mapping_quality: str | None
    lon: float | None
    lat: float | None
    location_precision: str | None
    place_type: str | None
    weapon: str | None
    context: str | None
    victim_count: int | None
    owner_agency: str | None
    handling_code: str | None
    batch_id: int | None


class IncidentPage(BaseModel):
    """A page of incidents in ``incident_id`` order."""

    items: list[Incident]
    limit: int
    next_cursor: int | None = Field(
        description="pass as ?cursor= for the next page; null when this page is not full"
    )
    next: str | None = Field(description="link to the next page (same filters)")


@dataclass(frozen=True)
class _After(IncidentFilter):
    """The caller's filter plus the keyset cursor (ids after ``after_id``).

    An adapter: :class:`IncidentFilter` has no cursor field, and keyset paging must stay in
    the SQL that :func:`incidents_for` runs (the access rule is added there). The cursor is
    part of the audited filter (``describe`` lists every field that is set).
    """

    after_id: int | None = None

    def clause(self, t: FromClause) -> ColumnElement[bool]:
        base = super().clause(t)
        return base if self.after_id is None else and_(base, t.c.incident_id > self.after_id)


def _upper(values: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v.strip().upper() for v in values if v.strip()))


def _plain(values: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v.strip() for v in values if v.strip()))


_ReadRecords = Depends(require("read:records", what="read incident records"))


def _incident(row: dict[str, Any]) -> Incident:
    return Incident.model_validate(row)


@router.get(
    "/incidents",
    operation_id="list_incidents",
    summary="Incidents the principal may see, filtered, a page at a time",
    response_model=IncidentPage,
    responses=errors(400, 401, 403),
)
def list_incidents(
    request: Request,
    principal: Principal = _ReadRecords,
    country: list[str] = Query([], description="ISO alpha-2; repeat for several"),
    admin1: list[str] = Query([], description="ISO 3166-2 or national code"),
    admin2: list[str] = Query([], description="national code of the municipality"),
    iccs: list[str] = Query([], description="ICCS code prefix (section 04, division 0401, ...)"),
    source: list[str] = Query([], description="recording source"),
    owner_agency: list[str] = Query([], description="owner agency id"),
    handling_code: list[str] = Query([], description="NATIONAL, REGIONAL, RESTRICTED, PUBLIC"),
    date_from: str | None = Query(
        None, pattern=DATE_PATTERN, description="first day (UTC), YYYY[-MM[-DD]]"
    ),
    date_to: str | None = Query(
        None, pattern=DATE_PATTERN, description="last day (UTC), inclusive"
    ),
    limit: int = Query(100, ge=1, le=MAX_LIMIT),
    cursor: int | None = Query(None, ge=0, le=MAX_ID, description="next_cursor of a page"),
) -> IncidentPage:
    """Every call is audited (``read:incidents``, with the filters and the ids returned)."""
    lo = parse_date(date_from, end=False, name="date_from")
    hi = parse_date(date_to, end=True, name="date_to")
    if lo is not None and hi is not None and lo > hi:
        raise InputError("date_from is after date_to", hint="swap them")
    where = _After(
        countries=_upper(country),
        admin1=_plain(admin1),
        admin2=_plain(admin2),
        iccs=_plain(iccs),
        sources=_plain(source),
        owner_agencies=_plain(owner_agency),
        handling_codes=_upper(handling_code),
        occurred_from=None if lo is None else datetime.combine(lo, time.min, UTC),
        occurred_to=None if hi is None else datetime.combine(hi + timedelta(days=1), time.min, UTC),
        limit=limit,
        after_id=cursor,
    )
    frame = incidents_for(principal, where=where, conn=ready_engine(request))
    items = [_incident(r) for r in rows_of(frame)]
    last = items[-1].incident_id if len(items) == limit else None
    return IncidentPage(
        items=items,
        limit=limit,
        next_cursor=last,
        next=None if last is None else next_link(request, cursor=last),
    )


@router.get(
    "/incidents/{incident_id}",
    operation_id="get_incident",
    summary="One incident, if the principal may see it",
    response_model=Incident,
    responses=errors(401, 403, 404),
)
def get_incident(
    request: Request,
    incident_id: int = Path(ge=0, le=MAX_ID),
    principal: Principal = _ReadRecords,
) -> Incident:
    """404 both when there is no such incident and when the principal may not see it (the
    answer does not confirm that a hidden record exists). Audited like the list."""
    where = IncidentFilter(incident_ids=(incident_id,))
    frame = incidents_for(principal, where=where, conn=ready_engine(request))
    if frame.is_empty():
        raise NotFound(
            f"no incident {incident_id} that you may see",
            hint="GET /api/v1/incidents lists those you may see",
        )
    return _incident(rows_of(frame)[0])
