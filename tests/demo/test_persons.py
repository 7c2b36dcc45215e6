"""Synthetic persons: shape, determinism, realistic names and IDs, and the documented errors."""

from __future__ import annotations

import inspect
import math
from collections import Counter
from datetime import date

import polars as pl
import pytest

from safestreets.demo import persons as mod
from safestreets.demo.persons import ERROR_KINDS, PersonErrors, generate_persons, name_pools
from safestreets.errors import InputError
from safestreets.schema import PERSON_COLUMNS
from safestreets.sharing import ids
from safestreets.sharing.names import fold_expr, normalise_persons

N = 40_000
RATE = 0.5  # many duplicates, so that the rare errors are counted often enough
REF = date(2025, 1, 1)


@pytest.fixture(scope="module")
def data() -> tuple[pl.DataFrame, pl.DataFrame]:
    return generate_persons(N, seed=3, duplicate_rate=RATE, with_errors=True)


@pytest.fixture(scope="module")
def pairs(data: tuple[pl.DataFrame, pl.DataFrame]) -> pl.DataFrame:
    """Each duplicate beside its entity's first record (columns of the first end in _o)."""
    records, truth = data
    full = records.join(truth, on="record_id")
    first = full.filter(pl.col("is_first")).drop("is_first", "errors", "record_id")
    dups = full.filter(~pl.col("is_first"))
    out = dups.join(first, on="entity_id", suffix="_o")
    assert out.height == dups.height
    return out.with_columns(kinds=pl.col("errors").str.split(","))


def has(kind: str) -> pl.Expr:
    return pl.col("kinds").list.contains(kind)


