"""Engines for the embedded SQLite store and for PostgreSQL (psycopg 3)."""

from __future__ import annotations

import time
import weakref
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.pool import NullPool

from safestreets.config import get_settings
from safestreets.errors import StoreError


def normalise_url(url: str) -> str:
    """Use the psycopg 3 driver for plain ``postgresql://`` URLs."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def sqlite_path(engine: Engine) -> Path | None:
    """The database file of a SQLite engine (None for other backends or in-memory)."""
    if (
        engine.dialect.name != "sqlite"
        or not engine.url.database
        or engine.url.database == ":memory:"
    ):
        return None
    return Path(engine.url.database)


@lru_cache(maxsize=8)
def _engine_for(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(
            f"not a database URL: {url!r}",
            hint="e.g. sqlite:///safestreets-data/safestreets.sqlite or "
            "postgresql+psycopg://user@host/dbname",
        ) from None
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, poolclass=NullPool, connect_args={"timeout": 60})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    try:
        return create_engine(url, pool_pre_ping=True)
    except Exception as exc:  # a missing driver, a malformed option
        raise StoreError(f"cannot use database URL {parsed.render_as_string()}: {exc}") from None


def keep_open(engine: Engine) -> Any:
    """For a long-running process on a SQLite store: one connection held open for its life.

    Each request opens and closes its own connection (no pool: the CLI, the server and bulk
    loads share the file safely), and closing the *last* connection to a WAL database
    checkpoints and removes the WAL, about 10 ms measured here, which a server would pay on
    every request. While this connection is open no request's close is the last one; SQLite
    still checkpoints as the WAL grows. Returns the DBAPI connection (None for other
    backends); close it at shutdown.
    """
    if sqlite_path(engine) is None:
        return None
    return engine.raw_connection()


def get_engine(url: str | None = None) -> Engine:
    """The engine for ``url`` or for the configured ``SAFESTREETS_DATABASE_URL``."""
    return _engine_for(normalise_url(url or get_settings().resolved_database_url()))


#: Engines found ready, and when (monotonic seconds): a server checks at most this often.
_READY: weakref.WeakKeyDictionary[Engine, float] = weakref.WeakKeyDictionary()
READY_TTL_S = 5.0


def check_ready(engine: Engine) -> None:
    """Raise StoreError with a hint when the database is unreachable or not initialised.

    A success is remembered for :data:`READY_TTL_S` seconds, so a busy server does not
    inspect the schema on every request; a failure is never remembered.
    """
    seen = _READY.get(engine)
    if seen is not None and time.monotonic() - seen < READY_TTL_S:
        return
    _check_ready(engine)
    _READY[engine] = time.monotonic()


def _check_ready(engine: Engine) -> None:
    try:
        with engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
    except OperationalError as exc:
        raise StoreError(
            f"cannot connect to the database: {str(exc.orig).strip().splitlines()[0]}",
            hint="check SAFESTREETS_DATABASE_URL and that the server is running",
        ) from None
    if "incident" not in tables:
        raise StoreError(
            "the database is not initialised",
            hint="run `safestreets init` first",
        )
    from safestreets.store.migrate import current_revision, head_revision

    current, head = current_revision(engine), head_revision()
    if current != head:
        raise StoreError(
            f"the database schema is at revision {current}; this version of safestreets "
            f"needs {head}",
            hint="run `safestreets init` to migrate it (nothing is lost)",
        )
