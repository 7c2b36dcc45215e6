"""Prospective hotspotting, the grid self-exciting process and the combined model.

Every answer here is known in advance: hand-computed Bowers weights and a point-by-point
reference, parameters planted in simulated self-exciting processes, the maximum of the
likelihood found by a general optimiser, and a process whose risk is planted in a place feature
and in recent events.
"""

from __future__ import annotations

import json
import math
from datetime import datetime

import numpy as np
import polars as pl
import pytest
from scipy.optimize import minimize
from scipy.special import gammaln

from safestreets.errors import InputError
from safestreets.spatial.combined import CombinedModel, poisson_ridge
from safestreets.spatial.etas import ETASFit, GridETAS, simulate_grid_hawkes
from safestreets.spatial.events import project
from safestreets.spatial.grid import Grid, make_grid
from safestreets.spatial.predict import AllHistory, History, available_models, make_model
from safestreets.spatial.prospective import ProspectiveHotspot, cell_spacing

DAY0 = 19_000.0  # 2022-01-08: times are days since 1970


def _grid(nx: int, ny: int, cell: float = 100.0, h3: int | None = None) -> Grid:
    """A grid over a rectangle of nx x ny cells near Guatemala City (hull of its corners)."""
    anchor = project(
        pl.DataFrame({"occurred_at": [datetime(2024, 1, 1)], "lon": [-90.5], "lat": [14.6]})
    )
    x0 = math.floor(anchor.x[0] / cell) * cell + cell / 2
    y0 = math.floor(anchor.y[0] / cell) * cell + cell / 2
    xs = [x0, x0 + (nx - 1) * cell, x0 + (nx - 1) * cell, x0]
    ys = [y0, y0, y0 + (ny - 1) * cell, y0 + (ny - 1) * cell]
    from pyproj import Transformer

    lon, lat = Transformer.from_crs(anchor.crs, 4326, always_xy=True).transform(xs, ys)
    corners = project(
        pl.DataFrame({"occurred_at": [datetime(2024, 1, 1)] * 4, "lon": lon, "lat": lat}),
        crs=anchor.crs,
    )
    grid, _ = make_grid(corners, cell_size=None if h3 else cell, h3_resolution=h3)
    return grid


def _cell_at(grid: Grid, col: int, row: int) -> int:
    """Active position of the square cell at (col, row) of the raster (row 0 = south)."""
    return int(
        grid.locate_xy(
            [grid.x0 + (col + 0.5) * grid.cell_size], [grid.y0 + (row + 0.5) * grid.cell_size]
        )[0]
    )


def _poisson_loglik(mean: np.ndarray, y: np.ndarray) -> float:
    m = np.maximum(mean, 1e-9)
    return float((y * np.log(m) - m - gammaln(y + 1.0)).sum())


def _random_history(grid: Grid, n: int, seed: int, start: float, end: float) -> History:
    rng = np.random.default_rng(seed)
    return History.build(grid, rng.integers(0, grid.n, n), rng.uniform(start, end, n))


# ---------------------------------------------------------------------------------------------
# Registry and the rules every model keeps
# ---------------------------------------------------------------------------------------------

MODELS = ["prospective", "etas", "combined"]


def test_models_are_registered() -> None:
    names = available_models()
    for name in MODELS:
        assert name in names
    assert isinstance(make_model("prospective", bandwidth_m=300), ProspectiveHotspot)
    assert isinstance(make_model("etas", max_lag_days=60), GridETAS)
    assert isinstance(make_model("combined", windows=4), CombinedModel)


@pytest.mark.parametrize("name", MODELS)
def test_future_events_change_nothing(name: str) -> None:
    grid = _grid(12, 10)
    cutoff = DAY0 + 200.0
    rng = np.random.default_rng(3)
    cells = rng.integers(0, grid.n, 600)
    times = DAY0 + rng.uniform(0.0, 200.0, 600)
    past = History.build(grid, cells, times)
    # Events at and after the cutoff, some in cells with no history at all.
    extra_c = np.concatenate([rng.integers(0, grid.n, 300), [0, 1, 2]])
    extra_t = np.concatenate([cutoff + rng.uniform(0.0, 30.0, 300), [cutoff] * 3])
    full = History.build(grid, np.concatenate([cells, extra_c]), np.concatenate([times, extra_t]))
    a = make_model(name).fit(past, cutoff)
    b = make_model(name).fit(full, cutoff)
    np.testing.assert_array_equal(a.predict(cutoff, cutoff + 7), b.predict(cutoff, cutoff + 7))
    assert a.params == b.params
    json.dumps(a.params)  # JSON-serialisable for reports


