"""Reads and maintenance of ingest batches."""

from __future__ import annotations

from sqlalchemy import Engine, exists, select

from safestreets.store import tables


def has_synthetic(engine: Engine) -> bool:
    """Whether a synthetic (demo) batch with incidents is loaded."""
    b = tables.batch
    query = select(exists().where(b.c.synthetic.is_(True), b.c.rows_loaded > 0))
    with engine.connect() as conn:
        return bool(conn.execute(query).scalar())
