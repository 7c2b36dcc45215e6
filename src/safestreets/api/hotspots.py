"""``/api/v1/hotspots/{kind}``: hotspot layers as GeoJSON cells, from the records one may see.

The incidents are read with :func:`safestreets.store.events.read_incident_points` and the
principal, so the access rules are part of the SQL and the read is audited; the layers are
the spatial package's (the same as ``safestreets hotspots grid|kde|gistar``). Cell sizes and
the number of cells are bounded so that one request cannot tie up the server.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
import polars as pl
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from safestreets.access.policy import Principal
from safestreets.api.auth import require
from safestreets.api.common import DATE_PATTERN, errors, parse_date, ready_engine
from safestreets.errors import InputError
from safestreets.reference import geo
from safestreets.spatial.events import events_from_incidents, filter_events
from safestreets.spatial.output import cells_geojson
from safestreets.spatial.study import Study, prepare
from safestreets.store.events import read_incident_points

router = APIRouter(tags=["hotspots"])

Kind = Literal["counts", "kde", "gistar"]
Area = Literal["hull", "BZ", "GT", "SV", "HN", "NI", "CR", "PA"]

#: Smallest and largest square cell, in metres.
MIN_CELL_M = 100.0
MAX_CELL_M = 50_000.0
#: Largest grid a request may build (the CLI allows far more, on the operator's machine).
MAX_CELLS = 50_000
#: Gi* permutations x cells above which a request is refused (analytic p-values are free).
PERMUTATION_BUDGET = 5_000_000
#: Decimals of cell coordinates (about 0.1 m; cells are at least 100 m wide).
DECIMALS = 6


class Geometry(BaseModel):
    type: Literal["Polygon"]
    coordinates: list[list[list[float]]] = Field(description="lon, lat (RFC 7946)")


class Feature(BaseModel):
    type: Literal["Feature"]
    id: str = Field(description="the cell's stable label")
    geometry: Geometry
    properties: dict[str, Any]


class GridInfo(BaseModel):
    kind: str
    cell_size_m: float
    cells: int = Field(description="active cells of the grid (features may leave empty ones out)")
    area: str
    crs: str


class LayerMeta(BaseModel):
    """What the layer is and how it was made (a foreign member of the FeatureCollection)."""

    kind: Kind
    events: int = Field(description="events on the grid")
    grid: GridInfo | None
    value: str | None = Field(description="the property to colour cells by")
    parameters: dict[str, Any]
    notes: list[str]


class FeatureCollection(BaseModel):
    """An RFC 7946 FeatureCollection of square cells (Polygons), with ``meta``."""

    type: Literal["FeatureCollection"]
    bbox: list[float] | None = None
    features: list[Feature]
    meta: LayerMeta


_ReadRecords = Depends(require("read:records", what="read incident records"))


def _grid_info(study: Study, area: str) -> GridInfo:
    g = study.grid
    return GridInfo(
        kind=g.kind,
        cell_size_m=round(float(g.cell_size), 2),
        cells=g.n,
        # The outline is handed over as a geometry (never as a name a file could shadow).
        area=g.area_label if area == "hull" else f"outline of {area}",
        crs=g.crs.to_string(),
    )


def _empty(kind: str, parameters: dict[str, Any], notes: list[str]) -> JSONResponse:
    meta = LayerMeta(
        kind=kind,  # type: ignore[arg-type]
        events=0,
        grid=None,
        value=None,
        parameters=parameters,
        notes=notes,
    )
    body = {"type": "FeatureCollection", "features": [], "meta": meta.model_dump(mode="json")}
    return JSONResponse(body)


def _prepare(events: pl.DataFrame, cell_size: float, area: str, notes: list[str]) -> Study:
    polygon = None if area == "hull" else geo.country_outline(area)
    try:
        return prepare(
            events,
            cell_size=cell_size,
            area=polygon,
            drop_stray=True,
            max_cells=MAX_CELLS,
            notes=tuple(notes),
        )
    except InputError as exc:
        if "more than the limit" in exc.message:  # the CLI's hint names CLI options
            raise InputError(
                exc.message,
                hint="use a larger cell_size, a smaller area (area=hull) or narrower filters",
            ) from None
        raise


@router.get(
    "/hotspots/{kind}",
    operation_id="get_hotspots",
    summary="A hotspot layer (counts, KDE or Gi*) as GeoJSON cells",
    response_model=FeatureCollection,
    responses=errors(400, 401, 403),
)
def get_hotspots(
    request: Request,
    kind: Kind = Path(description="counts per cell, kernel density, or Getis-Ord Gi*"),
    principal: Principal = _ReadRecords,
    country: list[str] = Query([], description="ISO alpha-2; repeatable"),
    admin1: list[str] = Query([]),
    admin2: list[str] = Query([]),
    iccs: list[str] = Query([], description="ICCS code prefix; repeatable"),
    source: list[str] = Query([]),
    date_from: str | None = Query(
        None, alias="from", pattern=DATE_PATTERN, description="first local day, YYYY[-MM[-DD]]"
    ),
    date_to: str | None = Query(
        None, alias="to", pattern=DATE_PATTERN, description="last local day"
    ),
    cell_size: float = Query(500.0, ge=MIN_CELL_M, le=MAX_CELL_M, description="metres"),
    area: Area = Query("hull", description="study area: hull of the events, or a country"),
    bandwidth: float | None = Query(
        None, ge=10.0, le=100_000.0, description="kde: metres (default: normal-reference rule)"
    ),
    kernel: Literal["quartic", "gaussian"] = Query("quartic", description="kde kernel"),
    permutations: int = Query(0, ge=0, le=999, description="gistar: 0 = analytic p-values"),
    alpha: float = Query(0.05, ge=0.001, le=0.2, description="gistar: significance (FDR)"),
) -> JSONResponse:
    """Cells with no event (counts) or no density (kde) are left out; Gi* returns every
    cell. Coordinates are lon, lat with 6 decimals. The read is audited."""
    lo = parse_date(date_from, end=False, name="from")
    hi = parse_date(date_to, end=True, name="to")
    if lo is not None and hi is not None and lo > hi:
        raise InputError("from is after to", hint="swap them")
    codes = [c.strip() for c in iccs if c.strip()]
    parameters: dict[str, Any] = {
        "country": [c.strip().upper() for c in country if c.strip()],
        "admin1": admin1,
        "admin2": admin2,
        "iccs": codes,
        "source": source,
        "from": lo.isoformat() if lo else None,
        "to": hi.isoformat() if hi else None,
        "cell_size": cell_size,
        "area": area,
    }
    points = read_incident_points(
        ready_engine(request),
        countries=parameters["country"],
        admin1=admin1,
        admin2=admin2,
        iccs=codes,
        sources=source,
        date_from=lo,
        date_to=hi,
        principal=principal,
    )
    events, notes = events_from_incidents(points)
    events = filter_events(events, iccs=codes, date_from=lo, date_to=hi)
    if events.is_empty():
        return _empty(kind, parameters, [*notes, "no event matches the filters"])
    study = _prepare(events, cell_size, area, notes)
    frame, value, drop, extra = _layer(kind, study, bandwidth, kernel, permutations, alpha)
    layer_notes = extra.pop("_notes", [])
    parameters.update(extra)
    collection = cells_geojson(
        study.grid, frame, decimals=DECIMALS, drop_zero_column=drop, bbox=True
    )
    meta = LayerMeta(
        kind=kind,
        events=len(study.events),
        grid=_grid_info(study, area),
        value=value,
        parameters=parameters,
        notes=[*study.notes, *layer_notes],
    )
    collection["meta"] = meta.model_dump(mode="json")
    return JSONResponse(collection)


def _layer(
    kind: str,
    study: Study,
    bandwidth: float | None,
    kernel: str,
    permutations: int,
    alpha: float,
) -> tuple[pl.DataFrame, str, str | None, dict[str, Any]]:
    """The per-cell frame, the value property, the column whose zeros are left out, and
    the parameters (and notes, under ``_notes``) the layer adds."""
    if kind == "counts":
        counts = study.counts()
        frame = pl.DataFrame({"count": pl.Series(counts).cast(pl.Int64)})
        return frame, "count", "count", {}
    if kind == "kde":
        from safestreets.spatial.kde import kde

        dens = kde(study.grid, study.events, bandwidth_m=bandwidth, kernel=kernel)
        frame = pl.DataFrame(
            {"density_per_km2": dens.density, "expected": dens.expected}
        ).with_columns(
            # Below a millionth of the peak is no density a map can show.
            pl.when(pl.col("density_per_km2") > float(np.max(dens.density)) * 1e-6)
            .then(pl.col("density_per_km2"))
            .otherwise(0.0)
            .alias("density_per_km2")
        )
        extra: dict[str, Any] = {
            "kernel": dens.kernel,
            "bandwidth_m": round(dens.bandwidth_m, 1),
            "bandwidth_rule": dens.bandwidth_rule,
            "unit": dens.unit,
            "_notes": list(dens.notes),
        }
        return frame, "density_per_km2", "density_per_km2", extra
    from safestreets.spatial.hotspots import gistar

    if permutations * study.grid.n > PERMUTATION_BUDGET:
        raise InputError(
            f"{permutations} permutations over {study.grid.n:,} cells is too much work for "
            "one request",
            hint=f"use permutations=0 (analytic p-values) or fewer than "
            f"{math.floor(PERMUTATION_BUDGET / study.grid.n)}",
        )
    hot = gistar(study.grid, study.counts(), permutations=permutations, alpha=alpha)
    frame = hot.table.drop("cell").select(
        pl.col("count").cast(pl.Int64),
        "gi_z",
        "p_value",
        "q_value",
        "class",
        "confidence",
        "gi_bin",
    )
    extra = {
        "inference": hot.inference,
        "permutations": hot.permutations,
        "alpha": hot.alpha,
        "fdr": hot.fdr,
        "_notes": list(hot.notes),
    }
    return frame, "gi_z", None, extra