@pytest.mark.parametrize("name", MODELS)
def test_no_event_before_the_cutoff_is_refused(name: str) -> None:
    grid = _grid(5, 5)
    history = History.build(grid, [0, 1, 2], [DAY0 + 10, DAY0 + 11, DAY0 + 12])
    with pytest.raises(InputError) as err:
        make_model(name).fit(history, DAY0 + 10)
    assert "no event before the cutoff" in err.value.message
    assert err.value.hint


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("prospective", {"bandwidth_m": -1.0}),
        ("prospective", {"weeks": 0}),
        ("prospective", {"weeks": 2.5}),
        ("etas", {"max_lag_days": 0.0}),
        ("etas", {"days": -5.0}),
        ("etas", {"tol": 2.0}),
        ("combined", {"windows": 0}),
        ("combined", {"decays_days": (0.0, 7.0)}),
        ("combined", {"ridge": -1.0}),
        ("combined", {"no_such_option": 1}),
    ],
)
def test_bad_options_are_refused(name: str, options: dict[str, object]) -> None:
    with pytest.raises(InputError):
        make_model(name, **options)


# ---------------------------------------------------------------------------------------------
# (c) Prospective hotspotting
# ---------------------------------------------------------------------------------------------


def test_prospective_hand_weights() -> None:
    grid = _grid(11, 11)
    centre = _cell_at(grid, 5, 5)
    cutoff = DAY0 + 100.0
    history = History.build(
        grid,
        [centre] * 5,
        # this week (w=0), exactly one week ago (w=1), exactly 8 weeks ago (w=8: too old),
        # older still, and at the cutoff (the future)
        [cutoff - 1.0, cutoff - 7.0, cutoff - 56.0, cutoff - 57.0, cutoff],
    )
    fitted = ProspectiveHotspot(bandwidth_m=200.0, weeks=8).fit(history, cutoff)
    risk = fitted.predict(cutoff, cutoff + 7)
    time_weight = 1.0 + 1.0 / 2.0
    expected = {
        (5, 5): time_weight,  # d = 0
        (6, 5): time_weight / 2.0,  # d = 1
        (6, 6): time_weight / (1.0 + math.sqrt(2.0)),  # d = 1.41
        (5, 7): time_weight / 3.0,  # d = 2, on the bandwidth
        (6, 7): 0.0,  # d = 2.24, beyond it
        (0, 0): 0.0,
    }
    for (col, row), value in expected.items():
        assert risk[_cell_at(grid, col, row)] == pytest.approx(value, abs=1e-12)
    assert np.count_nonzero(risk) == 13  # the cells within 2 cells of the centre
    assert fitted.params["events_used"] == 2


def _bowers_by_hand(
    grid: Grid, history: History, cutoff: float, bandwidth: float, weeks: int
) -> np.ndarray:
    """Bowers et al. point by point: every recent event against every cell."""
    spacing = cell_spacing(grid)
    risk = np.zeros(grid.n)
    for c, t in zip(history.cell.tolist(), history.t.tolist(), strict=True):
        if not cutoff - 7 * weeks <= t < cutoff:
            continue
        w = math.floor((cutoff - t) / 7)
        d = np.hypot(grid.cx - grid.cx[c], grid.cy - grid.cy[c]) / spacing
        risk += np.where(d <= bandwidth / spacing + 1e-9, 1.0 / (1.0 + d) / (1.0 + w), 0.0)
    return risk


