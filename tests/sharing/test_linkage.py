"""Batch linking and deduplication with Splink on a few hundred records."""

from __future__ import annotations

import polars as pl
import pytest

from safestreets.demo.persons import generate_persons
from safestreets.errors import InputError
from safestreets.sharing import linkage
from safestreets.sharing.comparisons import MatchModel, default_model


@pytest.fixture(scope="module")
def people() -> tuple[pl.DataFrame, pl.DataFrame]:
    return generate_persons(400, seed=2)


@pytest.fixture(scope="module")
def model(people: tuple[pl.DataFrame, pl.DataFrame]) -> MatchModel:
    return linkage.train(people[0], seed=1)


def _true_pairs(truth: pl.DataFrame) -> set[tuple[str, str]]:
    same = truth.join(truth, on="entity_id").filter(pl.col("record_id") < pl.col("record_id_right"))
    return set(same.select("record_id", "record_id_right").iter_rows())


def test_train_fits_every_comparison(model: MatchModel) -> None:
    assert 0 < model.prior < 0.05
    for comp in model.comparisons:
        weights = model.weights[comp.name]
        assert len(weights) == len(comp.levels) and weights[0] == 0.0
    # agreement on a name or date is evidence for, disagreement against
    for name in ("given_names", "surname_1", "date_of_birth"):
        assert model.weights[name][1] > 3 and model.weights[name][-1] < 0


def test_dedupe_finds_the_duplicates(
    people: tuple[pl.DataFrame, pl.DataFrame], model: MatchModel
) -> None:
    records, truth = people
    pairs, clusters = linkage.dedupe(records, model=model)
    assert pairs.columns == ["id_1", "id_2", "match_probability", "match_weight", "agreeing"]
    found = set(pairs.select("id_1", "id_2").iter_rows())
    true = _true_pairs(truth)
    tp = len(found & true)
    precision, recall = tp / len(found), tp / len(true)
    assert precision > 0.97 and recall > 0.9, (precision, recall)
    assert (pairs["id_1"] < pairs["id_2"]).all()
    assert (pairs["match_probability"] >= 0.5).all()
    assert pairs["agreeing"].str.contains("given_names").mean() > 0.9  # type: ignore[operator]
    # every record once; the cluster id is its smallest member; sizes are right
    assert sorted(clusters["record_id"].to_list()) == sorted(records["record_id"].to_list())
    check = clusters.group_by("cluster_id").agg(
        pl.col("record_id").min().alias("low"), pl.len().alias("n"), pl.col("cluster_size").first()
    )
    assert (check["low"] == check["cluster_id"]).all()
    assert (check["n"] == check["cluster_size"]).all()
    assert clusters["cluster_id"].n_unique() < records.height


def test_splink_and_python_scores_agree(
    people: tuple[pl.DataFrame, pl.DataFrame], model: MatchModel
) -> None:
    """The online index scores with MatchModel.score: the same weights as the batch path."""
    records, _ = people
    prepared = linkage.prepare(records)
    pairs, _ = linkage.dedupe(prepared, model=model, threshold=0.0)
    rows = {r["record_id"]: r for r in prepared.iter_rows(named=True)}
    sample = pairs.sample(min(200, pairs.height), seed=1)
    for a, b, weight, agreeing in sample.select(
        "id_1", "id_2", "match_weight", "agreeing"
    ).iter_rows():
        score = model.score(rows[a], rows[b])
        assert score.match_weight == pytest.approx(weight, abs=1e-6)
        assert ",".join(score.agreeing) == agreeing


def test_link_two_files(people: tuple[pl.DataFrame, pl.DataFrame], model: MatchModel) -> None:
    records, truth = people
    left, right = records.head(200), records.tail(200)
    pairs = linkage.link(left, right, model=model, threshold=0.5)
    assert pairs.columns == ["left_id", "right_id", "match_probability", "match_weight", "agreeing"]
    assert set(pairs["left_id"]) <= set(left["record_id"])
    assert set(pairs["right_id"]) <= set(right["record_id"])
    entity = dict(truth.select("record_id", "entity_id").iter_rows())
    right_ids = set(right["record_id"])
    expected = {
        (a, b) if a not in right_ids else (b, a)
        for a, b in _true_pairs(truth)
        if (a in right_ids) != (b in right_ids)
    }
    found = set(pairs.select("left_id", "right_id").iter_rows())
    assert len(found & expected) / len(expected) > 0.9
    assert all(entity[a] == entity[b] for a, b in found)


HAND = pl.DataFrame(
    {
        "record_id": ["a1", "a2", "a3", "b1", "b2", "b3"],
        "given_names": ["José Luis", "María", "Ana", "Pepe", "Maria", "Carlos"],
        "surname_1": ["Pérez", "Méndez de López", "Ramírez", "Perez", "López", "Gómez"],
        "surname_2": ["García", None, "Cruz", "Garcia", None, "Soto"],
        "date_of_birth": [
            "1980-03-12",
            "1968-01-20",
            "1990-05-07",
            "1980-12-03",
            "1968-01-20",
            "1999-02-14",
        ],
        "sex": ["M", "F", "F", "H", "mujer", "M"],
    }
)


