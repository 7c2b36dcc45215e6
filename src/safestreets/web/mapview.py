"""The analysts' map (``/hotspots``): Gi* hot and cold spots, kernel density or counts per
cell, over the country's outline and its departments from the reference data.

Computed on the server from the records the user may see
(:func:`~safestreets.store.events.read_incident_points` with the principal: the access rule is
in the SQL and the read is audited) with the spatial package's functions, the same as
``safestreets hotspots`` and ``GET /api/v1/hotspots/{kind}``. The page carries the layer as
GeoJSON in a data block that ``static/dashboard_map.js`` draws with the vendored Leaflet, and
the same cells as a table (the map's alternative, which works without JavaScript). No tile
layer unless ``SAFESTREETS_MAP_TILE_URL`` is set.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
import shapely
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from safestreets.access.policy import Principal
from safestreets.api.common import parse_date
from safestreets.errors import SafeStreetsError
from safestreets.reference import geo
from safestreets.reference.iccs import iccs_name
from safestreets.spatial.events import events_from_incidents, filter_events
from safestreets.spatial.output import cells_geojson
from safestreets.spatial.study import prepare
from safestreets.store.batches import has_synthetic
from safestreets.store.engine import check_ready
from safestreets.store.events import read_incident_points
from safestreets.web.base import abilities, country_options, login_redirect, page, page_lang
from safestreets.web.i18n import Translator
from safestreets.web.session import signed_in

router = APIRouter(include_in_schema=False)

KINDS = ("gistar", "kde", "counts")
CELL_SIZES = (500, 1000, 2000, 5000, 10000)
DEFAULT_CELL = 2000
#: A page builds no larger grid (the CLI allows far more, on the operator's machine).
MAX_CELLS = 50_000
#: Cells drawn at most (the densest first); the table lists the first :data:`TABLE_ROWS`.
MAX_FEATURES = 4000
TABLE_ROWS = 25
#: Density classes of the KDE layer (each with a number range in the legend).
KDE_CLASSES = 5
SECTIONS = ("01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11")


@dataclass
class Layer:
    """What the map page shows for one choice."""

    kind: str
    events: int = 0
    cells: int = 0
    cell_size: int = DEFAULT_CELL
    geojson: dict[str, Any] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)
    legend: list[dict[str, Any]] = field(default_factory=list)
    shown: int = 0
    notes: list[str] = field(default_factory=list)
    summary: dict[str, int] = field(default_factory=dict)
    bandwidth_m: float | None = None


def _json_block(data: Any) -> Markup:
    """JSON safe inside ``<script type="application/json">`` (no ``</script>`` can close it)."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def _outline(country: str) -> dict[str, Any]:
    shape = shapely.simplify(geo.country_outline(country), 0.005)
    geometry = shape.__geo_interface__
    return {"type": "Feature", "properties": {"country": country}, "geometry": geometry}


def _seats(country: str) -> list[dict[str, Any]]:
    a1 = geo.admin1(country).filter(pl.col("lon").is_not_null() & pl.col("lat").is_not_null())
    return [
        {"name": r["name"], "lon": round(r["lon"], 4), "lat": round(r["lat"], 4)}
        for r in a1.select("name", "lon", "lat").iter_rows(named=True)
    ]


def _centres(features: list[dict[str, Any]]) -> list[tuple[float, float]]:
    out = []
    for f in features:
        ring = f["geometry"]["coordinates"][0][:-1]
        out.append(
            (
                round(sum(p[1] for p in ring) / len(ring), 4),
                round(sum(p[0] for p in ring) / len(ring), 4),
            )
        )
    return out