@pytest.mark.parametrize(("h3", "bandwidth"), [(None, 400.0), (None, 1500.0), (9, 700.0)])
def test_prospective_matches_point_by_point(h3: int | None, bandwidth: float) -> None:
    grid = _grid(30, 25, h3=h3)
    cutoff = DAY0 + 120.0
    history = _random_history(grid, 400, seed=5, start=DAY0, end=cutoff + 20.0)
    fitted = ProspectiveHotspot(bandwidth_m=bandwidth, weeks=6).fit(history, cutoff)
    expected = _bowers_by_hand(grid, history, cutoff, bandwidth, 6)
    np.testing.assert_allclose(fitted.predict(cutoff, cutoff + 7), expected, rtol=1e-9, atol=1e-9)
    assert fitted.expected_counts is False


def test_prospective_h3_neighbours_are_one_cell_away() -> None:
    grid = _grid(20, 20, h3=9)
    middle = int(np.argmin(np.hypot(grid.cx - grid.cx.mean(), grid.cy - grid.cy.mean())))
    history = History.build(grid, [middle], [DAY0])
    spacing = cell_spacing(grid)
    risk = ProspectiveHotspot(bandwidth_m=1.2 * spacing).fit(history, DAY0 + 1).predict(0, 7)
    ring = grid.neighbours()[middle].indices
    assert risk[middle] == 1.0
    assert len(ring) == 6
    np.testing.assert_allclose(risk[ring], 0.5, rtol=0.03)  # d is 1 cell up to H3 distortion
    assert np.count_nonzero(risk) == 7


def test_prospective_without_recent_events_says_so() -> None:
    grid = _grid(5, 5)
    history = History.build(grid, [3], [DAY0])
    fitted = ProspectiveHotspot(weeks=2).fit(history, DAY0 + 30)
    assert not fitted.predict(0, 7).any()
    assert "no event in the 2 weeks" in fitted.params["notes"][0]


# ---------------------------------------------------------------------------------------------
# (d) Grid self-exciting point process
# ---------------------------------------------------------------------------------------------


def test_etas_recovers_a_planted_process() -> None:
    # 100 cells over four years, about 5,800 events: backgrounds of about 7 events a year per
    # cell, each event triggering 0.5 more in its cell after 5 days on average.
    grid = _grid(10, 10)
    rng = np.random.default_rng(11)
    mu = rng.gamma(2.0, 0.01, size=grid.n)
    cells, times = simulate_grid_hawkes(mu, theta=0.5, omega=0.2, start=0.0, end=1460.0, seed=4)
    history = History.build(grid, cells, DAY0 + times)
    fitted = GridETAS().fit(history, DAY0 + 1460.0)
    p = fitted.params
    assert p["converged"]
    assert p["theta"] == pytest.approx(0.5, rel=0.2)
    assert p["omega_per_day"] == pytest.approx(0.2, rel=0.2)
    assert p["mu_total_per_day"] == pytest.approx(mu.sum(), rel=0.15)
    assert p["events"] == len(cells)


def test_etas_finds_no_excitation_in_a_poisson_process() -> None:
    grid = _grid(10, 10)
    rng = np.random.default_rng(12)
    mu = rng.gamma(2.0, 0.01, size=grid.n)
    cells, times = simulate_grid_hawkes(mu, theta=0.0, omega=0.2, start=0.0, end=1460.0, seed=5)
    fitted = GridETAS().fit(History.build(grid, cells, DAY0 + times), DAY0 + 1460.0)
    assert fitted.params["theta"] < 0.02
    assert fitted.params["mu_total_per_day"] == pytest.approx(mu.sum(), rel=0.1)


def _cut_kernel_loglik(
    cells: np.ndarray, times: np.ndarray, n_cells: int, start: float, end: float, lag: float
):
    """The exact log-likelihood of the cut-kernel grid Hawkes model, written naively."""
    per_cell = [np.sort(times[cells == k]) for k in range(n_cells)]

    def loglik(mu: np.ndarray, theta: float, omega: float) -> float:
        total = 0.0
        for k, tk in enumerate(per_cell):
            dt = tk[:, None] - tk[None, :]
            hit = (dt > 0) & (dt <= lag)
            g = np.where(hit, theta * omega * np.exp(-omega * np.where(hit, dt, 0.0)), 0.0)
            total += np.log(mu[k] + g.sum(axis=1)).sum() - mu[k] * (end - start)
            total -= theta * (1.0 - np.exp(-omega * np.minimum(end - tk, lag))).sum()
        return float(total)

    return loglik


