"""The FastAPI application: the JSON API under ``/api/v1`` and the server-rendered pages."""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine

from safestreets import __version__
from safestreets.api import public, v1
from safestreets.api.errors import install_error_handlers
from safestreets.config import DEFAULT_SECRET, Settings, get_settings
from safestreets.store.engine import get_engine, keep_open
from safestreets.web import pages, public_pages

__all__ = ["create_app"]

log = logging.getLogger(__name__)


def _warm_match_indexes(engine: Engine) -> None:
    from safestreets.sharing import matcher

    try:
        with engine.connect() as conn:
            matcher.indexes(conn, str(engine.url))
    except Exception:  # an uninitialised store answers 503 on use; warming is only a help
        log.info("alert match indexes not warmed", exc_info=True)


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    """Build the app.

    Args:
        settings: Defaults to the ``SAFESTREETS_*`` environment.
        engine: Defaults to the engine of ``settings.resolved_database_url()``. The app never
            migrates the database itself (``safestreets serve`` and ``safestreets init`` do);
            an uninitialised database answers 503 with a hint.
    """
    settings = settings or get_settings()
    if settings.secret_key == DEFAULT_SECRET:
        # The shipped key is public: sign this process's sessions with a random one instead
        # (sessions then end with the process, which is right for a demo).
        settings = settings.model_copy(update={"secret_key": secrets.token_urlsafe(32)})
    if engine is None:
        engine = get_engine(settings.resolved_database_url())

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # A served SQLite store keeps one connection open (see keep_open: ~10 ms per request).
        keeper = keep_open(engine)
        # Build the alert match indexes in the background (12-30 s at a million alerts), so
        # the first hit/no-hit query does not pay for it alone.
        threading.Thread(target=_warm_match_indexes, args=(engine,), daemon=True).start()
        try:
            yield
        finally:
            if keeper is not None:
                keeper.close()

    app = FastAPI(
        lifespan=lifespan,
        title="safestreets",
        version=__version__,
        description="Citizen-security information system for Central America. "
        "Every error answers with one envelope: "
        '`{"error": {"code": ..., "message": ..., "hint": ...}}`.',
        # FastAPI's own /docs and /redoc pull their scripts from a CDN: /docs is served below
        # from the vendored Swagger UI instead, so it works offline; ReDoc is not offered.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine
    install_error_handlers(app)
    app.include_router(v1.router)
    app.include_router(public.router)
    app.include_router(pages.router)
    app.include_router(public_pages.router)
    app.mount("/static", StaticFiles(directory=pages.STATIC_DIR), name="static")

    @app.get("/docs", include_in_schema=False)
    def api_docs() -> HTMLResponse:
        vendor = "/static/vendor/swagger-ui"
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title="safestreets API",
            swagger_js_url=f"{vendor}/swagger-ui-bundle.js",
            swagger_css_url=f"{vendor}/swagger-ui.css",
            swagger_favicon_url=f"{vendor}/favicon-32x32.png",
            # No badge from the online validator (validator.swagger.io).
            swagger_ui_parameters={"validatorUrl": None},
        )

    return app
