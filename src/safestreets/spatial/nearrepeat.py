"""Near repeat: the Knox test of space-time interaction with Monte Carlo permutations.

Every pair of events is put in one cell of a table of distance bands x time bands. If where
events happen and when they happen are unrelated, shuffling the times among the events should
produce tables like the observed one; a near-repeat pattern shows up as more pairs than the
shuffles produce in the cells that are close in both space and time.

For each cell the result gives

- ``observed``: pairs in the cell;
- ``expected``: the mean count over ``permutations`` random permutations of the times among the
  events (locations stay where they are);
- ``knox_ratio``: observed / expected (NaN when expected is 0);
- ``p_value``: ``(1 + #{simulated >= observed}) / (1 + permutations)``, one-sided (more pairs
  than chance), so the smallest possible value is ``1 / (1 + permutations)``.

Bands
    ``distance_bands`` are upper edges in metres and ``time_bands`` upper edges in days, each
    band half-open ``(lower, upper]``. A final band (">400") holds the pairs beyond the last
    edge, so every one of the ``n (n - 1) / 2`` pairs is counted exactly once. Distances are
    Euclidean or Manhattan on projected coordinates. Times are compared by whole days, as the
    Near Repeat Calculator does: the time difference of a pair is
    ``|floor(t_i) - floor(t_j)|``, and "same day" means that difference is 0.

Ties, and why they matter
    Police coordinates are often snapped to a block, a street segment or an address point, or
    perturbed to protect victims, and dates are usually known to the day. So many pairs are at
    distance exactly 0 (same location) or 0 days apart (same day), sometimes most of the closest
    pairs. Calculators that use a first band of ``(0, d1]`` silently drop these pairs from the
    table; calculators that lump them into the first band without saying so mix repeat
    victimisation and duplicate records into the "near" repeat figure and inflate its ratio.
    With ``ties="separate"`` (the default) same-location pairs get their own distance band "0"
    and same-day pairs their own time band "0"; with ``ties="include"`` they are counted in the
    first band ``[0, d1]`` and ``[0, t1]`` openly. Either way the permutations shuffle the
    observed times, so the multiset of times (and with it the number of same-day pairs) is the
    same under the null as in the data, and the ties are judged against the right baseline.

Cost
    All ``n (n - 1) / 2`` pairs are never built. A k-d tree finds once the pairs within the
    largest distance edge (the "close" pairs); a permutation only re-bins their time
    differences, O(close pairs). The pairs beyond the largest edge are counted by subtraction:
    a permutation of times leaves the multiset of time differences over all pairs unchanged, so
    the number of pairs in each time band over all distances is a constant, computed once from
    the sorted days in O(n log n).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt
import polars as pl
from scipy.spatial import cKDTree

from safestreets.errors import InputError

__all__ = ["KnoxResult", "knox_test"]

Metric = Literal["euclidean", "manhattan"]
Ties = Literal["separate", "include"]

_METRIC_P = {"euclidean": 2.0, "manhattan": 1.0}
_TIES = ("separate", "include")
#: Below this many permutations the p-values are too coarse to read at 0.05 and below.
_FEW_PERMUTATIONS = 99
#: Larger |t| is not a time in days (Unix seconds are about 1.7e9) and overflows whole days.
_MAX_DAYS = 1e8
#: A span of days longer than this suggests times in the wrong unit.
_LONG_SPAN_DAYS = 36525


@dataclass(frozen=True)
class KnoxResult:
    """The outcome of :func:`knox_test`.

    Attributes:
        table: One row per distance band x time band (distance bands outer, both in increasing
            order) with columns ``distance_band`` (label such as "0", "0-100", ">400"),
            ``distance_from``, ``distance_to`` (metres; ``inf`` for the last band),
            ``time_band``, ``time_from``, ``time_to`` (days), ``observed``, ``expected``,
            ``knox_ratio``, ``p_value`` and ``significant`` (``p_value <= alpha``).
        n_events: Number of events.
        n_pairs: Number of pairs, ``n_events * (n_events - 1) / 2``; the sum of ``observed``.
        permutations: Number of Monte Carlo permutations.
        metric: "euclidean" or "manhattan".
        ties: "separate" or "include".
        alpha: Level of the ``significant`` column.
        notes: Plain-language remarks on the data and the reading of the table.
    """

    table: pl.DataFrame
    n_events: int
    n_pairs: int
    permutations: int
    metric: str
    ties: str
    alpha: float
    notes: list[str] = field(default_factory=list)


def knox_test(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    t: npt.ArrayLike,
    *,
    distance_bands: Sequence[float],
    time_bands: Sequence[float],
    metric: Metric = "euclidean",
    permutations: int = 999,
    seed: int | None = 0,
    ties: Ties = "separate",
    alpha: float = 0.05,
) -> KnoxResult:
    """Run a Knox test of space-time interaction with Monte Carlo permutations of the times.

    Args:
        x: Projected easting of each event, in metres.
        y: Projected northing of each event, in metres.
        t: Time of each event in days (for example days since 1970-01-01). Compared by whole
            days: ``floor(t)``.
        distance_bands: Upper edges of the distance bands in metres, strictly increasing and
            positive, e.g. ``[100, 200, 400]``.
        time_bands: Upper edges of the time bands in days, strictly increasing and positive,
            e.g. ``[7, 14, 30]``.
        metric: "euclidean" (straight line) or "manhattan" (``|dx| + |dy|``, closer to
            distance along a street grid).
        permutations: Number of random permutations of the times.
        seed: Seed of the random generator; the same seed gives the same result.
        ties: "separate" puts same-location and same-day pairs in bands "0" of their own;
            "include" counts them in the first distance and time bands.
        alpha: Level for the ``significant`` column.

    Returns:
        The table of observed and expected counts, Knox ratios and p-values, with notes.

    Raises:
        InputError: Arrays of different lengths, missing or infinite values, fewer than 3
            events, bands that are not strictly increasing positive numbers, or an unknown
            ``metric`` or ``ties``.
    """
    xs, ys, ts = _validate_events(x, y, t)
    d_edges = _validate_bands(distance_bands, "distance_bands", "metres, e.g. [100, 200, 400]")
    t_edges = _validate_bands(time_bands, "time_bands", "days, e.g. [7, 14, 30]")
    if metric not in _METRIC_P:
        raise InputError(
            f"unknown metric {metric!r}", hint="use metric='euclidean' or metric='manhattan'"
        )
    if ties not in _TIES:
        raise InputError(f"unknown ties {ties!r}", hint="use ties='separate' or ties='include'")
    if isinstance(permutations, bool) or not isinstance(permutations, int | np.integer):
        raise InputError(f"permutations must be an integer, not {permutations!r}", hint="e.g. 999")
    if permutations < 1:
        raise InputError(f"permutations must be at least 1, not {permutations}", hint="e.g. 999")
    if not 0 < alpha < 1:
        raise InputError(f"alpha must be between 0 and 1, not {alpha}", hint="e.g. 0.05")
    separate = ties == "separate"

    n = xs.size
    n_pairs = n * (n - 1) // 2
    days = np.floor(ts).astype(np.int64)
    days -= days.min()  # only differences matter; small values keep the lookup table small

    # Close pairs (within the last distance edge), found once. The radius is padded so that
    # rounding inside the tree cannot lose a pair; the band test below uses our own distance.
    pi, pj, dist = _close_pairs(xs, ys, d_edges[-1], metric)
    keep = dist <= d_edges[-1]
    pi, pj, dist = pi[keep], pj[keep], dist[keep]
    d_index = _band_index(dist, d_edges, separate)

    n_time = t_edges.size + 1 + int(separate)
    n_dist = d_edges.size + 1 + int(separate)
    n_close_cells = (n_dist - 1) * n_time
    offset = d_index * n_time
    # Time band of a day difference by lookup; differences past the last edge share one slot.
    span = int(days.max())
    cap = span if t_edges[-1] >= span else math.floor(t_edges[-1]) + 1
    lut = _band_index(np.arange(cap + 1, dtype=np.float64), t_edges, separate)
    time_totals = _time_band_totals(days, t_edges, separate, n_pairs)

    def count(d: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        dt = np.abs(d[pi] - d[pj])
        np.minimum(dt, cap, out=dt)
        close = np.bincount(offset + lut[dt], minlength=n_close_cells).reshape(n_dist - 1, n_time)
        beyond = time_totals - close.sum(axis=0)
        return np.vstack([close, beyond])

    observed = count(days)
    rng = np.random.default_rng(seed)
    sim_sum = np.zeros(observed.shape, dtype=np.float64)
    at_least = np.zeros(observed.shape, dtype=np.int64)
    for _ in range(permutations):
        sim = count(days[rng.permutation(n)])
        sim_sum += sim
        at_least += sim >= observed
    expected = sim_sum / permutations
    p_value = (at_least + 1).astype(np.float64) / (permutations + 1)
    ratio = np.full(expected.shape, np.nan)
    np.divide(observed, expected, out=ratio, where=expected > 0)

    d_bands = _bands(d_edges, separate)
    t_bands = _bands(t_edges, separate)
    table = _table(d_bands, t_bands, observed, expected, ratio, p_value, alpha)
    same_place = int(np.count_nonzero(dist == 0))
    same_place_day = int(np.count_nonzero((dist == 0) & (days[pi] == days[pj])))
    same_day = int(_pairs_within(np.sort(days), 0.0))
    notes = _notes(
        span=span,
        n_pairs=n_pairs,
        same_place=same_place,
        same_day=same_day,
        same_place_day=same_place_day,
        separate=separate,
        first_distance=d_bands[int(separate)][0],
        first_time=t_bands[int(separate)][0],
        permutations=permutations,
        alpha=alpha,
        n_cells=table.height,
    )
    return KnoxResult(
        table=table,
        n_events=n,
        n_pairs=n_pairs,
        permutations=permutations,
        metric=metric,
        ties=ties,
        alpha=alpha,
        notes=notes,
    )


def _validate_events(
    x: npt.ArrayLike, y: npt.ArrayLike, t: npt.ArrayLike
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    arrays = []
    for name, values in (("x", x), ("y", y), ("t", t)):
        try:
            arr = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise InputError(
                f"{name} must be numbers: {exc}",
                hint="pass projected coordinates in metres and times in days as numbers",
            ) from exc
        if arr.ndim != 1:
            raise InputError(
                f"{name} must be one-dimensional, got shape {arr.shape}",
                hint="pass one value per event",
            )
        arrays.append(arr)
    xs, ys, ts = arrays
    if not xs.size == ys.size == ts.size:
        raise InputError(
            f"x, y and t have different lengths ({xs.size}, {ys.size}, {ts.size})",
            hint="pass one x, one y and one t per event",
        )
    for name, arr in (("x", xs), ("y", ys), ("t", ts)):
        bad = np.flatnonzero(~np.isfinite(arr))
        if bad.size:
            raise InputError(
                f"{name} has {bad.size} missing or infinite value(s), first at position {bad[0]}",
                hint="drop events without a location or a date before the test",
            )
    if np.abs(ts).max() > _MAX_DAYS:
        raise InputError(
            f"t goes up to {np.abs(ts).max():.3g}, too large for a time in days",
            hint="give t in days, e.g. days since 1970-01-01 (seconds / 86400)",
        )
    if xs.size < 3:
        raise InputError(
            f"the Knox test needs at least 3 events, got {xs.size}",
            hint="use a longer period or a wider area",
        )
    return xs, ys, ts


def _validate_bands(bands: Sequence[float], name: str, example: str) -> npt.NDArray[np.float64]:
    try:
        edges = np.asarray(bands, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"{name} must be numbers: {exc}", hint=f"give upper edges in {example}"
        ) from exc
    if edges.ndim != 1 or edges.size == 0:
        raise InputError(f"{name} must be a non-empty list", hint=f"give upper edges in {example}")
    if not np.all(np.isfinite(edges)) or edges[0] <= 0 or np.any(np.diff(edges) <= 0):
        raise InputError(
            f"{name} must be strictly increasing positive numbers, got {list(bands)}",
            hint=f"give upper edges in {example}",
        )
    return edges


def _close_pairs(
    x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], radius: float, metric: str
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.float64]]:
    """Pairs (i < j) within about ``radius`` and their distances."""
    points = np.column_stack([x - x.mean(), y - y.mean()])
    tree = cKDTree(points)
    pairs = tree.query_pairs(radius * (1 + 1e-9), p=_METRIC_P[metric], output_type="ndarray")
    pi, pj = pairs[:, 0], pairs[:, 1]
    dx = np.abs(x[pi] - x[pj])
    dy = np.abs(y[pi] - y[pj])
    # sqrt is correctly rounded, so integer coordinates on an edge land exactly on it.
    dist = dx + dy if metric == "manhattan" else np.sqrt(dx * dx + dy * dy)
    return pi, pj, dist


def _band_index(
    values: npt.NDArray[np.float64], edges: npt.NDArray[np.float64], separate: bool
) -> npt.NDArray[np.int64]:
    """Band of each value: bands ``(lower, upper]``, with band 0 for exactly 0 if separate."""
    index = np.searchsorted(edges, values, side="left").astype(np.int64)
    if separate:
        index = np.where(values == 0, 0, index + 1)
    return index


def _pairs_within(sorted_days: npt.NDArray[np.int64], h: float) -> int:
    """Number of pairs whose day difference is at most ``h``."""
    upper = np.searchsorted(sorted_days, sorted_days + h, side="right")
    return int(np.sum(upper - np.arange(1, sorted_days.size + 1)))


def _time_band_totals(
    days: npt.NDArray[np.int64], edges: npt.NDArray[np.float64], separate: bool, n_pairs: int
) -> npt.NDArray[np.int64]:
    """Pairs in each time band over all distances; the same for every permutation of times."""
    sorted_days = np.sort(days)
    cuts = ([0.0] if separate else []) + [float(e) for e in edges]
    within = np.array([_pairs_within(sorted_days, h) for h in cuts] + [n_pairs], dtype=np.int64)
    return np.diff(within, prepend=0)


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _bands(edges: npt.NDArray[np.float64], separate: bool) -> list[tuple[str, float, float]]:
    """Label, lower and upper bound of each band, in order."""
    bands = [("0", 0.0, 0.0)] if separate else []
    lower = 0.0
    for upper in edges:
        bands.append((f"{_fmt(lower)}-{_fmt(upper)}", lower, float(upper)))
        lower = float(upper)
    bands.append((f">{_fmt(lower)}", lower, math.inf))
    return bands


def _table(
    d_bands: list[tuple[str, float, float]],
    t_bands: list[tuple[str, float, float]],
    observed: npt.NDArray[np.int64],
    expected: npt.NDArray[np.float64],
    ratio: npt.NDArray[np.float64],
    p_value: npt.NDArray[np.float64],
    alpha: float,
) -> pl.DataFrame:
    rows = [(d, t) for d in d_bands for t in t_bands]
    return pl.DataFrame(
        {
            "distance_band": [d[0] for d, _ in rows],
            "distance_from": [d[1] for d, _ in rows],
            "distance_to": [d[2] for d, _ in rows],
            "time_band": [t[0] for _, t in rows],
            "time_from": [t[1] for _, t in rows],
            "time_to": [t[2] for _, t in rows],
            "observed": observed.ravel(),
            "expected": expected.ravel(),
            "knox_ratio": ratio.ravel(),
            "p_value": p_value.ravel(),
            "significant": p_value.ravel() <= alpha,
        },
        schema={
            "distance_band": pl.String,
            "distance_from": pl.Float64,
            "distance_to": pl.Float64,
            "time_band": pl.String,
            "time_from": pl.Float64,
            "time_to": pl.Float64,
            "observed": pl.Int64,
            "expected": pl.Float64,
            "knox_ratio": pl.Float64,
            "p_value": pl.Float64,
            "significant": pl.Boolean,
        },
    )


def _share(part: int, whole: int) -> str:
    return f"{part:,} of {whole:,} pairs ({100 * part / whole:.1f}%)"


def _notes(
    *,
    span: int,
    n_pairs: int,
    same_place: int,
    same_day: int,
    same_place_day: int,
    separate: bool,
    first_distance: str,
    first_time: str,
    permutations: int,
    alpha: float,
    n_cells: int,
) -> list[str]:
    where_place = "distance band '0'" if separate else f"the first distance band '{first_distance}'"
    where_day = "time band '0'" if separate else f"the first time band '{first_time}'"
    notes = [
        f"{_share(same_place, n_pairs)} are at the same location (distance 0); "
        f"they are counted in {where_place}.",
        f"{_share(same_day, n_pairs)} are on the same day; they are counted in {where_day}.",
    ]
    if same_place_day:
        notes.append(
            f"{_share(same_place_day, n_pairs)} are at the same location on the same day: "
            "repeat victimisation, or the same incident recorded twice; check for duplicates."
        )
    if span > _LONG_SPAN_DAYS:
        notes.append(
            f"The events span {span:,} days (over a century): check that t is in days, "
            "not hours or seconds."
        )
    if permutations < _FEW_PERMUTATIONS:
        notes.append(
            f"Only {permutations} permutations: the smallest possible p-value is "
            f"{1 / (1 + permutations):.3g}; use 999 or more for a published figure."
        )
    notes.append(
        "p-values are one-sided (more pairs than chance) and per cell: with "
        f"{n_cells} cells, about {alpha * n_cells:.1f} may be significant at {alpha:g} "
        "by chance alone."
    )
    return notes
