"""Analysis grids: square cells of any size or H3 cells of any resolution, masked to a study area.

A :class:`Grid` is the set of *active* cells every analysis works on: cells inside the study area
(a country outline from the reference data, a GeoJSON polygon, or the convex hull of the events)
plus any cell holding an event. Values live in NumPy arrays of length ``grid.n`` in the order of
``grid.index``. Square grids are aligned to multiples of the cell size in their CRS, so two runs
with the same CRS and size share cells and labels (``"<column>_<row>"``); H3 cells are labelled
by their H3 index.

Before any array is allocated, :func:`make_grid` refuses absurd grids with a clear error: events
far from the rest (a stray point at 0, 0 would stretch a city grid over a continent) and grids
above ``max_cells``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt
import shapely
from pyproj import CRS, Transformer
from scipy import sparse
from scipy.spatial import cKDTree
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from safestreets.errors import InputError
from safestreets.spatial.events import Projected

__all__ = ["DEFAULT_MAX_CELLS", "Grid", "make_grid", "read_area", "stray_events"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: Largest grid built without being asked for more (``max_cells``).
DEFAULT_MAX_CELLS: Final = 4_000_000


@dataclass(frozen=True)
class Grid:
    """The active cells of a square or H3 grid in a metric CRS.

    Attributes:
        kind: ``"square"`` or ``"h3"``.
        crs: The projected CRS of ``cx``, ``cy`` and of the square raster.
        cell_size: Side of a square cell in metres (H3: the mean edge length).
        resolution: H3 resolution (None for square grids).
        index: One id per active cell: the flat raster index ``row * nx + col`` (square) or
            the H3 index as an integer.
        cx, cy: Cell centres in the CRS (metres).
        area_m2: Area of each active cell.
        x0, y0, nx, ny: Lower-left corner and shape of the bounding raster (square grids).
        area_label: What the study area was (for reports).
        notes: Plain-language remarks made while building (events dropped, ...).
    """

    kind: Literal["square", "h3"]
    crs: CRS
    cell_size: float
    resolution: int | None
    index: IntArray
    cx: FloatArray
    cy: FloatArray
    area_m2: FloatArray
    x0: float = 0.0
    y0: float = 0.0
    nx: int = 0
    ny: int = 0
    area_label: str = ""
    notes: tuple[str, ...] = ()
    _lookup: Any = field(default=None, repr=False, compare=False)

    @property
    def n(self) -> int:
        """Number of active cells."""
        return len(self.index)

    # -- placing points --------------------------------------------------------------------

    def locate_xy(self, x: npt.ArrayLike, y: npt.ArrayLike) -> IntArray:
        """Active-cell position of each point in the grid's CRS, -1 outside the grid."""
        xa = np.asarray(x, dtype=np.float64)
        ya = np.asarray(y, dtype=np.float64)
        if self.kind == "h3":
            lon, lat = Transformer.from_crs(self.crs, 4326, always_xy=True).transform(xa, ya)
            return self.locate_lonlat(lon, lat)
        col = np.floor((xa - self.x0) / self.cell_size)
        row = np.floor((ya - self.y0) / self.cell_size)
        ok = (col >= 0) & (col < self.nx) & (row >= 0) & (row < self.ny)
        out = np.full(xa.shape, -1, dtype=np.int64)
        flat = (row[ok] * self.nx + col[ok]).astype(np.int64)
        out[ok] = self._lookup[flat]
        return out

    def locate_lonlat(self, lon: npt.ArrayLike, lat: npt.ArrayLike) -> IntArray:
        """Active-cell position of each WGS 84 point, -1 outside the grid."""
        lo = np.asarray(lon, dtype=np.float64)
        la = np.asarray(lat, dtype=np.float64)
        if self.kind == "square":
            x, y = Transformer.from_crs(4326, self.crs, always_xy=True).transform(lo, la)
            return self.locate_xy(x, y)
        ids = _h3_cells(lo, la, int(self.resolution or 0))
        pos = np.searchsorted(self.index, ids)
        pos = np.clip(pos, 0, self.n - 1)
        return np.where(self.index[pos] == ids, pos, -1).astype(np.int64)

    def locate(self, events: Projected) -> IntArray:
        """Active-cell position of each projected event, -1 outside the grid."""
        if self.kind == "h3":
            frame = events.frame
            return self.locate_lonlat(frame["lon"].to_numpy(), frame["lat"].to_numpy())
        return self.locate_xy(events.x, events.y)

    def counts(self, cells: npt.ArrayLike, weights: npt.ArrayLike | None = None) -> FloatArray:
        """Events (or summed weights) per active cell; positions of -1 are ignored."""
        c = np.asarray(cells, dtype=np.int64)
        keep = c >= 0
        w = None if weights is None else np.asarray(weights, dtype=np.float64)[keep]
        return np.bincount(c[keep], weights=w, minlength=self.n).astype(np.float64)

    # -- neighbourhoods --------------------------------------------------------------------

    def neighbours(self, contiguity: Literal["queen", "rook"] = "queen") -> sparse.csr_matrix:
        """Binary adjacency of active cells (queen: 8 neighbours; rook: 4; H3: the 6 around)."""
        n = self.n
        if self.kind == "h3":
            import h3

            rows: list[int] = []
            cols: list[int] = []
            for i, c in enumerate(self.index.tolist()):
                ring = [h3.str_to_int(r) for r in h3.grid_ring(h3.int_to_str(c), 1)]
                for j in self._positions(np.asarray(ring, dtype=np.int64)):
                    if j >= 0:
                        rows.append(i)
                        cols.append(int(j))
            data = np.ones(len(rows))
            return sparse.csr_matrix((data, (rows, cols)), shape=(n, n))
        offsets = [(0, 1), (1, 0), (0, -1), (-1, 0)]
        if contiguity == "queen":
            offsets += [(1, 1), (1, -1), (-1, 1), (-1, -1)]
        row, col = np.divmod(self.index, self.nx)
        src: list[IntArray] = []
        dst: list[IntArray] = []
        for dr, dc in offsets:
            r2, c2 = row + dr, col + dc
            ok = (r2 >= 0) & (r2 < self.ny) & (c2 >= 0) & (c2 < self.nx)
            j = np.full(n, -1, dtype=np.int64)
            j[ok] = self._lookup[r2[ok] * self.nx + c2[ok]]
            hit = j >= 0
            src.append(np.nonzero(hit)[0])
            dst.append(j[hit])
        s = np.concatenate(src)
        d = np.concatenate(dst)
        return sparse.csr_matrix((np.ones(len(s)), (s, d)), shape=(n, n))

    def within(self, radius: float) -> sparse.coo_matrix:
        """Centre-to-centre distances of all pairs of active cells within ``radius`` metres.

        The diagonal (distance 0) is included explicitly, so kernels can weight a cell itself.
        """
        tree = cKDTree(np.column_stack([self.cx, self.cy]))
        pairs = tree.query_pairs(r=radius, output_type="ndarray")
        i = np.concatenate([pairs[:, 0], pairs[:, 1], np.arange(self.n)])
        j = np.concatenate([pairs[:, 1], pairs[:, 0], np.arange(self.n)])
        d = np.hypot(self.cx[i] - self.cx[j], self.cy[i] - self.cy[j])
        return sparse.coo_matrix((d, (i, j)), shape=(self.n, self.n))

    # -- rasters and shapes ----------------------------------------------------------------

    def raster(self, values: npt.ArrayLike, fill: float = np.nan) -> FloatArray:
        """Values of active cells as a (ny, nx) raster (row 0 = south), ``fill`` elsewhere."""
        if self.kind != "square":
            raise InputError("a raster needs a square grid", hint="use --cell-size, not --h3")
        out = np.full(self.nx * self.ny, fill, dtype=np.float64)
        out[self.index] = np.asarray(values, dtype=np.float64)
        return out.reshape(self.ny, self.nx)

    def from_raster(self, raster: npt.ArrayLike) -> FloatArray:
        """Active-cell values from a (ny, nx) raster."""
        return np.asarray(raster, dtype=np.float64).reshape(-1)[self.index]

    def labels(self) -> list[str]:
        """Stable cell ids: ``"<column>_<row>"`` of the CRS-aligned lattice, or the H3 index."""
        if self.kind == "h3":
            import h3

            return [h3.int_to_str(c) for c in self.index.tolist()]
        row, col = np.divmod(self.index, self.nx)
        gc = col + round(self.x0 / self.cell_size)
        gr = row + round(self.y0 / self.cell_size)
        return [f"{a}_{b}" for a, b in zip(gc.tolist(), gr.tolist(), strict=True)]

    def polygons_lonlat(self) -> list[BaseGeometry]:
        """Each active cell as a WGS 84 polygon (for GeoJSON and maps)."""
        if self.kind == "h3":
            import h3

            rings = [h3.cell_to_boundary(h3.int_to_str(c)) for c in self.index.tolist()]
            if all(len(r) == 6 for r in rings):  # one vectorised call (no pentagon here)
                arr = np.asarray(rings, dtype=np.float64)[:, :, ::-1]
                return list(shapely.polygons(arr))
            return [shapely.Polygon([(lng, lat) for lat, lng in r]) for r in rings]
        h = self.cell_size / 2.0
        xs = np.column_stack([self.cx - h, self.cx + h, self.cx + h, self.cx - h])
        ys = np.column_stack([self.cy - h, self.cy - h, self.cy + h, self.cy + h])
        lon, lat = Transformer.from_crs(self.crs, 4326, always_xy=True).transform(xs, ys)
        coords = np.stack([lon, lat], axis=-1)
        return list(shapely.polygons(coords))

    def centres_lonlat(self) -> tuple[FloatArray, FloatArray]:
        """Cell centres in WGS 84 (lon, lat)."""
        lon, lat = Transformer.from_crs(self.crs, 4326, always_xy=True).transform(self.cx, self.cy)
        return np.asarray(lon), np.asarray(lat)

    def _positions(self, ids: IntArray) -> IntArray:
        pos = np.clip(np.searchsorted(self.index, ids), 0, max(self.n - 1, 0))
        return np.where(self.index[pos] == ids, pos, -1)


