"""The comparisons: SQL and Python agree, the Spanish cases land on the right levels, and the
match model scores, serialises and refuses what it cannot use."""

from __future__ import annotations

import json
import math
import random
from typing import Any

import duckdb
import polars as pl
import pytest
from rapidfuzz.distance import JaroWinkler

from safestreets.demo.persons import generate_persons
from safestreets.errors import InputError
from safestreets.sharing import comparisons as C
from safestreets.sharing.linkage import prepare


def _records(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    frame = prepare(pl.DataFrame(rows, infer_schema_length=None))
    return {r["record_id"]: r for r in frame.iter_rows(named=True)}


# Hand-made records of the cases Hispanic names bring; ids pair a record with its twin.
HAND = _records(
    [
        # hypocorism: Pepe is José
        dict(
            record_id="jose",
            given_names="José",
            surname_1="Pérez",
            surname_2="García",
            date_of_birth="1980-03-12",
            sex="M",
        ),
        dict(
            record_id="pepe",
            given_names="Pepe",
            surname_1="Perez",
            surname_2="Garcia",
            date_of_birth="12/03/1980",
            sex="H",
        ),
        # swapped surnames and day/month swapped
        dict(
            record_id="ana",
            given_names="Ana",
            surname_1="Ramírez",
            surname_2="Cruz",
            date_of_birth="1990-05-07",
            sex="F",
        ),
        dict(
            record_id="ana_swapped",
            given_names="Ana",
            surname_1="Cruz",
            surname_2="Ramírez",
            date_of_birth="1990-07-05",
            sex="F",
        ),
        # a married name: maiden, with "de" + husband's surname, then the husband's alone
        dict(
            record_id="rosa",
            given_names="Rosa",
            surname_1="Méndez",
            surname_2="García",
            date_of_birth="1968-01-20",
            sex="F",
        ),
        dict(
            record_id="rosa_de",
            given_names="Rosa",
            surname_1="Méndez de López",
            date_of_birth="1968-01-20",
            sex="F",
        ),
        dict(
            record_id="rosa_lopez",
            given_names="Rosa",
            surname_1="López",
            date_of_birth="1968-01-20",
            sex="F",
        ),
        # swapped given names, an alias, a national id with a typo
        dict(
            record_id="luis",
            given_names="Luis Alberto",
            surname_1="Soto",
            national_id="1234567",
            aliases="El Flaco",
            date_of_birth="1975",
        ),
        dict(
            record_id="alberto",
            given_names="Alberto Luis",
            surname_1="Soto",
            national_id="1234576",
            aliases="el flaco; Beto Soto",
        ),
        dict(record_id="beto", given_names="Beto", surname_1="Soto", aliases="Luis Soto"),
    ]
)


def _level(comp: C.Comparison, a: str, b: str) -> str:
    return comp.levels[comp.level_of(HAND[a], HAND[b])].label


def test_hypocorism_is_the_same_given_name() -> None:
    assert _level(C.GIVEN_NAMES, "jose", "pepe") == "exact"
    assert _level(C.DATE_OF_BIRTH, "jose", "pepe") == "exact"
    assert _level(C.SEX, "jose", "pepe") == "exact"


def test_swapped_surnames_and_day_month() -> None:
    assert _level(C.SURNAME_1, "ana", "ana_swapped") == "swapped_or_married"
    assert _level(C.SURNAME_2, "ana", "ana_swapped") == "swapped"
    assert _level(C.DATE_OF_BIRTH, "ana", "ana_swapped") == "day_month_swapped"


def test_married_name() -> None:
    assert _level(C.SURNAME_1, "rosa", "rosa_de") == "exact"
    assert _level(C.SURNAME_2, "rosa", "rosa_de") == "null"  # no evidence either way
    assert _level(C.SURNAME_1, "rosa_de", "rosa_lopez") == "swapped_or_married"
    assert _level(C.SURNAME_1, "rosa", "ana") == "else"


def test_given_swap_alias_and_id_typo() -> None:
    assert _level(C.GIVEN_NAMES, "luis", "alberto") == "given_swapped"
    assert _level(C.ALIASES, "luis", "alberto") == "shared_alias"
    assert _level(C.ALIASES, "luis", "beto") == "alias_is_name"
    assert _level(C.NATIONAL_ID, "luis", "alberto") == "damerau_levenshtein_1"
    assert _level(C.NATIONAL_ID, "luis", "beto") == "null"
    assert _level(C.DATE_OF_BIRTH, "luis", "jose") == "else"
    assert _level(C.DATE_OF_BIRTH, "luis", "alberto") == "null"


def _sql_levels(pairs: list[tuple[dict[str, Any], dict[str, Any]]]) -> pl.DataFrame:
    """Each comparison's level index for each pair, computed by DuckDB from the SQL."""
    left = pl.DataFrame([a for a, _ in pairs], infer_schema_length=None)
    right = pl.DataFrame([b for _, b in pairs], infer_schema_length=None)
    both = pl.concat(
        [left.rename(lambda c: f"{c}_l"), right.rename(lambda c: f"{c}_r")], how="horizontal"
    )
    cases = []
    for comp in C.PERSON_COMPARISONS:
        whens = " ".join(f"WHEN {lv.sql} THEN {i}" for i, lv in enumerate(comp.levels[:-1]))
        cases.append(f"CASE {whens} ELSE {len(comp.levels) - 1} END AS {comp.name}")
    con = duckdb.connect()
    con.register("pairs", both.to_arrow())
    out = pl.from_arrow(con.sql(f"SELECT {', '.join(cases)} FROM pairs").to_arrow_table())
    assert isinstance(out, pl.DataFrame)
    return out


def test_sql_and_python_levels_agree() -> None:
    records, truth = generate_persons(300, seed=11)
    frame = prepare(records)
    rows = {r["record_id"]: r for r in frame.iter_rows(named=True)}
    dupes = truth.join(truth, on="entity_id").filter(
        pl.col("record_id") < pl.col("record_id_right")
    )
    pairs = [(rows[a], rows[b]) for a, b in dupes.select("record_id", "record_id_right").rows()]
    rng = random.Random(3)
    ids = list(rows)
    pairs += [(rows[rng.choice(ids)], rows[rng.choice(ids)]) for _ in range(300)]
    hand = list(HAND.values())
    pairs += [(a, b) for a in hand for b in hand]
    assert len(dupes) > 50
    sql = _sql_levels(pairs)
    for comp in C.PERSON_COMPARISONS:
        py = [comp.level_of(a, b) for a, b in pairs]
        assert sql[comp.name].to_list() == py, comp.name
        # the pairs reach more than the null and else levels
        assert len(set(py)) >= 3, comp.name


def test_damerau_filter_keeps_the_exact_distance() -> None:
    """The cheap prefilter before DuckDB's damerau_levenshtein loses no pair."""
    rng = random.Random(5)
    pairs = []
    for _ in range(3000):
        a = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 9)))
        b = list(a)
        op = rng.randrange(4)
        p = rng.randrange(len(b))
        if op == 0:
            b[p] = rng.choice("0123456789")
        elif op == 1:
            del b[p]
        elif op == 2:
            b.insert(p, rng.choice("0123456789"))
        elif p + 1 < len(b):
            b[p], b[p + 1] = b[p + 1], b[p]
        pairs.append(({"x": a}, {"x": "".join(b) or None}))
    cond = C.damerau_1("x")
    con = duckdb.connect()
    con.register(
        "t",
        pl.DataFrame(
            {"x_l": [a["x"] for a, _ in pairs], "x_r": [b["x"] for _, b in pairs]}
        ).to_arrow(),
    )
    got = [bool(v) for (v,) in con.sql(f"SELECT coalesce({cond.sql}, false) FROM t").fetchall()]
    want = [cond.test(a, b) for a, b in pairs]
    assert got == want
    assert sum(want) > 2500  # nearly all are one edit apart


