"""Cells of the public map: the fixed lattice, counts, and outlines rounded for publication."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import polars as pl
import pytest
import shapely

from safestreets.errors import InputError
from safestreets.spatial import public as cells
from safestreets.spatial.study import prepare


def _points(n: int = 300, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    lon = -90.52 + rng.normal(0, 0.02, n)
    lat = 14.62 + rng.normal(0, 0.02, n)
    return lon, lat


def test_labels_are_those_of_the_square_grid_in_the_country_zone() -> None:
    lon, lat = _points()
    events = pl.DataFrame(
        {
            "occurred_at": [datetime(2024, 1, 1)] * len(lon),
            "lon": lon,
            "lat": lat,
            "iccs_code": ["0401"] * len(lon),
            "place_type": [None] * len(lon),
        },
        schema_overrides={"place_type": pl.String},
    )
    study = prepare(events, crs=cells.country_crs("GT"), cell_size=500)
    labels = study.grid.labels()
    expected = [labels[i] for i in study.cells.tolist()]
    assert cells.cell_labels(lon, lat, country="GT", cell_m=500) == expected
    assert cells.country_crs("GT").to_epsg() == 32616
    assert cells.country_crs("pa").to_epsg() == 32617


def test_outlines_are_closed_counter_clockwise_squares_with_four_decimals() -> None:
    lon, lat = _points(50)
    labels = cells.cell_labels(lon, lat, country="GT", cell_m=500)
    rings = cells.cell_polygons(labels, country="GT", cell_m=500)
    for x, y, ring in zip(lon, lat, rings, strict=True):
        coords = ring[0]
        assert len(ring) == 1 and len(coords) == 5 and coords[0] == coords[-1]
        for a, b in coords:
            assert round(a, 4) == a and round(b, 4) == b
        poly = shapely.Polygon(coords)
        assert poly.exterior.is_ccw
        # The point lies in its cell, up to the rounding of the corners (about 11 m).
        assert poly.buffer(0.0002).contains(shapely.Point(x, y))
        # About 500 m x 500 m (a degree of latitude is about 110.6 km here).
        width_m = (coords[1][0] - coords[0][0]) * 110_600 * np.cos(np.radians(y))
        assert 480 < width_m < 520


def test_outlines_refuse_more_decimals_and_bad_labels() -> None:
    with pytest.raises(InputError, match="at most 4 decimals"):
        cells.cell_polygons(["1_2"], country="GT", cell_m=500, decimals=6)
    with pytest.raises(InputError, match="not a square cell label"):
        cells.cell_polygons(["8f2a1"], country="GT", cell_m=500)
    assert cells.cell_polygons([], country="GT", cell_m=500) == []


def test_count_cells_counts_placed_points_inside_the_country_only() -> None:
    here = (-90.5133, 14.6407)
    records = pl.DataFrame(
        {
            "lon": [here[0]] * 6 + [here[0], 0.0, None],
            "lat": [here[1]] * 6 + [here[1], 0.0, 14.6],
            "category": ["robbery"] * 4 + ["theft", "theft", "robbery", "robbery", "robbery"],
            "location_precision": ["exact", "street", None, "exact", "exact", "exact",
                                   "admin2", "exact", "exact"],
            "admin2": ["0101", "0101", "0101", "0108", "0101", None, "0101", "0101", "0101"],
        }
    )  # fmt: skip
    out = cells.count_cells(records, country="GT", cell_m=500)
    assert out.columns == ["cell", "category", "count", "admin2"]
    assert out.select("category", "count").rows() == [("robbery", 4), ("theft", 2)]
    assert out["admin2"].unique().to_list() == ["0101"]  # the cell's most frequent one
    assert out["cell"].n_unique() == 1
    empty = cells.count_cells(records.head(0), country="GT", cell_m=500)
    assert empty.is_empty() and empty.columns == out.columns


def test_count_cells_never_returns_a_point() -> None:
    lon, lat = _points(200)
    records = pl.DataFrame({"lon": lon, "lat": lat, "category": ["theft"] * len(lon)})
    out = cells.count_cells(records, country="GT", cell_m=500)
    assert set(out.columns) == {"cell", "category", "count", "admin2"}
    assert out["count"].sum() == len(lon)
    assert out.height < len(lon)
