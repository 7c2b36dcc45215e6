"""Rolling-origin backtest: tie math by hand, oracle and chance baselines, planted hotspots,
no peeking at the future, verdicts against the naive baselines, JSON and report outputs."""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from pyproj import CRS
from scipy import stats

from safestreets.errors import InputError
from safestreets.spatial.backtest import (
    BacktestResult,
    backtest,
    coverage_targets,
    expected_hits,
    write_report,
)
from safestreets.spatial.events import day_of
from safestreets.spatial.grid import Grid
from safestreets.spatial.predict import AllHistory, History, Predictor, RecentWeeks, SurfaceFit

T0 = day_of(date(2024, 1, 1))
FAST: dict[str, Any] = {"origins": 6, "n_boot": 200}


def square_grid(nx: int = 20, ny: int = 20, cell: float = 100.0) -> Grid:
    """A full nx x ny raster of active square cells (UTM 15N, the zone of Guatemala City)."""
    n = nx * ny
    idx = np.arange(n, dtype=np.int64)
    row, col = np.divmod(idx, nx)
    return Grid(
        kind="square",
        crs=CRS.from_epsg(32615),
        cell_size=cell,
        resolution=None,
        index=idx,
        cx=(col + 0.5) * cell,
        cy=(row + 0.5) * cell,
        area_m2=np.full(n, cell * cell),
        x0=0.0,
        y0=0.0,
        nx=nx,
        ny=ny,
        _lookup=idx.copy(),
    )


def uneven_grid(n: int = 300, seed: int = 3) -> Grid:
    """Cells of different areas, as on an H3 grid."""
    g = square_grid(n, 1)
    areas = np.random.default_rng(seed).uniform(0.5e4, 2e4, n)
    return Grid(**{**g.__dict__, "kind": "h3", "area_m2": areas, "resolution": 9})


HOT = np.array([21, 45, 88, 120, 177, 203, 250, 301, 333, 390])


def planted(
    grid: Grid,
    *,
    days: int = 14 * 7,
    hot_rate: float = 0.5,
    background: float = 0.01,
    seed: int = 0,
    gap: tuple[float, float] | None = None,
) -> History:
    """A stationary Poisson process: ten hot cells at ``hot_rate`` events a day, the rest low."""
    rng = np.random.default_rng(seed)
    rate = np.full(grid.n, background)
    rate[[c for c in HOT.tolist() if c < grid.n]] = hot_rate
    k = rng.poisson(rate * days)
    cell = np.repeat(np.arange(grid.n), k)
    t = T0 + rng.uniform(0.0, days, len(cell))
    if gap is not None:
        keep = (t < gap[0]) | (t >= gap[1])
        cell, t = cell[keep], t[keep]
    return History.build(grid, cell, t)


# -- toy predictors ----------------------------------------------------------------------------


@dataclass
class Future:
    """Fitted oracle: the true counts of the window (it was handed the full history)."""

    full: History
    expected_counts: bool = False
    params: dict[str, Any] = field(default_factory=dict)

    def predict(self, start: float, end: float) -> np.ndarray:
        return self.full.counts(start, end)


@dataclass
class Oracle:
    full: History
    name: str = "oracle"

    def fit(self, history: History, cutoff: float) -> Future:
        return Future(self.full)


@dataclass
class Constant:
    name: str = "flat"

    def fit(self, history: History, cutoff: float) -> SurfaceFit:
        return SurfaceFit(np.zeros(history.grid.n))


@dataclass
class RandomRisk:
    name: str = "random"

    def fit(self, history: History, cutoff: float) -> SurfaceFit:
        rng = np.random.default_rng(int(cutoff))
        return SurfaceFit(rng.random(history.grid.n))


@dataclass
class Peek:
    """Knows the future's top ``k`` cells and nothing else (zeros elsewhere)."""

    full: History
    k: int = 4
    name: str = "peek"

    def fit(self, history: History, cutoff: float) -> SurfaceFit:
        future = self.full.counts(cutoff, cutoff + 7)
        risk = np.zeros(history.grid.n)
        top = np.argsort(-future, kind="stable")[: self.k]
        risk[top] = future[top]
        return SurfaceFit(risk)


@dataclass
class Spy:
    """Records what it was shown."""

    seen: list[tuple[float, int, float]] = field(default_factory=list)
    name: str = "spy"

    def fit(self, history: History, cutoff: float) -> SurfaceFit:
        last = float(history.t.max()) if len(history) else -math.inf
        self.seen.append((cutoff, len(history), last))
        return SurfaceFit(history.counts())


