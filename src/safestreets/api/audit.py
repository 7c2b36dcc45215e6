"""``/api/v1/audit``: an agency's audit trail, the chain's verification and its anchor.

Admins only. Which entries an admin sees is decided by
:func:`safestreets.store.access_reads.audit_trail` (their own agency's trail; more only where
the access rules allow), which also audits the reading of the trail.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from safestreets.access.audit import anchor, verify
from safestreets.access.policy import Principal
from safestreets.api.auth import require
from safestreets.api.common import errors, next_link, ready_engine, rows_of
from safestreets.store.access_reads import audit_trail
from safestreets.store.audit_log import append_for

router = APIRouter(tags=["audit"])

#: Longest page, and the last page number: an offset page reaches at most 20,000 entries
#: deep (narrow with since_seq or action to go further back).
MAX_PAGE_SIZE = 200
MAX_PAGE = 100

_ReadAudit = Depends(require("read:audit", what="read audit trails"))


class AuditEntry(BaseModel):
    seq: int = Field(description="position in the chain (1 = first)")
    at: datetime
    actor: str
    agency: str | None = Field(description="the trail the entry belongs to")
    action: str
    target: str | None
    detail: Any = Field(description="what the entry records (JSON), or null")
    hash: str


class AuditPage(BaseModel):
    """Entries newest first."""

    items: list[AuditEntry]
    page: int
    page_size: int
    next: str | None = Field(description="link to the next (older) page; null on the last")


class Problem(BaseModel):
    seq: int
    kind: Literal["edited", "deleted", "inserted", "reordered", "rewritten"]
    message: str


class Verification(BaseModel):
    ok: bool
    entries: int = Field(description="entries checked before the first break (all when ok)")
    head_seq: int
    head_hash: str
    problem: Problem | None
    message: str


class AnchorOut(BaseModel):
    """The chain's head now: keep it outside the system to check history later."""

    seq: int
    hash: str
    at: datetime
    line: str = Field(description="the anchor as one JSON line (`safestreets audit` format)")


def _detail(text: Any) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return text


@router.get(
    "/audit",
    operation_id="list_audit",
    summary="The audit trail of the admin's agency, newest first",
    response_model=AuditPage,
    responses=errors(400, 401, 403),
)
def list_audit(
    request: Request,
    principal: Principal = _ReadAudit,
    agency: str | None = Query(None, max_length=64, description="default: your own agency"),
    action: list[str] = Query([], description="only these actions (e.g. login, read:incidents)"),
    since_seq: int | None = Query(None, ge=0, le=2**62, description="only entries after this"),
    page: int = Query(1, ge=1, le=MAX_PAGE, description="deeper: narrow with since_seq"),
    page_size: int = Query(50, ge=1, le=MAX_PAGE_SIZE),
) -> AuditPage:
    """Reading the trail is itself audited (``read:audit``)."""
    # The store reads newest first with a limit: a page is the tail of the first page x size.
    depth = page * page_size
    frame = audit_trail(
        principal,
        conn=ready_engine(request),
        agency=agency,
        actions=[a for a in action if a.strip()],
        since_seq=since_seq,
        limit=depth,
    )
    rows = rows_of(frame.slice((page - 1) * page_size, page_size))
    items = [AuditEntry(**{**r, "detail": _detail(r["detail"])}) for r in rows]
    full = frame.height == depth
    return AuditPage(
        items=items,
        page=page,
        page_size=page_size,
        next=next_link(request, page=page + 1, page_size=page_size) if full else None,
    )


@router.get(
    "/audit/verify",
    operation_id="verify_audit",
    summary="Verify the whole hash chain; name the first break",
    response_model=Verification,
    responses=errors(401, 403),
)
def verify_audit(request: Request, principal: Principal = _ReadAudit) -> Verification:
    """Audited as ``audit:verify`` with its outcome."""
    engine = ready_engine(request)
    result = verify(engine)
    problem = result.problem
    with engine.begin() as conn:
        append_for(
            conn,
            principal,
            "audit:verify",
            detail={"ok": result.ok, "entries": result.entries, "head_seq": result.head_seq},
        )
    return Verification(
        ok=result.ok,
        entries=result.entries,
        head_seq=result.head_seq,
        head_hash=result.head_hash,
        problem=None
        if problem is None
        else Problem(seq=problem.seq, kind=problem.kind, message=problem.message),
        message=result.describe(),
    )


@router.get(
    "/audit/anchor",
    operation_id="get_audit_anchor",
    summary="The chain's head (seq, hash, time) to keep outside the system",
    response_model=AnchorOut,
    responses=errors(401, 403),
)
def get_anchor(request: Request, _: Principal = _ReadAudit) -> AnchorOut:
    a = anchor(ready_engine(request))
    return AnchorOut(seq=a.seq, hash=a.hash, at=a.at, line=a.to_json())
