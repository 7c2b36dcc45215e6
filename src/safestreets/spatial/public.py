"""Cells of the public map: incidents counted in one fixed square lattice per country.

The lattice is the one :class:`~safestreets.spatial.grid.Grid` uses for square cells (cells
aligned to multiples of the cell size, labelled ``"<column>_<row>"``) in a CRS fixed per
country: the UTM zone of the reference data (``countries.csv``), not the data's own median
zone. Fixed on purpose: two maps on shifted grids (another category, another year) could be
overlaid to narrow a count down to the overlap of two cells. A public cell is therefore the
cell of the same label in ``safestreets hotspots grid --crs EPSG:<zone> --cell-size <m>``.

Unlike :func:`safestreets.spatial.study.prepare`, nothing is built for the whole study area
(437,000 cells for Guatemala at 500 m): only the labels of the cells that hold incidents are
computed, and the outlines of the few cells that are published, from their labels, rounded
to at most 4 decimals (about 11 m; a 500 m cell needs no more).

No point leaves :func:`count_cells`: it returns counts per cell and category.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Final

import numpy as np
import numpy.typing as npt
import polars as pl
from pyproj import CRS, Transformer

from safestreets.errors import InputError
from safestreets.reference import geo
from safestreets.spatial.events import POINT_PRECISIONS

__all__ = ["COORDINATE_DECIMALS", "cell_labels", "cell_polygons", "count_cells", "country_crs"]

#: Decimals of every coordinate the public map publishes (about 11 m).
COORDINATE_DECIMALS: Final = 4


@lru_cache(maxsize=16)
def country_crs(country: str) -> CRS:
    """The fixed metric CRS of a country's public cells (its UTM zone in the reference data)."""
    row = geo.countries().filter(pl.col("iso2") == country.upper())
    if row.is_empty():
        raise InputError(
            f"unknown country {country!r}", hint=f"one of {', '.join(geo.COUNTRY_CODES)}"
        )
    return CRS.from_epsg(int(row["utm_epsg"][0]))


@lru_cache(maxsize=16)
def _to_metric(country: str) -> Transformer:
    return Transformer.from_crs(4326, country_crs(country), always_xy=True)


@lru_cache(maxsize=16)
def _to_lonlat(country: str) -> Transformer:
    return Transformer.from_crs(country_crs(country), 4326, always_xy=True)


def _check_size(cell_m: float) -> float:
    if not cell_m > 0:
        raise InputError(f"the cell size must be a positive number of metres, got {cell_m}")
    return float(cell_m)


def cell_labels(
    lon: npt.ArrayLike, lat: npt.ArrayLike, *, country: str, cell_m: float
) -> list[str]:
    """The label of the cell holding each WGS 84 point (``"<column>_<row>"``)."""
    size = _check_size(cell_m)
    x, y = _to_metric(country).transform(
        np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)
    )
    col = np.floor(np.asarray(x) / size).astype(np.int64)
    row = np.floor(np.asarray(y) / size).astype(np.int64)
    return [f"{c}_{r}" for c, r in zip(col.tolist(), row.tolist(), strict=True)]


def cell_polygons(
    labels: list[str], *, country: str, cell_m: float, decimals: int = COORDINATE_DECIMALS
) -> list[list[list[list[float]]]]:
    """RFC 7946 Polygon coordinates of each labelled cell (one counter-clockwise ring).

    Raises:
        InputError: A malformed label, or more decimals than the public map allows.
    """
    size = _check_size(cell_m)
    if not 0 <= decimals <= COORDINATE_DECIMALS:
        raise InputError(f"public coordinates take at most {COORDINATE_DECIMALS} decimals")
    try:
        cr = np.array([[int(p) for p in label.split("_")] for label in labels], dtype=np.int64)
    except ValueError as exc:
        raise InputError(f"not a square cell label: {exc}") from exc
    if not len(labels):
        return []
    x0 = cr[:, 0] * size
    y0 = cr[:, 1] * size
    # South-west, south-east, north-east, north-west, closed: counter-clockwise in a
    # conformal projection, hence in lon/lat too.
    xs = np.column_stack([x0, x0 + size, x0 + size, x0, x0])
    ys = np.column_stack([y0, y0, y0 + size, y0 + size, y0])
    lon, lat = _to_lonlat(country).transform(xs, ys)
    lon = np.round(np.asarray(lon), decimals)
    lat = np.round(np.asarray(lat), decimals)
    return [
        [[[float(a), float(b)] for a, b in zip(lon[i], lat[i], strict=True)]]
        for i in range(len(labels))
    ]


def count_cells(records: pl.DataFrame, *, country: str, cell_m: float) -> pl.DataFrame:
    """Records counted per cell and category.

    Only records located to a point (``location_precision`` exact or street, or not given)
    inside the country's outline (5 km tolerance) count: a record placed at the centre of its
    municipality would make a false hotspot there.

    Args:
        records: ``lon``, ``lat``, ``category`` and optionally ``location_precision`` and
            ``admin2``.
        country: ISO2 code (fixes the CRS and the outline).
        cell_m: Cell side in metres.

    Returns:
        ``cell``, ``category``, ``count`` (Int64) and ``admin2``: the municipality most of
        the cell's records carry (null when none does), the same on every row of a cell.
    """
    df = records.filter(pl.col("lon").is_not_null() & pl.col("lat").is_not_null())
    if "location_precision" in df.columns:
        df = df.filter(pl.col("location_precision").fill_null("exact").is_in(POINT_PRECISIONS))
    schema = {"cell": pl.String, "category": pl.String, "count": pl.Int64, "admin2": pl.String}
    if df.is_empty():
        return pl.DataFrame(schema=schema)
    lon = df["lon"].cast(pl.Float64).to_numpy()
    lat = df["lat"].cast(pl.Float64).to_numpy()
    inside = geo.points_in_country(country, lon, lat)
    df = df.filter(pl.Series(inside))
    if df.is_empty():
        return pl.DataFrame(schema=schema)
    labels = cell_labels(lon[inside], lat[inside], country=country, cell_m=cell_m)
    admin2 = df["admin2"] if "admin2" in df.columns else pl.lit(None, dtype=pl.String)
    df = df.select(pl.Series("cell", labels), "category", admin2=admin2)
    counts = df.group_by("cell", "category").agg(count=pl.len().cast(pl.Int64))
    modal = (
        df.filter(pl.col("admin2").is_not_null())
        .group_by("cell", "admin2")
        .agg(n=pl.len())
        .sort("cell", "n", "admin2", descending=[False, True, False])
        .unique("cell", keep="first")
        .select("cell", "admin2")
    )
    out = counts.join(modal, on="cell", how="left").sort("cell", "category")
    return out.select(list(schema)).cast(schema)  # type: ignore[arg-type]