@dataclass
class Broken:
    name: str = "broken"
    size: int = 3

    def fit(self, history: History, cutoff: float) -> SurfaceFit:
        return SurfaceFit(np.ones(self.size))


@dataclass
class Refuses:
    name: str = "refuses"

    def fit(self, history: History, cutoff: float) -> SurfaceFit:
        raise InputError("cannot converge", hint="try another seed")


# -- tie handling ------------------------------------------------------------------------------


def test_hand_example_counts_tied_cells_by_their_expected_share() -> None:
    # Cell 0 ranks first; cells 1-3 tie (with 0, 3 and 0 events); cell 4 is last.
    risk = [3.0, 2.0, 2.0, 2.0, 0.0]
    actual = [1.0, 0.0, 3.0, 0.0, 6.0]
    hits, tied = expected_hits(risk, actual, np.ones(5), [1, 2, 3, 4, 5])
    # Two cells: cell 0 plus one of the three tied cells, 3 events / 3 cells on average.
    assert hits.tolist() == pytest.approx([1.0, 2.0, 3.0, 4.0, 10.0])
    # Half of a 2-cell selection came from the tie; 2 of 3 cells; the whole group needs no choice.
    assert tied.tolist() == pytest.approx([0.0, 0.5, 2 / 3, 0.0, 0.0])


def test_tie_formula_equals_the_average_over_every_random_order() -> None:
    rng = np.random.default_rng(7)
    for _ in range(5):
        risk = rng.integers(0, 3, 6).astype(float)
        actual = rng.integers(0, 5, 6).astype(float)
        orders = [
            p
            for p in itertools.permutations(range(6))
            if all(risk[p[i]] >= risk[p[i + 1]] for i in range(5))
        ]
        for k in range(1, 7):
            brute = np.mean([actual[list(p[:k])].sum() for p in orders])
            assert expected_hits(risk, actual, np.ones(6), [k])[0][0] == pytest.approx(brute)


def test_unequal_areas_fill_the_target_area() -> None:
    area = [2.0, 1.0, 1.0, 4.0]
    risk = [5.0, 1.0, 1.0, 0.0]
    actual = [3.0, 2.0, 4.0, 8.0]
    hits, tied = expected_hits(risk, actual, area, [1.0, 3.0, 8.0])
    # Half of the first cell's area; then the first cell and half of the tied pair's area.
    assert hits.tolist() == pytest.approx([1.5, 3.0 + 0.5 * 6.0, 17.0])
    assert tied.tolist() == pytest.approx([0.0, 1 / 3, 0.0])


def test_coverage_targets_whole_cells_on_square_grids_exact_area_otherwise() -> None:
    area, target = coverage_targets(np.full(400, 1e4), [1, 2, 5, 10, 20])
    assert area.tolist() == [1.0] * 400
    assert target.tolist() == [4.0, 8.0, 20.0, 40.0, 80.0]
    _, small = coverage_targets(np.full(50, 1e4), [1, 3, 100])
    assert small.tolist() == [1.0, 2.0, 50.0]  # at least one cell; 1.5 cells round to 2
    uneven = np.array([1.0, 2.0, 3.0, 4.0])
    area, target = coverage_targets(uneven, [10, 50])
    assert area.tolist() == uneven.tolist()
    assert target.tolist() == pytest.approx([1.0, 5.0])


# -- figures on toy models ---------------------------------------------------------------------


def test_oracle_has_pei_one_and_the_best_hit_rate() -> None:
    h = planted(square_grid())
    result = backtest(h, [Oracle(h), AllHistory()], **FAST)
    per = result.per_origin().filter(pl.col("model") == "oracle")
    assert per["pei"].to_numpy() == pytest.approx(np.ones(per.height))
    assert per["hit_rate"].to_numpy() == pytest.approx(per["best_hit_rate"].to_numpy())
    row = result.table().filter(pl.col("model") == "oracle")
    assert row["pei_mean"].to_numpy() == pytest.approx(np.ones(5))
    assert row["hit_rate_mean"].to_numpy() == pytest.approx(row["best_hit_rate_mean"].to_numpy())
    # Every model's PEI is at most 1: nothing beats the oracle.
    assert result.per_origin()["pei"].to_numpy().max() <= 1.0 + 1e-12


@pytest.mark.parametrize("grid", [square_grid(), uneven_grid()], ids=["square", "uneven"])
def test_a_constant_prediction_scores_chance(grid: Grid) -> None:
    h = planted(grid)
    result = backtest(h, [Constant()], **FAST)
    per = result.per_origin()
    share = per["area_pct"].to_numpy() / 100
    assert per["pai"].to_numpy() == pytest.approx(np.ones(per.height), abs=1e-12)
    assert per["hit_rate"].to_numpy() == pytest.approx(share)
    assert per["tied_area_share"].to_numpy() == pytest.approx(np.ones(per.height))
    assert result.table()["pai_mean"].to_numpy() == pytest.approx(np.ones(5))


