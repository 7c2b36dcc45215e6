"""Readers: any supported file becomes a stream of all-string Polars chunks.

A ``.gz`` or ``.bz2`` suffix is looked through (bzip2 text is decompressed to a temporary file).

Every chunk carries ``__row``, the record's position in the file as a person would find it:
for CSV and XLSX the spreadsheet row (the header is row 1, the first record row 2); for JSON,
NDJSON and Parquet the record number counting from 1.
"""

from __future__ import annotations

import bz2
import codecs
import contextlib
import csv
import gzip
import json
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import polars as pl

from safestreets.errors import InputError
from safestreets.ingest.profiles import Profile

ROW = "__row"
SAMPLE_BYTES = 1 << 20
_DELIMITERS = ",;\t|"
_GLOB_CHARS = set("*?[]")
_GZIP = (".gz", ".gzip")


def _opener(path: Path) -> Callable[..., Any]:
    """``open``, or the decompressing ``open`` of a ``.gz``/``.bz2`` file."""
    suffix = path.suffix.lower()
    return gzip.open if suffix in _GZIP else bz2.open if suffix == ".bz2" else open


@dataclass
class Source:
    """An opened input: its format, columns and a chunk iterator factory."""

    path: Path
    format: str
    columns: list[str]
    encoding: str = "utf-8"
    delimiter: str | None = None
    notes: list[str] = field(default_factory=list)
    _tmp: Path | None = None

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.unlink(missing_ok=True)


def detect_format(path: Path, declared: str | None = None) -> str:
    """The file format from the profile, else from the extension (``.gz``/``.bz2`` seen through)."""
    if declared:
        return declared
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in (*_GZIP, ".bz2"):
        suffixes = suffixes[:-1]
    ext = suffixes[-1] if suffixes else ""
    formats = {
        ".csv": "csv",
        ".txt": "csv",
        ".tsv": "csv",
        ".xlsx": "xlsx",
        ".xlsm": "xlsx",
        ".json": "json",
        ".geojson": "json",
        ".ndjson": "ndjson",
        ".jsonl": "ndjson",
        ".parquet": "parquet",
        ".pq": "parquet",
    }
    if ext == ".xls":
        raise InputError(
            f"{path.name}: the old Excel .xls format is not supported",
            hint="save the sheet as .xlsx or CSV (UTF-8) and ingest that",
        )
    if ext not in formats:
        raise InputError(
            f"{path.name}: cannot tell the file format from the extension {ext or '(none)'}",
            hint="use .csv, .xlsx, .json, .ndjson or .parquet, or set `format` in the profile",
        )
    return formats[ext]


def _head_bytes(path: Path, n: int = SAMPLE_BYTES) -> bytes:
    try:
        with _opener(path)(path, "rb") as fh:
            return fh.read(n)
    except (OSError, EOFError) as exc:
        raise InputError(
            f"{path.name}: cannot read the file ({exc})",
            hint="the file may be truncated or not really compressed; check the download",
        ) from None


def _looks_binary(sample: bytes) -> bool:
    if not sample:
        return False
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return False
    controls = sum(1 for b in sample[:65536] if b < 9 or 13 < b < 32)
    return b"\x00" in sample[:65536] or controls > len(sample[:65536]) * 0.01


def detect_encoding(sample: bytes) -> str:
    """UTF-8 (BOM or not) when the sample decodes as UTF-8, UTF-16 with a BOM, else CP1252.

    CP1252 is a superset of Latin-1 for printable text and is what Spanish-language Windows
    spreadsheets export as "CSV".
    """
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        # A multi-byte character cut by the sample boundary is not an encoding problem.
        if exc.start >= len(sample) - 3 and exc.reason == "unexpected end of data":
            return "utf-8"
        return "cp1252"


