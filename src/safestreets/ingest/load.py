"""Load a file, or generated canonical frames, into the store as one batch."""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import polars as pl
from sqlalchemy import Engine

from safestreets import schema
from safestreets.errors import InputError, StoreError
from safestreets.ingest.profiles import Profile
from safestreets.ingest.readers import ROW, describe, iter_chunks, open_source
from safestreets.ingest.report import IngestReport
from safestreets.ingest.transform import ChunkResult, Context, incident_ids, transform_chunk
from safestreets.store import rollup
from safestreets.store.aggregates import merge_rollups, partial_rollups
from safestreets.store.bulk import EXISTING_SCHEMA, BulkSession, open_session

SAMPLES_PER_REASON = 20
Progress = Callable[[int], None]


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()


class _BatchWriter:
    """Dedupes and writes chunks of one batch; keeps the running tallies."""

    def __init__(self, session: BulkSession, batch_id: int, *, check_store: bool = True) -> None:
        self.session = session
        #: False when the store cannot hold any of these records yet (first load of a source):
        #: the per-chunk lookup is skipped and the primary key still guards against clashes.
        self.check_store = check_store
        self.batch_id = batch_id
        self.seen = pl.Series("incident_id", [], dtype=pl.Int64)
        self.loaded = 0
        self.dup_file = 0
        self.dup_store = 0
        self.unmapped = 0
        self.unmapped_labels: Counter[str] = Counter()
        self.occurred_min: datetime | None = None
        self.occurred_max: datetime | None = None
        #: Per grain, partial sums of the rows loaded so far, merged like a log-structured
        #: tree (two neighbours are summed when the newer is at least half the older), so a
        #: batch of n chunks costs O(n log n) merging, not O(n^2) (written by :meth:`close`).
        self.rollups: dict[str, list[pl.DataFrame]] = {}

    def _add_rollups(self, incidents: pl.DataFrame, victims: pl.DataFrame) -> None:
        for grain, part in partial_rollups(incidents, victims).items():
            stack = self.rollups.setdefault(grain, [])
            stack.append(part)
            while len(stack) >= 2 and 2 * stack[-1].height >= stack[-2].height:
                newer, older = stack.pop(), stack.pop()
                stack.append(rollup.aggregate(pl.concat([older, newer]), grain))

    def close(self) -> None:
        """Write the batch's rollups (same transaction as its incidents)."""
        merged = {g: pl.concat(parts) for g, parts in self.rollups.items() if parts}
        for table, frame in merge_rollups([merged], self.batch_id).items():
            self.session.append(table, frame)

    def write(self, incidents: pl.DataFrame, victims: pl.DataFrame) -> pl.Series:
        """Write new incidents (and their victims); returns the duplicates' ROW values."""
        ids = incidents["incident_id"]
        fresh = ids.is_first_distinct() & ~ids.is_in(self.seen.implode())
        self.dup_file += int((~fresh).sum())
        candidates = incidents.filter(fresh)
        self.seen = pl.concat([self.seen, candidates["incident_id"]])
        stored = (
            self.session.existing(candidates["incident_id"])
            if self.check_store
            else pl.DataFrame(schema=EXISTING_SCHEMA)
        )
        if not stored.is_empty():
            clash = candidates.join(stored, on="incident_id", suffix="_stored").filter(
                (pl.col("source") != pl.col("source_stored"))
                | (pl.col("source_record_id") != pl.col("source_record_id_stored"))
            )
            if not clash.is_empty():
                row = clash.row(0, named=True)
                raise StoreError(
                    f"record id hash collision: {row['source']}/{row['source_record_id']} and "
                    f"{row['source_stored']}/{row['source_record_id_stored']}",
                    hint="report this; no data was loaded",
                )
        new = candidates.filter(~pl.col("incident_id").is_in(stored["incident_id"].implode()))
        self.dup_store += candidates.height - new.height
        out = new.drop(ROW, strict=False).with_columns(
            batch_id=pl.lit(self.batch_id, dtype=pl.Int64)
        )
        # Sorted by key, the primary-key B-tree is written page by page, not at random.
        rows = schema.conform(out, schema.INCIDENT).sort("incident_id")
        self.session.append("incident", rows)
        v = pl.DataFrame(schema=schema.VICTIM)
        if not victims.is_empty():
            v = victims.filter(pl.col("incident_id").is_in(new["incident_id"].implode())).unique(
                ["incident_id", "victim_no"], keep="first", maintain_order=True
            )
            v = schema.conform(v, schema.VICTIM)
            self.session.append("victim", v)
        self._add_rollups(rows, v)
        self.loaded += new.height
        unmapped = new.filter(
            pl.col("iccs_code").is_null() & pl.col("local_category").is_not_null()
        )
        self.unmapped += unmapped.height
        # Counted on the rows actually loaded: duplicates of stored rows are not news.
        self.unmapped_labels.update(dict(unmapped.group_by("local_category").len().iter_rows()))
        if new.height:
            lo, hi = new["occurred_at"].min(), new["occurred_at"].max()
            if isinstance(lo, datetime) and isinstance(hi, datetime):
                self.occurred_min = lo if self.occurred_min is None else min(self.occurred_min, lo)
                self.occurred_max = hi if self.occurred_max is None else max(self.occurred_max, hi)
        dup_rows = (
            incidents.filter(~fresh)[ROW]
            if ROW in incidents.columns
            else pl.Series([], dtype=pl.Int64)
        )
        return dup_rows