def test_naive_all_beats_random_on_planted_hotspots_and_the_verdicts_say_so() -> None:
    h = planted(square_grid())
    models: list[Predictor] = [AllHistory(), RecentWeeks(), RandomRisk(), Oracle(h)]
    result = backtest(h, models, **FAST)
    table = result.table()
    at5 = {r["model"]: r for r in table.filter(pl.col("coverage_pct") == 5).iter_rows(named=True)}
    # 20 cells hold the ten hot ones, where 5.0 of 8.9 events a day (56%) fall.
    assert at5["naive_all"]["hit_rate_mean"] > 0.5
    assert at5["random"]["hit_rate_mean"] < 0.15
    assert at5["naive_all"]["pai_mean"] > 10
    assert at5["random"]["beats_baselines"] is False
    assert at5["oracle"]["beats_baselines"] is True
    assert at5["naive_all"]["beats_baselines"] is None  # a baseline is not judged against itself

    comp = result.comparisons()
    rnd = comp.filter((pl.col("model") == "random") & (pl.col("baseline") == "naive_all"))
    assert rnd["outcome"].to_list() == ["worse"] * 5
    assert (rnd["diff_hi"] < 0).all()
    # The two baselines are compared once, the later against the earlier.
    pairs = set(comp.select("model", "baseline").unique().iter_rows())
    assert ("naive_recent", "naive_all") in pairs
    assert ("naive_all", "naive_recent") not in pairs

    en = result.verdicts()
    assert "random does not beat the naive baselines at any coverage." in en
    fail = next(v for v in en if v.startswith("random does not beat naive_all at 5% coverage"))
    d = rnd.filter(pl.col("coverage_pct") == 5).row(0, named=True)
    assert f"{d['diff_mean']:+.3f} [{d['diff_lo']:+.3f}, {d['diff_hi']:+.3f}]" in fail
    assert "significantly worse" in fail
    assert "oracle beats the naive baselines at all coverages (1%, 2%, 5%, 10% and 20%)." in en
    assert not any(v.startswith("naive_") for v in en)

    es = result.verdicts("es")
    assert "random no supera a los modelos ingenuos con ninguna cobertura." in es
    assert any(v.startswith("random no supera a naive_all con una cobertura del 5 %") for v in es)
    assert any(" -0," in v and "significativamente peor" in v for v in es)


def test_a_model_good_only_at_low_coverage_is_said_to_fail_at_high_coverage() -> None:
    h = planted(square_grid())
    result = backtest(h, [AllHistory(), Peek(h)], **FAST)
    en = result.verdicts()
    assert en[0].startswith("peek beats the naive baselines at 1% coverage, not at ")
    assert "20%" in en[0]
    worse = [v for v in en if "peek does not beat naive_all at 20% coverage" in v]
    assert len(worse) == 1 and "significantly worse" in worse[0]
    beats = result.table().filter(pl.col("model") == "peek")["beats_baselines"].to_list()
    assert beats[0] is True and beats[-1] is False


def test_paired_differences_are_means_of_per_origin_differences() -> None:
    h = planted(square_grid())
    result = backtest(h, [AllHistory(), RandomRisk()], **FAST)
    per = result.per_origin().filter(pl.col("coverage_pct") == 10)
    a = per.filter(pl.col("model") == "naive_all")["hit_rate"].to_numpy()
    r = per.filter(pl.col("model") == "random")["hit_rate"].to_numpy()
    row = result.comparisons().filter(pl.col("coverage_pct") == 10).row(0, named=True)
    assert row["diff_mean"] == pytest.approx(float(np.mean(r - a)))
    assert row["diff_lo"] <= row["diff_mean"] <= row["diff_hi"]
    again = backtest(h, [AllHistory(), RandomRisk()], **FAST)
    assert again.comparisons().equals(result.comparisons())  # seeded bootstrap


def test_without_baselines_no_model_is_said_to_beat_them() -> None:
    h = planted(square_grid())
    result = backtest(h, [RandomRisk()], **FAST)
    assert result.verdicts() == [
        "No naive baseline (naive_all, naive_recent) ran, so no model can be said to beat them."
    ]
    assert result.table()["beats_baselines"].null_count() == 5
    assert result.comparisons().height == 0


# -- origins and the future --------------------------------------------------------------------


