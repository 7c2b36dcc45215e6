"""Aggregated counts and populations: validation, duplicates, replacement, both backends."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Engine, select

from safestreets.errors import InputError
from safestreets.ingest.counts import load_counts, load_population, parse_periods, sex_codes
from safestreets.store import tables

COUNTS = """source,country,admin1,admin2,period,iccs_code,local_category,unit,count
PNC-GT,GT,Guatemala,,2023,0101,Homicidio,victims,1234
PNC-GT,GT,GT-05,,2023-Q2,,Extorsión,incidents,87
PNC-GT,GTM,,,2023-05,0401,,incidents,55
PNC-GT,GT,,,2023-13,0101,,victims,3
PNC-GT,XX,,,2023,0101,,victims,3
PNC-GT,GT,,,2023,9999,,victims,3
PNC-GT,GT,,,2023,0101,,people,3
PNC-GT,GT,,,2023,0101,,victims,-4
PNC-GT,GT,,,2023,,,victims,4
PNC-GT,GT,Guatemala,,2023,0101,Homicidio,victims,1234
"""


def test_periods() -> None:
    out = parse_periods(pl.Series(["2019", "2019-Q2", "2019-5", "2019-W07", "2019-13", "x", None]))
    assert out["period"].to_list()[:4] == ["2019", "2019-Q2", "2019-05", "2019-W07"]
    assert out["period_start"].to_list()[:4] == [
        date(2019, 1, 1),
        date(2019, 4, 1),
        date(2019, 5, 1),
        date(2019, 2, 11),
    ]
    assert out["period_end"].to_list()[:4] == [
        date(2019, 12, 31),
        date(2019, 6, 30),
        date(2019, 5, 31),
        date(2019, 2, 17),
    ]
    assert out["invalid"].to_list() == [False, False, False, False, True, True, False]


def test_counts_load(store: Engine, tmp_path: Path) -> None:
    path = tmp_path / "counts.csv"
    path.write_text(COUNTS, encoding="utf-8")
    report = load_counts(path, store)
    assert report.rows_read == 10
    assert report.rows_loaded == 3
    assert report.rows_duplicate_in_file == 1
    assert report.rejections == {
        "invalid_period": 1,
        "invalid_country": 1,
        "unknown_iccs_code": 1,
        "invalid_unit": 1,
        "invalid_count": 1,
        "missing_category": 1,
    }
    assert report.rejection_samples["invalid_period"] == [5]
    assert report.rows_read == report.rows_loaded + report.rows_rejected + report.rows_duplicate
    with store.connect() as conn:
        rows = conn.execute(select(tables.stat_count).order_by(tables.stat_count.c.period)).all()
    by_period = {r.period: r for r in rows}
    assert by_period["2023"].admin1 == "GT-01" and by_period["2023"].count == 1234
    assert by_period["2023-Q2"].admin1 == "GT-05" and by_period["2023-Q2"].iccs_code is None
    assert by_period["2023-05"].country == "GT"  # GTM resolved to the alpha-2 code
    assert report.rows_unmapped_category == 1
    again = load_counts(path, store)
    assert again.rows_loaded == 0 and again.rows_duplicate_in_store == 3


def test_counts_missing_column(sqlite_engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("country,period,count\nGT,2023,1\n", encoding="utf-8")
    with pytest.raises(InputError, match="unit"):
        load_counts(path, sqlite_engine)


def test_population_load_replaces(store: Engine, tmp_path: Path) -> None:
    path = tmp_path / "pop.csv"
    path.write_text(
        "country,admin1,admin2,year,population\n"
        "GT,Guatemala,,2023,3500000\n"
        "GT,,,2023,18000000\n"
        "GT,,,1800,5\n"
        "GT,,,2023,abc\n",
        encoding="utf-8",
    )
    report = load_population(path, store, source="INE-GT")
    assert (report.rows_loaded, report.rows_rejected) == (2, 2)
    assert report.rejections == {"invalid_year": 1, "invalid_population": 1}
    path.write_text(
        "country,admin1,admin2,year,population\nGT,GT-01,,2023,3600000\n", encoding="utf-8"
    )
    load_population(path, store, source="INE-GT")
    with store.connect() as conn:
        rows = conn.execute(select(tables.population)).all()
    values = sorted((r.admin1 or "", r.population) for r in rows)
    assert values == [("", 18_000_000), ("GT-01", 3_600_000)]


# ---------------------------------------------------------------------------------------------
# Optional breakdowns: sex, age band, weapon, place type, context
# ---------------------------------------------------------------------------------------------

DIMENSIONS = """source,country,period,iccs_code,unit,count,sex,age_band,weapon,place_type,context
PNC,SV,2023,0101,victims,100,,,,,
PNC,SV,2023,0101,victims,80,Hombre,,,,
PNC,SV,2023,0101,victims,20,Mujer,,,,
PNC,SV,2023,0101,victims,15,F,18+,Arma de fuego,,
PNC,SV,2023,0101,victims,14,female,18 +,firearm,Street,gender related
PNC,SV,2023,0101,victims,1,female,0-17,knife,residence,intimate_partner
PNC,SV,2023,0101,victims,3,Masculino,20-24,Blunt object,public-transport,gang
PNC,SV,2023,0101,victims,5,x,,,,
PNC,SV,2023,0101,victims,5,,17-18,,,
PNC,SV,2023,0101,victims,5,,,bazooka,,
PNC,SV,2023,0101,victims,5,,,,moon,
PNC,SV,2023,0101,victims,5,,,,,revenge
PNC,SV,2023,0101,victims,99,Hombre,,,,
"""


def test_counts_optional_dimensions(store: Engine, tmp_path: Path) -> None:
    path = tmp_path / "dims.csv"
    path.write_text(DIMENSIONS, encoding="utf-8")
    report = load_counts(path, store)
    assert report.rejections == {
        "invalid_weapon": 2,  # "bazooka", and "Arma de fuego": Spanish words are not translated
        "invalid_sex": 1,
        "invalid_age_band": 1,
        "invalid_place_type": 1,
        "invalid_context": 1,
    }
    assert report.rejection_samples["invalid_sex"] == [9]
    # The breakdowns are part of the key: only the second "Hombre" row is a duplicate.
    assert (report.rows_loaded, report.rows_duplicate_in_file) == (6, 1)
    assert report.rows_read == report.rows_loaded + report.rows_rejected + report.rows_duplicate
    with store.connect() as conn:
        rows = conn.execute(select(tables.stat_count)).all()
    got = {(r.sex, r.age_band, r.weapon, r.place_type, r.context): r.count for r in rows}
    assert got == {
        (None, None, None, None, None): 100,
        ("male", None, None, None, None): 80,
        ("female", None, None, None, None): 20,
        ("female", "18+", "firearm", "street", "gender_related"): 14,
        ("female", "0-17", "knife", "residence", "intimate_partner"): 1,
        ("male", "20-24", "blunt_object", "public_transport", "gang"): 3,
    }
    again = load_counts(path, store)
    assert (again.rows_loaded, again.rows_duplicate_in_store) == (0, 6)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["H", "M"], ["male", "female"]),  # hombre / mujer
        (["F", "M"], ["female", "male"]),  # femenino / masculino
        (["M", "Mujer"], [None, "female"]),  # a bare M with neither H nor F: ambiguous
    ],
)
def test_sex_m_is_read_from_the_file(values: list[str], expected: list[str | None]) -> None:
    codes, invalid, ambiguous = sex_codes(pl.Series(values))
    assert codes.to_list() == expected
    assert not invalid.any()
    assert ambiguous.to_list() == [e is None for e in expected]


def test_counts_ambiguous_m_is_rejected(sqlite_engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text(
        "source,country,period,iccs_code,unit,count,sex\n"
        "PNC,SV,2023,0101,victims,5,M\nPNC,SV,2023,0101,victims,6,Mujer\n",
        encoding="utf-8",
    )
    report = load_counts(path, sqlite_engine)
    assert report.rejections == {"ambiguous_sex": 1} and report.rows_loaded == 1


def test_population_by_sex_and_age_replaces_its_own_key(store: Engine, tmp_path: Path) -> None:
    path = tmp_path / "pop.csv"
    path.write_text(
        "country,admin1,year,sex,age_band,population\n"
        "SV,,2023,,,6300000\n"
        "SV,,2023,Mujer,,3300000\n"
        "SV,,2023,H,,3000000\n"
        "SV,,2023,female,0-17,900000\n"
        "SV,,2023,unknown,,5\n"
        "SV,,2023,,old,5\n",
        encoding="utf-8",
    )
    report = load_population(path, store, source="DIGESTYC")
    assert (report.rows_loaded, report.rows_rejected) == (4, 2)
    assert report.rejections == {"invalid_sex": 1, "invalid_age_band": 1}
    # A new figure for women replaces the stored one for women only.
    path.write_text("country,year,sex,population\nSV,2023,F,3310000\n", encoding="utf-8")
    again = load_population(path, store, source="DIGESTYC")
    assert again.rows_loaded == 1
    with store.connect() as conn:
        rows = conn.execute(select(tables.population)).all()
    got = sorted(((r.sex or ""), (r.age_band or ""), r.population) for r in rows)
    assert got == [
        ("", "", 6_300_000),
        ("female", "", 3_310_000),
        ("female", "0-17", 900_000),
        ("male", "", 3_000_000),
    ]