def sniff_delimiter(text: str) -> str:
    """The delimiter of a CSV sample: comma, semicolon, tab or pipe."""
    lines = [ln for ln in text.splitlines()[:50] if ln.strip()]
    if not lines:
        return ","
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=_DELIMITERS).delimiter
    except csv.Error:
        counts = {d: lines[0].count(d) for d in _DELIMITERS}
        best = max(counts, key=lambda d: counts[d])
        return best if counts[best] else ","


def _transcode(path: Path, encoding: str) -> Path:
    """Stream a non-UTF-8 (or bzip2) text file into a temporary UTF-8 file (bounded memory)."""
    # delete=False: the file outlives this function (Source.close removes it).
    tmp = tempfile.NamedTemporaryFile(prefix="safestreets-", suffix=".csv", delete=False)  # noqa: SIM115
    try:
        with _opener(path)(path, "rb") as raw, tmp:
            reader = codecs.getreader(encoding)(raw, "replace")
            while chunk := reader.read(SAMPLE_BYTES):
                tmp.write(chunk.encode("utf-8"))
    except (OSError, EOFError) as exc:
        Path(tmp.name).unlink(missing_ok=True)
        raise InputError(
            f"{path.name}: the file is truncated or corrupt ({exc})",
            hint="download or export the file again",
        ) from None
    return Path(tmp.name)


def open_source(path: Path, profile: Profile) -> Source:
    """Open and sniff a file: format, encoding, delimiter and header. Raises InputError."""
    if not path.exists():
        raise InputError(f"{path}: no such file", hint="check the path")
    if path.is_dir():
        raise InputError(f"{path}: is a directory, not a file", hint="give a file")
    if path.stat().st_size == 0:
        raise InputError(f"{path.name}: the file is empty", hint="check the export")
    fmt = detect_format(path, profile.format)
    if fmt == "csv":
        return _open_csv(path, profile)
    if fmt == "xlsx":
        return _open_xlsx(path, profile)
    if fmt in ("json", "ndjson"):
        return _open_json(path, fmt)
    return _open_parquet(path)


def _open_csv(path: Path, profile: Profile) -> Source:
    sample = _head_bytes(path)
    if _looks_binary(sample):
        raise InputError(
            f"{path.name}: does not look like a text (CSV) file",
            hint="export the data as CSV, or give the right file",
        )
    encoding = profile.csv.encoding or detect_encoding(sample)
    try:
        text = sample.decode(encoding, errors="replace")
    except LookupError:
        raise InputError(
            f"unknown encoding {encoding!r} in the profile", hint="use utf-8 or cp1252"
        ) from None
    text = text.lstrip("\ufeff")
    lines = text.splitlines()[profile.csv.skip_rows :]
    if not any(ln.strip() for ln in lines):
        raise InputError(f"{path.name}: the file holds no text lines", hint="check the export")
    delimiter = profile.csv.delimiter or sniff_delimiter("\n".join(lines))
    source = Source(path=path, format="csv", columns=[], encoding=encoding, delimiter=delimiter)
    if encoding.replace("-sig", "").replace("_", "-").lower() not in ("utf-8", "utf8"):
        source._tmp = _transcode(path, encoding)
        source.notes.append(f"read as {encoding} and converted to UTF-8")
    elif path.suffix.lower() == ".bz2":  # the CSV scanner reads gzip but not bzip2
        source._tmp = _transcode(path, encoding)
    header = next(csv.reader([lines[0]], delimiter=delimiter, quotechar=profile.csv.quote))
    header = [h.strip() for h in header]
    if len(set(header)) != len(header):
        dupes = sorted({h for h in header if header.count(h) > 1})
        raise InputError(
            f"{path.name}: the header repeats column name(s) {', '.join(dupes)}",
            hint="give every column a distinct name",
        )
    source.columns = header
    _check_last_row(source, profile)
    return source


