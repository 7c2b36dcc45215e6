"""Ingest end to end on both backends: accounting, idempotency, quarantine, victims."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Engine, func, select

from safestreets.errors import InputError
from safestreets.ingest.load import ingest_file
from safestreets.ingest.profiles import load_profile, parse_profile
from safestreets.store import tables

GT_PROFILE = """
name: gt-pnc-test
source: GT-PNC-TEST
owner_agency: GT-PNC
country: GT
timezone: America/Guatemala
columns:
  source_record_id: boleta
  occurred_date: {column: fecha, formats: ["%d/%m/%Y"]}
  occurred_time: hora
  local_category: delito
  lat: lat
  lon: lon
  admin1: departamento
  admin2: municipio
  victim_sex: sexo
  victim_age: edad
"""

ROWS = [
    # boleta, fecha, hora, delito, lat, lon, departamento, municipio, sexo, edad
    (
        "B1",
        "05/01/2023",
        "21:30",
        "Homicidio",
        "14.6349",
        "-90.5069",
        "Guatemala",
        "Guatemala",
        "Hombre",
        "24",
    ),
    ("B2", "06/01/2023", "", "Robo", "14.62", "-90.52", "GUATEMALA", "Mixco", "Mujer", "31"),
    ("B3", "31/02/2023", "10:00", "Hurto", "14.62", "-90.52", "Guatemala", "", "", ""),
    ("B4", "07/01/2023", "10:00", "Extorsión", "-90.52", "14.62", "Guatemala", "", "F", "200"),
    ("B5", "08/01/2023", "10:00", "Delito inventado", "14.62", "-90.52", "Escuintla", "", "", ""),
    (
        "B1",
        "05/01/2023",
        "21:30",
        "Homicidio",
        "14.6349",
        "-90.5069",
        "Guatemala",
        "Guatemala",
        "Hombre",
        "24",
    ),
    ("B6", "09/01/2023", "11:00", "Homicidio", "19.43", "-99.13", "Guatemala", "", "M", "40"),
]
HEADER = "boleta,fecha,hora,delito,lat,lon,departamento,municipio,sexo,edad"


def write_gt_file(tmp_path: Path) -> tuple[Path, Path]:
    data = tmp_path / "gt.csv"
    data.write_text(HEADER + "\n" + "\n".join(",".join(r) for r in ROWS) + "\n", encoding="utf-8")
    prof = tmp_path / "gt.yaml"
    prof.write_text(GT_PROFILE, encoding="utf-8")
    return data, prof


def count(engine: Engine, table) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_report_accounting_and_reasons(store: Engine, tmp_path: Path) -> None:
    data, prof_path = write_gt_file(tmp_path)
    profile = load_profile(str(prof_path))
    report = ingest_file(data, profile, store, now=datetime(2024, 1, 1, tzinfo=UTC))
    assert report.rows_read == 7
    assert report.rows_read == report.rows_loaded + report.rows_rejected + report.rows_duplicate
    assert report.rows_duplicate_in_file == 1
    assert report.rejections == {"invalid_date": 1, "coordinates_swapped": 1, "outside_country": 1}
    assert report.rejection_samples["invalid_date"] == [4]  # spreadsheet row (header is row 1)
    assert report.rejection_samples["coordinates_swapped"] == [5]
    assert report.rejection_samples["outside_country"] == [8]
    assert report.rows_loaded == 3
    assert report.rows_unmapped_category == 1
    assert report.unmapped_categories == {"Delito inventado": 1}
    assert count(store, tables.incident) == 3
    assert count(store, tables.quarantine) == 3
    with store.connect() as conn:
        q = conn.execute(select(tables.quarantine).order_by(tables.quarantine.c.row_number)).all()
        assert [r.row_number for r in q] == [4, 5, 8]
        assert json.loads(q[0].raw)["fecha"] == "31/02/2023"
        rows = {r.source_record_id: r for r in conn.execute(select(tables.incident)).all()}
    b1 = rows["B1"]
    assert b1.iccs_code == "0101"
    assert b1.admin1 == "GT-01"
    assert b1.country == "GT"
    assert b1.occurred_precision == "minute"
    # 21:30 in Guatemala (UTC-6) is 03:30 UTC the next day.
    occurred = b1.occurred_at if b1.occurred_at.tzinfo else b1.occurred_at.replace(tzinfo=UTC)
    assert occurred == datetime(2023, 1, 6, 3, 30, tzinfo=UTC)
    assert rows["B2"].occurred_precision == "day"
    assert rows["B2"].iccs_code == "0401"  # Central American "robo" is robbery
    assert rows["B5"].iccs_code is None and rows["B5"].local_category == "Delito inventado"
    assert rows["B1"].handling_code == "NATIONAL" and rows["B1"].owner_agency == "GT-PNC"


def test_victims_stored(store: Engine, tmp_path: Path) -> None:
    data, prof_path = write_gt_file(tmp_path)
    ingest_file(data, load_profile(str(prof_path)), store, now=datetime(2024, 1, 1, tzinfo=UTC))
    with store.connect() as conn:
        v = conn.execute(
            select(
                tables.incident.c.source_record_id,
                tables.victim.c.sex,
                tables.victim.c.age,
                tables.victim.c.age_band,
            ).join(tables.victim, tables.victim.c.incident_id == tables.incident.c.incident_id)
        ).all()
    by_id = {r.source_record_id: r for r in v}
    assert (by_id["B1"].sex, by_id["B1"].age, by_id["B1"].age_band) == ("male", 24, "20-24")
    assert (by_id["B2"].sex, by_id["B2"].age) == ("female", 31)


def test_same_file_twice_loads_nothing(store: Engine, tmp_path: Path) -> None:
    data, prof_path = write_gt_file(tmp_path)
    profile = load_profile(str(prof_path))
    first = ingest_file(data, profile, store, now=datetime(2024, 1, 1, tzinfo=UTC))
    second = ingest_file(data, profile, store, now=datetime(2024, 1, 1, tzinfo=UTC))
    assert first.rows_loaded == 3
    assert second.rows_loaded == 0
    assert second.rows_duplicate_in_store == 3
    assert second.rows_read == second.rows_loaded + second.rows_rejected + second.rows_duplicate
    assert count(store, tables.incident) == 3
    # One victim per loaded row (B5's sex and age are unknown, the victim still counts).
    assert count(store, tables.victim) == 3


def test_failed_load_leaves_nothing(store: Engine, tmp_path: Path) -> None:
    data, prof_path = write_gt_file(tmp_path)
    broken = load_profile(str(prof_path)).model_copy(update={"record_id_from": None})
    broken.columns = {**broken.columns}
    broken.columns.pop("source_record_id")
    broken.record_id_from = ["no_such_column"]
    with pytest.raises(InputError, match="no_such_column"):
        ingest_file(data, broken, store)
    assert count(store, tables.incident) == 0
    assert count(store, tables.batch) == 0


def test_crash_mid_batch_rolls_back(
    store: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure after the first chunk was written leaves no part of the batch."""
    from safestreets.ingest import load as load_mod

    n = 5000
    lines = [HEADER] + [
        f"R{i},{1 + i % 28:02d}/03/2023,10:00,Robo,14.62,-90.52,Guatemala,,," for i in range(n)
    ]
    data = tmp_path / "big.csv"
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    prof = tmp_path / "gt.yaml"
    prof.write_text(GT_PROFILE, encoding="utf-8")
    calls = {"n": 0}
    real = load_mod._BatchWriter.write

    def failing(self, incidents, victims):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("simulated crash")
        return real(self, incidents, victims)

    monkeypatch.setattr(load_mod._BatchWriter, "write", failing)
    with pytest.raises(RuntimeError):
        ingest_file(data, load_profile(str(prof)), store, chunk_size=1000)
    assert count(store, tables.incident) == 0
    assert count(store, tables.batch) == 0
    monkeypatch.setattr(load_mod._BatchWriter, "write", real)
    again = ingest_file(data, load_profile(str(prof)), store, chunk_size=1000)
    assert again.rows_loaded == n
    assert count(store, tables.incident) == n


