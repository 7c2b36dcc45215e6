"""The `safestreets` command line: one Typer app, one module per command group."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
import typer
from rich.markup import escape

from safestreets import __version__
from safestreets.cli._common import DatabaseOpt, console, err_console
from safestreets.cli.ingest import ingest, profiles_app
from safestreets.errors import SafeStreetsError

app = typer.Typer(
    name="safestreets",
    help="Citizen-security information system for Central America.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("ingest")(ingest)
app.add_typer(profiles_app, name="profiles")


@app.command()
def init(database: DatabaseOpt = None) -> None:
    """Create the database, or migrate it to the newest schema."""
    from safestreets.store.engine import get_engine
    from safestreets.store.migrate import upgrade

    engine = get_engine(database)
    before, after = upgrade(engine)
    url = engine.url.render_as_string(hide_password=True)
    if before == after:
        console.print(f"database {url} is up to date (revision {after})")
    else:
        console.print(f"database {url} migrated from {before or 'empty'} to revision {after}")


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


def _register_optional() -> None:
    # Command groups that live in their own modules; imported here so `--help` lists them.
    from safestreets.cli import access as access_cli
    from safestreets.cli import alerts as alerts_cli
    from safestreets.cli import demo as demo_cli
    from safestreets.cli import hits as hits_cli
    from safestreets.cli import hotspots as hotspots_cli
    from safestreets.cli import indicators as indicators_cli
    from safestreets.cli import persons as persons_cli
    from safestreets.cli import reconcile as reconcile_cli
    from safestreets.cli import serve as serve_cli
    from safestreets.cli import stats as stats_cli

    app.command("demo")(demo_cli.demo)
    app.command("serve")(serve_cli.serve)
    app.add_typer(stats_cli.counts_app, name="counts")
    app.add_typer(stats_cli.population_app, name="population")
    app.add_typer(indicators_cli.indicators_app, name="indicators")
    app.command("reconcile")(reconcile_cli.reconcile)
    app.add_typer(hotspots_cli.hotspots_app, name="hotspots")
    app.add_typer(persons_cli.persons_app, name="persons")
    access_cli.register(app)  # agencies, users, audit
    app.add_typer(alerts_cli.alerts_app, name="alerts")
    app.add_typer(hits_cli.hits_app, name="hits")


_register_optional()


def _click_classes(name: str) -> tuple[type[BaseException], ...]:
    # Recent Typer versions ship their own copy of click (typer._click): its exceptions are
    # not click's, so catch both or a mistyped option ends in a traceback.
    classes: list[type[BaseException]] = [getattr(click.exceptions, name)]
    try:
        from typer import _click as vendored

        classes.append(getattr(vendored.exceptions, name))
    except (ImportError, AttributeError):
        pass
    return tuple(classes)


_EXIT: Any = _click_classes("Exit")
_ABORT: Any = _click_classes("Abort")
_CLICK_ERRORS: Any = _click_classes("ClickException")


def main(argv: list[str] | None = None) -> None:
    """Entry point: user errors print one line and a hint and exit 2; no tracebacks."""
    try:
        app(args=argv, standalone_mode=False)
    except SafeStreetsError as exc:
        # Messages quote file names, column names and values from the user's data: escape
        # them, or a "[/]" in a header is read as Rich markup (and raises MarkupError).
        err_console.print(
            f"[bold red]error:[/] {escape(exc.message)}", highlight=False, soft_wrap=True
        )
        if exc.hint:
            err_console.print(f"[dim]hint:[/] {escape(exc.hint)}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except _EXIT as exc:
        sys.exit(exc.exit_code)
    except _ABORT:
        err_console.print("aborted")
        sys.exit(130)
    except _CLICK_ERRORS as exc:  # usage errors: unknown option, bad value
        exc.show()
        sys.exit(2)
    except KeyboardInterrupt:
        err_console.print("interrupted: nothing of the current batch was kept")
        sys.exit(130)


__all__ = ["Path", "app", "main"]
