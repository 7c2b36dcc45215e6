"""Name normalisation: folding, the Spanish phonetic key and ``normalise_persons``."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from safestreets.schema import PERSON_COLUMNS
from safestreets.sharing import names
from safestreets.sharing.names import (
    HYPOCORISMS,
    NORMALISED_COLUMNS,
    fold,
    fold_expr,
    normalise_person,
    normalise_persons,
    phonetic,
    phonetic_expr,
)

# Latin letters with the accents of Spanish, Portuguese, French, German and Nordic names,
# punctuation, digits and a few characters from other scripts.
_NAME_CHARS = st.sampled_from(
    list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
    + list("áéíóúüñÁÉÍÓÚÜÑàèçãõâêôäöëïßæøœłđÆØŁİıÇ")
    + list(" -'.,;()/\t\u00a0")
    + list("ΣσДж日本ﬁ²①\u0301\u0303")
)
_NAMES = st.text(alphabet=_NAME_CHARS, max_size=30)


def _persons(**cols: list[str | None]) -> pl.DataFrame:
    n = len(next(iter(cols.values())))
    data = {"record_id": [str(i) for i in range(n)], **cols}
    return pl.DataFrame(data, schema={k: pl.String for k in data})


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("  Peña-Núñez, María de los Ángeles ", "pena nunez maria de los angeles"),
        ("GÜERO", "guero"),
        ("O'Connor", "o connor"),
        ("Strauß Ørsted", "strauss orsted"),
        ("", ""),
        (None, ""),
    ],
)
def test_fold(text: str | None, folded: str) -> None:
    assert fold(text) == folded


@settings(max_examples=200, deadline=None)
@given(st.lists(_NAMES, max_size=20))
def test_fold_expr_agrees_with_fold(texts: list[str]) -> None:
    got = pl.Series(texts, dtype=pl.String).to_frame("t").select(fold_expr(pl.col("t")))["t"]
    assert got.to_list() == [fold(t) for t in texts]


@settings(max_examples=150, deadline=None)
@given(st.lists(_NAMES, max_size=20))
def test_phonetic_expr_agrees_with_phonetic(texts: list[str]) -> None:
    got = pl.Series(texts, dtype=pl.String).to_frame("t").select(phonetic_expr(pl.col("t")))["t"]
    assert got.to_list() == [phonetic(t) for t in texts]


@settings(max_examples=300, deadline=None)
@given(_NAMES)
def test_fold_is_idempotent_and_keys_are_clean(text: str) -> None:
    assert fold(fold(text)) == fold(text)
    key = phonetic(text)
    assert key == key.strip() and "  " not in key
    assert set(key) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ ")


@pytest.mark.parametrize(
    "group",
    [
        ("González", "Gonsales", "Gonzales", "GONZALEZ"),
        ("Jiménez", "Giménez", "Ximénez", "Jimenes"),
        ("Vásquez", "Vazquez", "Basquez", "Básques"),
        ("Cifuentes", "Sifuentes"),
        ("Llanos", "Yanos"),
        ("Hernández", "Ernandes"),
        ("Guevara", "Guebara", "Guevarra"),
        ("Gerardo", "Jerardo"),
        ("Quiñónez", "Kiñones", "Quinonez"),
        ("Barrera", "Varrera", "Barera"),
        ("Ruiz", "Ruyz"),
        ("Zelaya", "Celaya", "Selaya"),
        ("Chávez", "Chaves"),
    ],
)
def test_spanish_spellings_share_a_key(group: tuple[str, ...]) -> None:
    keys = {phonetic(name) for name in group}
    assert len(keys) == 1, keys


@pytest.mark.parametrize(
    ("a", "b"),
    [("Pérez", "Paz"), ("Castro", "Castillo"), ("Chávez", "Sánchez"), ("Mejía", "Medina")],
)
def test_different_names_keep_different_keys(a: str, b: str) -> None:
    assert phonetic(a) != phonetic(b)


def test_hypocorisms_are_folded_and_canonical() -> None:
    assert HYPOCORISMS["pepe"] == "jose"
    assert HYPOCORISMS["chepe"] == "jose"
    assert HYPOCORISMS["pancho"] == "francisco"
    assert HYPOCORISMS["lupe"] == "guadalupe"
    assert HYPOCORISMS["chuy"] == "jesus"
    for nick, name in HYPOCORISMS.items():
        assert fold(nick) == nick and fold(name) == name
        assert name not in HYPOCORISMS, f"{nick} -> {name} maps to another nickname"


def test_output_columns_and_originals_kept() -> None:
    df = _persons(given_names=["José"], surname_1=["Pérez"])
    out = normalise_persons(df)
    assert out.columns == [*df.columns, *NORMALISED_COLUMNS]
    assert out.select(df.columns).equals(df)
    full = pl.DataFrame({c: ["x"] for c in PERSON_COLUMNS})
    assert normalise_persons(full).columns == [*PERSON_COLUMNS, *NORMALISED_COLUMNS]
    schema = normalise_persons(full).schema
    assert schema["dob_year"] == pl.Int16
    assert schema["dob_month"] == pl.Int8
    assert schema["dob_day"] == pl.Int8
    assert schema["aliases_n"] == pl.List(pl.String)


def test_given_names() -> None:
    out = normalise_persons(
        _persons(
            given_names=[
                "María de los Ángeles",
                "José de Jesús",
                "Pepe",
                "Ma. Guadalupe",
                "CHEMA",
                "  ",
                None,
                "Juan Pancho",
            ]
        )
    )
    assert out["given_n"].to_list() == [
        "maria angeles",
        "jose jesus",
        "jose",
        "maria guadalupe",
        "jose maria",
        None,
        None,
        "juan francisco",
    ]
    assert out["given_1"].to_list() == [
        "maria",
        "jose",
        "jose",
        "maria",
        "jose",
        None,
        None,
        "juan",
    ]
    assert out["given_2"].to_list() == [
        "angeles",
        "jesus",
        None,
        "guadalupe",
        "maria",
        None,
        None,
        "francisco",
    ]
    assert out["given_1_ph"].to_list()[:3] == ["MARIA", "JOSE", "JOSE"]


def test_surnames_particles_married_and_order() -> None:
    out = normalise_persons(
        _persons(
            surname_1=[
                "de la Cruz",
                "Pérez de López",
                "Ponce de León",
                "Pérez López",
                "Pérez-López",
                "San Martín",
                None,
                "Pérez",
                "De León",
            ],
            surname_2=[
                "Díaz",
                None,
                None,
                None,
                None,
                None,
                "Xol",
                "Viuda de Ruiz",
                "García de la Rosa",
            ],
        )
    )
    rows = out.select("surname_1_n", "surname_2_n", "married_n").rows()
    assert rows == [
        ("cruz", "diaz", None),
        ("perez", None, "lopez"),
        ("ponce leon", None, None),
        ("perez", "lopez", None),
        ("perez lopez", None, None),
        ("san martin", None, None),
        ("xol", None, None),
        ("perez", None, "ruiz"),
        ("leon", "garcia", "rosa"),
    ]
    assert out["surname_1_ph"].to_list()[0] == "KRUS"
    assert out["surname_2_ph"].to_list()[0] == "DIAS"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1985-03-02", (1985, 3, 2, "1985-03-02")),
        ("1985-3-2", (1985, 3, 2, "1985-03-02")),
        ("02/03/1985", (1985, 3, 2, "1985-03-02")),
        ("02-03-1985", (1985, 3, 2, "1985-03-02")),
        ("02.03.1985", (1985, 3, 2, "1985-03-02")),
        ("1985-03", (1985, 3, None, None)),
        ("03/1985", (1985, 3, None, None)),
        ("1985", (1985, None, None, None)),
        ("1985-00-00", (1985, None, None, None)),
        ("1985-02-30", (1985, 2, None, None)),
        ("2000-02-29", (2000, 2, 29, "2000-02-29")),
        ("1900-02-29", (1900, 2, None, None)),
        ("12/25/1990", (1990, 12, 25, "1990-12-25")),  # US order, unambiguous
        ("1985-03-02T10:00:00", (1985, 3, 2, "1985-03-02")),
        ("0085-03-02", (None, None, None, None)),
        ("unknown", (None, None, None, None)),
        ("", (None, None, None, None)),
        (None, (None, None, None, None)),
    ],
)
def test_dates_of_birth(text: str | None, expected: tuple[object, ...]) -> None:
    out = normalise_persons(_persons(date_of_birth=[text]))
    assert out.select("dob_year", "dob_month", "dob_day", "dob").row(0) == expected


def test_sex_countries_ids_aliases_municipality() -> None:
    out = normalise_persons(
        _persons(
            sex=["Hombre", "mujer", "F", "masculino", "X", None],
            national_id=["2589 14688 0101", "001-150385-0012V", "04621396-7", "1", None, "8-1-2"],
            id_country=["Guatemala", "NIC", "SV", None, "GT", "Panamá"],
            nationality=[
                "guatemalteca",
                "nicaragüense",
                "El Salvador",
                "Estados Unidos",
                None,
                "x",
            ],
            aliases=[
                "La Negra; Lupe",
                "alias El Chino o Pepito",
                "(a) Chucho",
                "a.k.a. Shorty | Flaco",
                None,
                "",
            ],
            municipality=["San José Pinula", None, "  ", "Cobán", None, None],
            date_of_birth=[None, "1985-03-15", None, None, None, None],
        )
    )
    assert out["sex_n"].to_list() == ["M", "F", "F", "M", None, None]
    assert out["id_country_n"].to_list() == ["GT", "NI", "SV", None, "GT", "PA"]
    assert out["id_n"].to_list() == [
        "2589146880101",
        "0011503850012V",
        "046213967",
        "1",
        None,
        "080001000002",
    ]
    assert out["id_status"].to_list() == [
        "valid",
        "valid",
        "check_failed",
        "unchecked",
        None,
        "valid",
    ]
    assert out["nationality_n"].to_list() == ["GT", "NI", "SV", "US", None, None]
    assert out["aliases_n"].to_list() == [
        ["negra", "lupe"],
        ["chino", "pepito"],
        ["chucho"],
        ["shorty", "flaco"],
        None,
        [],
    ]
    assert out["municipality_n"].to_list() == [
        "san jose pinula",
        None,
        None,
        "coban",
        None,
        None,
    ]
    # The NI cédula says 15/03/85, the record says 1985-03-15: no note; a different date: note.
    assert out["id_note"].to_list() == [None] * 6
    other = normalise_persons(
        _persons(national_id=["001-150385-0012V"], id_country=["NI"], date_of_birth=["1985-03-16"])
    )
    assert other["id_note"][0] == "birth date in the cédula (150385) differs from date_of_birth"


def test_empty_frame_and_missing_columns() -> None:
    out = normalise_persons(pl.DataFrame({"record_id": []}, schema={"record_id": pl.String}))
    assert out.height == 0
    assert out.columns == ["record_id", *NORMALISED_COLUMNS]
    only_ids = normalise_persons(pl.DataFrame({"record_id": ["a", "b"]}))
    assert only_ids["given_n"].to_list() == [None, None]
    assert only_ids["id_status"].to_list() == [None, None]


def test_normalising_twice_gives_the_same_columns() -> None:
    df = _persons(given_names=["Ma. José"], surname_1=["de León"], date_of_birth=["1/2/1990"])
    once = normalise_persons(df)
    twice = normalise_persons(once)
    assert twice.equals(once)


# --- the scalar (normalise_person) and vectorised (_normalise_frame) paths agree ---------------

_PIECES = {
    "given_names": [
        "María de los Ángeles",
        "José de Jesús",
        "Pepe",
        "Ma. Guadalupe",
        "CHEMA",
        "Juan  Pancho",
        "y",
        "de la",
        "Lupita",
        "Ñoño",
        "",
        " ",
        "Beto Ñ",
    ],
    "surname_1": [
        "de la Cruz",
        "Pérez de López",
        "Ponce de León",
        "Pérez López",
        "Pérez-López",
        "San Martín",
        "Viuda de Ruiz",
        "vda. de Díaz",
        "Pérez de la",
        "de",
        "Xol",
        "García Márquez de Paz",
        "",
    ],
    "surname_2": ["García", "de López", "Montes de Oca", "viuda de ", "Díaz Gómez", "", "de"],
    "date_of_birth": [
        "1985-03-02",
        "2/3/1985",
        "12/25/1990",
        "1985",
        "03/1985",
        "1985-00-00",
        "1900-02-29",
        "2000-02-29",
        "1985-13-13",
        "31/04/1990",
        "x",
        "",
        "1985-03-02T00:00",
        "99/99/9999",
    ],
    "sex": ["M", "f", "Hombre", "MUJER", "varón", "x", ""],
    "national_id": [
        "2589 14688 0101",
        "001-150385-0012V",
        "001-020385-0012V",
        "04621396-7",
        "8-123-4567",
        "1-234-567",
        "123",
        "",
    ],
    "id_country": ["GT", "Nicaragua", "SLV", "PA", "CR", "BZ", "México", "x", ""],
    "nationality": ["guatemalteca", "hondureño", "Costa Rica", "US", "zz", ""],
    "aliases": [
        "La Negra; Lupe",
        "alias El Chino o Pepito",
        "(a) Chucho",
        "a.k.a. Shorty | Flaco",
        "conocido como El Gato",
        "el",
        "",
        ";;",
    ],
    "municipality": ["San José Pinula", "Cobán", "  ", "Panamá"],
}


@st.composite
def _records(draw: st.DrawFn) -> dict[str, str | None]:
    record: dict[str, str | None] = {}
    for column, pieces in _PIECES.items():
        record[column] = draw(st.one_of(st.none(), st.sampled_from(pieces), _NAMES))
    return record


@settings(max_examples=60, deadline=None)
@given(st.lists(_records(), min_size=1, max_size=25))
def test_scalar_and_vectorised_paths_agree(records: list[dict[str, str | None]]) -> None:
    df = pl.DataFrame(
        [{"record_id": str(i), **r} for i, r in enumerate(records)],
        schema={c: pl.String for c in PERSON_COLUMNS if c != "address"},
    )
    vectorised = names._normalise_frame(df)
    scalar = pl.DataFrame(
        [normalise_person(r) for r in records], schema=names.NORMALISED_SCHEMA, orient="row"
    )
    for column in NORMALISED_COLUMNS:
        assert vectorised[column].to_list() == scalar[column].to_list(), column


def test_large_frames_take_the_vectorised_path() -> None:
    records = [
        {"given_names": g, "surname_1": s, "date_of_birth": d}
        for g, s, d in zip(
            _PIECES["given_names"], _PIECES["surname_1"], _PIECES["date_of_birth"], strict=False
        )
    ] * 3
    df = pl.DataFrame(records)
    assert df.height >= 16
    out = normalise_persons(df)
    one_by_one = pl.concat(normalise_persons(df.slice(i, 1)) for i in range(df.height))
    assert out.equals(one_by_one)


@pytest.mark.parametrize("rows", [1, 20])
def test_typed_columns_are_read_as_text(rows: int) -> None:
    # A CSV read with type inference gives dates and integers: a Honduran DNI loses its
    # leading zero, which the ID rule restores.
    df = pl.DataFrame(
        {
            "record_id": ["a"] * rows,
            "date_of_birth": [date(1985, 3, 2)] * rows,
            "national_id": [801199012345] * rows,
            "id_country": ["HN"] * rows,
        }
    )
    out = normalise_persons(df).row(0, named=True)
    assert (out["dob"], out["id_n"], out["id_status"]) == ("1985-03-02", "0801199012345", "valid")
