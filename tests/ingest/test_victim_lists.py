"""Reading and normalising victim-list files (headers in Spanish or English, any encoding)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest

from safestreets.errors import InputError
from safestreets.ingest.victim_lists import (
    REJECTED,
    VICTIM_LIST,
    combine,
    normalise_victim_list,
    read_table,
    read_victim_list,
    split_full_name,
)

TODAY = date(2025, 1, 1)


def _raw(**cols: list[str | None]) -> pl.DataFrame:
    return pl.DataFrame(cols, schema=dict.fromkeys(cols, pl.String))


def test_spanish_headers_and_codes() -> None:
    cols: dict[str, list[str | None]] = {
        "Fecha de muerte": ["03/04/2023", "2023-05-01"],
        "Sexo": ["Masculino", "Femenino"],
        "Edad": ["25 años", "3 meses"],
        "Nombres": ["José Luis", "NN"],
        "Apellidos": ["Hernández López", "Desconocido"],
        "Departamento": ["San Salvador", "La Libertad"],
        "Municipio": ["San Salvador Centro", "no existe"],
        "No. Autopsia": ["A-2023-1", None],
    }
    raw = _raw(**cols)
    vl = normalise_victim_list(raw, source="forensic", country="SV", file="iml.csv", today=TODAY)
    r = vl.records
    assert r.schema == pl.Schema(VICTIM_LIST)
    assert r["date_of_death"].to_list() == [date(2023, 4, 3), date(2023, 5, 1)]
    assert r["sex"].to_list() == ["male", "female"]
    assert r["age"].to_list() == [25, 0]
    assert r["given_names"].to_list() == ["José Luis", None]
    assert r["surnames"].to_list() == ["Hernández López", None]
    assert r["admin1"].to_list() == ["SV-SS", "SV-LI"]
    assert r["admin2"][0] is not None and r["admin2"][1] is None
    assert r["place"][1] == "no existe, La Libertad"  # the written place is kept
    assert r["case_number"].to_list() == ["A-2023-1", None]
    assert r["record_id"].to_list() == ["iml:2", "iml:3"]  # generated from the rows
    assert r["source"].unique().to_list() == ["forensic"]
    assert vl.rejected.height == 0
    assert any("not found" in n for n in vl.notes)


def test_english_headers_and_full_name() -> None:
    raw = _raw(
        id=["a", "b", "c"],
        date=["2023-01-02", "2023-01-03", "2023-01-04"],
        country=["Guatemala", "GT", "El Salvador"],
        sex=["F", "M", "unknown"],
        age=["200", "41", None],
        full_name=["LÓPEZ GARCÍA, JUAN CARLOS", "María de los Ángeles López de León", "XX"],
        case_number=["", "7", None],
    )
    r = normalise_victim_list(raw, source="police", file="pnc.csv", today=TODAY).records
    assert r["country"].to_list() == ["GT", "GT", "SV"]
    assert r["sex"].to_list() == ["female", "male", "unknown"]  # M beside F: masculino
    assert r["age"].to_list() == [None, 41, None]  # 200 is not an age
    assert r["given_names"].to_list() == ["JUAN CARLOS", "María de los Ángeles", None]
    assert r["surnames"].to_list() == ["LÓPEZ GARCÍA", "López de León", None]
    assert r["case_number"].to_list() == [None, "7", None]


def test_m_means_mujer_beside_h() -> None:
    raw = _raw(fecha=["2023-01-01"] * 3, sexo=["H", "M", "h"])
    r = normalise_victim_list(raw, country="SV", today=TODAY).records
    assert r["sex"].to_list() == ["male", "female", "male"]


def test_lone_name_column_is_a_full_name() -> None:
    raw = _raw(fecha=["2023-01-01"], nombre=["Juan Pérez"])
    r = normalise_victim_list(raw, country="SV", today=TODAY).records
    assert (r["given_names"][0], r["surnames"][0]) == ("Juan", "Pérez")
    assert split_full_name("José Luis de la Cruz Martínez") == ("José Luis", "de la Cruz Martínez")
    assert split_full_name("NN") == (None, None)


def test_bad_dates_are_quarantined_with_reasons() -> None:
    raw = _raw(
        id=["1", "2", "3", "4", "5", "6"],
        fecha_hecho=["31/02/2023", "", "05/06/2023", "01/01/1850", "01/01/2030", "45123"],
    )
    vl = normalise_victim_list(raw, source="police", country="HN", file="f.csv", today=TODAY)
    assert vl.records["record_id"].to_list() == ["3", "6"]
    assert vl.records["date_of_death"].to_list() == [date(2023, 6, 5), date(2023, 7, 16)]
    rej = vl.rejected
    assert rej.schema == pl.Schema(REJECTED)
    reasons = dict(zip(rej["record_id"], rej["reason"], strict=True))
    assert reasons["1"].startswith("unreadable date")
    assert reasons["2"] == "missing date of death"
    assert reasons["4"].startswith("implausible") and reasons["5"].startswith("implausible")
    assert rej["row"].to_list() == [2, 3, 5, 6]
    assert '"31/02/2023"' in rej.filter(pl.col("record_id") == "1")["raw"][0]
    assert vl.counts() == {"police": {"valid": 2, "rejected": 4}}


def test_unknown_country_and_duplicate_ids_are_rejected() -> None:
    raw = _raw(id=["1", "1", "2"], fecha=["2023-01-01"] * 3, pais=["SV", "SV", "Mexico"])
    vl = normalise_victim_list(raw, source="p", today=TODAY)
    assert vl.records.height == 1
    assert sorted(vl.rejected["reason"].to_list()) == [
        "duplicate record_id in this source",
        "unknown country: Mexico",
    ]


def test_source_column_and_combine() -> None:
    raw = _raw(fuente=["police", "forensic"], id=["1", "1"], fecha=["2023-01-01"] * 2)
    vl = normalise_victim_list(raw, country="SV", today=TODAY)
    assert vl.records["source"].to_list() == ["police", "forensic"]
    both = combine([vl, vl])
    assert both.records.height == 2
    assert both.rejected.height == 2


def test_required_columns() -> None:
    with pytest.raises(InputError, match="no date-of-death column"):
        normalise_victim_list(_raw(nombre=["x"]), country="SV", file="x.csv")
    with pytest.raises(InputError, match="no country"):
        normalise_victim_list(_raw(fecha=["2023-01-01"]), file="x.csv")
    with pytest.raises(InputError, match="unknown country code"):
        normalise_victim_list(_raw(fecha=["2023-01-01"]), country="MX", file="x.csv")


def test_read_csv_cp1252_semicolons(tmp_path: Path) -> None:
    text = "Fecha;Sexo;Edad;Nombres;Apellidos;Municipio\n01/02/2023;F;30;María;Muñoz Peña;Mixco\n"
    path = tmp_path / "pnc.csv"
    path.write_bytes(text.encode("cp1252"))
    vl = read_victim_list(path, country="GT", today=TODAY)
    r = vl.records
    assert r["source"][0] == "pnc"
    assert r["surnames"][0] == "Muñoz Peña"
    assert r["admin2"][0] == "0108"  # Mixco, department of Guatemala
    assert r["admin1"][0] == "GT-01"


def test_read_csv_utf8_bom(tmp_path: Path) -> None:
    path = tmp_path / "inacif.csv"
    path.write_bytes("\ufefffecha_muerte,sexo\n2023-03-04,Mujer\n".encode())
    assert read_table(path).columns == ["fecha_muerte", "sexo"]
    assert read_victim_list(path, country="GT").records["sex"].to_list() == ["female"]


def test_read_xlsx_and_parquet(tmp_path: Path) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["Fecha", "Edad", "Expediente"])
    ws.append([datetime(2023, 8, 9), 33, "MP-1"])
    ws.append(["no es fecha", 20, "MP-2"])
    wb.save(tmp_path / "mp.xlsx")
    vl = read_victim_list(tmp_path / "mp.xlsx", country="GT", today=TODAY)
    assert vl.records["date_of_death"].to_list() == [date(2023, 8, 9)]
    assert vl.records["age"].to_list() == [33]
    assert vl.rejected["row"].to_list() == [3]

    pl.DataFrame({"date_of_death": [date(2023, 1, 5)], "age": [40]}).write_parquet(
        tmp_path / "x.parquet"
    )
    r = read_victim_list(tmp_path / "x.parquet", country="PA", today=TODAY).records
    assert r["date_of_death"].to_list() == [date(2023, 1, 5)] and r["age"].to_list() == [40]


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        read_table(tmp_path / "nope.csv")
    (tmp_path / "empty.csv").write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        read_table(tmp_path / "empty.csv")
    (tmp_path / "old.xls").write_bytes(b"x")
    with pytest.raises(InputError, match="not supported"):
        read_table(tmp_path / "old.xls")