def _check_last_row(source: Source, profile: Profile) -> None:
    """Raise InputError when the file stops in the middle of a row.

    A download or copy cut short stops mid-line: the file does not end with a line break and
    its last line has fewer fields than the header. The CSV parser would fill the missing
    fields with nulls and the cut record would load as if it were complete ("Ro" for "Robo",
    no coordinates). Only the tail of the file is read.
    """
    path = source._tmp or source.path
    if path.suffix.lower() in (".gz", ".gzip"):
        return  # a cut gzip stream fails to decompress instead
    with path.open("rb") as fh:
        size = fh.seek(0, 2)
        fh.seek(max(0, size - SAMPLE_BYTES))
        tail = fh.read()
    if not tail or tail.endswith((b"\n", b"\r")):
        return
    cut = max(tail.rfind(b"\n"), tail.rfind(b"\r"))
    if cut < 0:
        return  # one line (the header), or a last line longer than the tail: cannot tell
    last = tail[cut + 1 :].decode("utf-8", errors="replace")
    quote = profile.csv.quote
    if quote and last.count(quote) % 2:
        return  # the line continues a quoted field; the parser judges that
    fields = next(csv.reader([last], delimiter=source.delimiter or ",", quotechar=quote or None))
    if 0 < len(fields) < len(source.columns):
        raise InputError(
            f"{source.path.name}: the file ends in the middle of a row (the last line has "
            f"{len(fields)} of {len(source.columns)} fields and no line break)",
            hint="the file looks truncated; download or export it again",
        )


def _open_xlsx(path: Path, profile: Profile) -> Source:
    if not zipfile.is_zipfile(path):
        raise InputError(
            f"{path.name}: is not a readable XLSX workbook (not a valid zip archive)",
            hint="open it in a spreadsheet program and save it again as .xlsx, or export CSV",
        )
    rows = _xlsx_rows(path, profile.sheet)
    header = next(rows, None)
    if header is None:
        raise InputError(f"{path.name}: the sheet is empty", hint="check the sheet name")
    return Source(path=path, format="xlsx", columns=[str(h or "").strip() for h in header])


def _xlsx_rows(path: Path, sheet: str | None) -> Iterator[tuple[object, ...]]:
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for broken files
        raise InputError(
            f"{path.name}: cannot open the workbook ({type(exc).__name__})",
            hint="open it in a spreadsheet program and save it again as .xlsx, or export CSV",
        ) from None
    try:
        ws = wb[sheet] if sheet else wb.worksheets[0]
    except KeyError:
        raise InputError(
            f"{path.name}: no sheet named {sheet!r}", hint=f"sheets: {', '.join(wb.sheetnames)}"
        ) from None
    yield from ws.iter_rows(values_only=True)
    wb.close()


def _cell_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        # Excel keeps a date cell as a date-time at midnight: write it as a date, so it has
        # day precision and a separate time column still applies to it.
        if value.time() == time(0, 0) and value.tzinfo is None:
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, date | time):  # a time cell has no isoformat(sep=...)
        return value.isoformat()
    return str(value)


def _open_json(path: Path, fmt: str) -> Source:
    sample = _head_bytes(path, 65536)
    if _looks_binary(sample):
        raise InputError(f"{path.name}: does not look like a JSON text file", hint="check the file")
    return Source(path=path, format=fmt, columns=[])


def _open_parquet(path: Path) -> Source:
    try:
        schema = pl.scan_parquet(path, glob=False).collect_schema()
    except Exception as exc:
        raise InputError(
            f"{path.name}: is not a readable Parquet file ({type(exc).__name__})",
            hint="check the file; it may be truncated",
        ) from None
    return Source(path=path, format="parquet", columns=list(schema))


def iter_chunks(
    source: Source, profile: Profile, chunk_size: int = 250_000
) -> Iterator[pl.DataFrame]:
    """Yield all-string chunks with a ``__row`` column. Raises InputError on unreadable data."""
    if source.format == "csv":
        yield from _csv_chunks(source, profile, chunk_size)
    elif source.format == "xlsx":
        yield from _xlsx_chunks(source, profile, chunk_size)
    elif source.format in ("json", "ndjson"):
        yield from _json_chunks(source, chunk_size)
    else:
        yield from _parquet_chunks(source, chunk_size)


