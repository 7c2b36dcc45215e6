"""`safestreets serve`: migrate the database, then run the web app and API with uvicorn."""

from __future__ import annotations

import ipaddress
import os

import typer
from sqlalchemy import Engine

from safestreets.config import DEFAULT_SECRET, Settings, get_settings
from safestreets.errors import ConfigError


def is_loopback(host: str) -> bool:
    """Whether ``host`` only listens on this machine (127.0.0.0/8, ::1, localhost)."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_secret(settings: Settings, host: str) -> None:
    """Refuse the shipped default secret outside demo mode (on any address).

    In demo mode the app signs sessions with a random per-process key instead of the shipped
    one (see :func:`safestreets.api.app.create_app`), so nobody can forge a demo session.
    """
    if settings.secret_key == DEFAULT_SECRET and not settings.demo:
        raise ConfigError(
            f"refusing to listen on {host} with the default secret key outside demo mode",
            hint="set SAFESTREETS_SECRET_KEY to a long random value "
            '(e.g. python -c "import secrets; print(secrets.token_urlsafe(32))"), '
            "or set SAFESTREETS_DEMO=true for a demo (`make run` does)",
        )


def _url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"http://{shown}:{port}/"


def _say_demo_admin(engine: Engine) -> None:
    """Remind who the demo admin is (its password was printed once, by `safestreets demo`)."""
    from safestreets.access.accounts import get_user
    from safestreets.cli.demo import DEMO_USER
    from safestreets.errors import NotFound

    try:
        with engine.connect() as conn:
            get_user(conn, DEMO_USER)
    except NotFound:
        return
    typer.echo(
        f"demo admin: user {DEMO_USER}; its password was printed once when it was created "
        "(`safestreets demo --reset-admin` prints a new one)"
    )


def serve(
    host: str | None = typer.Option(None, help="default SAFESTREETS_HOST or 127.0.0.1"),
    port: int | None = typer.Option(None, help="default SAFESTREETS_PORT or 8000"),
    database: str | None = typer.Option(
        None,
        "--database",
        "-d",
        help="Database URL (default: SAFESTREETS_DATABASE_URL or the SQLite file).",
    ),
    reload: bool = typer.Option(False, help="restart on code changes (development)"),
) -> None:
    """Start the web pages and the JSON API (migrates the database first)."""
    import uvicorn

    from safestreets.store.engine import get_engine
    from safestreets.store.migrate import upgrade

    settings = get_settings()
    host = host or settings.host
    port = port or settings.port
    check_secret(settings, host)
    url = database or settings.resolved_database_url()
    settings = settings.model_copy(update={"database_url": url, "host": host, "port": port})

    engine = get_engine(url)
    upgrade(engine)  # a fresh database works at once, an old one is brought up to date
    typer.echo(f"database {engine.url.render_as_string(hide_password=True)}")
    typer.echo(f"safestreets is listening on {_url(host, port)}  (Ctrl+C to stop)")
    if host in ("0.0.0.0", "::"):
        typer.echo(f"on this machine: {_url('127.0.0.1', port)}")
    _say_demo_admin(engine)

    if reload:
        # The reloader imports the app in a fresh process: hand it the database by environment.
        os.environ["SAFESTREETS_DATABASE_URL"] = url
        uvicorn.run(
            "safestreets.api.app:create_app", factory=True, host=host, port=port, reload=True
        )
        return

    from safestreets.api.app import create_app

    uvicorn.run(create_app(settings, engine), host=host, port=port)
