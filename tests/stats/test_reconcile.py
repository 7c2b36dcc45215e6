"""Reconciliation of victim lists: accuracy on a generator with known truth, and the tables."""

from __future__ import annotations

import itertools
from datetime import date

import polars as pl
import pytest

from safestreets.demo.homicide_lists import generate_homicide_lists
from safestreets.errors import InputError
from safestreets.stats.reconcile import (
    DEFAULT_THRESHOLD,
    Reconciliation,
    comparisons,
    evaluate,
    reconcile,
)

SOURCES = ("police", "forensic", "prosecutor")


@pytest.fixture(scope="module")
def big() -> tuple[dict[str, pl.DataFrame], pl.DataFrame, Reconciliation]:
    lists, truth = generate_homicide_lists(seed=11, victims=2000, sources=SOURCES)
    return lists, truth, reconcile(lists)


def test_precision_recall_and_count_at_default_settings(big) -> None:
    _, truth, recon = big
    ev = evaluate(recon, truth)
    assert ev["precision"] >= 0.98, ev
    assert ev["recall"] >= 0.98, ev
    assert abs(ev["count_error"]) <= 0.01 * ev["true_victims"], ev
    assert recon.summary["parameters"]["method"] == "estimated"
    assert recon.summary["threshold"] == DEFAULT_THRESHOLD


def test_hard_negatives_are_not_merged(big) -> None:
    lists, truth, recon = big
    # Distinct victims killed the same day in the same municipality, same sex (the
    # generator's double homicides): no consolidated victim may hold records of both.
    forensic = lists["forensic"].join(truth, on=["source", "record_id"])
    twins = forensic.join(forensic, on=["date_of_death", "admin2", "sex"], suffix="_b").filter(
        pl.col("victim_id") < pl.col("victim_id_b")
    )
    assert twins.height >= 20
    groups = (
        recon.membership.join(truth, on=["source", "record_id"])
        .group_by("consolidated_id")
        .agg(pl.col("victim_id").unique())
    )
    together = {(a, b) for ids in groups["victim_id"].to_list() for a in ids for b in ids if a < b}
    pairs = set(twins.select("victim_id", "victim_id_b").iter_rows())
    assert len(pairs & together) <= 0.02 * len(pairs), sorted(pairs & together)


def test_one_record_per_source_and_every_record_once(big) -> None:
    lists, _, recon = big
    m = recon.membership
    assert m.height == sum(f.height for f in lists.values())
    assert m.select(pl.struct("source", "record_id").is_unique().all()).item()
    per = m.group_by("consolidated_id", "source").len()
    assert per["len"].max() == 1
    c = recon.consolidated
    assert c.height == m["consolidated_id"].n_unique()
    for s in SOURCES:
        ids = c[f"{s}_record_id"].drop_nulls()
        assert ids.len() == lists[s].height
        assert set(ids.to_list()) == set(lists[s]["record_id"].to_list())
    sizes = c["sources"].str.split("+").list.len()
    assert (sizes == c["n_sources"]).all()
    assert (
        c.filter(pl.col("n_sources") == 1)["match_probability"].null_count()
        == c.filter(pl.col("n_sources") == 1).height
    )


def test_agreement_table_accounting(big) -> None:
    lists, _, recon = big
    a = recon.agreement
    patterns = ["all_sources"] + [
        f"{c[0]}_only" if k == 1 else "+".join(c)
        for k in (1, 2)
        for c in itertools.combinations(SOURCES, k)
    ]
    assert a.columns[:3] == ["country", "admin1", "month"]
    assert all(p in a.columns for p in patterns)
    # Per area-month: the patterns partition the consolidated victims ...
    assert (a.select(pl.sum_horizontal(patterns)).to_series() == a["consolidated"]).all()
    for s in SOURCES:
        with_s = [
            p for p in patterns if p == "all_sources" or s in p.replace("_only", "").split("+")
        ]
        # ... and the patterns that include a source add up to that source's records there.
        assert (a.select(pl.sum_horizontal(with_s)).to_series() == a[f"n_{s}"]).all(), s
        assert a[f"n_{s}"].sum() == lists[s].height
        # What each source reports by its own date and place adds up to its valid rows.
        assert a[f"reported_{s}"].sum() == lists[s].height
    assert a["consolidated"].sum() == recon.consolidated.height
    assert a["month"].drop_nulls().str.contains(r"^\d{4}-\d{2}$").all()


def test_consolidated_fields_prefer_forensic(big) -> None:
    lists, _, recon = big
    f = lists["forensic"].select(
        pl.col("record_id").alias("forensic_record_id"), pl.col("date_of_death").alias("fd")
    )
    c = recon.consolidated.join(f, on="forensic_record_id")
    assert (c["date_of_death"] == c["fd"]).all()
    assert set(recon.consolidated["sex"].unique().to_list()) <= {"male", "female", "unknown"}