def _csv_chunks(source: Source, profile: Profile, chunk_size: int) -> Iterator[pl.DataFrame]:
    path = source._tmp or source.path
    lf = pl.scan_csv(
        path,
        separator=source.delimiter or ",",
        quote_char=profile.csv.quote or None,
        infer_schema=False,
        skip_rows=profile.csv.skip_rows,
        encoding="utf8-lossy",
        raise_if_empty=False,
        glob=False,  # a file is a file: "incidentes[2023].csv" is not a pattern
    ).with_row_index(ROW, offset=2 + profile.csv.skip_rows)
    try:
        for batch in lf.collect_batches(chunk_size=chunk_size):
            yield _strip_header_names(batch)
    except pl.exceptions.PolarsError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(
            f"{source.path.name}: the CSV cannot be parsed: {first[:200]}",
            hint="the file may be truncated, have an unclosed quote, or a ragged row",
        ) from None
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise InputError(
            f"{source.path.name}: the file is truncated or corrupt ({exc})",
            hint="download or export the file again",
        ) from None


def _strip_header_names(frame: pl.DataFrame) -> pl.DataFrame:
    renames = {
        c: c.strip().lstrip("\ufeff") for c in frame.columns if c != c.strip().lstrip("\ufeff")
    }
    out = frame.rename(renames) if renames else frame
    return out.with_columns(pl.col(ROW).cast(pl.Int64))


def _xlsx_chunks(source: Source, profile: Profile, chunk_size: int) -> Iterator[pl.DataFrame]:
    rows = _xlsx_rows(source.path, profile.sheet)
    next(rows, None)
    width = len(source.columns)
    names = [c or f"column_{i + 1}" for i, c in enumerate(source.columns)]
    buf: list[list[str | None]] = []
    row_no = 2
    start = row_no
    for row in rows:
        cells = [_cell_text(v) for v in row[:width]]
        cells += [None] * (width - len(cells))
        buf.append(cells)
        row_no += 1
        if len(buf) >= chunk_size:
            yield _rows_frame(buf, names, start)
            buf, start = [], row_no
    if buf:
        yield _rows_frame(buf, names, start)


def _rows_frame(rows: list[list[str | None]], names: list[str], start: int) -> pl.DataFrame:
    frame = pl.DataFrame(rows, schema=dict.fromkeys(names, pl.String), orient="row")
    # Fully blank spreadsheet rows are formatting, not records.
    frame = frame.with_columns(pl.int_range(start, start + len(rows), dtype=pl.Int64).alias(ROW))
    return frame.filter(~pl.all_horizontal(pl.exclude(ROW).is_null()))


def _to_strings(frame: pl.DataFrame) -> pl.DataFrame:
    exprs = []
    for name, dtype in frame.schema.items():
        if dtype == pl.String:
            exprs.append(pl.col(name))
        elif dtype.is_nested():
            exprs.append(pl.col(name).map_elements(json.dumps, return_dtype=pl.String))
        else:
            exprs.append(pl.col(name).cast(pl.String))
    return frame.select(exprs)


def _json_chunks(source: Source, chunk_size: int) -> Iterator[pl.DataFrame]:
    path = source.path
    try:
        if source.format == "ndjson":
            # scan_ndjson has no glob=False: a name with glob characters is passed as an
            # open file (read whole) rather than as a pattern that matches nothing.
            with contextlib.ExitStack() as stack:
                src = stack.enter_context(path.open("rb")) if _GLOB_CHARS & set(path.name) else path
                lf = pl.scan_ndjson(src, infer_schema_length=None)
                offset = 1
                for batch in lf.collect_batches(chunk_size=chunk_size):
                    out = _to_strings(batch)
                    yield out.with_columns(
                        pl.int_range(offset, offset + len(out), dtype=pl.Int64).alias(ROW)
                    )
                    offset += len(out)
            return
        with _opener(path)(path, "rt", encoding="utf-8-sig") as fh:
            data = json.load(fh)
    except (json.JSONDecodeError, UnicodeDecodeError, pl.exceptions.PolarsError) as exc:
        raise InputError(
            f"{path.name}: is not valid JSON ({str(exc).splitlines()[0][:160]})",
            hint="check that the file is complete; NDJSON files should end in .ndjson or .jsonl",
        ) from None
    records = _json_records(data, path)
    for start in range(0, len(records), chunk_size):
        part = records[start : start + chunk_size]
        frame = _to_strings(pl.DataFrame(part, infer_schema_length=None))
        yield frame.with_columns(
            pl.int_range(start + 1, start + 1 + len(part), dtype=pl.Int64).alias(ROW)
        )


