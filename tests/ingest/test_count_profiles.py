"""Counts profiles: the format, the SESNSP built-ins and their tables, loads on both backends."""

from __future__ import annotations

import bz2
import io
import re
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Engine, select

from safestreets.errors import InputError, ProfileError
from safestreets.ingest.count_profiles import (
    CountProfile,
    builtin_count_profiles,
    category_labels,
    load_count_profile,
    parse_count_profile,
    read_alias_table,
    read_category_table,
    resolve_admin1,
)
from safestreets.ingest.counts import load_counts
from safestreets.ingest.readers import detect_format
from safestreets.store import tables

ROOT = Path(__file__).resolve().parents[2]
PROFILES_MD = ROOT / "docs" / "profiles.md"
SESNSP = "sesnsp-mx"
VICTIMS = "sesnsp_victimas_estatal_mensual_long.csv.bz2"
MUNICIPAL = "sesnsp_municipal_guanajuato_homicidios_2020_2025.csv"
MONTHS = "Enero,Febrero,Marzo,Abril,Mayo,Junio,Julio,Agosto,Septiembre,Octubre,Noviembre,Diciembre"


def _frame(engine: Engine, table: str) -> pl.DataFrame:
    with engine.connect() as conn:
        rows = conn.execute(select(tables.metadata.tables[table])).mappings().all()
    return pl.DataFrame([dict(r) for r in rows], infer_schema_length=None)


def _table(profile: str) -> Path:
    p = load_count_profile(profile)
    assert p.categories.table is not None
    return p.resolve(p.categories.table)


# ---------------------------------------------------------------------------------------------
# The format
# ---------------------------------------------------------------------------------------------


def test_builtins_parse_and_their_tables_are_valid() -> None:
    assert set(builtin_count_profiles()) == {"sesnsp-victimas-estatal", "sesnsp-municipal"}
    for name in builtin_count_profiles():
        profile = load_count_profile(name)
        assert profile.country == "MX" and profile.source == "MX-SESNSP"
        read_category_table(_table(name))  # raises ProfileError on any bad row
        assert profile.admin1 and profile.admin1.aliases
        aliases = read_alias_table(profile.resolve(profile.admin1.aliases), "MX")
        assert len(set(aliases.values())) == 32


def test_counts_profiles_are_not_incident_profiles() -> None:
    # They live in their own folder: `safestreets profiles list` must not try to read them.
    from safestreets.ingest.profiles import builtin_profiles

    assert not set(builtin_profiles()) & set(builtin_count_profiles())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"layout": "wide"}, "layout wide needs `months`"),
        ({"count": None}, "layout long needs `count`"),
        ({"colour": "red"}, "colour: Extra inputs are not permitted"),
        ({"country": "Mexico"}, "not an ISO 3166-1 alpha-2"),
        ({"sex": {"column": "g", "map": {"M": "mujer"}}}, "sex.map: 'mujer' not allowed"),
        ({"period": {"year": "y", "date": "d"}}, "give `period.date`, or `period.year`"),
        ({"unit": "people"}, "unit: Input should be 'victims' or 'incidents'"),
    ],
)
def test_profile_problems_are_one_error(change: dict[str, object], message: str) -> None:
    import yaml

    base: dict[str, object] = {
        "name": "x",
        "source": "S",
        "country": "MX",
        "unit": "victims",
        "period": {"year": "y", "month": "m"},
        "count": "n",
        "categories": {"columns": ["c"]},
    }
    text = yaml.safe_dump({k: v for k, v in (base | change).items() if v is not None})
    with pytest.raises(ProfileError, match=re.escape(message)):
        parse_count_profile(text, origin="t.yaml")


def test_unknown_profile_names_the_builtins() -> None:
    with pytest.raises(ProfileError, match="unknown counts profile") as info:
        load_count_profile("nope")
    assert "sesnsp-municipal" in (info.value.hint or "")


