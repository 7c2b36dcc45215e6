"""Writing indicator tables: CSV (UTF-8 with BOM), XLSX, JSON, Parquet."""

from __future__ import annotations

import contextlib
import io
import json
import math
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from safestreets.errors import InputError

FORMATS = ("table", "csv", "json", "xlsx", "parquet")
_BOM = "\ufeff"


def plain(v: Any) -> Any:
    """A value as JSON can hold it (dates as ISO text, NaN and infinities as null, NumPy
    scalars as Python numbers)."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, (date, datetime)):
        return v.isoformat()
    if isinstance(v, float) and not math.isfinite(v):  # JSON has no NaN or Infinity
        return None
    return v


def records(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """The rows of a frame as JSON-ready dicts (see :func:`plain`)."""
    return [{k: plain(v) for k, v in r.items()} for r in frame.iter_rows(named=True)]


def format_for(path: Path | None, given: str | None) -> str:
    """The output format: as given, else from the file suffix, else a table on screen."""
    if given:
        if given not in FORMATS:
            raise InputError(f"unknown format {given!r}", hint="use " + ", ".join(FORMATS))
        return given
    if path is None:
        return "table"
    suffix = path.suffix.lower().lstrip(".")
    if suffix in ("csv", "json", "xlsx", "parquet"):
        return suffix
    raise InputError(
        f"cannot tell the format of {path.name}",
        hint="give --format csv|json|xlsx|parquet or a file ending in one of them",
    )


def to_bytes(frame: pl.DataFrame, fmt: str, meta: Mapping[str, Any]) -> bytes:
    """Serialise a table and its metadata (title, notes, disclosure) in ``fmt``."""
    if fmt == "csv":
        buf = io.StringIO()
        frame.write_csv(buf)
        # The BOM makes Excel read UTF-8, so accents survive a double click.
        return (_BOM + buf.getvalue()).encode("utf-8")
    if fmt == "json":
        rows = records(frame)
        doc = {**{k: plain(v) for k, v in meta.items()}, "rows": rows}
        return json.dumps(doc, ensure_ascii=False, indent=1).encode("utf-8")
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = frame.to_arrow()
        extra = {b"safestreets": json.dumps(meta, ensure_ascii=False, default=str).encode()}
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), **extra})
        out = pa.BufferOutputStream()
        pq.write_table(table, out)
        return bytes(out.getvalue().to_pybytes())
    if fmt == "xlsx":
        return _xlsx(frame, meta)
    raise InputError(f"cannot write {fmt} as a file", hint="use csv, json, xlsx or parquet")


def _xlsx(frame: pl.DataFrame, meta: Mapping[str, Any]) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "data"
    ws.append(frame.columns)
    for row in frame.iter_rows():
        ws.append([plain(v) if isinstance(v, float) else v for v in row])
    ws.freeze_panes = "A2"
    info = wb.create_sheet("about")
    for key, value in meta.items():
        if isinstance(value, list):
            for i, item in enumerate(value):
                info.append([key if i == 0 else "", str(item)])
        else:
            info.append([key, "" if value is None else str(value)])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def write(frame: pl.DataFrame, fmt: str, path: Path, meta: Mapping[str, Any]) -> None:
    """Write a table to ``path`` in ``fmt`` (the file is replaced whole, never half-written)."""
    data = to_bytes(frame, fmt, meta)
    tmp = path.with_name(path.name + ".part")
    try:
        tmp.write_bytes(data)
        tmp.replace(path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)  # never leave a half-written file behind
        why = exc.strerror or str(exc)
        raise InputError(f"cannot write {path}: {why}", hint="check the folder") from None