def _json_records(data: object, path: Path) -> list[dict[str, object]]:
    if isinstance(data, dict):
        if data.get("type") == "FeatureCollection" and isinstance(data.get("features"), list):
            out = []
            for feat in data["features"]:
                props = dict(feat.get("properties") or {})
                geom = feat.get("geometry") or {}
                if geom.get("type") == "Point":
                    props["geometry_lon"], props["geometry_lat"] = geom["coordinates"][:2]
                out.append(props)
            return out
        for key in ("records", "data", "items", "results", "rows"):
            if isinstance(data.get(key), list):
                data = data[key]
                break
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise InputError(
            f"{path.name}: JSON must be a list of objects (or an object holding one)",
            hint='e.g. [{"fecha": ..., "delito": ...}, ...]',
        )
    return data


def _parquet_chunks(source: Source, chunk_size: int) -> Iterator[pl.DataFrame]:
    offset = 1
    try:
        lf = pl.scan_parquet(source.path, glob=False)
        for batch in lf.collect_batches(chunk_size=chunk_size):
            out = _to_strings(batch)
            yield out.with_columns(
                pl.int_range(offset, offset + len(out), dtype=pl.Int64).alias(ROW)
            )
            offset += len(out)
    except pl.exceptions.PolarsError as exc:
        raise InputError(
            f"{source.path.name}: cannot read the Parquet data ({str(exc).splitlines()[0][:160]})",
            hint="the file may be truncated",
        ) from None


def describe(source: Source) -> str:
    """One line describing how the file was read, for the report."""
    bits = [source.format]
    if source.format == "csv":
        bits.append(f"encoding {source.encoding}")
        bits.append(f"delimiter {source.delimiter!r}")
    return ", ".join(bits)


__all__ = ["ROW", "Source", "describe", "detect_encoding", "iter_chunks", "open_source"]


def read_whole(path: Path, *, name: str = "table") -> pl.DataFrame:
    """Read a small file whole: every column as text, plus ``ROW`` (the file row number).

    For counts, populations and victim lists: the same formats, encodings, delimiters and
    compression as incident files (the format is detected, not declared).

    Raises:
        InputError: The file cannot be read (missing, empty, unknown format, broken).
    """
    from safestreets.ingest.profiles import Profile

    # The readers take their options from a profile; this one only says "detect everything".
    profile = Profile.model_validate(
        {
            "name": name,
            "source": name,
            "country": "GT",
            "columns": {"occurred_at": "x", "local_category": "x"},
        }
    )
    source = open_source(path, profile)
    try:
        frames = list(iter_chunks(source, profile))
    finally:
        source.close()
    return pl.concat(frames, how="diagonal") if frames else pl.DataFrame({ROW: []})


def header_renames(columns: list[str], *, what: str, lower: bool = False) -> dict[str, str]:
    """Column names as written -> trimmed (BOM and spaces removed; lower case with ``lower``).

    Raises:
        InputError: Two columns end up with the same name (``what`` names the file).
    """
    renames = {c: c.strip().lstrip("\ufeff") for c in columns if c != ROW}
    if lower:
        renames = {c: n.lower() for c, n in renames.items()}
    names = list(renames.values())
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise InputError(
            f"{what}: the header repeats column name(s) {', '.join(dupes)}",
            hint="give every column a distinct name",
        )
    return renames