def test_category_table_problems(tmp_path: Path) -> None:
    table = tmp_path / "cats.csv"
    table.write_text(
        "category,iccs_code,weapon,context\nA / B,9999,,\nC,,,\nD,0101,bazooka,\nd,0101,,\n",
        encoding="utf-8",
    )
    with pytest.raises(ProfileError) as info:
        read_category_table(table)
    text = str(info.value)
    assert "line 2: '9999' is not an ICCS v1.0 code" in text
    assert "line 3: no iccs_code and no note" in text
    assert "line 4: weapon 'bazooka'" in text
    assert "line 5: 'd' is listed twice" in text


def test_category_labels_and_patterns() -> None:
    frame = pl.DataFrame(
        {
            "t": ["Aborto", "Robo", "Homicidio", None],
            "s": ["Aborto", "Robo de tractores", "Homicidio doloso", None],
            "m": ["Aborto", "Con violencia", "Con arma de fuego", None],
        }
    )
    labels = category_labels(frame, ["t", "s", "m"])
    assert labels.to_list() == [
        "Aborto",
        "Robo / Robo de tractores / Con violencia",
        "Homicidio / Homicidio doloso / Con arma de fuego",
        None,
    ]
    table = read_category_table(_table("sesnsp-municipal"))
    # Matched on normalised text: case, accents and the repeated parts do not matter.
    assert table.lookup("ABORTO / aborto / Aborto") == table.lookup("Aborto")
    assert table.lookup("Aborto") == {
        "iccs_code": "0106",
        "weapon": None,
        "place_type": None,
        "context": None,
        "sex": None,
    }
    # An exact row wins over a pattern; `*` stands for one part, a final `*` for the rest.
    assert (table.lookup("Homicidio / Homicidio doloso / Con arma de fuego") or {})[
        "weapon"
    ] == "firearm"
    assert (table.lookup("Homicidio / Homicidio doloso / Con veneno") or {})["iccs_code"] == "0101"
    assert (table.lookup(labels[1]) or {})["iccs_code"] == "0401"
    assert (table.lookup("Fraude / Fraude / Fraude") or {})["iccs_code"] == "0701"
    assert table.lookup("Nada / Nada") is None


def test_resolve_admin1_names_aliases_and_codes() -> None:
    profile = load_count_profile("sesnsp-municipal")
    assert profile.admin1 and profile.admin1.aliases
    aliases = read_alias_table(profile.resolve(profile.admin1.aliases), "MX")
    values = pl.Series(
        [
            "Coahuila de Zaragoza",  # the ISO 3166-2 name
            "Coahuila",  # a SESNSP spelling (alias table)
            "VERACRUZ DE IGNACIO DE LA LLAVE",
            "Veracruz",
            "Michoacán de Ocampo",
            "Michoacan",
            "Ciudad de México",
            "Estado de México",
            "México",
            "09",
            "9",
            "MX-GUA",
            "Atlantis",
            None,
        ]
    )
    assert resolve_admin1(values, "MX", aliases).to_list() == [
        "MX-COA",
        "MX-COA",
        "MX-VER",
        "MX-VER",
        "MX-MIC",
        "MX-MIC",
        "MX-CMX",
        "MX-MEX",
        "MX-MEX",
        "MX-CMX",
        "MX-CMX",
        "MX-GUA",
        None,
        None,
    ]


