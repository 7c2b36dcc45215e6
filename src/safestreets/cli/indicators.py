"""`safestreets indicators`: list the catalogue and compute indicator tables."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

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
from safestreets.query import parse_date

indicators_app = typer.Typer(help="Standard indicators: counts and rates.", no_args_is_help=True)

CatalogueOpt = Annotated[
    Path | None,
    typer.Option(
        "--catalogue", help="Your own indicator catalogue (YAML) added to the shipped one."
    ),
]
LangOpt = Annotated[str, typer.Option("--lang", help="Language of names and notes: es or en.")]


@indicators_app.command("list")
def list_indicators(catalogue: CatalogueOpt = None, lang: LangOpt = "es") -> None:
    """List the indicators of the catalogue."""
    from safestreets.stats.catalogue import load_catalogue

    lang = check_lang(lang)
    cat = load_catalogue(catalogue)
    t = Table(title="Indicadores" if lang == "es" else "Indicators")
    # The id is what users type: never wrapped or cut, whatever the terminal width.
    t.add_column("id", no_wrap=True, min_width=max(len(i.id) for i in cat.indicators))
    t.add_column("name", overflow="fold")
    for col in ("unit", "denominator", "sensitive"):
        t.add_column(col)
    for ind in cat.indicators:
        den = ind.denominator
        what = (
            "population"
            + (f" ({den.population.sex})" if den.population and den.population.sex else "")
            if den.kind == "population"
            else f"share of {den.share_of}"
            if den.kind == "share"
            else "-"
        )
        t.add_row(
            ind.id,
            escape(ind.name.get(lang)),
            ind.numerator.unit,
            what,
            "yes" if ind.sensitive else "",
        )
    console.print(t)


@indicators_app.command("show")
def show_indicator(indicator: str, catalogue: CatalogueOpt = None, lang: LangOpt = "es") -> None:
    """Show one indicator's definition."""
    import yaml

    from safestreets.stats.catalogue import load_catalogue

    ind = load_catalogue(catalogue).get(indicator)
    lang = check_lang(lang)
    console.print(f"[bold]{escape(ind.name.get(lang))}[/] ({ind.id})")
    console.print(escape(ind.description.get(lang)))
    console.print(
        escape(
            yaml.safe_dump(
                ind.model_dump(exclude={"name", "description"}), allow_unicode=True, sort_keys=False
            )
        )
    )


def parse_where(items: list[str]) -> dict[str, tuple[str, ...]]:
    """``country=GT,SV`` ``sex=female`` -> {"country": ("GT", "SV"), "sex": ("female",)}."""
    out: dict[str, tuple[str, ...]] = {}
    for item in items:
        key, sep, values = item.partition("=")
        if not sep or not key.strip() or not values.strip():
            raise InputError(f"cannot read --where {item!r}", hint="use KEY=VALUE[,VALUE...]")
        vals = tuple(v.strip() for v in values.split(",") if v.strip())
        key = key.strip()
        if key == "country":
            vals = tuple(v.upper() for v in vals)
        out[key] = tuple(dict.fromkeys([*out.get(key, ()), *vals]))
    return out