def ingest_file(
    path: Path,
    profile: Profile,
    engine: Engine,
    *,
    progress: Progress | None = None,
    chunk_size: int = 250_000,
    now: datetime | None = None,
) -> IngestReport:
    """Read, map, validate and store one agency file as one transactional batch.

    Rejected rows go to the quarantine table with their reasons; duplicates (inside the
    file or already stored) are counted and skipped; everything else is loaded. Nothing is
    written unless the whole file was processed.

    Raises:
        InputError: the file cannot be read at all (nothing is loaded).
    """
    t0 = time.perf_counter()
    source = open_source(path, profile)
    report = IngestReport(
        batch_id=None,
        source=profile.source,
        profile=profile.name,
        file=str(path),
        file_sha256=file_sha256(path),
        read_as=describe(source),
        notes=list(source.notes),
    )
    ctx = Context.build(profile, source.columns, now) if source.columns else None
    session = open_session(engine)
    rejections: Counter[str] = Counter()
    samples: dict[str, list[int]] = {}
    warnings: Counter[str] = Counter()
    try:
        batch_id = session.begin_batch(
            kind="incidents",
            source=profile.source,
            profile=profile.name,
            file_name=path.name,
            file_sha256=report.file_sha256,
        )
        writer = _BatchWriter(
            session, batch_id, check_store=session.source_loaded_before(profile.source)
        )

        def handle(result: ChunkResult) -> None:
            warnings.update(result.warnings)
            if not result.rejected.is_empty():
                rej = result.rejected
                report.rows_rejected += rej.height
                tally_rejections(rej[ROW], rej["reasons"], rejections, samples)
                session.append(
                    "quarantine",
                    rej.select(
                        pl.lit(batch_id, dtype=pl.Int64).alias("batch_id"),
                        pl.col(ROW).alias("row_number"),
                        pl.col("reasons").list.join("; ").alias("reasons"),
                        pl.col("raw"),
                    ),
                )
            dup_rows = writer.write(result.incidents, result.victims)
            bucket = samples.setdefault("duplicate_in_file", [])
            bucket.extend(int(r) for r in dup_rows.head(max(0, SAMPLES_PER_REASON - len(bucket))))

        # Transform chunk k+1 in a worker thread while chunk k is written (Polars, DuckDB and
        # the database drivers release the GIL, so the two overlap on separate cores).
        with ThreadPoolExecutor(max_workers=1) as pool:
            pending: Future[ChunkResult] | None = None
            for raw in iter_chunks(source, profile, chunk_size):
                if ctx is None:
                    ctx = Context.build(profile, [c for c in raw.columns if c != ROW], now)
                report.rows_read += raw.height
                future = pool.submit(transform_chunk, raw, ctx)
                if pending is not None:
                    handle(pending.result())
                pending = future
                if progress:
                    progress(report.rows_read)
            if pending is not None:
                handle(pending.result())
        if report.rows_read == 0:
            raise InputError(
                f"{path.name}: the file has a header but no data rows",
                hint="check the export; nothing was loaded",
            )
        _fill(report, writer, rejections, samples, warnings)
        writer.close()
        finish(session, report, t0)
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
        source.close()
    return report


