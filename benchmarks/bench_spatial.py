"""Spatial analytics benchmark: KDE, prospective hotspots, ETAS, Gi* and the CDMX backtest.

Runs, in one invocation on the same machine (issue #4), each figure in its own process so that
its peak memory is its own:

* **KDE**: ``--kde-points`` (1,000,000) synthetic city points onto a ``--kde-cell`` (100 m)
  grid, quartic kernel of radius ``--bandwidth`` (400 m), fixed and adaptive bandwidth
  (``spatial.kde.kde``). Target: under 5 s each.
* **Prospective hotspot**: ``--prospective-events`` (1,000,000) events in the 8 weeks before
  the cutoff (so that every one counts) on a 100 m grid: ``make_model("prospective")`` fitted
  at the cutoff and predicting the next week. Target: under 2 s. Peer figures (open_cp, the
  classic open-source Python implementation, measured earlier on this machine; it cannot be
  installed with current NumPy): 4.3 s for 2,600 events, 143 s for 139,000.
* **ETAS**: ``--etas-events`` (200,000) events of a simulated self-exciting city (clustered
  background, each event triggering on average 0.5 more within ~60 m and an exponential delay
  of mean 7 days) over two years, on a 250 m grid: ``make_model("etas")`` fitted at the end
  and predicting the next week. Target: under 60 s and 2 GB. Peer: the classic continuous
  implementation needs 235 s and 3.7 GB for 8,000 events and cannot fit 50,000 in 24 GB.
* **Gi\\***: ``--gistar-cells`` (60,000) square cells holding ``--gistar-events`` (200,000)
  city points: ``spatial.hotspots.gistar`` with ``--permutations`` (999) conditional
  permutations, against its analytic version (``permutations=0``) in the same run, and esda's
  own ``G_Local`` with the same permutations on the same cells as a peer (given
  ``--esda-timeout`` seconds). Target: under 15 s.
* **Backtest**: the Mexico City FGJ carpetas (``--data``), one year (2024), delitos mapped to
  ICCS with the project's ``cdmx-fgj-categories.csv``: ``prepare(cell_size=250,
  drop_stray=True)`` then ``backtest(history, [every registered model], origins=26)`` (weekly
  windows). Cases (``--cases``): ``robbery`` (ICCS 0401, the target case: under 5 minutes),
  ``pedestrian`` (040111, robbery of pedestrians with violence), ``violent`` (ICCS sections
  01-04). Each case's report (``report.md``, charts, ``backtest.json``) goes under
  ``--report-dir``. Skipped with a message when the data are absent.

Quick figures are timed as one cold run, then (when that took under 20 s) the median of
``--repeat`` (3) further runs; slow ones are the single run. Peak memory: the peak RSS of the
figure's own process, and the peak while the timed step ran (``VmHWM`` reset just before it
through ``/proc/self/clear_refs``; it includes what the process already held). The synthetic
city is seeded (``--seed``): a 40 x 40 km square around Guatemala City with 25 % uniform
background, 60 % in 80 Gaussian hot spots of 150 m to 1.5 km and 15 % along 12 corridors.

    .venv/bin/python benchmarks/bench_spatial.py [--only kde,prospective,etas,gistar,backtest]
        [--cases robbery,pedestrian,violent] [--report-dir /tmp/bench_spatial_report] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

FloatArray = npt.NDArray[np.float64]

PARTS = ("kde", "prospective", "etas", "gistar", "backtest")
DATA = Path("/work/shared/data/cdmx-fgj-carpetas/cdmx_fgj_puntos_2019_2024.csv.gz")
CATEGORIES = (
    Path(__file__).resolve().parents[1]
    / "src/safestreets/ingest/profile_data/cdmx-fgj-categories.csv"
)
CASES: dict[str, tuple[str, tuple[str, ...]]] = {
    "robbery": ("robbery (ICCS 0401), 2024", ("0401",)),
    "pedestrian": ("robbery of pedestrians with violence (ICCS 040111), 2024", ("040111",)),
    "violent": ("all violent crime (ICCS sections 01-04), 2024", ("01", "02", "03", "04")),
}
YEAR = 2024
# Seconds: targets of the issue.
TARGETS = {
    "kde_fixed": 5.0,
    "kde_adaptive": 5.0,
    "prospective": 2.0,
    "etas": 60.0,
    "gistar_perm": 15.0,
    "backtest_robbery": 300.0,
}
ETAS_MEMORY_TARGET_MB = 2048.0
QUICK_S = 20.0  # a cold run under this many seconds is repeated

# The synthetic city: metres in UTM 15N around Guatemala City.
CITY_CRS = 32615
CENTRE = (769_000.0, 1_615_500.0)
SIDE = 40_000.0
EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
T0 = float(date(2024, 1, 1).toordinal() - EPOCH_ORDINAL)
# ETAS simulation: branching ratio, mean delay (days), offspring spread (m), span (days).
ETAS_THETA, ETAS_DELAY, ETAS_SPREAD, ETAS_DAYS = 0.5, 7.0, 60.0, 730.0


# --- measurement --------------------------------------------------------------------------


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def reset_peak() -> bool:
    """Reset the kernel's peak-RSS mark (VmHWM) to the current RSS; False where not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def hwm_mb() -> float:
    with open("/proc/self/status") as f:
        m = re.search(r"VmHWM:\s+(\d+)", f.read())
    return int(m.group(1)) / 1024 if m else float("nan")