def test_no_model_sees_events_at_or_after_its_cutoff() -> None:
    h = planted(square_grid())
    spy = Spy()
    result = backtest(h, [spy, AllHistory()], **FAST)
    stop = math.floor(float(h.t[-1])) + 1
    cutoffs = [c for c, _, _ in spy.seen]
    assert cutoffs == [stop - 7 * k for k in range(6, 0, -1)]
    assert list(result.cutoffs) == cutoffs
    for cutoff, n, last in spy.seen:
        assert last < cutoff
        assert n == len(h.before(cutoff))
    # Each window's events are exactly those in [cutoff, cutoff + 7).
    assert list(result.n_events) == [len(h.window(c, c + 7)) for c in cutoffs]


def test_end_step_and_overlapping_windows() -> None:
    h = planted(square_grid(), days=20 * 7)
    spy = Spy()
    result = backtest(h, [spy], origins=4, step_days=3.5, end=date(2024, 5, 1), n_boot=200)
    stop = day_of(date(2024, 5, 1))
    assert [c for c, _, _ in spy.seen] == [stop - 7 - 3.5 * k for k in range(3, -1, -1)]
    assert any("windows overlap" in n for n in result.notes)


def test_empty_windows_are_counted_and_left_out() -> None:
    h0 = planted(square_grid())
    stop = math.floor(float(h0.t[-1])) + 1
    gap = (stop - 21.0, stop - 14.0)  # the fourth of six windows
    h = planted(square_grid(), gap=gap)
    result = backtest(h, [AllHistory(), RandomRisk()], end=stop, **FAST)
    assert result.n_events[3] == 0
    assert (result.n_origins, result.n_empty) == (5, 1)
    assert "1 of 6 windows had no events and are left out of every figure" in result.notes
    per = result.per_origin().filter(
        (pl.col("model") == "naive_all") & (pl.col("coverage_pct") == 5)
    )
    assert per["hit_rate"][3] is None and per["pei"][3] is None
    row = result.table().filter((pl.col("model") == "naive_all") & (pl.col("coverage_pct") == 5))
    assert row["n_origins"][0] == 5 and row["n_empty"][0] == 1
    assert row["hit_rate_mean"][0] == pytest.approx(np.nanmean(per["hit_rate"].to_numpy()))


def test_poisson_log_likelihood_of_expected_counts() -> None:
    g = square_grid(5, 5)
    h = planted(g, background=0.3)  # every cell has history: no expected count of 0
    result = backtest(h, [AllHistory(), Oracle(h)], **FAST)
    cutoff = result.cutoffs[0]
    past = h.before(cutoff)
    # naive_all spreads one pseudo-event over the grid (ranking unchanged, no zero rate).
    mu = (past.counts() + 1.0 / g.n) / (cutoff - float(past.t[0])) * 7
    want = stats.poisson.logpmf(h.counts(cutoff, cutoff + 7), mu).sum()
    per = result.per_origin().filter(pl.col("model") == "naive_all")
    assert per["log_likelihood"][0] == pytest.approx(want)
    summary = {r["model"]: r for r in result.model_summary().iter_rows(named=True)}
    assert summary["naive_all"]["expected_counts"] is True
    assert summary["naive_all"]["events_at_zero_mean"] == 0.0
    assert math.isfinite(summary["naive_all"]["log_likelihood_mean"])
    assert summary["oracle"]["log_likelihood_mean"] is None  # ranks, not expected counts
    assert summary["naive_all"]["fit_seconds_total"] >= 0.0


def test_progress_is_reported_after_every_fit() -> None:
    h = planted(square_grid())
    calls: list[tuple[int, int, str]] = []
    backtest(h, [AllHistory(), RandomRisk()], progress=lambda *a: calls.append(a), **FAST)
    assert [c[0] for c in calls] == list(range(1, 13))
    assert {c[1] for c in calls} == {12}
    assert calls[0][2].startswith("naive_all at the origin ")


# -- bad inputs --------------------------------------------------------------------------------


