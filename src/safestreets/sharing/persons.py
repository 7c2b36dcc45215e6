"""The canonical person file: reading it (with the rows set aside and why) and writing results.

A canonical person file has the columns of :data:`safestreets.schema.PERSON_COLUMNS`
(``record_id`` required, every other column optional and possibly empty) in any format and
encoding the ingest readers understand (CSV in UTF-8 or CP1252 with its delimiter sniffed,
gzip/bzip2, XLSX, JSON, NDJSON, Parquet). See docs/sharing.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from safestreets.errors import InputError
from safestreets.ingest.readers import ROW, header_renames, read_whole
from safestreets.schema import PERSON_COLUMNS

#: Columns of a pairs file written by ``safestreets persons link``.
LINK_PAIR_COLUMNS = ("left_id", "right_id", "match_probability", "match_weight", "agreeing")
#: Columns of a pairs file written by ``safestreets persons dedupe --pairs``.
DEDUPE_PAIR_COLUMNS = ("id_1", "id_2", "match_probability", "match_weight", "agreeing")
#: Columns of a clusters file.
CLUSTER_COLUMNS = ("record_id", "cluster_id", "cluster_size")


@dataclass(frozen=True)
class Problem:
    """A row of a person file that was set aside, and why.

    Attributes:
        row: The row as a person finds it in the file (CSV/XLSX: the header is row 1).
        record_id: The row's record id, or None when it has none.
        reason: Why the row was set aside.
    """

    row: int
    record_id: str | None
    reason: str


def _clean(frame: pl.DataFrame, columns: Sequence[str]) -> pl.DataFrame:
    """Every column as stripped text, with empty values as null; missing columns added."""
    exprs = []
    for name in columns:
        if name in frame.columns:
            text = pl.col(name).cast(pl.String).str.strip_chars()
            exprs.append(pl.when(text == "").then(None).otherwise(text).alias(name))
        else:
            exprs.append(pl.lit(None, dtype=pl.String).alias(name))
    return frame.select(pl.col(ROW), *exprs)


def check_columns(columns: Sequence[str], *, extra: Sequence[str] = (), what: str) -> None:
    """Raise InputError unless ``columns`` are canonical person columns (plus ``extra``).

    Args:
        columns: The file's column names (already stripped).
        extra: Further columns the caller accepts (for example ``postcode``).
        what: The file name, for the message.
    """
    allowed = (*PERSON_COLUMNS, *extra)
    unknown = [c for c in columns if c not in allowed]
    if unknown:
        raise InputError(
            f"{what}: unknown column(s) {', '.join(unknown)}",
            hint=f"a person file has the columns {','.join(allowed)} (any but record_id may "
            "be left out)",
        )
    if "record_id" not in columns:
        raise InputError(
            f"{what}: no record_id column",
            hint="every person record needs a record_id, unique in the file",
        )


def read_persons(path: Path, *, extra: Sequence[str] = ()) -> tuple[pl.DataFrame, list[Problem]]:
    """Read a canonical person file.

    Column names are matched after stripping spaces and lower-casing. Values are stripped;
    empty values become null. Rows without a ``record_id``, and second and later rows that
    repeat one, are set aside (never dropped silently).

    Args:
        path: The file.
        extra: Non-canonical columns to accept and keep (for example ``postcode`` for an
            extra comparison); any other unknown column is an error.

    Returns:
        The records (the canonical columns in :data:`PERSON_COLUMNS` order, then ``extra``,
        all Utf8) and the rows set aside, in file order.

    Raises:
        InputError: The file is missing or unreadable, has no ``record_id`` column, or has
            columns that are not person columns (the message names them and lists the
            allowed ones).
    """
    raw = read_whole(path, name="persons")
    if raw.width <= 1:  # the readers return no columns for a file with a header only
        raise InputError(f"{path.name}: holds no person records", hint="check the export")
    renames = header_renames(raw.columns, what=path.name, lower=True)
    check_columns(list(renames.values()), extra=extra, what=path.name)
    frame = _clean(raw.rename(renames), (*PERSON_COLUMNS, *extra))
    return split_problems(frame)


def split_problems(frame: pl.DataFrame) -> tuple[pl.DataFrame, list[Problem]]:
    """Set aside rows without a record id and repeats of an earlier record id.

    Args:
        frame: Person records with a ``ROW`` column (the file row), ``record_id`` null when
            empty.

    Returns:
        The usable records without ``ROW``, and a Problem per row set aside (in file order).
    """
    missing = frame["record_id"].is_null()
    first_row = frame.filter(~missing).group_by("record_id").agg(pl.col(ROW).min().alias("_first"))
    marked = frame.join(first_row, on="record_id", how="left")
    repeat = marked["_first"].is_not_null() & (marked[ROW] != marked["_first"])
    bad = marked.filter(missing | repeat).sort(ROW)
    problems = [
        Problem(
            row=int(r[ROW]),
            record_id=r["record_id"],
            reason="no record_id"
            if r["record_id"] is None
            else f"record_id already on row {r['_first']}",
        )
        for r in bad.select(ROW, "record_id", "_first").iter_rows(named=True)
    ]
    good = marked.filter(~(missing | repeat)).sort(ROW).drop(ROW, "_first")
    return good, problems


def write_pairs(pairs: pl.DataFrame, path: Path) -> None:
    """Write a pairs frame (link or dedupe) as UTF-8 CSV with a header.

    Args:
        pairs: The output of ``linkage.link`` or the pairs of ``linkage.dedupe``.
        path: The CSV to write (parent folders are created).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    pairs.write_csv(path, float_precision=6)


def write_clusters(clusters: pl.DataFrame, path: Path) -> None:
    """Write a clusters frame (``record_id, cluster_id, cluster_size``) as UTF-8 CSV.

    Args:
        clusters: The clusters of ``linkage.dedupe``.
        path: The CSV to write (parent folders are created).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    clusters.select(CLUSTER_COLUMNS).write_csv(path)


def problems_frame(problems: Sequence[Problem]) -> pl.DataFrame:
    """The rows set aside as a frame (``row, record_id, reason``), for reports."""
    return pl.DataFrame(
        {
            "row": [p.row for p in problems],
            "record_id": [p.record_id for p in problems],
            "reason": [p.reason for p in problems],
        },
        schema={"row": pl.Int64, "record_id": pl.String, "reason": pl.String},
    )


__all__ = [
    "CLUSTER_COLUMNS",
    "DEDUPE_PAIR_COLUMNS",
    "LINK_PAIR_COLUMNS",
    "Problem",
    "check_columns",
    "problems_frame",
    "read_persons",
    "split_problems",
    "write_clusters",
    "write_pairs",
]
