"""What the routers of ``/api/v1`` share: documented error responses, the engine, dates."""

from __future__ import annotations

import calendar
import math
import re
from datetime import date, datetime
from typing import Any, Final

import polars as pl
from fastapi import Request
from sqlalchemy import Engine
from starlette.datastructures import URL

from safestreets.api.errors import ErrorEnvelope
from safestreets.errors import InputError
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
    """``2023``, ``2023-05`` or ``2023-05-17``; a year or month means its first (or last) day.

    The same forms as the CLI's ``--from``/``--to``.
    """
    if text is None or not text.strip():
        return None
    m = re.fullmatch(r"(\d{4})(?:-(\d{1,2}))?(?:-(\d{1,2}))?", text.strip())
    bad = InputError(
        f"{name}: cannot read the date {text!r}", hint="use YYYY, YYYY-MM or YYYY-MM-DD"
    )
    if not m:
        raise bad
    y, mo, d = int(m[1]), int(m[2]) if m[2] else None, int(m[3]) if m[3] else None
    try:
        if mo is None:
            return date(y, 12, 31) if end else date(y, 1, 1)
        if d is None:
            return date(y, mo, calendar.monthrange(y, mo)[1]) if end else date(y, mo, 1)
        return date(y, mo, d)
    except ValueError:
        raise bad from None


def jsonable(v: Any) -> Any:
    """A value as JSON holds it: dates as ISO text, NaN and infinities as null."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, datetime | date):
        return v.isoformat()
    return v


def rows_of(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """Frame rows as JSON-ready dicts."""
    return [{k: jsonable(v) for k, v in row.items()} for row in frame.iter_rows(named=True)]


def next_link(request: Request, **params: Any) -> str:
    """The path and query of this request with ``params`` replaced (relative: proxy-safe)."""
    url: URL = request.url.include_query_params(**params)
    return f"{url.path}?{url.query}"
