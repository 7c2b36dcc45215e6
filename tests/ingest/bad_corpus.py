"""A corpus of bad (and awkward but valid) input files for `safestreets ingest`, generated.

Nothing here is committed as data: every file is written into a temporary folder at test
time (the 10 MB field, the random bytes, the PNG and the workbooks included). Each
:class:`Case` says how to build its file, which profile to ingest it with and exactly what
must happen: either a user error (a substring of the one-line ``error:`` message, and of the
``hint:``) or a report (counts, rejection reasons per row number).

Row numbers are those of the report and the quarantine table: for CSV and XLSX the
spreadsheet row (header = 1, first record = 2); for JSON, NDJSON and Parquet the record
number counting from 1.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import random
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

#: A Guatemalan police export: day-first dates, a separate time column, one victim per row.
GT_PROFILE_YAML = """\
name: gt-pnc-test
title: Guatemala PNC test export
source: GT-PNC-TEST
owner_agency: GT-PNC
country: GT
timezone: America/Guatemala
columns:
  occurred_date: fecha
  occurred_time: hora
  local_category: delito
  lat: lat
  lon: lon
  admin1: departamento
  admin2: municipio
  victim_sex: sexo
  victim_age: edad
"""

HEADER = ["fecha", "hora", "delito", "lat", "lon", "departamento", "municipio", "sexo", "edad"]

#: A row that loads: Guatemala City, 5 January 2023 10:30 local time (16:30 UTC).
GOOD: dict[str, str] = {
    "fecha": "05/01/2023",
    "hora": "10:30",
    "delito": "Homicidio",
    "lat": "14.6349",
    "lon": "-90.5069",
    "departamento": "Guatemala",
    "municipio": "Guatemala",
    "sexo": "F",
    "edad": "30",
}
GOOD_UTC = "2023-01-05 16:30:00"

#: Points for the coordinate checks.
MEXICO_CITY = ("19.4326", "-99.1332")  # (lat, lon): valid, but not in Guatemala
PUERTO_BARRIOS = ("15.7278", "-88.5944")  # eastern Guatemala


def row(**over: str) -> dict[str, str]:
    """The good row with some fields replaced."""
    return {**GOOD, **over}


def rows(*variants: dict[str, str], distinct: bool = True) -> list[dict[str, str]]:
    """Rows made distinct by their age (the GT profile identifies records by content)."""
    if not distinct:
        return list(variants)
    return [{**r, "edad": r.get("edad") or str(20 + i)} for i, r in enumerate(variants)]


def numbered(n: int, **over: str) -> list[dict[str, str]]:
    """``n`` distinct good rows (different minutes and ages)."""
    return [
        row(hora=f"{8 + i // 60 % 12:02d}:{i % 60:02d}", edad=str(18 + i % 60), **over)
        for i in range(n)
    ]


def csv_text(
    records: list[dict[str, str]],
    *,
    delimiter: str = ",",
    header: list[str] | None = None,
    newline: str = "\n",
) -> str:
    cols = header or HEADER
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator=newline)
    w.writerow(cols)
    for r in records:
        w.writerow([r.get(c, "") for c in cols])
    return buf.getvalue()


def csv_bytes(records: list[dict[str, str]], **kw: object) -> bytes:
    return csv_text(records, **kw).encode("utf-8")  # type: ignore[arg-type]


# --- binary builders ----------------------------------------------------------------------


def random_bytes(n: int, seed: int = 20240501) -> bytes:
    return random.Random(seed).randbytes(n)


def png_bytes(width: int = 4, height: int = 4) -> bytes:
    """A small valid PNG (grey square)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + bytes([128] * width) for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def zip_not_workbook() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("readme.txt", "this is a zip archive, not a workbook\n")
        zf.writestr("data/incidents.csv", csv_text(numbered(2)))
    return buf.getvalue()