def test_review_pairs_are_near_the_threshold(big) -> None:
    _, _, recon = big
    r = recon.review
    assert r.height > 0
    near = r.filter(pl.col("reason") == "near the threshold")
    band = recon.summary["review_band"]
    assert ((near["match_probability"] - DEFAULT_THRESHOLD).abs() <= band + 1e-9).all()
    for col in ("date_of_death_l", "date_of_death_r", "cmp_date", "surnames_l", "surnames_r"):
        assert col in r.columns
    flagged = set(recon.consolidated.filter("needs_review")["consolidated_id"].to_list())
    assert set(near["consolidated_id_l"].to_list()) <= flagged


def test_threshold_is_settable() -> None:
    lists, truth = generate_homicide_lists(seed=3, victims=400, sources=("police", "forensic"))
    low = reconcile(lists, threshold=0.1)
    high = reconcile(lists, threshold=0.99)
    assert low.consolidated.height <= high.consolidated.height
    assert evaluate(high, truth)["precision"] >= 0.99
    assert high.summary["threshold"] == 0.99


def test_tiny_lists_use_the_priors() -> None:
    lists, truth = generate_homicide_lists(seed=5, victims=30, sources=("police", "forensic"))
    recon = reconcile(lists)
    ev = evaluate(recon, truth)
    assert recon.summary["parameters"]["method"] == "priors"
    assert any("priors" in n for n in recon.summary["notes"])
    assert ev["precision"] >= 0.9 and ev["recall"] >= 0.9, ev
    # Same inputs, same result.
    assert reconcile(lists).consolidated.equals(recon.consolidated)


def test_lists_without_names() -> None:
    lists, truth = generate_homicide_lists(seed=7, victims=1000, names=False)
    for f in lists.values():
        assert f["surnames"].drop_nulls().filter(f["surnames"].drop_nulls() != "NN").len() == 0
    recon = reconcile(lists)
    ev = evaluate(recon, truth)
    # Without names, victims of the same day and place cannot always be told apart.
    assert ev["precision"] >= 0.95 and ev["recall"] >= 0.9, ev
    assert any("names" in n for n in recon.summary["notes"])


def _record(source: str, rid: str, **kw: object) -> dict[str, object]:
    base: dict[str, object] = {
        "source": source,
        "record_id": rid,
        "date_of_death": date(2024, 3, 1),
        "country": "SV",
        "admin1": "SV-SS",
        "admin2": "SV.10.12954160",
        "place": "San Salvador Centro",
        "sex": "male",
        "age": 24,
        "given_names": "José Luis",
        "surnames": "Hernández López",
        "case_number": None,
    }
    return {**base, **kw}


def test_a_source_never_appears_twice_in_a_victim() -> None:
    # The police list holds the same victim twice: only one can join the forensic record,
    # and the other is put up for review.
    rows = [
        _record("police", "P1"),
        _record("police", "P2", given_names="JOSE LUIS"),
        _record("forensic", "F1", case_number="A-1"),
        _record("forensic", "F2", date_of_death=date(2024, 5, 9), given_names="Ana", sex="female"),
    ]
    recon = reconcile(pl.DataFrame(rows))
    per = recon.membership.group_by("consolidated_id", "source").len()
    assert per["len"].max() == 1
    assert recon.consolidated.height == 3
    assert recon.review.filter(pl.col("reason").str.contains("already")).height >= 1
    assert recon.consolidated["needs_review"].sum() >= 1


def test_missing_names_neither_help_nor_hurt() -> None:
    names = comparisons()
    given = next(c for c in names if c.name == "given_names")
    assert given.levels[0].m is None  # the null level carries no weight
    assert given.label(-1) == "missing"
    assert given.label(len(given.scored) - 1) == "same"
    assert given.label(0) == "differ"


def test_bad_inputs_raise_input_error() -> None:
    one = pl.DataFrame([_record("police", "P1")])
    with pytest.raises(InputError, match="two sources"):
        reconcile(one)
    dup = pl.DataFrame([_record("police", "P1"), _record("police", "P1"), _record("x", "1")])
    with pytest.raises(InputError, match="more than once"):
        reconcile(dup)
    two = pl.DataFrame([_record("police", "P1"), _record("forensic", "F1")])
    with pytest.raises(InputError, match="threshold"):
        reconcile(two, threshold=1.5)
    with pytest.raises(InputError, match="lacks column"):
        reconcile(two.drop("date_of_death"))


def test_evaluate_counts_pairs_and_victims() -> None:
    membership = pl.DataFrame(
        {
            "source": ["a", "b", "a", "b"],
            "record_id": ["1", "1", "2", "2"],
            "consolidated_id": ["V1", "V1", "V2", "V3"],
        }
    )
    consolidated = pl.DataFrame(
        {"consolidated_id": ["V1", "V2", "V3"], "needs_review": [False, True, False]}
    )
    recon = Reconciliation(
        consolidated=consolidated,
        agreement=pl.DataFrame(),
        review=pl.DataFrame(),
        rejected=pl.DataFrame(),
        membership=membership,
        pairs=pl.DataFrame(),
        sources=("a", "b"),
    )
    truth = membership.select("source", "record_id").with_columns(victim_id=pl.Series([1, 1, 2, 2]))
    ev = evaluate(recon, truth)
    assert ev["precision"] == 1.0
    assert ev["recall"] == 0.5
    assert ev["count_error"] == 1.0
    assert ev["errors_flagged"] == 1.0
