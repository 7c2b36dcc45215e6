"""Risk around places: point layers (markets, bus stops, schools, bars) and a count model.

Risk-terrain style. Users bring point layers (GeoJSON or CSV, WGS 84) of the places that may
attract or generate crime. :func:`place_features` measures, for every active cell, the distance
from its centre to the nearest feature of each layer and the number of features within a
radius; :func:`place_risk` fits a Poisson or negative-binomial regression of incident counts per
cell on them and reports each layer's relative risk (``exp(beta)``) with a 95% interval, the
fit, and a relative-risk surface. By default each layer enters as one indicator, "the cell
centre is within ``radius_m`` of a feature" (the usual risk-terrain "spatial influence"), so the
relative risk reads: *cells near a market have N times the incidents of otherwise similar cells
away from markets*.

Geometry rules of the readers: ``Point`` and every member of a ``MultiPoint`` is a feature;
a ``Polygon``/``MultiPolygon`` (a market hall, a school ground drawn as a footprint) becomes one
point inside it (shapely's ``point_on_surface``: unlike the centroid it is always inside);
lines (a road, a bus route) are not places and are skipped, as are empty geometries; each
of these is counted in :attr:`Layer.notes`.

The model: the negative binomial (NB2) by default, because incident counts per cell are nearly
always overdispersed and Poisson intervals would then be too narrow; alpha is estimated by
maximum likelihood, alternating with the GLM fit as R's ``MASS::glm.nb`` does (see
:func:`_fit_negbin` for why not statsmodels' joint estimator), and the Poisson fit is reported
when alpha is 0. Fitting 100,000 cells and five layers takes a second or two.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final, Literal, cast

import numpy as np
import numpy.typing as npt
import polars as pl
import shapely
from pyproj import Transformer
from scipy import optimize, stats
from scipy.spatial import cKDTree
from scipy.special import gammaln
from shapely.geometry import shape

from safestreets.errors import InputError
from safestreets.spatial.grid import Grid

__all__ = [
    "FEATURE_KINDS",
    "TERMS",
    "Layer",
    "PlaceRiskResult",
    "default_radius",
    "layer_from_geojson",
    "layers_from_dir",
    "place_features",
    "place_risk",
    "read_layer",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: Feature kinds :func:`place_features` computes.
FEATURE_KINDS: Final = ("distance", "density", "within")
#: How a layer enters the model of :func:`place_risk`.
TERMS: Final = ("within", "count", "log_distance")
#: File suffixes :func:`layers_from_dir` picks up.
_SUFFIXES: Final = {".geojson": "geojson", ".json": "geojson", ".csv": "csv", ".txt": "csv"}
#: Coordinate column pairs accepted in a CSV layer, in order of preference (lower case).
_COORD_COLUMNS: Final = (
    ("lon", "lat"),
    ("longitude", "latitude"),
    ("lng", "lat"),
    ("long", "lat"),
    ("x", "y"),
)
_WGS84_NAMES: Final = ("crs84", "4326", "wgs84", "wgs 84")
_Z95: Final = float(stats.norm.ppf(0.975))
#: Two layer terms this correlated over the cells get a note (their effects are hard to split).
_COLLINEAR_R: Final = 0.8


# ---------------------------------------------------------------------------------------------
# Layers
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Layer:
    """A named set of points (WGS 84) such as the markets of a city.

    Attributes:
        name: Layer name (the file stem unless given); prefixes its feature names.
        lon, lat: Coordinates of the features, degrees.
        notes: What the reader left out or changed (bad rows, polygons replaced by a point).
    """

    name: str
    lon: FloatArray
    lat: FloatArray
    notes: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        lon = np.asarray(self.lon, dtype=np.float64).reshape(-1)
        lat = np.asarray(self.lat, dtype=np.float64).reshape(-1)
        if len(lon) != len(lat):
            raise InputError(
                f"layer {self.name!r} has {len(lon)} longitudes but {len(lat)} latitudes"
            )
        object.__setattr__(self, "lon", lon)
        object.__setattr__(self, "lat", lat)

    @property
    def n(self) -> int:
        """Number of features."""
        return len(self.lon)


def _bad_coordinate(lon: float, lat: float) -> bool:
    # (0, 0) is the usual placeholder of a failed geocode, as in the events reader.
    return (
        not (math.isfinite(lon) and math.isfinite(lat))
        or abs(lon) > 180
        or abs(lat) > 90
        or (lon == 0 and lat == 0)
    )


def _number(value: Any) -> float:
    if isinstance(value, bool):
        return math.nan
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip().replace(",", "."))
        except ValueError:
            return math.nan
    return math.nan


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


def _finish(name: str, lon: list[float], lat: list[float], notes: list[str], what: str) -> Layer:
    if not lon:
        detail = f" ({'; '.join(notes)})" if notes else ""
        raise InputError(
            f"{what} has no usable point{detail}",
            hint="a place layer needs Point features (GeoJSON) or lon/lat columns (CSV) in "
            "WGS 84 degrees",
        )
    return Layer(
        name=name,
        lon=np.asarray(lon, dtype=np.float64),
        lat=np.asarray(lat, dtype=np.float64),
        notes=tuple(notes),
    )


def layer_from_geojson(data: Mapping[str, Any], *, name: str, what: str | None = None) -> Layer:
    """A layer from parsed GeoJSON (a FeatureCollection, a Feature or a bare geometry).

    See the module docstring for how non-point geometries are treated.

    Args:
        data: The GeoJSON object (for example one layer of
            :func:`safestreets.demo.layers.demo_layers`).
        name: Layer name.
        what: How to name the input in errors (default: ``layer <name>``).

    Raises:
        InputError: Not GeoJSON, a legacy ``crs`` member naming another CRS than WGS 84, or no
            usable point.
    """
    what = what or f"layer {name!r}"
    if not isinstance(data, Mapping) or not isinstance(data.get("type"), str):
        raise InputError(
            f"{what} is not GeoJSON (no 'type' member)",
            hint="give a FeatureCollection of Point features, or a CSV with lon and lat columns",
        )
    crs_name = str(((data.get("crs") or {}).get("properties") or {}).get("name", "")).lower()
    if crs_name and not any(k in crs_name.replace(":", "") for k in _WGS84_NAMES):
        raise InputError(
            f"{what} declares the coordinate system {crs_name!r}, not WGS 84 longitude/latitude",
            hint="re-export the layer as GeoJSON in EPSG:4326 (RFC 7946)",
        )
    if data["type"] == "FeatureCollection":
        features = data.get("features")
        items = features if isinstance(features, list) else []
        geoms = [f.get("geometry") if isinstance(f, Mapping) else None for f in items]
    elif data["type"] == "Feature":
        geoms = [data.get("geometry")]
    else:
        geoms = [data]
    lon: list[float] = []
    lat: list[float] = []
    counts = {"bad": 0, "polygon": 0, "line": 0, "empty": 0, "broken": 0}

    def add(coords: Any) -> None:
        if not isinstance(coords, list | tuple) or len(coords) < 2:
            counts["bad"] += 1
            return
        x, y = _number(coords[0]), _number(coords[1])
        if _bad_coordinate(x, y):
            counts["bad"] += 1
        else:
            lon.append(x)
            lat.append(y)

    def visit(geom: Any) -> None:
        kind = geom.get("type") if isinstance(geom, Mapping) else None
        if kind == "Point":
            add(geom.get("coordinates"))
        elif kind == "MultiPoint":
            for c in geom.get("coordinates") or []:
                add(c)
        elif kind == "GeometryCollection":
            for g in geom.get("geometries") or []:
                visit(g)
        elif kind in ("Polygon", "MultiPolygon"):
            try:
                poly = shape(geom)
            except Exception:  # shapely raises several types for malformed rings
                counts["broken"] += 1
                return
            if poly.is_empty:
                counts["empty"] += 1
                return
            p = shapely.point_on_surface(poly)
            counts["polygon"] += 1
            add([p.x, p.y])
        elif kind in ("LineString", "MultiLineString"):
            counts["line"] += 1
        else:
            counts["empty"] += 1

    for g in geoms:
        visit(g)
    notes: list[str] = []
    if counts["bad"]:
        notes.append(
            f"{_plural(counts['bad'], 'point')} with missing or out-of-range coordinates left out"
        )
    if counts["polygon"]:
        notes.append(f"{_plural(counts['polygon'], 'polygon')} replaced by a point inside it")
    if counts["line"]:
        notes.append(f"{_plural(counts['line'], 'line')} skipped (a line is not a place)")
    if counts["empty"]:
        notes.append(f"{_plural(counts['empty'], 'feature')} without a geometry skipped")
    if counts["broken"]:
        notes.append(f"{_plural(counts['broken'], 'broken polygon')} skipped")
    return _finish(name, lon, lat, notes, what)


def _read_text(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        # What Spanish-language Windows spreadsheets export as "CSV".
        return raw.decode("cp1252")


def _layer_from_csv(text: str, *, name: str, what: str) -> Layer:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise InputError(f"{what} is empty", hint="a CSV layer needs a header with lon and lat")
    try:
        delimiter = csv.Sniffer().sniff("\n".join(lines[:50]), delimiters=",;\t|").delimiter
    except csv.Error:
        delimiter = max(",;\t|", key=lines[0].count)
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    # Rows with their line numbers as a spreadsheet shows them (the header is row 1); rows
    # with no content at all (trailing ",,," lines) are not records.
    rows = [(reader.line_num, r) for r in reader if any(c.strip() for c in r)]
    header = [c.strip().lower() for c in rows[0][1]]
    pair = next(((a, b) for a, b in _COORD_COLUMNS if a in header and b in header), None)
    if pair is None:
        raise InputError(
            f"{what} has no longitude/latitude columns (it has: {', '.join(rows[0][1])})",
            hint="name them lon and lat (or longitude/latitude, or x/y) in WGS 84 degrees",
        )
    ix, iy = header.index(pair[0]), header.index(pair[1])
    lon: list[float] = []
    lat: list[float] = []
    bad: list[int] = []
    for k, row in rows[1:]:
        x = _number(row[ix]) if ix < len(row) else math.nan
        y = _number(row[iy]) if iy < len(row) else math.nan
        if _bad_coordinate(x, y):
            bad.append(k)
        else:
            lon.append(x)
            lat.append(y)
    notes: list[str] = []
    if bad:
        shown = ", ".join(str(b) for b in bad[:5]) + (", ..." if len(bad) > 5 else "")
        notes.append(
            f"{_plural(len(bad), 'row')} with missing, non-numeric or out-of-range "
            f"coordinates left out ({'row' if len(bad) == 1 else 'rows'} {shown})"
        )
    return _finish(name, lon, lat, notes, what)


def read_layer(path: str | Path, *, name: str | None = None) -> Layer:
    """Read a point layer from a GeoJSON or CSV file.

    GeoJSON (``.geojson``, ``.json``): RFC 7946 longitude/latitude; points, multipoints and
    polygons (as a point inside them) are used, lines and empty geometries skipped (see the
    module docstring). CSV (``.csv``, ``.txt``; delimiter and encoding detected): the columns
    ``lon``/``lat``, ``longitude``/``latitude``, ``lng``/``lat`` or ``x``/``y`` in any case;
    other columns are ignored; a decimal comma is accepted. Rows or points with missing,
    non-numeric or out-of-range coordinates, or exactly (0, 0), are left out and counted in the
    layer's notes.

    Args:
        path: The file.
        name: Layer name (default: the file stem, e.g. ``markets``).

    Returns:
        The layer.

    Raises:
        InputError: A missing or unreadable file, an unknown suffix, no coordinate columns, or
            no usable point (the message names the file and the reason).
    """
    p = Path(path)
    kind = _SUFFIXES.get(p.suffix.lower())
    if kind is None:
        raise InputError(
            f"{p.name}: a place layer must be GeoJSON (.geojson, .json) or CSV (.csv)",
            hint="export the layer as GeoJSON or as a CSV with lon and lat columns",
        )
    layer_name = name or p.stem
    try:
        text = _read_text(p)
    except OSError as exc:
        raise InputError(f"cannot read the layer file {p}: {exc.strerror or exc}") from None
    what = f"layer file {p.name}"
    if kind == "csv":
        return _layer_from_csv(text, name=layer_name, what=what)
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise InputError(f"{what} is not valid JSON ({exc})") from None
    return layer_from_geojson(data, name=layer_name, what=what)


def layers_from_dir(directory: str | Path) -> list[Layer]:
    """Every GeoJSON and CSV layer of a folder, sorted by name (not recursive).

    Raises:
        InputError: The folder is missing, holds no layer file, or two files give the same
            layer name (``markets.csv`` and ``markets.geojson``); or a file is unusable.
    """
    d = Path(directory)
    if not d.is_dir():
        raise InputError(f"{d} is not a folder", hint="give the folder of the layer files")
    files = sorted(f for f in d.iterdir() if f.is_file() and f.suffix.lower() in _SUFFIXES)
    if not files:
        raise InputError(
            f"{d} holds no layer file",
            hint="put one .geojson or .csv file per layer in it (markets.geojson, ...)",
        )
    seen: dict[str, Path] = {}
    for f in files:
        if f.stem in seen:
            raise InputError(
                f"two files give the layer {f.stem!r}: {seen[f.stem].name} and {f.name}",
                hint="keep one file per layer",
            )
        seen[f.stem] = f
    return [read_layer(f) for f in files]


# ---------------------------------------------------------------------------------------------
# Features
# ---------------------------------------------------------------------------------------------


def default_radius(grid: Grid) -> float:
    """The default radius of influence: 250 m or 1.5 cells, whichever is larger.

    250 m is about two city blocks, a usual risk-terrain "spatial influence"; 1.5 cells makes
    sure a feature anywhere in a cell (up to 0.71 cells from its centre) is near that cell.
    """
    return max(250.0, 1.5 * float(grid.cell_size))


def _radius_label(radius: float) -> str:
    return f"{radius:g}m"


def _check_layers(layers: Sequence[Layer]) -> None:
    names = [layer.name for layer in layers]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise InputError(
            f"two layers share the name {dup[0]!r}", hint="give each layer a distinct name"
        )
    for layer in layers:
        if not layer.name:
            raise InputError("a place layer has no name", hint="name every layer")
        if layer.n == 0:
            raise InputError(f"layer {layer.name!r} has no point")


def _check_radius(radius: float) -> float:
    if not (math.isfinite(radius) and radius > 0):
        raise InputError(f"the radius must be a positive number of metres, not {radius!r}")
    return float(radius)


@dataclass(frozen=True)
class _Geometry:
    """One layer measured on a grid."""

    distance: FloatArray  # to the nearest feature, from each active cell centre (m)
    count: FloatArray | None  # features within the radius of each centre (when asked)
    n_near: int  # features within the radius of at least one centre


class _Measure:
    """Measures layers on one grid; the k-d tree of the cell centres is built once."""

    def __init__(self, grid: Grid, radius: float) -> None:
        self.grid = grid
        self.radius = radius
        self.to_grid = Transformer.from_crs(4326, grid.crs, always_xy=True)
        self.centres = np.column_stack([grid.cx, grid.cy])
        self.centre_tree = cKDTree(self.centres)

    def __call__(self, layer: Layer, *, count: bool) -> _Geometry:
        x, y = self.to_grid.transform(layer.lon, layer.lat)
        pts = np.column_stack([np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)])
        # Points far outside the grid's zone may not project; they are far from every cell.
        pts = pts[np.isfinite(pts).all(axis=1)]
        if len(pts) == 0:
            return _Geometry(np.full(self.grid.n, np.inf), np.zeros(self.grid.n), 0)
        tree = cKDTree(pts)
        distance, _ = tree.query(self.centres, k=1)
        within = None
        if count:
            n = tree.query_ball_point(self.centres, r=self.radius, return_length=True)
            within = np.asarray(n, dtype=np.float64)
        near, _ = self.centre_tree.query(pts, k=1, distance_upper_bound=self.radius)
        return _Geometry(
            np.asarray(distance, dtype=np.float64), within, int(np.isfinite(near).sum())
        )


def place_features(
    grid: Grid,
    layers: Sequence[Layer],
    *,
    radius_m: float | None = None,
    kinds: Iterable[str] = ("distance", "density"),
) -> tuple[FloatArray, list[str]]:
    """Distance and density features of point layers for every active cell.

    Distances are measured from each cell centre in the grid's CRS (layers are projected with
    pyproj; nearest neighbours by SciPy's k-d tree).

    Args:
        grid: The grid.
        layers: The layers (distinct names).
        radius_m: Radius of the counts and indicators (default :func:`default_radius`).
        kinds: Any of ``"distance"`` (metres to the nearest feature, name
            ``<layer>_distance_m``), ``"density"`` (features within ``radius_m``, name
            ``<layer>_count_<r>m``) and ``"within"`` (1 when a feature is within ``radius_m``,
            else 0; name ``<layer>_within_<r>m``), in this order for each layer.

    Returns:
        A ``(grid.n, k)`` matrix in the order of ``grid.index`` and the ``k`` column names.
        A layer no point of which projects gets an infinite distance.

    Raises:
        InputError: An unknown kind, a bad radius, an empty layer or two layers of one name.
    """
    wanted = list(dict.fromkeys(kinds))
    unknown = [k for k in wanted if k not in FEATURE_KINDS]
    if unknown or not wanted:
        raise InputError(
            f"unknown place feature kind {', '.join(unknown) or '(none given)'}",
            hint=f"choose among {', '.join(FEATURE_KINDS)}",
        )
    radius = _check_radius(default_radius(grid) if radius_m is None else radius_m)
    _check_layers(layers)
    measure = _Measure(grid, radius)
    label = _radius_label(radius)
    columns: list[FloatArray] = []
    names: list[str] = []
    for layer in layers:
        geo = measure(layer, count="density" in wanted)
        for kind in FEATURE_KINDS:
            if kind not in wanted:
                continue
            if kind == "distance":
                columns.append(geo.distance)
                names.append(f"{layer.name}_distance_m")
            elif kind == "density" and geo.count is not None:
                columns.append(geo.count)
                names.append(f"{layer.name}_count_{label}")
            else:
                columns.append((geo.distance <= radius).astype(np.float64))
                names.append(f"{layer.name}_within_{label}")
    matrix = np.column_stack(columns) if columns else np.zeros((grid.n, 0))
    return matrix.astype(np.float64), names


# ---------------------------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlaceRiskResult:
    """The fitted place-risk model.

    Attributes:
        table: One row per layer term kept in the model: ``layer``, ``feature`` (the term's
            name), ``relative_risk`` (``exp(beta)``), ``rr_lo``, ``rr_hi`` (95% Wald interval),
            ``p_value`` (Wald z test of RR = 1), ``n_features`` (features within the radius of
            a cell; null for features given as a matrix) and ``cells_exposed`` (cells within the
            radius of a feature, or with a non-zero given feature).
        model: ``"poisson"`` or ``"negbin"`` (what was fitted; see ``notes`` if a negative
            binomial fell back to Poisson).
        terms: How layers entered the model (``"within"``, ``"count"``, ``"log_distance"`` or
            ``"given"`` for a feature matrix).
        radius_m: The radius of influence (None for a given feature matrix).
        surface: Relative risk of each active cell, ``exp(X beta)`` per unit of exposure
            divided by its mean over the active cells (mean 1; 2 = twice the average risk).
        expected: Fitted expected count of each active cell (with its exposure; 0 where the
            exposure is 0).
        baseline: Expected count in a cell of mean exposure with every term 0 (away from all
            places for ``"within"`` and ``"count"``).
        alpha: The negative binomial's NB2 dispersion (variance = mu + alpha mu²), 0 for
            Poisson.
        alpha_lo, alpha_hi: Its 95% interval (None for Poisson).
        dispersion: Pearson chi² / residual degrees of freedom of the fitted model (about 1
            when the variance function fits).
        overdispersion_p: p-value of "no overdispersion": the likelihood-ratio test of the
            negative binomial against the Poisson (chi-bar-square, alpha on its boundary) when
            a negative binomial was fitted, else the Cameron-Trivedi regression test.
        loglik, null_loglik: Log-likelihood of the model and of the intercept-only model (same
            exposure, same alpha).
        aic: Akaike information criterion (counts alpha as a parameter for the negative
            binomial).
        deviance, null_deviance: Deviances of the model and of the intercept-only model
            (negative binomial: at the fitted alpha).
        deviance_explained: ``1 - deviance / null_deviance``.
        n_cells: Cells in the fit (positive exposure).
        n_events: Incidents in those cells.
        notes: Plain-language remarks: layers left out and why, strongly overlapping layers,
            fall-backs.
    """

    table: pl.DataFrame
    model: Literal["poisson", "negbin"]
    terms: str
    radius_m: float | None
    surface: FloatArray
    expected: FloatArray
    baseline: float
    alpha: float
    alpha_lo: float | None
    alpha_hi: float | None
    dispersion: float
    overdispersion_p: float
    loglik: float
    null_loglik: float
    aic: float
    deviance: float
    null_deviance: float
    deviance_explained: float
    n_cells: int
    n_events: float
    notes: tuple[str, ...] = ()

    @property
    def summary(self) -> str:
        """A few lines for a terminal: the fit and one line per layer."""
        head = (
            f"{self.model} model of {self.n_events:,.0f} incidents in {self.n_cells:,} cells: "
            f"deviance explained {self.deviance_explained:.1%}, AIC {self.aic:,.1f}"
        )
        if self.model == "negbin":
            head += f", alpha {self.alpha:.3g}"
        lines = [head]
        for r in self.table.iter_rows(named=True):
            lines.append(
                f"  {r['feature']}: RR {r['relative_risk']:.2f} "
                f"({r['rr_lo']:.2f}-{r['rr_hi']:.2f}), p {r['p_value']:.2g}"
            )
        lines.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(lines)


_TABLE_SCHEMA: Final[dict[str, pl.DataType]] = {
    "layer": pl.String(),
    "feature": pl.String(),
    "relative_risk": pl.Float64(),
    "rr_lo": pl.Float64(),
    "rr_hi": pl.Float64(),
    "p_value": pl.Float64(),
    "n_features": pl.Int64(),
    "cells_exposed": pl.Int64(),
}
_GIVEN_SUFFIX: Final = re.compile(r"^(.*)_(distance_m|(count|within)_[0-9.e+]+m)$")


@dataclass
class _Term:
    layer: str
    feature: str
    values: FloatArray
    n_features: int | None
    cells_exposed: int


def _layer_terms(
    grid: Grid, layers: Sequence[Layer], radius: float, terms: str
) -> tuple[list[_Term], list[str]]:
    _check_layers(layers)
    measure = _Measure(grid, radius)
    label = _radius_label(radius)
    out: list[_Term] = []
    notes: list[str] = []
    for layer in layers:
        geo = measure(layer, count=terms == "count")
        near = geo.distance <= radius
        if terms == "log_distance":
            if not np.isfinite(geo.distance).all():
                notes.append(f"layer {layer.name} left out: its points do not project")
                continue
            # Closeness in halvings: exp(beta) is the relative risk at half the distance. The
            # distance is floored at half a cell, the precision of a cell centre.
            floor = max(float(grid.cell_size) / 2.0, 1.0)
            values = -np.log2(np.maximum(geo.distance, floor))
            feature = f"{layer.name}_distance_halved"
        elif geo.n_near == 0:
            notes.append(
                f"layer {layer.name} left out: none of its {_plural(layer.n, 'feature')} lies "
                f"within {radius:g} m of a cell of the grid"
            )
            continue
        elif terms == "count" and geo.count is not None:
            values, feature = geo.count, f"{layer.name}_count_{label}"
        else:
            values, feature = near.astype(np.float64), f"{layer.name}_within_{label}"
        out.append(_Term(layer.name, feature, values, geo.n_near, int(near.sum())))
    return out, notes


def _given_terms(grid: Grid, features: tuple[Any, Sequence[str]]) -> list[_Term]:
    matrix = np.asarray(features[0], dtype=np.float64)
    names = [str(n) for n in features[1]]
    if matrix.ndim != 2 or matrix.shape[0] != grid.n or matrix.shape[1] != len(names):
        raise InputError(
            f"the feature matrix has shape {matrix.shape}, expected ({grid.n}, {len(names)}) "
            "(one row per active cell, one column per name)",
            hint="build it with place_features(grid, layers)",
        )
    if len(set(names)) != len(names):
        raise InputError("two feature columns share a name")
    if not np.isfinite(matrix).all():
        bad = names[int(np.argmax(~np.isfinite(matrix).all(axis=0)))]
        raise InputError(
            f"the feature {bad} has missing or infinite values",
            hint="a layer with no point near the grid has infinite distances: leave it out",
        )
    out = []
    for j, n in enumerate(names):
        m = _GIVEN_SUFFIX.match(n)
        col = matrix[:, j]
        out.append(_Term(m.group(1) if m else n, n, col, None, int((col != 0).sum())))
    return out


def _screen(terms: list[_Term], y: FloatArray, used: BoolArray, kind: str) -> list[str]:
    """Drop terms that cannot be estimated (in place) and say why; flag strong overlaps."""
    notes: list[str] = []
    keep: list[_Term] = []
    for t in terms:
        v = t.values[used]
        if np.ptp(v) == 0:
            where = "every" if (v != 0).all() and kind in ("within", "count") else "no"
            why = (
                f"{where} cell of the fit is near one of its features"
                if kind in ("within", "count")
                else "it has the same value in every cell"
            )
            notes.append(f"{t.feature} left out: {why}, so its effect cannot be estimated")
            continue
        if kind == "within" and y[used][v > 0].sum() == 0:
            notes.append(
                f"{t.feature} left out: no incident in any of the {int((v > 0).sum()):,} cells "
                "near it (its relative risk would be 0 with no upper bound)"
            )
            continue
        keep.append(t)
    terms[:] = keep
    if len(terms) < 2:
        return notes
    z = np.column_stack([t.values[used] for t in terms])
    corr = np.atleast_2d(np.corrcoef(z, rowvar=False))
    # Greedy: a term is kept if it adds a dimension to the terms kept before it.
    kept: list[int] = []
    for j in range(len(terms)):
        trial = [*kept, j]
        if np.linalg.matrix_rank(corr[np.ix_(trial, trial)], tol=1e-8) == len(trial):
            kept.append(j)
        else:
            notes.append(
                f"{terms[j].feature} left out: it is a combination of the other layers' terms "
                "over the cells of the fit"
            )
    for a in range(len(kept)):
        for b in range(a + 1, len(kept)):
            r = corr[kept[a], kept[b]]
            if abs(r) >= _COLLINEAR_R:
                notes.append(
                    f"{terms[kept[a]].feature} and {terms[kept[b]].feature} overlap strongly "
                    f"(r = {r:.2f}): their separate relative risks are poorly determined"
                )
    terms[:] = [terms[j] for j in kept]
    return notes


@dataclass(frozen=True)
class _Fit:
    """A fitted count model on the cells of the fit."""

    params: FloatArray
    bse: FloatArray
    pvalues: FloatArray
    mu: FloatArray
    loglik: float
    deviance: float
    null_deviance: float
    null_loglik: float
    alpha: float  # 0 for Poisson
    converged: bool
    result: Any  # statsmodels' GLM results


def _glm(y: FloatArray, x: FloatArray, offset: FloatArray, alpha: float, start: Any) -> Any:
    # The submodules, not statsmodels.api, which also imports its datasets (0.5 s more).
    from statsmodels.genmod import families
    from statsmodels.genmod.generalized_linear_model import GLM

    family = families.Poisson() if alpha == 0 else families.NegativeBinomial(alpha=alpha)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # perfect-fit and iteration warnings: checked below
        return GLM(y, x, family=family, offset=offset).fit(start_params=start)


def _fit_glm(
    y: FloatArray, x: FloatArray, offset: FloatArray, alpha: float, start: Any, *, null: bool
) -> _Fit:
    """The GLM (Poisson when alpha is 0) and, with ``null``, its intercept-only model."""
    res = _glm(y, x, offset, alpha, start)
    res0 = _glm(y, x[:, :1], offset, alpha, None) if null else None
    return _Fit(
        params=np.asarray(res.params),
        bse=np.asarray(res.bse),
        pvalues=np.asarray(res.pvalues),
        mu=np.asarray(res.mu),
        loglik=float(res.llf),
        deviance=float(res.deviance),
        null_deviance=float(res0.deviance) if res0 is not None else math.nan,
        null_loglik=float(res0.llf) if res0 is not None else math.nan,
        alpha=alpha,
        converged=bool(res.converged),
        result=res,
    )


class _NBLoglik:
    """NB2 log-likelihood (variance mu + alpha mu²) as a function of alpha, the means fixed.

    Rearranged so that one evaluation costs one pass over the cells, and so that nothing
    cancels when alpha is tiny: for whole-number counts,
    ``gammaln(y + 1/a) - gammaln(1/a) + y log a = sum_{k<y} log1p(k a)``, summed over k with
    the number of cells whose count exceeds k.
    """

    def __init__(self, y: FloatArray, mu: FloatArray) -> None:
        self.y, self.mu = y, mu
        self.const = float((y * np.log(mu)).sum() - gammaln(y + 1.0).sum())
        self.integer = bool((y == np.round(y)).all()) and float(y.max()) < 1e6
        if self.integer:
            hist = np.bincount(y.astype(np.int64))
            # above[k] = cells with count > k, for k = 0 .. max - 1
            self.above = (hist[::-1].cumsum()[::-1])[1:].astype(np.float64)
            self.k = np.arange(len(self.above), dtype=np.float64)
        else:
            self.yp = y[y > 0]

    def __call__(self, alpha: float) -> float:
        tail = float(((1.0 / alpha + self.y) * np.log1p(alpha * self.mu)).sum())
        if self.integer:
            head = float((self.above * np.log1p(self.k * alpha)).sum())
        else:
            theta = 1.0 / alpha
            yp = self.yp
            head = float((gammaln(yp + theta) - gammaln(theta) + yp * math.log(alpha)).sum())
        return self.const + head - tail


_LOG_ALPHA_BOUNDS: Final = (math.log(1e-8), math.log(1e4))
#: Below this alpha the negative binomial is a Poisson for every purpose.
_ALPHA_ZERO: Final = 1e-6


def _alpha_ml(y: FloatArray, mu: FloatArray) -> float:
    """The NB2 alpha maximising the likelihood with the means held fixed (bounded 1-D)."""
    loglik = _NBLoglik(y, mu)
    res = optimize.minimize_scalar(
        lambda la: -loglik(math.exp(la)),
        bounds=_LOG_ALPHA_BOUNDS,
        method="bounded",
        options={"xatol": 1e-5},
    )
    return float(math.exp(res.x))


def _alpha_interval(y: FloatArray, mu: FloatArray, alpha: float) -> tuple[float, float]:
    """Profile-likelihood 95% interval of alpha (means held at the fit; lower bound may be 0)."""
    loglik = _NBLoglik(y, mu)
    cut = loglik(alpha) - float(stats.chi2.ppf(0.95, 1)) / 2.0

    def gap(la: float) -> float:
        return loglik(math.exp(la)) - cut

    lo_b, hi_b = _LOG_ALPHA_BOUNDS
    la = math.log(alpha)
    lo = 0.0 if gap(lo_b) >= 0 else math.exp(optimize.brentq(gap, lo_b, la))
    hi = math.inf if gap(hi_b) >= 0 else math.exp(optimize.brentq(gap, la, hi_b))
    return lo, hi


def _fit_negbin(
    y: FloatArray, x: FloatArray, offset: FloatArray, poisson: _Fit
) -> tuple[_Fit, tuple[float, float]] | None:
    """NB2 regression as R's ``MASS::glm.nb`` does it, or None when alpha is 0.

    Alternates the GLM with alpha fixed (IRLS) and the maximum-likelihood alpha with the
    means fixed until alpha settles. Coefficient intervals are those of the GLM at the final
    alpha; in NB2 the coefficients and alpha are orthogonal (their expected cross
    information is 0), so this loses nothing asymptotically. It is used instead of
    statsmodels' joint ``NegativeBinomial`` because Newton's method there returns NaN after
    minutes when alpha is near 0, and BFGS stops at its start on large grids.
    """
    alpha = _alpha_ml(y, poisson.mu)
    if alpha < _ALPHA_ZERO:
        return None
    start: Any = poisson.params
    res = None
    for _ in range(25):
        res = _glm(y, x, offset, alpha, start)
        start = res.params
        new = _alpha_ml(y, np.asarray(res.mu))
        if new < _ALPHA_ZERO:
            return None
        settled = abs(math.log(new / alpha)) < 1e-3
        alpha = new
        if settled:
            break
    fit = _fit_glm(y, x, offset, alpha, start, null=True)
    if fit.loglik - poisson.loglik < 1e-6:
        return None
    return fit, _alpha_interval(y, fit.mu, alpha)


def _overdispersion_score_p(poisson_result: Any) -> float:
    """One-sided p-value of "no overdispersion" after a Poisson GLM fit.

    Dean's score test of NB2 alpha = 0 ("Dean B" of statsmodels' Poisson dispersion tests),
    made one-sided: only overdispersion is the alternative of interest here.
    """
    from statsmodels.discrete.diagnostic import PoissonDiagnostic

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = PoissonDiagnostic(poisson_result).test_dispersion()
    stat = float(np.asarray(res.statistic)[list(res.method).index("Dean B")])
    return float(stats.norm.sf(stat)) if math.isfinite(stat) else 1.0


def _check_counts(grid: Grid, counts: npt.ArrayLike) -> FloatArray:
    y = np.asarray(counts, dtype=np.float64).reshape(-1)
    if len(y) != grid.n:
        raise InputError(
            f"{len(y):,} counts for a grid of {grid.n:,} cells",
            hint="count the incidents per active cell, e.g. grid.counts(grid.locate(events))",
        )
    if not np.isfinite(y).all() or (y < 0).any():
        raise InputError("incident counts must be finite and not negative")
    return y


def _check_exposure(grid: Grid, exposure: npt.ArrayLike | None) -> FloatArray:
    e = grid.area_m2 if exposure is None else exposure
    out = np.asarray(e, dtype=np.float64).reshape(-1)
    if len(out) != grid.n:
        raise InputError(f"{len(out):,} exposure values for a grid of {grid.n:,} cells")
    if not np.isfinite(out).all() or (out < 0).any():
        raise InputError(
            "the exposure must be finite and not negative",
            hint="give a population, an area or a time at risk per cell (0 leaves a cell out)",
        )
    return out


def place_risk(
    grid: Grid,
    counts: npt.ArrayLike,
    places: Sequence[Layer] | tuple[npt.ArrayLike, Sequence[str]],
    *,
    model: Literal["negbin", "poisson"] = "negbin",
    radius_m: float | None = None,
    terms: Literal["within", "count", "log_distance"] = "within",
    exposure: npt.ArrayLike | None = None,
) -> PlaceRiskResult:
    """Relative risk of incidents near each layer of places, and the relative-risk surface.

    A log-linear count regression of the incidents per active cell::

        log E[y_i] = log(exposure_i / mean exposure) + b0 + sum_j b_j x_ij

    where ``x_ij`` is layer ``j``'s term for cell ``i``; ``exp(b_j)`` is the layer's relative
    risk with the others held fixed. With ``model="negbin"`` (the default: incident counts
    per cell are nearly always overdispersed, and a Poisson fit would give too narrow
    intervals) it is an NB2 negative binomial with alpha estimated by maximum likelihood
    jointly with the coefficients; when the data show no overdispersion (alpha at its bound
    0) the Poisson fit is reported, with a note. ``model="poisson"`` fits the Poisson GLM and
    notes overdispersion when the score test finds it (p < 0.05) and the Pearson dispersion
    exceeds 1.1.

    Terms that cannot be estimated are left out with a note: a layer with no feature near
    the grid, a term with the same value in every cell, a "within" term with no incident in
    any cell near it, a term that is a combination of the others. Strongly overlapping terms
    (|r| >= 0.8) are kept and noted.

    Args:
        grid: The grid.
        counts: Incidents per active cell (``grid.n`` values, e.g.
            ``grid.counts(grid.locate(events))``).
        places: Point layers (distinct names), or a precomputed ``(matrix, names)`` as
            returned by :func:`place_features`, whose columns then enter the model as they are
            (relative risk per unit of each column).
        model: ``"negbin"`` or ``"poisson"``.
        radius_m: Radius of influence for layers (default :func:`default_radius`).
        terms: How each layer enters: ``"within"`` (1 if a feature is within ``radius_m`` of
            the cell centre; RR = near vs not near), ``"count"`` (features within
            ``radius_m``; RR per additional feature) or ``"log_distance"`` (minus log2 of the
            distance to the nearest feature, floored at half a cell; RR when the distance
            halves).
        exposure: What the counts are proportional to apart from place (population, time at
            risk); default the cell area. Cells with exposure 0 are left out of the fit.

    Returns:
        A :class:`PlaceRiskResult`.

    Raises:
        InputError: Counts or exposure of the wrong length or negative, no incident, an
            unknown model or term kind, or no term that can be estimated.
    """
    if model not in ("negbin", "poisson"):
        raise InputError(f"unknown model {model!r}", hint="choose negbin or poisson")
    if terms not in TERMS:
        raise InputError(f"unknown term kind {terms!r}", hint=f"choose among {', '.join(TERMS)}")
    y_all = _check_counts(grid, counts)
    e_all = _check_exposure(grid, exposure)
    used = e_all > 0
    notes: list[str] = []
    if (~used).any():
        lost = float(y_all[~used].sum())
        notes.append(
            f"{int((~used).sum()):,} cells with exposure 0 left out of the fit"
            + (f" (with {lost:,.0f} incidents)" if lost else "")
        )
    if not used.any() or y_all[used].sum() == 0:
        raise InputError(
            "no incident in the cells of the fit",
            hint="check the events, the filters and that they lie on the grid",
        )
    if (y_all != np.round(y_all)).any():
        notes.append("counts are not whole numbers: the likelihoods are quasi-likelihoods")

    given = (
        isinstance(places, tuple)
        and len(places) == 2
        and not isinstance(places[0], Layer)
        and not isinstance(places[1], Layer)
    )
    radius: float | None
    if given:
        radius = None
        term_list = _given_terms(grid, cast(tuple[Any, Sequence[str]], places))
        kind = "given"
    else:
        radius = _check_radius(default_radius(grid) if radius_m is None else radius_m)
        layers = list(cast(Sequence[Layer], places))
        term_list, layer_notes = _layer_terms(grid, layers, radius, terms)
        notes.extend(layer_notes)
        kind = terms
    notes.extend(_screen(term_list, y_all, used, kind))
    if not term_list:
        raise InputError(
            "no place layer can be estimated on this grid" + (f" ({notes[-1]})" if notes else ""),
            hint="check that the layers cover the study area and vary across it",
        )

    x_all = np.column_stack([np.ones(grid.n), *(t.values for t in term_list)])
    y, x = y_all[used], x_all[used]
    e = e_all[used]
    offset = np.log(e / e.mean())

    pois = _fit_glm(y, x, offset, 0.0, None, null=False)
    fit = pois
    fitted: Literal["poisson", "negbin"] = "poisson"
    overdispersion_p = _overdispersion_score_p(pois.result)
    alpha_ci: tuple[float | None, float | None] = (None, None)
    if model == "negbin":
        nb = _fit_negbin(y, x, offset, pois)
        if nb is None:
            notes.append(
                "no overdispersion: the negative binomial's alpha is at its bound 0, so the "
                "Poisson fit is reported"
            )
        else:
            (fit, alpha_ci), fitted = nb, "negbin"
            lr = max(2.0 * (fit.loglik - pois.loglik), 0.0)
            # alpha = 0 is on the boundary: the LR statistic is a 50:50 mix of 0 and chi²(1).
            overdispersion_p = 0.5 * float(stats.chi2.sf(lr, 1))
    if fitted == "poisson":
        null = _glm(y, x[:, :1], offset, 0.0, None)
        fit = replace(fit, null_deviance=float(null.deviance), null_loglik=float(null.llf))
    variance = fit.mu + fit.alpha * fit.mu**2
    dof = max(len(y) - x.shape[1], 1)
    dispersion = float((((y - fit.mu) ** 2) / variance).sum()) / dof
    if model == "poisson" and overdispersion_p < 0.05 and dispersion > 1.1:
        notes.append(
            f"the counts are overdispersed (Pearson dispersion {dispersion:.2f}, score test p "
            f"{overdispersion_p:.2g}): Poisson intervals are about {math.sqrt(dispersion):.2g} "
            "times too narrow; the negative binomial (model negbin) allows for it"
        )
    if not fit.converged or not np.isfinite(fit.bse).all() or np.abs(fit.params[1:]).max() > 15:
        notes.append("the fit did not settle on finite estimates: treat the results with care")

    beta, se = fit.params[1:], fit.bse[1:]
    table = pl.DataFrame(
        {
            "layer": [t.layer for t in term_list],
            "feature": [t.feature for t in term_list],
            "relative_risk": np.exp(beta),
            "rr_lo": np.exp(beta - _Z95 * se),
            "rr_hi": np.exp(beta + _Z95 * se),
            "p_value": fit.pvalues[1:],
            "n_features": [t.n_features for t in term_list],
            "cells_exposed": [t.cells_exposed for t in term_list],
        },
        schema=_TABLE_SCHEMA,
    )
    rate = np.exp(x_all @ fit.params)
    expected = np.zeros(grid.n)
    expected[used] = fit.mu
    return PlaceRiskResult(
        table=table,
        model=fitted,
        terms=kind,
        radius_m=radius,
        surface=rate / rate.mean(),
        expected=expected,
        baseline=float(math.exp(fit.params[0])),
        alpha=fit.alpha,
        alpha_lo=alpha_ci[0],
        alpha_hi=alpha_ci[1],
        dispersion=dispersion,
        overdispersion_p=overdispersion_p,
        loglik=fit.loglik,
        null_loglik=fit.null_loglik,
        aic=-2.0 * fit.loglik + 2.0 * (x.shape[1] + (fitted == "negbin")),
        deviance=fit.deviance,
        null_deviance=fit.null_deviance,
        deviance_explained=1.0 - fit.deviance / fit.null_deviance if fit.null_deviance > 0 else 0.0,
        n_cells=int(used.sum()),
        n_events=float(y.sum()),
        notes=tuple(notes),
    )