def xlsx_bytes() -> bytes:
    """A real workbook: the date as a date cell, the time as a time cell, numbers as numbers."""
    from datetime import date, time

    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(HEADER)
    ws.append(
        [
            date(2023, 1, 5),
            time(10, 30),
            "Homicidio",
            14.6349,
            -90.5069,
            "Guatemala",
            "Guatemala",
            "F",
            30,
        ]
    )
    ws.append([])  # a blank spreadsheet row is formatting, not a record
    ws.append(
        [
            date(2023, 1, 6),
            time(22, 5),
            "Extorsión",
            14.6349,
            -90.5069,
            "Guatemala",
            "Mixco",
            "M",
            41.0,
        ]
    )
    ws.append(
        ["31/02/2023", "10:00", "Robo", "14,6349", "-90,5069", "Guatemala", "Mixco", "M", "50"]
    )
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def parquet_bytes(records: list[dict[str, str]], columns: list[str] | None = None) -> bytes:
    import polars as pl

    cols = columns or HEADER
    frame = pl.DataFrame(
        {c: [r.get(c) for r in records] for c in cols}, schema=dict.fromkeys(cols, pl.String)
    )
    buf = io.BytesIO()
    frame.write_parquet(buf)
    return buf.getvalue()


def truncated_gzip(records: list[dict[str, str]]) -> bytes:
    data = gzip.compress(csv_bytes(records))
    return data[: len(data) // 2]


def big_field_csv(n_chars: int = 10 * 1024 * 1024) -> bytes:
    """Three rows; the second holds a 10 MB ``delito`` (an export that swallowed a file)."""
    big = "A" * n_chars
    return csv_bytes(rows(row(), row(delito=big), row(delito="Robo")))


# --- the cases ----------------------------------------------------------------------------

#: Special ``content`` values.
MISSING = "missing"  # the path does not exist
DIRECTORY = "directory"  # the path is a directory


@dataclass(frozen=True)
class Case:
    """One corpus file and what ingesting it must do.

    ``profile`` is ``"gt"`` (the GT profile above, written beside the file), a built-in
    profile name, or ``"yaml:<text>"`` for a profile file with that text.
    """

    id: str
    filename: str
    content: Callable[[], bytes] | str
    profile: str = "gt"
    #: Substrings of the one-line error message (the case must exit 2).
    error: tuple[str, ...] = ()
    #: Substrings of the hint line.
    hint: tuple[str, ...] = ()
    #: Exact values of report keys (the case must exit 0).
    report: dict[str, object] = field(default_factory=dict)
    #: Exact quarantine content: row_number -> "reason; reason".
    quarantine: dict[int, str] = field(default_factory=dict)

    @property
    def is_error(self) -> bool:
        return bool(self.error)

    def write(self, folder: Path) -> tuple[Path, str]:
        """Write the file (and its profile) into ``folder``; returns (path, profile arg)."""
        path = folder / self.filename
        if self.content == DIRECTORY:
            path.mkdir()
        elif self.content != MISSING:
            assert callable(self.content)
            path.write_bytes(self.content())
        if self.profile == "gt":
            prof = folder / "gt-pnc.yaml"
            prof.write_text(GT_PROFILE_YAML, encoding="utf-8")
            return path, str(prof)
        if self.profile.startswith("yaml:"):
            prof = folder / "custom-profile.yaml"
            prof.write_text(self.profile[len("yaml:") :], encoding="utf-8")
            return path, str(prof)
        return path, self.profile


def _rejected(n_read: int, n_rejected: int = 0) -> dict[str, object]:
    """Report counts of a file without duplicates."""
    return {
        "rows_read": n_read,
        "rows_loaded": n_read - n_rejected,
        "rows_rejected": n_rejected,
        "rows_duplicate": 0,
    }


def _reject_case(case_id: str, bad: dict[str, str], reason: str) -> Case:
    """A good row, then a bad row (spreadsheet row 3) rejected with ``reason``, then a good one."""
    records = rows(row(), bad, row(hora="11:00"))
    q = {3: reason}
    return Case(
        case_id,
        f"{case_id}.csv",
        lambda: csv_bytes(records),
        report={**_rejected(3, 1), "rejections": {reason: 1}, "rejection_samples": {reason: [3]}},
        quarantine=q,
    )


#: Every spelling of 5 January 2023 a day-first export may mix in one column.
MIXED_DATES = (
    "2023-01-05",
    "05/01/2023",
    "5/1/2023",
    "05-01-2023",
    "5/1/23",
    "05/01/23",
    "05.01.2023",
    "2023/01/05",
)
NO_TEXT = "the file holds no text lines"
NOT_TEXT = "does not look like a text (CSV) file"
LATIN1_ROWS = rows(
    row(delito="Extorsión", municipio="Mixco"),
    row(delito="Robo", departamento="Sololá", municipio="Panajachel"),
    row(delito="Daño", municipio="Villa Nueva", sexo="Niña", edad="11"),
)

CASES: list[Case] = [
    # --- files that cannot be read at all -----------------------------------------------
    Case(
        "truncated-gzip",
        "truncated.csv.gz",
        lambda: truncated_gzip(numbered(400)),
        error=("truncated.csv.gz: cannot read the file",),
        hint=("truncated",),
    ),
    Case(
        "unclosed-quote-at-eof",
        "unclosed-quote.csv",
        lambda: (csv_text(numbered(3)) + '07/01/2023,09:00,"Robo,14.6,-90.5,Guatemala\n').encode(),
        error=("unclosed-quote.csv: the CSV cannot be parsed",),
        hint=("unclosed quote",),
    ),
    Case(
        "missing-required-column",
        "no-delito.csv",
        lambda: csv_bytes(numbered(2), header=[c for c in HEADER if c != "delito"]),
        error=("required column(s) missing from the file: delito",),
        hint=("the file has: fecha, hora, lat, lon, departamento, municipio, sexo, edad",),
    ),
    Case(
        "header-only",
        "header-only.csv",
        lambda: csv_bytes([]),
        error=("header-only.csv: the file has a header but no data rows",),
        hint=("nothing was loaded",),
    ),
    Case("empty-file", "empty.csv", lambda: b"", error=("empty.csv: the file is empty",)),
    Case("blank-lines-only", "blank.csv", lambda: b"\n\r\n   \n\t\n\n", error=(NO_TEXT,)),
    Case("binary-garbage", "garbage.csv", lambda: random_bytes(8192), error=(NOT_TEXT,)),
    Case("png-renamed-csv", "photo.csv", png_bytes, error=(NOT_TEXT,)),
    Case(
        "xlsx-random-bytes",
        "broken.xlsx",
        lambda: random_bytes(4096, seed=7),
        error=("broken.xlsx: is not a readable XLSX workbook",),
        hint=("save it again as .xlsx",),
    ),
    Case(
        "xlsx-zip-not-workbook",
        "not-a-workbook.xlsx",
        zip_not_workbook,
        error=("not-a-workbook.xlsx: cannot open the workbook",),
        hint=("save it again as .xlsx",),
    ),
    Case(
        "xls-extension",
        "old.xls",
        lambda: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + random_bytes(1024),
        error=("old.xls: the old Excel .xls format is not supported",),
        hint=("save the sheet as .xlsx or CSV",),
    ),
    Case(
        "json-not-list-of-objects",
        "numbers.json",
        lambda: b"[1, 2, 3]",
        error=("numbers.json: JSON must be a list of objects",),
    ),
    Case(
        "json-invalid",
        "cut.json",
        lambda: json.dumps(numbered(3)).encode()[:-20],
        error=("cut.json: is not valid JSON",),
    ),
    Case(
        "ndjson-broken-line",
        "broken.ndjson",
        lambda: (
            "\n".join(json.dumps(r) for r in numbered(2))
            + '\n{"fecha": "07/01/2023", "hora": \n'
            + json.dumps(row(hora="12:00"))
            + "\n"
        ).encode(),
        error=("broken.ndjson: is not valid JSON",),
    ),
    Case(
        "parquet-zero-bytes",
        "empty.parquet",
        lambda: b"",
        error=("empty.parquet: the file is empty",),
    ),
    Case(
        "parquet-no-rows",
        "no-rows.parquet",
        lambda: parquet_bytes([]),
        error=("no-rows.parquet: the file has a header but no data rows",),
    ),
    Case(
        "parquet-wrong-columns",
        "wrong.parquet",
        lambda: parquet_bytes(numbered(2), columns=["date", "crime", "x", "y"]),
        error=("required column(s) missing from the file: ", "delito", "fecha", "lat"),
        hint=("the file has: date, crime, x, y",),
    ),
    Case(
        "parquet-random-bytes",
        "garbage.parquet",
        lambda: random_bytes(2048, seed=3),
        error=("garbage.parquet: is not a readable Parquet file",),
    ),
    Case("nonexistent-path", "nowhere.csv", MISSING, error=("nowhere.csv: no such file",)),
    Case("directory", "a-folder.csv", DIRECTORY, error=("a-folder.csv: is a directory",)),
    # --- profiles ------------------------------------------------------------------------
    Case(
        "unknown-profile",
        "ok.csv",
        lambda: csv_bytes(numbered(1)),
        profile="gt-police-does-not-exist",
        error=("unknown profile 'gt-police-does-not-exist'",),
        hint=("built-in profiles: cdmx-fgj, safestreets-csv",),
    ),
    Case(
        "profile-yaml-syntax-error",
        "ok.csv",
        lambda: csv_bytes(numbered(1)),
        profile="yaml:" + GT_PROFILE_YAML.replace("  lat: lat\n", '  lat: [lat, "\n'),
        error=("is not valid YAML",),
        hint=("check indentation and quoting",),
    ),
    Case(
        "profile-unknown-key",
        "ok.csv",
        lambda: csv_bytes(numbered(1)),
        profile="yaml:" + GT_PROFILE_YAML + "colour: blue\n",
        error=("is invalid: colour: Extra inputs are not permitted",),
    ),
    Case(
        "profile-unknown-field",
        "ok.csv",
        lambda: csv_bytes(numbered(1)),
        profile="yaml:" + GT_PROFILE_YAML + "  hair_colour: pelo\n",
        error=("unknown field(s) hair_colour",),
    ),
    # --- encodings and dialects that must load ------------------------------------------
    Case(
        "latin1-cp1252",
        "latin1.csv",
        lambda: csv_text(LATIN1_ROWS).encode("cp1252"),
        report={**_rejected(3), "rows_unmapped_category": 0},
    ),
    Case(
        "utf8-bom",
        "bom.csv",
        # The last row is rejected, so the raw row in quarantine shows the header names.
        lambda: codecs.BOM_UTF8 + csv_bytes(rows(row(), row(fecha="31/02/2023"))),
        report=_rejected(2, 1),
        quarantine={3: "invalid_date"},
    ),
    Case(
        "utf16-bom",
        "utf16.csv",
        lambda: csv_text(rows(row(delito="Extorsión"), row(fecha="99/99/2023"))).encode("utf-16"),
        report=_rejected(2, 1),
        quarantine={3: "invalid_date"},
    ),
    Case(
        "semicolon-decimal-comma",
        "semicolon.csv",
        lambda: csv_bytes(
            rows(row(lat="14,6349", lon="-90,5069"), row(lat="15,7278", lon="-88,5944")),
            delimiter=";",
        ),
        report=_rejected(2),
    ),
    Case(
        "tab-delimited",
        "tabs.tsv",
        lambda: csv_bytes(numbered(3), delimiter="\t"),
        report=_rejected(3),
    ),
    Case(
        "crlf-line-ends",
        "crlf.csv",
        lambda: csv_bytes(numbered(3), newline="\r\n"),
        report=_rejected(3),
    ),
    # --- rows rejected with a precise reason --------------------------------------------
    _reject_case("impossible-date-31-feb", row(fecha="31/02/2023"), "invalid_date"),
    _reject_case("impossible-date-2023-13-45", row(fecha="2023-13-45"), "invalid_date"),
    _reject_case("future-date", row(fecha="01/01/2099"), "future_date"),
    _reject_case("year-1850", row(fecha="05/01/1850"), "implausible_date"),
    _reject_case(
        "coordinates-swapped-west", row(lat="-90.5069", lon="14.6349"), "coordinates_swapped"
    ),
    _reject_case(
        "coordinates-swapped-east",
        row(lat=PUERTO_BARRIOS[1], lon=PUERTO_BARRIOS[0]),
        "coordinates_swapped",
    ),
    _reject_case("coordinates-zero", row(lat="0", lon="0"), "coordinates_zero"),
    _reject_case(
        "mexico-city-in-gt-file",
        row(lat=MEXICO_CITY[0], lon=MEXICO_CITY[1]),
        "outside_country",
    ),
    _reject_case("latitude-95", row(lat="95", lon="-90.5069"), "coordinates_out_of_range"),
    _reject_case("coordinates-abc", row(lat="abc", lon="-90.5069"), "invalid_coordinates"),
    _reject_case("missing-category", row(delito=""), "missing_local_category"),
    _reject_case("missing-date", row(fecha=""), "missing_occurred_at"),
    Case(
        "every-reason-of-a-row",
        "many-reasons.csv",
        lambda: csv_bytes(rows(row(), row(fecha="31/02/2023", delito="", lat="abc"))),
        report=_rejected(2, 1),
        quarantine={3: "invalid_date; invalid_coordinates; missing_local_category"},
    ),
    Case(
        "ten-megabyte-field",
        "big-field.csv",
        big_field_csv,
        # The emptied category is not also reported as missing_local_category.
        report={**_rejected(3, 1), "rejections": {"field_too_long:delito": 1}},
        quarantine={3: "field_too_long:delito"},
    ),
    Case(
        "overlong-date-and-municipio",
        "long-date.csv",
        lambda: csv_bytes(rows(row(), row(fecha="05/01/2023" * 500, municipio="x" * 5000))),
        report=_rejected(2, 1),
        quarantine={3: "field_too_long:fecha; field_too_long:municipio"},
    ),
    # --- truncated and ragged rows ------------------------------------------------------
    Case(
        "csv-truncated-mid-row",
        "cut-row.csv",
        lambda: (csv_text(numbered(3)) + "07/01/2023,09:00,Ro").encode(),
        error=(
            "cut-row.csv: the file ends in the middle of a row",
            "the last line has 3 of 9 fields and no line break",
        ),
        hint=("the file looks truncated",),
    ),
    Case(
        "csv-extra-fields",
        "ragged.csv",
        lambda: (csv_text(numbered(2)) + ",".join(row().values()) + ",extra,more\n").encode(),
        error=("ragged.csv: the CSV cannot be parsed: found more fields than defined",),
        hint=("ragged row",),
    ),
    Case(
        "gzip-large-truncated",
        "big-cut.csv.gz",
        # More than the 1 MB sniffing sample decompresses: the cut is met while loading.
        lambda: gzip.compress(csv_bytes(numbered(30_000)))[:60_000],
        error=("big-cut.csv.gz: the file is truncated or corrupt",),
        hint=("download or export the file again",),
    ),
    Case(
        "gzip-name-plain-content",
        "plain.csv.gz",
        lambda: csv_bytes(numbered(2)),
        error=("plain.csv.gz: cannot read the file (Not a gzipped file",),
    ),
    Case(
        "markup-in-header",
        "markup.csv",
        # Rich markup in user data must be printed, not interpreted (was a MarkupError).
        lambda: csv_bytes([{"fecha": "05/01/2023"}], header=["fecha", "hora", "[/]", "[bold]x"]),
        error=("required column(s) missing from the file: delito",),
        hint=("the file has: fecha, hora, [/], [bold]x",),
    ),
    # --- readable oddities ----------------------------------------------------------------
    Case(
        "glob-characters-in-name",
        "incidentes[2023]*.csv",
        lambda: csv_bytes(numbered(2)),
        report=_rejected(2),
    ),
    Case(
        "glob-characters-in-parquet-name",
        "incidentes[2023].parquet",
        lambda: parquet_bytes(numbered(2)),
        report=_rejected(2),
    ),
    Case(
        "glob-characters-in-ndjson-name",
        "incidentes[2023].ndjson",
        lambda: "".join(json.dumps(r) + "\n" for r in numbered(2)).encode(),
        report=_rejected(2),
    ),
    Case(
        "gzip-valid",
        "ok.csv.gz",
        lambda: gzip.compress(csv_bytes(numbered(3))),
        report=_rejected(3),
    ),
    Case(
        "json-with-numbers-and-nulls",
        "records.json",
        lambda: json.dumps(
            {
                "records": [
                    {**row(), "lat": 14.6349, "lon": -90.5069, "edad": 30},
                    {**row(hora="11:00"), "lat": None, "lon": None, "edad": None},
                    {**row(fecha="31/02/2023"), "lat": 14.6, "lon": -90.5, "edad": 1},
                ]
            }
        ).encode(),
        report=_rejected(3, 1),
        quarantine={3: "invalid_date"},
    ),
    Case(
        "xlsx-date-and-number-cells",
        "cells.xlsx",
        xlsx_bytes,
        # The blank sheet row 3 is skipped but counts: the text date in sheet row 5 fails.
        report=_rejected(3, 1),
        quarantine={5: "invalid_date"},
    ),
    Case(
        "mixed-date-formats",
        "mixed-dates.csv",
        lambda: csv_bytes(rows(*(row(fecha=f) for f in MIXED_DATES))),
        report=_rejected(len(MIXED_DATES)),
    ),
    # --- duplicates and categories ------------------------------------------------------
    Case(
        "duplicates-in-file",
        "dups.csv",
        lambda: csv_bytes([row(), row(), row(hora="11:00"), row()]),
        report={
            "rows_read": 4,
            "rows_loaded": 2,
            "rows_rejected": 0,
            "rows_duplicate": 2,
            "rows_duplicate_in_file": 2,
            "rows_duplicate_in_store": 0,
        },
    ),
    Case(
        "unknown-category",
        "unknown-cat.csv",
        lambda: csv_bytes(rows(row(), row(delito="Brujería"), row(delito="Brujería", hora="9:00"))),
        report={
            **_rejected(3),
            "rows_unmapped_category": 2,
            "unmapped_categories": {"Brujería": 2},
        },
    ),
]


def case_ids() -> list[str]:
    return [c.id for c in CASES]


def by_id(case_id: str) -> Case:
    return next(c for c in CASES if c.id == case_id)


# --- a large file for the kill test -------------------------------------------------------


def write_large_csv(path: Path, n: int, *, seed: int = 1) -> dict[str, int]:
    """``n`` rows of GT data with a few bad and duplicate rows; returns the expected counts."""
    import polars as pl

    rng = random.Random(seed)
    lat = [f"{14.55 + rng.random() * 0.15:.5f}" for _ in range(n)]
    lon = [f"{-90.60 + rng.random() * 0.15:.5f}" for _ in range(n)]
    cats = ["Homicidio", "Robo", "Hurto", "Extorsión", "Lesiones"]
    frame = pl.DataFrame(
        {
            "fecha": [f"{1 + i % 28:02d}/{1 + i // 28 % 12:02d}/{2019 + i % 5}" for i in range(n)],
            "hora": [f"{i % 24:02d}:{i % 60:02d}" for i in range(n)],
            "delito": [cats[i % len(cats)] for i in range(n)],
            "lat": lat,
            "lon": lon,
            "departamento": ["Guatemala"] * n,
            "municipio": ["Guatemala"] * n,
            "sexo": ["F" if i % 2 else "M" for i in range(n)],
            "edad": [str(i) for i in range(n)],  # makes every row distinct
        }
    )
    bad = min(50, n // 10)
    frame = frame.with_columns(
        pl.when(pl.int_range(pl.len()) < bad)
        .then(pl.lit("31/02/2023"))
        .otherwise(pl.col("fecha"))
        .alias("fecha")
    )
    dups = frame.slice(bad, bad)
    pl.concat([frame, dups]).write_csv(path)
    return {"rows_read": n + bad, "rows_rejected": bad, "rows_duplicate": bad}
