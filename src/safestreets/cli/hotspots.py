"""`safestreets hotspots`: grids, density, Gi*, emerging hotspots, near repeat, prediction.

Every command reads incidents from the store (filters: country, admin unit, ICCS code at any
level, dates, source) or a plain events file (``--events FILE``), projects them to a metric CRS
(the UTM zone of the data unless ``--crs``), builds the grid (``--cell-size`` metres or
``--h3`` resolution, masked to ``--area``) and writes what it computed: ``--out`` may be given
several times, the format follows the suffix (``.geojson``, ``.csv``, ``.png``); ``--json``
prints the result as JSON on stdout.
"""

from __future__ import annotations

import functools
import inspect
import json
import math
import typing
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import polars as pl
import typer
from rich.markup import escape
from rich.table import Table

from safestreets.cli._common import (
    DatabaseOpt,
    check_lang,
    console,
    err_console,
    ready_engine,
)
from safestreets.errors import InputError
from safestreets.stats import export

hotspots_app = typer.Typer(
    help="Where crime concentrates, whether it repeats nearby, and where it will be next.",
    no_args_is_help=True,
)

# -- options shared by every command ----------------------------------------------------------

EventsOpt = Annotated[
    Path | None,
    typer.Option(
        "--events",
        help="Events file (CSV or Parquet: occurred_at, lon, lat[, iccs_code, place_type]) "
        "instead of the store.",
    ),
]
CountryOpt = Annotated[
    list[str] | None, typer.Option("--country", help="ISO country code (repeatable; store).")
]
Admin1Opt = Annotated[
    list[str] | None, typer.Option("--admin1", help="Admin-1 code, e.g. GT-01 (store).")
]
Admin2Opt = Annotated[
    list[str] | None, typer.Option("--admin2", help="Admin-2 national code (store).")
]
SourceOpt = Annotated[list[str] | None, typer.Option("--source", help="Source (store).")]
IccsOpt = Annotated[
    list[str] | None,
    typer.Option("--iccs", help="ICCS code at any level, e.g. 0401 (repeatable)."),
]
FromOpt = Annotated[
    str | None, typer.Option("--from", help="First date: YYYY, YYYY-MM, YYYY-MM-DD.")
]
ToOpt = Annotated[str | None, typer.Option("--to", help="Last date (inclusive).")]
CrsOpt = Annotated[
    str | None, typer.Option("--crs", help="Metric CRS, e.g. EPSG:32616 (default: UTM zone).")
]
CellOpt = Annotated[float, typer.Option("--cell-size", help="Square cell side in metres.")]
H3Opt = Annotated[
    int | None, typer.Option("--h3", help="Use H3 cells of this resolution instead of squares.")
]
AreaOpt = Annotated[
    str | None,
    typer.Option(
        "--area", help="Study area: hull (default), a country code, or a GeoJSON polygon file."
    ),
]
StrayOpt = Annotated[bool, typer.Option("--drop-stray", help="Leave out events far from the rest.")]
MaxCellsOpt = Annotated[int, typer.Option("--max-cells", help="Refuse grids larger than this.")]
OutOpt = Annotated[
    list[Path] | None,
    typer.Option("--out", "-o", help="Write the result: .geojson, .csv or .png (repeatable)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
LangOpt = Annotated[str, typer.Option("--lang", help="Language of maps and texts: es or en.")]


@dataclass
class Inputs:
    """The common options, gathered."""

    events: Path | None
    database: str | None
    country: list[str]
    admin1: list[str]
    admin2: list[str]
    source: list[str]
    iccs: list[str]
    date_from: date | None
    date_to: date | None
    crs: str | None
    cell_size: float
    h3: int | None
    area: str | None
    drop_stray: bool
    max_cells: int


def _inputs(
    events: Path | None,
    database: str | None,
    country: list[str] | None,
    admin1: list[str] | None,
    admin2: list[str] | None,
    source: list[str] | None,
    iccs: list[str] | None,
    date_from: str | None,
    date_to: str | None,
    crs: str | None,
    cell_size: float,
    h3: int | None,
    area: str | None,
    drop_stray: bool,
    max_cells: int,
) -> Inputs:
    from safestreets.query import parse_date

    if events is not None and (country or admin1 or admin2 or source):
        raise InputError(
            "--country, --admin1, --admin2 and --source filter the store, not an events file",
            hint="filter the file yourself, or load it with `safestreets ingest`",
        )
    return Inputs(
        events=events,
        database=database,
        country=[c.upper() for c in country or []],
        admin1=list(admin1 or []),
        admin2=list(admin2 or []),
        source=list(source or []),
        iccs=list(iccs or []),
        date_from=parse_date(date_from, end=False) if date_from else None,
        date_to=parse_date(date_to, end=True) if date_to else None,
        crs=crs,
        cell_size=cell_size,
        h3=h3,
        area=area,
        drop_stray=drop_stray,
        max_cells=max_cells,
    )


def _option(name: str, annotation: Any, default: Any) -> inspect.Parameter:
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation
    )


def with_inputs(
    *, cell_size: float = 250.0, grid: bool = True
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Give a command the shared input options and hand it the gathered :class:`Inputs`.

    Every command takes the same fifteen options (store filters or ``--events``, CRS, grid,
    area, database); declaring them once keeps their names, help and defaults identical. The
    command is written as ``def cmd(inp: Inputs, <own options>)``; Typer sees the shared
    options followed by the command's own (and ``--database`` last).
    """
    shared = [
        _option("events", EventsOpt, None),
        _option("country", CountryOpt, None),
        _option("admin1", Admin1Opt, None),
        _option("admin2", Admin2Opt, None),
        _option("source", SourceOpt, None),
        _option("iccs", IccsOpt, None),
        _option("date_from", FromOpt, None),
        _option("date_to", ToOpt, None),
        _option("crs", CrsOpt, None),
    ]
    if grid:
        shared += [_option("cell_size", CellOpt, cell_size), _option("h3", H3Opt, None)]
    shared += [_option("area", AreaOpt, None), _option("drop_stray", StrayOpt, False)]
    if grid:
        shared.append(_option("max_cells", MaxCellsOpt, 4_000_000))
    database = _option("database", DatabaseOpt, None)
    names = [p.name for p in [*shared, database]]

    def decorate(fn: Callable[..., None]) -> Callable[..., None]:
        hints = typing.get_type_hints(fn, include_extras=True)
        own = [
            p.replace(kind=inspect.Parameter.KEYWORD_ONLY, annotation=hints[p.name])
            for p in inspect.signature(fn).parameters.values()
            if p.name != "inp"
        ]

        @functools.wraps(fn)
        def command(**kwargs: Any) -> None:
            given = {n: kwargs.pop(n) for n in names if n in kwargs}
            inp = _inputs(
                given.get("events"), given.get("database"), given.get("country"),
                given.get("admin1"), given.get("admin2"), given.get("source"),
                given.get("iccs"), given.get("date_from"), given.get("date_to"),
                given.get("crs"), given.get("cell_size", cell_size), given.get("h3"),
                given.get("area"), given.get("drop_stray", False),
                given.get("max_cells", 4_000_000),
            )  # fmt: skip
            fn(inp=inp, **kwargs)

        params = [*shared, *own, database]
        command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in params}
        del command.__wrapped__  # Typer must read the signature above, not fn's
        return command

    return decorate


def load_events(inp: Inputs) -> tuple[pl.DataFrame, list[str]]:
    """The events of the file or the store, filtered, with notes on what was left out."""
    from safestreets.spatial.events import events_from_incidents, filter_events, parse_events

    notes: list[str] = []
    if inp.events is not None:
        from safestreets.ingest.readers import read_whole

        read = parse_events(read_whole(inp.events, name="events"), what=str(inp.events))
        if read.rejected.height:
            notes.append(read.summary)
        events = read.events
    else:
        from safestreets.store.events import read_incident_points

        engine = ready_engine(inp.database)
        points = read_incident_points(
            engine,
            countries=inp.country,
            admin1=inp.admin1,
            admin2=inp.admin2,
            iccs=inp.iccs,
            sources=inp.source,
            date_from=inp.date_from,
            date_to=inp.date_to,
        )
        events, more = events_from_incidents(points)
        notes += more
    events = filter_events(events, iccs=inp.iccs, date_from=inp.date_from, date_to=inp.date_to)
    if events.is_empty():
        raise InputError(
            "no event matches the filters",
            hint="check --iccs, --from/--to and --country, or the events file",
        )
    return events, notes


def study_of(inp: Inputs) -> Any:
    """Events on their grid (a :class:`safestreets.spatial.study.Study`)."""
    from safestreets.spatial.study import prepare

    events, notes = load_events(inp)
    return prepare(
        events,
        crs=inp.crs,
        cell_size=None if inp.h3 is not None else inp.cell_size,
        h3_resolution=inp.h3,
        area=inp.area,
        drop_stray=inp.drop_stray,
        max_cells=inp.max_cells,
        notes=tuple(notes),
    )


# -- writing results --------------------------------------------------------------------------


def frame_records(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts (NaN and infinity become null)."""
    return export.records(frame)


def print_json(payload: dict[str, Any]) -> None:
    """JSON on stdout, without Rich markup or wrapping."""
    typer.echo(json.dumps(payload, ensure_ascii=False, indent=2, default=str))


def write_cells(
    study: Any,
    frame: pl.DataFrame,
    outs: list[Path] | None,
    *,
    value: str,
    title: str,
    lang: str,
    highlight: np.ndarray | None = None,
    highlight_label: str | None = None,
    categories: str | None = None,
) -> list[Path]:
    """Write a per-cell frame (grid order) to each ``--out`` by its suffix."""
    from safestreets.spatial import output

    written: list[Path] = []
    # The writers add the cell label and centre themselves.
    data = frame.drop([c for c in output.ADDED_COLUMNS if c in frame.columns])
    for path in outs or []:
        suffix = path.suffix.lower()
        path.parent.mkdir(parents=True, exist_ok=True)
        if suffix in (".geojson", ".json"):
            output.write_geojson(output.cells_geojson(study.grid, data), path)
        elif suffix == ".csv":
            output.write_csv(study.grid, data, path)
        elif suffix == ".png":
            if categories is not None:
                # Cells without a pattern stay blank; the legend lists the categories present.
                vals = frame[categories].replace("no pattern", None)
                present = vals.drop_nulls().unique(maintain_order=True).to_list()
                order = [c for c in _category_order() if c in present]
                order += [c for c in present if c not in order]
                output.map_png(
                    study.grid,
                    vals.to_numpy(),
                    path,
                    title=title,
                    legend_label=categories,
                    categories=order,
                    lang=lang,
                )
            else:
                output.map_png(
                    study.grid,
                    frame[value].to_numpy(),
                    path,
                    title=title,
                    legend_label=value,
                    highlight=highlight,
                    highlight_label=highlight_label,
                    lang=lang,
                )
        else:
            raise InputError(
                f"cannot write {path.name}: unknown format {suffix or '(none)'}",
                hint="use .geojson, .csv or .png",
            )
        written.append(path)
    return written


def _category_order() -> list[str]:
    from safestreets.spatial.hotspots import CATEGORIES

    return list(CATEGORIES)


def _say(text: str) -> None:
    err_console.print(escape(text), highlight=False, soft_wrap=True)


def _report(study: Any, written: list[Path], as_json: bool) -> None:
    if as_json:
        return
    for note in study.notes:
        _say(f"note: {note}")
    for path in written:
        _say(f"wrote {path}")


def _study_meta(study: Any) -> dict[str, Any]:
    g = study.grid
    return {
        "events": len(study.events),
        "crs": g.crs.to_string(),
        "grid": {
            "kind": g.kind,
            "cell_size_m": round(g.cell_size, 2),
            "h3_resolution": g.resolution,
            "cells": g.n,
            "area": g.area_label,
        },
        "notes": list(study.notes),
    }


# -- grid -------------------------------------------------------------------------------------


@hotspots_app.command("grid")
@with_inputs(cell_size=250.0)
def grid_cmd(
    inp: Inputs,
    out: OutOpt = None,
    as_json: JsonOpt = False,
    lang: LangOpt = "es",
) -> None:
    """Count events per cell and measure how concentrated they are."""
    from safestreets.spatial.hotspots import concentration

    lang = check_lang(lang)
    study = study_of(inp)
    counts = study.counts()
    frame = study.cell_frame().with_columns(count=pl.Series(counts).cast(pl.Int64))
    conc = concentration(counts)
    title = "Incidentes por celda" if lang == "es" else "Incidents per cell"
    written = write_cells(study, frame, out, value="count", title=title, lang=lang)
    summary = {**_study_meta(study), "concentration": _jsonable_dict(conc)}
    if as_json:
        print_json(summary)
    else:
        console.print(
            f"{len(study.events):,} events in {study.grid.n:,} cells "
            f"({int((counts > 0).sum()):,} with at least one)"
        )
        _print_concentration(conc)
    _report(study, written, as_json)


def _jsonable_dict(obj: Any) -> dict[str, Any]:
    from dataclasses import asdict, is_dataclass

    data = asdict(obj) if is_dataclass(obj) and not isinstance(obj, type) else dict(obj)
    return {k: export.plain(v) for k, v in data.items()}


def _print_concentration(conc: Any) -> None:
    d = _jsonable_dict(conc)
    parts = []
    for key, label in (("share_25", "25%"), ("share_50", "50%")):
        if d.get(key) is not None:
            parts.append(f"{label} of events in {100 * d[key]:.1f}% of cells")
    if d.get("gini") is not None:
        parts.append(f"Gini {d['gini']:.3f}")
    if parts:
        console.print("; ".join(parts))


# -- near repeat ------------------------------------------------------------------------------


def _edges(text: str, what: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise InputError(
            f"cannot read the {what} bands {text!r}", hint="give upper edges like 100,200,400"
        ) from None


@hotspots_app.command("nearrepeat")
@with_inputs(grid=False)
def nearrepeat_cmd(
    inp: Inputs,
    distances: Annotated[
        str, typer.Option("--distances", help="Distance band upper edges in metres.")
    ] = "100,200,400,800",
    times: Annotated[
        str, typer.Option("--times", help="Time band upper edges in days.")
    ] = "7,14,21,28",
    metric: Annotated[str, typer.Option("--metric", help="euclidean or manhattan.")] = "euclidean",
    ties: Annotated[
        str,
        typer.Option(
            "--ties", help="separate: own bands for same place / same day; include: first band."
        ),
    ] = "separate",
    permutations: Annotated[int, typer.Option("--permutations")] = 999,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    out: OutOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Knox test of near repeats: do events cluster in space and time beyond chance?"""
    from safestreets.spatial.nearrepeat import knox_test

    study = study_of(inp)
    ev = study.events
    result = knox_test(
        ev.x,
        ev.y,
        ev.t,
        distance_bands=_edges(distances, "distance"),
        time_bands=_edges(times, "time"),
        metric=metric,  # type: ignore[arg-type]
        permutations=permutations,
        seed=seed,
        ties=ties,  # type: ignore[arg-type]
    )
    for path in out or []:
        if path.suffix.lower() != ".csv":
            raise InputError(f"cannot write {path.name}", hint="the Knox table is written as .csv")
        path.parent.mkdir(parents=True, exist_ok=True)
        result.table.write_csv(path)
    notes = [*study.notes, *result.notes]
    if as_json:
        print_json(
            {
                "events": result.n_events,
                "pairs": result.n_pairs,
                "permutations": result.permutations,
                "metric": result.metric,
                "ties": result.ties,
                "crs": study.grid.crs.to_string(),
                "table": frame_records(result.table),
                "notes": notes,
            }
        )
        return
    t = Table(title=f"Knox test: {result.n_events:,} events, {result.permutations} permutations")
    for col in ("distance (m)", "time (days)", "observed", "expected", "ratio", "p"):
        t.add_column(col, justify="right")
    for r in result.table.iter_rows(named=True):
        mark = " *" if r["significant"] else ""
        ratio = "" if r["knox_ratio"] != r["knox_ratio"] else f"{r['knox_ratio']:.2f}"
        t.add_row(
            r["distance_band"],
            r["time_band"],
            f"{r['observed']:,}",
            f"{r['expected']:,.1f}",
            ratio + mark,
            f"{r['p_value']:.3f}",
        )
    console.print(t)
    for note in notes:
        _say(f"note: {note}")
    for path in out or []:
        _say(f"wrote {path}")


# -- prediction and backtest ------------------------------------------------------------------

ModelsOpt = Annotated[
    list[str] | None,
    typer.Option("--model", "-m", help="Model name (repeatable; default: all models)."),
]
LayerOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--layer",
        help="Point layer (GeoJSON or CSV: markets, bus stops, ...) giving place features "
        "to the models that use them (repeatable).",
    ),
]


def _models(names: list[str] | None) -> list[Any]:
    from safestreets.spatial.predict import available_models, make_model

    chosen = names or list(available_models())
    return [make_model(n) for n in chosen]


def _history(study: Any, layers: list[Path] | None, radius: float | None = None) -> Any:
    if not layers:
        return study.history()
    from safestreets.spatial.placerisk import place_features, read_layer

    feats, names = place_features(study.grid, [read_layer(p) for p in layers], radius_m=radius)
    return study.history(feats, tuple(names))


@hotspots_app.command("models")
def models_cmd() -> None:
    """List the predictive models."""
    from safestreets.spatial.predict import available_models

    t = Table(title="Models")
    t.add_column("name", no_wrap=True)
    t.add_column("what")
    for name, what in available_models().items():
        t.add_row(name, what)
    console.print(t)


@hotspots_app.command("predict")
@with_inputs(cell_size=250.0)
def predict_cmd(
    inp: Inputs,
    model: Annotated[str, typer.Option("--model", "-m", help="Model name.")] = "combined",
    cutoff: Annotated[
        str | None,
        typer.Option(
            "--cutoff", help="Predict from this date (default: the day after the last event)."
        ),
    ] = None,
    window_days: Annotated[float, typer.Option("--window-days", help="Days to predict.")] = 7.0,
    coverage: Annotated[
        float, typer.Option("--coverage", help="Mark the top cells covering this % of the area.")
    ] = 5.0,
    layer: LayerOpt = None,
    out: OutOpt = None,
    as_json: JsonOpt = False,
    lang: LangOpt = "es",
) -> None:
    """Predict a risk surface for the next window and mark the top cells."""
    from safestreets.query import parse_date
    from safestreets.spatial.backtest import coverage_targets
    from safestreets.spatial.events import day_of
    from safestreets.spatial.predict import make_model

    lang = check_lang(lang)
    if not 0 < coverage <= 100:
        raise InputError("--coverage is a percentage of the area, above 0 and at most 100")
    study = study_of(inp)
    history = _history(study, layer)
    start = (
        day_of(parse_date(cutoff, end=False)) if cutoff else float(np.floor(history.t[-1])) + 1.0
    )
    fitted = make_model(model).fit(history, start)
    risk = np.asarray(fitted.predict(start, start + window_days), dtype=np.float64)
    area_m2, targets = coverage_targets(study.grid.area_m2, [coverage])
    order = np.lexsort((np.arange(len(risk)), -risk))
    covered = np.cumsum(area_m2[order]) <= targets[0] + 1e-9
    top = np.zeros(len(risk), dtype=bool)
    top[order[covered]] = True
    rank = np.empty(len(risk), dtype=np.int64)
    rank[order] = np.arange(1, len(risk) + 1)
    frame = study.cell_frame().with_columns(
        risk=pl.Series(risk), rank=pl.Series(rank), top=pl.Series(top)
    )
    title = (
        f"Riesgo previsto ({model}), {window_days:g} días"
        if lang == "es"
        else f"Predicted risk ({model}), {window_days:g} days"
    )
    written = write_cells(
        study,
        frame,
        out,
        value="risk",
        title=title,
        lang=lang,
        highlight=top,
        highlight_label=(
            f"{coverage:g} % del área con más riesgo"
            if lang == "es"
            else f"top {coverage:g}% of the area"
        ),
    )
    from datetime import timedelta

    first = date(1970, 1, 1) + timedelta(days=int(start))
    payload = {
        **_study_meta(study),
        "model": model,
        "window": {"start": first.isoformat(), "days": window_days},
        "expected_counts": bool(fitted.expected_counts),
        "params": fitted.params,
        "coverage_pct": coverage,
        "top_cells": frame_records(
            frame.filter(pl.col("top")).sort("rank").select("cell", "lon", "lat", "risk", "rank")
        ),
    }
    if as_json:
        print_json(payload)
    else:
        console.print(
            f"{model}: risk for {window_days:g} days from {first.isoformat()}; "
            f"{int(top.sum()):,} cells cover {coverage:g}% of the area"
        )
        t = Table(title="Top cells")
        for col in ("rank", "cell", "lon", "lat", "risk"):
            t.add_column(col, justify="right")
        for r in payload["top_cells"][:15]:
            t.add_row(
                str(r["rank"]), r["cell"], f"{r['lon']:.5f}", f"{r['lat']:.5f}", f"{r['risk']:.4g}"
            )
        console.print(t)
    _report(study, written, as_json)


@hotspots_app.command("backtest")
@with_inputs(cell_size=250.0)
def backtest_cmd(
    inp: Inputs,
    model: ModelsOpt = None,
    origins: Annotated[int, typer.Option("--origins", help="Number of windows.")] = 26,
    window_days: Annotated[float, typer.Option("--window-days", help="Days per window.")] = 7.0,
    coverages: Annotated[
        str, typer.Option("--coverages", help="Coverage levels in % of the area.")
    ] = "1,2,5,10,20",
    n_boot: Annotated[int, typer.Option("--n-boot", help="Bootstrap resamples.")] = 2000,
    layer: LayerOpt = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Folder for the report (Markdown + PNG).")
    ] = None,
    as_json: JsonOpt = False,
    lang: LangOpt = "es",
) -> None:
    """Rolling-origin backtest of the models: hit rate, PAI and PEI against the baselines."""
    from safestreets.spatial.backtest import backtest, write_report

    lang = check_lang(lang)
    covs = _edges(coverages, "coverage")
    study = study_of(inp)
    history = _history(study, layer)
    models = _models(model)
    total = len(models) * origins
    from safestreets.cli._common import progress_bar

    with progress_bar("backtest", total, as_json) as tick:
        result = backtest(
            history,
            models,
            origins=origins,
            window_days=window_days,
            coverages=covs,
            n_boot=n_boot,
            progress=lambda done, _total, _label: tick(done),
        )
    written = write_report(result, out, lang=lang) if out is not None else []
    if as_json:
        payload = result.to_json()
        payload["study"] = _study_meta(study)
        print_json(payload)
        return
    table = result.table()
    for name in table["model"].unique(maintain_order=True).to_list():
        t = Table(title=name)
        for col in ("coverage", "hit rate [95% CI]", "PAI", "PEI", "best"):
            t.add_column(col, justify="right")
        for r in table.filter(pl.col("model") == name).iter_rows(named=True):
            t.add_row(
                f"{r['coverage_pct']:g}%",
                f"{r['hit_rate_mean']:.3f} [{r['hit_rate_lo']:.3f}, {r['hit_rate_hi']:.3f}]",
                f"{r['pai_mean']:.2f}",
                f"{r['pei_mean']:.2f}",
                f"{r['best_hit_rate_mean']:.3f}",
            )
        console.print(t)
    for line in result.verdicts(lang):
        console.print(escape(line), highlight=False)
    _report(study, written, as_json)


# -- Gi* and emerging hotspots ----------------------------------------------------------------

#: "auto" permutations: with FDR over n cells a cluster of CLUSTER_CELLS cells can only be
#: significant if the smallest permutation p-value, 1/(P+1) (two-sided: 2/(P+1)), is below
#: alpha * CLUSTER_CELLS / n; above PERMUTATION_BUDGET cell-permutations (a few seconds) the
#: p-values are analytic instead.
CLUSTER_CELLS = 5
PERMUTATION_BUDGET = 150_000_000

PermOpt = Annotated[
    str,
    typer.Option(
        "--permutations",
        help="Permutations for the p-values: a number (0 = analytic) or auto (enough for the "
        "FDR control to reach a 5-cell cluster, analytic when that would take too long).",
    ),
]
FdrOpt = Annotated[
    bool, typer.Option("--fdr/--no-fdr", help="Control the false discovery rate (BH).")
]
AlphaOpt = Annotated[float, typer.Option("--alpha", help="Significance level.")]
ContOpt = Annotated[str, typer.Option("--contiguity", help="queen or rook (square grids).")]


def _permutations(text: str, cells: int, alpha: float, fdr: bool) -> tuple[int, str | None]:
    if text.strip().lower() != "auto":
        try:
            return int(text), None
        except ValueError:
            raise InputError(f"--permutations must be a number or auto, not {text!r}") from None
    if not fdr:
        return 999, None
    need = max(999, math.ceil(2 * cells / (alpha * CLUSTER_CELLS)))
    if need * cells <= PERMUTATION_BUDGET:
        return need, None
    return 0, (
        f"analytic p-values: with FDR over {cells:,} cells permutation p-values would need "
        f"{need:,} permutations to reach a cluster of {CLUSTER_CELLS} cells (give "
        "--permutations N to use them anyway)"
    )


@hotspots_app.command("gistar")
@with_inputs(cell_size=250.0)
def gistar_cmd(
    inp: Inputs,
    permutations: PermOpt = "auto",
    fdr: FdrOpt = True,
    alpha: AlphaOpt = 0.05,
    contiguity: ContOpt = "queen",
    seed: Annotated[int, typer.Option("--seed")] = 0,
    out: OutOpt = None,
    as_json: JsonOpt = False,
    lang: LangOpt = "es",
) -> None:
    """Getis-Ord Gi* hot and cold spots with false-discovery-rate control."""
    from safestreets.spatial.hotspots import gistar

    lang = check_lang(lang)
    study = study_of(inp)
    perms, why = _permutations(permutations, study.grid.n, alpha, fdr)
    result = gistar(
        study.grid,
        study.counts(),
        permutations=perms,
        alpha=alpha,
        fdr=fdr,
        contiguity=contiguity,  # type: ignore[arg-type]
        seed=seed,
    )
    base = study.cell_frame()
    frame = pl.concat([base, result.table.drop("cell")], how="horizontal")
    notes = [*([why] if why else []), *result.notes]
    title = "Puntos calientes (Gi*)" if lang == "es" else "Hot spots (Gi*)"
    written = write_cells(
        study,
        frame,
        out,
        value="gi_z",
        title=title,
        lang=lang,
        highlight=(frame["class"] == "hot").to_numpy(),
        highlight_label="punto caliente significativo" if lang == "es" else "significant hot spot",
    )
    counts = frame["class"].value_counts().sort("class")
    summary = {
        **_study_meta(study),
        "inference": result.inference,
        "permutations": result.permutations,
        "fdr": result.fdr,
        "alpha": result.alpha,
        "classes": dict(counts.iter_rows()),
        "notes": [*study.notes, *notes],
        "hot_cells": frame_records(
            frame.filter(pl.col("class") == "hot")
            .sort("gi_z", descending=True)
            .select("cell", "lon", "lat", "count", "gi_z", "p_value", "q_value", "confidence")
        ),
    }
    if as_json:
        print_json(summary)
        return
    console.print(
        f"Gi* ({result.inference}{', FDR' if result.fdr else ''}): "
        + ", ".join(f"{n:,} {c}" for c, n in counts.iter_rows())
    )
    for note in notes:
        _say(f"note: {note}")
    _report(study, written, as_json)


@hotspots_app.command("emerging")
@with_inputs(cell_size=250.0)
def emerging_cmd(
    inp: Inputs,
    slice_days: Annotated[
        float, typer.Option("--slice-days", help="Length of each time slice in days.")
    ] = 28.0,
    permutations: Annotated[
        int, typer.Option("--permutations", help="Per slice (0 = analytic).")
    ] = 0,
    fdr: FdrOpt = True,
    alpha: AlphaOpt = 0.05,
    contiguity: ContOpt = "queen",
    out: OutOpt = None,
    as_json: JsonOpt = False,
    lang: LangOpt = "es",
) -> None:
    """Emerging hot spots: Gi* per time slice and a Mann-Kendall trend per cell."""
    from safestreets.spatial.hotspots import emerging_hotspots

    lang = check_lang(lang)
    study = study_of(inp)
    result = emerging_hotspots(
        study.grid,
        study.cells,
        study.events.t,
        slice_days=slice_days,
        permutations=permutations,
        alpha=alpha,
        fdr=fdr,
        contiguity=contiguity,  # type: ignore[arg-type]
    )
    frame = pl.concat([study.cell_frame(), result.table.drop("cell")], how="horizontal")
    title = "Puntos calientes emergentes" if lang == "es" else "Emerging hot spots"
    written = write_cells(
        study, frame, out, value="final_z", title=title, lang=lang, categories="category"
    )
    cats = (
        frame.filter(pl.col("category") != "no pattern")["category"]
        .value_counts()
        .sort("count", descending=True)
    )
    summary = {
        **_study_meta(study),
        "slices": len(result.slice_start),
        "slice_days": result.slice_days,
        "categories": dict(cats.iter_rows()),
        "notes": [*study.notes, *result.notes],
        "cells": frame_records(
            frame.filter(pl.col("category") != "no pattern").select(
                "cell",
                "lon",
                "lat",
                "events",
                "n_hot_slices",
                "n_slices",
                "mk_z",
                "mk_p",
                "trend",
                "category",
            )
        ),
    }
    if as_json:
        print_json(summary)
        return
    console.print(
        f"{len(result.slice_start)} slices of {result.slice_days:g} days; "
        + (", ".join(f"{n:,} {c}" for c, n in cats.iter_rows()) or "no pattern anywhere")
    )
    for note in result.notes:
        _say(f"note: {note}")
    _report(study, written, as_json)


# -- kernel density ---------------------------------------------------------------------------


@hotspots_app.command("kde")
@with_inputs(cell_size=100.0)
def kde_cmd(
    inp: Inputs,
    kernel: Annotated[str, typer.Option("--kernel", help="quartic or gaussian.")] = "quartic",
    bandwidth: Annotated[
        float | None,
        typer.Option(
            "--bandwidth",
            help="Metres (quartic: radius; gaussian: sigma). Default: normal-reference rule.",
        ),
    ] = None,
    adaptive: Annotated[
        bool, typer.Option("--adaptive", help="Narrower kernels where events are dense.")
    ] = False,
    k_neighbours: Annotated[
        int, typer.Option("--k-neighbours", help="Neighbour used for adaptive bandwidths.")
    ] = 10,
    out: OutOpt = None,
    as_json: JsonOpt = False,
    lang: LangOpt = "es",
) -> None:
    """Kernel density of events (events per km²), by convolution on the grid."""
    from safestreets.spatial.kde import kde

    lang = check_lang(lang)
    study = study_of(inp)
    result = kde(
        study.grid,
        study.events,
        bandwidth_m=bandwidth,
        kernel=kernel,
        adaptive=adaptive,
        k_neighbours=k_neighbours,
    )
    frame = study.cell_frame().with_columns(
        density_per_km2=pl.Series(result.density), expected=pl.Series(result.expected)
    )
    title = (
        f"Densidad de incidentes (kernel {kernel}, {result.bandwidth_m:,.0f} m)"
        if lang == "es"
        else f"Incident density ({kernel} kernel, {result.bandwidth_m:,.0f} m)"
    )
    written = write_cells(study, frame, out, value="density_per_km2", title=title, lang=lang)
    summary = {
        **_study_meta(study),
        "kernel": result.kernel,
        "bandwidth_m": result.bandwidth_m,
        "bandwidth_rule": result.bandwidth_rule,
        "adaptive": result.adaptive,
        "unit": result.unit,
        "max_density_per_km2": float(np.max(result.density)) if len(result.density) else None,
        "notes": [*study.notes, *result.notes],
    }
    if as_json:
        print_json(summary)
        return
    console.print(
        f"{kernel} kernel, bandwidth {result.bandwidth_m:,.0f} m ({result.bandwidth_rule})"
        f"{', adaptive' if adaptive else ''}; peak {summary['max_density_per_km2']:,.1f} "
        f"events per km²"
    )
    for note in result.notes:
        _say(f"note: {note}")
    _report(study, written, as_json)


# -- risk around places -----------------------------------------------------------------------


@hotspots_app.command("placerisk")
@with_inputs(cell_size=250.0)
def placerisk_cmd(
    inp: Inputs,
    layer: LayerOpt = None,
    layers: Annotated[
        Path | None,
        typer.Option("--layers", help="Folder of point layers (every .geojson and .csv in it)."),
    ] = None,
    model: Annotated[str, typer.Option("--model", help="negbin or poisson.")] = "negbin",
    radius: Annotated[
        float | None,
        typer.Option(
            "--radius", help="Radius of influence in metres (default: 1.5 cells, min 250)."
        ),
    ] = None,
    terms: Annotated[
        str,
        typer.Option(
            "--terms",
            help="within (cell within the radius of a feature), count (features within the "
            "radius) or log_distance.",
        ),
    ] = "within",
    out: OutOpt = None,
    as_json: JsonOpt = False,
    lang: LangOpt = "es",
) -> None:
    """Risk around places: relative risk near markets, bus stops, bars... (risk terrain)."""
    from safestreets.spatial.placerisk import layers_from_dir, place_risk, read_layer

    lang = check_lang(lang)
    if not layer and layers is None:
        raise InputError(
            "no place layer given",
            hint="give --layer FILE (repeatable) or --layers FOLDER; `safestreets demo` writes "
            "demo layers to <data dir>/demo/layers",
        )
    places = [read_layer(p) for p in layer or []]
    if layers is not None:
        places += layers_from_dir(layers)
    study = study_of(inp)
    result = place_risk(
        study.grid,
        study.counts(),
        places,
        model=model,  # type: ignore[arg-type]
        radius_m=radius,
        terms=terms,  # type: ignore[arg-type]
    )
    frame = study.cell_frame().with_columns(
        count=pl.Series(study.counts()),
        relative_risk=pl.Series(result.surface),
        expected=pl.Series(result.expected),
    )
    title = "Riesgo relativo por lugares" if lang == "es" else "Relative risk from places"
    written = write_cells(study, frame, out, value="relative_risk", title=title, lang=lang)
    layer_notes = [n for lay in places for n in lay.notes]
    summary = {
        **_study_meta(study),
        "model": result.model,
        "terms": result.terms,
        "radius_m": result.radius_m,
        "alpha": result.alpha,
        "overdispersion_p": result.overdispersion_p,
        "aic": result.aic,
        "deviance_explained": result.deviance_explained,
        "relative_risks": frame_records(result.table),
        "notes": [*study.notes, *layer_notes, *result.notes],
    }
    if as_json:
        print_json(summary)
        return
    t = Table(title=f"Relative risk ({result.model}, {result.terms})")
    for col in ("layer", "term", "RR [95% CI]", "p", "features", "cells exposed"):
        t.add_column(col, justify="right")
    for r in result.table.iter_rows(named=True):
        t.add_row(
            r["layer"],
            r["feature"],
            f"{r['relative_risk']:.2f} [{r['rr_lo']:.2f}, {r['rr_hi']:.2f}]",
            f"{r['p_value']:.3g}",
            "" if r["n_features"] is None else f"{r['n_features']:,}",
            f"{r['cells_exposed']:,}",
        )
    console.print(t)
    for note in [*layer_notes, *result.notes]:
        _say(f"note: {note}")
    _report(study, written, as_json)
