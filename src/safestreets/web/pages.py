"""Server-rendered pages (Jinja2): the router of the dashboard, and the HTML error page.

Each concern has its module (sign-in, overview, indicator explorer, map, upload, audit and
user admin); their routers are gathered in :data:`router`. The shared helpers live in
:mod:`safestreets.web.base` and are re-exported here for code that imported them from this
module.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from safestreets.web.account import router as account_router
from safestreets.web.admin import router as admin_router
from safestreets.web.alerts import router as alerts_router
from safestreets.web.base import (
    STATIC_DIR,
    TEMPLATE_DIR,
    country_name,
    page_lang,
    render,
    see_other,
    templates,
)
from safestreets.web.explorer import router as explorer_router
from safestreets.web.mapview import router as map_router
from safestreets.web.overview import router as overview_router
from safestreets.web.session import signed_in
from safestreets.web.upload import router as upload_router

__all__ = [
    "STATIC_DIR",
    "TEMPLATE_DIR",
    "country_name",
    "page_lang",
    "render",
    "render_error",
    "router",
    "templates",
]

router = APIRouter(include_in_schema=False)


def render_error(request: Request, *, status: int, message: str, hint: str | None) -> Response:
    """The HTML face of an error (the API answers the JSON envelope instead)."""
    return render(
        request,
        "error.html",
        page_lang(request),
        status=status,
        status_code=status,
        message=message,
        hint=hint,
    )


@router.get("/", operation_id="landing")
def landing(request: Request) -> Response:
    """The front door: the overview when signed in, the login page otherwise."""
    return see_other("/overview" if signed_in(request) else "/login")


for _sub in (
    account_router,
    overview_router,
    explorer_router,
    map_router,
    upload_router,
    alerts_router,
    admin_router,
):
    router.include_router(_sub)