def build_layer(
    engine: Any,
    principal: Principal,
    *,
    country: str,
    kind: str,
    iccs: str,
    date_from: str,
    date_to: str,
    cell_size: int,
) -> Layer:
    """Read the visible incidents, grid them over the country and compute the layer."""
    lo = parse_date(date_from, end=False, name="from")
    hi = parse_date(date_to, end=True, name="to")
    codes = [iccs] if iccs else []
    layer = Layer(kind=kind, cell_size=cell_size)
    points = read_incident_points(
        engine, countries=[country], iccs=codes, date_from=lo, date_to=hi, principal=principal
    )
    events, notes = events_from_incidents(points)
    events = filter_events(events, iccs=codes, date_from=lo, date_to=hi)
    layer.notes.extend(notes)
    if events.is_empty():
        return layer
    study = prepare(
        events,
        cell_size=float(cell_size),
        area=geo.country_outline(country),
        drop_stray=True,
        max_cells=MAX_CELLS,
        notes=tuple(notes),
    )
    layer.events, layer.cells = len(study.events), study.grid.n
    layer.notes = list(study.notes)
    counts = study.counts()
    if kind == "gistar":
        from safestreets.spatial.hotspots import gistar

        result = gistar(study.grid, counts, permutations=0, alpha=0.05)
        frame = result.table.drop("cell").select(
            pl.col("count").cast(pl.Int64), "gi_z", "q_value", "class", "confidence"
        )
        frame = frame.with_columns(
            show=(pl.col("class") != "not significant").cast(pl.Int8),
            rank=pl.col("gi_z").abs(),
        )
        layer.summary = {
            "hot": int((frame["class"] == "hot").sum()),
            "cold": int((frame["class"] == "cold").sum()),
        }
        layer.notes.extend(result.notes)
        value = "gi_z"
    elif kind == "kde":
        from safestreets.spatial.kde import kde

        result_k = kde(study.grid, study.events)
        density = np.asarray(result_k.density, dtype=float)
        peak = float(density.max()) if density.size else 0.0
        frame = pl.DataFrame({"count": counts.astype(np.int64), "density": density})
        # Classes of equal width up to the peak; below a twentieth of it, nothing is drawn.
        edges = np.linspace(0.0, peak, KDE_CLASSES + 1) if peak > 0 else np.zeros(KDE_CLASSES + 1)
        klass = np.clip(np.searchsorted(edges, density, side="right"), 1, KDE_CLASSES)
        frame = frame.with_columns(
            kde_class=pl.Series(klass.astype(np.int64)),
            show=(pl.col("density") >= peak / 20).cast(pl.Int8) if peak > 0 else pl.lit(0),
            rank=pl.col("density"),
        )
        layer.legend = [
            {"cls": i, "lo": float(edges[i - 1]), "hi": float(edges[i])}
            for i in range(1, KDE_CLASSES + 1)
        ]
        layer.notes.extend(result_k.notes)
        layer.bandwidth_m = float(result_k.bandwidth_m)
        value = "density"
    else:
        frame = pl.DataFrame({"count": counts.astype(np.int64)}).with_columns(
            show=(pl.col("count") > 0).cast(pl.Int8), rank=pl.col("count").cast(pl.Float64)
        )
        value = "count"
    # The strongest cells only, so a country-wide layer stays a few hundred kilobytes.
    if int(frame["show"].sum()) > MAX_FEATURES:
        cut = frame.filter(pl.col("show") == 1)["rank"].sort(descending=True)[MAX_FEATURES - 1]
        frame = frame.with_columns(
            show=((pl.col("show") == 1) & (pl.col("rank") >= cut)).cast(pl.Int8)
        )
    props = [c for c in frame.columns if c not in ("show", "rank")]
    gj = cells_geojson(
        study.grid, frame, decimals=5, drop_zero_column="show", properties=props, bbox=True
    )
    layer.geojson = gj
    layer.shown = len(gj["features"])
    ranked = sorted(
        zip(gj["features"], _centres(gj["features"]), strict=True),
        key=lambda fc: -abs(float(fc[0]["properties"].get(value) or 0.0)),
    )
    layer.rows = [{**f["properties"], "lat": c[0], "lon": c[1]} for f, c in ranked[:TABLE_ROWS]]
    return layer


def _default_country(user: Principal) -> str:
    return user.country if user.country in geo.COUNTRY_CODES else "GT"


@router.get("/hotspots", response_class=HTMLResponse)
def hotspot_map(request: Request) -> Response:
    """The map of one layer, with its legend and the table of its strongest cells."""
    user = signed_in(request)
    if user is None:
        return login_redirect(request)
    engine = request.app.state.engine
    check_ready(engine)
    lang = page_lang(request)
    t = Translator(lang)
    q = request.query_params
    country = (q.get("country") or _default_country(user)).strip().upper()
    if country not in geo.COUNTRY_CODES:
        country = _default_country(user)
    kind = q.get("kind") or "gistar"
    kind = kind if kind in KINDS else "gistar"
    iccs = q.get("iccs") or ""
    iccs = iccs if iccs in SECTIONS else ""
    try:
        cell_size = int(q.get("cell") or DEFAULT_CELL)
    except ValueError:
        cell_size = DEFAULT_CELL
    if cell_size not in CELL_SIZES:
        cell_size = DEFAULT_CELL
    date_from, date_to = (q.get("from") or "")[:10], (q.get("to") or "")[:10]
    layer: Layer | None = None
    error: tuple[str, str | None] | None = None
    if abilities(user).read:
        try:
            layer = build_layer(
                engine,
                user,
                country=country,
                kind=kind,
                iccs=iccs,
                date_from=date_from,
                date_to=date_to,
                cell_size=cell_size,
            )
        except SafeStreetsError as exc:
            error = (exc.message, exc.hint)
    settings = request.app.state.settings
    bbox = geo.country_outline(country).bounds
    data = {
        "kind": kind,
        "bbox": [round(b, 4) for b in bbox],
        "outline": _outline(country),
        "seats": _seats(country),
        "layer": layer.geojson if layer else {"type": "FeatureCollection", "features": []},
        "tileUrl": settings.map_tile_url,
        "tileAttribution": settings.map_tile_attribution,
        "text": {
            "count": t("col_incidents_cell"),
            "z": t("col_gi_z"),
            "density": t("col_density"),
            "hot": t("class_hot"),
            "cold": t("class_cold"),
            "cls": t("kde_class_label"),
        },
    }
    return page(
        request,
        "hotspots.html",
        country=country,
        kind=kind,
        iccs=iccs,
        cell_size=cell_size,
        date_from=date_from,
        date_to=date_to,
        kinds=KINDS,
        cell_sizes=CELL_SIZES,
        sections=[(s, iccs_name(s, lang)) for s in SECTIONS],
        countries=country_options(lang),
        layer=layer,
        error=error,
        map_data=_json_block(data),
        synthetic=has_synthetic(engine),
        tiles=settings.map_tile_url is not None,
        tile_attribution=settings.map_tile_attribution,
    )
