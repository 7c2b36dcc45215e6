"""Kernel density by convolution: mass, kernel shape, agreement with the direct sum, adaptivity."""

from __future__ import annotations

import math
from datetime import datetime

import numpy as np
import polars as pl
import pytest
import shapely

from safestreets.errors import InputError
from safestreets.spatial.events import Projected, project
from safestreets.spatial.grid import Grid, make_grid
from safestreets.spatial.kde import GAUSSIAN_TRUNCATION, kde, rule_of_thumb

LON0, LAT0 = -90.5, 14.6  # Guatemala City


def _events(lon: np.ndarray, lat: np.ndarray) -> Projected:
    n = len(lon)
    frame = pl.DataFrame(
        {
            "occurred_at": [datetime(2024, 1, 1)] * n,
            "lon": lon,
            "lat": lat,
            "iccs_code": [None] * n,
            "place_type": [None] * n,
        },
        schema_overrides={"iccs_code": pl.String, "place_type": pl.String},
    )
    return project(frame)


def _square(half_deg: float = 0.05, cell: float = 100.0) -> Grid:
    """A square grid over a box around the city centre (every cell active)."""
    box = shapely.box(LON0 - half_deg, LAT0 - half_deg, LON0 + half_deg, LAT0 + half_deg)
    grid, _ = make_grid(_events(np.array([LON0]), np.array([LAT0])), cell_size=cell, area=box)
    return grid


def _centre(grid: Grid) -> tuple[float, float]:
    """Centre of the active cell nearest the middle of the grid."""
    i = int(np.argmin(np.hypot(grid.cx - grid.cx.mean(), grid.cy - grid.cy.mean())))
    return float(grid.cx[i]), float(grid.cy[i])


def _quartic(d2: np.ndarray, r: float) -> np.ndarray:
    return np.where(d2 < r * r, 3.0 / (math.pi * r * r) * (1.0 - d2 / (r * r)) ** 2, 0.0)


def _gaussian(d2: np.ndarray, s: float) -> np.ndarray:
    return np.exp(-0.5 * d2 / (s * s)) / (2.0 * math.pi * s * s)


@pytest.fixture(scope="module")
def grid() -> Grid:
    return _square()


@pytest.mark.parametrize(
    ("kernel", "adaptive"), [("quartic", False), ("gaussian", False), ("quartic", True)]
)
def test_mass_is_conserved_for_a_cluster_far_from_the_edge(
    grid: Grid, kernel: str, adaptive: bool
) -> None:
    rng = np.random.default_rng(1)
    x0, y0 = _centre(grid)
    x = x0 + rng.normal(0, 300, 500)
    y = y0 + rng.normal(0, 300, 500)
    result = kde(grid, x, y, bandwidth_m=400.0, kernel=kernel, adaptive=adaptive)
    assert result.density @ grid.area_m2 / 1e6 == pytest.approx(500.0, rel=1e-9)
    assert result.expected.sum() == pytest.approx(500.0, rel=1e-9)
    assert result.total_weight == 500.0
    assert (result.density >= 0).all()
    assert result.unit == "events per km²"
    weighted = kde(grid, x, y, bandwidth_m=400.0, kernel=kernel, weights=np.full(500, 2.5))
    assert weighted.expected.sum() == pytest.approx(1250.0, rel=1e-9)


def test_a_single_point_gives_the_quartic_kernel(grid: Grid) -> None:
    px, py = _centre(grid)
    radius = 450.0
    result = kde(grid, [px], [py], bandwidth_m=radius, kernel="quartic")
    d = np.hypot(grid.cx - px, grid.cy - py)
    assert int(np.argmax(result.density)) == int(grid.locate_xy([px], [py])[0])
    half_diag = grid.cell_size / math.sqrt(2.0)
    assert (result.density[d > radius + half_diag] == 0).all()
    assert (result.density[d < radius - half_diag] > 0).all()
    # The shape: cells well inside follow (1 - d²/R²)² relative to the peak.
    inside = d < radius - 1.5 * grid.cell_size
    ratio = result.density[inside] / result.density.max()
    assert ratio == pytest.approx((1 - (d[inside] / radius) ** 2) ** 2, abs=0.05)
    # The peak is the kernel height 3 / (π R²) per m², in events per km².
    assert result.density.max() == pytest.approx(3e6 / (math.pi * radius**2), rel=0.05)
    # Symmetric about the point.
    mirrored = grid.locate_xy(2 * px - grid.cx, 2 * py - grid.cy)
    assert result.density[mirrored] == pytest.approx(result.density, rel=1e-9, abs=1e-12)