# ---------------------------------------------------------------------------------------------
# Study areas
# ---------------------------------------------------------------------------------------------


def read_area(spec: str | Path | BaseGeometry | None) -> tuple[BaseGeometry | None, str]:
    """The study area polygon (WGS 84) from a spec, and a label for reports.

    Args:
        spec: None or ``"hull"`` (the convex hull of the events, built later), an ISO country
            code of the seven countries (its reference outline), a path to a GeoJSON file
            (Polygon/MultiPolygon geometry, Feature or FeatureCollection; all polygons are
            united), or a shapely geometry in lon/lat.

    Raises:
        InputError: The file cannot be read or holds no polygon.
        ReferenceError_: An unknown country code.
    """
    if spec is None or (isinstance(spec, str) and spec.strip().lower() in ("", "hull")):
        return None, "convex hull of the events"
    if isinstance(spec, BaseGeometry):
        return spec, "polygon given"
    text = str(spec).strip()
    path = Path(text)
    if len(text) == 2 and text.isalpha() and not path.exists():
        from safestreets.reference import geo

        return geo.country_outline(text.upper()), f"outline of {text.upper()}"
    if not path.exists():
        raise InputError(
            f"study area {text!r} is neither a country code nor a file",
            hint="give hull, an ISO code such as GT, or a GeoJSON polygon file",
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read the study area {path}: {exc}") from exc
    geoms: list[BaseGeometry] = []
    feats = data.get("features") if isinstance(data, dict) else None
    items = feats if isinstance(feats, list) else [data]
    for item in items:
        geom = item.get("geometry", item) if isinstance(item, dict) else None
        if not isinstance(geom, dict) or geom.get("type") not in ("Polygon", "MultiPolygon"):
            continue
        try:
            geoms.append(shape(geom))
        except Exception as exc:
            raise InputError(f"broken polygon in {path}: {exc}") from exc
    if not geoms:
        raise InputError(
            f"{path} holds no Polygon or MultiPolygon",
            hint="the study area file must be GeoJSON with polygon geometries in lon/lat",
        )
    area = shapely.union_all(geoms)
    if not area.is_valid:
        area = shapely.make_valid(area)
    return area, f"polygon from {path.name}"


def stray_events(x: FloatArray, y: FloatArray) -> BoolArray:
    """Events far from the bulk of the data (true = stray).

    The bulk is the box between the 1st and 99th percentiles on each axis (at least 1 km wide);
    an event further than one box-width outside it is stray. A legitimate but remote event is
    rare enough that asking the user is better than silently stretching the grid.
    """
    if len(x) < 20:
        return np.zeros(len(x), dtype=bool)
    out = np.zeros(len(x), dtype=bool)
    for v in (x, y):
        lo, hi = np.percentile(v, [1.0, 99.0])
        span = max(hi - lo, 1000.0)
        out |= (v < lo - span) | (v > hi + span)
    return out


def _hull(x: FloatArray, y: FloatArray) -> BaseGeometry:
    """Convex hull of the points (Qhull directly: a million shapely points cost
    more than the rest of the grid)."""
    from scipy.spatial import ConvexHull, QhullError

    pts = np.column_stack([x, y])
    if len(pts) >= 3:
        try:
            return shapely.Polygon(pts[ConvexHull(pts).vertices])
        except QhullError:  # all points on a line
            pass
    return shapely.convex_hull(shapely.multipoints(pts))


def _h3_cells(lon: FloatArray, lat: FloatArray, resolution: int) -> IntArray:
    import h3

    # h3-py has no vectorised call; the loop costs about 1 µs per point.
    f = h3.latlng_to_cell
    s2i = h3.str_to_int
    return np.fromiter(
        (s2i(f(b, a, resolution)) for a, b in zip(lon.tolist(), lat.tolist(), strict=True)),
        dtype=np.int64,
        count=len(lon),
    )


def _too_big(n: int, max_cells: int, what: str) -> InputError:
    return InputError(
        f"the grid would have {n:,} cells ({what}), more than the limit of {max_cells:,}",
        hint="use larger cells (--cell-size / a lower --h3 resolution), a smaller --area, "
        "or raise --max-cells",
    )


def make_grid(
    events: Projected,
    *,
    cell_size: float | None = 250.0,
    h3_resolution: int | None = None,
    area: str | Path | BaseGeometry | None = None,
    drop_stray: bool = False,
    max_cells: int = DEFAULT_MAX_CELLS,
) -> tuple[Grid, BoolArray]:
    """Build the grid for some events and say which events lie on it.

    Args:
        events: Projected events.
        cell_size: Side of square cells in metres (ignored when ``h3_resolution`` is given).
        h3_resolution: Build H3 cells of this resolution (0-15) instead of squares.
        area: Study area (see :func:`read_area`); None = convex hull of the events. Events
            outside a given area are left out (counted in ``grid.notes``).
        drop_stray: Leave out stray events (see :func:`stray_events`) instead of refusing.
        max_cells: Refuse grids with more cells than this (before building them).

    Returns:
        The grid and a boolean mask over ``events`` of those inside it.

    Raises:
        InputError: Stray events (without ``drop_stray``), a grid above ``max_cells``, an empty
            area, or bad sizes.
    """
    if h3_resolution is None and (cell_size is None or not cell_size > 0):
        raise InputError("the cell size must be a positive number of metres")
    if h3_resolution is not None and not 0 <= h3_resolution <= 15:
        raise InputError("an H3 resolution is between 0 and 15")
    notes: list[str] = []
    polygon_ll, label = read_area(area)
    # A coordinate far outside the projection's zone (a stray 0, 0 in UTM 15N) projects to
    # infinity: it is as stray as any other.
    keep = np.isfinite(events.x) & np.isfinite(events.y)
    unprojectable = ~keep
    to_crs = Transformer.from_crs(4326, events.crs, always_xy=True)
    if polygon_ll is not None:
        poly = shapely.transform(polygon_ll, lambda c: np.column_stack(to_crs.transform(*c.T)))
        shapely.prepare(poly)
        inside = shapely.contains_xy(poly, events.x, events.y)
        if (~inside & keep).any():
            notes.append(f"{int((~inside & keep).sum()):,} events outside the study area left out")
        keep &= inside
        if not keep.any():
            raise InputError(
                f"no event lies inside the study area ({label})",
                hint="check the area and the coordinates (lon, lat in WGS 84)",
            )
    else:
        stray = unprojectable.copy()
        stray[keep] = stray_events(events.x[keep], events.y[keep])
        if stray.any():
            k = int(np.argmax(stray))
            lon = float(events.frame["lon"][k])
            lat = float(events.frame["lat"][k])
            if not drop_stray:
                raise InputError(
                    f"{int(stray.sum()):,} events lie far from the rest (for example at lon "
                    f"{lon:.5f}, lat {lat:.5f}); a grid over all of them would be mostly empty",
                    hint="leave them out with --drop-stray, fix their coordinates, or give the "
                    "study area with --area",
                )
            notes.append(
                f"{int(stray.sum()):,} stray events far from the rest left out "
                f"(for example lon {lon:.5f}, lat {lat:.5f})"
            )
            keep &= ~stray
        if not keep.any():
            raise InputError("no event with usable coordinates")
        poly = _hull(events.x[keep], events.y[keep])
    if h3_resolution is not None:
        grid = _h3_grid(events, keep, poly, polygon_ll, h3_resolution, max_cells, label)
    else:
        grid = _square_grid(events, keep, poly, float(cell_size or 0), max_cells, label)
    return _with_notes(grid, notes), keep


def _with_notes(grid: Grid, notes: list[str]) -> Grid:
    return Grid(**{**grid.__dict__, "notes": (*notes, *grid.notes)})


def _square_grid(
    events: Projected,
    keep: BoolArray,
    poly: BaseGeometry,
    cell: float,
    max_cells: int,
    label: str,
) -> Grid:
    minx, miny, maxx, maxy = poly.bounds
    ex, ey = events.x[keep], events.y[keep]
    minx, miny = min(minx, float(ex.min())), min(miny, float(ey.min()))
    maxx, maxy = max(maxx, float(ex.max())), max(maxy, float(ey.max()))
    x0 = np.floor(minx / cell) * cell
    y0 = np.floor(miny / cell) * cell
    nx = int(np.floor((maxx - x0) / cell)) + 1
    ny = int(np.floor((maxy - y0) / cell)) + 1
    if nx * ny > max_cells:
        raise _too_big(
            nx * ny,
            max_cells,
            f"{(nx * cell) / 1000:,.1f} x {(ny * cell) / 1000:,.1f} km at {cell:g} m",
        )
    cols = (np.arange(nx) + 0.5) * cell + x0
    rows = (np.arange(ny) + 0.5) * cell + y0
    gx, gy = np.meshgrid(cols, rows)
    # A cell belongs to the area when its centre is within half a cell of the polygon, so thin
    # coastal strips of a simplified outline keep their cells.
    grown = poly.buffer(cell / 2.0) if poly.area > 0 else poly.buffer(cell)
    shapely.prepare(grown)
    mask = shapely.contains_xy(grown, gx.ravel(), gy.ravel())
    col = np.floor((ex - x0) / cell).astype(np.int64)
    row = np.floor((ey - y0) / cell).astype(np.int64)
    mask[row * nx + col] = True
    index = np.nonzero(mask)[0].astype(np.int64)
    lookup = np.full(nx * ny, -1, dtype=np.int64)
    lookup[index] = np.arange(len(index))
    return Grid(
        kind="square",
        crs=events.crs,
        cell_size=cell,
        resolution=None,
        index=index,
        cx=gx.ravel()[index],
        cy=gy.ravel()[index],
        area_m2=np.full(len(index), cell * cell),
        x0=float(x0),
        y0=float(y0),
        nx=nx,
        ny=ny,
        area_label=label,
        _lookup=lookup,
    )


def _h3_grid(
    events: Projected,
    keep: BoolArray,
    poly: BaseGeometry,
    polygon_ll: BaseGeometry | None,
    resolution: int,
    max_cells: int,
    label: str,
) -> Grid:
    import h3

    cell_area = float(h3.average_hexagon_area(resolution, "m^2"))
    estimate = int(poly.area / cell_area) if poly.area > 0 else 1
    if estimate > max_cells:
        raise _too_big(estimate, max_cells, f"H3 resolution {resolution}")
    if polygon_ll is None:
        to_ll = Transformer.from_crs(events.crs, 4326, always_xy=True)
        polygon_ll = shapely.transform(poly, lambda c: np.column_stack(to_ll.transform(*c.T)))
    cells: set[int] = set()
    if polygon_ll.area > 0:
        inside = h3.geo_to_cells(polygon_ll.__geo_interface__, resolution)
        cells = {h3.str_to_int(c) for c in inside}
    lon = events.frame["lon"].to_numpy()[keep]
    lat = events.frame["lat"].to_numpy()[keep]
    cells.update(np.unique(_h3_cells(lon, lat, resolution)).tolist())
    index = np.array(sorted(cells), dtype=np.int64)
    centres = [h3.cell_to_latlng(h3.int_to_str(c)) for c in index.tolist()]
    lat_c = np.array([c[0] for c in centres])
    lon_c = np.array([c[1] for c in centres])
    cx, cy = Transformer.from_crs(4326, events.crs, always_xy=True).transform(lon_c, lat_c)
    areas = np.array([h3.cell_area(h3.int_to_str(c), "m^2") for c in index.tolist()])
    return Grid(
        kind="h3",
        crs=events.crs,
        cell_size=float(h3.average_hexagon_edge_length(resolution, "m")),
        resolution=resolution,
        index=index,
        cx=np.asarray(cx, dtype=np.float64),
        cy=np.asarray(cy, dtype=np.float64),
        area_m2=areas,
        area_label=label,
    )
