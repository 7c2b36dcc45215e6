"""The public API (``/api/v1/public``): what anyone may read without logging in.

Thin routes over :mod:`safestreets.public_map`: disclosure-controlled aggregates of PUBLIC
incidents, never a record. The rules are in docs/public-map.md.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from safestreets import public_map
from safestreets.api.errors import ErrorEnvelope
from safestreets.api.v1 import ready_engine
from safestreets.public_map import AreaTable, HotspotMap, Options, Outlines, PublicConfig

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/public", tags=["public"])

Lang = Literal["es", "en"]
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {
        "model": ErrorEnvelope,
        "description": "unknown country or category, or not publishable (a sensitive category "
        "below department level, a year inside the publication delay)",
    },
    422: {"model": ErrorEnvelope, "description": "invalid parameter"},
    503: {"model": ErrorEnvelope, "description": "database unreachable or not initialised"},
}
_LANG = Query("es", description="language of the names and the statement: es or en")
_COUNTRY = Query(..., min_length=2, max_length=2, description="ISO 3166-1 alpha-2, e.g. GT")
_YEAR = Query(
    None, ge=1900, le=2200, description="a published calendar year (default: the latest one)"
)


class GeoJSONResponse(JSONResponse):
    """RFC 7946 media type."""

    media_type = "application/geo+json"


def _config(request: Request) -> PublicConfig:
    return PublicConfig.from_settings(request.app.state.settings)


@router.get(
    "/options",
    operation_id="public_options",
    summary="Published countries and years, categories, and the disclosure rules in force",
    response_model=Options,
    responses=_ERRORS,
)
def get_options(request: Request, lang: Lang = _LANG) -> Options:
    return public_map.options(ready_engine(request), _config(request), lang=lang)


@router.get(
    "/municipalities",
    operation_id="public_municipalities",
    summary="Incidents per municipality and category in a published year (non-sensitive "
    "categories; small counts hidden)",
    response_model=AreaTable,
    responses=_ERRORS,
)
def get_municipalities(
    request: Request,
    country: str = _COUNTRY,
    year: int | None = _YEAR,
    category: str | None = Query(
        None, description="one non-sensitive category id (default: every one)"
    ),
    lang: Lang = _LANG,
) -> AreaTable:
    return public_map.municipalities(
        ready_engine(request),
        _config(request),
        country=country,
        year=year,
        category=category,
        lang=lang,
    )


@router.get(
    "/departments",
    operation_id="public_departments",
    summary="Incidents per department of the sensitive categories (sexual violence, domestic "
    "violence, trafficking) in a published year",
    response_model=AreaTable,
    responses=_ERRORS,
)
def get_departments(
    request: Request,
    country: str = _COUNTRY,
    year: int | None = _YEAR,
    category: str | None = Query(
        None, description="one sensitive category id (default: every one)"
    ),
    lang: Lang = _LANG,
) -> AreaTable:
    return public_map.departments(
        ready_engine(request),
        _config(request),
        country=country,
        year=year,
        category=category,
        lang=lang,
    )


@router.get(
    "/hotspots",
    operation_id="public_hotspots",
    summary="Map cells with at least k incidents in a published year (GeoJSON)",
    response_model=HotspotMap,
    response_class=GeoJSONResponse,
    responses=_ERRORS,
)
def get_hotspots(
    request: Request,
    country: str = _COUNTRY,
    year: int | None = _YEAR,
    category: str = Query(
        public_map.ALL, description="all (every non-sensitive category) or one of them"
    ),
    lang: Lang = _LANG,
) -> HotspotMap:
    return public_map.hotspots(
        ready_engine(request),
        _config(request),
        country=country,
        year=year,
        category=category,
        lang=lang,
    )


@router.get(
    "/outlines",
    operation_id="public_outlines",
    summary="Country outlines and department points of the seven countries (GeoJSON)",
    response_model=Outlines,
    response_class=GeoJSONResponse,
    responses={422: _ERRORS[422]},
)
def get_outlines(lang: Lang = _LANG) -> GeoJSONResponse:
    body = public_map.outlines(lang).model_dump(mode="json")
    # Reference data: the same for every request until the package changes.
    return GeoJSONResponse(body, headers={"Cache-Control": "public, max-age=86400"})
