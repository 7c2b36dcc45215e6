"""Grid outputs: RFC 7946 GeoJSON, CSV round trip, PNG maps drawn offline."""

from __future__ import annotations

import json
import struct
from datetime import date, datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import shapely
from matplotlib import colormaps
from matplotlib.image import imread
from shapely.geometry import shape

from safestreets.errors import InputError
from safestreets.spatial.events import Projected, project
from safestreets.spatial.grid import Grid, make_grid
from safestreets.spatial.output import cells_geojson, map_png, write_csv, write_geojson

LON0, LAT0 = -90.5, 14.6  # Guatemala City
BOX = shapely.box(LON0 - 0.02, LAT0 - 0.02, LON0 + 0.02, LAT0 + 0.02)


def _events(n: int = 300, lon: float = LON0, lat: float = LAT0) -> Projected:
    rng = np.random.default_rng(0)
    frame = pl.DataFrame(
        {
            "occurred_at": [datetime(2024, 1, 1)] * n,
            "lon": lon + rng.normal(0, 0.005, n),
            "lat": lat + rng.normal(0, 0.005, n),
            "iccs_code": [None] * n,
            "place_type": [None] * n,
        },
        schema_overrides={"iccs_code": pl.String, "place_type": pl.String},
    )
    return project(frame)


@pytest.fixture(scope="module")
def square() -> Grid:
    return make_grid(_events(), cell_size=250.0, area=BOX)[0]


@pytest.fixture(scope="module")
def hexes() -> Grid:
    return make_grid(_events(), h3_resolution=8, area=BOX)[0]


def _frame(grid: Grid) -> pl.DataFrame:
    """Counts of the events, a float with NaN and infinity, a date and a text column."""
    counts = grid.counts(grid.locate(_events()))
    score = np.linspace(0.0, 1.0, grid.n)
    score[0], score[1] = np.nan, np.inf
    return pl.DataFrame(
        {
            "events": counts.astype(np.int64),
            "score": score,
            "day": [date(2024, 1, 1)] * grid.n,
            "label": [f"c{i}" for i in range(grid.n)],
        }
    )


def _signed_area(ring: list[list[float]]) -> float:
    xy = np.asarray(ring)
    return 0.5 * float(np.sum(xy[:-1, 0] * xy[1:, 1] - xy[1:, 0] * xy[:-1, 1]))


@pytest.mark.parametrize("which", ["square", "hexes"])
def test_geojson_is_rfc7946(which: str, request: pytest.FixtureRequest) -> None:
    grid: Grid = request.getfixturevalue(which)
    frame = _frame(grid)
    obj = cells_geojson(grid, frame, decimals=6, bbox=True)
    text = json.dumps(obj, allow_nan=False)  # valid JSON: no NaN or Infinity
    assert json.loads(text) == obj
    assert obj["type"] == "FeatureCollection"
    feats = obj["features"]
    assert len(feats) == grid.n
    lon_c, lat_c = grid.centres_lonlat()
    labels = grid.labels()
    west, south, east, north = obj["bbox"]
    for i, feat in enumerate(feats):
        assert feat["type"] == "Feature"
        assert feat["geometry"]["type"] == "Polygon"
        (ring,) = feat["geometry"]["coordinates"]
        assert ring[0] == ring[-1] and len(ring) >= 4  # closed
        assert _signed_area(ring) > 0  # exterior ring counter-clockwise
        xy = np.asarray(ring)
        assert (np.abs(xy[:, 0]) <= 180).all() and (np.abs(xy[:, 1]) <= 90).all()
        assert (np.round(xy, 6) == xy).all()
        assert (xy[:, 0] >= west).all() and (xy[:, 0] <= east).all()
        assert (xy[:, 1] >= south).all() and (xy[:, 1] <= north).all()
        # The polygon is the cell of this row: it holds the cell's centre.
        assert shape(feat["geometry"]).contains(shapely.Point(lon_c[i], lat_c[i]))
        assert feat["id"] == labels[i]
    props = [f["properties"] for f in feats]
    assert [p["cell"] for p in props] == labels
    assert [p["events"] for p in props] == frame["events"].to_list()
    assert [p["label"] for p in props] == frame["label"].to_list()
    assert props[0]["score"] is None and props[1]["score"] is None  # NaN and infinity
    assert props[2]["score"] == pytest.approx(frame["score"][2])
    assert props[0]["day"] == "2024-01-01"


def test_geojson_drops_zero_cells_and_selects_properties(square: Grid) -> None:
    frame = _frame(square)
    obj = cells_geojson(square, frame, drop_zero_column="events", properties=["score"], decimals=4)
    nonzero = np.flatnonzero(frame["events"].to_numpy() > 0)
    assert 0 < len(nonzero) < square.n
    labels = square.labels()
    assert [f["id"] for f in obj["features"]] == [labels[i] for i in nonzero]
    assert all(set(f["properties"]) == {"cell", "score"} for f in obj["features"])
    coords = np.concatenate([np.asarray(f["geometry"]["coordinates"][0]) for f in obj["features"]])
    assert (np.round(coords, 4) == coords).all()
    assert "bbox" not in obj


@pytest.mark.parametrize(
    "kwargs",
    [{"decimals": 8}, {"decimals": -1}, {"properties": ["nope"]}, {"drop_zero_column": "nope"}],
)
def test_geojson_refuses_bad_options(square: Grid, kwargs: dict[str, object]) -> None:
    with pytest.raises(InputError):
        cells_geojson(square, _frame(square), **kwargs)  # type: ignore[arg-type]


