"""Shared pieces of the CLI: the console, the database option, report printing."""

from __future__ import annotations

import getpass
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from sqlalchemy import Engine

from safestreets.access.policy import Principal
from safestreets.errors import InputError
from safestreets.ingest.report import IngestReport
from safestreets.store.engine import check_ready, get_engine

console = Console()
err_console = Console(stderr=True)

DatabaseOpt = Annotated[
    str | None,
    typer.Option(
        "--database",
        "-d",
        help="Database URL (default: SAFESTREETS_DATABASE_URL or the SQLite file).",
    ),
]


def check_lang(lang: str) -> str:
    """The ``--lang`` value of a command, refused unless ``es`` or ``en``."""
    if lang not in ("es", "en"):
        raise InputError(f"unknown language {lang!r}", hint="use --lang es or --lang en")
    return lang


def ready_engine(url: str | None) -> Engine:
    engine = get_engine(url)
    check_ready(engine)
    return engine


@contextmanager
def progress_bar(label: str, total: int | None, quiet: bool) -> Iterator[Callable[[int], None]]:
    """A Rich progress bar (rows); a no-op when quiet or not on a terminal."""
    if quiet:
        yield lambda n: None
        return
    columns = [SpinnerColumn(), TextColumn("[bold]{task.description}")]
    columns += (
        [BarColumn(), MofNCompleteColumn()] if total else [TextColumn("{task.completed:,} rows")]
    )
    columns.append(TimeElapsedColumn())
    with Progress(*columns, console=err_console, transient=True) as prog:
        task = prog.add_task(label, total=total)
        yield lambda n: prog.update(task, completed=n)


def print_report(report: IngestReport, *, as_json: bool, out: Path | None) -> None:
    """Print the validation report (JSON or a table) and optionally write it as JSON."""
    data = report.model_dump()
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    if as_json:
        typer.echo(json.dumps(data, ensure_ascii=False))
        return
    # File names, column names and category labels come from the user's data: escape them,
    # or "[/]" in a category label is read as Rich markup (MarkupError after the commit).
    t = Table(
        title=f"Ingest report: {escape(Path(report.file).name)} (batch {report.batch_id})",
        show_header=False,
    )
    t.add_column("", style="bold")
    t.add_column("", justify="right")
    t.add_row("read as", escape(report.read_as or "-"))
    for key in (
        "rows_read",
        "rows_loaded",
        "rows_rejected",
        "rows_duplicate",
        "rows_unmapped_category",
    ):
        t.add_row(key, f"{getattr(report, key):,}")
    if report.rows_duplicate:
        t.add_row("  of which in file", f"{report.rows_duplicate_in_file:,}")
        t.add_row("  of which already stored", f"{report.rows_duplicate_in_store:,}")
    if report.occurred_min:
        t.add_row("occurred", f"{report.occurred_min[:10]} .. {(report.occurred_max or '')[:10]}")
    t.add_row("seconds", f"{report.seconds:.1f}")
    console.print(t)
    if report.rejections:
        r = Table(title="Rejected rows (in quarantine) by reason")
        r.add_column("reason")
        r.add_column("rows", justify="right")
        r.add_column("first rows")
        for reason, n in report.rejections.items():
            rows = report.rejection_samples.get(reason, [])[:8]
            r.add_row(escape(reason), f"{n:,}", ", ".join(map(str, rows)))
        console.print(r)
    if report.warnings:
        w = Table(title="Warnings (rows loaded)")
        w.add_column("warning")
        w.add_column("rows", justify="right")
        for name, n in report.warnings.items():
            w.add_row(escape(name), f"{n:,}")
        console.print(w)
    if report.unmapped_categories:
        u = Table(title="Categories with no ICCS code (loaded, iccs_code empty)")
        u.add_column("local category")
        u.add_column("rows", justify="right")
        for name, n in list(report.unmapped_categories.items())[:15]:
            u.add_row(escape(name), f"{n:,}")
        console.print(u)
    for note in report.notes:
        console.print(f"note: {escape(note)}", highlight=False)


def operator() -> Principal:
    """The local operator (who runs the CLI on the database host), named after the login."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):  # no login name (some containers)
        name = "unknown"
    return Principal.local_operator(name)
