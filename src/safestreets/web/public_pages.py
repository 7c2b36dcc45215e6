"""The public map page (``/mapa``, ``/map``): no login, only disclosure-controlled aggregates.

Everything the page shows is rendered on the server from :mod:`safestreets.public_map` (so the
tables work without JavaScript and are the map's text alternative); ``static/public_map.js``
draws the same cells with the vendored Leaflet, over the app's own outlines, with no tile
layer unless ``SAFESTREETS_MAP_TILE_URL`` is set. It is served like the dashboard's pages
(:func:`safestreets.web.base.page`: the visitor's language, a strict Content-Security-Policy).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from safestreets import public_map
from safestreets.config import Settings
from safestreets.public_map import ALL, AreaTable, HotspotMap, PublicConfig
from safestreets.stats import public as rules
from safestreets.store.engine import check_ready
from safestreets.web import public_strings
from safestreets.web.base import page, page_lang
from safestreets.web.i18n import Translator

__all__ = ["router"]

public_strings.register()

router = APIRouter(include_in_schema=False)


def _centre(feature: Any) -> tuple[float, float]:
    """(lat, lon) of a cell's centre from its published outline, to 3 decimals."""
    ring = feature.geometry.coordinates[0][:-1]
    lon = sum(p[0] for p in ring) / len(ring)
    lat = sum(p[1] for p in ring) / len(ring)
    return round(lat, 3), round(lon, 3)


def _default_country(opts: public_map.Options) -> str:
    with_data = [c.code for c in opts.countries if c.years]
    return "GT" if "GT" in with_data or not with_data else with_data[0]


@router.get("/mapa", response_class=HTMLResponse, operation_id="public_map_page")
@router.get("/map", response_class=HTMLResponse, operation_id="public_map_page_en")
def public_map_page(
    request: Request,
    country: str | None = Query(None, description="ISO2 country code"),
    year: int | None = Query(None, ge=1900, le=2200),
    category: str = Query(ALL),
    lang: str | None = Query(None, description="es (default) or en"),
) -> HTMLResponse:
    """The map, its legend, the table of cells and the table by municipality or department."""
    engine = request.app.state.engine
    settings: Settings = request.app.state.settings
    check_ready(engine)
    # ?lang= (declared above for the docs), then the visitor's setting, then Accept-Language.
    chosen_lang = page_lang(request)
    t = Translator(chosen_lang)
    cfg = PublicConfig.from_settings(settings)
    opts = public_map.options(engine, cfg, lang=chosen_lang)
    iso = (country or _default_country(opts)).strip().upper()
    cat_id = category.strip().lower() or ALL
    sensitive = cat_id != ALL and rules.category(cat_id).sensitive
    table: AreaTable
    cells: HotspotMap | None = None
    if sensitive:
        # The three sensitive categories side by side: the table is small.
        table = public_map.departments(engine, cfg, country=iso, year=year, lang=chosen_lang)
    else:
        table = public_map.municipalities(
            engine,
            cfg,
            country=iso,
            year=year,
            category=None if cat_id == ALL else cat_id,
            lang=chosen_lang,
        )
        cells = public_map.hotspots(
            engine, cfg, country=iso, year=table.year, category=cat_id, lang=chosen_lang
        )
    info = next(c for c in opts.countries if c.code == table.country)
    years = sorted({*info.years, table.year}, reverse=True)
    listed = [r for r in table.rows if r.hidden or (r.total or 0) > 0]
    category_name = (
        cells.category_name
        if cells is not None
        else next(c.name for c in opts.categories if c.id == cat_id)
    )
    query = f"country={table.country}&year={table.year}&lang={chosen_lang}"
    api = {
        "hotspots": f"/api/v1/public/hotspots?{query}&category={cat_id}",
        "table": (
            f"/api/v1/public/departments?{query}"
            if sensitive
            else f"/api/v1/public/municipalities?{query}"
            + ("" if cat_id == ALL else f"&category={cat_id}")
        ),
        "outlines": f"/api/v1/public/outlines?lang={chosen_lang}",
        "options": f"/api/v1/public/options?lang={chosen_lang}",
    }
    bbox = public_map.country_bbox(table.country)
    map_config = {
        "lang": chosen_lang,
        "country": table.country,
        "bbox": bbox,
        "hotspots": api["hotspots"],
        "outlines": api["outlines"],
        "tileUrl": settings.map_tile_url,
        "tileAttribution": settings.map_tile_attribution,
        "text": {
            "incidents": t("pm_cell_incidents"),
            "hidden": t("pm_hidden"),
            "cls": t("pm_class"),
            "cell": t("pm_col_cell"),
        },
    }
    return page(
        request,
        "public_map.html",
        opts=opts,
        table=table,
        cells=cells,
        cell_rows=[(f, _centre(f)) for f in cells.features] if cells else [],
        listed=listed,
        zero_rows=len(table.rows) - len(listed),
        years=years,
        chosen_country=table.country,
        chosen_category=cat_id,
        category_name=category_name,
        sensitive=sensitive,
        api=api,
        map_config=map_config,
        has_rates=any(r.rate_per_100k is not None for r in table.rows),
        tiles=settings.map_tile_url is not None,
        tile_attribution=settings.map_tile_attribution,
    )
