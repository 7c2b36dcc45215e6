"""Hot spots: planted Gi* clusters, FDR on noise, emerging patterns, Mann-Kendall, concentration."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest
import shapely
from pyproj import CRS
from scipy import sparse, stats

from safestreets.errors import InputError
from safestreets.spatial.events import Projected, day_of
from safestreets.spatial.grid import Grid, make_grid
from safestreets.spatial.hotspots import (
    CATEGORIES,
    _gistar_z,
    _pattern,
    _permutation_counts,
    _permutation_ids,
    assign_to_segments,
    concentration,
    concentration_by_period,
    emerging_hotspots,
    gistar,
    mann_kendall,
)

N = 30  # the test grids are N x N square cells


def lattice(nx: int = N, ny: int = N, cell: float = 100.0) -> Grid:
    """A grid whose active cells are exactly an nx x ny block (one event per cell centre)."""
    x0, y0 = 760_000.0, 1_615_000.0  # UTM 15N, near Guatemala City
    gx, gy = np.meshgrid(x0 + (np.arange(nx) + 0.5) * cell, y0 + (np.arange(ny) + 0.5) * cell)
    x, y = gx.ravel(), gy.ravel()
    frame = pl.DataFrame({"lon": np.zeros(len(x)), "lat": np.zeros(len(x))})
    events = Projected(x, y, np.zeros(len(x)), CRS.from_epsg(32615), frame)
    grid, _ = make_grid(events, cell_size=cell)
    assert (grid.n, grid.nx, grid.ny) == (nx * ny, nx, ny)
    return grid


@pytest.fixture(scope="module")
def grid() -> Grid:
    return lattice()


def ring_distance(r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
    """Chebyshev distance in cells of each raster cell from the block rows r0..r1, cols c0..c1."""
    rr, cc = np.mgrid[0:N, 0:N]
    dr = np.maximum(np.maximum(r0 - rr, rr - r1), 0)
    dc = np.maximum(np.maximum(c0 - cc, cc - c1), 0)
    return np.maximum(dr, dc)


def planted_counts(grid: Grid, seed: int = 1) -> np.ndarray:
    """Poisson(2) everywhere, Poisson(12) in the 4 x 4 block of rows and columns 5..8."""
    rng = np.random.default_rng(seed)
    raster = rng.poisson(2.0, (N, N)).astype(float)
    raster[5:9, 5:9] = rng.poisson(12.0, (4, 4))
    return grid.from_raster(raster)


# ---------------------------------------------------------------------------------------------
# Gi*
# ---------------------------------------------------------------------------------------------


def test_planted_cluster_is_hot_at_99_and_far_cells_are_not(grid: Grid) -> None:
    result = gistar(grid, planted_counts(grid), permutations=0, fdr=True)
    table = result.table
    assert table.height == grid.n
    assert table["cell"].to_list() == grid.labels()
    conf = grid.raster(table["confidence"].to_numpy())
    hot = grid.raster((table["class"] == "hot").to_numpy().astype(float))
    assert (conf[6:8, 6:8] == 99).all()  # the core of the block
    assert (hot[5:9, 5:9] == 1).all()  # the whole block
    assert (grid.raster(table["gi_bin"].to_numpy())[6:8, 6:8] == 3).all()
    far = ring_distance(5, 8, 5, 8) > 2
    assert hot[far].sum() == 0
    assert result.inference == "analytic"


def test_planted_cluster_with_permutations(grid: Grid) -> None:
    counts = planted_counts(grid)
    result = gistar(grid, counts, permutations=999, fdr=False, seed=3)
    table = result.table
    p_sim = grid.raster(table["p_sim"].to_numpy())
    # The smallest two-sided permutation p is 2 / 1000: no permuted neighbourhood beat the core.
    assert np.allclose(p_sim[6:8, 6:8], 0.002)
    assert (grid.raster(table["confidence"].to_numpy())[6:8, 6:8] == 99).all()
    assert result.inference == "permutation"
    assert table["p_value"].to_list() == table["p_sim"].to_list()
    again = gistar(grid, counts, permutations=999, fdr=False, seed=3)
    assert again.table["p_sim"].to_list() == table["p_sim"].to_list()  # reproducible
    # With FDR over 900 cells, 999 permutations cannot reach 5% unless 36 cells share the
    # smallest p; the result says so rather than silently finding nothing.
    with_fdr = gistar(grid, counts, permutations=999, fdr=True, seed=3)
    assert any("at least 36 cells" in n for n in with_fdr.notes)


def test_gistar_z_is_ord_getis_and_matches_esda(grid: Grid) -> None:
    counts = planted_counts(grid, seed=5)
    z_esda = gistar(grid, counts, permutations=0).table["gi_z"].to_numpy()
    # Ord & Getis (1995) by hand for binary weights with the cell itself: sum(w) == sum(w^2).
    w = (grid.neighbours("queen") + sparse.identity(grid.n)).tocsr()
    wi = np.asarray(w.sum(axis=1)).ravel()
    n, mean, sd = grid.n, counts.mean(), counts.std()
    z_hand = (w @ counts - mean * wi) / (sd * np.sqrt((n * wi - wi**2) / (n - 1)))
    assert np.allclose(z_esda, z_hand)
    # The vectorised per-slice version used by emerging_hotspots gives the same numbers.
    z_vec = _gistar_z(grid.neighbours("queen"), np.column_stack([counts, counts[::-1]]))
    assert np.allclose(z_vec[:, 0], z_hand)
    p_norm = gistar(grid, counts, permutations=0).table["p_norm"].to_numpy()
    assert np.allclose(p_norm, 2 * stats.norm.sf(np.abs(z_hand)))  # two-sided


def test_permutation_counts_match_a_brute_force_reference() -> None:
    grid = lattice(6, 6)
    adjacency = grid.neighbours("queen").tocsr()
    y = np.random.default_rng(2).poisson(1.0, grid.n).astype(float)
    ids = _permutation_ids(grid.n, 8, 60, seed=9)
    ge, le = _permutation_counts(adjacency, y, ids)
    for i in range(grid.n):
        neighbours = adjacency.indices[adjacency.indptr[i] : adjacency.indptr[i + 1]]
        others = np.delete(y, i)  # the cell keeps its value; the others are shuffled
        sums = others[ids[:, : len(neighbours)]].sum(axis=1)
        assert ge[i] == (sums >= y[neighbours].sum()).sum()
        assert le[i] == (sums <= y[neighbours].sum()).sum()


@pytest.mark.filterwarnings("ignore:The alternative hypothesis:DeprecationWarning")
def test_permutations_reproduce_esda_and_count_ties_in_both_tails(grid: Grid) -> None:
    import esda
    from esda.crand import vec_permutations
    from libpysal.graph import Graph

    adjacency = grid.neighbours("queen").tocsr()
    y = np.random.default_rng(3).poisson(0.5, grid.n).astype(float)  # sparse: many ties
    permutations = 199
    state = np.random.get_state()
    ids = vec_permutations(8, grid.n, permutations, 11)  # esda's own draws for seed 11
    ref = esda.G_Local(
        y, Graph.from_sparse(adjacency), transform="B", star=True, permutations=permutations,
        seed=11, n_jobs=1, keep_simulations=False,
    )  # fmt: skip
    np.random.set_state(state)
    ge, le = _permutation_counts(adjacency, y, ids)
    upper = ge <= permutations / 2  # where esda's directed p-value looks at the upper tail
    assert np.allclose((ge[upper] + 1) / (permutations + 1), ref.p_sim[upper], atol=1e-6)
    # In the lower tail esda counts only sums below the observed one; ties count here.
    ours = (le[~upper] + 1) / (permutations + 1)
    assert (ours >= ref.p_sim[~upper] - 1e-6).all()
    assert (ours > ref.p_sim[~upper] + 1e-6).any()


def test_permutation_p_values_hold_their_level_on_sparse_noise(grid: Grid) -> None:
    flagged = 0
    for seed in range(3):
        y = np.random.default_rng(seed).poisson(0.3, grid.n).astype(float)
        table = gistar(grid, y, permutations=199, fdr=False, seed=seed).table
        flagged += int((table["class"] != "not significant").sum())
    assert flagged <= 0.05 * 3 * grid.n  # two-sided 5%, ties counted: at most nominal


def test_fdr_removes_false_positives_on_homogeneous_noise(grid: Grid) -> None:
    unadjusted = adjusted = 0
    for seed in range(3):
        y = np.random.default_rng(100 + seed).poisson(3.0, grid.n).astype(float)
        raw = gistar(grid, y, permutations=0, fdr=False).table
        fdr = gistar(grid, y, permutations=0, fdr=True).table
        unadjusted += int((raw["class"] != "not significant").sum())
        adjusted += int((fdr["class"] != "not significant").sum())
        assert (fdr["q_value"] >= fdr["p_value"]).all()
    assert unadjusted >= 60  # about 5% of 3 x 900 tests, in blobs
    assert adjusted <= 3


def test_islands_do_not_crash_and_are_noted() -> None:
    full = lattice(10, 10)
    r, c = np.divmod(np.arange(full.n), 10)
    lonely = (r == 5) & (c == 5)
    ring = (abs(r - 5) <= 1) & (abs(c - 5) <= 1) & ~lonely
    keep = ~ring
    index = full.index[keep]
    lookup = np.full(full.nx * full.ny, -1, dtype=np.int64)
    lookup[index] = np.arange(len(index))
    grid = Grid(
        kind="square",
        crs=full.crs,
        cell_size=full.cell_size,
        resolution=None,
        index=index,
        cx=full.cx[keep],
        cy=full.cy[keep],
        area_m2=full.area_m2[keep],
        x0=full.x0,
        y0=full.y0,
        nx=full.nx,
        ny=full.ny,
        _lookup=lookup,
    )
    counts = np.ones(grid.n)
    counts[0] = 5.0
    island = int(lookup[5 * 10 + 5])
    counts[island] = 50.0
    result = gistar(grid, counts, permutations=99)
    row = result.table.row(island, named=True)
    assert row["gi_z"] is None and row["p_sim"] is None and row["q_value"] is None
    assert row["class"] == "not significant" and row["confidence"] == 0
    assert result.table["gi_z"].null_count() == 1
    assert any("1 cells without a neighbour" in n for n in result.notes)


def test_gistar_refuses_bad_input(grid: Grid) -> None:
    with pytest.raises(InputError, match="counts for a grid"):
        gistar(grid, np.ones(5))
    with pytest.raises(InputError, match="not negative"):
        gistar(grid, -np.ones(grid.n))
    with pytest.raises(InputError, match="no event"):
        gistar(grid, np.zeros(grid.n))
    with pytest.raises(InputError, match="alpha"):
        gistar(grid, np.ones(grid.n), alpha=5)
    with pytest.raises(InputError, match="permutations"):
        gistar(grid, np.ones(grid.n), permutations=-1)
    flat = gistar(grid, np.ones(grid.n), permutations=0)
    assert (flat.table["class"] == "not significant").all()


# ---------------------------------------------------------------------------------------------
# Mann-Kendall
# ---------------------------------------------------------------------------------------------


def brute_mann_kendall(x: np.ndarray) -> tuple[float, float]:
    t = len(x)
    s = sum(np.sign(x[j] - x[i]) for i in range(t) for j in range(i + 1, t))
    _, sizes = np.unique(x, return_counts=True)
    var = (t * (t - 1) * (2 * t + 5) - sum(g * (g - 1) * (2 * g + 5) for g in sizes)) / 18
    return float(s), float(var)


def test_mann_kendall_matches_brute_force_and_scipy() -> None:
    rng = np.random.default_rng(4)
    series = np.array(
        [
            np.arange(12, dtype=float),  # strictly increasing
            np.arange(12, dtype=float)[::-1],  # strictly decreasing
            [1, 1, 2, 2, 2, 3, 1, 4, 4, 5, 5, 5],  # ties
            rng.normal(size=12),  # noise
            rng.integers(0, 3, size=12).astype(float),  # many ties
            [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
        ]
    )
    mk = mann_kendall(series)
    mk_raw = mann_kendall(series, continuity=False)
    for k, x in enumerate(series):
        s, var = brute_mann_kendall(x)
        assert mk.s[k] == s
        assert mk.var_s[k] == pytest.approx(var)
        # Without the continuity correction, z and p are scipy's asymptotic Kendall tau
        # between time and the series (time has no ties, so the variances agree).
        ref = stats.kendalltau(np.arange(len(x)), x, method="asymptotic")
        assert mk_raw.p[k] == pytest.approx(ref.pvalue, rel=1e-9)
        assert mk.z[k] == pytest.approx((s - np.sign(s)) / np.sqrt(var))
    assert mk.z[0] > 4 and mk.z[1] < -4
    constant = mann_kendall(np.full((2, 8), 3.0))
    assert (constant.z == 0).all() and (constant.p == 1).all()
    with_nan = mann_kendall(np.array([[1.0, np.nan, 3.0, 4.0, 5.0], [1, 2, 3, 4, 5]]))
    assert np.isnan(with_nan.z[0]) and with_nan.z[1] > 0


# ---------------------------------------------------------------------------------------------
# Emerging hot spots
# ---------------------------------------------------------------------------------------------

T = 12
DAY0 = 19_000.0  # days since 1970-01-01 (2022-01-08)
BLOCKS = {  # top-left corner of each planted 3 x 3 block
    "persistent hot spot": (3, 3),
    "intensifying hot spot": (3, 20),
    "new hot spot": (20, 3),
    "historical hot spot": (20, 20),
    "diminishing hot spot": (12, 12),
}


@pytest.fixture(scope="module")
def planted_events(grid: Grid) -> tuple[np.ndarray, np.ndarray]:
    """Weekly events, Poisson(1) per cell and week, with five 3 x 3 blocks that behave."""
    rate = np.ones((T, N, N))
    for t in range(T):
        rate[t, 3:6, 3:6] = 6.0  # there all along
        rate[t, 3:6, 20:23] = 3.0 + 9.0 * t / (T - 1)  # growing from 3 to 12
        rate[t, 12:15, 12:15] = 14.0 - 9.0 * t / (T - 1)  # shrinking from 14 to 5
        if t == T - 1:
            rate[t, 20:23, 3:6] = 8.0  # only in the last week
        else:
            rate[t, 20:23, 20:23] = 6.0  # gone in the last week
    counts = np.random.default_rng(7).poisson(rate)
    raster_pos = grid.from_raster(np.arange(N * N).reshape(N, N)).astype(np.int64)
    position = np.empty(N * N, dtype=np.int64)
    position[raster_pos] = np.arange(grid.n)  # raster index -> active-cell position
    cells, times = [], []
    for t in range(T):
        c = np.repeat(position[np.arange(N * N)], counts[t].ravel())
        cells.append(c)
        times.append(DAY0 + 7 * t + np.random.default_rng(t).uniform(0, 7, len(c)))
    return np.concatenate(cells), np.concatenate(times)


def test_emerging_categories_of_planted_patterns(
    grid: Grid, planted_events: tuple[np.ndarray, np.ndarray]
) -> None:
    cell, t = planted_events
    result = emerging_hotspots(grid, cell, t, slice_days=7, start=DAY0, end=DAY0 + 7 * T)
    table = result.table
    assert table.height == grid.n
    assert set(table["category"].unique()) <= set(CATEGORIES)
    category = table["category"].to_numpy().reshape(N, N)
    for name, (r0, c0) in BLOCKS.items():
        assert category[r0 + 1, c0 + 1] == name, name  # the centre of each block
    raster_row = {name: (r0 + 1) * N + c0 + 1 for name, (r0, c0) in BLOCKS.items()}
    grow = table.row(raster_row["intensifying hot spot"], named=True)
    assert grow["trend"] == "up" and grow["n_hot_slices"] == T and grow["mk_p"] < 0.01
    assert table.row(raster_row["diminishing hot spot"], named=True)["trend"] == "down"
    new = table.row(raster_row["new hot spot"], named=True)
    assert new["n_hot_slices"] == 1 and new["final_hot"]
    old = table.row(raster_row["historical hot spot"], named=True)
    assert not old["final_hot"] and old["n_hot_slices"] == T - 1
    # Cells three or more cells away from every block show no pattern.
    near = np.zeros((N, N), dtype=bool)
    for r0, c0 in BLOCKS.values():
        near |= ring_distance(r0, r0 + 2, c0, c0 + 2) < 3
    assert (category[~near] == "no pattern").all()
    # The per-slice z matrix is there for maps, and agrees with the table.
    assert result.z.shape == (grid.n, T) and result.significant.shape == (grid.n, T)
    assert np.allclose(result.z[:, -1], table["final_z"].to_numpy())
    flagged = (table["n_hot_slices"] + table["n_cold_slices"]).to_numpy()
    assert (np.abs(result.significant).sum(axis=1) == flagged).all()
    assert result.slice_start[0] == DAY0 and result.slice_start[-1] == DAY0 + 7 * (T - 1)


def test_pattern_rules_on_hand_made_series() -> None:
    rows = {  # hot slices (1) of ten, cold slices (-1), and the trend: +1 up, -1 down, 0 none
        "new": ([0] * 9 + [1], 0),
        "consecutive": ([0] * 7 + [1, 1, 1], 0),
        "intensifying": ([1] * 10, 1),
        "persistent": ([1] * 10, 0),
        "diminishing": ([1] * 10, -1),
        "sporadic": ([1, 0, 1, 0, 0, 1, 0, 0, 0, 1], 0),
        "oscillating": ([0, 0, -1, 0, 0, 0, 0, 0, 1, 1], 0),
        "historical": ([1] * 9 + [0], 0),
        "": ([0, 1, 1, 0, 0, 0, 0, 0, 0, 0], 0),  # hot a while ago, not now: no pattern
    }
    marks = np.array([r[0] for r in rows.values()])
    trend = np.array([r[1] for r in rows.values()])
    got = _pattern(marks == 1, marks == -1, trend > 0, trend < 0)
    assert got.tolist() == list(rows)
    # "90%" is nine of ten slices: one missing slice before the final one is still persistent.
    assert _pattern(np.array([[1] * 4 + [0] + [1] * 5]) == 1, np.zeros((1, 10), bool),
                    np.zeros(1, bool), np.zeros(1, bool)).tolist() == ["persistent"]  # fmt: skip


def test_emerging_slices_end_with_the_data(
    grid: Grid, planted_events: tuple[np.ndarray, np.ndarray]
) -> None:
    cell, t = planted_events
    # Without start/end, slices run back from the day after the last event: 84 days make 16
    # slices of 5 days, and the events of the 4 days before them are left out, with a note.
    result = emerging_hotspots(grid, cell, t, slice_days=5)
    assert len(result.slice_start) == 16
    assert result.slice_start[-1] + 5 == np.floor(t.max()) + 1 == DAY0 + 7 * T
    assert result.slice_start[0] == DAY0 + 4
    left_out = int((t < DAY0 + 4).sum())
    assert f"{left_out:,} events before the first whole 5-day slice left out" in result.notes[0]
    assert result.table["events"].sum() == len(t) - left_out
    # Dates work as well as day numbers.
    first = date(1970, 1, 1) + timedelta(days=DAY0)
    dated = emerging_hotspots(grid, cell, t, start=first, end=first + timedelta(days=7 * T))
    numbered = emerging_hotspots(grid, cell, t, start=DAY0, end=DAY0 + 7 * T)
    assert dated.table.equals(numbered.table)
    with pytest.raises(InputError, match="whole slices"):
        emerging_hotspots(grid, cell, t, slice_days=30)
    with pytest.raises(InputError, match="one of each"):
        emerging_hotspots(grid, cell[:5], t)


def test_emerging_with_permutations_runs_and_notes_resolution(
    grid: Grid, planted_events: tuple[np.ndarray, np.ndarray]
) -> None:
    cell, t = planted_events
    result = emerging_hotspots(
        grid, cell, t, start=DAY0, end=DAY0 + 7 * T, permutations=99, fdr=False
    )
    category = result.table["category"].to_numpy().reshape(N, N)
    assert category[4, 4] == "persistent hot spot"
    noted = emerging_hotspots(grid, cell, t, start=DAY0, end=DAY0 + 7 * T, permutations=19)
    assert any("in each slice" in n for n in noted.notes)


# ---------------------------------------------------------------------------------------------
# Concentration
# ---------------------------------------------------------------------------------------------


def test_concentration_hand_examples() -> None:
    one = concentration([10] + [0] * 9)
    assert (one.events, one.units) == (10, 10)
    assert one.share_25 == pytest.approx(0.1) and one.share_50 == pytest.approx(0.1)
    assert one.gini == pytest.approx(0.9)  # (n - 1) / n: all events in one of n units
    assert one.gini_generalized == pytest.approx(0.9)  # as many events as units
    # Examples of Bernasco & Steenbeek's lorenzgini package (biased versions).
    assert concentration([10, 8, 2] + [0] * 7).gini == pytest.approx(0.78)
    sparse_case = concentration([5, 2, 1] + [0] * 7)  # 8 events, 10 units
    assert sparse_case.gini == pytest.approx(0.8)
    assert sparse_case.gini_generalized == pytest.approx(0.75)
    # One event in each of N units out of n: as even as N events can be.
    spread = concentration([1] * 4, n_units=10)
    assert spread.gini == pytest.approx(0.6) and spread.gini_generalized == pytest.approx(0.0)
    # 4, 3, 2, 1 of 10 events: 25% needs the first unit, 50% the first two.
    steps = concentration([1, 4, 2, 3])
    assert (steps.share_25, steps.share_50) == (0.25, 0.5)
    padded = concentration([1, 4, 2, 3], n_units=8)  # zero-count units count
    assert (padded.share_25, padded.share_50) == (0.125, 0.25)
    even = concentration([1] * 10)
    assert even.gini == pytest.approx(0.0)
    assert (even.share_25, even.share_50) == (0.3, 0.5)
    empty = concentration([0, 0, 0])
    assert np.isnan(empty.gini) and np.isnan(empty.share_50)
    with pytest.raises(InputError):
        concentration([1, 2, 3], n_units=2)
    with pytest.raises(InputError):
        concentration([1, -2])


def test_concentration_by_period_months_and_days() -> None:
    jan, feb, apr = day_of(date(2024, 1, 15)), day_of(date(2024, 2, 3)), day_of(date(2024, 4, 30))
    unit = [0, 0, 0, 0, 1, 2, 3, 4, 5, -1]
    t = [jan] * 4 + [feb] * 4 + [apr, apr]
    frame = concentration_by_period(unit, t, 10, period="month")
    assert frame["period"].to_list() == ["2024-01", "2024-02", "2024-03", "2024-04"]
    assert frame["start"].to_list()[0] == date(2024, 1, 1)
    assert frame["events"].to_list() == [4, 4, 0, 1]  # the -1 event has no unit
    jan_row = frame.row(0, named=True)
    assert jan_row["share_50"] == pytest.approx(0.1) and jan_row["gini"] == pytest.approx(0.9)
    assert frame.row(1, named=True)["gini_generalized"] == pytest.approx(0.0)
    assert frame.row(2, named=True)["gini"] is None  # March: no event
    years = concentration_by_period(unit, t, 10, period="year")
    assert years["period"].to_list() == ["2024"] and years["events"].to_list() == [9]
    weeks = concentration_by_period(unit, t, 10, period=7.0, start=jan)
    assert weeks["start"].to_list()[0] == date(2024, 1, 15)
    assert weeks["events"].sum() == 9
    with pytest.raises(InputError, match="unknown period"):
        concentration_by_period(unit, t, 10, period="decade")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="beyond"):
        concentration_by_period([10], [jan], 10)


def test_assign_to_segments_on_a_tiny_street_network() -> None:
    streets = [
        shapely.LineString([(0, 0), (100, 0)]),  # 0: a street along y = 0
        shapely.LineString([(0, 50), (100, 50)]),  # 1: a parallel one 50 m north
        shapely.LineString([(200, 0), (200, 100)]),  # 2: a cross street further east
    ]
    x = [10.0, 10.0, 195.0, 150.0, 90.0, np.nan]
    y = [5.0, 45.0, 60.0, 25.0, 20.0, 1.0]
    seg = assign_to_segments(x, y, streets, max_distance=20.0)
    # (150, 25) is 50 m from the cross street and 56 m from the others: beyond 20 m.
    assert seg.tolist() == [0, 1, 2, -1, 0, -1]
    assert assign_to_segments(x, y, streets, max_distance=60.0)[3] == 2
    counts = np.bincount(seg[seg >= 0], minlength=len(streets))
    conc = concentration(counts)
    assert conc.units == 3 and conc.events == 4
    assert conc.share_50 == pytest.approx(1 / 3)  # street 0 holds 2 of 4 events
    with pytest.raises(InputError):
        assign_to_segments(x, y, streets, max_distance=0)
