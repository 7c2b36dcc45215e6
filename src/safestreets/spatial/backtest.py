"""Rolling-origin backtest of predictive hotspot models against the naive baselines.

For each of ``origins`` consecutive cutoffs, every model is fitted on the events strictly before
the cutoff and predicts the window ``[cutoff, cutoff + window_days)``; the cells it ranks highest
are compared with where the events of the window happened. The figures, per model and coverage:

- **hit rate**: share of the window's events that fall in the selected cells;
- **PAI** (predictive accuracy index, Chainey et al. 2008): hit rate / area share selected, so a
  surface no better than chance scores 1;
- **PEI** (predictive efficiency index, Hunt 2016): hit rate / best possible hit rate at the same
  coverage, the best being an oracle that selects the cells with the most events of the window
  (the most events per square metre when cells differ in area);
- **best hit rate**: that oracle's hit rate, the ceiling at each coverage.

Each is averaged over the origins with a percentile bootstrap interval (origins resampled with
replacement). Windows without events have no hit rate: they are left out of every mean and
counted (``n_empty``). Every model is then compared with each naive baseline it ran beside
(``naive_all``, ``naive_recent``): the mean per-origin difference of hit rates with a paired
bootstrap interval. A model *beats the naive baselines* at a coverage only when the interval of
its difference with every baseline lies above zero; otherwise the verdict says which baseline it
does not beat, by how much, and whether it is significantly worse. On a real city the naive count
of all history beat prospective hotspotting and kernel density, so these verdicts are part of the
result, never left out.

Coverage
    ``c`` % of the area of the active cells. On a grid of equal cells (square grids) that is the
    ``round(c / 100 * n)`` top-ranked cells (at least one; the area share actually used is
    reported as ``area_pct``). On a grid of unequal cells (H3) it is exactly ``c`` % of the area:
    cells are taken by decreasing risk and the cell that crosses the target counts by the share
    of its area that fits.

Ties
    Many models tie many cells (a naive count gives every cell without history a 0). Choosing
    among tied cells by their order in the grid would reward or punish a model for the cell
    numbering. So the hit rate is the *expected* one under a random choice among the cells tied
    at the threshold: cells ranked strictly above the threshold risk count fully, and the tied
    group at the threshold contributes its events times (area still to fill) / (area of the
    group). A model that predicts the same value everywhere therefore has hit rate = area share
    and PAI = 1 exactly. ``tied_area_share`` reports how much of the selected area was chosen
    this way.

Calibration
    When a model says its risk is an expected count (``fitted.expected_counts``), the Poisson
    log-likelihood of the window's counts is recorded per origin (``-inf`` when the model gave
    0 to a cell where something happened; null in JSON).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
from scipy import stats

from safestreets.errors import InputError, SafeStreetsError
from safestreets.spatial.events import day_of
from safestreets.spatial.predict import History, Predictor

__all__ = [
    "BASELINES",
    "DEFAULT_COVERAGES",
    "BacktestResult",
    "backtest",
    "coverage_targets",
    "expected_hits",
    "write_report",
]

FloatArray = npt.NDArray[np.float64]
Progress = Callable[[int, int, str], None]

#: Models every other model is judged against, when they are in the backtest.
BASELINES: tuple[str, ...] = ("naive_all", "naive_recent")
#: Coverage levels, percent of the area.
DEFAULT_COVERAGES: tuple[float, ...] = (1, 2, 5, 10, 20)

_EPOCH = date(1970, 1, 1)
# A fraction this close to 1 means the tied group was taken whole (float noise on H3 areas).
_WHOLE = 1.0 - 1e-9

_COLOURS = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
    "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#637939",
]  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Coverage and hits
# ---------------------------------------------------------------------------------------------


def coverage_targets(
    area_m2: npt.ArrayLike, coverages: Sequence[float]
) -> tuple[FloatArray, FloatArray]:
    """Cell areas in the units of the selection, and the area to select at each coverage.

    Args:
        area_m2: Area of each active cell.
        coverages: Coverage levels in percent of the total area, each in (0, 100].

    Returns:
        ``(area, target)``: when all cells have the same area, ``area`` is all ones and
        ``target[i]`` the whole number of cells ``max(1, round(c / 100 * n))``; otherwise
        ``area`` is ``area_m2`` and ``target[i] = c / 100 * total area``. The area share used
        is ``target / area.sum()``.
    """
    a = np.asarray(area_m2, dtype=np.float64)
    c = np.asarray(coverages, dtype=np.float64) / 100.0
    if len(a) and np.allclose(a, a[0], rtol=1e-9, atol=0.0):
        # Whole cells: half a cell is not a patrol area, and counting cells keeps the sums exact.
        k = np.maximum(1.0, np.floor(c * len(a) + 0.5))
        return np.ones_like(a), np.minimum(k, len(a))
    return a, c * a.sum()


def expected_hits(
    risk: npt.ArrayLike,
    actual: npt.ArrayLike,
    area: npt.ArrayLike,
    targets: npt.ArrayLike,
) -> tuple[FloatArray, FloatArray]:
    """Expected events in the top-risk cells filling each target area, ties broken at random.

    Cells are taken by decreasing ``risk``. Cells strictly above the risk at which the target
    is reached count all their events; the cells tied at that risk count
    ``(target - area above) / (area of the tied cells)`` of their events, the expectation over
    a uniformly random order among them (exact for equal areas).

    Args:
        risk: Risk per cell (any real numbers; only the order matters).
        actual: Events per cell in the window.
        area: Area per cell (any unit, see :func:`coverage_targets`).
        targets: Areas to fill, in the same unit.

    Returns:
        ``(hits, tied_share)`` per target: the expected events captured and the share of the
        target area that was chosen among tied cells (0 when no choice was needed).
    """
    r = np.asarray(risk, dtype=np.float64)
    y = np.asarray(actual, dtype=np.float64)
    a = np.asarray(area, dtype=np.float64)
    tg = np.asarray(targets, dtype=np.float64)
    order = np.argsort(-r, kind="stable")
    rs = r[order]
    starts = np.empty(len(rs), dtype=bool)
    starts[:1] = True
    starts[1:] = rs[1:] != rs[:-1]
    group = np.cumsum(starts) - 1
    g_area = np.bincount(group, weights=a[order])
    g_events = np.bincount(group, weights=y[order])
    g_cells = np.bincount(group)
    cum_area = np.cumsum(g_area)
    cum_events = np.cumsum(g_events)
    # The group in which the target is reached.
    j = np.minimum(np.searchsorted(cum_area, tg, side="left"), len(g_area) - 1)
    above_area = np.where(j > 0, cum_area[j - 1], 0.0)
    above_events = np.where(j > 0, cum_events[j - 1], 0.0)
    frac = np.clip((tg - above_area) / g_area[j], 0.0, 1.0)
    hits = above_events + frac * g_events[j]
    chosen = (g_cells[j] > 1) & (frac < _WHOLE)
    tied = np.where(chosen, frac * g_area[j] / np.where(tg > 0, tg, 1.0), 0.0)
    return hits, tied


# ---------------------------------------------------------------------------------------------
# Result
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BacktestResult:
    """The outcome of :func:`backtest`.

    Use the methods: :meth:`table` (per model and coverage), :meth:`per_origin`,
    :meth:`comparisons` (against the naive baselines), :meth:`model_summary` (seconds and
    calibration), :meth:`verdicts`, :meth:`to_json` and :meth:`to_markdown`.

    Attributes:
        models: Model names, in the order given.
        coverages: Requested coverage levels (percent), ascending.
        area_pct: Area share actually selected at each coverage (percent).
        cutoffs: The origins, days since 1970-01-01 (local), ascending.
        window_days: Length of each predicted window.
        step_days: Days between consecutive origins.
        n_events: Events in each window.
        grid_kind: "square" or "h3".
        n_cells: Active cells of the grid.
        n_boot: Bootstrap resamples.
        seed: Seed of the bootstrap.
        level: Confidence level of the intervals.
        params: Each model's fitted parameters at the last origin.
        notes: Plain-language remarks (empty windows, coverage rounding, overlapping windows).
    """

    models: tuple[str, ...]
    coverages: tuple[float, ...]
    area_pct: tuple[float, ...]
    cutoffs: tuple[float, ...]
    window_days: float
    step_days: float
    n_events: tuple[int, ...]
    grid_kind: str
    n_cells: int
    n_boot: int
    seed: int | None
    level: float
    params: dict[str, dict[str, Any]]
    notes: tuple[str, ...]
    _table: pl.DataFrame = field(repr=False)
    _per_origin: pl.DataFrame = field(repr=False)
    _comparisons: pl.DataFrame = field(repr=False)
    _models: pl.DataFrame = field(repr=False)

    @property
    def n_origins(self) -> int:
        """Origins with at least one event in their window (those the figures use)."""
        return sum(1 for n in self.n_events if n > 0)

    @property
    def n_empty(self) -> int:
        """Origins whose window had no event (left out of the figures)."""
        return sum(1 for n in self.n_events if n == 0)

    def table(self) -> pl.DataFrame:
        """One row per model and coverage.

        Columns: ``model``, ``coverage_pct``, ``area_pct``, ``hit_rate_mean``/``_lo``/``_hi``,
        ``pai_mean``/``_lo``/``_hi``, ``pei_mean``/``_lo``/``_hi``, ``best_hit_rate_mean``,
        ``tied_area_share_mean``, ``n_origins``, ``n_empty`` and ``beats_baselines`` (True or
        False for a model judged against the baselines present; null for a baseline itself or
        when no baseline ran or there were too few windows).
        """
        return self._table

    def per_origin(self) -> pl.DataFrame:
        """One row per origin, model and coverage.

        Columns: ``origin`` (1..N), ``cutoff`` (days), ``start_date``, ``end_date`` (exclusive),
        ``n_events``, ``model``, ``coverage_pct``, ``area_pct``, ``hit_rate``, ``pai``, ``pei``,
        ``best_hit_rate`` (null for a window without events), ``tied_area_share``, and the
        model's ``fit_seconds``, ``predict_seconds`` and ``log_likelihood`` at that origin
        (repeated over coverages; the last null unless the model predicts expected counts).
        """
        return self._per_origin

    def comparisons(self) -> pl.DataFrame:
        """Each model against each naive baseline in the run, per coverage.

        Columns: ``model``, ``baseline``, ``coverage_pct``, ``diff_mean`` (mean over origins of
        model hit rate minus baseline hit rate), ``diff_lo``, ``diff_hi`` (paired bootstrap
        interval), ``n_origins`` and ``outcome``: "better" (interval above 0), "worse" (below
        0), "unclear" (contains 0) or "undetermined" (fewer than 2 windows with events).
        """
        return self._comparisons

    def model_summary(self) -> pl.DataFrame:
        """One row per model: cost and calibration.

        Columns: ``model``, ``expected_counts``, ``fit_seconds_mean``, ``fit_seconds_total``,
        ``predict_seconds_mean``, ``log_likelihood_mean`` (mean over all origins of the Poisson
        log-likelihood of the window's counts, ``-inf`` when an expected count of 0 met an
        event) and ``events_at_zero_mean`` (events per window in cells given an expected count
        of 0); the last two null unless the model predicts expected counts.
        """
        return self._models

    def verdicts(self, lang: str = "en") -> list[str]:
        """Plain-language verdicts of every model against the naive baselines.

        One summary sentence per model that is not a baseline, then one sentence per coverage
        and baseline it does not beat, with the difference of hit rates and its interval.

        Args:
            lang: "en" or "es".
        """
        return _verdicts(self, _words(lang))

    def to_json(self) -> dict[str, Any]:
        """Everything as JSON-serialisable values (NaN and infinities become null).

        Keys:
            ``models`` (names), ``baselines`` (the baselines that ran), ``coverages``,
            ``area_pct``, ``origins`` (list of ``{origin, cutoff, start_date, end_date,
            n_events}``), ``window_days``, ``step_days``, ``grid`` (``{kind, n_cells}``),
            ``n_origins``, ``n_empty``, ``bootstrap`` (``{n_boot, seed, level}``), ``table``,
            ``per_origin``, ``comparisons``, ``model_summary`` (lists of records with the
            columns of the methods of the same names), ``params`` (model -> fitted
            parameters at the last origin), ``verdicts`` (``{"en": [...], "es": [...]}``)
            and ``notes``.
        """
        origins = [
            {
                "origin": i + 1,
                "cutoff": c,
                "start_date": _date(c).isoformat(),
                "end_date": _date(c + self.window_days).isoformat(),
                "n_events": n,
            }
            for i, (c, n) in enumerate(zip(self.cutoffs, self.n_events, strict=True))
        ]
        out = {
            "models": list(self.models),
            "baselines": [m for m in self.models if m in BASELINES],
            "coverages": list(self.coverages),
            "area_pct": list(self.area_pct),
            "origins": origins,
            "window_days": self.window_days,
            "step_days": self.step_days,
            "grid": {"kind": self.grid_kind, "n_cells": self.n_cells},
            "n_origins": self.n_origins,
            "n_empty": self.n_empty,
            "bootstrap": {"n_boot": self.n_boot, "seed": self.seed, "level": self.level},
            "table": _records(self._table),
            "per_origin": _records(self._per_origin),
            "comparisons": _records(self._comparisons),
            "model_summary": _records(self._models),
            "params": json.loads(json.dumps(_clean(self.params), default=str)),
            "verdicts": {"en": self.verdicts("en"), "es": self.verdicts("es")},
            "notes": list(self.notes),
        }
        return out

    def to_markdown(
        self, title: str | None = None, *, lang: str = "en", charts: Sequence[str] = ()
    ) -> str:
        """A report: settings, verdicts, the tables and notes, as Markdown.

        Args:
            title: First heading (default "Hotspot model backtest").
            lang: "en" or "es" for headings and verdicts (tables keep their column values).
            charts: Image files (paths relative to the report) to embed.
        """
        return _markdown(self, _words(lang), title, charts)


# ---------------------------------------------------------------------------------------------
# The backtest
# ---------------------------------------------------------------------------------------------


def backtest(
    history: History,
    models: Sequence[Predictor],
    *,
    origins: int = 26,
    window_days: float = 7.0,
    step_days: float | None = None,
    end: float | date | None = None,
    coverages: Sequence[float] = DEFAULT_COVERAGES,
    n_boot: int = 2000,
    seed: int | None = 0,
    level: float = 0.95,
    min_history_days: float = 56.0,
    progress: Progress | None = None,
) -> BacktestResult:
    """Backtest models over consecutive windows and judge them against the naive baselines.

    The origins are ``last - step_days * k`` for ``k = origins - 1, ..., 0`` where
    ``last = end - window_days``: with the default step (one window) consecutive, non-overlapping
    windows that end at ``end``. At each origin each model is fitted on
    ``history.before(cutoff)`` (it never sees a later event) and predicts
    ``[cutoff, cutoff + window_days)``.

    Args:
        history: Events on the grid.
        models: Predictors (see :mod:`safestreets.spatial.predict`) with distinct names; include
            ``naive_all`` and ``naive_recent`` to get verdicts against them.
        origins: Number of origins (windows).
        window_days: Length of each predicted window in days.
        step_days: Days between origins (default: ``window_days``).
        end: End of the last window (days since 1970-01-01 or a date); default the day after
            the last event, so the last window is the last full one with data.
        coverages: Coverage levels in percent of the area, each in (0, 100].
        n_boot: Bootstrap resamples of the origins.
        seed: Seed of the bootstrap (None: unseeded).
        level: Confidence level of the percentile intervals.
        min_history_days: Days of history required before the first origin.
        progress: Called as ``progress(done, total, label)`` after each model fit.

    Returns:
        The figures, comparisons and verdicts (:class:`BacktestResult`).

    Raises:
        InputError: No models or duplicate names, bad coverages or settings, too little
            history before the first origin, or a model that fails or predicts the wrong
            number of cells (named, with the origin).
    """
    names = _check_models(models)
    covs = _check_coverages(coverages)
    if isinstance(origins, bool) or not isinstance(origins, int | np.integer) or origins < 1:
        raise InputError(f"the number of origins must be a whole number of at least 1: {origins}")
    window = _positive(window_days, "the window")
    step = window if step_days is None else _positive(step_days, "the step between origins")
    if not isinstance(n_boot, int | np.integer) or n_boot < 1:
        raise InputError(f"the number of bootstrap resamples must be at least 1: {n_boot}")
    if not 0.0 < level < 1.0:
        raise InputError(f"the confidence level must be between 0 and 1: {level}")
    if len(history) == 0:
        raise InputError("no events to backtest", hint="check the filters and the events file")

    stop = _end(history, end)
    cutoffs = stop - window - step * np.arange(origins - 1, -1, -1, dtype=np.float64)
    _check_span(history, cutoffs, stop, window, step, origins, min_history_days)

    grid = history.grid
    area, targets = coverage_targets(grid.area_m2, covs)
    area_pct = 100.0 * targets / area.sum()
    n_mod, n_org, n_cov = len(models), len(cutoffs), len(covs)
    hits = np.full((n_mod, n_org, n_cov), np.nan)
    tied = np.full((n_mod, n_org, n_cov), np.nan)
    best = np.full((n_org, n_cov), np.nan)
    fit_s = np.zeros((n_mod, n_org))
    pred_s = np.zeros((n_mod, n_org))
    loglik = np.full((n_mod, n_org), np.nan)
    at_zero = np.full((n_mod, n_org), np.nan)
    expected = [False] * n_mod
    params: dict[str, dict[str, Any]] = {}
    n_events = np.zeros(n_org, dtype=np.int64)
    done, total = 0, n_mod * n_org

    for i, cut in enumerate(cutoffs.tolist()):
        past = history.before(cut)
        actual = history.counts(cut, cut + window)
        n = float(actual.sum())
        n_events[i] = int(n)
        if n > 0:
            # The oracle: most events per unit of area first (optimal for a fractional fill).
            best[i] = expected_hits(actual / area, actual, area, targets)[0] / n
        for m, model in enumerate(models):
            label = f"{names[m]} at the origin {_date(cut).isoformat()}"
            try:
                t0 = time.perf_counter()
                fitted = model.fit(past, cut)
                t1 = time.perf_counter()
                risk = np.asarray(fitted.predict(cut, cut + window), dtype=np.float64)
                t2 = time.perf_counter()
            except SafeStreetsError as exc:
                raise InputError(f"{label}: {exc.message}", hint=exc.hint) from exc
            fit_s[m, i], pred_s[m, i] = t1 - t0, t2 - t1
            if risk.shape != (grid.n,) or not np.isfinite(risk).all():
                raise InputError(
                    f"{label}: the prediction has {risk.size} values ("
                    f"{int((~np.isfinite(risk)).sum())} not finite) for {grid.n} cells",
                    hint="a model must return one finite risk per active cell",
                )
            expected[m] = bool(getattr(fitted, "expected_counts", False))
            params[names[m]] = dict(getattr(fitted, "params", {}) or {})
            if expected[m]:
                loglik[m, i] = float(stats.poisson.logpmf(actual, np.maximum(risk, 0.0)).sum())
                # Events where an expected count of 0 was given make the likelihood -inf: say
                # how many, so the reader sees why.
                at_zero[m, i] = float(actual[risk <= 0].sum())
            if n > 0:
                h, tie = expected_hits(risk, actual, area, targets)
                hits[m, i] = h / n
                tied[m, i] = tie
            done += 1
            if progress is not None:
                progress(done, total, label)

    return _summarise(
        names=names,
        covs=covs,
        area_pct=area_pct,
        cutoffs=cutoffs,
        window=window,
        step=step,
        n_events=n_events,
        hits=hits,
        tied=tied,
        best=best,
        fit_s=fit_s,
        pred_s=pred_s,
        loglik=loglik,
        at_zero=at_zero,
        expected=expected,
        params=params,
        grid_kind=grid.kind,
        n_cells=grid.n,
        n_boot=int(n_boot),
        seed=seed,
        level=float(level),
    )


def _check_models(models: Sequence[Predictor]) -> list[str]:
    if len(models) == 0:
        raise InputError(
            "no model to backtest",
            hint="give at least one model, and naive_all and naive_recent to judge it against",
        )
    names = [str(getattr(m, "name", "")) for m in models]
    if any(not n for n in names):
        raise InputError("every model needs a name")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise InputError(
            f"models with the same name: {', '.join(dupes)}",
            hint="give each model a different name (the results are keyed by name)",
        )
    return names


def _check_coverages(coverages: Sequence[float]) -> list[float]:
    try:
        covs = [float(c) for c in coverages]
    except (TypeError, ValueError) as exc:
        raise InputError(f"coverage levels must be numbers: {coverages!r}") from exc
    if not covs:
        raise InputError("no coverage level", hint="for example 1, 2, 5, 10, 20 (percent)")
    bad = [c for c in covs if not (math.isfinite(c) and 0.0 < c <= 100.0)]
    if bad:
        raise InputError(
            f"coverage levels are percentages above 0 and at most 100: {bad[0]:g}",
            hint="for example 1, 2, 5, 10, 20",
        )
    if len(set(covs)) != len(covs):
        raise InputError("a coverage level is repeated", hint="give each level once")
    return sorted(covs)


def _positive(value: float, what: str) -> float:
    v = float(value)
    if not (math.isfinite(v) and v > 0):
        raise InputError(f"{what} must be a positive number of days: {value}")
    return v


def _end(history: History, end: float | date | None) -> float:
    if end is None:
        return math.floor(float(history.t[-1])) + 1.0
    if isinstance(end, date):
        return day_of(end)
    v = float(end)
    if not math.isfinite(v):
        raise InputError(f"the end of the backtest is not a time: {end}")
    return v


def _check_span(
    history: History,
    cutoffs: FloatArray,
    stop: float,
    window: float,
    step: float,
    origins: int,
    min_days: float,
) -> None:
    start = math.floor(float(history.t[0]))
    have = stop - start
    if cutoffs[0] - start >= min_days:
        return
    tested = stop - float(cutoffs[0])
    need = tested + min_days
    every = "weekly " if step == window == 7.0 else ""
    raise InputError(
        f"the events cover {_weeks(have)} weeks ({_date(start)} to {_date(stop - 1)}), but "
        f"{origins} {every}origins need {_weeks(need)} weeks: {_weeks(tested)} to test and "
        f"{_weeks(min_days)} to learn from before the first origin",
        hint="use fewer origins or shorter windows, or load a longer history",
    )


def _weeks(days: float) -> str:
    return f"{round(days / 7, 1):g}"


def _date(t: float) -> date:
    return _EPOCH + timedelta(days=math.floor(t))


# ---------------------------------------------------------------------------------------------
# Summaries
# ---------------------------------------------------------------------------------------------


def _bootstrap(
    columns: FloatArray, n_boot: int, seed: int | None, level: float
) -> tuple[FloatArray, FloatArray]:
    """Percentile intervals of the column means, resampling rows (origins) jointly.

    One call resamples the same origins for every column, so model-minus-baseline columns
    give paired intervals.
    """
    k = columns.shape[1]
    if columns.shape[0] < 2:
        return np.full(k, np.nan), np.full(k, np.nan)
    res = stats.bootstrap(
        (columns,),
        np.mean,
        n_resamples=n_boot,
        axis=0,
        vectorized=True,
        confidence_level=level,
        method="percentile",
        batch=max(1, 2_000_000 // max(1, columns.size)),
        rng=np.random.default_rng(seed),
    )
    lo, hi = res.confidence_interval
    return np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)


def _summarise(
    *,
    names: list[str],
    covs: list[float],
    area_pct: FloatArray,
    cutoffs: FloatArray,
    window: float,
    step: float,
    n_events: npt.NDArray[np.int64],
    hits: FloatArray,
    tied: FloatArray,
    best: FloatArray,
    fit_s: FloatArray,
    pred_s: FloatArray,
    loglik: FloatArray,
    at_zero: FloatArray,
    expected: list[bool],
    params: dict[str, dict[str, Any]],
    grid_kind: str,
    n_cells: int,
    n_boot: int,
    seed: int | None,
    level: float,
) -> BacktestResult:
    n_mod, n_org, n_cov = hits.shape
    ok = n_events > 0
    m_ok = int(ok.sum())
    share = area_pct / 100.0
    pai = hits / share
    pei = np.divide(hits, best[None], out=np.full_like(hits, np.nan), where=best[None] > 0)
    baselines = [j for j, n in enumerate(names) if n in BASELINES]
    # Every model against every baseline; between two baselines, only the later one against
    # the earlier (naive_recent against naive_all), not both ways.
    rank = {b: k for k, b in enumerate(BASELINES)}
    pairs = [
        (i, j)
        for i in range(n_mod)
        for j in baselines
        if i != j and rank.get(names[i], len(rank)) > rank[names[j]]
    ]

    # All figures that get an interval, as columns over the usable origins.
    blocks = [hits[:, ok].transpose(1, 0, 2).reshape(m_ok, -1)]
    blocks.append(pei[:, ok].transpose(1, 0, 2).reshape(m_ok, -1))
    blocks += [(hits[i, ok] - hits[j, ok]).reshape(m_ok, -1) for i, j in pairs]
    cols = np.concatenate(blocks, axis=1)
    with np.errstate(invalid="ignore"):
        means = cols.mean(axis=0) if m_ok else np.full(cols.shape[1], np.nan)
    lo, hi = _bootstrap(cols, n_boot, seed, level)
    size = n_mod * n_cov

    def part(b: int, arr: FloatArray) -> FloatArray:
        return arr[b * size : (b + 1) * size].reshape(n_mod, n_cov)

    hit_m, hit_lo, hit_hi = part(0, means), part(0, lo), part(0, hi)
    pei_m, pei_lo, pei_hi = part(1, means), part(1, lo), part(1, hi)
    off = 2 * size
    diff = means[off:].reshape(len(pairs), n_cov)
    diff_lo = lo[off:].reshape(len(pairs), n_cov)
    diff_hi = hi[off:].reshape(len(pairs), n_cov)
    best_m = best[ok].mean(axis=0) if m_ok else np.full(n_cov, np.nan)
    tied_m = tied[:, ok].mean(axis=1) if m_ok else np.full((n_mod, n_cov), np.nan)

    comp_rows = []
    beats = np.ones((n_mod, n_cov), dtype=bool)
    for p, (i, j) in enumerate(pairs):
        for c in range(n_cov):
            outcome = _outcome(diff_lo[p, c], diff_hi[p, c])
            if names[i] not in BASELINES:
                beats[i, c] &= outcome == "better"
            comp_rows.append(
                {
                    "model": names[i],
                    "baseline": names[j],
                    "coverage_pct": covs[c],
                    "diff_mean": diff[p, c],
                    "diff_lo": diff_lo[p, c],
                    "diff_hi": diff_hi[p, c],
                    "n_origins": m_ok,
                    "outcome": outcome,
                }
            )
    comparisons = pl.DataFrame(
        comp_rows,
        schema={
            "model": pl.String,
            "baseline": pl.String,
            "coverage_pct": pl.Float64,
            "diff_mean": pl.Float64,
            "diff_lo": pl.Float64,
            "diff_hi": pl.Float64,
            "n_origins": pl.Int64,
            "outcome": pl.String,
        },
    )

    judged = bool(baselines) and m_ok >= 2
    rows = []
    for i, name in enumerate(names):
        for c in range(n_cov):
            rows.append(
                {
                    "model": name,
                    "coverage_pct": covs[c],
                    "area_pct": float(area_pct[c]),
                    "hit_rate_mean": hit_m[i, c],
                    "hit_rate_lo": hit_lo[i, c],
                    "hit_rate_hi": hit_hi[i, c],
                    "pai_mean": hit_m[i, c] / share[c],
                    "pai_lo": hit_lo[i, c] / share[c],
                    "pai_hi": hit_hi[i, c] / share[c],
                    "pei_mean": pei_m[i, c],
                    "pei_lo": pei_lo[i, c],
                    "pei_hi": pei_hi[i, c],
                    "best_hit_rate_mean": best_m[c],
                    "tied_area_share_mean": tied_m[i, c],
                    "n_origins": m_ok,
                    "n_empty": n_org - m_ok,
                    "beats_baselines": bool(beats[i, c])
                    if judged and name not in BASELINES
                    else None,
                }
            )
    table = pl.DataFrame(rows, schema_overrides={"beats_baselines": pl.Boolean})

    starts = [_date(c) for c in cutoffs.tolist()]
    ends = [_date(c + window) for c in cutoffs.tolist()]
    per = pl.DataFrame(
        {
            "origin": np.repeat(np.arange(1, n_org + 1), n_mod * n_cov),
            "cutoff": np.repeat(cutoffs, n_mod * n_cov),
            "start_date": np.repeat(np.array(starts, dtype="datetime64[D]"), n_mod * n_cov),
            "end_date": np.repeat(np.array(ends, dtype="datetime64[D]"), n_mod * n_cov),
            "n_events": np.repeat(n_events, n_mod * n_cov),
            "model": np.tile(np.repeat(np.array(names, dtype=object), n_cov), n_org),
            "coverage_pct": np.tile(np.asarray(covs), n_org * n_mod),
            "area_pct": np.tile(area_pct, n_org * n_mod),
            "hit_rate": hits.transpose(1, 0, 2).ravel(),
            "pai": pai.transpose(1, 0, 2).ravel(),
            "pei": pei.transpose(1, 0, 2).ravel(),
            "best_hit_rate": np.repeat(best[:, None, :], n_mod, axis=1).ravel(),
            "tied_area_share": tied.transpose(1, 0, 2).ravel(),
            "fit_seconds": np.repeat(fit_s.T.ravel(), n_cov),
            "predict_seconds": np.repeat(pred_s.T.ravel(), n_cov),
            "log_likelihood": np.repeat(loglik.T.ravel(), n_cov),
        },
        strict=False,
    ).with_columns(
        pl.col("model").cast(pl.String),
        pl.col("start_date", "end_date").cast(pl.Date),
        pl.col(pl.Float64).fill_nan(None),
    )
    # Calibration uses every origin: a window without events is still a prediction to score.
    ll_mean = [float(np.mean(loglik[i])) if expected[i] else None for i in range(n_mod)]
    zero_mean = [float(np.mean(at_zero[i])) if expected[i] else None for i in range(n_mod)]
    models_frame = pl.DataFrame(
        {
            "model": names,
            "expected_counts": expected,
            "fit_seconds_mean": fit_s.mean(axis=1),
            "fit_seconds_total": fit_s.sum(axis=1),
            "predict_seconds_mean": pred_s.mean(axis=1),
            "log_likelihood_mean": ll_mean,
            "events_at_zero_mean": zero_mean,
        },
        schema_overrides={"log_likelihood_mean": pl.Float64, "events_at_zero_mean": pl.Float64},
    )

    notes = _notes(names, covs, area_pct, n_cells, n_org, m_ok, window, step, baselines)
    for name, z in zip(names, zero_mean, strict=True):
        if z:
            notes.append(
                f"{name} gave an expected count of 0 to cells where events happened (on average "
                f"{z:.1f} events per window), so its Poisson log-likelihood is -inf"
            )
    return BacktestResult(
        models=tuple(names),
        coverages=tuple(covs),
        area_pct=tuple(float(a) for a in area_pct),
        cutoffs=tuple(float(c) for c in cutoffs),
        window_days=window,
        step_days=step,
        n_events=tuple(int(n) for n in n_events),
        grid_kind=grid_kind,
        n_cells=n_cells,
        n_boot=n_boot,
        seed=seed,
        level=level,
        params=params,
        notes=tuple(notes),
        _table=table.with_columns(pl.col(pl.Float64).fill_nan(None)),
        _per_origin=per,
        _comparisons=comparisons.with_columns(pl.col(pl.Float64).fill_nan(None)),
        _models=models_frame,
    )


def _outcome(lo: float, hi: float) -> str:
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return "undetermined"
    if lo > 0:
        return "better"
    if hi < 0:
        return "worse"
    return "unclear"


def _notes(
    names: list[str],
    covs: list[float],
    area_pct: FloatArray,
    n_cells: int,
    n_org: int,
    m_ok: int,
    window: float,
    step: float,
    baselines: list[int],
) -> list[str]:
    notes: list[str] = []
    if m_ok < n_org:
        notes.append(
            f"{n_org - m_ok} of {n_org} windows had no events and are left out of every figure"
        )
    if m_ok < 2:
        notes.append("intervals and verdicts need at least 2 windows with events")
    if step < window:
        notes.append(
            f"windows overlap (a new origin every {step:g} days for {window:g}-day windows), "
            "so the intervals, which treat origins as independent, are too narrow"
        )
    for c, a in zip(covs, area_pct.tolist(), strict=True):
        if abs(a - c) > 0.05 * c:
            notes.append(
                f"{c:g}% of {n_cells:,} cells is not a whole number of cells: "
                f"{a:.2f}% of the area is used"
            )
    if not baselines:
        notes.append("no naive baseline ran, so no model is judged against one")
    return notes


# ---------------------------------------------------------------------------------------------
# Words: verdicts and report text
# ---------------------------------------------------------------------------------------------

_WORDS: dict[str, dict[str, str]] = {
    "en": {
        "beats_all": "{m} beats the naive baselines at all coverages ({covs}).",
        "beats_some": "{m} beats the naive baselines at {yes} coverage, not at {no}.",
        "beats_none": "{m} does not beat the naive baselines at any coverage.",
        "fails": "{m} does not beat {b} at {c} coverage (difference in hit rate {d} [{lo}, {hi}];"
        " {how}).",
        "worse": "significantly worse",
        "unclear": "no clear difference",
        "undetermined": "{m} cannot be judged against the naive baselines: fewer than 2 windows"
        " with events.",
        "no_baseline": "No naive baseline (naive_all, naive_recent) ran, so no model can be said"
        " to beat them.",
        "only_baselines": "Only the naive baselines ran.",
        "and": "and",
        "pct": "{v}%",
        "title": "Hotspot model backtest",
        "settings": "Settings",
        "verdicts": "Verdicts",
        "by_model": "Hit rate, PAI and PEI by coverage",
        "against": "Against the naive baselines",
        "models": "Models",
        "charts": "Charts",
        "notes": "Notes",
        "how": "How to read",
        "intro": "{n} windows of {w:g} days from {a} to {b} (a new origin every {s:g} days); "
        "{e:,} events in the windows; a {kind} grid of {cells:,} cells; {lvl:g}% percentile "
        "bootstrap intervals over the origins ({boot:,} resamples).",
        "explain": "Hit rate: share of the window's events inside the cells a model ranks "
        "highest, filling the coverage share of the area. PAI: hit rate / area share (1 = no "
        "better than chance). PEI: hit rate / best possible hit rate (1 = as good as knowing "
        "the future). Cells tied at the threshold are counted by their expected share under a "
        "random choice, so ties neither help nor hurt. A model beats the naive baselines at a "
        "coverage only when the interval of its difference with each of them is above zero.",
        "col_cov": "coverage",
        "col_area": "area",
        "col_hit": "hit rate",
        "col_pai": "PAI",
        "col_pei": "PEI",
        "col_best": "best hit rate",
        "col_tied": "tied area",
        "col_beats": "beats baselines",
        "col_model": "model",
        "col_base": "baseline",
        "col_diff": "difference in hit rate",
        "col_outcome": "outcome",
        "col_fit": "fit s (mean)",
        "col_pred": "predict s (mean)",
        "col_ll": "Poisson log-likelihood (mean)",
        "col_zero": "events where 0 was expected (mean)",
        "yes": "yes",
        "no": "no",
        "chart_hit": "Hit rate by coverage",
        "chart_pai": "PAI by coverage",
        "chart_origin": "Hit rate by window at {c} coverage",
        "axis_cov": "Coverage (% of area)",
        "axis_hit": "Hit rate",
        "axis_pai": "PAI",
        "axis_window": "Window start",
        "oracle": "best possible",
        "chance": "chance (PAI = 1)",
    },
    "es": {
        "beats_all": "{m} supera a los modelos ingenuos con todas las coberturas ({covs}).",
        "beats_some": "{m} supera a los modelos ingenuos con una cobertura del {yes}, pero no"
        " del {no}.",
        "beats_none": "{m} no supera a los modelos ingenuos con ninguna cobertura.",
        "fails": "{m} no supera a {b} con una cobertura del {c} (diferencia de tasa de acierto"
        " {d} [{lo}; {hi}]; {how}).",
        "worse": "significativamente peor",
        "unclear": "sin diferencia clara",
        "undetermined": "{m} no se puede juzgar frente a los modelos ingenuos: menos de 2"
        " ventanas con eventos.",
        "no_baseline": "No se ejecutó ningún modelo ingenuo (naive_all, naive_recent), así que"
        " no se puede decir que un modelo los supere.",
        "only_baselines": "Solo se ejecutaron los modelos ingenuos.",
        "and": "y",
        "pct": "{v} %",
        "title": "Evaluación retrospectiva de modelos de puntos calientes",
        "settings": "Parámetros",
        "verdicts": "Veredictos",
        "by_model": "Tasa de acierto, PAI y PEI por cobertura",
        "against": "Frente a los modelos ingenuos",
        "models": "Modelos",
        "charts": "Gráficos",
        "notes": "Notas",
        "how": "Cómo leerlo",
        "intro": "{n} ventanas de {w:g} días del {a} al {b} (un nuevo origen cada {s:g} días); "
        "{e:,} eventos en las ventanas; cuadrícula {kind} de {cells:,} celdas; intervalos "
        "bootstrap de percentiles al {lvl:g} % sobre los orígenes ({boot:,} remuestreos).",
        "explain": "Tasa de acierto: proporción de los eventos de la ventana dentro de las "
        "celdas de mayor riesgo según el modelo, hasta cubrir la proporción del área. PAI: "
        "tasa de acierto / proporción del área (1 = como el azar). PEI: tasa de acierto / "
        "mejor tasa posible (1 = como conocer el futuro). Las celdas empatadas en el umbral "
        "cuentan por su parte esperada con una elección al azar, así que los empates no "
        "ayudan ni perjudican. Un modelo supera a los modelos ingenuos con una cobertura solo "
        "si el intervalo de su diferencia con cada uno está por encima de cero.",
        "col_cov": "cobertura",
        "col_area": "área",
        "col_hit": "tasa de acierto",
        "col_pai": "PAI",
        "col_pei": "PEI",
        "col_best": "mejor tasa",
        "col_tied": "área empatada",
        "col_beats": "supera a los ingenuos",
        "col_model": "modelo",
        "col_base": "modelo ingenuo",
        "col_diff": "diferencia de tasa de acierto",
        "col_outcome": "resultado",
        "col_fit": "ajuste s (media)",
        "col_pred": "predicción s (media)",
        "col_ll": "log-verosimilitud de Poisson (media)",
        "col_zero": "eventos donde se esperaba 0 (media)",
        "yes": "sí",
        "no": "no",
        "chart_hit": "Tasa de acierto por cobertura",
        "chart_pai": "PAI por cobertura",
        "chart_origin": "Tasa de acierto por ventana con una cobertura del {c}",
        "axis_cov": "Cobertura (% del área)",
        "axis_hit": "Tasa de acierto",
        "axis_pai": "PAI",
        "axis_window": "Inicio de la ventana",
        "oracle": "mejor posible",
        "chance": "azar (PAI = 1)",
    },
}
_OUTCOMES = {
    "en": {"better": "better", "worse": "worse", "unclear": "unclear", "undetermined": "—"},
    "es": {"better": "mejor", "worse": "peor", "unclear": "incierto", "undetermined": "—"},
}


def _words(lang: str) -> dict[str, str]:
    if lang not in _WORDS:
        raise InputError(f"unknown language {lang!r}", hint="use 'en' or 'es'")
    return {**_WORDS[lang], "lang": lang}


def _num(v: float | None, w: dict[str, str], digits: int = 3, sign: bool = False) -> str:
    if v is None or math.isnan(v):
        return "—"
    if math.isinf(v):
        return "-inf" if v < 0 else "inf"
    v = round(v, digits) + 0.0  # no "-0.000"
    s = f"{v:+.{digits}f}" if sign else f"{v:.{digits}f}"
    return s.replace(".", ",") if w["lang"] == "es" else s


def _pct(c: float, w: dict[str, str]) -> str:
    v = f"{c:g}"
    return w["pct"].format(v=v.replace(".", ",") if w["lang"] == "es" else v)


def _join(items: list[str], w: dict[str, str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {w['and']} {items[-1]}"


def _verdicts(result: BacktestResult, w: dict[str, str]) -> list[str]:
    comp = result.comparisons()
    present = [m for m in result.models if m in BASELINES]
    others = [m for m in result.models if m not in BASELINES]
    if not others:
        return [w["only_baselines"]]
    if not present:
        return [w["no_baseline"]]
    out: list[str] = []
    for m in others:
        if result.n_origins < 2:
            out.append(w["undetermined"].format(m=m))
            continue
        rows = comp.filter(pl.col("model") == m)
        yes: list[str] = []
        no: list[str] = []
        details: list[str] = []
        for c in result.coverages:
            at = rows.filter(pl.col("coverage_pct") == c)
            failed = at.filter(pl.col("outcome") != "better")
            (no if failed.height else yes).append(_pct(c, w))
            for r in failed.iter_rows(named=True):
                details.append(
                    w["fails"].format(
                        m=m,
                        b=r["baseline"],
                        c=_pct(c, w),
                        d=_num(r["diff_mean"], w, sign=True),
                        lo=_num(r["diff_lo"], w, sign=True),
                        hi=_num(r["diff_hi"], w, sign=True),
                        how=w["worse"] if r["outcome"] == "worse" else w["unclear"],
                    )
                )
        if not no:
            out.append(w["beats_all"].format(m=m, covs=_join(yes, w)))
        elif not yes:
            out.append(w["beats_none"].format(m=m))
        else:
            out.append(w["beats_some"].format(m=m, yes=_join(yes, w), no=_join(no, w)))
        out.extend(details)
    return out


def _records(frame: pl.DataFrame) -> list[dict[str, Any]]:
    return [_clean(r) for r in frame.to_dicts()]


def _clean(v: Any) -> Any:
    """JSON-safe: non-finite floats become None, dates ISO strings."""
    if isinstance(v, dict):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_clean(x) for x in v]
    if isinstance(v, float | np.floating):
        f = float(v)
        return f if math.isfinite(f) else None
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.ndarray):
        return _clean(v.tolist())
    if isinstance(v, datetime | date):
        return v.isoformat()
    return v


# ---------------------------------------------------------------------------------------------
# Markdown and charts
# ---------------------------------------------------------------------------------------------


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    # Hand-rolled: polars' Markdown output pads and truncates cells, and tabulate is not a
    # dependency; escaping pipes is all a cell needs here.
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(header), line(["---"] * len(header)), *(line(r) for r in rows)])


def _ci(mean: Any, lo: Any, hi: Any, w: dict[str, str], digits: int = 3) -> str:
    sep = "; " if w["lang"] == "es" else ", "
    if lo is None or hi is None:
        return _num(mean, w, digits)
    return f"{_num(mean, w, digits)} [{_num(lo, w, digits)}{sep}{_num(hi, w, digits)}]"


def _markdown(
    result: BacktestResult, w: dict[str, str], title: str | None, charts: Sequence[str]
) -> str:
    c0, c1 = result.cutoffs[0], result.cutoffs[-1] + result.window_days - 1
    parts = [f"# {title or w['title']}", ""]
    parts += [f"## {w['settings']}", ""]
    parts.append(
        w["intro"].format(
            n=len(result.cutoffs),
            w=result.window_days,
            a=_date(c0).isoformat(),
            b=_date(c1).isoformat(),
            s=result.step_days,
            e=sum(result.n_events),
            kind=result.grid_kind,
            cells=result.n_cells,
            lvl=100 * result.level,
            boot=result.n_boot,
        )
    )
    parts += ["", f"## {w['verdicts']}", ""]
    parts += [f"- {v}" for v in result.verdicts(w["lang"])]
    parts += ["", f"## {w['by_model']}", ""]
    table = result.table()
    header = [w[k] for k in ("col_cov", "col_area", "col_hit", "col_pai", "col_pei", "col_best")]
    header += [w["col_tied"], w["col_beats"]]
    for m in result.models:
        rows = []
        for r in table.filter(pl.col("model") == m).iter_rows(named=True):
            beats = r["beats_baselines"]
            rows.append(
                [
                    _pct(r["coverage_pct"], w),
                    _pct(round(r["area_pct"], 2), w),
                    _ci(r["hit_rate_mean"], r["hit_rate_lo"], r["hit_rate_hi"], w),
                    _ci(r["pai_mean"], r["pai_lo"], r["pai_hi"], w, 2),
                    _ci(r["pei_mean"], r["pei_lo"], r["pei_hi"], w),
                    _num(r["best_hit_rate_mean"], w),
                    _num(r["tied_area_share_mean"], w, 2),
                    "—" if beats is None else w["yes" if beats else "no"],
                ]
            )
        parts += [f"### {m}", "", _md_table(header, rows), ""]
    comp = result.comparisons()
    if comp.height:
        parts += [f"## {w['against']}", ""]
        rows = [
            [
                r["model"],
                r["baseline"],
                _pct(r["coverage_pct"], w),
                _ci(r["diff_mean"], r["diff_lo"], r["diff_hi"], w),
                _OUTCOMES[w["lang"]][r["outcome"]],
            ]
            for r in comp.iter_rows(named=True)
        ]
        header = [w[k] for k in ("col_model", "col_base", "col_cov", "col_diff", "col_outcome")]
        parts += [_md_table(header, rows), ""]
    parts += [f"## {w['models']}", ""]
    rows = [
        [
            r["model"],
            _num(r["fit_seconds_mean"], w, 3),
            _num(r["predict_seconds_mean"], w, 3),
            _num(r["log_likelihood_mean"], w, 1),
            _num(r["events_at_zero_mean"], w, 1),
        ]
        for r in result.model_summary().iter_rows(named=True)
    ]
    parts += [
        _md_table([w[k] for k in ("col_model", "col_fit", "col_pred", "col_ll", "col_zero")], rows),
        "",
    ]
    if charts:
        parts += [f"## {w['charts']}", ""]
        parts += [f"![{Path(c).stem}]({c})\n" for c in charts]
    parts += [f"## {w['how']}", "", w["explain"], ""]
    if result.notes:
        parts += [f"## {w['notes']}", ""]
        parts += [f"- {n}" for n in result.notes]
        parts.append("")
    return "\n".join(parts)


def write_report(
    result: BacktestResult,
    out_dir: str | Path,
    *,
    title: str | None = None,
    lang: str = "en",
) -> list[Path]:
    """Write ``report.md`` and its PNG charts into ``out_dir`` (created if needed).

    Charts: ``hit_rate.png`` (hit rate by coverage per model with intervals, the best possible
    and chance), ``pai.png`` (PAI by coverage per model with intervals) and
    ``hit_rate_by_origin.png`` (hit rate per window at 5 % coverage, or the nearest level).

    Returns:
        The paths written, the report first.

    Raises:
        InputError: ``out_dir`` is a file or cannot be created; unknown language.
    """
    w = _words(lang)
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError, PermissionError) as exc:
        raise InputError(f"cannot write the report into {out}: {exc}") from exc
    charts = {
        "hit_rate.png": _chart_hit_rate(result, w),
        "pai.png": _chart_pai(result, w),
        "hit_rate_by_origin.png": _chart_by_origin(result, w),
    }
    paths = [out / "report.md"]
    for name, png in charts.items():
        (out / name).write_bytes(png)
        paths.append(out / name)
    paths[0].write_text(result.to_markdown(title, lang=lang, charts=list(charts)), "utf-8")
    return paths


def _figure() -> tuple[Any, Any, Any]:
    # The object API with an Agg canvas: no pyplot, so no global figure state or backend.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 4.8))
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.grid(axis="y", color="#dddddd", linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return fig, canvas, ax


def _png(fig: Any, canvas: Any, ax: Any) -> bytes:
    import io

    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    canvas.print_figure(buf, format="png", dpi=120, metadata={"Software": None})
    return buf.getvalue()


def _series(result: BacktestResult, model: str, col: str) -> FloatArray:
    values = result.table().filter(pl.col("model") == model)[col].fill_null(np.nan)
    return values.to_numpy().astype(np.float64)


def _chart_hit_rate(result: BacktestResult, w: dict[str, str]) -> bytes:
    fig, canvas, ax = _figure()
    x = np.asarray(result.area_pct)
    for k, m in enumerate(result.models):
        colour = _COLOURS[k % len(_COLOURS)]
        ax.plot(x, _series(result, m, "hit_rate_mean"), marker="o", color=colour, label=m)
        lo, hi = _series(result, m, "hit_rate_lo"), _series(result, m, "hit_rate_hi")
        ax.fill_between(x, lo, hi, color=colour, alpha=0.15, linewidth=0)
    best = _series(result, result.models[0], "best_hit_rate_mean")
    ax.plot(x, best, color="black", linestyle="--", label=w["oracle"])
    ax.plot(x, x / 100.0, color="grey", linestyle=":", label=w["chance"])
    ax.set_xlabel(w["axis_cov"])
    ax.set_ylabel(w["axis_hit"])
    ax.set_title(w["chart_hit"])
    ax.set_ylim(0, 1.02)
    return _png(fig, canvas, ax)


def _chart_pai(result: BacktestResult, w: dict[str, str]) -> bytes:
    fig, canvas, ax = _figure()
    n_mod, n_cov = len(result.models), len(result.coverages)
    width = 0.8 / n_mod
    pos = np.arange(n_cov)
    for k, m in enumerate(result.models):
        mean = _series(result, m, "pai_mean")
        lo, hi = _series(result, m, "pai_lo"), _series(result, m, "pai_hi")
        err = np.vstack([mean - lo, hi - mean])
        ax.bar(
            pos - 0.4 + width * (k + 0.5),
            mean,
            width,
            yerr=None if np.isnan(err).all() else np.nan_to_num(err),
            color=_COLOURS[k % len(_COLOURS)],
            label=m,
            capsize=2,
        )
    ax.axhline(1.0, color="grey", linestyle=":", label=w["chance"])
    ax.set_xticks(pos, [_pct(c, w) for c in result.coverages])
    ax.set_xlabel(w["axis_cov"])
    ax.set_ylabel(w["axis_pai"])
    ax.set_title(w["chart_pai"])
    return _png(fig, canvas, ax)


def _chart_by_origin(result: BacktestResult, w: dict[str, str]) -> bytes:
    c = min(result.coverages, key=lambda v: (abs(v - 5.0), v))
    per = result.per_origin().filter(pl.col("coverage_pct") == c)
    fig, canvas, ax = _figure()
    first = per.filter(pl.col("model") == result.models[0])
    x = first["start_date"].to_list()
    for k, m in enumerate(result.models):
        y = per.filter(pl.col("model") == m)["hit_rate"].fill_null(np.nan).to_numpy()
        ax.plot(x, y, marker="o", markersize=3, color=_COLOURS[k % len(_COLOURS)], label=m)
    best = first["best_hit_rate"].fill_null(np.nan).to_numpy()
    ax.plot(x, best, color="black", linestyle="--", label=w["oracle"])
    ax.set_xlabel(w["axis_window"])
    ax.set_ylabel(w["axis_hit"])
    ax.set_title(w["chart_origin"].format(c=_pct(c, w)))
    ax.set_ylim(0, 1.02)
    fig.autofmt_xdate()
    return _png(fig, canvas, ax)
