"""What the routers of ``/api/v1`` share: documented error responses, the engine, dates."""

from __future__ import annotations

from datetime import date
from typing import Any, Final

from fastapi import Request
from sqlalchemy import Engine
from starlette.datastructures import URL

from safestreets import query
from safestreets.api.errors import ErrorEnvelope
from safestreets.stats import export
from safestreets.store.engine import check_ready

__all__ = [
    "DATE_PATTERN",
    "MAX_ID",
    "OPTIONAL_AUTH",
    "errors",
    "jsonable",
    "next_link",
    "parse_date",
    "ready_engine",
    "rows_of",
]

#: ``openapi_extra`` of routes that also answer the anonymous public: OpenAPI's empty
#: security requirement makes the route's credentials optional.
OPTIONAL_AUTH: Final[dict[str, Any]] = {"security": [{}]}

#: The dates the API reads (``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``), as a schema pattern.
DATE_PATTERN: Final = r"^[0-9]{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12][0-9]|3[01]))?)?$"

#: Largest 64-bit id (incident ids are non-negative 63-bit numbers).
MAX_ID: Final = 2**63 - 1

_DESCRIPTIONS: Final[dict[int, str]] = {
    400: "the request cannot be served as asked (see the message and hint)",
    401: "not signed in, or the token is invalid, revoked or expired",
    403: "signed in, but the roles or the agency do not allow this",
    404: "no such resource (or not one the principal may see)",
    409: "it exists already",
    413: "the upload is too large",
    422: "a parameter or the body is malformed",
    429: "too many failed logins: try again later",
    503: "the database is unreachable or not initialised",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: the envelope for each code, and for 400 (a body that cannot
    be parsed at all), 422 and 503, which any route may answer."""
    wanted = sorted({*codes, 400, 422, 503})
    return {c: {"model": ErrorEnvelope, "description": _DESCRIPTIONS[c]} for c in wanted}


def ready_engine(request: Request) -> Engine:
    """The app's engine, or StoreError (HTTP 503) when it is unreachable or not initialised."""
    engine: Engine = request.app.state.engine
    check_ready(engine)
    return engine


def parse_date(text: str | None, *, end: bool, name: str) -> date | None:
    """An optional date filter (:func:`safestreets.query.parse_date`); empty means none."""
    if text is None or not text.strip():
        return None
    return query.parse_date(text, end=end, name=name)


#: JSON-ready values and rows: the one helper of the exports (dates as ISO text, NaN as null).
jsonable = export.plain
rows_of = export.records


def next_link(request: Request, **params: Any) -> str:
    """The path and query of this request with ``params`` replaced (relative: proxy-safe)."""
    url: URL = request.url.include_query_params(**params)
    return f"{url.path}?{url.query}"