def test_columns_and_ids(data: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    records, truth = data
    assert tuple(records.columns) == PERSON_COLUMNS
    assert all(dt == pl.String for dt in records.dtypes)
    assert records.height == N
    assert records["record_id"].n_unique() == N
    assert records["record_id"].null_count() == 0
    assert truth["record_id"].to_list() == records["record_id"].to_list()
    assert truth.schema["entity_id"] == pl.Int64


def test_truth_columns_by_default() -> None:
    records, truth = generate_persons(50, seed=1)
    assert truth.columns == ["record_id", "entity_id"]
    assert records.height == 50


def test_deterministic() -> None:
    a = generate_persons(3_000, seed=5)
    b = generate_persons(3_000, seed=5)
    c = generate_persons(3_000, seed=6)
    assert a[0].equals(b[0]) and a[1].equals(b[1])
    assert not a[0].equals(c[0])


def test_duplicate_rate_is_the_one_asked(data: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    _, truth = data
    n_entities = truth["entity_id"].n_unique()
    assert n_entities == N - round(N * RATE)
    assert truth["is_first"].sum() == n_entities
    sizes = truth.group_by("entity_id").len()["len"]
    assert sizes.max() >= 4  # clusters of several records, not only pairs
    _, t0 = generate_persons(1_000, seed=2, duplicate_rate=0.0)
    assert t0["entity_id"].n_unique() == 1_000


def test_bad_arguments() -> None:
    with pytest.raises(InputError):
        generate_persons(-1)
    with pytest.raises(InputError):
        generate_persons(10, duplicate_rate=1.0)
    with pytest.raises(InputError):
        PersonErrors(typo=1.5)


def test_names_come_from_the_faker_pools_with_sex(data: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    records, truth = data
    pools = name_pools()
    first = records.join(truth, on="record_id").filter(pl.col("is_first"))
    compounds = {c for cs in mod._FIXED_COMPOUNDS.values() for c in cs}
    male, female = set(pools.male.names), set(pools.female.names)
    surnames = set(pools.surnames.names)
    assert not male & female
    for given, s1, s2, sex in first.select("given_names", "surname_1", "surname_2", "sex").rows():
        assert s1 in surnames and (s2 is None or s2 in surnames)
        if given in compounds:
            continue
        tokens = given.split(" ")
        assert 1 <= len(tokens) <= 2
        assert set(tokens) <= (male if sex == "M" else female), (given, sex)


def test_frequencies_are_skewed(data: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    records, _ = data
    top = records["surname_1"].value_counts(sort=True)["surname_1"].head(5).to_list()
    assert {"Hernández", "López", "García"} <= set(top)
    first_given = records["given_names"].str.split(" ").list.first().value_counts(sort=True)
    assert set(first_given["given_names"].head(3)) & {"José", "María", "Juan"}
    # Zipf-like: the commonest surname is far commoner than the median one.
    counts = records["surname_1"].value_counts()["count"]
    assert counts.max() > 50 * counts.median()


def test_dates_of_birth(data: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    records, truth = data
    first = records.join(truth, on="record_id").filter(pl.col("is_first"))
    dob = first["date_of_birth"]
    full = dob.drop_nulls().filter(dob.drop_nulls().str.len_chars() == 10).str.to_date()
    ages = (pl.Series([REF] * full.len()) - full).dt.total_days() / 365.2425
    assert ages.min() >= 14 and ages.max() < 81
    assert 20 < ages.median() < 40  # police records: young adults
    year_only = dob.drop_nulls().str.len_chars() == 4
    assert 0.015 < year_only.mean() < 0.05  # type: ignore[operator]


def test_every_generated_id_is_valid(data: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    records, truth = data
    first = records.join(truth, on="record_id").filter(pl.col("is_first"))
    rows = first.select("id_country", "national_id").drop_nulls().rows()
    assert len(rows) > 0.7 * first.height
    status = Counter((c, ids.check_id(c, v).status) for c, v in rows)
    assert {s for _, s in status} == {"valid"}, status
    assert {c for c, _ in status} == {"GT", "SV", "HN", "NI", "CR", "PA", "BZ"}


def _within(hits: int, eligible: int, p: float) -> bool:
    """Binomial count within 4.5 standard deviations of its expectation."""
    sd = math.sqrt(eligible * p * (1 - p))
    return abs(hits - eligible * p) <= 4.5 * sd + 2


def test_each_error_occurs_at_its_rate(pairs: pl.DataFrame) -> None:
    e = PersonErrors()
    accent = r"[áéíóúüñÁÉÍÓÚÜÑ]"
    dob_o = pl.col("date_of_birth_o")
    full_o = dob_o.str.len_chars() == 10
    day_o = dob_o.str.slice(8, 2).cast(pl.Int32, strict=False)
    month_o = dob_o.str.slice(5, 2).cast(pl.Int32, strict=False)
    compounds = [c for cs in mod._FIXED_COMPOUNDS.values() for c in cs]
    # Where each kind applies, judged on the entity's first record (a subset where the
    # eligibility also depends on earlier errors).
    everyone = pl.col("record_id").is_not_null()  # (a literal True fails to broadcast here)
    eligible: dict[str, pl.Expr] = {
        "hypocorism": everyone,  # checked below among names with a nickname
        "swap_given": pl.col("given_names_o").str.contains(" ")
        & ~pl.col("given_names_o").is_in(compounds)
        & ~has("hypocorism"),
        "swap_surnames": pl.col("surname_2_o").is_not_null(),
        "drop_surname_2": pl.col("surname_2_o").is_not_null(),
        "married_name": (pl.col("sex_o") == "F")
        & (dob_o.str.slice(0, 4).cast(pl.Int32, strict=False) <= REF.year - 18),
        "phonetic": pl.col("surname_1_o").str.contains("z|v|b|ll|c[ei]")
        & pl.col("surname_2_o").str.contains("z|v|b|ll|c[ei]"),
        "accents_lost": pl.col("surname_1_o").str.contains(accent),
        "typo": everyone,
        "upper_case": everyone,
        "swap_day_month": full_o & (day_o <= 12) & (day_o != month_o),
        "dob_year_only": full_o,
        "dob_missing": dob_o.is_not_null(),
        "dob_format": full_o & ~has("dob_year_only") & ~has("dob_missing"),
        "missing_id": pl.col("national_id_o").is_not_null(),
        "id_typo": pl.col("national_id_o").is_not_null() & ~has("missing_id"),
        "id_format": pl.col("national_id_o").str.contains("[^0-9A-Z]") & ~has("missing_id"),
        "sex_missing": everyone,
        "alias_dropped": pl.col("aliases_o").is_not_null(),
        "moved": everyone,
    }
    assert set(eligible) == set(ERROR_KINDS)
    single, _ = mod._nicknames()
    first_key = fold_expr(pl.col("given_names_o").str.split(" ").list.first())
    eligible["hypocorism"] = first_key.is_in(list(single))
    for kind, where in eligible.items():
        sub = pairs.filter(where.fill_null(False))
        hits = int(sub.select(has(kind).sum()).item())
        p = getattr(e, kind)
        assert sub.height > 200, kind
        assert _within(hits, sub.height, p), (kind, hits, sub.height, p)
        # Nowhere else.
        outside = pairs.filter(~where.fill_null(False)).select(has(kind).sum()).item()
        if kind not in {"swap_given", "phonetic", "accents_lost", "hypocorism"}:
            assert outside == 0, (kind, outside)


def test_errors_do_what_they_say(pairs: pl.DataFrame) -> None:
    def rows(*kinds: str, without: tuple[str, ...] = ()) -> pl.DataFrame:
        cond = pl.lit(True)
        for k in kinds:
            cond &= has(k)
        for k in without:
            cond &= ~has(k)
        out = pairs.filter(cond)
        assert out.height > 20, kinds
        return out

    assert rows("missing_id")["national_id"].null_count() == rows("missing_id").height
    r = rows("drop_surname_2", without=("married_name",))
    assert r["surname_2"].null_count() == r.height
    r = rows("married_name", without=("upper_case", "accents_lost", "typo", "phonetic"))
    assert r["surname_2"].str.contains(r"(^| )de [A-ZÁÉÍÓÚÑ]").all()
    r = rows("upper_case")
    assert (r["given_names"] == r["given_names"].str.to_uppercase()).all()
    assert rows("dob_missing")["date_of_birth"].null_count() == rows("dob_missing").height
    assert (rows("dob_year_only")["date_of_birth"].str.len_chars() == 4).all()
    r = rows("swap_day_month", without=("dob_year_only", "dob_missing", "dob_format"))
    o = r["date_of_birth_o"]
    assert (
        r["date_of_birth"] == o.str.slice(0, 5) + o.str.slice(8, 2) + "-" + o.str.slice(5, 2)
    ).all()
    assert rows("dob_format")["date_of_birth"].str.contains(r"^\d\d/\d\d/\d{4}$").all()
    assert rows("sex_missing")["sex"].null_count() == rows("sex_missing").height
    r = rows("accents_lost", without=("upper_case", "typo"))
    assert not r["given_names"].str.contains(r"[áéíóúüñÁÉÍÓÚÜÑ]").any()
    r = rows("id_typo", without=("id_format",))
    assert (r["national_id"] != r["national_id_o"]).all()
    assert (r["national_id"].str.len_chars() == r["national_id_o"].str.len_chars()).all()
    r = rows("hypocorism", without=("swap_given",))
    first = r["given_names"].str.split(" ").list.first()
    assert (first != r["given_names_o"].str.split(" ").list.first()).all()
    clean = pairs.filter(pl.col("errors") == "")
    assert clean.height > 100
    for c in ("given_names", "surname_1", "surname_2", "date_of_birth", "national_id"):
        assert clean[c].equals(clean[f"{c}_o"], null_equal=True), c
    n_typo = rows("typo", without=("hypocorism", "swap_given", "phonetic", "accents_lost"))
    changed = (
        (n_typo["given_names"] != n_typo["given_names_o"])
        | (n_typo["surname_1"] != n_typo["surname_1_o"])
        | (n_typo["surname_2"].fill_null("") != n_typo["surname_2_o"].fill_null(""))
    )
    assert changed.mean() > 0.9  # type: ignore[operator]


def test_nothing_copied_from_real_data() -> None:
    # The generator reads no data files: names come from Faker (checked above), places and
    # populations from the package's reference tables.
    source = inspect.getsource(mod)
    assert "/work/shared" not in source and "shared/data" not in source
    assert "open(" not in source and "read_csv" not in source


FORMAT_ONLY = ("accents_lost", "upper_case", "dob_format", "moved", "alias_dropped", "sex_missing")


def test_format_variations_vanish_in_normalisation(
    data: tuple[pl.DataFrame, pl.DataFrame],
) -> None:
    """Duplicates whose only differences are of writing normalise to their first record."""
    records, truth = data
    norm = normalise_persons(records).join(truth, on="record_id")
    first = norm.filter(pl.col("is_first")).drop("errors", "is_first", "record_id")
    dups = norm.filter(~pl.col("is_first")).join(first, on="entity_id", suffix="_o")
    kinds = pl.col("errors").str.split(",")
    only = dups.filter(kinds.list.eval(pl.element().is_in(FORMAT_ONLY)).list.all())
    assert only.height > 1_000
    for c in ("given_n", "surname_1_n", "surname_2_n", "married_n", "dob", "given_1_ph"):
        differ = only.filter(~pl.col(c).eq_missing(pl.col(f"{c}_o")))
        assert differ.height == 0, (c, differ.select(c, f"{c}_o").head(3).rows())
    # A nickname alone comes back to the given name.
    nick = dups.filter(pl.col("errors") == "hypocorism")
    assert nick.height > 30
    assert (nick["given_n"] == nick["given_n_o"]).all()