def test_bz2_is_looked_through(sqlite_engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "c.csv.bz2"
    path.write_bytes(
        bz2.compress(b"source,country,period,iccs_code,unit,count\nPNC,SV,2022,0101,victims,40\n")
    )
    assert detect_format(path) == "csv"
    report = load_counts(path, sqlite_engine)
    assert (report.rows_read, report.rows_loaded) == (1, 1)
    # A cut download: the first MiB (sniffed) decompresses, the rest does not.
    rows = b"".join(b"PNC,SV,%d,0101,victims,%d\n" % (1900 + i % 200, i) for i in range(80_000))
    whole = bz2.compress(b"source,country,period,iccs_code,unit,count\n" + rows)
    cut = tmp_path / "cut.csv.bz2"
    cut.write_bytes(whole[: len(whole) * 3 // 4])
    with pytest.raises(InputError, match="truncated or corrupt"):
        load_counts(cut, sqlite_engine)


def test_counts_profile_example_in_the_docs_parses() -> None:
    text = PROFILES_MD.read_text(encoding="utf-8")
    body = text[text.index("## Counts profiles") :]
    blocks = re.findall(r"^```yml\n(.*?)^```", body, flags=re.S | re.M)
    assert blocks, "docs/profiles.md shows a counts profile in a ```yml block"
    shown = {p.name: p for p in (parse_count_profile(b, origin="profiles.md") for b in blocks)}
    # The built-in shown is the one shipped.
    assert shown["sesnsp-municipal"].model_dump() == (
        load_count_profile("sesnsp-municipal").model_dump()
    )


def test_counts_profile_keys_are_documented() -> None:
    text = PROFILES_MD.read_text(encoding="utf-8")
    body = text[text.index("## Counts profiles") :]
    body = body[: body.index("\n## ", 1)] if "\n## " in body[1:] else body
    documented = set(re.findall(r"^\| `([a-z_0-9.]+)` \|", body, flags=re.M))

    def keys(model: type, prefix: str = "") -> Iterator[str]:
        for name, info in model.model_fields.items():  # type: ignore[attr-defined]
            yield prefix + name
            ann = info.annotation
            for arg in (*getattr(ann, "__args__", ()), ann):
                if isinstance(arg, type) and hasattr(arg, "model_fields") and name != "csv":
                    yield from keys(arg, f"{prefix}{name}.")

    expected = set(keys(CountProfile)) - {"path"}
    assert expected == documented


# ---------------------------------------------------------------------------------------------
# Loads (both backends)
# ---------------------------------------------------------------------------------------------

WIDE_HEADER = (
    "Año,Clave_Ent,Entidad,Cve. Municipio,Municipio,Bien jurídico afectado,Tipo de delito,"
    f"Subtipo de delito,Modalidad,{MONTHS}"
)
ABASOLO = "2024,11,Guanajuato,11001,Abasolo,La vida,Homicidio"
WIDE_ROWS = [
    (f"{ABASOLO},Homicidio doloso,Con arma de fuego", "1,2,0,0,0,0,0,0,0,0,0,1.0"),
    (f"{ABASOLO},Homicidio culposo,En accidente de tránsito", "0,0,0,0,0,0,0,0,0,0,0,"),
    (
        "2024,16,Michoacán de Ocampo,16053,Morelia,La vida,Homicidio,Homicidio doloso,"
        "Con arma blanca",
        "x,1,1,1,1,1,1,1,1,1,1,2.5",
    ),
    (
        "2024,99,Atlantis,99001,Nada,La vida,Homicidio,Homicidio doloso,Con arma blanca",
        "1,1,1,1,1,1,1,1,1,1,1,1",
    ),
    (
        "2024,5,Coahuila de Zaragoza,5002,Acuña,Patrimonio,Robo,Robo de tractores,Con violencia",
        "0,0,0,0,0,0,0,0,0,0,0,",
    ),
    (f"{ABASOLO},Homicidio doloso,Con arma de fuego", "1,2,0,0,0,0,0,0,0,0,0,1.0"),
]
WIDE = "\n".join([WIDE_HEADER, *[f"{a},{m}" for a, m in WIDE_ROWS]]) + "\n"


def test_wide_file_cp1252(store: Engine, tmp_path: Path) -> None:
    # The national municipal files are often CP1252: "Año", "Michoacán", "tránsito".
    path = tmp_path / "IDM_NM_dic24.csv"
    path.write_bytes(WIDE.encode("cp1252"))
    report = load_counts(path, store, profile=load_count_profile("sesnsp-municipal"))
    # 6 file rows x 12 months = 72 cells, 2 empty (December not published): 70 figures.
    assert report.rows_read == 70
    assert report.warnings == {"not_published": 2}
    assert any("2 empty cells not published" in n for n in report.notes)
    assert any("cp1252" in n for n in report.notes)
    # Morelia: "x" in January and 2.5 in December; Atlantis: all twelve months.
    assert report.rejections == {"invalid_count": 2, "unresolved_admin1": 12}
    assert report.rejection_samples == {"invalid_count": [4], "unresolved_admin1": [5]}
    assert report.rows_duplicate_in_file == 12  # the last row repeats the first
    assert report.rows_loaded == 70 - 14 - 12
    assert report.rows_read == report.rows_loaded + report.rows_rejected + report.rows_duplicate

    stored = _frame(store, "stat_count")
    assert stored.height == report.rows_loaded
    assert set(stored["admin1"]) == {"MX-GUA", "MX-MIC", "MX-COA"}
    assert "05002" in set(stored["admin2"])  # zero-padded INEGI code
    abasolo = stored.filter(pl.col("admin2") == "11001", pl.col("iccs_code") == "0101")
    assert abasolo.sort("period")["count"].to_list() == [1, 2, *[0] * 9, 1]
    assert set(abasolo["weapon"]) == {"firearm"} and set(abasolo["unit"]) == {"incidents"}
    traffic = stored.filter(pl.col("iccs_code") == "010321")
    assert traffic.height == 11 and traffic["period"].max() == "2024-11"
    robo = stored.filter(pl.col("admin1") == "MX-COA")
    assert set(robo["iccs_code"]) == {"0401"}
    assert set(robo["local_category"]) == {"Robo / Robo de tractores / Con violencia"}

    # One quarantine row per file row, the months named in its reasons.
    q = _frame(store, "quarantine").sort("row_number")
    assert q["row_number"].to_list() == [4, 5]
    assert q["reasons"][0] == "invalid_count (Enero, Diciembre)"
    assert q["reasons"][1].startswith("unresolved_admin1 (Enero, Febrero,")
    assert "Atlantis" in q["raw"][1]

    again = load_counts(path, store, profile=load_count_profile("sesnsp-municipal"))
    assert again.rows_loaded == 0
    assert again.rows_duplicate_in_store == report.rows_loaded


LONG = """fecha;estado;delito;subdelito;sexo;edad;victimas
2024-01-15;Jalisco;Feminicidio;Con arma de fuego;;;3
2024-01-15;Jalisco;Homicidio;Con arma de fuego;Hombre;Adultos (18 y más);10
2024-01-15;Jalisco;Homicidio;Con arma de fuego;Hombre;No especificado;0
2024-01-15;Jalisco;Homicidio;Con arma de fuego;Mujer;Menores de edad (0-17);
2024-13-15;Jalisco;Homicidio;Con arma de fuego;Mujer;Adultos (18 y más);1
2024-02-15;Jalisco;Homicidio;Con arma de fuego;Otro;Adultos (18 y más);1
2024-02-15;Jalisco;Otros delitos que atentan contra la vida y la integridad corporal;;;;7
"""


def test_long_file_with_a_user_profile(store: Engine, tmp_path: Path) -> None:
    table = tmp_path / "cats.csv"
    table.write_text(
        "category,iccs_code,weapon,context,sex,notes\n"
        "Homicidio / Con arma de fuego,0101,firearm,,,\n"
        "Feminicidio / *,0101,,gender_related,female,femicide\n"
        "Otros delitos que atentan contra la vida y la integridad corporal,,,,,residual\n",
        encoding="utf-8",
    )
    profile_path = tmp_path / "mine.yaml"
    profile_path.write_text(
        """
name: my-long
source: MX-TEST
country: MX
unit: victims
csv: {delimiter: ";"}
period: {date: fecha, date_format: "%Y-%m-%d"}
count: victimas
admin1: estado
categories: {columns: [delito, subdelito], table: cats.csv}
sex: {column: sexo, map: {Mujer: female, Hombre: male}}
age_band:
  column: edad
  map: {"Menores de edad (0-17)": "0-17", "Adultos (18 y más)": "18+", No especificado: null}
""",
        encoding="utf-8",
    )
    profile = load_count_profile(str(profile_path))
    data = tmp_path / "long.csv"
    data.write_text(LONG, encoding="utf-8")
    report = load_counts(data, store, profile=profile, source="MX-OTHER")
    assert report.source == "MX-OTHER" and report.profile == "my-long"
    assert (report.rows_read, report.warnings) == (6, {"not_published": 1})
    assert report.rejections == {"invalid_period": 1, "invalid_sex": 1}
    assert report.rows_loaded == 4 and report.rows_unmapped_category == 1
    assert report.unmapped_categories == {
        "Otros delitos que atentan contra la vida y la integridad corporal": 1
    }
    stored = _frame(store, "stat_count")
    assert set(stored["source"]) == {"MX-OTHER"} and set(stored["admin1"]) == {"MX-JAL"}
    fem = stored.filter(pl.col("context") == "gender_related").row(0, named=True)
    assert (fem["sex"], fem["iccs_code"], fem["count"], fem["period"]) == (
        "female",
        "0101",
        3,
        "2024-01",
    )
    men = stored.filter(pl.col("sex") == "male").sort("count")
    assert men["age_band"].to_list() == [None, "18+"]  # the explicit zero is a figure
    assert men["count"].to_list() == [0, 10]


# ---------------------------------------------------------------------------------------------
# The shipped SESNSP files (skipped without ../shared/data)
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def victims_csv(shared_data: Path) -> pl.DataFrame:
    path = shared_data / SESNSP / VICTIMS
    if not path.is_file():
        pytest.skip(f"{path} not present")
    return pl.read_csv(io.BytesIO(bz2.decompress(path.read_bytes())), infer_schema=False)


def test_every_victims_category_is_mapped_or_deliberately_not(victims_csv: pl.DataFrame) -> None:
    table = read_category_table(_table("sesnsp-victimas-estatal"))
    cols = ["tipo_de_delito", "subtipo_de_delito", "modalidad"]
    combos = victims_csv.select(cols).unique()
    labels = category_labels(combos, cols)
    assert labels.len() == 36
    unmapped = []
    for label in labels.to_list():
        attrs = table.lookup(label)
        assert attrs is not None, f"{label!r} has no row in the category table"
        if attrs["iccs_code"] is None:
            unmapped.append(label)
    # Left without a code on purpose (each row carries a note saying why).
    assert sorted(unmapped) == [
        "Otros delitos contra la sociedad",
        "Otros delitos que atentan contra la vida y la integridad corporal",
    ]
    expected = {
        "Homicidio / Homicidio doloso / Con arma de fuego": ("0101", "firearm", None, None),
        "Homicidio / Homicidio doloso / Con arma blanca": ("0101", "knife", None, None),
        "Homicidio / Homicidio doloso / Con otro elemento": ("0101", "other", None, None),
        "Homicidio / Homicidio doloso / No especificado": ("0101", "unknown", None, None),
        "Homicidio / Homicidio culposo / En accidente de tránsito": ("010321", None, None, None),
        "Homicidio / Homicidio culposo / Con arma de fuego": ("0103", "firearm", None, None),
        "Feminicidio / Con arma blanca": ("0101", "knife", "gender_related", "female"),
        "Secuestro / Secuestro exprés": ("020221", None, None, None),
        "Extorsión": ("02051", None, None, None),
        "Trata de personas": ("0204", None, None, None),
        "Lesiones / Lesiones dolosas / Con arma de fuego": ("020111", "firearm", None, None),
        "Aborto": ("0106", None, None, None),
    }
    for label, (code, weapon, context, sex) in expected.items():
        attrs = table.lookup(label) or {}
        assert (attrs["iccs_code"], attrs["weapon"], attrs["context"], attrs["sex"]) == (
            code,
            weapon,
            context,
            sex,
        ), label


def test_victims_slice_loads_and_adds_up(
    store: Engine, tmp_path: Path, victims_csv: pl.DataFrame
) -> None:
    # One state's rows (28,980 of 927,360): every category, sex and age group, 2015-2025.
    part = victims_csv.filter(pl.col("nombre_estado") == "Aguascalientes")
    assert part.height == 28_980
    path = tmp_path / "victimas_slice.csv"
    part.write_csv(path)
    profile = load_count_profile("sesnsp-victimas-estatal")
    report = load_counts(path, store, profile=profile)
    assert (report.rows_read, report.rows_loaded, report.rows_rejected) == (28_980, 28_980, 0)
    assert report.rows_duplicate == 0 and report.warnings == {}

    n = pl.col("n_victimas").cast(pl.Int64)
    stored = _frame(store, "stat_count")
    assert set(stored["admin1"]) == {"MX-AGU"} and set(stored["unit"]) == {"victims"}
    assert stored["count"].sum() == part.select(n.sum()).item()
    sexes = {"Mujer": "female", "Hombre": "male", "No identificado": "unknown"}
    for genero, sex in sexes.items():
        expected = part.filter(pl.col("genero") == genero).select(n.sum()).item()
        assert stored.filter(pl.col("sex") == sex)["count"].sum() == expected, genero
    minors = part.filter(pl.col("rango_de_edad") == "Menores de edad (0-17)").select(n.sum())
    assert stored.filter(pl.col("age_band") == "0-17")["count"].sum() == minors.item()
    doloso = part.filter(pl.col("subtipo_de_delito") == "Homicidio doloso").select(n.sum())
    intentional = stored.filter(pl.col("iccs_code") == "0101", pl.col("context").is_null())
    assert intentional["count"].sum() == doloso.item()
    # Femicides: intentional homicides of women, gender-related.
    fem_rows = part.filter(pl.col("tipo_de_delito") == "Feminicidio")
    fem = stored.filter(pl.col("local_category").str.starts_with("Feminicidio"))
    assert fem.height == fem_rows.height > 0
    assert set(fem["context"]) == {"gender_related"} and set(fem["sex"]) == {"female"}
    assert set(fem["iccs_code"]) == {"0101"}
    assert fem["count"].sum() == fem_rows.select(n.sum()).item()
    assert (stored["count"] == 0).sum() > 0  # explicit zeros are figures

    again = load_counts(path, store, profile=profile)
    assert (again.rows_loaded, again.rows_duplicate_in_store) == (0, 28_980)


def test_municipal_guanajuato_file(store: Engine, shared_data: Path) -> None:
    path = shared_data / SESNSP / MUNICIPAL
    if not path.is_file():
        pytest.skip(f"{path} not present")
    raw = pl.read_csv(path, infer_schema=False)
    months = MONTHS.split(",")
    cells = raw.unpivot(on=months, index=["Año", "Subtipo de delito"], value_name="v")
    empty = cells.filter(pl.col("v").is_null()).height
    assert empty == 46 * 9  # December 2025 is not published yet

    profile = load_count_profile("sesnsp-municipal")
    report = load_counts(path, store, profile=profile)
    assert report.rows_read == cells.height - empty
    assert (report.rows_loaded, report.rows_rejected, report.rows_duplicate) == (
        report.rows_read,
        0,
        0,
    )
    assert report.warnings == {"not_published": empty}
    assert report.rows_unmapped_category == 0

    stored = _frame(store, "stat_count")
    doloso_2020 = (
        cells.filter(pl.col("Año") == "2020", pl.col("Subtipo de delito") == "Homicidio doloso")
        .select(pl.col("v").cast(pl.Float64).sum())
        .item()
    )
    got = stored.filter(pl.col("period").str.starts_with("2020-"), pl.col("iccs_code") == "0101")
    assert got["count"].sum() == doloso_2020 > 0
    assert set(stored["admin1"]) == {"MX-GUA"} and stored["admin2"].n_unique() == 46
    assert stored["period"].max() == "2025-11"
    assert stored["count"].sum() == cells.select(pl.col("v").cast(pl.Float64).sum()).item()

    again = load_counts(path, store, profile=profile)
    assert (again.rows_loaded, again.rows_duplicate_in_store) == (0, report.rows_loaded)


def test_cli_lists_and_uses_counts_profiles(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from safestreets.cli.main import main

    def run(args: list[str]) -> tuple[int, str, str]:
        try:
            main(args)
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        out, err = capsys.readouterr()
        return code, out, " ".join(err.split())

    code, out, _ = run(["counts", "profiles"])
    assert code == 0 and "sesnsp-municipal" in out and "sesnsp-victimas-estatal" in out
    url = f"sqlite:///{tmp_path}/db.sqlite"
    run(["init", "-d", url])
    path = tmp_path / "IDM_NM.csv"
    path.write_bytes(WIDE.encode("cp1252"))
    code, out, _ = run(["counts", "load", str(path), "-p", "sesnsp-municipal", "--json", "-d", url])
    assert code == 0 and '"not_published": 2' in out
    code, _, err = run(["counts", "load", str(path), "--profile", "nope", "-d", url])
    assert code == 2 and "unknown counts profile 'nope'" in err and "Traceback" not in err
