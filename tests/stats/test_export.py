"""Writing indicator tables: CSV with a BOM, JSON, XLSX, Parquet; format choice; atomic writes."""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq
import pytest
from openpyxl import load_workbook

from safestreets.errors import InputError
from safestreets.stats import export

BOM = b"\xef\xbb\xbf"


def table() -> pl.DataFrame:
    """A small indicator table with accents, dates, a NaN, an infinity and a null."""
    return pl.DataFrame(
        {
            "indicator": ["homicide_rate"] * 3,
            "area": ["PA", "CR", "GT"],
            "area_name": ["Panamá", "Costa Rica", "Sololá, Quiché"],
            "period": ["2023", "2023", "2023"],
            "period_start": [date(2023, 1, 1)] * 3,
            "period_end": [date(2023, 12, 31)] * 3,
            "count": [549, None, 3],
            "population": [4_458_759.0, 5_105_525.0, 0.0],
            "rate_per_100k": [12.3, float("nan"), float("inf")],
            "annualised": [False, False, True],
        },
        schema_overrides={"count": pl.Int64},
    )


META: dict[str, Any] = {
    "indicator": "homicide_rate",
    "name": "Tasa de homicidios intencionales",
    "description": "Víctimas de homicidio intencional (ICCS 0101) por cada 100 000 habitantes.",
    "unit": "victims",
    "by": ["country", "year"],
    "where": {"country": ["PA", "CR", "GT"]},
    "notes": ["una nota con acentos: población"],
    "disclosure_control": {"k": 5, "suppressed_cells": 1, "statement": "Con control…"},
}


def strict_json(data: bytes) -> Any:
    """Parse JSON, refusing the NaN/Infinity extensions Python would otherwise accept."""

    def refuse(name: str) -> None:
        raise ValueError(f"not JSON: {name}")

    return json.loads(data.decode("utf-8"), parse_constant=refuse)


# --- CSV ------------------------------------------------------------------------------------


def test_csv_starts_with_bom_and_round_trips_accents(tmp_path: Path) -> None:
    frame = table()
    path = tmp_path / "t.csv"
    export.write(frame, "csv", path, META)
    data = path.read_bytes()
    assert data.startswith(BOM)
    assert not data[3:].startswith(BOM)  # exactly one BOM
    text = data.decode("utf-8-sig")
    assert "Panamá" in text and '"Sololá, Quiché"' in text
    back = pl.read_csv(path, try_parse_dates=True)
    assert back.columns == frame.columns  # the BOM does not end up in the first header
    assert back["area_name"].to_list() == ["Panamá", "Costa Rica", "Sololá, Quiché"]
    assert back["period_start"].to_list() == [date(2023, 1, 1)] * 3
    assert back["count"].to_list() == [549, None, 3]


