"""``/api/v1/hits`` and ``/api/v1/requests``: hit/no-hit queries and follow-up requests.

The Prüm model: ``POST /hits/query`` answers ``no_hit``, or ``hit`` with the reference, the
owner agency's contact point, the alert kind and the handling instructions (and the
subject's details only where the rules allow); the officer then files a follow-up request,
the owner agency decides it, and the details are released to that requester only. Every
step is audited by :mod:`safestreets.sharing.service` in the same transaction.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from safestreets.access.policy import Principal
from safestreets.api.alerts import FirearmFields, PersonFields, VehicleFields
from safestreets.api.auth import require, require_user
from safestreets.api.common import MAX_ID, errors, ready_engine, rows_of
from safestreets.errors import InputError
from safestreets.sharing import service

router = APIRouter(tags=["hits"])


class HitQuery(BaseModel):
    """A person, a vehicle or a firearm to check against every active alert."""

    model_config = ConfigDict(extra="forbid")

    subject: Literal["person", "vehicle", "firearm"]
    person: PersonFields | None = None
    vehicle: VehicleFields | None = None
    firearm: FirearmFields | None = None
    clk: str | None = Field(
        None, description="a person's privacy-preserving encoding (base64), instead of `person`"
    )
    clk_blocks: str | None = Field(
        None, max_length=2000, description="the encoding's keyed blocking keys (hex, spaces)"
    )
    purpose: str | None = Field(None, max_length=500, description="why the officer asks")


class HitOut(BaseModel):
    reference: str
    kind: str
    owner_agency: str
    contact: str
    instructions: str
    handling_code: str
    score: float
    valid_until: datetime
    is_child: bool | None
    agreeing: list[str] = Field(description="the fields that agreed (persons)")
    details: dict[str, Any] | None = Field(
        description="the subject's fields where the rules allow; null: file a follow-up request"
    )
    follow_up: bool = Field(description="true when the details need a follow-up request")


class HitAnswer(BaseModel):
    result: Literal["hit", "no_hit"]
    query_id: int
    subject: str
    hits: list[HitOut]


class RequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reference: str = Field(min_length=1, max_length=32, description="the alert hit")
    reason: str = Field(min_length=1, max_length=2000, description="why the details are needed")


class RequestFiled(BaseModel):
    request_id: int
    status: str


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["approve", "deny"]
    reason: str = Field(min_length=1, max_length=2000)


class Requests(BaseModel):
    sent: list[dict[str, Any]] = Field(description="requests the caller filed")
    received: list[dict[str, Any]] = Field(
        description="requests addressed to the caller's agency (its admins and liaison officers)"
    )


class Released(BaseModel):
    request_id: int
    reference: str
    kind: str
    owner_agency: str
    contact: str
    reason: str
    iccs_code: str | None
    warrant_ref: str | None
    valid_until: datetime
    details: dict[str, Any]


_Query = Depends(require("query:cross_border", what="run cross-border queries"))


@router.post(
    "/hits/query",
    operation_id="hit_query",
    summary="Hit/no-hit: is this person, vehicle or firearm the subject of an active alert?",
    response_model=HitAnswer,
    responses=errors(400, 401, 403),
)
def hit_query(request: Request, body: HitQuery, principal: Principal = _Query) -> HitAnswer:
    settings = request.app.state.settings
    engine = ready_engine(request)
    clk: bytes | None = None
    if body.clk is not None:
        try:
            clk = base64.b64decode(body.clk, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise InputError("clk is not base64") from exc
    # Checked here rather than in the model, so a query the schema allows but that cannot be
    # served answers 400 with a hint (a model validator would answer 422).
    given = {k for k in ("person", "vehicle", "firearm") if getattr(body, k) is not None}
    if given - {body.subject}:
        raise InputError(
            f"a {body.subject} query carries only the {body.subject} fields",
            hint=f"drop {', '.join(sorted(given - {body.subject}))}",
        )
    record = getattr(body, body.subject)
    with engine.begin() as conn:
        answer = service.query_hits(
            conn,
            principal,
            subject=body.subject,
            record=None if record is None else record.model_dump(exclude_none=True),
            clk=clk,
            clk_blocks=body.clk_blocks,
            purpose=body.purpose,
            cache_key=str(engine.url),
            secret=settings.secret_key,
            clk_key_file=settings.clk_key_file,
            threshold=settings.hit_threshold,
        )
    return HitAnswer.model_validate(answer.as_dict())


@router.post(
    "/hits/{query_id}/requests",
    operation_id="file_request",
    summary="Ask the owner agency for the details of an alert one's query hit",
    status_code=201,
    response_model=RequestFiled,
    responses=errors(400, 401, 403, 404),
)
def file_request(
    request: Request,
    body: RequestIn,
    query_id: int = Path(..., ge=1, le=MAX_ID),
    principal: Principal = _Query,
) -> RequestFiled:
    with ready_engine(request).begin() as conn:
        request_id = service.file_request(
            conn, principal, query_id=query_id, reference=body.reference, reason=body.reason
        )
    return RequestFiled(request_id=request_id, status="pending")


@router.get(
    "/requests",
    operation_id="list_requests",
    summary="Follow-up requests the caller filed, and those addressed to the caller's agency",
    response_model=Requests,
    responses=errors(401),
)
def list_requests(request: Request, principal: Principal = Depends(require_user)) -> Requests:
    with ready_engine(request).begin() as conn:
        frames = service.list_requests(conn, principal)
    return Requests(sent=rows_of(frames["sent"]), received=rows_of(frames["received"]))


@router.post(
    "/requests/{request_id}/decision",
    operation_id="decide_request",
    summary="Approve or deny a request addressed to the caller's agency",
    response_model=RequestFiled,
    responses=errors(400, 401, 403, 404),
)
def decide_request(
    request: Request,
    body: Decision,
    request_id: int = Path(..., ge=1, le=MAX_ID),
    principal: Principal = Depends(require_user),
) -> RequestFiled:
    with ready_engine(request).begin() as conn:
        status = service.decide_request(
            conn, principal, request_id, approve=body.decision == "approve", reason=body.reason
        )
    return RequestFiled(request_id=request_id, status=status)


@router.get(
    "/requests/{request_id}/details",
    operation_id="request_details",
    summary="The details an approved request released (to its requester only)",
    response_model=Released,
    responses=errors(401, 404),
)
def request_details(
    request: Request,
    request_id: int = Path(..., ge=1, le=MAX_ID),
    principal: Principal = Depends(require_user),
) -> Released:
    with ready_engine(request).begin() as conn:
        released = service.released_details(conn, principal, request_id)
    return Released.model_validate(released)