def test_frames_must_fit_the_grid(square: Grid, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="rows"):
        cells_geojson(square, _frame(square).head(3))
    with pytest.raises(InputError, match="lon"):
        write_csv(square, _frame(square).with_columns(lon=pl.lit(1.0)), tmp_path / "x.csv")


def test_geojson_file_round_trips(square: Grid, tmp_path: Path) -> None:
    obj = cells_geojson(square, _frame(square))
    path = write_geojson(obj, tmp_path / "out" / "cells.geojson")
    assert json.loads(path.read_text(encoding="utf-8")) == obj


def test_csv_round_trips(square: Grid, tmp_path: Path) -> None:
    frame = _frame(square).drop("day")
    path = write_csv(square, frame, tmp_path / "cells.csv")
    back = pl.read_csv(path)
    assert back.columns == ["cell", "lon", "lat", *frame.columns]
    assert back["cell"].to_list() == square.labels()
    lon, lat = square.centres_lonlat()
    np.testing.assert_allclose(back["lon"].to_numpy(), lon, atol=1e-6)
    np.testing.assert_allclose(back["lat"].to_numpy(), lat, atol=1e-6)
    assert back["events"].to_list() == frame["events"].to_list()
    np.testing.assert_array_equal(back["score"].to_numpy(), frame["score"].to_numpy())
    assert back["label"].to_list() == frame["label"].to_list()


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def _pixels_near(image: np.ndarray, rgb: tuple[float, ...], tol: float = 0.02) -> int:
    return int((np.abs(image[..., :3] - np.asarray(rgb[:3])).max(axis=-1) < tol).sum())


@pytest.mark.parametrize("which", ["square", "hexes"])
def test_map_png_draws_a_planted_hotspot(
    which: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    grid: Grid = request.getfixturevalue(which)
    centre = np.hypot(grid.cx - grid.cx.mean(), grid.cy - grid.cy.mean())
    hot = centre < np.quantile(centre, 0.1)
    values = np.where(hot, 10.0, 1.0)
    values[-1] = np.nan  # not drawn
    path = map_png(
        grid,
        values,
        tmp_path / "map.png",
        title="Robos",
        legend_label="eventos por km²",
        highlight=hot,
        dpi=60,
    )
    width, height = _png_size(path)
    assert width == 8 * 60
    assert 3 * 60 <= height <= 16 * 60
    image = imread(path)
    top = colormaps["YlOrRd"](1.0)
    # The hot cells (and the colour bar's top) in the top colour; the rest in the low one.
    assert _pixels_near(image, top) > 200
    assert _pixels_near(image, colormaps["YlOrRd"](0.1)) > 1000


def test_map_png_categories_use_colour_and_hatching(square: Grid, tmp_path: Path) -> None:
    d = np.hypot(square.cx - square.cx.mean(), square.cy - square.cy.mean())
    cats = np.where(d < 800, "Nuevo", np.where(d < 1600, "Persistente", None))
    path = map_png(
        square,
        cats,
        tmp_path / "classes.png",
        title="Puntos calientes emergentes",
        legend_label="Tipo",
        categories={"Nuevo": "#D55E00", "Persistente": "#0072B2", "Esporádico": "#009E73"},
        outlines=False,
        lang="en",
        dpi=60,
    )
    image = imread(path)
    assert _pixels_near(image, (0xD5 / 255, 0x5E / 255, 0x00)) > 300
    # The second category is hatched: its colour and the hatch lines share its area.
    assert _pixels_near(image, (0x00, 0x72 / 255, 0xB2 / 255)) > 300
    assert _pixels_near(image, (0x33 / 255, 0x33 / 255, 0x33 / 255), tol=0.1) > 200
    with pytest.raises(InputError, match="Viejo"):
        map_png(
            square,
            np.where(d < 800, "Viejo", None),
            tmp_path / "bad.png",
            title="x",
            categories=["Nuevo"],
        )


@pytest.mark.parametrize(
    "kwargs",
    [{"lang": "fr"}, {"values": [1.0, 2.0]}, {"highlight": [True]}, {"dpi": 0}],
)
def test_map_png_refuses_bad_input(square: Grid, tmp_path: Path, kwargs: dict[str, object]) -> None:
    args: dict[str, object] = {"values": np.ones(square.n), "title": "x", **kwargs}
    values = args.pop("values")
    with pytest.raises(InputError):
        map_png(square, values, tmp_path / "x.png", **args)  # type: ignore[arg-type]
    assert not (tmp_path / "x.png").exists()


def test_map_outlines_a_country_grid(tmp_path: Path) -> None:
    grid = make_grid(_events(lon=-89.19, lat=13.69), cell_size=5000.0, area="SV")[0]
    values = np.arange(grid.n, dtype=np.float64)
    outline_grey = (0x44 / 255, 0x44 / 255, 0x44 / 255)
    with_lines = map_png(grid, values, tmp_path / "sv.png", title="El Salvador", dpi=100)
    without = map_png(
        grid, values, tmp_path / "bare.png", title="El Salvador", outlines=False, dpi=100
    )
    assert _png_size(with_lines)[0] == 800
    # Without outlines only the anti-aliased edges of black text come near their grey.
    lines = _pixels_near(imread(with_lines), outline_grey)
    assert lines > 500
    assert lines > 5 * _pixels_near(imread(without), outline_grey)