def test_chunking_does_not_change_the_result(sqlite_engine: Engine, tmp_path: Path) -> None:
    data, prof_path = write_gt_file(tmp_path)
    report = ingest_file(
        data,
        load_profile(str(prof_path)),
        sqlite_engine,
        chunk_size=2,
        now=datetime(2024, 1, 1, tzinfo=UTC),
    )
    assert (report.rows_loaded, report.rows_rejected, report.rows_duplicate) == (3, 3, 1)


def test_profile_errors_are_reported_together() -> None:
    from safestreets.errors import ProfileError

    with pytest.raises(ProfileError) as info:
        parse_profile(
            "name: x\nsource: y\ncolumns: {lat: a, bogus: b}\nhandling_code: SECRET\n",
            origin="t.yaml",
        )
    msg = str(info.value)
    assert "bogus" in msg and "handling_code" in msg


def test_cdmx_profile_on_a_sample(sqlite_engine: Engine, cdmx_points: Path, tmp_path: Path) -> None:
    """The built-in cdmx-fgj profile on the first 20k rows plus the malformed 2024 rows."""
    lf = pl.scan_csv(cdmx_points, infer_schema=False)
    head = lf.head(20_000).collect()
    odd = lf.filter(pl.col("hora_hecho").str.len_chars() > 8).head(500).collect()
    sample = pl.concat([head, odd])
    path = tmp_path / "cdmx.csv"
    sample.write_csv(path)
    report = ingest_file(path, load_profile("cdmx-fgj"), sqlite_engine)
    assert report.rows_read == sample.height
    assert report.rows_read == report.rows_loaded + report.rows_rejected + report.rows_duplicate
    assert report.rows_rejected <= 5
    # The malformed "HH:MM:SS:00" times are read, not rejected.
    assert "invalid_time" not in report.warnings
    with sqlite_engine.connect() as conn:
        mapped = conn.execute(
            select(func.count())
            .select_from(tables.incident)
            .where(tables.incident.c.iccs_code.is_not(None))
        ).scalar_one()
    assert mapped / report.rows_loaded > 0.95