def test_jaro_winkler_matches_duckdb() -> None:
    """RapidFuzz and DuckDB agree on names (they differ only on two empty strings)."""
    names = [
        "hernandez",
        "fernandez",
        "gonzalez",
        "gonsales",
        "maria",
        "mariana",
        "jose",
        "josue",
        "lopez",
        "lopes",
        "ramirez",
        "ramires",
        "cruz",
        "kruz",
        "a",
    ]
    con = duckdb.connect()
    for a in names:
        for b in names:
            duck = con.execute("SELECT jaro_winkler_similarity(?, ?)", [a, b]).fetchone()
            assert duck is not None
            assert math.isclose(duck[0], JaroWinkler.normalized_similarity(a, b), abs_tol=1e-12)


def test_default_model_weighs_evidence() -> None:
    model = C.default_model()
    same = model.score(HAND["jose"], HAND["pepe"])
    other = model.score(HAND["jose"], HAND["ana"])
    assert same.probability > 0.99 and other.probability < 0.001
    assert "given_names" in same.agreeing and "date_of_birth" in same.agreeing
    assert other.agreeing == ()
    # match weight: prior log-odds plus the level weights; probability from it
    assert math.isclose(same.probability, 2**same.match_weight / (1 + 2**same.match_weight))


def test_a_failed_check_digit_weighs_less_than_a_valid_id() -> None:
    labels = [lv.label for lv in C.NATIONAL_ID.levels]
    valid, failed = labels.index("exact_valid"), labels.index("exact_check_failed")
    default = C.default_model().weights["national_id"]
    assert default[failed] < default[valid] - 1
    # even when training says otherwise, the rule holds
    m = {n: [lv.m for lv in C.comparisons_by_name()[n].levels] for n in ["national_id"]}
    u = {n: [lv.u for lv in C.comparisons_by_name()[n].levels] for n in ["national_id"]}
    m["national_id"][failed], u["national_id"][failed] = 0.9, 1e-9
    trained = C.model_from_m_u(1e-4, m, u).weights["national_id"]
    assert trained[failed] <= trained[valid] - 1
    valid_rec = {"id_n": "1234567890101", "id_status": "valid"}
    failed_rec = {"id_n": "1234567890101", "id_status": "check_failed"}
    assert C.NATIONAL_ID.level_of(valid_rec, valid_rec) == valid
    assert C.NATIONAL_ID.level_of(valid_rec, failed_rec) == failed


