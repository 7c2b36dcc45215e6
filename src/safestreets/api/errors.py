"""One JSON error envelope for every API error: ``{"error": {"code", "message", "hint"}}``.

Under ``/api/`` every error (a :class:`SafeStreetsError`, an unknown route, a bad parameter, a
database failure, a bug) answers with the envelope and the matching HTTP status. Elsewhere the
same errors are rendered as an HTML page by :mod:`safestreets.web.pages`.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from safestreets.errors import SafeStreetsError, StoreError

__all__ = ["ErrorBody", "ErrorEnvelope", "envelope", "install_error_handlers"]

log = logging.getLogger(__name__)

API_PREFIX = "/api/"


class ErrorBody(BaseModel):
    code: str
    message: str
    hint: str | None = None


class ErrorEnvelope(BaseModel):
    """The body of every API error response."""

    error: ErrorBody


def envelope(code: str, message: str, hint: str | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "hint": hint}}


def _http_code(status: int) -> str:
    return {
        404: "not_found",
        405: "method_not_allowed",
        401: "unauthorized",
        403: "forbidden",
    }.get(status, "http_error")


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "request"
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "invalid request: " + "; ".join(parts)


def _is_api(request: Request) -> bool:
    return request.url.path.startswith(API_PREFIX) or request.url.path == API_PREFIX.rstrip("/")


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers; HTML paths are delegated to ``safestreets.web.pages``."""
    from safestreets.web.pages import render_error  # the HTML face of the same errors

    def respond(
        request: Request,
        status: int,
        code: str,
        message: str,
        hint: str | None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        if _is_api(request):
            return JSONResponse(envelope(code, message, hint), status_code=status, headers=headers)
        return render_error(request, status=status, message=message, hint=hint)

    @app.exception_handler(SafeStreetsError)
    async def _safestreets(request: Request, exc: SafeStreetsError) -> Response:
        # RFC 9110: a 401 names the scheme that would authenticate the request.
        headers = {"WWW-Authenticate": "Bearer"} if exc.http_status == 401 else None
        return respond(request, exc.http_status, exc.code, exc.message, exc.hint, headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        status = exc.status_code
        if status == 404:
            message = f"no such page or route: {request.url.path}"
            hint = "the API routes are listed at /docs" if _is_api(request) else None
        else:
            message = str(exc.detail) if exc.detail else HTTPStatus(status).phrase
            hint = None
        headers = dict(exc.headers) if exc.headers else None
        return respond(request, status, _http_code(status), message, hint, headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        return respond(
            request,
            422,
            "invalid_request",
            _validation_message(exc),
            "see /docs for the parameters of this route",
        )

    @app.exception_handler(DBAPIError)
    async def _database(request: Request, exc: DBAPIError) -> Response:
        first = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        err = StoreError(
            f"the database failed: {first}",
            hint="check SAFESTREETS_DATABASE_URL, that the server is running and that "
            "`safestreets init` was run",
        )
        return respond(request, err.http_status, err.code, err.message, err.hint)

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s", request.url.path)
        return respond(
            request,
            500,
            "internal_error",
            "internal error (a bug in safestreets)",
            "please report it with the server log",
        )