def test_canonical_csv_maps_each_row_within_its_country(store: Engine, tmp_path: Path) -> None:
    """A country column: Costa Rica's "robo" is not Guatemala's; offsets are kept; 0 victims."""
    path = tmp_path / "canon.csv"
    path.write_text(
        "record_id,country,admin1,occurred_at,local_category,lon,lat,victim_count,victim_sex\n"
        "r1,GT,Sacatepéquez,2024-03-02T21:40:00-06:00,Robo,-90.73,14.56,1,Mujer\n"
        "r2,CR,San José,2024-03-02T21:40:00Z,Robo,-84.08,9.93,0,\n"
        "r3,CR,,2024-03-03T10:00:00-06:00,Asalto,-84.08,,1,Hombre\n",
        encoding="utf-8",
    )
    report = ingest_file(path, load_profile("safestreets-csv"), store)
    assert report.rejections == {"incomplete_coordinates": 1}
    assert report.rejection_samples["incomplete_coordinates"] == [4]
    with store.connect() as conn:
        rows = {r.source_record_id: r for r in conn.execute(select(tables.incident)).all()}
        victims = conn.execute(select(tables.victim.c.incident_id)).scalars().all()
    assert rows["r1"].iccs_code == "0401" and rows["r1"].admin1 == "GT-03"
    assert rows["r2"].iccs_code != "0401"  # CR: "robo" is theft with force, not robbery
    assert rows["r2"].admin1 == "CR-SJ"
    assert rows["r1"].source_timezone == "UTC-06:00" and rows["r2"].source_timezone == "UTC"
    assert victims == [rows["r1"].incident_id]  # r2 says it had no victims


def test_required_fields_from_the_profile(sqlite_engine: Engine, tmp_path: Path) -> None:
    data, prof_path = write_gt_file(tmp_path)
    prof_path.write_text(GT_PROFILE + "required: [occurred_at, local_category, admin2]\n")
    report = ingest_file(
        data, load_profile(str(prof_path)), sqlite_engine, now=datetime(2024, 1, 1, tzinfo=UTC)
    )
    # B3..B6 have no municipio; B3, B4 and B6 are also rejected for other reasons.
    assert report.rejections["missing_admin2"] == 4
    from safestreets.errors import ProfileError

    prof_path.write_text(GT_PROFILE + "required: [occurred_at, place_type]\n")
    with pytest.raises(ProfileError, match="place_type"):
        load_profile(str(prof_path))
