"""Grid outputs: GeoJSON (RFC 7946), CSV and PNG maps drawn offline.

* **GeoJSON** follows RFC 7946: WGS 84 longitude, latitude; exterior rings counter-clockwise;
  coordinates rounded (at most 7 decimals, 6 by default, about 0.1 m; public outputs should use
  fewer). Each active cell is a Polygon feature whose ``id`` and ``cell`` property are the cell's
  stable label (see :meth:`Grid.labels`); the other properties are the frame's columns, with NaN
  and infinities written as ``null``.
* **CSV** gets the same ``cell`` label and the centre's ``lon``, ``lat`` in front of the frame.
* **PNG maps** are drawn with matplotlib's object API on the Agg canvas (no display, no pyplot
  state) in the grid's own projected CRS: square cells stay squares, a square grid is one image
  (fast for hundreds of thousands of cells) and the scale bar is true. The country outlines of
  the reference data (Natural Earth) for the countries within about half a degree of the grid
  are projected onto the map; no network tiles are used. The reference data hold admin-1 units
  as representative points, not boundaries, so they are drawn as small dots, labelled when at
  most 40 fall on the map.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import polars as pl
import shapely
from babel.numbers import format_decimal
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.patches import Patch, PathPatch
from matplotlib.path import Path as MplPath
from matplotlib.ticker import FuncFormatter
from pyproj import Transformer
from shapely.geometry.base import BaseGeometry

from safestreets.errors import InputError
from safestreets.spatial.grid import Grid

__all__ = ["ADDED_COLUMNS", "cells_geojson", "map_png", "write_csv", "write_geojson"]

#: Columns the outputs add in front of a frame; a frame may not hold them itself.
ADDED_COLUMNS: Final = ("cell", "lon", "lat")
_MAX_DECIMALS: Final = 7
_LANGS: Final = ("es", "en")

# Okabe-Ito: distinguishable with the common colour-vision deficiencies.
_PALETTE: Final = (
    "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#999999",
)  # fmt: skip
# One hatch per category so that colour is never the only cue (first: plain).
_HATCHES: Final = ("", "////", "\\\\\\\\", "xxx", "...", "ooo", "+++", "---", "|||", "**")

_WORDS: Final[dict[str, dict[str, str]]] = {
    "es": {
        "highlight": "Celdas destacadas",
        "cells": "celdas",
        "cell": "celda",
        "projection": "Proyección",
        "outlines": "contornos: Natural Earth",
    },
    "en": {
        "highlight": "Highlighted cells",
        "cells": "cells",
        "cell": "cell",
        "projection": "Projection",
        "outlines": "outlines: Natural Earth",
    },
}


# ---------------------------------------------------------------------------------------------
# GeoJSON and CSV
# ---------------------------------------------------------------------------------------------


def cells_geojson(
    grid: Grid,
    frame: pl.DataFrame,
    *,
    decimals: int = 6,
    drop_zero_column: str | None = None,
    properties: Sequence[str] | None = None,
    bbox: bool = False,
) -> dict[str, Any]:
    """The active cells as an RFC 7946 FeatureCollection of Polygons with the frame's values.

    Args:
        grid: The grid.
        frame: One row per active cell, in grid order.
        decimals: Decimals of the coordinates (0-7; 6 is about 0.1 m, 4 about 11 m).
        drop_zero_column: Leave out cells where this column is 0 or null (smaller files for
            sparse counts); the column need not be among ``properties``.
        properties: Columns to write (default: all), in this order after ``cell``.
        bbox: Add the collection's ``bbox`` (west, south, east, north).

    Returns:
        A JSON-ready dict (see :func:`write_geojson`).

    Raises:
        InputError: A frame of the wrong length, an unknown or reserved column, or decimals
            outside 0-7.
    """
    _check_frame(grid, frame)
    if not (isinstance(decimals, int) and 0 <= decimals <= _MAX_DECIMALS):
        raise InputError(
            f"GeoJSON coordinates take 0 to {_MAX_DECIMALS} decimals, not {decimals!r}",
            hint="6 decimals is about 0.1 m; public outputs should use fewer",
        )
    columns = list(frame.columns if properties is None else properties)
    _check_columns(frame, [*columns, *([drop_zero_column] if drop_zero_column else [])])
    keep = np.ones(grid.n, dtype=bool)
    if drop_zero_column is not None:
        v = frame[drop_zero_column]
        keep = (v.is_not_null() & (v != 0)).fill_null(False).to_numpy()
    positions = np.flatnonzero(keep)

    polygons = shapely.orient_polygons(
        np.asarray(grid.polygons_lonlat(), dtype=object)[positions], exterior_cw=False
    )
    rings = shapely.get_exterior_ring(polygons)
    xy, owner = shapely.get_coordinates(rings, return_index=True)
    xy = np.round(xy, decimals)
    starts = np.searchsorted(owner, np.arange(len(positions) + 1)).tolist()
    points = xy.tolist()
    labels = grid.labels()
    rows = _json_rows(frame.select(columns).filter(pl.Series(keep))) if columns else None

    features = []
    for k, i in enumerate(positions.tolist()):
        props: dict[str, Any] = {"cell": labels[i]}
        if rows is not None:
            props.update(rows[k])
        features.append(
            {
                "type": "Feature",
                "id": labels[i],
                "geometry": {"type": "Polygon", "coordinates": [points[starts[k] : starts[k + 1]]]},
                "properties": props,
            }
        )
    out: dict[str, Any] = {"type": "FeatureCollection"}
    if bbox and len(xy):
        lo, hi = xy.min(axis=0), xy.max(axis=0)
        out["bbox"] = [float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])]
    out["features"] = features
    return out


def write_geojson(obj: Mapping[str, Any], path: str | Path) -> Path:
    """Write a GeoJSON object compactly as UTF-8 (no NaN: RFC 8259 JSON); return the path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    out.write_text(text, encoding="utf-8")
    return out


