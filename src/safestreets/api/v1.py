"""Version 1 of the JSON API (``/api/v1``): thin routes over the store reads.

The service routes (health, summary) are here; the others are in one module per concern
(:mod:`~safestreets.api.accounts`, :mod:`~safestreets.api.incidents`,
:mod:`~safestreets.api.ingest`, :mod:`~safestreets.api.indicators`,
:mod:`~safestreets.api.hotspots`, :mod:`~safestreets.api.audit`), included below under the
same prefix. docs/api.md documents every route.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from safestreets import __version__
from safestreets.access.policy import Principal
from safestreets.api import accounts, alerts, audit, hits, hotspots, incidents, indicators, ingest
from safestreets.api.auth import require
from safestreets.api.errors import ErrorBody, ErrorEnvelope
from safestreets.errors import SafeStreetsError, StoreError
from safestreets.store.engine import check_ready
from safestreets.store.migrate import current_revision
from safestreets.store.reads import Summary, incident_count, summary

router = APIRouter(prefix="/api/v1")


class Health(BaseModel):
    status: Literal["ok"]
    version: str
    database: str
    schema_revision: str | None
    incidents: int


class HealthDegraded(BaseModel):
    status: Literal["degraded"]
    version: str
    database: str
    error: ErrorBody


def engine_of(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def ready_engine(request: Request) -> Engine:
    """The app's engine, or StoreError (HTTP 503) when it is unreachable or not initialised."""
    engine = engine_of(request)
    check_ready(engine)
    return engine


@router.get(
    "/health",
    operation_id="health",
    tags=["service"],
    summary="Service and database status",
    response_model=Health,
    responses={
        503: {"model": HealthDegraded, "description": "database unreachable or not initialised"}
    },
)
def health(request: Request) -> Health | JSONResponse:
    engine = engine_of(request)
    try:
        check_ready(engine)
        revision = current_revision(engine)
        n = incident_count(engine)
    except (SafeStreetsError, DBAPIError) as exc:
        err = (
            exc
            if isinstance(exc, SafeStreetsError)
            else StoreError(
                f"the database failed: {str(exc.orig).strip().splitlines()[0]}",
                hint="check SAFESTREETS_DATABASE_URL and that the server is running",
            )
        )
        body = HealthDegraded(
            status="degraded",
            version=__version__,
            database=engine.dialect.name,
            error=ErrorBody(code=err.code, message=err.message, hint=err.hint),
        )
        return JSONResponse(body.model_dump(), status_code=err.http_status)
    return Health(
        status="ok",
        version=__version__,
        database=engine.dialect.name,
        schema_revision=revision,
        incidents=n,
    )


@router.get(
    "/summary",
    operation_id="summary",
    tags=["service"],
    summary="What the store holds: incidents by country, ICCS section and source; batches (admins)",
    response_model=Summary,
    responses={
        401: {"model": ErrorEnvelope, "description": "not signed in"},
        403: {"model": ErrorEnvelope, "description": "not an admin"},
        422: {"model": ErrorEnvelope, "description": "invalid parameter"},
        503: {"model": ErrorEnvelope, "description": "database unreachable or not initialised"},
    },
)
def get_summary(
    request: Request,
    latest: int = Query(10, ge=0, le=100, description="how many of the latest batches to list"),
    principal: Principal = Depends(require("read:audit", what="see the store summary")),
) -> Summary:
    # Counts over every record by country and source, whatever its handling code: operational
    # metadata for the admins who run the service, never for the public or other agencies.
    return summary(ready_engine(request), latest=latest)


for _module in (accounts, incidents, ingest, indicators, hotspots, audit, alerts, hits):
    router.include_router(_module.router)
