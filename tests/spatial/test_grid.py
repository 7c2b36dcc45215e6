"""Events parsing, projection and grids: masks, stray points, H3, neighbours, store reads."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from sqlalchemy import Engine

from safestreets.errors import InputError
from safestreets.spatial.events import (
    events_from_incidents,
    filter_events,
    parse_events,
    project,
    resolve_crs,
    utm_crs,
)
from safestreets.spatial.grid import make_grid, read_area, stray_events


def _table(rows: list[tuple[str, str, str]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "Occurred_At": [r[0] for r in rows],
            "LON": [r[1] for r in rows],
            "lat": [r[2] for r in rows],
        }
    )


def _city(n: int = 500, seed: int = 1) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    return pl.DataFrame(
        {
            "occurred_at": [datetime(2024, 1, 1 + int(d)) for d in rng.integers(0, 28, n)],
            "lon": -90.52 + rng.uniform(-0.03, 0.03, n),
            "lat": 14.62 + rng.uniform(-0.03, 0.03, n),
            "iccs_code": ["0401"] * (n // 2) + ["0502"] * (n - n // 2),
            "place_type": ["street"] * n,
        }
    )


def test_parse_events_sets_aside_bad_rows_with_reasons() -> None:
    read = parse_events(
        _table(
            [
                ("2024-03-01T22:15:00-06:00", "-90.5", "14.6"),
                ("2024-03-02 08:00", "-90,51", "14.61"),
                ("2024-03-03", "-90.52", "14.62"),
                ("yesterday", "-90.5", "14.6"),
                ("2024-03-04T10:00:00Z", "", "14.6"),
                ("2024-03-04T10:00:00Z", "-290", "14.6"),
                ("2024-03-04T10:00:00Z", "0", "0"),
            ]
        )
    )
    assert read.events.height == 3
    # The offset is dropped, not converted: a 22:15 event stays on the local day.
    assert read.events["occurred_at"][0] == datetime(2024, 3, 1, 22, 15)
    assert read.events["lon"][1] == pytest.approx(-90.51)
    assert read.rejected["row"].to_list() == [4, 5, 6, 7]
    assert read.rejected["reason"].to_list() == [
        "unreadable occurred_at",
        "missing or non-numeric lon/lat",
        "lon/lat out of range",
        "lon/lat at (0, 0)",
    ]
    assert "4 rows set aside" in read.summary


def test_parse_events_errors_name_what_is_wrong() -> None:
    with pytest.raises(InputError, match="no column lat"):
        parse_events(pl.DataFrame({"occurred_at": ["2024-01-01"], "lon": ["1"]}))
    with pytest.raises(InputError, match="no usable event"):
        parse_events(_table([("nope", "x", "y")]))


def test_filter_by_iccs_prefix_and_dates() -> None:
    ev = _city(100)
    assert filter_events(ev, iccs=["04"]).height == 50
    assert filter_events(ev, iccs=["0502", "0401"]).height == 100
    from datetime import date

    sub = filter_events(ev, date_from=date(2024, 1, 10), date_to=date(2024, 1, 10))
    assert set(sub["occurred_at"].dt.day().to_list()) <= {10}


def test_utm_zone_from_the_median_point_ignores_a_stray_point() -> None:
    lon = np.r_[np.full(99, -90.5), 0.0]
    lat = np.r_[np.full(99, 14.6), 0.0]
    assert utm_crs(lon, lat).to_epsg() == 32615
    assert utm_crs([-99.1], [19.4]).to_epsg() == 32614
    assert utm_crs([-70.0], [-33.0]).to_epsg() == 32719
    with pytest.raises(InputError, match="not projected"):
        resolve_crs(4326, lon, lat)
    with pytest.raises(InputError, match="unknown coordinate"):
        resolve_crs("EPSG:999999", lon, lat)


def test_square_grid_is_aligned_masked_and_locates_every_event() -> None:
    p = project(_city())
    grid, keep = make_grid(p, cell_size=250)
    assert keep.all()
    assert grid.x0 % 250 == 0 and grid.y0 % 250 == 0
    cells = grid.locate(p)
    assert (cells >= 0).all()
    # The hull mask drops corners of the bounding raster but keeps every event's cell.
    assert grid.n <= grid.nx * grid.ny
    counts = grid.counts(cells)
    assert counts.sum() == p.x.size
    # Centres are inside their own cells.
    assert (grid.locate_xy(grid.cx, grid.cy) == np.arange(grid.n)).all()
    labels = grid.labels()
    assert len(set(labels)) == grid.n
    # Same CRS and cell size, another sample: shared cells have the same label.
    g2, _ = make_grid(project(_city(seed=2)), cell_size=250)
    common = set(labels) & set(g2.labels())
    assert common


def test_stray_point_is_refused_before_building_a_huge_grid() -> None:
    ev = pl.concat(
        [
            _city(),
            pl.DataFrame(
                {
                    "occurred_at": [datetime(2024, 1, 5)],
                    "lon": [-85.0],
                    "lat": [10.0],
                    "iccs_code": ["0401"],
                    "place_type": ["street"],
                }
            ),
        ]
    )
    p = project(ev)
    assert stray_events(p.x, p.y).sum() == 1
    with pytest.raises(InputError, match="1 events lie far from the rest") as err:
        make_grid(p, cell_size=100)
    assert "--drop-stray" in (err.value.hint or "")
    grid, keep = make_grid(p, cell_size=100, drop_stray=True)
    assert keep.sum() == len(p) - 1
    assert grid.nx * grid.ny < 10_000
    assert any("stray" in n for n in grid.notes)


def test_oversized_grid_is_refused() -> None:
    p = project(_city())
    with pytest.raises(InputError, match="more than the limit"):
        make_grid(p, cell_size=10, max_cells=10_000)
    with pytest.raises(InputError, match="positive"):
        make_grid(p, cell_size=0)


def test_area_from_geojson_leaves_out_events_outside(tmp_path: Path) -> None:
    poly = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {},
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [
                        [
                            [-90.55, 14.59],
                            [-90.52, 14.59],
                            [-90.52, 14.65],
                            [-90.55, 14.65],
                            [-90.55, 14.59],
                        ]
                    ],
                },
            }
        ],
    }
    path = tmp_path / "zone.geojson"
    path.write_text(json.dumps(poly))
    p = project(_city())
    grid, keep = make_grid(p, cell_size=200, area=path)
    west = p.frame["lon"].to_numpy() < -90.52
    assert (keep == west).all()
    assert any("outside the study area" in n for n in grid.notes)
    bad = tmp_path / "line.geojson"
    bad.write_text(json.dumps({"type": "LineString", "coordinates": [[0, 0], [1, 1]]}))
    with pytest.raises(InputError, match="no Polygon"):
        read_area(bad)
    with pytest.raises(InputError, match="neither a country code nor a file"):
        read_area("nowhere.geojson")


def test_country_area_masks_the_ocean() -> None:
    p = project(_city())
    grid, keep = make_grid(p, cell_size=5000, area="GT")
    assert keep.all()
    # Guatemala is ~109,000 km²: the mask keeps about that many 25 km² cells, not the bbox.
    assert 3500 < grid.n < 5500
    assert grid.n < 0.7 * grid.nx * grid.ny


def test_h3_grid_locates_and_has_six_neighbours_inside() -> None:
    p = project(_city())
    grid, _ = make_grid(p, h3_resolution=8)
    assert grid.kind == "h3"
    cells = grid.locate(p)
    assert (cells >= 0).all()
    w = grid.neighbours()
    deg = np.asarray(w.sum(axis=1)).ravel()
    assert deg.max() == 6
    assert len(grid.polygons_lonlat()) == grid.n
    assert grid.labels()[0].startswith("88")


def test_queen_and_rook_neighbours_on_a_square_grid() -> None:
    p = project(_city(2000))
    grid, _ = make_grid(p, cell_size=500)
    q = np.asarray(grid.neighbours("queen").sum(axis=1)).ravel()
    r = np.asarray(grid.neighbours("rook").sum(axis=1)).ravel()
    assert q.max() == 8 and r.max() == 4
    assert (q >= r).all()
    d = grid.within(600).tocsr()
    assert d.diagonal().sum() == 0 and d.nnz > grid.n


def test_events_from_incidents_uses_the_local_clock_and_drops_coarse_rows() -> None:
    inc = pl.DataFrame(
        {
            "occurred_at": [
                datetime(2024, 2, 1, 4, 30, tzinfo=UTC),
                datetime(2024, 2, 1, 12, 0, tzinfo=UTC),
                datetime(2024, 2, 1, 12, 0, tzinfo=UTC),
                datetime(2024, 2, 1, 12, 0, tzinfo=UTC),
            ],
            "occurred_precision": ["minute", "month", "day", "day"],
            "source_timezone": ["America/Guatemala"] * 4,
            "lon": [-90.5, -90.5, -90.5, None],
            "lat": [14.6, 14.6, 14.6, None],
            "location_precision": ["exact", "exact", "admin2", "exact"],
            "iccs_code": ["0401"] * 4,
            "place_type": ["street"] * 4,
        }
    )
    ev, notes = events_from_incidents(inc)
    assert ev.height == 1
    # 04:30 UTC is 22:30 the evening before in Guatemala (UTC-6).
    assert ev["occurred_at"][0] == datetime(2024, 1, 31, 22, 30)
    assert len(notes) == 3


def test_store_points_round_trip(store: Engine) -> None:
    from safestreets.demo import generate_region
    from safestreets.ingest.load import load_canonical
    from safestreets.store.events import read_incident_points

    chunks = (
        (c.incidents, c.victims)
        for c in generate_region(seed=3, incidents=3000, years=1, countries=["SV"])
    )
    load_canonical(chunks, store, source="SYNTHETIC-DEMO", label="t", synthetic=True)
    pts = read_incident_points(store, countries=["SV"], iccs=["04"])
    assert pts.height > 0
    assert pts["occurred_at"].dtype == pl.Datetime("us", "UTC")
    assert pts["iccs_code"].str.starts_with("04").all()
    ev, _ = events_from_incidents(pts)
    _grid, keep = make_grid(project(ev), cell_size=2000, area="SV")
    assert keep.mean() > 0.95
    assert read_incident_points(store, countries=["GT"]).height == 0
