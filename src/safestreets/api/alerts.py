"""``/api/v1/alerts`` and ``/api/v1/searches``: an agency's cross-border alerts.

Thin: validation, ownership, the access rules and the audit entries are in
:mod:`safestreets.sharing.service` and :mod:`safestreets.store.alerts`; these routes parse,
call and present. Alerts are read by the same rule as incidents (owner, handling code, grant
list); they are changed only by analysts and liaison officers of the owner agency.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from safestreets.access.policy import Principal
from safestreets.api.auth import require, require_user
from safestreets.api.common import MAX_ID, errors, next_link, ready_engine, rows_of
from safestreets.errors import NotFound
from safestreets.sharing import service
from safestreets.store.alerts import AlertFilter, alerts_for

router = APIRouter(tags=["alerts"])

#: The alert kinds of :data:`safestreets.schema.ALERT_KINDS` (a test holds them together).
Kind = Literal[
    "wanted_person",
    "missing_person",
    "criminal_record",
    "stolen_vehicle",
    "stolen_firearm",
    "recovered_firearm",
]
Handling = Literal["NATIONAL", "REGIONAL", "RESTRICTED", "PUBLIC"]
MAX_LIMIT = 500
REFERENCE = Path(..., pattern=r"^[A-Z]{2}-[A-Z]{2}-[0-9A-Z]{8}$", description="alert reference")


class PersonFields(BaseModel):
    """A person (the canonical person columns but ``record_id``; all optional)."""

    model_config = ConfigDict(extra="forbid")

    given_names: str | None = None
    surname_1: str | None = None
    surname_2: str | None = None
    date_of_birth: str | None = Field(None, description="YYYY-MM-DD, YYYY-MM or YYYY")
    sex: str | None = None
    national_id: str | None = None
    id_country: str | None = Field(None, description="country that issued national_id")
    nationality: str | None = None
    aliases: str | None = Field(None, description='"conocido por", separated by ;')
    address: str | None = None
    municipality: str | None = None


class VehicleFields(BaseModel):
    """A vehicle."""

    model_config = ConfigDict(extra="forbid")

    plate: str | None = None
    plate_country: str | None = None
    vin: str | None = None
    make: str | None = None
    model: str | None = None
    colour: str | None = None
    year: int | None = None


class FirearmFields(BaseModel):
    """A firearm; unreadable serial characters are written ``?``."""

    model_config = ConfigDict(extra="forbid")

    serial: str | None = None
    make: str | None = None
    model: str | None = None
    calibre: str | None = None
    firearm_type: str | None = None


class AlertIn(BaseModel):
    """A new alert: who it is about and why, who to call, how long it holds."""

    model_config = ConfigDict(extra="forbid")

    kind: Kind
    external_id: str = Field(min_length=1, max_length=200, description="the owner's own id")
    handling_code: Handling
    valid_from: datetime | None = Field(None, description="default: now")
    valid_until: datetime
    contact: str = Field(min_length=1, description="contact point (office, phone, e-mail)")
    reason: str = Field(min_length=1, description="why the alert exists")
    instructions: str | None = Field(None, description="what an officer who gets a hit does")
    iccs_code: str | None = Field(None, description="the offence (wanted persons)")
    warrant_ref: str | None = None
    is_child: bool | None = Field(None, description="missing persons: default from the birth date")
    person: PersonFields | None = None
    vehicle: VehicleFields | None = None
    firearm: FirearmFields | None = None
    clk: str | None = Field(None, description="privacy-preserving encoding, base64 (persons)")
    clk_blocks: str | None = Field(None, description="its keyed blocking keys, space-separated")


class AlertChange(BaseModel):
    """Fields to change (kind and external_id are fixed)."""

    model_config = ConfigDict(extra="forbid")

    handling_code: Handling | None = None
    status: Literal["active", "cancelled"] | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    contact: str | None = None
    reason: str | None = None
    instructions: str | None = None
    iccs_code: str | None = None
    warrant_ref: str | None = None
    is_child: bool | None = None
    person: PersonFields | None = None
    vehicle: VehicleFields | None = None
    firearm: FirearmFields | None = None


class Problem(BaseModel):
    row: int
    external_id: str | None
    field: str
    reason: str
    message: str
    severity: Literal["error", "warning"]


class AlertCreated(BaseModel):
    reference: str
    warnings: list[Problem]


class Alert(BaseModel):
    """An alert as its reader may see it (every stored field but the encoding bits)."""

    model_config = ConfigDict(extra="allow")

    reference: str
    kind: str
    owner_agency: str
    handling_code: str
    status: str
    valid_from: datetime
    valid_until: datetime
    contact: str
    reason: str


class AlertPage(BaseModel):
    items: list[dict[str, Any]]
    limit: int
    next_cursor: int | None
    next: str | None


class Searches(BaseModel):
    """Queries that hit the caller's agency's alerts, newest first."""

    items: list[dict[str, Any]]


def _flat(body: BaseModel) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in body.model_dump(exclude_unset=True).items():
        if key in ("person", "vehicle", "firearm") and isinstance(value, dict):
            out.update(value)
        elif isinstance(value, datetime):
            out[key] = value.isoformat()
        elif isinstance(value, bool):
            out[key] = "true" if value else "false"
        else:
            out[key] = value
    return out


_Manage = Depends(require("manage:alerts", what="manage alerts"))
_Read = Depends(require("read:records", what="read alerts"))


@router.post(
    "/alerts",
    operation_id="create_alert",
    summary="File an alert of the caller's agency",
    status_code=201,
    response_model=AlertCreated,
    responses=errors(400, 401, 403),
)
def create_alert(request: Request, body: AlertIn, principal: Principal = _Manage) -> AlertCreated:
    with ready_engine(request).begin() as conn:
        reference, problems = service.create_alert(conn, principal, _flat(body))
    return AlertCreated(reference=reference, warnings=[Problem(**p.as_dict()) for p in problems])


@router.get(
    "/alerts",
    operation_id="list_alerts",
    summary="Alerts the caller may see (same rule as incidents), a page at a time",
    response_model=AlertPage,
    responses=errors(400, 401, 403),
)
def list_alerts(
    request: Request,
    kind: list[Kind] = Query(default_factory=list),
    status: list[Literal["active", "cancelled", "expired"]] = Query(default_factory=list),
    owner_agency: str | None = Query(None, max_length=100),
    cursor: int | None = Query(None, ge=0, le=MAX_ID),
    limit: int = Query(100, ge=1, le=MAX_LIMIT),
    principal: Principal = _Read,
) -> AlertPage:
    where = AlertFilter(
        kinds=tuple(kind),
        status=tuple(status),
        owner_agency=owner_agency,
        after_id=cursor,
        limit=limit,
    )
    frame = alerts_for(principal, conn=ready_engine(request), where=where)
    items = rows_of(frame)
    nxt = int(items[-1]["alert_id"]) if len(items) == limit else None
    return AlertPage(
        items=items,
        limit=limit,
        next_cursor=nxt,
        next=None if nxt is None else next_link(request, cursor=nxt),
    )


@router.get(
    "/alerts/{reference}",
    operation_id="get_alert",
    summary="One alert, if the caller may see it",
    response_model=dict[str, Any],
    responses=errors(401, 403, 404),
)
def get_alert(
    request: Request, reference: str = REFERENCE, principal: Principal = _Read
) -> dict[str, Any]:
    frame = alerts_for(
        principal, conn=ready_engine(request), where=AlertFilter(reference=reference, limit=1)
    )
    if not frame.height:
        raise NotFound(f"no alert {reference}", hint="or not one you may see")
    return rows_of(frame)[0]


@router.patch(
    "/alerts/{reference}",
    operation_id="update_alert",
    summary="Change or cancel an alert of the caller's agency",
    response_model=AlertCreated,
    responses=errors(400, 401, 403, 404),
)
def update_alert(
    request: Request,
    body: AlertChange,
    reference: str = REFERENCE,
    principal: Principal = _Manage,
) -> AlertCreated:
    with ready_engine(request).begin() as conn:
        problems = service.update_alert(conn, principal, reference, _flat(body))
    return AlertCreated(reference=reference, warnings=[Problem(**p.as_dict()) for p in problems])


@router.get(
    "/searches",
    operation_id="list_searches",
    summary="Who searched for the caller's agency's alerts (queries that hit them)",
    response_model=Searches,
    responses=errors(401, 403),
)
def list_searches(
    request: Request,
    limit: int = Query(200, ge=1, le=1000),
    principal: Principal = Depends(require_user),
) -> Searches:
    with ready_engine(request).begin() as conn:
        frame = service.searches(conn, principal, limit=limit)
    return Searches(items=rows_of(frame))
