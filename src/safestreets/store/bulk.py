"""Transactional bulk writers: one batch, one transaction, on SQLite or PostgreSQL.

Row-by-row INSERTs through a DB-API driver are an order of magnitude slower than the bulk
paths each database offers, so each backend gets its own writer behind one interface:

* SQLite: the ADBC SQLite driver appends Arrow tables directly (measured 2.5x faster than
  ``sqlite3.executemany`` on the 1.3M-row CDMX file). The whole batch runs in that one ADBC
  connection's transaction.
* PostgreSQL: ``COPY ... FROM STDIN`` (CSV written by Polars) inside the SQLAlchemy
  connection's transaction.
* Anything else: SQLAlchemy ``executemany`` (slow but correct).

A crash or kill before ``commit()`` leaves nothing of the batch behind.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import polars as pl
from sqlalchemy import Engine, insert, select, text, update

from safestreets.errors import StoreError
from safestreets.store import tables
from safestreets.store.engine import sqlite_path


class BulkSession(Protocol):
    """One open transaction that loads one batch."""

    def begin_batch(self, **fields: Any) -> int: ...
    def existing(self, ids: pl.Series) -> pl.DataFrame: ...
    def source_loaded_before(self, source: str) -> bool: ...
    def append(self, table: str, frame: pl.DataFrame) -> None: ...
    def finish_batch(self, batch_id: int, **fields: Any) -> None: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...
    def close(self) -> None: ...


#: What ``BulkSession.existing`` returns: the stored identity of incidents already present.
EXISTING_SCHEMA: dict[str, pl.DataType] = {
    "incident_id": pl.Int64(),
    "source": pl.String(),
    "source_record_id": pl.String(),
}


def _now() -> datetime:
    return datetime.now(UTC)


def _sqlite_params(fields: dict[str, Any]) -> dict[str, Any]:
    """Statement parameters with datetimes as the text SQLAlchemy's SQLite dialect reads."""
    return {
        k: (v.strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(v, datetime) else v)
        for k, v in fields.items()
    }


def _sqlite_ts(frame: pl.DataFrame) -> pl.DataFrame:
    """Datetimes as the text SQLAlchemy's SQLite dialect writes and reads back."""
    return frame.with_columns(
        [
            pl.col(c).dt.convert_time_zone("UTC").dt.strftime("%Y-%m-%d %H:%M:%S.%6f")
            if isinstance(dt, pl.Datetime) and dt.time_zone
            else (pl.col(c).dt.strftime("%Y-%m-%d") if dt == pl.Date else pl.col(c))
            for c, dt in frame.schema.items()
        ]
    )