def test_csv_bytes_equal_the_written_file(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    export.write(table(), "csv", path, META)
    assert path.read_bytes() == export.to_bytes(table(), "csv", META)


# --- JSON -----------------------------------------------------------------------------------


def test_json_metadata_rows_iso_dates_and_nulls() -> None:
    doc = strict_json(export.to_bytes(table(), "json", META))
    for key in META:
        assert doc[key] == META[key], key
    assert list(doc)[-1] == "rows"
    rows = doc["rows"]
    assert len(rows) == 3
    assert list(rows[0]) == table().columns
    pa, cr, gt = rows
    assert pa["area_name"] == "Panamá" and pa["period_start"] == "2023-01-01"
    assert pa["period_end"] == "2023-12-31" and pa["rate_per_100k"] == 12.3
    assert cr["count"] is None and cr["rate_per_100k"] is None  # null and NaN -> null
    assert gt["rate_per_100k"] is None  # an infinity is not JSON either
    assert pa["annualised"] is False and gt["annualised"] is True


def test_json_keeps_accents_unescaped() -> None:
    data = export.to_bytes(table(), "json", META)
    assert "Panamá".encode() in data and b"\\u00e1" not in data
    assert not data.startswith(BOM)


def test_plain_values() -> None:
    assert export.plain(date(2023, 5, 1)) == "2023-05-01"
    assert export.plain(float("nan")) is None
    assert export.plain(float("-inf")) is None
    assert export.plain(1.5) == 1.5 and export.plain("x") == "x" and export.plain(None) is None


def test_json_of_an_empty_table() -> None:
    doc = strict_json(export.to_bytes(table().head(0), "json", META))
    assert doc["rows"] == [] and doc["indicator"] == "homicide_rate"


# --- XLSX -----------------------------------------------------------------------------------


def test_xlsx_has_data_and_about_sheets(tmp_path: Path) -> None:
    path = tmp_path / "t.xlsx"
    export.write(table(), "xlsx", path, META)
    wb = load_workbook(path)
    assert wb.sheetnames == ["data", "about"]
    data = wb["data"]
    rows = list(data.iter_rows(values_only=True))
    assert list(rows[0]) == table().columns
    assert len(rows) == 4
    header = rows[0]
    pa = dict(zip(header, rows[1], strict=True))
    cr = dict(zip(header, rows[2], strict=True))
    gt = dict(zip(header, rows[3], strict=True))
    assert pa["area_name"] == "Panamá" and pa["count"] == 549 and pa["rate_per_100k"] == 12.3
    assert pa["period_start"].date() == date(2023, 1, 1)  # a real date cell, not text
    assert cr["count"] is None and cr["rate_per_100k"] is None  # NaN -> empty cell
    assert gt["rate_per_100k"] is None
    assert data.freeze_panes == "A2"
    about = {r[0]: r[1] for r in wb["about"].iter_rows(values_only=True) if r[0]}
    assert about["indicator"] == "homicide_rate"
    assert about["description"] == META["description"]
    assert about["notes"] == "una nota con acentos: población"
    assert "statement" in about["disclosure_control"]


# --- Parquet --------------------------------------------------------------------------------


def test_parquet_reads_back_with_metadata(tmp_path: Path) -> None:
    frame = table()
    path = tmp_path / "t.parquet"
    export.write(frame, "parquet", path, META)
    back = pl.read_parquet(path)
    assert back.schema == frame.schema
    assert back.drop("rate_per_100k").equals(frame.drop("rate_per_100k"))
    assert back["rate_per_100k"][0] == 12.3
    meta = pq.read_schema(path).metadata
    assert b"safestreets" in meta
    assert json.loads(meta[b"safestreets"].decode("utf-8")) == META


def test_parquet_bytes_are_a_parquet_file() -> None:
    data = export.to_bytes(table(), "parquet", META)
    assert data[:4] == b"PAR1" and data[-4:] == b"PAR1"
    assert pl.read_parquet(io.BytesIO(data)).height == 3


# --- format choice --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "given", "expected"),
    [
        (None, None, "table"),
        (None, "json", "json"),
        (Path("out.csv"), None, "csv"),
        (Path("out.JSON"), None, "json"),
        (Path("dir.v2/out.xlsx"), None, "xlsx"),
        (Path("out.parquet"), None, "parquet"),
        (Path("out.txt"), "csv", "csv"),  # an explicit format wins over the suffix
    ],
)
def test_format_for(path: Path | None, given: str | None, expected: str) -> None:
    assert export.format_for(path, given) == expected


def test_format_for_refuses_txt_clearly() -> None:
    with pytest.raises(InputError) as info:
        export.format_for(Path("homicidios.txt"), None)
    assert "homicidios.txt" in info.value.message
    assert info.value.hint and "csv" in info.value.hint and "parquet" in info.value.hint


@pytest.mark.parametrize("path", [Path("no_suffix"), Path("x.csv.gz")])
def test_format_for_refuses_other_suffixes(path: Path) -> None:
    with pytest.raises(InputError, match="cannot tell the format"):
        export.format_for(path, None)


def test_format_for_refuses_unknown_formats() -> None:
    with pytest.raises(InputError, match="unknown format 'xml'") as info:
        export.format_for(None, "xml")
    assert info.value.hint and "parquet" in info.value.hint


def test_table_is_not_a_file_format(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot write table"):
        export.write(table(), "table", tmp_path / "t.csv", META)
    assert list(tmp_path.iterdir()) == []


# --- atomic writes --------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "json", "xlsx", "parquet"])
def test_write_leaves_only_the_file(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"t.{fmt}"
    path.write_bytes(b"old contents, much longer than nothing at all" * 100)
    export.write(table(), fmt, path, META)
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no .part left behind
    assert path.read_bytes() == export.to_bytes(table(), fmt, META)  # replaced whole


def test_failed_serialisation_keeps_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("old", encoding="utf-8")
    with pytest.raises(InputError):
        export.write(table(), "nonsense", path, META)
    assert path.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["t.csv"]


def test_unwritable_target_is_an_input_error_and_leaves_no_part(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.mkdir()  # a folder where the file should go: the final rename fails
    with pytest.raises(InputError, match="cannot write") as info:
        export.write(table(), "csv", target, META)
    assert "None" not in info.value.message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]
    assert target.is_dir()


def test_missing_folder_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot write"):
        export.write(table(), "json", tmp_path / "nope" / "t.json", META)
    assert list(tmp_path.iterdir()) == []
