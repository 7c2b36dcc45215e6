"""Reading canonical person files: rows set aside with reasons, columns checked."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from safestreets.errors import InputError
from safestreets.schema import PERSON_COLUMNS
from safestreets.sharing.persons import (
    Problem,
    problems_frame,
    read_persons,
    write_clusters,
    write_pairs,
)


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def test_reads_canonical_columns_missing_ones_empty(tmp_path: Path) -> None:
    f = _write(
        tmp_path / "p.csv",
        "record_id,given_names,Surname_1,date_of_birth\n1, José Luis ,Pérez,1980-01-02\n2,Ana,,\n",
    )
    frame, problems = read_persons(f)
    assert problems == []
    assert frame.columns == list(PERSON_COLUMNS)
    assert frame.schema["surname_2"] == pl.String
    assert frame.row(0, named=True)["given_names"] == "José Luis"  # stripped
    assert frame.row(1, named=True)["surname_1"] is None  # empty is null
    assert frame["national_id"].null_count() == 2  # a missing column is empty


def test_rows_without_or_repeating_record_id_are_set_aside(tmp_path: Path) -> None:
    f = _write(
        tmp_path / "p.csv",
        "record_id,given_names\nA,Ana\n,Sin Id\nB,Beto\nA,Otra Ana\n  ,Blanco\n",
    )
    frame, problems = read_persons(f)
    assert frame["record_id"].to_list() == ["A", "B"]
    assert frame["given_names"].to_list() == ["Ana", "Beto"]  # the first A is kept
    assert problems == [
        Problem(row=3, record_id=None, reason="no record_id"),
        Problem(row=5, record_id="A", reason="record_id already on row 2"),
        Problem(row=6, record_id=None, reason="no record_id"),
    ]
    report = problems_frame(problems)
    assert report.columns == ["row", "record_id", "reason"] and report.height == 3


def test_unknown_columns_are_named_with_the_allowed_ones(tmp_path: Path) -> None:
    f = _write(tmp_path / "p.csv", "record_id,nombre,apodo\n1,Ana,La Flaca\n")
    with pytest.raises(InputError) as err:
        read_persons(f)
    assert "nombre, apodo" in err.value.message
    assert err.value.hint is not None and "given_names" in err.value.hint


def test_extra_columns_only_when_asked(tmp_path: Path) -> None:
    f = _write(tmp_path / "p.csv", "record_id,given_names,postcode\n1,Ana,4000\n")
    with pytest.raises(InputError, match="postcode"):
        read_persons(f)
    frame, _ = read_persons(f, extra=["postcode"])
    assert frame.columns[-1] == "postcode" and frame["postcode"].to_list() == ["4000"]


def test_no_record_id_column_or_no_rows(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no record_id column"):
        read_persons(_write(tmp_path / "a.csv", "given_names\nAna\n"))
    with pytest.raises(InputError, match="no person records"):
        read_persons(_write(tmp_path / "b.csv", "record_id,given_names\n"))
    with pytest.raises(InputError, match="no such file"):
        read_persons(tmp_path / "missing.csv")


def test_windows_spreadsheet_export(tmp_path: Path) -> None:
    """CP1252 and semicolons, as Spanish-language Excel writes "CSV"."""
    f = _write(
        tmp_path / "p.csv",
        "record_id;given_names;surname_1\r\n7;María José;Núñez\r\n",
        encoding="cp1252",
    )
    frame, _ = read_persons(f)
    assert frame.row(0, named=True)["given_names"] == "María José"
    assert frame.row(0, named=True)["surname_1"] == "Núñez"


def test_write_pairs_and_clusters(tmp_path: Path) -> None:
    pairs = pl.DataFrame(
        {
            "left_id": ["a"],
            "right_id": ["b"],
            "match_probability": [0.9876543],
            "match_weight": [6.3],
            "agreeing": ["given_names,surname_1"],
        }
    )
    write_pairs(pairs, tmp_path / "out" / "pairs.csv")
    text = (tmp_path / "out" / "pairs.csv").read_text(encoding="utf-8")
    assert text.splitlines() == [
        "left_id,right_id,match_probability,match_weight,agreeing",
        'a,b,0.987654,6.300000,"given_names,surname_1"',
    ]
    clusters = pl.DataFrame(
        {"cluster_size": [2, 2], "record_id": ["a", "b"], "cluster_id": ["a", "a"]}
    )
    write_clusters(clusters, tmp_path / "c.csv")
    assert (tmp_path / "c.csv").read_text().splitlines()[0] == "record_id,cluster_id,cluster_size"