def test_gaussian_is_truncated_at_four_sigma(grid: Grid) -> None:
    px, py = _centre(grid)
    sigma = 150.0
    result = kde(grid, [px], [py], bandwidth_m=sigma, kernel="gaussian")
    d = np.hypot(grid.cx - px, grid.cy - py)
    reach = GAUSSIAN_TRUNCATION * sigma
    assert (result.density[d > reach + grid.cell_size] == 0).all()
    assert (result.density[d < reach - grid.cell_size] > 0).all()


@pytest.mark.parametrize(("kernel", "bandwidth"), [("quartic", 600.0), ("gaussian", 250.0)])
def test_convolution_matches_the_point_by_point_sum(kernel: str, bandwidth: float) -> None:
    grid = _square(half_deg=0.02, cell=50.0)
    rng = np.random.default_rng(7)
    x0, y0 = _centre(grid)
    # Two clusters and some scatter, well inside the box.
    x = np.concatenate([x0 + rng.normal(-600, 200, 150), x0 + rng.uniform(-1200, 1200, 150)])
    y = np.concatenate([y0 + rng.normal(300, 150, 150), y0 + rng.uniform(-1200, 1200, 150)])
    result = kde(grid, x, y, bandwidth_m=bandwidth, kernel=kernel)
    d2 = (grid.cx[:, None] - x[None, :]) ** 2 + (grid.cy[:, None] - y[None, :]) ** 2
    f = _quartic(d2, bandwidth) if kernel == "quartic" else _gaussian(d2, bandwidth)
    brute = f.sum(axis=1) * 1e6  # per m² -> per km²
    # Linear binning on 50 m cells against a 250-600 m bandwidth: well under 1% apart.
    assert np.abs(result.density - brute).max() < 0.015 * brute.max()
    assert np.corrcoef(result.density, brute)[0, 1] > 0.999


def test_points_just_off_the_grid_still_count(grid: Grid) -> None:
    # 30 m west of the raster, level with its westernmost active cell.
    edge = int(np.argmin(grid.cx))
    x, y = grid.x0 - 30.0, float(grid.cy[edge])
    assert grid.locate_xy([x], [y])[0] == -1
    result = kde(grid, [x], [y], bandwidth_m=300.0)
    assert result.density[edge] > 0
    assert 0.2 < result.expected.sum() < 0.8  # the rest falls west of the grid
    assert any("outside the active cells" in n for n in result.notes)


def test_projected_events_are_accepted(grid: Grid) -> None:
    rng = np.random.default_rng(3)
    events = _events(LON0 + rng.normal(0, 0.005, 200), LAT0 + rng.normal(0, 0.005, 200))
    from_events = kde(grid, events, bandwidth_m=300.0)
    from_xy = kde(grid, events.x, events.y, bandwidth_m=300.0)
    np.testing.assert_array_equal(from_events.density, from_xy.density)
    with pytest.raises(InputError):
        kde(grid, events, events.y)


def _spread(result_expected: np.ndarray, grid: Grid, x: float, y: float, r: float) -> float:
    """Root mean square distance of the smoothed mass within r of (x, y)."""
    d = np.hypot(grid.cx - x, grid.cy - y)
    near = d < r
    w = result_expected[near]
    return float(np.sqrt((w * d[near] ** 2).sum() / w.sum()))


