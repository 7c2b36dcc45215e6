"""`safestreets ingest` and `safestreets profiles`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.table import Table

from safestreets.cli._common import DatabaseOpt, console, print_report, progress_bar, ready_engine
from safestreets.ingest.load import ingest_file
from safestreets.ingest.profiles import Profile, builtin_profiles, load_profile, parse_profile


def ingest(
    file: Annotated[
        Path, typer.Argument(help="CSV, XLSX, JSON/NDJSON or Parquet file (.gz accepted).")
    ],
    profile: Annotated[
        str, typer.Option("--profile", "-p", help="Built-in profile name or a profile YAML path.")
    ],
    source: Annotated[str | None, typer.Option(help="Override the profile's source name.")] = None,
    timezone: Annotated[
        str | None, typer.Option(help="Override the profile's time zone (IANA name).")
    ] = None,
    report: Annotated[
        Path | None, typer.Option("--report", help="Write the report as JSON to this file.")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    database: DatabaseOpt = None,
) -> None:
    """Load an agency file through a source profile and print the validation report."""
    prof = load_profile(profile)
    updates = {k: v for k, v in {"source": source, "timezone": timezone}.items() if v}
    if updates:
        prof = _with(prof, updates)
    engine = ready_engine(database)
    with progress_bar(f"ingest {file.name}", None, quiet or json_out) as progress:
        result = ingest_file(file, prof, engine, progress=progress)
    print_report(result, as_json=json_out, out=report)


def _with(prof: Profile, updates: dict[str, str]) -> Profile:
    """The profile with some top-level keys replaced, validated again."""
    data = prof.model_dump(mode="json", exclude_none=True)
    data.update(updates)
    return parse_profile(yaml.safe_dump(data), origin=prof.name, path=prof.path)


profiles_app = typer.Typer(help="List and show source profiles.", no_args_is_help=True)


@profiles_app.command("list")
def profiles_list() -> None:
    """List the built-in source profiles."""
    t = Table("name", "source", "country", "title")
    for name in builtin_profiles():
        p = load_profile(name)
        t.add_row(name, p.source, p.country or "(column)", p.title)
    console.print(t)


@profiles_app.command("show")
def profiles_show(name: Annotated[str, typer.Argument(help="Profile name or path.")]) -> None:
    """Print a profile's YAML."""
    p = load_profile(name)
    assert p.path is not None
    typer.echo(p.path.read_text(encoding="utf-8"))
