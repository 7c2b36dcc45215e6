"""Alembic environment: runs against the connection handed in by safestreets.store.migrate."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from safestreets.store.tables import metadata

config = context.config
target_metadata = metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        from safestreets.store.engine import get_engine

        with get_engine(config.get_main_option("sqlalchemy.url")).begin() as conn:
            _run(conn)
    else:
        _run(connection)


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported")
run_migrations_online()