def test_adaptive_kernels_are_narrower_where_points_are_dense() -> None:
    grid = _square(half_deg=0.09, cell=50.0)
    x0, y0 = _centre(grid)
    rng = np.random.default_rng(11)
    ax, ay = x0 - 5000.0, y0  # dense: 60 points within ~30 m
    x = np.concatenate([ax + rng.normal(0, 30, 60), x0 + rng.uniform(0, 6000, 400)])
    y = np.concatenate([ay + rng.normal(0, 30, 60), y0 + rng.uniform(-3000, 3000, 400)])
    fixed = kde(grid, x, y, bandwidth_m=400.0)
    adaptive = kde(grid, x, y, bandwidth_m=400.0, adaptive=True)
    # Around the dense cluster the mass stays much closer to it ...
    near_a = _spread(adaptive.expected, grid, ax, ay, 2000)
    assert near_a < 0.5 * _spread(fixed.expected, grid, ax, ay, 2000)
    assert adaptive.density.max() > 3 * fixed.density.max()
    # ... while the sparse cloud (10th neighbour ~500 m away) gets wider kernels, which carry
    # more of its mass past the edges of its square.
    region = grid.cx > x0 - 2000
    box = (np.abs(grid.cx - x0 - 3000) < 3000) & (np.abs(grid.cy - y0) < 3000)
    spill_adaptive = adaptive.expected[region & ~box].sum()
    spill_fixed = fixed.expected[region & ~box].sum()
    assert spill_adaptive > 1.3 * spill_fixed
    bands = adaptive.class_bandwidths_m
    assert bands[0] < 100.0 and bands[-1] > 400.0
    assert list(bands) == sorted(bands)
    assert sum(adaptive.class_sizes) == 460
    assert adaptive.expected.sum() == pytest.approx(460.0, rel=1e-6)
    assert any("adaptive" in n for n in adaptive.notes)


def test_rule_of_thumb_is_the_normal_reference_bandwidth() -> None:
    rng = np.random.default_rng(5)
    x, y = rng.normal(0, 1000, 4096), rng.normal(0, 1000, 4096)
    # sigma * n^(-1/6) = 1000 / 4 for the Gaussian; the same variance for the quartic.
    assert rule_of_thumb(x, y, "gaussian") == pytest.approx(250.0, rel=0.05)
    assert rule_of_thumb(x, y, "quartic") == pytest.approx(250.0 * math.sqrt(8), rel=0.05)
    grid = _square(half_deg=0.05)
    result = kde(grid, x + grid.cx.mean(), y + grid.cy.mean(), kernel="gaussian")
    assert result.bandwidth_rule == "normal reference"
    assert result.bandwidth_m == pytest.approx(250.0, rel=0.05)


def test_h3_grid_density_is_read_at_hexagon_centres() -> None:
    rng = np.random.default_rng(2)
    box = shapely.box(LON0 - 0.03, LAT0 - 0.03, LON0 + 0.03, LAT0 + 0.03)
    events = _events(LON0 + rng.normal(0, 0.004, 400), LAT0 + rng.normal(0, 0.004, 400))
    grid, _ = make_grid(events, h3_resolution=9, area=box)
    result = kde(grid, events, bandwidth_m=800.0)
    assert result.expected.sum() == pytest.approx(400.0, rel=0.03)
    d2 = (grid.cx[:, None] - events.x[None, :]) ** 2 + (grid.cy[:, None] - events.y[None, :]) ** 2
    brute = _quartic(d2, 800.0).sum(axis=1) * 1e6
    assert np.abs(result.density - brute).max() < 0.03 * brute.max()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"bandwidth_m": -100.0},
        {"bandwidth_m": 0.0},
        {"bandwidth_m": float("nan")},
        {"kernel": "epanechnikov"},
        {"weights": [1.0, -1.0]},
        {"weights": [1.0]},
        {"adaptive": True, "k_neighbours": 0},
    ],
)
def test_bad_input_is_refused(grid: Grid, kwargs: dict[str, object]) -> None:
    x0, y0 = _centre(grid)
    with pytest.raises(InputError):
        kde(grid, [x0, x0 + 100], [y0, y0], **kwargs)  # type: ignore[arg-type]


def test_no_bandwidth_from_a_single_place_or_no_points(grid: Grid) -> None:
    x0, y0 = _centre(grid)
    with pytest.raises(InputError, match="bandwidth"):
        kde(grid, [x0, x0], [y0, y0])
    with pytest.raises(InputError):
        kde(grid, [], [])
    with pytest.raises(InputError):
        kde(grid, [x0, x0], [y0])