def write_csv(grid: Grid, frame: pl.DataFrame, path: str | Path, *, decimals: int = 6) -> Path:
    """Write one row per active cell: ``cell`` label, centre ``lon``, ``lat``, then the frame.

    Raises:
        InputError: A frame of the wrong length or one that already has ``cell``/``lon``/``lat``.
    """
    _check_frame(grid, frame)
    lon, lat = grid.centres_lonlat()
    table = pl.DataFrame(
        {
            "cell": grid.labels(),
            "lon": np.round(lon, decimals),
            "lat": np.round(lat, decimals),
        }
    ).hstack(frame)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    table.write_csv(out)
    return out


def _check_frame(grid: Grid, frame: pl.DataFrame) -> None:
    if frame.height != grid.n:
        raise InputError(
            f"the table has {frame.height:,} rows for {grid.n:,} grid cells",
            hint="give one row per active cell, in grid order",
        )
    clash = [c for c in ADDED_COLUMNS if c in frame.columns]
    if clash:
        raise InputError(
            f"the table already has a column {', '.join(clash)}",
            hint="the outputs add the cell label and centre lon/lat; rename or drop those columns",
        )


def _check_columns(frame: pl.DataFrame, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(
            f"no column {', '.join(map(repr, missing))} in the table",
            hint=f"columns: {', '.join(frame.columns)}",
        )


def _json_rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts: non-finite floats to null, dates and times as ISO text."""
    exprs = []
    for name, dtype in frame.schema.items():
        col = pl.col(name)
        if dtype.is_float():
            exprs.append(pl.when(col.is_finite()).then(col).otherwise(None).alias(name))
        elif dtype.is_temporal() or isinstance(dtype, pl.Categorical | pl.Enum):
            exprs.append(col.cast(pl.String))
        elif isinstance(dtype, pl.Decimal):
            exprs.append(col.cast(pl.Float64))
        else:
            exprs.append(col)
    return frame.select(exprs).to_dicts()


# ---------------------------------------------------------------------------------------------
# PNG maps
# ---------------------------------------------------------------------------------------------


def map_png(
    grid: Grid,
    values: npt.ArrayLike,
    path: str | Path,
    *,
    title: str,
    legend_label: str = "",
    cmap: str = "YlOrRd",
    outlines: bool = True,
    highlight: npt.ArrayLike | None = None,
    highlight_label: str | None = None,
    categories: Sequence[str] | Mapping[str, str] | None = None,
    lang: str = "es",
    dpi: int = 150,
    width_in: float = 8.0,
) -> Path:
    """Draw a map of one value per active cell and write it as PNG.

    Args:
        grid: The grid.
        values: One value per active cell (grid order). Numbers (NaN = not drawn) for a
            colour scale, or with ``categories`` one category name per cell (None or "" = not
            drawn).
        path: Where to write the PNG.
        title: Map title, drawn as given.
        legend_label: Label of the colour scale (with its unit), or the categories' heading.
        cmap: Matplotlib colour map of the scale.
        outlines: Draw the outlines of the countries the grid touches and admin-1 points.
        highlight: Boolean per cell: cells to outline in black (e.g. significant hotspots).
        highlight_label: Legend text of the outline (default "Celdas destacadas"/"Highlighted
            cells").
        categories: Category names in legend order, or a mapping name -> colour. Each gets a
            colour and a hatching (colour is never the only cue) and its cell count.
        lang: ``"es"`` or ``"en"`` for the fixed texts and number format.
        dpi: Resolution; the image is ``width_in * dpi`` pixels wide.
        width_in: Width of the image in inches (the height follows the grid's shape).

    Returns:
        The path written.

    Raises:
        InputError: Values or highlight of the wrong length, values outside ``categories``,
            or an unknown language.
    """
    if lang not in _LANGS:
        raise InputError(f"unknown language {lang!r}", hint="use es or en")
    if not (dpi > 0 and width_in > 0):
        raise InputError("dpi and width must be positive")
    words = _WORDS[lang]
    vals = np.asarray(values, dtype=object if categories is not None else np.float64)
    if vals.shape != (grid.n,):
        raise InputError(f"{vals.size:,} values for {grid.n:,} grid cells")
    mask = None
    if highlight is not None:
        mask = np.asarray(highlight, dtype=bool)
        if mask.shape != (grid.n,):
            raise InputError(f"{mask.size:,} highlight flags for {grid.n:,} grid cells")

    xmin, ymin, xmax, ymax = _extent(grid)
    aspect = (ymax - ymin) / max(xmax - xmin, 1.0)
    # The map takes about two thirds of the width (the scale or legend the rest), plus title
    # and footnote.
    height_in = min(max(width_in * 0.68 * aspect + 0.9, 3.0), 2.0 * width_in)
    fig = Figure(figsize=(width_in, height_in), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set_aspect("equal")
    ax.set_xlim(xmin, xmax)
    ax.set_ylim(ymin, ymax)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title)

    cells = _Cells(grid)
    handles: list[Patch] = []
    if categories is None:
        _draw_scale(fig, ax, cells, vals.astype(np.float64), cmap, legend_label, lang)
    else:
        handles = _draw_categories(ax, cells, vals, categories, words)
    if mask is not None and mask.any():
        edge = cells.union(mask)
        ax.add_patch(PathPatch(_path(edge), facecolor="none", edgecolor="black", lw=1.2, zorder=4))
        handles.append(
            Patch(facecolor="none", edgecolor="black", label=highlight_label or words["highlight"])
        )
    if handles:
        # A figure legend "outside" gets its room from the constrained layout (never clipped).
        fig.legend(
            handles=handles,
            title=legend_label if categories is not None else None,
            # Beside the map for categories; under it when the colour bar takes the side.
            loc="outside right upper" if categories is not None else "outside lower right",
            frameon=False,
            fontsize=8,
            title_fontsize=8,
        )
    if outlines:
        _draw_outlines(ax, grid, (xmin, ymin, xmax, ymax))
    _scale_bar(ax, xmin, ymin, xmax, ymax, lang)
    epsg = grid.crs.to_epsg()
    crs = f"{grid.crs.name}" + (f" (EPSG:{epsg})" if epsg else "")
    note = f"{words['projection']}: {crs}" + (f"; {words['outlines']}" if outlines else "")
    # As the (tick-less) x label, the note gets its own room from the constrained layout.
    ax.set_xlabel(note, fontsize=6, color="#555555", loc="left")

    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png", dpi=dpi, metadata={"Software": None})
    return out


def _extent(grid: Grid) -> tuple[float, float, float, float]:
    if grid.kind == "square":
        return (
            grid.x0,
            grid.y0,
            grid.x0 + grid.nx * grid.cell_size,
            grid.y0 + grid.ny * grid.cell_size,
        )
    e = grid.cell_size
    return (
        float(grid.cx.min()) - e,
        float(grid.cy.min()) - e,
        float(grid.cx.max()) + e,
        float(grid.cy.max()) + e,
    )


class _Cells:
    """The cells as shapely polygons in the grid's CRS, built once per map when first needed.

    Neighbouring cells share their edges exactly, which the (fast) coverage union relies on.
    """

    def __init__(self, grid: Grid) -> None:
        self.grid = grid
        self._polys: npt.NDArray[np.object_] | None = None

    def polygons(self, mask: npt.NDArray[np.bool_] | None = None) -> npt.NDArray[np.object_]:
        grid = self.grid
        if grid.kind == "square":  # cheap enough to build for just the cells asked for
            h = grid.cell_size / 2.0
            cx, cy = (grid.cx, grid.cy) if mask is None else (grid.cx[mask], grid.cy[mask])
            return np.asarray(shapely.box(cx - h, cy - h, cx + h, cy + h), dtype=object)
        if self._polys is None:
            ll = np.asarray(grid.polygons_lonlat(), dtype=object)
            tr = Transformer.from_crs(4326, grid.crs, always_xy=True)
            self._polys = np.asarray(
                shapely.transform(ll, lambda c: np.column_stack(tr.transform(c[:, 0], c[:, 1]))),
                dtype=object,
            )
        return self._polys if mask is None else self._polys[mask]

    def union(self, mask: npt.NDArray[np.bool_]) -> BaseGeometry:
        return shapely.coverage_union_all(self.polygons(mask))


def _path(geom: BaseGeometry) -> MplPath:
    """A matplotlib path of a (multi)polygon, holes included (rings oriented for nonzero fill)."""
    geom = shapely.orient_polygons(geom, exterior_cw=False)
    parts = []
    for poly in getattr(geom, "geoms", [geom]):
        if poly.geom_type != "Polygon" or poly.is_empty:
            continue
        for ring in (poly.exterior, *poly.interiors):
            parts.append(MplPath(np.asarray(ring.coords)[:, :2], closed=True))
    if not parts:
        return MplPath(np.zeros((1, 2)))
    return MplPath.make_compound_path(*parts)


def _number_format(lang: str) -> FuncFormatter:
    return FuncFormatter(lambda v, _pos: format_decimal(v, locale=lang))


def _draw_scale(
    fig: Figure,
    ax: Any,
    cells: _Cells,
    vals: npt.NDArray[np.float64],
    cmap: str,
    label: str,
    lang: str,
) -> None:
    finite = vals[np.isfinite(vals)]
    lo = float(min(0.0, finite.min())) if len(finite) else 0.0
    hi = float(finite.max()) if len(finite) else 1.0
    norm = Normalize(vmin=lo, vmax=hi if hi > lo else lo + 1.0)
    colours = colormaps[cmap]
    grid = cells.grid
    if grid.kind == "square":
        raster = np.ma.masked_invalid(grid.raster(vals))
        xmin, ymin, xmax, ymax = _extent(grid)
        # "auto" switches to an anti-aliasing filter when the raster has more cells than the
        # image has pixels, so single hot cells do not vanish between sampled pixels.
        mappable: Any = ax.imshow(
            raster,
            origin="lower",
            extent=(xmin, xmax, ymin, ymax),
            cmap=colours,
            norm=norm,
            interpolation="auto",
        )
    else:
        xy, owner = shapely.get_coordinates(cells.polygons(), return_index=True)
        starts = np.searchsorted(owner, np.arange(grid.n + 1))
        verts = [xy[starts[i] : starts[i + 1]] for i in range(grid.n)]
        mappable = PolyCollection(
            verts, array=np.ma.masked_invalid(vals), cmap=colours, norm=norm, linewidths=0
        )
        mappable.set_edgecolor("face")
        ax.add_collection(mappable)
    bar = fig.colorbar(mappable, ax=ax, shrink=0.7, format=_number_format(lang))
    bar.set_label(label, fontsize=8)
    bar.ax.tick_params(labelsize=7)


def _draw_categories(
    ax: Any,
    cells: _Cells,
    vals: npt.NDArray[np.object_],
    categories: Sequence[str] | Mapping[str, str],
    words: dict[str, str],
) -> list[Patch]:
    names = list(categories)
    if isinstance(categories, Mapping):
        colours = [str(categories[n]) for n in names]
    else:
        colours = [_PALETTE[i % len(_PALETTE)] for i in range(len(names))]
    text = np.array(["" if v is None or v != v else str(v) for v in vals.tolist()], dtype=object)
    unknown = sorted(set(text.tolist()) - {"", *names})
    if unknown:
        raise InputError(
            f"values outside the categories: {', '.join(unknown[:5])}",
            hint=f"categories: {', '.join(names)}",
        )
    handles = []
    for i, (name, colour) in enumerate(zip(names, colours, strict=True)):
        hatch = _HATCHES[i % len(_HATCHES)]
        sel = text == name
        n = int(sel.sum())
        style: dict[str, Any] = {
            "facecolor": colour,
            "hatch": hatch,
            "edgecolor": "#333333",
            "linewidth": 0.3,
        }
        if n:
            ax.add_patch(PathPatch(_path(cells.union(sel)), zorder=2, **style))
        unit = words["cell"] if n == 1 else words["cells"]
        handles.append(Patch(label=f"{name} ({n:,} {unit})", **style))
    return handles


def _draw_outlines(ax: Any, grid: Grid, extent: tuple[float, float, float, float]) -> None:
    from safestreets.reference import geo

    to_ll = Transformer.from_crs(grid.crs, 4326, always_xy=True)
    to_xy = Transformer.from_crs(4326, grid.crs, always_xy=True)
    xmin, ymin, xmax, ymax = extent
    view_xy = shapely.box(xmin, ymin, xmax, ymax)
    xs, ys = to_ll.transform([xmin, xmax, xmax, xmin], [ymin, ymin, ymax, ymax])
    # A generous window in lon/lat: outlines are clipped to it before projecting.
    window = shapely.box(min(xs), min(ys), max(xs), max(ys)).buffer(0.5)
    touched = []
    for code in geo.COUNTRY_CODES:
        outline = geo.country_outline(code)
        if not outline.intersects(window):
            continue
        touched.append(code)
        part = shapely.intersection(outline.boundary, window)
        if part.is_empty:
            continue
        line = shapely.transform(part, lambda c: np.column_stack(to_xy.transform(c[:, 0], c[:, 1])))
        for seg in getattr(line, "geoms", [line]):
            if seg.geom_type == "LineString" and not seg.is_empty:
                xy = np.asarray(seg.coords)
                ax.plot(xy[:, 0], xy[:, 1], color="#444444", lw=0.8, zorder=3)
    if not touched:
        return
    seats = geo.admin1().filter(
        pl.col("country").is_in(touched) & pl.col("lon").is_not_null() & pl.col("lat").is_not_null()
    )
    if seats.is_empty():
        return
    px, py = to_xy.transform(seats["lon"].to_numpy(), seats["lat"].to_numpy())
    inside = shapely.contains_xy(view_xy, px, py)
    if not inside.any():
        return
    names = seats["name"].to_numpy()[inside]
    ax.scatter(px[inside], py[inside], s=6, color="#222222", zorder=5)
    if inside.sum() <= 40:  # beyond that the labels hide the map
        for x, y, name in zip(px[inside], py[inside], names, strict=True):
            ax.annotate(
                str(name),
                (x, y),
                xytext=(3, 3),
                textcoords="offset points",
                fontsize=6,
                color="#222222",
                zorder=5,
            )


def _scale_bar(ax: Any, xmin: float, ymin: float, xmax: float, ymax: float, lang: str) -> None:
    """A bar of a round length (1, 2 or 5 x 10^k m) near a fifth of the map's width."""
    target = (xmax - xmin) / 5.0
    power = 10.0 ** math.floor(math.log10(max(target, 1.0)))
    length = max((m * power for m in (1.0, 2.0, 5.0) if m * power <= target), default=power)
    x = xmin + 0.04 * (xmax - xmin)
    y = ymin + 0.04 * (ymax - ymin)
    ax.plot([x, x + length], [y, y], color="black", lw=2.5, solid_capstyle="butt", zorder=6)
    text = (
        f"{format_decimal(length / 1000, locale=lang)} km" if length >= 1000 else f"{length:.0f} m"
    )
    ax.annotate(
        text,
        (x + length / 2, y),
        xytext=(0, 4),
        textcoords="offset points",
        ha="center",
        fontsize=7,
        zorder=6,
    )