def test_too_little_history_says_how_many_weeks_there_are_and_are_needed() -> None:
    h = planted(square_grid(), days=10 * 7)
    with pytest.raises(InputError) as err:
        backtest(h, [AllHistory()], **FAST)
    msg = err.value.message
    assert "cover 10 weeks" in msg
    assert "6 weekly origins need 14 weeks: 6 to test and 8 to learn" in msg
    assert err.value.hint and "fewer origins" in err.value.hint


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"coverages": [0, 5]}, "above 0 and at most 100"),
        ({"coverages": [-1]}, "above 0 and at most 100"),
        ({"coverages": [150]}, "above 0 and at most 100"),
        ({"coverages": [float("nan")]}, "above 0 and at most 100"),
        ({"coverages": []}, "no coverage level"),
        ({"coverages": [5, 5]}, "repeated"),
        ({"coverages": ["five"]}, "must be numbers"),
        ({"origins": 0}, "origins"),
        ({"window_days": 0}, "the window"),
        ({"step_days": -7}, "the step"),
        ({"n_boot": 0}, "bootstrap"),
        ({"level": 1.5}, "confidence level"),
    ],
)
def test_bad_settings_are_refused(options: dict[str, Any], fragment: str) -> None:
    h = planted(square_grid())
    with pytest.raises(InputError, match=fragment):
        backtest(h, [AllHistory()], **{**FAST, **options})


def test_bad_model_lists_are_refused() -> None:
    h = planted(square_grid())
    with pytest.raises(InputError, match="no model"):
        backtest(h, [], **FAST)
    with pytest.raises(InputError, match="same name: naive_all"):
        backtest(h, [AllHistory(), AllHistory()], **FAST)


def test_failing_models_are_named_with_their_origin() -> None:
    h = planted(square_grid())
    with pytest.raises(InputError, match=r"broken at the origin .*3 values .* for 400 cells"):
        backtest(h, [Broken()], **FAST)
    with pytest.raises(InputError, match="refuses at the origin 2024-") as err:
        backtest(h, [Refuses()], **FAST)
    assert "cannot converge" in err.value.message and err.value.hint == "try another seed"


def test_a_single_origin_cannot_judge() -> None:
    h = planted(square_grid())
    result = backtest(h, [AllHistory(), RandomRisk()], origins=1, n_boot=200)
    assert result.verdicts() == [
        "random cannot be judged against the naive baselines: fewer than 2 windows with events."
    ]
    assert result.table()["hit_rate_lo"].null_count() == 10
    assert set(result.comparisons()["outcome"]) == {"undetermined"}


# -- outputs -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def result() -> BacktestResult:
    h = planted(square_grid())
    return backtest(h, [AllHistory(), RecentWeeks(), RandomRisk()], **FAST)


def test_json_is_strict_and_has_the_documented_keys(result: BacktestResult) -> None:
    out = result.to_json()
    text = json.dumps(out, allow_nan=False)
    assert set(out) == {
        "models", "baselines", "coverages", "area_pct", "origins", "window_days", "step_days",
        "grid", "n_origins", "n_empty", "bootstrap", "table", "per_origin", "comparisons",
        "model_summary", "params", "verdicts", "notes",
    }  # fmt: skip
    assert out["baselines"] == ["naive_all", "naive_recent"]
    assert len(out["table"]) == 15 and len(out["per_origin"]) == 6 * 3 * 5
    assert out["origins"][0]["start_date"] == out["per_origin"][0]["start_date"]
    assert out["verdicts"]["en"] == result.verdicts()
    assert out["params"]["naive_recent"] == {"weeks": 8}
    assert out["grid"] == {"kind": "square", "n_cells": 400}
    # -inf log-likelihoods (expected 0 where events happened) become null, not invalid JSON.
    assert "Infinity" not in text
    assert set(result.table().columns) >= {
        "model", "coverage_pct", "hit_rate_mean", "hit_rate_lo", "hit_rate_hi", "pai_mean",
        "pai_lo", "pai_hi", "pei_mean", "pei_lo", "pei_hi", "best_hit_rate_mean", "n_origins",
    }  # fmt: skip


def test_markdown_carries_the_tables_and_the_verdicts(result: BacktestResult) -> None:
    md = result.to_markdown("Backtest of a test city")
    assert md.startswith("# Backtest of a test city\n")
    for v in result.verdicts():
        assert f"- {v}" in md
    for m in result.models:
        assert f"### {m}" in md
    assert "| random | naive_all | 5% |" in md
    es = result.to_markdown(lang="es")
    assert "## Veredictos" in es and "no supera a naive_all" in es
    with pytest.raises(InputError, match="unknown language"):
        result.verdicts("fr")


def test_report_writes_markdown_and_charts(result: BacktestResult, tmp_path: Path) -> None:
    paths = write_report(result, tmp_path / "out")
    assert [p.name for p in paths] == [
        "report.md",
        "hit_rate.png",
        "pai.png",
        "hit_rate_by_origin.png",
    ]
    for p in paths[1:]:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = paths[0].read_text("utf-8")
    assert "![hit_rate](hit_rate.png)" in md and "random does not beat" in md
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="cannot write the report"):
        write_report(result, tmp_path / "file")
