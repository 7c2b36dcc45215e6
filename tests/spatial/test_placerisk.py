"""Risk around places: layer readers, distance/density features, and the count model.

The model tests plant known relative risks and check they come back: events 4x as frequent
within 200 m of "markets" and unaffected by "schools", counts with a known negative-binomial
alpha, per-feature and per-halving effects. Everything is synthetic and built here.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import shapely
from pyproj import CRS, Transformer

from safestreets.errors import InputError
from safestreets.spatial.events import Projected, project
from safestreets.spatial.grid import Grid, make_grid
from safestreets.spatial.placerisk import (
    Layer,
    PlaceRiskResult,
    default_radius,
    layer_from_geojson,
    layers_from_dir,
    place_features,
    place_risk,
    read_layer,
)

UTM15 = CRS.from_epsg(32615)
TO_LL = Transformer.from_crs(UTM15, 4326, always_xy=True)
# A corner in Guatemala City, UTM 15N metres.
X0, Y0 = 770_000.0, 1_618_000.0


def _layer(name: str, xy: np.ndarray) -> Layer:
    """A layer from UTM 15N metres."""
    lon, lat = TO_LL.transform(xy[:, 0], xy[:, 1])
    return Layer(name, np.asarray(lon), np.asarray(lat))


def _row(result: PlaceRiskResult, layer: str) -> dict[str, object]:
    rows = result.table.filter(pl.col("layer") == layer)
    assert rows.height == 1, result.table
    return rows.row(0, named=True)


def _square_grid(nx: int, ny: int, cell: float) -> Grid:
    """A full nx × ny square grid at (X0, Y0), built directly."""
    index = np.arange(nx * ny, dtype=np.int64)
    row, col = np.divmod(index, nx)
    return Grid(
        kind="square",
        crs=UTM15,
        cell_size=cell,
        resolution=None,
        index=index,
        cx=X0 + (col + 0.5) * cell,
        cy=Y0 + (row + 0.5) * cell,
        area_m2=np.full(nx * ny, cell * cell),
        x0=X0,
        y0=Y0,
        nx=nx,
        ny=ny,
        _lookup=index.copy(),
    )


# ---------------------------------------------------------------------------------------------
# Readers
# ---------------------------------------------------------------------------------------------


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_geojson_points_multipoints_polygons_and_what_is_left_out(tmp_path: Path) -> None:
    square = [[-90.51, 14.60], [-90.50, 14.60], [-90.50, 14.61], [-90.51, 14.61], [-90.51, 14.60]]
    fc = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [-90.5, 14.6]}},
            {
                "type": "Feature",
                "geometry": {"type": "MultiPoint", "coordinates": [[-90.4, 14.5], [-90.3, 14.4]]},
            },
            {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [square]}},
            {
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": [[-90.5, 14.6], [-90.4, 14.6]]},
            },
            {"type": "Feature", "geometry": None},
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [-90.5, 95.0]}},
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [0, 0]}},
        ],
    }
    layer = read_layer(_write(tmp_path / "markets.geojson", json.dumps(fc)))
    assert layer.name == "markets"
    assert layer.n == 4
    assert layer.lon[:3].tolist() == [-90.5, -90.4, -90.3]
    assert layer.lat[:3].tolist() == [14.6, 14.5, 14.4]
    # The polygon's point lies inside the square.
    assert -90.51 < layer.lon[3] < -90.50 and 14.60 < layer.lat[3] < 14.61
    notes = " | ".join(layer.notes)
    assert "2 points with missing or out-of-range coordinates left out" in notes
    assert "1 polygon replaced by a point inside it" in notes
    assert "1 line skipped" in notes
    assert "1 feature without a geometry skipped" in notes
    assert read_layer(tmp_path / "markets.geojson", name="mercados").name == "mercados"


def test_geojson_in_another_crs_or_without_points_is_refused(tmp_path: Path) -> None:
    legacy = {
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::32615"}},
        "features": [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [1, 2]}}],
    }
    with pytest.raises(InputError, match=r"utm\.geojson declares the coordinate system"):
        read_layer(_write(tmp_path / "utm.geojson", json.dumps(legacy)))
    lines = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[1, 1], [2, 2]]}}
        ],
    }
    with pytest.raises(InputError, match=r"roads\.geojson has no usable point \(1 line skipped"):
        read_layer(_write(tmp_path / "roads.geojson", json.dumps(lines)))
    with pytest.raises(InputError, match="not valid JSON"):
        read_layer(_write(tmp_path / "broken.json", "{not json"))


def test_csv_column_names_delimiters_and_bad_rows(tmp_path: Path) -> None:
    text = (
        "Nombre;Longitude;LATITUDE\n"
        "Mercado Central;-90,5130;14,6420\n"  # decimal commas
        "Terminal;-90.52;14.63\n"
        ";;\n"  # row 4, an empty record: skipped silently
        "sin coordenadas;;0\n"  # row 5
        "texto;oeste;14.6\n"  # row 6
        "fuera;-190;14.6\n"  # row 7
        "Mercado Sur;-90.55;14.58\n"
    )
    layer = read_layer(_write(tmp_path / "markets.csv", text))
    assert layer.name == "markets"
    assert layer.lon.tolist() == [-90.513, -90.52, -90.55]
    assert layer.lat.tolist() == [14.642, 14.63, 14.58]
    assert layer.notes == (
        "3 rows with missing, non-numeric or out-of-range coordinates left out (rows 5, 6, 7)",
    )
    xy = read_layer(_write(tmp_path / "bars.csv", "id,X,Y\n1,-90.5,14.6\n2,-90.6,14.7\n"))
    assert xy.n == 2 and xy.lon.tolist() == [-90.5, -90.6]


def test_csv_without_a_usable_point_names_the_file_and_the_reason(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"schools\.csv has no usable point \(2 rows"):
        read_layer(_write(tmp_path / "schools.csv", "lon,lat\n,14.6\nabc,14.6\n,,\n"))
    with pytest.raises(InputError, match=r"stops\.csv has no usable point"):
        read_layer(_write(tmp_path / "stops.csv", "lon,lat\n"))
    with pytest.raises(InputError, match=r"bars\.csv has no longitude/latitude columns"):
        read_layer(_write(tmp_path / "bars.csv", "name,east,north\na,1,2\n"))
    with pytest.raises(InputError, match="must be GeoJSON"):
        read_layer(_write(tmp_path / "bars.xlsx", "x"))
    with pytest.raises(InputError, match="cannot read"):
        read_layer(tmp_path / "missing.csv")


def test_layers_from_dir(tmp_path: Path) -> None:
    _write(tmp_path / "schools.csv", "lon,lat\n-90.5,14.6\n")
    fc = {"type": "Point", "coordinates": [-90.4, 14.5]}
    _write(tmp_path / "bars.geojson", json.dumps(fc))
    _write(tmp_path / "README.txt.bak", "ignored")
    layers = layers_from_dir(tmp_path)
    assert [(la.name, la.n) for la in layers] == [("bars", 1), ("schools", 1)]
    _write(tmp_path / "bars.csv", "lon,lat\n-90.5,14.6\n")
    with pytest.raises(InputError, match="two files give the layer 'bars'"):
        layers_from_dir(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="holds no layer file"):
        layers_from_dir(tmp_path / "empty")
    with pytest.raises(InputError, match="is not a folder"):
        layers_from_dir(tmp_path / "bars.csv")


# ---------------------------------------------------------------------------------------------
# Features
# ---------------------------------------------------------------------------------------------


def test_features_by_hand() -> None:
    # Three 100 m cells in a row, centres at x = 50, 150, 250 (y = 50), relative to (X0, Y0).
    grid = _square_grid(3, 1, 100.0)
    a = _layer("a", np.array([[X0 + 50, Y0 + 50], [X0 + 50, Y0 + 170]]))  # at centre 0; 120 m N
    b = _layer("b", np.array([[X0 + 400, Y0 + 50]]))  # 350, 250, 150 m from the centres
    matrix, names = place_features(
        grid, [a, b], radius_m=160, kinds=("distance", "density", "within")
    )
    assert names == [
        "a_distance_m",
        "a_count_160m",
        "a_within_160m",
        "b_distance_m",
        "b_count_160m",
        "b_within_160m",
    ]
    expected = np.array(
        [
            # a: nearest 0, 100, 200 m; within 160 m: both (0 and 120 m), both (100, 156 m), none
            [0.0, 2, 1, 350.0, 0, 0],
            [100.0, 2, 1, 250.0, 0, 0],
            [200.0, 0, 0, 150.0, 1, 1],
        ]
    )
    np.testing.assert_allclose(matrix, expected, atol=1e-3)
    only, only_names = place_features(grid, [a], radius_m=130, kinds=["density"])
    assert only_names == ["a_count_130m"]
    assert only[:, 0].tolist() == [2.0, 1.0, 0.0]  # 156 m is now out of reach


def test_feature_arguments_are_checked() -> None:
    grid = _square_grid(3, 1, 100.0)
    a = _layer("a", np.array([[X0, Y0]]))
    assert default_radius(grid) == 250.0
    assert default_radius(_square_grid(2, 1, 400.0)) == 600.0
    with pytest.raises(InputError, match="unknown place feature kind kde"):
        place_features(grid, [a], kinds=("kde",))
    with pytest.raises(InputError, match="radius must be a positive"):
        place_features(grid, [a], radius_m=0)
    with pytest.raises(InputError, match="two layers share the name 'a'"):
        place_features(grid, [a, a])
    with pytest.raises(InputError, match="longitudes but"):
        Layer("x", np.zeros(2), np.zeros(3))


# ---------------------------------------------------------------------------------------------
# The model on events with a planted effect
# ---------------------------------------------------------------------------------------------

SIDE = 4000.0
RADIUS = 200.0


def _planted_events() -> tuple[Projected, shapely.Polygon, list[Layer]]:
    """Events 4x as frequent within 200 m of 8 markets; 10 schools with no effect.

    Points are drawn in continuous space (a uniform process thinned to 1/4 away from
    markets) over a 4 km square; the study area (lon/lat) and the two layers come with them.
    """
    rng = np.random.default_rng(0)
    markets = rng.uniform([X0 + 300, Y0 + 300], [X0 + SIDE - 300, Y0 + SIDE - 300], size=(8, 2))
    schools = rng.uniform([X0, Y0], [X0 + SIDE, Y0 + SIDE], size=(10, 2))
    m = rng.poisson(8000)
    p = rng.uniform([X0, Y0], [X0 + SIDE, Y0 + SIDE], size=(m, 2))
    d = np.hypot(p[:, None, 0] - markets[None, :, 0], p[:, None, 1] - markets[None, :, 1])
    p = p[rng.random(m) < np.where(d.min(axis=1) <= RADIUS, 1.0, 0.25)]
    lon, lat = TO_LL.transform(p[:, 0], p[:, 1])
    events = pl.DataFrame(
        {
            "occurred_at": [datetime(2024, 3, 1)] * len(lon),
            "lon": lon,
            "lat": lat,
            "iccs_code": ["0401"] * len(lon),
            "place_type": ["street"] * len(lon),
        }
    )
    bx, by = TO_LL.transform([X0, X0 + SIDE, X0 + SIDE, X0], [Y0, Y0, Y0 + SIDE, Y0 + SIDE])
    area = shapely.Polygon(list(zip(bx, by, strict=True)))
    layers = [_layer("markets", markets), _layer("schools", schools)]
    return project(events, crs=32615), area, layers


@pytest.fixture(scope="module")
def planted() -> tuple[Grid, np.ndarray, list[Layer]]:
    """The planted events counted in 25 m cells, the real pipeline from events to counts.

    Cells this small keep the blur of deciding "near" at the cell centre small: over 40
    seeds the estimate was 3% under 4 on average, and its interval covered 4 in 36.
    """
    projected, area, layers = _planted_events()
    grid, keep = make_grid(projected, cell_size=25.0, area=area)
    counts = grid.counts(grid.locate(projected.select(keep)))
    return grid, counts, layers


def test_h3_grid_with_cell_areas_as_exposure() -> None:
    projected, area, layers = _planted_events()
    grid, keep = make_grid(projected, h3_resolution=10, area=area)  # cells of about 0.015 km²
    counts = grid.counts(grid.locate(projected.select(keep)))
    assert np.ptp(grid.area_m2) > 0  # H3 cells differ in area: the default exposure
    result = place_risk(grid, counts, layers, radius_m=RADIUS)
    markets = _row(result, "markets")
    # Cells about 130 m across blur "within 200 m" more than 25 m squares do: only the
    # direction and rough size of the effect are checked here.
    assert 2.5 < markets["relative_risk"] < 5  # type: ignore[operator]
    assert _row(result, "schools")["rr_lo"] <= 1 <= _row(result, "schools")["rr_hi"]  # type: ignore[operator]
    assert result.surface.mean() == pytest.approx(1.0)


@pytest.mark.parametrize("model", ["negbin", "poisson"])
def test_planted_relative_risk_comes_back(
    planted: tuple[Grid, np.ndarray, list[Layer]], model: str
) -> None:
    grid, counts, layers = planted
    result = place_risk(grid, counts, layers, model=model, radius_m=RADIUS)  # type: ignore[arg-type]
    assert result.table.columns == [
        "layer",
        "feature",
        "relative_risk",
        "rr_lo",
        "rr_hi",
        "p_value",
        "n_features",
        "cells_exposed",
    ]
    markets = _row(result, "markets")
    assert markets["feature"] == "markets_within_200m"
    assert 4 * 0.7 <= markets["relative_risk"] <= 4 * 1.3  # type: ignore[operator]
    assert markets["rr_lo"] <= 4 <= markets["rr_hi"]  # type: ignore[operator]
    assert markets["p_value"] < 1e-10  # type: ignore[operator]
    assert markets["n_features"] == 8
    schools = _row(result, "schools")
    assert schools["rr_lo"] <= 1 <= schools["rr_hi"]  # type: ignore[operator]
    assert schools["n_features"] == 10
    # About 8 discs of 200 m (a little less where they overlap or touch the edge) / 625 m².
    assert 250 < markets["cells_exposed"] <= 8 * np.pi * 200**2 / 625 * 1.05  # type: ignore[operator]
    assert result.n_events == counts.sum()
    assert result.n_cells == grid.n
    assert result.deviance_explained > 0
    assert result.loglik > result.null_loglik
    # The surface: mean 1, and a near-market cell is RR times a cell away from both layers.
    assert result.surface.shape == (grid.n,)
    assert result.surface.mean() == pytest.approx(1.0)
    near = _near(grid, layers, "markets") & ~_near(grid, layers, "schools")
    far = ~_near(grid, layers, "markets") & ~_near(grid, layers, "schools")
    ratio = result.surface[near].mean() / result.surface[far].mean()
    assert ratio == pytest.approx(markets["relative_risk"])


def _near(grid: Grid, layers: list[Layer], name: str) -> np.ndarray:
    layer = next(la for la in layers if la.name == name)
    m, _ = place_features(grid, [layer], radius_m=RADIUS, kinds=("within",))
    return m[:, 0] > 0


def test_poisson_fitted_counts_add_up(planted: tuple[Grid, np.ndarray, list[Layer]]) -> None:
    grid, counts, layers = planted
    result = place_risk(grid, counts, layers, model="poisson", radius_m=RADIUS)
    # A Poisson GLM with an intercept reproduces the total (its score equations).
    assert result.expected.sum() == pytest.approx(counts.sum())
    assert result.model == "poisson" and result.alpha == 0.0 and result.alpha_lo is None


def test_negative_binomial_recovers_alpha_and_poisson_flags_overdispersion() -> None:
    # Counts drawn per cell from NB2 with alpha 0.5: 3x within 200 m of markets, schools none.
    grid = _square_grid(120, 120, 50.0)  # 6 km square, 14,400 cells
    rng = np.random.default_rng(11)
    markets = _layer("markets", rng.uniform([X0, Y0], [X0 + 6000, Y0 + 6000], size=(25, 2)))
    schools = _layer("schools", rng.uniform([X0, Y0], [X0 + 6000, Y0 + 6000], size=(25, 2)))
    near, _ = place_features(grid, [markets], radius_m=RADIUS, kinds=("within",))
    mu = 0.3 * np.where(near[:, 0] > 0, 3.0, 1.0)
    alpha = 0.5
    counts = rng.negative_binomial(1 / alpha, 1 / (1 + alpha * mu)).astype(float)

    nb = place_risk(grid, counts, [markets, schools], radius_m=RADIUS)
    assert nb.model == "negbin"
    assert nb.alpha_lo is not None and nb.alpha_hi is not None
    # Over 30 seeds the estimates ranged over 0.38-0.63 (mean 0.49).
    assert nb.alpha == pytest.approx(alpha, rel=0.3)
    assert 0 < nb.alpha_lo < nb.alpha < nb.alpha_hi
    assert nb.overdispersion_p < 1e-6
    assert 0.8 < nb.dispersion < 1.2  # the NB variance fits
    m = _row(nb, "markets")
    assert m["rr_lo"] <= 3 <= m["rr_hi"]  # type: ignore[operator]
    s = _row(nb, "schools")
    assert s["rr_lo"] <= 1 <= s["rr_hi"]  # type: ignore[operator]
    assert nb.baseline == pytest.approx(0.3, rel=0.15)

    pois = place_risk(grid, counts, [markets, schools], model="poisson", radius_m=RADIUS)
    assert pois.model == "poisson"
    assert pois.dispersion == pytest.approx(1 + alpha * counts.mean(), rel=0.1)
    assert pois.overdispersion_p < 1e-6
    assert any("overdispersed" in n for n in pois.notes)
    pm = _row(pois, "markets")
    # Same point estimate territory, narrower (too narrow) interval.
    assert pm["relative_risk"] == pytest.approx(m["relative_risk"], rel=0.1)
    width = float(pm["rr_hi"]) / float(pm["rr_lo"])  # type: ignore[arg-type]
    assert width < float(m["rr_hi"]) / float(m["rr_lo"])  # type: ignore[arg-type]
    assert nb.aic < pois.aic


def test_negbin_on_poisson_counts_reports_poisson() -> None:
    grid = _square_grid(60, 60, 50.0)
    rng = np.random.default_rng(5)
    markets = _layer("markets", rng.uniform([X0, Y0], [X0 + 3000, Y0 + 3000], size=(10, 2)))
    near, _ = place_features(grid, [markets], radius_m=RADIUS, kinds=("within",))
    counts = rng.poisson(0.5 * np.where(near[:, 0] > 0, 2.0, 1.0)).astype(float)
    result = place_risk(grid, counts, [markets], radius_m=RADIUS)
    poisson = place_risk(grid, counts, [markets], model="poisson", radius_m=RADIUS)
    # Without overdispersion the negative binomial is (nearly) the Poisson: alpha is 0 (and the
    # Poisson fit is reported) or small with an interval reaching 0.
    if result.model == "poisson":
        assert result.alpha == 0.0
        assert any("no overdispersion" in n for n in result.notes)
    else:
        assert result.alpha < 0.1 and result.alpha_lo == 0.0
    nb_row, p_row = _row(result, "markets"), _row(poisson, "markets")
    assert nb_row["relative_risk"] == pytest.approx(p_row["relative_risk"], rel=0.01)
    assert nb_row["rr_lo"] == pytest.approx(p_row["rr_lo"], rel=0.01)
    assert nb_row["rr_lo"] <= 2 <= nb_row["rr_hi"]  # type: ignore[operator]


@pytest.mark.parametrize(
    ("terms", "feature", "truth"),
    [("count", "bars_count_300m", 1.5), ("log_distance", "bars_distance_halved", 2.0)],
)
def test_count_and_log_distance_terms(terms: str, feature: str, truth: float) -> None:
    grid = _square_grid(80, 80, 50.0)
    rng = np.random.default_rng(2)
    bars = _layer("bars", rng.uniform([X0, Y0], [X0 + 4000, Y0 + 4000], size=(40, 2)))
    feats, _ = place_features(grid, [bars], radius_m=300, kinds=("distance", "density"))
    if terms == "count":
        mu = 0.4 * truth ** feats[:, 1]  # x1.5 per bar within 300 m
    else:
        d = np.maximum(feats[:, 0], 25.0)  # floored at half a cell, as the model does
        mu = 0.4 * (200.0 / d)  # halving the distance doubles the rate
    counts = rng.poisson(mu).astype(float)
    result = place_risk(grid, counts, [bars], model="poisson", radius_m=300, terms=terms)  # type: ignore[arg-type]
    row = _row(result, "bars")
    assert row["feature"] == feature
    assert row["rr_lo"] <= truth <= row["rr_hi"]  # type: ignore[operator]
    assert result.terms == terms


def test_given_feature_matrix(planted: tuple[Grid, np.ndarray, list[Layer]]) -> None:
    grid, counts, layers = planted
    matrix, names = place_features(grid, layers, radius_m=RADIUS, kinds=("within",))
    given = place_risk(grid, counts, (matrix, names))
    direct = place_risk(grid, counts, layers, radius_m=RADIUS)
    assert given.terms == "given" and given.radius_m is None
    assert given.table["layer"].to_list() == ["markets", "schools"]
    assert given.table["n_features"].to_list() == [None, None]
    np.testing.assert_allclose(
        given.table["relative_risk"].to_numpy(), direct.table["relative_risk"].to_numpy()
    )
    with pytest.raises(InputError, match="feature matrix has shape"):
        place_risk(grid, counts, (matrix[:10], names))
    far = np.column_stack([matrix, np.full(grid.n, np.inf)])
    with pytest.raises(InputError, match="missing or infinite"):
        place_risk(grid, counts, (far, [*names, "x_distance_m"]))


# ---------------------------------------------------------------------------------------------
# Layers the model cannot use, and bad arguments
# ---------------------------------------------------------------------------------------------


def test_layers_that_cannot_be_estimated_are_left_out_with_a_note(
    planted: tuple[Grid, np.ndarray, list[Layer]],
) -> None:
    grid, counts, layers = planted
    markets = layers[0]
    far = _layer("far", np.array([[X0 + 50_000, Y0]]))  # 50 km away
    everywhere = _layer(  # a point every 100 m: every cell is within 200 m of one
        "everywhere",
        np.array([[X0 + i, Y0 + j] for i in range(0, 4001, 100) for j in range(0, 4001, 100)]),
    )
    twin = Layer("twin", markets.lon.copy(), markets.lat.copy())
    # A layer whose surroundings saw no incident: all counts near it set to 0.
    quiet = _layer("quiet", np.array([[X0 + 1000, Y0 + 3900]]))
    near_quiet = place_features(grid, [quiet], radius_m=RADIUS, kinds=("within",))[0][:, 0] > 0
    y = np.where(near_quiet, 0.0, counts)
    result = place_risk(
        grid, y, [markets, far, everywhere, twin, quiet], radius_m=RADIUS, model="poisson"
    )
    assert result.table["layer"].to_list() == ["markets"]
    notes = " | ".join(result.notes)
    assert "layer far left out: none of its 1 feature lies within 200 m" in notes
    assert "everywhere_within_200m left out: every cell of the fit is near" in notes
    assert "twin_within_200m left out: it is a combination of the other layers' terms" in notes
    assert "quiet_within_200m left out: no incident in any of the" in notes


def test_strongly_overlapping_layers_are_kept_and_noted(
    planted: tuple[Grid, np.ndarray, list[Layer]],
) -> None:
    grid, counts, layers = planted
    markets = layers[0]
    # The same places, each 20 m further east: nearly the same cells.
    shifted_x, shifted_y = Transformer.from_crs(4326, UTM15, always_xy=True).transform(
        markets.lon, markets.lat
    )
    stalls = _layer("stalls", np.column_stack([np.asarray(shifted_x) + 20, shifted_y]))
    result = place_risk(grid, counts, [markets, stalls], radius_m=RADIUS)
    assert result.table["layer"].to_list() == ["markets", "stalls"]
    assert any(
        "markets_within_200m and stalls_within_200m overlap strongly" in n for n in result.notes
    )


def test_exposure(planted: tuple[Grid, np.ndarray, list[Layer]]) -> None:
    grid, counts, layers = planted
    exposure = np.ones(grid.n)
    exposure[:100] = 0.0
    result = place_risk(grid, counts, layers, radius_m=RADIUS, exposure=exposure)
    assert result.n_cells == grid.n - 100
    assert result.expected[:100].tolist() == [0.0] * 100
    assert any(n.startswith("100 cells with exposure 0 left out of the fit") for n in result.notes)
    with pytest.raises(InputError, match="exposure must be finite and not negative"):
        place_risk(grid, counts, layers, exposure=-exposure)


def test_bad_arguments(planted: tuple[Grid, np.ndarray, list[Layer]]) -> None:
    grid, counts, layers = planted
    with pytest.raises(InputError, match="counts for a grid of"):
        place_risk(grid, counts[:-1], layers)
    with pytest.raises(InputError, match="no incident"):
        place_risk(grid, np.zeros(grid.n), layers)
    with pytest.raises(InputError, match="finite and not negative"):
        place_risk(grid, -counts, layers)
    with pytest.raises(InputError, match="unknown model"):
        place_risk(grid, counts, layers, model="zip")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="unknown term kind"):
        place_risk(grid, counts, layers, terms="kde")  # type: ignore[arg-type]
    far = _layer("far", np.array([[X0 + 50_000, Y0]]))
    with pytest.raises(InputError, match="no place layer can be estimated"):
        place_risk(grid, counts, [far])


# ---------------------------------------------------------------------------------------------
# End to end on the demo region
# ---------------------------------------------------------------------------------------------


def test_demo_region_layers_end_to_end(tmp_path: Path) -> None:
    from safestreets.demo.layers import LAYERS, write_demo
    from safestreets.demo.region import generate_region
    from safestreets.spatial.events import events_from_incidents

    incidents = pl.concat(
        [c.incidents for c in generate_region(countries=["GT"], incidents=20_000, years=1)]
    )
    events, _ = events_from_incidents(incidents)
    city = events.filter(  # Guatemala City
        pl.col("lon").is_between(-90.62, -90.42) & pl.col("lat").is_between(14.52, 14.70)
    )
    projected = project(city)
    grid, keep = make_grid(projected, cell_size=250.0)
    counts = grid.counts(grid.locate(projected.select(keep)))
    write_demo(tmp_path, countries=["GT"])
    layers = layers_from_dir(tmp_path / "layers")
    assert sorted(la.name for la in layers) == sorted(LAYERS)
    assert layer_from_geojson(
        json.loads((tmp_path / "layers" / "markets.geojson").read_text()), name="m"
    ).n == next(la.n for la in layers if la.name == "markets")

    result = place_risk(grid, counts, layers)
    assert result.model == "negbin" and result.alpha > 0
    assert set(result.table["layer"].to_list()) == set(LAYERS)
    # The demo places market and bar robberies around exactly these markets and bars.
    for layer in ("markets", "bars"):
        assert _row(result, layer)["rr_lo"] > 1  # type: ignore[operator]
    assert result.surface.mean() == pytest.approx(1.0)
    assert "markets_within_375m" in result.summary