def process_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn: Callable[[], Any], repeat: int) -> tuple[dict[str, Any], Any]:
    """One cold run, then ``repeat`` more when it was quick; peak memory while they ran."""
    rss0 = rss_mb()
    can_reset = reset_peak()
    t0 = time.perf_counter()
    out = fn()
    cold = time.perf_counter() - t0
    times = [cold]
    if repeat > 1 and cold < QUICK_S:
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            out = fn()
            times.append(time.perf_counter() - t0)
    fig = {
        "cold_seconds": cold,
        "times": times,
        "seconds": statistics.median(times),
        "runs": "single run" if len(times) == 1 else f"median of {len(times)} after a cold run",
        "rss_before_mb": rss0,
        "step_peak_mb": hwm_mb() if can_reset else None,
    }
    return fig, out


def finish(out: dict[str, Any], load0: tuple[float, ...]) -> dict[str, Any]:
    out["process_peak_mb"] = process_peak_mb()
    out["loadavg"] = [round(x, 1) for x in (*load0, *os.getloadavg()[:1])]
    return out


# --- synthetic city -----------------------------------------------------------------------


def city_xy(rng: np.random.Generator, n: int) -> tuple[FloatArray, FloatArray]:
    """Points of a 40 x 40 km city: uniform background, Gaussian hot spots and corridors."""
    half = SIDE / 2.0
    n_u, n_h = int(0.25 * n), int(0.60 * n)
    n_c = n - n_u - n_h
    xu, yu = rng.uniform(-half, half, n_u), rng.uniform(-half, half, n_u)
    k = 80
    centres = rng.uniform(-0.4 * SIDE, 0.4 * SIDE, (k, 2))
    sigma = np.exp(rng.uniform(math.log(150.0), math.log(1500.0), k))
    weight = 1.0 / np.arange(1, k + 1) ** 0.8
    pick = rng.choice(k, n_h, p=weight / weight.sum())
    xh = centres[pick, 0] + rng.normal(0.0, sigma[pick])
    yh = centres[pick, 1] + rng.normal(0.0, sigma[pick])
    ends = rng.uniform(-half, half, (12, 4))
    road = rng.integers(0, 12, n_c)
    s = rng.uniform(0.0, 1.0, n_c)
    xc = ends[road, 0] + s * (ends[road, 2] - ends[road, 0]) + rng.normal(0.0, 40.0, n_c)
    yc = ends[road, 1] + s * (ends[road, 3] - ends[road, 1]) + rng.normal(0.0, 40.0, n_c)
    x = np.clip(np.concatenate([xu, xh, xc]), -half, half)
    y = np.clip(np.concatenate([yu, yh, yc]), -half, half)
    order = rng.permutation(n)
    return x[order] + CENTRE[0], y[order] + CENTRE[1]


