"""`safestreets counts` and `safestreets population`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from safestreets.cli._common import DatabaseOpt, print_report, ready_engine

counts_app = typer.Typer(
    help="Aggregated statistics (counts published by agencies).", no_args_is_help=True
)
population_app = typer.Typer(
    help="Population by area and year (denominators).", no_args_is_help=True
)


@counts_app.command("load")
def counts_load(
    file: Annotated[Path, typer.Argument(help="Canonical counts CSV (see docs/data-model.md).")],
    source: Annotated[
        str | None, typer.Option(help="Source for rows whose source column is empty.")
    ] = None,
    report: Annotated[
        Path | None, typer.Option("--report", help="Write the report as JSON.")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    database: DatabaseOpt = None,
) -> None:
    """Load published counts (canonical counts CSV; see docs/data-model.md)."""
    from safestreets.ingest.counts import load_counts

    result = load_counts(file, ready_engine(database), source=source)
    print_report(result, as_json=json_out, out=report)


@population_app.command("load")
def population_load(
    file: Annotated[Path, typer.Argument(help="CSV with country,admin1,admin2,year,population.")],
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