@indicators_app.command("compute")
def compute_cmd(
    indicator: Annotated[str, typer.Argument(help="Indicator id (see `indicators list`).")],
    by: Annotated[str, typer.Option("--by", help="Breakdowns, comma-separated.")] = "country,year",
    where: Annotated[
        list[str] | None, typer.Option("--where", help="Filter KEY=V1[,V2]; repeatable.")
    ] = None,
    date_from: Annotated[
        str | None, typer.Option("--from", help="First day: YYYY[-MM[-DD]].")
    ] = None,
    date_to: Annotated[str | None, typer.Option("--to", help="Last day: YYYY[-MM[-DD]].")] = None,
    fmt: Annotated[
        str | None, typer.Option("--format", help="table, csv, json, xlsx or parquet.")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write to this file.")] = None,
    public: Annotated[
        bool, typer.Option("--public", help="Apply disclosure control (for publication).")
    ] = False,
    k: Annotated[int, typer.Option("--k", help="Smallest count published with --public.")] = 5,
    changes: Annotated[
        bool, typer.Option("--changes", help="Add the change on the previous period.")
    ] = False,
    yoy: Annotated[
        bool, typer.Option("--yoy", help="Add the change on the same period a year before.")
    ] = False,
    unusual: Annotated[
        bool, typer.Option("--unusual", help="Flag unusual months or weeks (seasonal baseline).")
    ] = False,
    chart: Annotated[
        Path | None, typer.Option("--chart", help="Also draw a trend chart (.png or .svg).")
    ] = None,
    allow_missing_population: Annotated[
        bool,
        typer.Option("--allow-missing-population", help="Empty rates instead of an error."),
    ] = False,
    catalogue: CatalogueOpt = None,
    lang: LangOpt = "es",
    database: DatabaseOpt = None,
) -> None:
    """Compute an indicator by area, period and breakdowns, from records and published counts."""
    from safestreets.stats import export
    from safestreets.stats.catalogue import load_catalogue
    from safestreets.stats.indicators import Request, compute
    from safestreets.store.aggregates import StoreData

    lang = check_lang(lang)
    fmt = export.format_for(out, fmt)
    if out is None and fmt in ("xlsx", "parquet"):
        raise InputError(f"--format {fmt} needs --out FILE", hint="e.g. --out homicides.xlsx")
    cat = load_catalogue(catalogue)
    request = Request(
        by=tuple(b.strip() for b in by.split(",") if b.strip()),
        where=parse_where(where or []),
        date_from=parse_date(date_from, end=False) if date_from else None,
        date_to=parse_date(date_to, end=True) if date_to else None,
        allow_missing_population=allow_missing_population,
        lang=lang,
    )
    if public:
        from safestreets.stats.publish import check_public

        # Before computing: a refused public table should not first ask for populations.
        check_public(cat.get(indicator), request, k=k)
    engine = ready_engine(database)
    result = compute(indicator, request, StoreData(engine), catalogue=cat)
    frame = result.frame
    meta: dict[str, Any] = {
        "indicator": result.indicator.id,
        "name": result.indicator.name.get(lang),
        "description": result.indicator.description.get(lang),
        "unit": result.indicator.numerator.unit,
        "by": list(request.by),
        "where": {key: list(v) for key, v in request.where.items()},
        "notes": result.notes,
    }
    totals: pl.DataFrame | None = None
    if public:
        from safestreets.stats.publish import make_public

        pub = make_public(result, k=k)
        frame, totals = pub.cells, pub.totals
        meta["disclosure_control"] = {
            "k": pub.k,
            "suppressed_cells": pub.suppressed,
            "statement": pub.statement,
        }
    if totals is not None and fmt in ("json", "xlsx", "parquet"):
        meta["totals"] = [
            {c: export.plain(v) for c, v in r.items()} for r in totals.iter_rows(named=True)
        ]
    frame = _trends(frame, request.by, changes=changes, yoy=yoy, unusual=unusual, lang=lang)
    if chart is not None:
        _chart(frame, result.value_column, request.by, chart, lang, meta["name"])
    if out is None and fmt == "table":
        _print_table(frame, meta, totals)
        return
    if out is None:
        text = export.to_bytes(frame, fmt, meta).decode("utf-8-sig")
        typer.echo(text, nl=not text.endswith("\n"))  # no blank last line after a CSV
        return
    export.write(frame, fmt, out, meta)
    if totals is not None and fmt == "csv":
        export.write(totals, "csv", out.with_name(out.stem + "-totals.csv"), meta)
    err_console.print(f"wrote {frame.height} rows to {escape(str(out))}")
    for note in result.notes:
        err_console.print(f"[dim]note:[/] {escape(note)}", soft_wrap=True)


def _series_keys(by: tuple[str, ...]) -> list[str]:
    from safestreets.stats.catalogue import AREAS, PERIODS

    keys = ["area"]
    keys += [b for b in by if b not in AREAS and b not in PERIODS]
    return keys


def _trends(
    frame: pl.DataFrame, by: tuple[str, ...], *, changes: bool, yoy: bool, unusual: bool, lang: str
) -> pl.DataFrame:
    if not (changes or yoy or unusual):
        return frame
    from safestreets.stats.catalogue import PERIODS
    from safestreets.stats.trends import period_changes, unusual_periods, year_over_year

    if not any(b in PERIODS for b in by):
        raise InputError(
            "--changes, --yoy and --unusual need a period in --by", hint="e.g. --by country,month"
        )
    keys = _series_keys(by)
    # Each analysis reads the plain table (their output names overlap); the columns it adds
    # are renamed: new name -> the analysis' own name.
    analyses = [
        (
            changes,
            period_changes,
            {
                "change_previous_period": "previous_period",
                "change": "change",
                "change_pct": "pct_change",
                "change_direction": "direction",
                "change_description": "description",
            },
        ),
        (
            yoy,
            year_over_year,
            {
                "yoy_previous": "previous",
                "yoy_change_pct": "pct_change",
                "yoy_direction": "direction",
                "yoy_description": "description",
            },
        ),
        (
            unusual,
            unusual_periods,
            {
                "expected": "expected",
                "expected_lower": "lower",
                "expected_upper": "upper",
                "unusual": "flag",
                "unusual_note": "note",
            },
        ),
    ]
    out = frame
    for wanted, analysis, columns in analyses:
        if wanted:
            part = analysis(frame, by=keys, lang=lang)
            out = out.with_columns(
                part.select(**{new: pl.col(old) for new, old in columns.items()})
            )
    return out


def _chart(
    frame: pl.DataFrame, value: str, by: tuple[str, ...], path: Path, lang: str, title: str
) -> None:
    from safestreets.stats.charts import trend_chart

    fmt = path.suffix.lower().lstrip(".")
    keys = _series_keys(by)
    plot = frame.with_columns(
        series=pl.concat_str([pl.col(k).cast(pl.String) for k in keys], separator=" · ")
    )
    unusual = None
    if "unusual" in frame.columns:
        unusual = plot.rename({"unusual": "flag"})
    data = trend_chart(
        plot,
        value=value if value in frame.columns else "count",
        series="series",
        title=title,
        lang=lang,
        fmt=fmt,
        unusual=unusual,
    )
    path.write_bytes(data)
    err_console.print(f"wrote chart {escape(str(path))}")


def _print_table(frame: pl.DataFrame, meta: dict[str, Any], totals: pl.DataFrame | None) -> None:
    hide = {"indicator", "period_start", "period_end", "unit", "value", "annualised"}
    # On screen only (files keep every column): no column that repeats another, and a count
    # of sources instead of a long list.
    for col in ("country", "admin1", "admin2"):
        if col in frame.columns and frame["area"].equals(frame[col].fill_null("unknown")):
            hide.add(col)
    if "sources" in frame.columns:
        n = frame["sources"].str.count_matches(",") + 1
        frame = frame.with_columns(
            sources=pl.when(n > 1).then(pl.format("{} sources", n)).otherwise(pl.col("sources"))
        )
    cols = [c for c in frame.columns if c not in hide]
    t = Table(title=escape(str(meta["name"])))
    for c in cols:
        t.add_column(c, justify="right" if frame.schema[c].is_numeric() else "left")
    for row in frame.select(cols).iter_rows():
        t.add_row(*[_cell(v) for v in row])
    console.print(t)
    if totals is not None and totals.height:
        console.print(f"totals: {totals.height} rows (published with the table)")
    for note in meta.get("notes", []):
        err_console.print(f"[dim]note:[/] {escape(note)}", soft_wrap=True)
    dc = meta.get("disclosure_control")
    if dc:
        err_console.print(f"[dim]{escape(dc['statement'])}[/]", soft_wrap=True)


def _cell(v: Any) -> str:
    if v is None:
        return "·"
    if isinstance(v, float):
        return f"{v:,.0f}" if v.is_integer() and abs(v) >= 1000 else f"{v:,.2f}"
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    return escape(str(v))