def test_link_hand_made_with_default_model() -> None:
    """A hypocorism with day/month swapped, and a married name, found by the default model."""
    left = HAND.filter(pl.col("record_id").str.starts_with("a"))
    right = HAND.filter(pl.col("record_id").str.starts_with("b"))
    pairs = linkage.link(left, right)  # too few records to train: the default model
    assert sorted(pairs.select("left_id", "right_id").iter_rows()) == [("a1", "b1"), ("a2", "b2")]
    agreeing = dict(pairs.select("left_id", "agreeing").iter_rows())
    assert "date_of_birth" in agreeing["a1"].split(",")
    assert "surname_1" in agreeing["a2"].split(",")


def test_prediction_settings_pass_splink_validation(model: MatchModel) -> None:
    """Prediction skips Splink's settings validation for speed; the settings must pass it."""
    from splink import DuckDBAPI, Linker

    db = DuckDBAPI()
    records = HAND.with_columns(postcode=pl.lit("01001"))
    for extra in ((), ("postcode",)):
        table = db.register(linkage.prepare(records, extra=extra).to_arrow())
        settings = linkage._settings(
            "dedupe_only",
            list(default_model(extra=extra).comparisons),
            model=default_model(extra=extra),
            blocking=linkage._blocking(extra),
        )
        Linker(table, settings, log_level=None, validate_settings=True)


def test_u_is_the_share_of_pairs_at_each_level(people: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    """With every pair in the sample, u is exactly the share of non-null pairs per level."""
    import itertools

    frame = linkage.prepare(people[0].head(70))
    comps = list(default_model().comparisons)
    u = linkage.estimate_u(linkage._connection(), [frame], comps, max_pairs=10**6)
    rows = list(frame.iter_rows(named=True))
    for comp in comps:
        levels = [comp.level_of(a, b) for a, b in itertools.combinations(rows, 2)]
        seen = [lv for lv in levels if lv > 0]
        want = [None] + [
            seen.count(i) / len(seen) if seen.count(i) else None for i in range(1, len(comp.levels))
        ]
        assert u[comp.name] == pytest.approx(want), comp.name


def test_an_aborted_em_session_leaves_the_model_as_it_was(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Splink 5 raises mid-session on an m of exactly 0, with comparisons set aside."""
    session = linkage._linker([linkage.prepare(HAND)], model=None, extra=())
    before = session.linker.misc.save_model_to_json()

    def abort(*args: object, **kwargs: object) -> None:
        session.linker._settings_obj.comparisons.pop()  # what Splink leaves behind
        raise ValueError("m_probability value 0.0 is below the minimum allowed value")

    monkeypatch.setattr(
        session.linker.training, "estimate_parameters_using_expectation_maximisation", abort
    )
    linkage._em_session(session, "l.dob = r.dob")
    assert session.linker.misc.save_model_to_json()["comparisons"] == before["comparisons"]


def test_clusters_are_connected_components() -> None:
    ids = pl.Series(["e", "d", "c", "b", "a", "f"])
    pairs = pl.DataFrame({"id_1": ["a", "b", "d"], "id_2": ["b", "c", "e"]})
    out = linkage.clusters(ids, pairs).sort("record_id")
    assert out["cluster_id"].to_list() == ["a", "a", "a", "d", "d", "f"]
    assert out["cluster_size"].to_list() == [3, 3, 3, 2, 2, 1]


def test_bad_inputs() -> None:
    with pytest.raises(InputError, match="record_id repeats"):
        linkage.prepare(pl.DataFrame({"record_id": ["1", "1"], "given_names": ["a", "b"]}))
    with pytest.raises(InputError, match="no record_id"):
        linkage.prepare(pl.DataFrame({"given_names": ["a"]}))
    with pytest.raises(InputError, match="postcode"):
        linkage.prepare(HAND, extra=["postcode"])
    with pytest.raises(InputError, match="threshold"):
        linkage.dedupe(HAND, threshold=1.5)


def test_tiny_and_empty_inputs() -> None:
    pairs, clusters = linkage.dedupe(HAND.head(1))
    assert pairs.height == 0 and clusters.to_dicts() == [
        {"record_id": "a1", "cluster_id": "a1", "cluster_size": 1}
    ]
    assert linkage.link(HAND, HAND.head(0)).height == 0
    pairs, _ = linkage.dedupe(HAND, model=default_model())
    assert sorted(pairs.select("id_1", "id_2").iter_rows()) == [("a1", "b1"), ("a2", "b2")]