class SQLiteSession:
    """Bulk session over one ADBC SQLite connection."""

    def __init__(self, engine: Engine) -> None:
        import adbc_driver_sqlite.dbapi as adbc

        path = sqlite_path(engine)
        if path is None:
            raise StoreError("bulk loads need a SQLite file, not an in-memory database")
        # Autocommit at the driver level, transactions by hand: the pragmas below may not be
        # changed inside a transaction, and BEGIN IMMEDIATE takes the write lock up front so
        # the duplicate check and the writes see the same store.
        self.conn = adbc.connect(str(path), autocommit=True)
        cur = self.conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=60000")
        # Ids are hashes, so inserts land all over the primary-key B-tree: a page cache of
        # 256 MB (default 2 MB) keeps those pages in memory for the length of the batch.
        cur.execute("PRAGMA cache_size=-262144")
        # As on the SQLAlchemy engine: in WAL mode a commit is atomic and consistent without
        # an fsync per transaction (a power cut can lose the last batch, never half of one).
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("BEGIN IMMEDIATE")
        cur.close()
        self.open = True

    def _exec(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cur = self.conn.cursor()
        try:
            cur.execute(sql, list(params) if params else None)
            try:
                return cur.fetchall()
            except Exception:  # statements without a result set
                return []
        finally:
            cur.close()

    def begin_batch(self, **fields: Any) -> int:
        fields.setdefault("started_at", _now())
        fields = _sqlite_params(fields)
        for key in (
            "rows_read",
            "rows_loaded",
            "rows_rejected",
            "rows_duplicate",
            "rows_unmapped_category",
        ):
            fields.setdefault(key, 0)
        fields.setdefault("synthetic", False)
        cols = ", ".join(fields)
        marks = ", ".join("?" for _ in fields)
        self._exec(f"INSERT INTO batch ({cols}) VALUES ({marks})", list(fields.values()))
        return int(self._exec("SELECT last_insert_rowid()")[0][0])

    def source_loaded_before(self, source: str) -> bool:
        rows = self._exec(
            "SELECT 1 FROM batch WHERE source = ? AND rows_loaded > 0 LIMIT 1", [source]
        )
        return bool(rows)

    def existing(self, ids: pl.Series) -> pl.DataFrame:
        if ids.is_empty():
            return pl.DataFrame(schema=EXISTING_SCHEMA)
        cur = self.conn.cursor()
        try:
            cur.adbc_ingest(
                "_ss_ids",
                pl.DataFrame({"incident_id": ids}).to_arrow(),
                mode="replace",
                temporary=True,
            )
            cur.execute(
                "SELECT i.incident_id, i.source, i.source_record_id FROM temp._ss_ids t "
                "JOIN incident i ON i.incident_id = t.incident_id"
            )
            table = cur.fetch_arrow_table()
        finally:
            cur.close()
        return pl.from_arrow(table)  # type: ignore[return-value]

    def append(self, table: str, frame: pl.DataFrame) -> None:
        if frame.is_empty():
            return
        import adbc_driver_manager

        cur = self.conn.cursor()
        try:
            cur.adbc_ingest(table, _sqlite_ts(frame).to_arrow(), mode="append")
        except adbc_driver_manager.IntegrityError as exc:
            raise StoreError(
                f"the database refused rows for table {table}: {str(exc).splitlines()[0]}",
                hint="another load may be writing the same records; run the command again",
            ) from None
        finally:
            cur.close()

    def finish_batch(self, batch_id: int, **fields: Any) -> None:
        fields.setdefault("finished_at", _now())
        fields = _sqlite_params(fields)
        sets = ", ".join(f"{k} = ?" for k in fields)
        self._exec(f"UPDATE batch SET {sets} WHERE batch_id = ?", [*fields.values(), batch_id])

    def commit(self) -> None:
        self._exec("COMMIT")
        self.open = False

    def rollback(self) -> None:
        if self.open:
            self._exec("ROLLBACK")
            self.open = False

    def close(self) -> None:
        self.conn.close()


class SQLAlchemySession:
    """Bulk session over a SQLAlchemy connection: COPY on PostgreSQL, executemany elsewhere."""

    def __init__(self, engine: Engine) -> None:
        self.conn = engine.connect()
        self.trans = self.conn.begin()
        self.is_pg = engine.dialect.name == "postgresql"

    def begin_batch(self, **fields: Any) -> int:
        fields.setdefault("started_at", _now())
        res = self.conn.execute(
            insert(tables.batch).values(**fields).returning(tables.batch.c.batch_id)
        )
        return int(res.scalar_one())

    def source_loaded_before(self, source: str) -> bool:
        b = tables.batch
        query = select(b.c.batch_id).where(b.c.source == source, b.c.rows_loaded > 0).limit(1)
        return self.conn.execute(query).first() is not None

    def existing(self, ids: pl.Series) -> pl.DataFrame:
        if ids.is_empty():
            return pl.DataFrame(schema=EXISTING_SCHEMA)
        inc = tables.incident
        if self.is_pg:
            self.conn.execute(
                text("CREATE TEMP TABLE IF NOT EXISTS _ss_ids (incident_id bigint) ON COMMIT DROP")
            )
            self.conn.execute(text("TRUNCATE _ss_ids"))
            self._copy("_ss_ids", pl.DataFrame({"incident_id": ids}))
            rows = self.conn.execute(
                text(
                    "SELECT i.incident_id, i.source, i.source_record_id FROM _ss_ids t "
                    "JOIN incident i ON i.incident_id = t.incident_id"
                )
            ).all()
        else:
            rows = []
            values = ids.to_list()
            for start in range(0, len(values), 5000):
                part = values[start : start + 5000]
                rows += self.conn.execute(
                    select(inc.c.incident_id, inc.c.source, inc.c.source_record_id).where(
                        inc.c.incident_id.in_(part)
                    )
                ).all()
        return pl.DataFrame(rows, schema=EXISTING_SCHEMA, orient="row")

    def _copy(self, table: str, frame: pl.DataFrame) -> None:
        raw = self.conn.connection.driver_connection
        assert raw is not None
        cols = ", ".join(f'"{c}"' for c in frame.columns)
        step = 100_000
        with (
            raw.cursor() as cur,
            cur.copy(f"COPY {table} ({cols}) FROM STDIN WITH (FORMAT csv)") as cp,
        ):
            for start in range(0, frame.height, step):
                buf = io.BytesIO()
                frame.slice(start, step).write_csv(
                    buf, include_header=False, datetime_format="%Y-%m-%d %H:%M:%S%.6f+00:00"
                )
                cp.write(buf.getvalue())

    def append(self, table: str, frame: pl.DataFrame) -> None:
        if frame.is_empty():
            return
        if self.is_pg:
            self._copy(table, frame)
            return
        target = tables.metadata.tables[table]
        self.conn.execute(insert(target), frame.to_dicts())

    def finish_batch(self, batch_id: int, **fields: Any) -> None:
        fields.setdefault("finished_at", _now())
        self.conn.execute(
            update(tables.batch).where(tables.batch.c.batch_id == batch_id).values(**fields)
        )

    def commit(self) -> None:
        self.trans.commit()

    def rollback(self) -> None:
        if self.trans.is_active:
            self.trans.rollback()

    def close(self) -> None:
        self.conn.close()


def open_session(engine: Engine) -> BulkSession:
    """The fastest transactional bulk session the backend supports."""
    if engine.dialect.name == "sqlite" and sqlite_path(engine) is not None:
        try:
            return SQLiteSession(engine)
        except ImportError:  # ADBC driver missing: fall back to the portable path
            pass
    return SQLAlchemySession(engine)