def events_frame(x: FloatArray, y: FloatArray, t: FloatArray) -> pl.DataFrame:
    """The events frame of ``prepare`` (lon/lat from city metres, times in days)."""
    from pyproj import Transformer

    lon, lat = Transformer.from_crs(CITY_CRS, 4326, always_xy=True).transform(x, y)
    us = np.round(t * 86_400e6).astype(np.int64)
    return pl.DataFrame(
        {
            "occurred_at": pl.Series(us).cast(pl.Datetime("us")),
            "lon": np.asarray(lon, dtype=np.float64),
            "lat": np.asarray(lat, dtype=np.float64),
            "iccs_code": pl.Series([None] * len(x), dtype=pl.String),
            "place_type": pl.Series([None] * len(x), dtype=pl.String),
        }
    )


def hawkes_city(
    rng: np.random.Generator, n_target: int
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """A self-exciting city by branching: background city points, then offspring generations.

    Each event triggers Poisson(ETAS_THETA) more, displaced N(0, ETAS_SPREAD) metres and
    Exponential(mean ETAS_DELAY) days later; those after the window's end are dropped.
    """
    n_bg = int(n_target * (1.0 - ETAS_THETA))
    x, y = city_xy(rng, n_bg)
    t = T0 + rng.uniform(0.0, ETAS_DAYS, n_bg)
    xs, ys, ts = [x], [y], [t]
    end = T0 + ETAS_DAYS
    while len(t):
        kids = rng.poisson(ETAS_THETA, len(t))
        m = int(kids.sum())
        x = np.repeat(x, kids) + rng.normal(0.0, ETAS_SPREAD, m)
        y = np.repeat(y, kids) + rng.normal(0.0, ETAS_SPREAD, m)
        t = np.repeat(t, kids) + rng.exponential(ETAS_DELAY, m)
        keep = t < end
        x, y, t = x[keep], y[keep], t[keep]
        xs.append(x)
        ys.append(y)
        ts.append(t)
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(ts)


# --- children: one figure each ------------------------------------------------------------


def child_kde(args: argparse.Namespace, adaptive: bool) -> dict[str, Any]:
    from safestreets.spatial.kde import kde
    from safestreets.spatial.study import prepare

    load0 = os.getloadavg()[:1]
    rng = np.random.default_rng(args.seed)
    n = args.kde_points
    x, y = city_xy(rng, n)
    frame = events_frame(x, y, T0 + rng.uniform(0.0, 366.0, n))
    t0 = time.perf_counter()
    study = prepare(frame, cell_size=args.kde_cell)
    prep = time.perf_counter() - t0

    def run() -> Any:
        return kde(
            study.grid,
            study.events,
            bandwidth_m=args.bandwidth,
            kernel="quartic",
            adaptive=adaptive,
        )

    fig, res = timed(run, args.repeat)
    out = {
        **fig,
        "input": f"{len(study.events):,} points, {study.grid.n:,} cells of {args.kde_cell:g} m",
        "prepare_seconds": prep,
        "check": (
            f"mass on the grid {float(res.expected.sum()) / res.n_points:.4f} of the points"
            + (
                f"; bandwidths {res.class_bandwidths_m[0]:,.0f}-"
                f"{res.class_bandwidths_m[-1]:,.0f} m in {len(res.class_bandwidths_m)} classes"
                if adaptive
                else ""
            )
        ),
    }
    return finish(out, load0)


def child_prospective(args: argparse.Namespace) -> dict[str, Any]:
    from safestreets.spatial.predict import make_model
    from safestreets.spatial.study import prepare

    load0 = os.getloadavg()[:1]
    rng = np.random.default_rng(args.seed + 1)
    n = args.prospective_events
    cutoff = T0 + 200.0
    x, y = city_xy(rng, n)
    frame = events_frame(x, y, cutoff - rng.uniform(1e-4, 56.0, n))  # the 8 weeks counted
    t0 = time.perf_counter()
    study = prepare(frame, cell_size=args.prospective_cell)
    history = study.history()
    prep = time.perf_counter() - t0
    model = make_model("prospective")

    def run() -> Any:
        fitted = model.fit(history, cutoff)
        return fitted, fitted.predict(cutoff, cutoff + 7.0)

    fig, (fitted, risk) = timed(run, args.repeat)
    out = {
        **fig,
        "input": (
            f"{len(history):,} events in the 8 weeks before the cutoff, "
            f"{study.grid.n:,} cells of {args.prospective_cell:g} m"
        ),
        "prepare_seconds": prep,
        "check": (
            f"{fitted.params['events_used']:,} events used, "
            f"{int(np.count_nonzero(risk)):,} cells at risk (bandwidth "
            f"{fitted.params['bandwidth_m']:g} m)"
        ),
    }
    return finish(out, load0)


def child_etas(args: argparse.Namespace) -> dict[str, Any]:
    from safestreets.spatial.predict import make_model
    from safestreets.spatial.study import prepare

    load0 = os.getloadavg()[:1]
    rng = np.random.default_rng(args.seed + 2)
    x, y, t = hawkes_city(rng, args.etas_events)
    # Keep offspring that drifted past the city's edge inside it (the grid is the city).
    half = SIDE / 2.0
    x = np.clip(x, CENTRE[0] - half, CENTRE[0] + half)
    y = np.clip(y, CENTRE[1] - half, CENTRE[1] + half)
    frame = events_frame(x, y, t)
    t0 = time.perf_counter()
    study = prepare(frame, cell_size=args.etas_cell)
    history = study.history()
    prep = time.perf_counter() - t0
    cutoff = T0 + ETAS_DAYS
    model = make_model("etas")

    def run() -> Any:
        fitted = model.fit(history, cutoff)
        return fitted, fitted.predict(cutoff, cutoff + 7.0)

    fig, (fitted, _) = timed(run, args.repeat)
    p = fitted.params
    out = {
        **fig,
        "input": (
            f"{len(history):,} events over {ETAS_DAYS:g} days, {study.grid.n:,} cells of "
            f"{args.etas_cell:g} m, {p.get('pairs', 0):,} same-cell pairs within "
            f"{p.get('max_lag_days', 0):g} days"
        ),
        "prepare_seconds": prep,
        "params": p,
        "check": (
            f"theta {p.get('theta')} (simulated {ETAS_THETA}, of which part lands in "
            f"neighbouring cells), mean delay {p.get('mean_delay_days')} days (simulated "
            f"{ETAS_DELAY:g}), {p.get('iterations')} EM iterations, converged "
            f"{p.get('converged')}"
        ),
    }
    return finish(out, load0)


def gistar_study(args: argparse.Namespace) -> Any:
    from safestreets.spatial.study import prepare

    rng = np.random.default_rng(args.seed + 3)
    n = args.gistar_events
    x, y = city_xy(rng, n)
    cell = SIDE / math.sqrt(args.gistar_cells)
    return prepare(events_frame(x, y, T0 + rng.uniform(0.0, 366.0, n)), cell_size=cell)


def child_gistar(args: argparse.Namespace, permutations: int) -> dict[str, Any]:
    from safestreets.spatial.hotspots import gistar

    load0 = os.getloadavg()[:1]
    study = gistar_study(args)
    counts = study.counts()
    fig, res = timed(lambda: gistar(study.grid, counts, permutations=permutations), args.repeat)
    classes = res.table["class"].value_counts()
    n_of = {str(r[0]): int(r[1]) for r in classes.iter_rows()}
    out = {
        **fig,
        "input": (
            f"{study.grid.n:,} cells of {study.grid.cell_size:.1f} m, {len(study.events):,} "
            f"events, {permutations:,} permutations"
        ),
        "check": f"{n_of.get('hot', 0):,} hot and {n_of.get('cold', 0):,} cold cells (FDR 5%)",
    }
    if permutations:
        p = res.table["p_value"].to_numpy()
        out["check"] += f"; {int((p <= p.min() + 1e-12).sum()):,} cells at the smallest p"
    out["check"] += "".join(f"; note: {n}" for n in res.notes)
    return finish(out, load0)


def child_esda(args: argparse.Namespace) -> dict[str, Any]:
    import warnings

    import esda
    from libpysal.graph import Graph

    from safestreets.spatial.hotspots import gistar

    load0 = os.getloadavg()[:1]
    study = gistar_study(args)
    counts = study.counts()
    graph = Graph.from_sparse(study.grid.neighbours("queen"))

    def run() -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return esda.G_Local(
                counts, graph, transform="B", star=True, permutations=args.permutations, seed=0
            )

    fig, lg = timed(run, 1)
    ours = gistar(study.grid, counts, permutations=0).table["gi_z"].to_numpy()
    ok = np.isfinite(ours)
    diff = float(np.max(np.abs(np.asarray(lg.Zs)[ok] - ours[ok])))
    out = {
        **fig,
        "input": f"{study.grid.n:,} cells, {args.permutations:,} permutations",
        "esda_version": esda.__version__,
        "check": f"z-scores equal to ours within {diff:.1e}",
    }
    return finish(out, load0)


def cdmx_events(path: Path) -> tuple[pl.DataFrame, dict[str, Any]]:
    """The FGJ carpetas of the year as events (ICCS codes from the project's category table)."""
    from safestreets.reference.geo import normalise_name
    from safestreets.spatial.events import parse_events

    raw = pl.read_csv(
        path,
        columns=["latitud", "longitud", "delito", "fecha_hecho", "hora_hecho"],
        infer_schema=False,
    )
    info: dict[str, Any] = {"rows_in_file": raw.height}
    raw = raw.filter(pl.col("fecha_hecho").str.slice(0, 4) == str(YEAR))
    info["rows_in_year"] = raw.height
    # As the ingest does (transform._map_with_table): terms matched on normalised text.
    table = pl.read_csv(CATEGORIES, infer_schema=False).select("term", "iccs_code")
    codes = {normalise_name(t): c for t, c in table.iter_rows()}
    delitos = raw["delito"].drop_nulls().unique().to_list()
    mapping = {d: codes.get(normalise_name(d)) for d in delitos}
    # Terms the table lists without a code are not crimes (deaths by accident, DDH, ...).
    info["delitos_not_in_table"] = sorted(d for d in delitos if normalise_name(d) not in codes)
    info["delitos_without_code"] = sum(1 for d, c in mapping.items() if c is None)
    day = pl.col("fecha_hecho").str.slice(0, 10)
    clock = pl.col("hora_hecho").fill_null("").str.slice(0, 8)
    text = pl.DataFrame(
        raw.select(
            occurred_at=pl.when(clock.str.len_chars() >= 5).then(day + " " + clock).otherwise(day),
            lon=pl.col("longitud"),
            lat=pl.col("latitud"),
            iccs_code=pl.col("delito").replace_strict(mapping, default=None),
        )
    )
    read = parse_events(text, what="CDMX carpetas")
    info["parse_summary"] = read.summary
    return read.events, info


def child_backtest(args: argparse.Namespace, case: str) -> dict[str, Any]:
    from safestreets.spatial.backtest import backtest, write_report
    from safestreets.spatial.events import filter_events
    from safestreets.spatial.predict import available_models, make_model
    from safestreets.spatial.study import prepare

    load0 = os.getloadavg()[:1]
    label, prefixes = CASES[case]
    t0 = time.perf_counter()
    events, info = cdmx_events(args.data)
    events = filter_events(
        events, iccs=prefixes, date_from=date(YEAR, 1, 1), date_to=date(YEAR, 12, 31)
    )
    read_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    study = prepare(events, cell_size=250, drop_stray=True)
    history = study.history()
    prep_s = time.perf_counter() - t0
    names = list(available_models())
    models = [make_model(n) for n in names]

    def progress(done: int, total: int, what: str) -> None:
        if done % len(models) == 0:
            print(f"  {case}: {done}/{total} fits ({what})", file=sys.stderr, flush=True)

    fig, result = timed(lambda: backtest(history, models, origins=26, progress=progress), 1)
    folder = args.report_dir / case
    paths = write_report(result, folder, title=f"Backtest, Mexico City: {label}")
    (folder / "backtest.json").write_text(json.dumps(result.to_json(), indent=1), "utf-8")
    out = {
        **fig,
        "case": case,
        "label": label,
        "input": (
            f"{len(history):,} events ({label}), {study.grid.n:,} cells of 250 m, "
            f"{len(models)} models x {len(result.cutoffs)} weekly origins"
        ),
        "read_seconds": read_s,
        "prepare_seconds": prep_s,
        "data": info,
        "study_notes": list(study.notes),
        "models": names,
        "table": result.table().to_dicts(),
        "comparisons": result.comparisons().to_dicts(),
        "model_summary": result.model_summary().to_dicts(),
        "verdicts": result.verdicts("en"),
        "notes": list(result.notes),
        "n_events": list(result.n_events),
        "first_window": str(date.fromordinal(EPOCH_ORDINAL + int(result.cutoffs[0]))),
        "report": [str(p) for p in paths] + [str(folder / "backtest.json")],
    }
    return finish(out, load0)


def run_child_part(args: argparse.Namespace, part: str) -> dict[str, Any]:
    if part == "kde_fixed":
        return child_kde(args, adaptive=False)
    if part == "kde_adaptive":
        return child_kde(args, adaptive=True)
    if part == "prospective":
        return child_prospective(args)
    if part == "etas":
        return child_etas(args)
    if part == "gistar_perm":
        return child_gistar(args, args.permutations)
    if part == "gistar_analytic":
        return child_gistar(args, 0)
    if part == "gistar_esda":
        return child_esda(args)
    if part.startswith("backtest_"):
        return child_backtest(args, part.removeprefix("backtest_"))
    raise SystemExit(f"unknown child {part}")


# --- orchestration and report -------------------------------------------------------------


def run_child(argv: list[str], part: str, timeout: float | None = None) -> dict[str, Any]:
    cmd = [sys.executable, __file__, *argv, "--child", part]
    t0 = time.perf_counter()
    try:
        # stderr is shown as it comes (progress, warnings); stdout carries the JSON.
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=False, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"timeout": timeout, "wall_seconds": time.perf_counter() - t0}
    if proc.returncode != 0:
        return {"failed": f"exit status {proc.returncode} (see the error above)"}
    out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    out["wall_seconds"] = time.perf_counter() - t0
    return out