def test_etas_em_reaches_the_maximum_likelihood() -> None:
    # EM with its end-of-window correction must land where a general optimiser of the exact
    # likelihood lands (a short lag makes the cut matter).
    grid = _grid(3, 1)
    cells, times = simulate_grid_hawkes([0.1, 0.2, 0.05], 0.6, 0.3, 0.0, 300.0, seed=8)
    lag = 12.0
    fitted = GridETAS(max_lag_days=lag, tol=1e-10).fit(History.build(grid, cells, times), 300.0)
    start = float(times.min())
    loglik = _cut_kernel_loglik(cells, times, 3, start, 300.0, lag)
    best = minimize(
        lambda v: -loglik(np.exp(v[:3]), math.exp(v[3]), math.exp(v[4])),
        np.log([0.1, 0.1, 0.1, 0.5, 0.2]),
        method="Nelder-Mead",
        options={"xatol": 1e-9, "fatol": 1e-10, "maxiter": 20_000, "maxfev": 20_000},
    )
    assert fitted.params["theta"] == pytest.approx(math.exp(best.x[3]), rel=2e-3)
    assert fitted.params["omega_per_day"] == pytest.approx(math.exp(best.x[4]), rel=2e-3)
    assert fitted.params["log_likelihood"] == pytest.approx(-best.fun, abs=1e-3)
    assert isinstance(fitted, ETASFit)
    floor = 1.0 / (3 * (300.0 - start))  # one pseudo-event over the grid, for predictions
    np.testing.assert_allclose(fitted.mu - floor, np.exp(best.x[:3]), rtol=5e-3)


def test_etas_pairs_skip_ties_other_cells_and_old_events() -> None:
    grid = _grid(3, 1)
    history = History.build(
        grid,
        [0, 0, 0, 0, 1, 1],
        # cell 0: t=1 and its tie t=1 each pair with t=0 only; t=100 is 99 days after them
        [0.0, 1.0, 1.0, 100.0, 0.5, 2.0],
    )
    fitted = GridETAS(max_lag_days=90.0).fit(history, 101.0)
    assert fitted.params["pairs"] == 3
    # Cell 2 has no history: one pseudo-event over the 3 cells and 101 days, not 0.
    assert fitted.predict(101.0, 108.0)[2] == pytest.approx(7.0 / (3 * 101.0))
    with pytest.raises(InputError, match="pairs of events share a cell"):
        GridETAS(max_pairs=2).fit(history, 101.0)


def test_etas_predict_integrates_the_intensity() -> None:
    fit = ETASFit(
        mu=np.array([0.1, 0.0, 0.3]),
        theta=0.5,
        omega=0.25,
        max_lag_days=20.0,
        cutoff=100.0,
        tail_cell=np.array([0, 0, 2]),
        tail_t=np.array([85.0, 99.0, 95.5]),
    )
    # Integrate lambda numerically over [100, 110) with the kernel cut at 20 days.
    grid_t = np.linspace(100.0, 110.0, 400_001)
    expected = np.zeros(3)
    for k in range(3):
        lam = np.full_like(grid_t, fit.mu[k])
        for c, t in zip(fit.tail_cell, fit.tail_t, strict=True):
            if c == k:
                dt = grid_t - t
                lam += np.where(dt <= 20.0, 0.5 * 0.25 * np.exp(-0.25 * dt), 0.0)
        expected[k] = np.trapezoid(lam, grid_t)
    np.testing.assert_allclose(fit.predict(100.0, 110.0), expected, rtol=1e-6)
    np.testing.assert_allclose(
        fit.predict(100.0, 104.0) + fit.predict(104.0, 110.0), fit.predict(100.0, 110.0)
    )
    assert fit.predict(100.0, 100.0).sum() == 0.0


# ---------------------------------------------------------------------------------------------
# (e) The combined model
# ---------------------------------------------------------------------------------------------


def _planted_place_and_excitation(seed: int) -> tuple[History, np.ndarray]:
    """A 40 x 40 grid where risk rises with a place feature and after each event in a cell."""
    grid = _grid(40, 40)
    rng = np.random.default_rng(seed)
    market = rng.normal(size=grid.n)
    mu = 0.004 * np.exp(0.8 * market)
    cells, times = simulate_grid_hawkes(mu, theta=0.4, omega=0.1, start=0.0, end=400.0, seed=seed)
    history = History.build(
        grid, cells, DAY0 + times, features=market[:, None] * 3.0 + 10.0, feature_names=("market",)
    )
    return history, mu