def tally_rejections(
    rows: pl.Series, reasons: pl.Series, rejections: Counter[str], samples: dict[str, list[int]]
) -> None:
    """Count rejected rows per reason and keep the first row numbers of each reason."""
    for row_no, row_reasons in zip(rows, reasons, strict=True):
        for reason in row_reasons:
            rejections[reason] += 1
            bucket = samples.setdefault(reason, [])
            if len(bucket) < SAMPLES_PER_REASON:
                bucket.append(int(row_no))


def finish(
    session: BulkSession, report: IngestReport, t0: float, detail: str | None = None
) -> None:
    """Check the report's accounting, record it on the batch and commit the transaction."""
    assert report.batch_id is not None
    report.seconds = round(time.perf_counter() - t0, 3)
    report.check()
    session.finish_batch(
        report.batch_id,
        rows_read=report.rows_read,
        rows_loaded=report.rows_loaded,
        rows_rejected=report.rows_rejected,
        rows_duplicate=report.rows_duplicate,
        rows_unmapped_category=report.rows_unmapped_category,
        report_json=detail or report.model_dump_json(),
    )
    session.commit()


def _fill(
    report: IngestReport,
    writer: _BatchWriter,
    rejections: Counter[str],
    samples: dict[str, list[int]],
    warnings: Counter[str],
) -> None:
    report.batch_id = writer.batch_id
    report.rows_loaded = writer.loaded
    report.rows_duplicate_in_file = writer.dup_file
    report.rows_duplicate_in_store = writer.dup_store
    report.rows_duplicate = writer.dup_file + writer.dup_store
    report.rows_unmapped_category = writer.unmapped
    report.rejections = dict(rejections.most_common())
    report.rejection_samples = {k: v for k, v in samples.items() if v}
    report.warnings = {k: v for k, v in warnings.most_common() if v}
    report.unmapped_categories = dict(writer.unmapped_labels.most_common(50))
    if writer.occurred_min is not None:
        report.occurred_min = writer.occurred_min.isoformat()
        report.occurred_max = writer.occurred_max.isoformat() if writer.occurred_max else None


def load_canonical(
    chunks: Iterable[tuple[pl.DataFrame, pl.DataFrame]],
    engine: Engine,
    *,
    source: str,
    label: str,
    synthetic: bool = False,
    progress: Progress | None = None,
) -> IngestReport:
    """Load already-canonical frames (e.g. the demo generator's) as one batch.

    Each chunk is ``(incidents, victims)``: incidents in :data:`schema.INCIDENT` columns
    (``incident_id`` may be null: it is derived from source and record id), victims keyed by
    ``source_record_id`` with the other :data:`schema.VICTIM` columns.
    """
    t0 = time.perf_counter()
    report = IngestReport(batch_id=None, source=source, profile=label, file=label, file_sha256="")
    session = open_session(engine)
    try:
        batch_id = session.begin_batch(
            kind="incidents", source=source, profile=label, synthetic=synthetic
        )
        writer = _BatchWriter(session, batch_id)
        for incidents, victims in chunks:
            ids = incident_ids(incidents["source"], incidents["source_record_id"])
            inc = incidents.with_columns(incident_id=ids)
            vic = victims
            if "source_record_id" in victims.columns:
                key = inc.select("source_record_id", "incident_id")
                vic = victims.join(key, on="source_record_id", how="inner").drop("source_record_id")
            report.rows_read += inc.height
            writer.write(inc, vic)
            if progress:
                progress(report.rows_read)
        _fill(report, writer, Counter(), {}, Counter())
        writer.close()
        finish(session, report, t0, json.dumps({"synthetic": synthetic, "label": label}))
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
    return report
