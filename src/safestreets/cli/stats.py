"""`safestreets counts` and `safestreets population`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from safestreets.cli._common import DatabaseOpt, console, print_report, ready_engine

counts_app = typer.Typer(
    help="Aggregated statistics (counts published by agencies).", no_args_is_help=True
)
population_app = typer.Typer(
    help="Population by area and year (denominators).", no_args_is_help=True
)


@counts_app.command("load")
def counts_load(
    file: Annotated[
        Path, typer.Argument(help="Counts file: canonical counts CSV, or a profile's layout.")
    ],
    profile: Annotated[
        str | None,
        typer.Option(
            "--profile",
            "-p",
            help="Counts profile: a built-in name (see `counts profiles`) or a YAML path. "
            "Without it the file is a canonical counts CSV.",
        ),
    ] = None,
    source: Annotated[
        str | None,
        typer.Option(
            help="Source for rows whose source column is empty; with --profile, replaces the "
            "profile's source."
        ),
    ] = None,
    report: Annotated[
        Path | None, typer.Option("--report", help="Write the report as JSON.")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    database: DatabaseOpt = None,
) -> None:
    """Load published counts (canonical counts CSV, or any layout with --profile; see
    docs/data-model.md and docs/profiles.md)."""
    from safestreets.ingest.count_profiles import load_count_profile
    from safestreets.ingest.counts import load_counts

    prof = load_count_profile(profile) if profile else None
    result = load_counts(file, ready_engine(database), source=source, profile=prof)
    print_report(result, as_json=json_out, out=report)


@counts_app.command("profiles")
def counts_profiles() -> None:
    """List the built-in counts profiles."""
    from rich.table import Column, Table

    from safestreets.ingest.count_profiles import builtin_count_profiles, load_count_profile

    # No wrapping of the name: it is what users type.
    t = Table(Column("name", no_wrap=True), "layout", "unit", "source", "country", "title")
    for name in builtin_count_profiles():
        p = load_count_profile(name)
        t.add_row(name, p.layout, p.unit, p.source, p.country, p.title)
    console.print(t)


@population_app.command("load")
def population_load(
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV with country,admin1,admin2,year,population (optionally sex,age_band)."
        ),
    ],
    source: Annotated[
        str, typer.Option(help="Where the figures come from (e.g. INE-GT 2018 census projection).")
    ] = "user",
    report: Annotated[
        Path | None, typer.Option("--report", help="Write the report as JSON.")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    database: DatabaseOpt = None,
) -> None:
    """Load admin-unit populations; they take precedence over the built-in country figures."""
    from safestreets.ingest.counts import load_population

    result = load_population(file, ready_engine(database), source=source)
    print_report(result, as_json=json_out, out=report)