@pytest.mark.parametrize("seed", [0, 1])
def test_combined_learns_place_and_excitation(seed: int) -> None:
    history, _ = _planted_place_and_excitation(seed)
    cutoff = DAY0 + 393.0
    held_out = history.counts(cutoff, cutoff + 7.0)
    fitted = CombinedModel().fit(history, cutoff)
    coef = fitted.params["coefficients"]
    assert coef["place:market"] > 0.2  # planted: +0.8 log rate per standard deviation
    assert coef["recent_cell_14d"] > 0.2  # planted: mean delay of 10 days
    combined = _poisson_loglik(fitted.predict(cutoff, cutoff + 7.0), held_out)
    naive = _poisson_loglik(
        AllHistory().fit(history, cutoff).predict(cutoff, cutoff + 7.0), held_out
    )
    assert combined > naive + 20.0
    assert fitted.expected_counts
    assert 0.0 < fitted.params["deviance_explained"] < 1.0


def test_combined_sampling_of_empty_rows_keeps_calibration() -> None:
    history, _ = _planted_place_and_excitation(2)
    cutoff = DAY0 + 393.0
    full = CombinedModel().fit(history, cutoff)
    sampled = CombinedModel(max_rows=2_000).fit(history, cutoff)
    assert full.params["rows"] == 12 * history.grid.n
    assert sampled.params["rows_sampled"] and sampled.params["rows"] < 4_000
    a = full.predict(cutoff, cutoff + 7.0)
    b = sampled.predict(cutoff, cutoff + 7.0)
    assert b.sum() == pytest.approx(a.sum(), rel=0.1)
    assert np.corrcoef(np.log(a), np.log(b))[0, 1] > 0.95


def test_combined_on_h3_without_features() -> None:
    grid = _grid(25, 25, h3=9)
    history = _random_history(grid, 800, seed=6, start=DAY0, end=DAY0 + 150.0)
    fitted = CombinedModel(windows=6).fit(history, DAY0 + 150.0)
    risk = fitted.predict(DAY0 + 150.0, DAY0 + 157.0)
    assert np.isfinite(risk).all() and (risk > 0).all()
    assert not any(k.startswith("place:") for k in fitted.params["coefficients"])
    # An intercept fitted by likelihood matches the mean weekly count of the training windows.
    assert risk.sum() == pytest.approx(800 / 150 * 7, rel=0.25)


def test_combined_needs_one_window_of_history() -> None:
    grid = _grid(5, 5)
    history = _random_history(grid, 50, seed=7, start=DAY0, end=DAY0 + 10.0)
    with pytest.raises(InputError, match="too little history"):
        CombinedModel().fit(history, DAY0 + 10.0)


def test_poisson_ridge_matches_statsmodels_without_penalty() -> None:
    import statsmodels.api as sm

    rng = np.random.default_rng(9)
    x = np.column_stack([np.ones(3000), rng.normal(size=(3000, 3))])
    weights = rng.choice([1.0, 2.5], size=3000)
    y = rng.poisson(np.exp(x @ np.array([-1.0, 0.5, -0.3, 0.0]) + math.log(7.0))).astype(float)
    ours = poisson_ridge(x, y, weights, offset=math.log(7.0), ridge=0.0)
    ref = sm.GLM(
        y, x, family=sm.families.Poisson(), offset=np.full(3000, math.log(7.0)), var_weights=weights
    ).fit()
    np.testing.assert_allclose(ours.beta, ref.params, atol=1e-6)
    # A penalty shrinks the slopes, not the intercept's calibration: sum of means = sum of y.
    shrunk = poisson_ridge(x, y, weights, offset=math.log(7.0), ridge=500.0)
    assert np.abs(shrunk.beta[1:]).sum() < np.abs(ours.beta[1:]).sum()
    mean = np.exp(x @ shrunk.beta + math.log(7.0))
    assert (weights * mean).sum() == pytest.approx((weights * y).sum(), rel=1e-6)