def fmt_s(x: float) -> str:
    return f"{x:.3f} s" if x < 10 else f"{x:.1f} s"


def fmt_mb(x: float | None) -> str:
    return "—" if x is None else f"{x:,.0f} MB"


def verdict(seconds: float, target: float) -> str:
    if seconds <= target:
        return f"met ({seconds / target:.0%} of the target)"
    return f"MISSED by {seconds / target:.1f}x ({fmt_s(seconds - target)} over)"


NAMES = {
    "kde_fixed": "KDE, quartic, fixed bandwidth",
    "kde_adaptive": "KDE, quartic, adaptive bandwidth",
    "prospective": "prospective hotspot: fit + predict",
    "etas": "ETAS (grid Hawkes) fit by EM + predict",
    "gistar_perm": "Gi* with permutations, FDR",
    "gistar_analytic": "Gi* analytic (in-run baseline)",
    "gistar_esda": "esda G_Local with permutations (peer)",
}


def report(res: dict[str, Any], args: argparse.Namespace) -> None:
    print(
        f"\ncpus {os.cpu_count()}; load average {res['loadavg_start']} at start, "
        f"{res['loadavg_end']} at end; numpy {np.__version__}, polars {pl.__version__}"
    )
    print(
        "\n| figure | input | time | cold run | peak RSS during the step | peak RSS of the "
        "process | target | verdict |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for part, r in res["figures"].items():
        name = NAMES.get(part, f"backtest, {part.removeprefix('backtest_')}")
        if "timeout" in r:
            print(f"| {name} | — | did not finish in {r['timeout']:g} s | | | | | |")
            continue
        if "failed" in r:
            print(f"| {name} | — | FAILED: {r['failed']} | | | | | |")
            continue
        target = TARGETS.get(part)
        tgt = f"< {fmt_s(target)}" if target else "—"
        ver = verdict(r["seconds"], target) if target else "—"
        if part == "etas":
            tgt += f", < {ETAS_MEMORY_TARGET_MB:,.0f} MB"
            ok = r["process_peak_mb"] <= ETAS_MEMORY_TARGET_MB
            ver += "; memory " + ("met" if ok else "MISSED")
        print(
            f"| {name} | {r['input']} | {fmt_s(r['seconds'])} ({r['runs']}) | "
            f"{fmt_s(r['cold_seconds'])} | {fmt_mb(r.get('step_peak_mb'))} | "
            f"{fmt_mb(r['process_peak_mb'])} | {tgt} | {ver} |"
        )
    f = res["figures"]
    print("\nIn-run ratios and peers:")
    if "gistar_perm" in f and "seconds" in f.get("gistar_analytic", {}):
        a, p = f["gistar_analytic"]["seconds"], f["gistar_perm"].get("seconds")
        if p is not None:
            print(f"  Gi*: {args.permutations} permutations take {p / a:.1f}x the analytic Gi*")
    if "gistar_esda" in f:
        e = f["gistar_esda"]
        if "seconds" in e and "seconds" in f.get("gistar_perm", {}):
            print(
                f"  esda {e['esda_version']} G_Local, same cells and permutations: "
                f"{fmt_s(e['seconds'])}, {e['seconds'] / f['gistar_perm']['seconds']:.1f}x ours; "
                f"{e['check']}"
            )
        elif "timeout" in e:
            print(f"  esda G_Local did not finish within {e['timeout']:g} s")
    if "prospective" in f and "seconds" in f["prospective"]:
        print(
            "  prospective, peer (open_cp, measured earlier on this machine): 4.3 s for 2,600 "
            "events, 143 s for 139,000"
        )
    if "etas" in f and "seconds" in f["etas"]:
        print(
            "  ETAS, peer (classic continuous implementation, measured earlier): 235 s and "
            "3.7 GB for 8,000 events; 50,000 do not fit in 24 GB"
        )
    print("\nChecks and context:")
    for part, r in f.items():
        if "check" in r:
            print(f"  {part}: {r['check']}")
        if "prepare_seconds" in r:
            print(f"  {part}: prepare (project, grid, place events) {fmt_s(r['prepare_seconds'])}")
        if "loadavg" in r:
            print(f"  {part}: load average {r['loadavg']} (start, end)")
    for part, r in f.items():
        if part.startswith("backtest_") and "table" in r:
            print_backtest(r)
    for msg in res.get("skipped", []):
        print(f"\nSKIPPED: {msg}")


def _ci(r: dict[str, Any], key: str, digits: int) -> str:
    m, lo, hi = r[f"{key}_mean"], r[f"{key}_lo"], r[f"{key}_hi"]
    if m is None or (isinstance(m, float) and math.isnan(m)):
        return "—"
    if lo is None or hi is None:
        return f"{m:.{digits}f}"
    return f"{m:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def print_backtest(r: dict[str, Any]) -> None:
    d = r["data"]
    print(f"\n## Backtest: {r['label']}\n")
    print(
        f"{d['rows_in_file']:,} rows in the file, {d['rows_in_year']:,} in {YEAR}; "
        f"{d['parse_summary']}; {d['delitos_without_code']} delitos without an ICCS code "
        f"(not crimes in the table), of which not in the table at all: "
        f"{d['delitos_not_in_table'] or 'none'}"
    )
    print(
        f"{r['input']}; first window from {r['first_window']}; events per window "
        f"{min(r['n_events'])}-{max(r['n_events'])}"
    )
    print(
        f"read + map {fmt_s(r['read_seconds'])}, prepare {fmt_s(r['prepare_seconds'])}, "
        f"backtest {fmt_s(r['seconds'])}; study notes: {r['study_notes']}"
    )
    print("\n| model | coverage | hit rate [95% CI] | PAI [95% CI] | PEI [95% CI] | beats both |")
    print("|---|---|---|---|---|---|")
    for t in r["table"]:
        beats = t["beats_baselines"]
        print(
            f"| {t['model']} | {t['coverage_pct']:g}% | {_ci(t, 'hit_rate', 3)} | "
            f"{_ci(t, 'pai', 2)} | {_ci(t, 'pei', 3)} | "
            f"{'—' if beats is None else ('yes' if beats else 'no')} |"
        )
    print("\n| model | fit s (mean per origin) | predict s | log-likelihood (mean) |")
    print("|---|---|---|---|")
    for m in r["model_summary"]:
        ll = m["log_likelihood_mean"]
        print(
            f"| {m['model']} | {m['fit_seconds_mean']:.3f} | {m['predict_seconds_mean']:.3f} | "
            f"{'—' if ll is None else f'{ll:.1f}'} |"
        )
    print("\nVerdicts:")
    for v in r["verdicts"]:
        print(f"  - {v}")
    for n in r["notes"]:
        print(f"  note: {n}")
    print(f"report: {', '.join(r['report'])}")


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--only", default=",".join(PARTS), help=f"parts to run: {','.join(PARTS)}")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--kde-points", type=int, default=1_000_000)
    ap.add_argument("--kde-cell", type=float, default=100.0)
    ap.add_argument("--bandwidth", type=float, default=400.0, help="quartic radius, metres")
    ap.add_argument("--prospective-events", type=int, default=1_000_000)
    ap.add_argument("--prospective-cell", type=float, default=100.0)
    ap.add_argument("--etas-events", type=int, default=200_000)
    ap.add_argument("--etas-cell", type=float, default=250.0)
    ap.add_argument("--gistar-cells", type=int, default=60_000)
    ap.add_argument("--gistar-events", type=int, default=200_000)
    ap.add_argument("--permutations", type=int, default=999)
    ap.add_argument("--esda-timeout", type=float, default=180.0)
    ap.add_argument("--cases", default="robbery", help=f"backtest cases: {','.join(CASES)}")
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--report-dir", type=Path, default=Path("/tmp/bench_spatial_report"))
    ap.add_argument("--json", action="store_true", help="also print the raw figures as JSON")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(run_child_part(args, args.child), default=str))
        return

    only = [p.strip() for p in args.only.split(",") if p.strip()]
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    bad = [p for p in only if p not in PARTS] + [c for c in cases if c not in CASES]
    if bad:
        raise SystemExit(f"unknown part or case {bad}; parts {PARTS}, cases {tuple(CASES)}")
    # Pass every option on to the children (they read the same arguments).
    argv = sys.argv[1:]
    res: dict[str, Any] = {"figures": {}, "skipped": []}
    load_start = os.getloadavg()[:3]
    children: list[tuple[str, float | None]] = []
    if "kde" in only:
        children += [("kde_fixed", None), ("kde_adaptive", None)]
    if "prospective" in only:
        children.append(("prospective", None))
    if "etas" in only:
        children.append(("etas", None))
    if "gistar" in only:
        children += [("gistar_perm", None), ("gistar_analytic", None)]
        children.append(("gistar_esda", args.esda_timeout))
    if "backtest" in only:
        if args.data.exists() and CATEGORIES.exists():
            children += [(f"backtest_{c}", None) for c in cases]
        else:
            res["skipped"].append(
                f"the CDMX backtest needs {args.data} (shared data, absent on this machine)"
            )
    for part, timeout in children:
        print(f"{part} ...", file=sys.stderr, flush=True)
        res["figures"][part] = run_child(argv, part, timeout)
    res["loadavg_start"] = " ".join(f"{x:.1f}" for x in load_start)
    res["loadavg_end"] = " ".join(f"{x:.1f}" for x in os.getloadavg()[:3])
    report(res, args)
    if args.json:
        print(json.dumps(res, indent=2, default=str))


if __name__ == "__main__":
    main()
