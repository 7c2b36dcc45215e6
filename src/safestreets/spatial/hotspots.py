"""Hot spots: Getis-Ord Gi*, emerging hot spots over time, and crime concentration.

Getis-Ord Gi* (:func:`gistar`)
    For each cell, the sum of the counts in the cell and its neighbours compared with what the
    same number of cells would hold on average (Getis & Ord 1992; Ord & Getis 1995). The z-score
    is positive where high counts cluster (hot spot) and negative where low counts do (cold
    spot). The statistic comes from ``esda.G_Local`` with ``star=True`` (the cell counts in its
    own neighbourhood: Gi*, not Gi) and *binary* weights (``transform="B"``): esda's analytic
    moments use ``sum(w_ij)`` where the Ord-Getis variance needs ``sum(w_ij**2)``, which is the
    same number only for 0/1 weights, so with row-standardised weights (``"R"``, esda's default)
    the analytic z-scores are mis-scaled (measured: 1.5 instead of 4.5 for a planted cluster).

Two p-values, two-sided like ArcGIS's confidence bins (99% = ``|z| > 2.58``)
    ``p_norm`` is the normal approximation. ``p_sim`` comes from esda's conditional
    randomisation: the cell keeps its own count and its neighbours are replaced by as many
    other cells drawn at random; the p-value is twice the smaller tail, ties with the observed
    sum counted as at least as extreme in both tails. The permutations are run here, vectorised
    over cells, rather than by esda: esda's loop costs n squared and undercounts ties in the
    lower tail (see :func:`_permutation_counts`; its hot-side counts are reproduced exactly).
    Conditioning means the permutation test asks whether the *neighbours* are unusually high
    given the cell: a single busy cell amid quiet ones is a hot spot for the analytic test but
    not for the permutation test. On sparse counts the analytic p-values lean the other way:
    the sums are right-skewed, so ``p_norm`` finds too many hot and too few cold cells on noise
    (5.5% hot and no cold at a nominal 2.5% each on Poisson(0.3) noise). The smallest ``p_sim``
    is ``2 / (permutations + 1)``. The p-value used for the classes (``p_value``) is ``p_sim``
    when permutations are run, ``p_norm`` otherwise.

False discovery rate
    A grid tests every cell at once: 60,000 tests at 5% flag about 3,000 cells on pure noise,
    and spatial smoothing makes the false positives come in convincing blobs. With
    ``fdr=True`` the cells' p-values are adjusted with Benjamini-Hochberg (``q_value``), which
    keeps the expected share of false hot and cold spots among those flagged at ``alpha``.
    A cell is then hot or cold when ``q_value <= alpha`` and has confidence 99/95/90 when
    ``q_value`` is at most 0.01/0.05/0.10 (BH rejects at level a exactly the cells whose
    adjusted p is at most a, so these are ArcGIS's FDR-corrected Gi_Bin levels). With
    permutations the resolution of ``p_sim`` limits FDR: over m cells at least
    ``m * p_min / alpha`` cells must reach the smallest p before any is significant (2,416 of
    60,000 cells with 999 permutations; 242 with 9,999), and the result says so in its notes.
    Cells without a neighbour (islands) get no Gi* (null in the table, not tested).

Emerging hot spots (:func:`emerging_hotspots`)
    ESRI's Emerging Hot Spot Analysis on a grid: Gi* in each time slice (significance per slice,
    with FDR over the cells of that slice), a Mann-Kendall trend test on each cell's series of
    Gi* z-scores, and one of ESRI's categories per cell (see :data:`CATEGORIES`). Unlike ESRI,
    neighbours are spatial only (ESRI also counts the same cells in earlier slices by default).

Concentration (:func:`concentration`, :func:`concentration_by_period`)
    The share of units (cells, or street segments via :func:`assign_to_segments`) that hold 25%
    and 50% of the events, and the Gini coefficient with the generalised version of Bernasco
    & Steenbeek (2017) for when there are fewer events than units.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Final, Literal, NamedTuple

import numpy as np
import numpy.typing as npt
import polars as pl
from scipy import sparse, stats

from safestreets.errors import InputError
from safestreets.spatial.events import day_of

if TYPE_CHECKING:
    from shapely.geometry.base import BaseGeometry

    from safestreets.spatial.grid import Grid

__all__ = [
    "CATEGORIES",
    "Concentration",
    "EmergingHotspots",
    "GiStar",
    "MannKendall",
    "assign_to_segments",
    "concentration",
    "concentration_by_period",
    "emerging_hotspots",
    "gistar",
    "mann_kendall",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
Contiguity = Literal["queen", "rook"]

#: Emerging hot spot categories (ESRI's pattern names), hot then cold, then "no pattern".
CATEGORIES: Final = (
    *(
        f"{p} {s} spot"
        for s in ("hot", "cold")
        for p in (
            "new",
            "consecutive",
            "intensifying",
            "persistent",
            "diminishing",
            "sporadic",
            "oscillating",
            "historical",
        )
    ),
    "no pattern",
)
#: Confidence levels of the Gi_Bin classes and the p (or q) they need.
_LEVELS: Final = ((99, 0.01), (95, 0.05), (90, 0.10))
_EPOCH: Final = datetime(1970, 1, 1)
_FIGURES: Final = ("share_25", "share_50", "gini", "gini_generalized")


# ---------------------------------------------------------------------------------------------
# Gi*
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GiStar:
    """The outcome of :func:`gistar`.

    Attributes:
        table: One row per active cell (grid order): ``cell`` (label), ``count``, ``gi_z``,
            ``p_norm``, ``p_sim`` (null without permutations), ``p_value`` (the one used),
            ``q_value`` (Benjamini-Hochberg adjusted ``p_value``), ``class`` ("hot", "cold",
            "not significant"), ``confidence`` (99, 95, 90 or 0) and ``gi_bin`` (ArcGIS style,
            -3..3: the signed confidence level).
        inference: ``"permutation"`` or ``"analytic"`` (which p-value the classes use).
        permutations: Number of permutations (0 for analytic).
        alpha: Significance level of ``class``.
        fdr: Whether ``class`` and ``confidence`` use the FDR-adjusted ``q_value``.
        notes: Plain-language remarks (islands, the permutation resolution, ...).
    """

    table: pl.DataFrame
    inference: Literal["permutation", "analytic"]
    permutations: int
    alpha: float
    fdr: bool
    notes: tuple[str, ...]


def _check_alpha(alpha: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise InputError(f"alpha must lie between 0 and 1 (got {alpha})", hint="e.g. 0.05")


def _check_permutations(permutations: int) -> int:
    if int(permutations) != permutations or permutations < 0:
        raise InputError(
            f"permutations must be a whole number, 0 or more (got {permutations})",
            hint="999 is usual; 0 uses the normal approximation",
        )
    return int(permutations)


def _bh(p: FloatArray) -> FloatArray:
    """Benjamini-Hochberg adjusted p-values; NaN (untested cells) stay NaN and do not count."""
    from statsmodels.stats.multitest import multipletests

    q = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    if ok.any():
        q[ok] = multipletests(p[ok], method="fdr_bh")[1]
    return q


def _confidence(m: FloatArray) -> IntArray:
    conf = np.zeros(m.shape, dtype=np.int64)
    for level, cut in reversed(_LEVELS):
        conf[np.nan_to_num(m, nan=1.0) <= cut] = level
    return conf


def _resolution_note(permutations: int, tested: int, alpha: float) -> str:
    """Why FDR over permutation p-values may flag nothing ("" when it can flag one cell)."""
    p_min = min(1.0, 2.0 / (permutations + 1))
    need = math.ceil(p_min * tested / alpha)
    if need <= 1:
        return ""
    return (
        f"with {permutations:,} permutations the smallest p-value is {p_min:.4g}; with FDR over "
        f"{tested:,} cells no cell is significant at {alpha:g} unless at least {need:,} cells "
        "reach it (more permutations, or permutations=0 for analytic p-values, find smaller "
        "clusters)"
    )


def _esda_z(y: FloatArray, adjacency: sparse.csr_matrix) -> FloatArray:
    """Gi* z-scores from esda (binary weights, the cell included)."""
    import esda
    from libpysal.graph import Graph

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        # The Graph API builds from a sparse matrix in ~0.1 s for 60,000 cells; the older W
        # takes ~1.5 s of Python dictionaries for the same.
        lg = esda.G_Local(y, Graph.from_sparse(adjacency), transform="B", star=True, permutations=0)
    return np.asarray(lg.Zs, dtype=np.float64)


def _permutation_ids(n: int, k: int, permutations: int, seed: int) -> IntArray:
    """For each permutation, k distinct positions among the n - 1 cells other than a given one."""
    if n - 1 < k:
        raise InputError(f"{n} cells are too few for permutations", hint="use permutations=0")
    rng = np.random.default_rng(seed)
    out = np.empty((permutations, k), dtype=np.int64)
    for r in range(permutations):
        out[r] = rng.choice(n - 1, size=k, replace=False)
    return out


def _permutation_counts(
    adjacency: sparse.csr_matrix, y: FloatArray, ids: IntArray
) -> tuple[IntArray, IntArray]:
    """How many permutations give each cell a neighbour sum >= and <= the observed one.

    This is esda's conditional randomisation of Gi* (``esda.crand``): the cell keeps its own
    value and its k neighbours are replaced by k distinct other cells, drawn with one row of
    ``ids`` per permutation shared by all cells (positions among the n - 1 cells other than the
    one tested). Given esda's ids the upper-tail counts are esda's exactly (a test checks it).
    It is done here, vectorised over cells, for two reasons measured on this machine:

    - esda builds an n-long mask for every cell, so its cost grows with n squared (15 s for
      60,000 cells and 999 permutations under load, where this takes 1.5 s; with numba about
      the same after a 35 s compilation);
    - esda reports one directed p-value whose lower tail counts ties with the observed sum as
      less extreme: with sparse integer counts ties are common and cold-spot p-values come out
      too small (9% of cells "cold" at a nominal 2.5% on Poisson(0.3) noise). Both tails here
      count ties as at least as extreme, as a permutation p-value should.
    """
    a = adjacency.tocsr()
    n = len(y)
    k = np.diff(a.indptr)
    observed = a @ y  # the cell's own value is the same in every permutation: leave it out
    tol = 1e-9 * np.maximum(1.0, np.abs(observed))  # sums of non-integers in another order
    cells = np.arange(n)
    after = np.append(y[1:], 0.0)  # position j among the others is cell j, or j + 1 past i
    short = [k <= m for m in range(ids.shape[1])]
    ge = np.zeros(n, dtype=np.int64)
    le = np.zeros(n, dtype=np.int64)
    block = max(1, (1 << 20) // max(n, 1))  # permutations per pass: about 8 MB per array
    for b0 in range(0, ids.shape[0], block):
        rows = ids[b0 : b0 + block]
        total = np.zeros((len(rows), n))
        for m in range(rows.shape[1]):
            col = rows[:, m : m + 1]
            vals = np.where(col < cells, y[col], after[col])
            vals[:, short[m]] = 0.0  # cells with fewer than m + 1 neighbours
            total += vals
        ge += (total >= observed - tol).sum(axis=0)
        le += (total <= observed + tol).sum(axis=0)
    return ge, le


def _gistar_p_sim(
    adjacency: sparse.csr_matrix, y: FloatArray, permutations: int, seed: int
) -> FloatArray:
    """Two-sided conditional-permutation p-values: twice the smaller tail, at most 1."""
    kmax = int(np.diff(adjacency.tocsr().indptr).max())
    ids = _permutation_ids(len(y), kmax, permutations, seed)
    ge, le = _permutation_counts(adjacency, y, ids)
    return np.minimum(1.0, 2.0 * (np.minimum(ge, le) + 1.0) / (permutations + 1.0))


def gistar(
    grid: Grid,
    counts: npt.ArrayLike,
    *,
    permutations: int = 999,
    alpha: float = 0.05,
    fdr: bool = True,
    contiguity: Contiguity = "queen",
    seed: int = 0,
) -> GiStar:
    """Getis-Ord Gi* hot and cold spots of counts on a grid.

    Every cell is tested at once, so by default significance is judged on Benjamini-Hochberg
    adjusted p-values (false discovery rate): without it, thousands of simultaneous tests at
    5% flag hundreds of cells on data with no hot spot at all (see the module docstring).

    Args:
        grid: The grid.
        counts: One value per active cell (``grid.counts(...)``), non-negative.
        permutations: Conditional permutations for ``p_sim`` (0 = analytic p-values only).
        alpha: Significance level for the hot/cold class.
        fdr: Judge significance on FDR-adjusted p-values (``q_value``).
        contiguity: ``"queen"`` (8 neighbours) or ``"rook"`` (4) on square grids; H3 cells
            always use the 6 around them.
        seed: Seed of the permutations (results are reproducible).

    Returns:
        The table per cell and notes (:class:`GiStar`).

    Raises:
        InputError: Counts of the wrong length, negative or missing; no event; bad options.
    """
    y = np.asarray(counts, dtype=np.float64).ravel()
    if len(y) != grid.n:
        raise InputError(
            f"{len(y):,} counts for a grid of {grid.n:,} cells",
            hint="give one count per active cell, e.g. grid.counts(grid.locate(events))",
        )
    if not np.isfinite(y).all() or (y < 0).any():
        raise InputError("counts must be finite and not negative")
    if y.sum() <= 0:
        raise InputError("no event on the grid: there is nothing to find hot spots in")
    _check_alpha(alpha)
    perms = _check_permutations(permutations)
    adjacency = grid.neighbours(contiguity)
    islands = np.diff(adjacency.tocsr().indptr) == 0
    notes: list[str] = []
    if islands.all():
        raise InputError(
            "no cell of the grid has a neighbour",
            hint="use smaller cells or a study area without gaps",
        )
    if islands.any():
        notes.append(
            f"{int(islands.sum()):,} cells without a neighbour (islands) have no Gi* and are "
            "never hot or cold"
        )
    if np.ptp(y) == 0:
        z = np.zeros(grid.n)
        p_sim: FloatArray | None = np.ones(grid.n) if perms else None
        notes.append("every cell holds the same count: no hot or cold spot is possible")
    else:
        z = _esda_z(y, adjacency)
        p_sim = _gistar_p_sim(adjacency, y, perms, seed) if perms else None
    p_norm = 2.0 * stats.norm.sf(np.abs(z))
    z[islands] = np.nan
    p_norm[islands] = np.nan
    if p_sim is not None:
        p_sim[islands] = np.nan
    p = p_sim if p_sim is not None else p_norm
    q = _bh(p)
    m = q if fdr else p
    if perms and fdr:
        note = _resolution_note(perms, int((~islands).sum()), alpha)
        if note:
            notes.append(note)
    sig = np.nan_to_num(m, nan=1.0) <= alpha
    cls = np.where(sig & (z > 0), "hot", np.where(sig & (z < 0), "cold", "not significant"))
    conf = _confidence(m)
    gi_bin = (np.sign(np.nan_to_num(z)).astype(np.int64) * (conf > 0)) * np.searchsorted(
        [90, 95, 99], conf, side="right"
    )
    table = pl.DataFrame(
        {
            "cell": grid.labels(),
            "count": y,
            "gi_z": z,
            "p_norm": p_norm,
            "p_sim": p_sim,
            "p_value": p,
            "q_value": q,
            "class": cls,
            "confidence": conf,
            "gi_bin": gi_bin,
        },
        schema_overrides={"p_sim": pl.Float64},
    ).with_columns(
        pl.col(name).fill_nan(None) for name in ("gi_z", "p_norm", "p_sim", "p_value", "q_value")
    )
    return GiStar(
        table=table,
        inference="permutation" if perms else "analytic",
        permutations=perms,
        alpha=alpha,
        fdr=fdr,
        notes=tuple(notes),
    )


def _gistar_z(adjacency: sparse.csr_matrix, y: FloatArray) -> FloatArray:
    """Analytic Gi* z-scores of many count vectors at once (columns of ``y``: n x T).

    The formula esda uses for binary weights with the cell itself included (Ord & Getis 1995,
    ``sum(w) == sum(w**2)``); written out here because esda takes one vector per call and an
    emerging hot spot run needs one per time slice (one sparse product instead of T calls).
    Columns with no variation get z = 0; cells without a neighbour get NaN.
    """
    n = y.shape[0]
    w = (adjacency + sparse.identity(n, format="csr")).tocsr()
    wi = np.asarray(w.sum(axis=1)).ravel()[:, None]
    mean = y.mean(axis=0, keepdims=True)
    sd = np.sqrt(np.maximum((y**2).mean(axis=0, keepdims=True) - mean**2, 0.0))
    den = sd * np.sqrt((n * wi - wi**2) / (n - 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (w @ y - mean * wi) / den
    z[:, sd.ravel() == 0] = 0.0
    z[np.diff(adjacency.indptr) == 0, :] = np.nan
    return np.asarray(z, dtype=np.float64)


# ---------------------------------------------------------------------------------------------
# Mann-Kendall
# ---------------------------------------------------------------------------------------------


class MannKendall(NamedTuple):
    """Mann-Kendall trend test of each row of a matrix (NaN where a row has a NaN).

    Attributes:
        s: S = sum over pairs i < j of sign(x_j - x_i).
        var_s: Variance of S under no trend, corrected for ties.
        z: Standard normal score of S (with continuity correction unless asked not to).
        p: Two-sided p-value.
    """

    s: FloatArray
    var_s: FloatArray
    z: FloatArray
    p: FloatArray


def mann_kendall(series: npt.ArrayLike, *, continuity: bool = True) -> MannKendall:
    """Mann-Kendall trend test of every row of an (n, T) array, vectorised over the rows.

    No library does this over many series at once (pymannkendall and scipy's ``kendalltau``
    take one series per call, and a grid has tens of thousands), hence the few lines here; the
    tests check them against scipy and a brute-force reference.

    Args:
        series: n series of T values each (a 1-D array is one series).
        continuity: Subtract 1 from |S| before dividing by its standard deviation (the usual
            Mann-Kendall z; without it, z equals scipy's ``kendalltau`` asymptotic z).

    Returns:
        S, its tie-corrected variance ``(T(T-1)(2T+5) - sum t(t-1)(2t+5)) / 18`` over groups of
        t tied values, z and the two-sided p-value. Rows with no variance get z = 0, p = 1.
    """
    x = np.atleast_2d(np.asarray(series, dtype=np.float64))
    n, t = x.shape
    bad = np.asarray(~np.isfinite(x).all(axis=1), dtype=bool)
    x = np.where(bad[:, None], 0.0, x)
    s = np.zeros(n)
    for i in range(t - 1):  # a loop over slices, not cells: T passes over n x T arrays
        s += np.sign(x[:, i + 1 :] - x[:, i : i + 1]).sum(axis=1)
    # Tie groups per row: label runs of equal values in each sorted row, count each label.
    srt = np.sort(x, axis=1)
    new = np.ones((n, t), dtype=bool)
    new[:, 1:] = srt[:, 1:] != srt[:, :-1]
    label = np.cumsum(new, axis=1) - 1 + (t * np.arange(n))[:, None]
    size = np.bincount(label.ravel(), minlength=n * t).reshape(n, t).astype(np.float64)
    ties = (size * (size - 1) * (2 * size + 5)).sum(axis=1)
    var = (t * (t - 1) * (2 * t + 5) - ties) / 18.0
    num = s - np.sign(s) if continuity else s
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(var > 0, num / np.sqrt(np.where(var > 0, var, 1.0)), 0.0)
    p = 2.0 * stats.norm.sf(np.abs(z))
    for a in (s, var, z, p):
        a[bad] = np.nan
    return MannKendall(s=s, var_s=var, z=z, p=p)


# ---------------------------------------------------------------------------------------------
# Emerging hot spots
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EmergingHotspots:
    """The outcome of :func:`emerging_hotspots`.

    Attributes:
        table: One row per active cell (grid order): ``cell``, ``events`` (in the slices),
            ``n_slices``, ``n_hot_slices``, ``n_cold_slices``, ``final_hot``, ``final_cold``,
            ``final_z`` (Gi* z of the last slice), ``mk_z``, ``mk_p`` (Mann-Kendall on the
            Gi* z series), ``trend`` ("up", "down", "none") and ``category`` (:data:`CATEGORIES`).
        z: Gi* z-scores, (grid.n, n_slices), for maps of each slice (NaN for islands).
        significant: +1 hot, -1 cold, 0 neither, per cell and slice.
        slice_start: First day of each slice (days since 1970-01-01, like ``Projected.t``).
        slice_days: Length of a slice in days.
        notes: Plain-language remarks (events left out, empty slices, few slices, ...).
    """

    table: pl.DataFrame
    z: FloatArray
    significant: npt.NDArray[np.int8]
    slice_start: FloatArray
    slice_days: float
    notes: tuple[str, ...]


def _as_day(value: float | date | None) -> float | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return (value - _EPOCH).total_seconds() / 86_400.0
    if isinstance(value, date):
        return day_of(value)
    return float(value)


def _pattern(
    on: BoolArray, other: BoolArray, trend_toward: BoolArray, trend_away: BoolArray
) -> npt.NDArray[np.str_]:
    """ESRI's pattern of each row of ``on`` (hot, or cold for the mirror), "" for none.

    ``other`` marks the opposite kind of spot; ``trend_toward`` a significant trend towards
    more of ``on`` (rising z for hot spots).
    """
    n_slices = on.shape[1]
    n_on = on.sum(axis=1)
    final = on[:, -1]
    mostly = n_on * 10 >= 9 * n_slices  # "at least ninety percent of the time-step intervals"
    run = np.cumprod(on[:, ::-1], axis=1).sum(axis=1)  # length of the final run
    ever_other = other.any(axis=1)
    out = np.full(on.shape[0], "", dtype=object)
    out[~final & mostly] = "historical"
    # Cells on in the final slice: the order of the checks makes the categories exclusive.
    conds = [
        (final & mostly & trend_toward, "intensifying"),
        (final & mostly & trend_away, "diminishing"),
        (final & mostly, "persistent"),
        (final & ever_other, "oscillating"),
        (final & (n_on == 1), "new"),
        (final & (run == n_on) & (run >= 2), "consecutive"),
        (final, "sporadic"),
    ]
    done = ~final
    for cond, name in conds:
        hit = cond & ~done
        out[hit] = name
        done |= hit
    return out.astype(str)


def emerging_hotspots(
    grid: Grid,
    cell: npt.ArrayLike,
    t: npt.ArrayLike,
    *,
    slice_days: float = 7.0,
    start: float | date | None = None,
    end: float | date | None = None,
    permutations: int = 0,
    alpha: float = 0.05,
    fdr: bool = True,
    contiguity: Contiguity = "queen",
    seed: int = 0,
) -> EmergingHotspots:
    """Emerging hot spot analysis: Gi* per time slice, a Mann-Kendall trend per cell, categories.

    Slices are ``slice_days`` long and end at ``end``, so the final slice, on which most
    categories turn, is a whole one; events before the first whole slice are left out (noted).
    In each slice a cell is a hot (cold) spot when its Gi* is significantly positive
    (negative) at ``alpha``, with FDR over the slice's cells when ``fdr``. The trend is the
    Mann-Kendall test of the cell's Gi* z-scores over the slices, significant at ``alpha``.
    The categories (``<pattern> hot spot`` and the mirrored ``<pattern> cold spot``), after
    ESRI; "90%" means at least 90% of the slices:

    - new: hot in the final slice and never significant before;
    - consecutive: one uninterrupted run of at least two hot slices ending with the final one,
      never hot before it, hot in less than 90% of the slices;
    - intensifying / diminishing: hot in 90% including the final slice, with a significant
      upward / downward trend in Gi*;
    - persistent: hot in 90% including the final slice, no significant trend;
    - sporadic: hot in the final slice, on and off before, less than 90%, never cold;
    - oscillating: hot in the final slice, cold in some earlier slice, less than 90% hot;
    - historical: not hot in the final slice but hot in at least 90% of the slices;
    - no pattern: none of these.

    Args:
        grid: The grid.
        cell: Active-cell position of each event (``grid.locate``); -1 is ignored.
        t: Time of each event in days since 1970-01-01 (``Projected.t``).
        slice_days: Length of a time slice in days (7 = weeks).
        start: First day to use (days or a date); default the day of the first event.
        end: Day after the last day to use (days or a date); default the day after the last
            event.
        permutations: 0 (default, fast) uses analytic Gi* p-values; more runs conditional
            permutations in every slice (p floor ``2 / (permutations + 1)``; see the module
            docstring on FDR with permutations).
        alpha: Significance level of the hot/cold slices and of the trend.
        fdr: Benjamini-Hochberg over the cells of each slice.
        contiguity: Neighbours on square grids (``"queen"`` or ``"rook"``).
        seed: Seed of the permutations (slice k uses ``seed + k``).

    Returns:
        The table per cell, the per-slice z-scores and significance, and notes.

    Raises:
        InputError: Mismatched inputs, a bad slice length, or fewer than 5 whole slices.
    """
    c = np.asarray(cell, dtype=np.int64).ravel()
    tt = np.asarray(t, dtype=np.float64).ravel()
    if len(c) != len(tt):
        raise InputError(f"{len(c):,} cells for {len(tt):,} times: give one of each per event")
    if not slice_days > 0:
        raise InputError("the slice length must be a positive number of days", hint="e.g. 7")
    _check_alpha(alpha)
    perms = _check_permutations(permutations)
    ok = (c >= 0) & (c < grid.n) & np.isfinite(tt)
    if not ok.any():
        raise InputError("no event lies on the grid with a usable time")
    first = _as_day(start)
    last = _as_day(end)
    lo = math.floor(float(tt[ok].min())) if first is None else first
    hi = math.floor(float(tt[ok].max())) + 1.0 if last is None else last
    n_slices = math.floor((hi - lo) / slice_days + 1e-9)
    if n_slices < 5:
        raise InputError(
            f"only {max(n_slices, 0)} whole slices of {slice_days:g} days between the first "
            "and the last day",
            hint="a trend needs at least 5 slices (ESRI asks for 10): use shorter slices or a "
            "longer period",
        )
    s0 = hi - n_slices * slice_days
    notes: list[str] = []
    inside = ok & (tt >= s0) & (tt < hi)
    before = int((ok & (tt < s0)).sum())
    if before:
        notes.append(
            f"{before:,} events before the first whole {slice_days:g}-day slice left out "
            "(slices end with the last day)"
        )
    after = int((ok & (tt >= hi)).sum())
    if after:
        notes.append(f"{after:,} events after the end left out")
    if n_slices < 10:
        notes.append(f"only {n_slices} slices: trend tests have little power below 10")
    k = np.minimum(np.floor((tt[inside] - s0) / slice_days).astype(np.int64), n_slices - 1)
    y = (
        np.bincount(c[inside] * n_slices + k, minlength=grid.n * n_slices)
        .reshape(grid.n, n_slices)
        .astype(np.float64)
    )
    empty = np.flatnonzero(y.sum(axis=0) == 0)
    if len(empty):
        notes.append(f"{len(empty)} slices without any event (no hot or cold spot in them)")
    adjacency = grid.neighbours(contiguity).tocsr()
    islands = np.diff(adjacency.indptr) == 0
    if islands.all():
        raise InputError("no cell of the grid has a neighbour", hint="use smaller cells")
    if islands.any():
        notes.append(f"{int(islands.sum()):,} cells without a neighbour (islands) are not tested")
    z = _gistar_z(adjacency, y)
    if perms and fdr:
        note = _resolution_note(perms, int((~islands).sum()), alpha)
        if note:
            notes.append(f"in each slice, {note}")
    if perms:
        p = np.ones_like(z)
        for j in range(n_slices):
            if np.ptp(y[:, j]) > 0:
                p[:, j] = _gistar_p_sim(adjacency, y[:, j], perms, seed + j)
    else:
        p = 2.0 * stats.norm.sf(np.abs(z))
    p[islands] = np.nan
    m = np.column_stack([_bh(p[:, j]) for j in range(n_slices)]) if fdr else p
    sig = np.nan_to_num(m, nan=1.0) <= alpha
    hot = sig & (z > 0)
    cold = sig & (z < 0)
    mk = mann_kendall(z)
    trend_sig = np.nan_to_num(mk.p, nan=1.0) <= alpha
    up = trend_sig & (mk.z > 0)
    down = trend_sig & (mk.z < 0)
    hot_pat = _pattern(hot, cold, up, down)
    cold_pat = _pattern(cold, hot, down, up)
    # A cell hot (cold) in the final slice takes its hot (cold) pattern; otherwise only a
    # historical pattern can apply, and at most one of the two kinds can be historical.
    category = np.select(
        [hot[:, -1], cold[:, -1], hot_pat != "", cold_pat != ""],
        [
            np.char.add(hot_pat, " hot spot"),
            np.char.add(cold_pat, " cold spot"),
            np.char.add(hot_pat, " hot spot"),
            np.char.add(cold_pat, " cold spot"),
        ],
        default="no pattern",
    )
    table = pl.DataFrame(
        {
            "cell": grid.labels(),
            "events": y.sum(axis=1).astype(np.int64),
            "n_slices": np.full(grid.n, n_slices, dtype=np.int64),
            "n_hot_slices": hot.sum(axis=1).astype(np.int64),
            "n_cold_slices": cold.sum(axis=1).astype(np.int64),
            "final_hot": hot[:, -1],
            "final_cold": cold[:, -1],
            "final_z": z[:, -1],
            "mk_z": mk.z,
            "mk_p": mk.p,
            "trend": np.where(up, "up", np.where(down, "down", "none")),
            "category": category,
        }
    ).with_columns(pl.col(name).fill_nan(None) for name in ("final_z", "mk_z", "mk_p"))
    return EmergingHotspots(
        table=table,
        z=z,
        significant=(hot.astype(np.int8) - cold.astype(np.int8)),
        slice_start=s0 + slice_days * np.arange(n_slices, dtype=np.float64),
        slice_days=float(slice_days),
        notes=tuple(notes),
    )


# ---------------------------------------------------------------------------------------------
# Concentration
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Concentration:
    """How concentrated events are over units (cells or street segments).

    Attributes:
        events: Number of events (sum of the counts).
        units: Number of units, those without events included.
        share_25, share_50: Smallest share of units that together hold at least 25% / 50% of
            the events (units taken from the busiest down). All events in one of 10 units
            gives 0.1 for both.
        gini: Gini coefficient ``sum_ij |x_i - x_j| / (2 n^2 mean)`` over all units. Its
            largest value is ``(n - 1) / n`` (all events in one of n units), not 1: 0.9 for 10
            units. With fewer events than units it overstates concentration (see below).
        gini_generalized: Bernasco & Steenbeek's (2017) generalised Gini, measured against
            the most even spread possible with the events at hand (one event per unit when
            there are fewer events than units): ``max(1, n / N) * (gini - 1) + 1`` for N
            events; equal to ``gini`` when N >= n. For sparse data (a city grid of 60,000
            cells and 5,000 robberies) the plain Gini is high merely because most cells must
            be empty; the generalised one is not.
    """

    events: float
    units: int
    share_25: float
    share_50: float
    gini: float
    gini_generalized: float


def _shares_and_gini(x: FloatArray) -> tuple[float, float, float, float]:
    n = len(x)
    total = float(x.sum())
    if n == 0 or total <= 0:
        return math.nan, math.nan, math.nan, math.nan
    desc = np.sort(x)[::-1]
    cum = np.cumsum(desc)
    # Relative tolerance: 25% of a float total must not miss by rounding.
    shares = [
        (int(np.searchsorted(cum, f * total * (1 - 1e-12), side="left")) + 1) / n
        for f in (0.25, 0.5)
    ]
    asc = desc[::-1]
    gini = float(2.0 * np.dot(np.arange(1, n + 1), asc) / (n * total) - (n + 1) / n)
    generalized = max(1.0, n / total) * (gini - 1.0) + 1.0
    return shares[0], shares[1], gini, generalized


def concentration(counts: npt.ArrayLike, *, n_units: int | None = None) -> Concentration:
    """Share of units holding 25% and 50% of events, and the (generalised) Gini coefficient.

    Args:
        counts: Events per unit (e.g. ``grid.counts(...)`` or a bincount over segments).
        n_units: Total number of units when ``counts`` leaves out units without events.

    Returns:
        The figures (:class:`Concentration`); NaN when there is no event.

    Raises:
        InputError: Negative or missing counts, or more counts than ``n_units``.
    """
    x = np.asarray(counts, dtype=np.float64).ravel()
    if not np.isfinite(x).all() or (x < 0).any():
        raise InputError("counts must be finite and not negative")
    n = len(x) if n_units is None else int(n_units)
    if n < len(x):
        raise InputError(f"{len(x):,} counts for {n:,} units", hint="n_units counts every unit")
    if n == 0:
        raise InputError("no unit to measure concentration over")
    full = np.concatenate([x, np.zeros(n - len(x))])
    s25, s50, g, gg = _shares_and_gini(full)
    return Concentration(float(x.sum()), n, s25, s50, g, gg)


def concentration_by_period(
    unit: npt.ArrayLike,
    t: npt.ArrayLike,
    n_units: int,
    *,
    period: Literal["month", "year"] | float = "month",
    start: float | date | None = None,
) -> pl.DataFrame:
    """Concentration (:func:`concentration`) of events over units in each period.

    Args:
        unit: Unit of each event (an active-cell position or a segment index); -1 is ignored.
        t: Time of each event in days since 1970-01-01 (``Projected.t``).
        n_units: Number of units (``grid.n`` or the number of segments).
        period: ``"month"``, ``"year"`` (calendar) or a length in days.
        start: First day of the first period when ``period`` is in days (default: the day of
            the first event).

    Returns:
        One row per period from the first to the last with an event (empty ones included, with
        null figures): ``period`` (label: ``2024-03``, ``2024``, or the first day), ``start``
        (date), ``events``, ``units``, ``share_25``, ``share_50``, ``gini``,
        ``gini_generalized``.

    Raises:
        InputError: Mismatched inputs, a unit out of range, or a bad period.
    """
    u = np.asarray(unit, dtype=np.int64).ravel()
    tt = np.asarray(t, dtype=np.float64).ravel()
    if len(u) != len(tt):
        raise InputError(f"{len(u):,} units for {len(tt):,} times: give one of each per event")
    if n_units <= 0:
        raise InputError("no unit to measure concentration over")
    if (u >= n_units).any():
        raise InputError(f"a unit index is {int(u.max())}, beyond the {n_units:,} units")
    ok = (u >= 0) & np.isfinite(tt)
    u, tt = u[ok], tt[ok]
    if len(u) == 0:
        raise InputError("no event with a unit and a usable time")
    if isinstance(period, str):
        if period not in ("month", "year"):
            raise InputError(f"unknown period {period!r}", hint="month, year or a number of days")
        when = pl.Series((tt * 86_400e6).astype(np.int64)).cast(pl.Datetime("us"))
        every = "1mo" if period == "month" else "1y"
        trunc = when.dt.truncate(every)
        starts = pl.select(
            pl.datetime_range(pl.lit(trunc.min()), pl.lit(trunc.max()), every)
        ).to_series()
        idx = np.searchsorted(starts.to_numpy(), trunc.to_numpy())
        first_days = starts.dt.date().to_list()
        fmt = "%Y-%m" if period == "month" else "%Y"
        labels = [d.strftime(fmt) for d in first_days]
    else:
        if not float(period) > 0:
            raise InputError("the period must be month, year or a positive number of days")
        s0 = _as_day(start)
        origin = math.floor(float(tt.min())) if s0 is None else s0
        keep = tt >= origin
        u, tt = u[keep], tt[keep]
        if len(u) == 0:
            raise InputError("no event on or after the start")
        idx = np.floor((tt - origin) / float(period)).astype(np.int64)
        n_periods = int(idx.max()) + 1
        first_days = [
            (_EPOCH + timedelta(days=origin + k * float(period))).date() for k in range(n_periods)
        ]
        labels = [d.isoformat() for d in first_days]
    n_periods = len(first_days)
    counts = np.bincount(idx * n_units + u, minlength=n_periods * n_units).reshape(
        n_periods, n_units
    )
    rows = []
    for k in range(n_periods):  # one pass per period over its units
        s25, s50, g, gg = _shares_and_gini(counts[k].astype(np.float64))
        rows.append((labels[k], first_days[k], int(counts[k].sum()), n_units, s25, s50, g, gg))
    return pl.DataFrame(
        rows,
        schema={
            "period": pl.String,
            "start": pl.Date,
            "events": pl.Int64,
            "units": pl.Int64,
            "share_25": pl.Float64,
            "share_50": pl.Float64,
            "gini": pl.Float64,
            "gini_generalized": pl.Float64,
        },
        orient="row",
    ).with_columns(pl.col(name).fill_nan(None) for name in _FIGURES)


def assign_to_segments(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    segments: Sequence[BaseGeometry] | npt.NDArray[np.object_],
    *,
    max_distance: float,
) -> IntArray:
    """Index of the nearest street segment of each event, -1 when none is within reach.

    Args:
        x, y: Event coordinates in the segments' metric CRS (e.g. ``Projected.x``, ``.y`` with
            segments projected to ``Projected.crs``).
        segments: Shapely geometries (LineStrings) of the street segments.
        max_distance: Largest distance in CRS units (metres) to snap an event to a segment.

    Returns:
        One segment index per event (ties go to one of the nearest), -1 beyond
        ``max_distance`` or for events without coordinates.

    Raises:
        InputError: Mismatched coordinates, no segment, or a distance that is not positive.
    """
    import shapely

    xa = np.asarray(x, dtype=np.float64).ravel()
    ya = np.asarray(y, dtype=np.float64).ravel()
    if len(xa) != len(ya):
        raise InputError(f"{len(xa):,} x for {len(ya):,} y coordinates")
    if not max_distance > 0:
        raise InputError("max_distance must be a positive distance in metres", hint="e.g. 30")
    geoms = np.asarray(list(segments), dtype=object)
    if len(geoms) == 0:
        raise InputError("no street segment given")
    out = np.full(len(xa), -1, dtype=np.int64)
    ok = np.isfinite(xa) & np.isfinite(ya)
    if not ok.any():
        return out
    tree = shapely.STRtree(geoms)
    pts = shapely.points(xa[ok], ya[ok])
    hit = tree.query_nearest(pts, max_distance=max_distance, all_matches=False)
    pos = np.flatnonzero(ok)
    out[pos[hit[0]]] = hit[1]
    return out