def test_model_json_round_trip_and_refusals() -> None:
    model = C.default_model(extra=["postcode"], prior=2e-4)
    back = C.MatchModel.from_json(model.to_json())
    assert back.prior == 2e-4 and back.extra == ("postcode",)
    assert back.weights.keys() == model.weights.keys()
    for name, weights in model.weights.items():
        assert back.weights[name] == pytest.approx(weights, abs=1e-6)
    a, b = HAND["jose"], HAND["pepe"]
    assert back.score(a, b).match_weight == pytest.approx(model.score(a, b).match_weight)
    with pytest.raises(InputError, match="not a match model"):
        C.MatchModel.from_json("{}")
    doc = json.loads(model.to_json())
    doc["comparisons"][0]["levels"] = ["null", "else"]
    with pytest.raises(InputError, match="does not fit"):
        C.MatchModel.from_json(json.dumps(doc))
    doc = json.loads(model.to_json())
    doc["prior"] = 2
    with pytest.raises(InputError, match="not a probability"):
        C.MatchModel.from_json(json.dumps(doc))


def test_levels_start_null_and_end_else() -> None:
    for comp in C.PERSON_COMPARISONS:
        assert comp.levels[0].label == "null" and comp.levels[-1].sql == C.ELSE_SQL
        assert all(lv.m is not None and lv.u is not None for lv in comp.levels[1:])
        spec = comp.splink()
        assert spec["comparison_levels"][0]["is_null_level"] is True
        assert spec["output_column_name"] == comp.name
