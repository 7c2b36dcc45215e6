"""The Knox test: exact counts by band, tie handling, calibration under the null, power."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from safestreets.errors import InputError
from safestreets.spatial.nearrepeat import KnoxResult, knox_test

# Six events by hand. A and B share a place and a day (floor(0.5) == 0); D is exactly 100 m
# from A and B (an upper edge, so inside "0-100"); C and D are exactly 7 days apart (inside
# "0-7"); D and E are 0 days apart (floor(10.2) == 10); F is far from everything in both.
#            A    B     C    D    E      F
HAND_X = [0.0, 0.0, 30.0, 0.0, 150.0, 5000.0]
HAND_Y = [0.0, 0.0, 40.0, 100.0, 0.0, 5000.0]
HAND_T = [0.0, 0.5, 3.0, 10.0, 10.2, 100.0]


def _counts(result: KnoxResult) -> dict[tuple[str, str], int]:
    """Non-zero observed counts keyed by (distance band, time band)."""
    rows = result.table.filter(pl.col("observed") > 0).iter_rows(named=True)
    return {(r["distance_band"], r["time_band"]): r["observed"] for r in rows}


def _cell(result: KnoxResult, distance_band: str, time_band: str) -> dict[str, Any]:
    table = result.table
    rows = table.filter(
        (pl.col("distance_band") == distance_band) & (pl.col("time_band") == time_band)
    )
    assert rows.height == 1
    return rows.row(0, named=True)


def test_hand_counts_with_separate_ties() -> None:
    result = knox_test(
        HAND_X, HAND_Y, HAND_T, distance_bands=[100, 200], time_bands=[7, 14], permutations=19
    )
    assert _counts(result) == {
        ("0", "0"): 1,  # A-B
        ("0-100", "0-7"): 3,  # A-C, B-C (50 m, 3 days), C-D (67 m, 7 days)
        ("0-100", "7-14"): 2,  # A-D, B-D (100 m, 10 days)
        ("100-200", "0"): 1,  # D-E (180 m, same day)
        ("100-200", "0-7"): 1,  # C-E (126 m, 7 days)
        ("100-200", "7-14"): 2,  # A-E, B-E (150 m, 10 days)
        (">200", ">14"): 5,  # F with everyone
    }
    assert result.table["distance_band"].unique(maintain_order=True).to_list() == [
        "0",
        "0-100",
        "100-200",
        ">200",
    ]
    assert result.table["time_band"].unique(maintain_order=True).to_list() == [
        "0",
        "0-7",
        "7-14",
        ">14",
    ]
    assert result.n_events == 6
    assert result.n_pairs == 15
    beyond = _cell(result, ">200", ">14")
    assert (beyond["distance_from"], beyond["distance_to"]) == (200.0, math.inf)
    assert (beyond["time_from"], beyond["time_to"]) == (14.0, math.inf)
    same = _cell(result, "0", "0")
    assert (same["distance_from"], same["distance_to"], same["time_to"]) == (0.0, 0.0, 0.0)
    assert any("1 of 15 pairs" in note and "same location" in note for note in result.notes)
    assert any("2 of 15 pairs" in note and "same day" in note for note in result.notes)
    assert any("Only 19 permutations" in note for note in result.notes)


def test_hand_counts_with_included_ties() -> None:
    result = knox_test(
        HAND_X,
        HAND_Y,
        HAND_T,
        distance_bands=[100, 200],
        time_bands=[7, 14],
        permutations=19,
        ties="include",
    )
    assert _counts(result) == {
        ("0-100", "0-7"): 4,  # A-B joins the first band
        ("0-100", "7-14"): 2,
        ("100-200", "0-7"): 2,  # D-E joins C-E
        ("100-200", "7-14"): 2,
        (">200", ">14"): 5,
    }
    assert result.table.height == 9
    assert any("first distance band '0-100'" in note for note in result.notes)


def test_counts_add_up_and_expected_keeps_time_totals() -> None:
    rng = np.random.default_rng(3)
    n = 400
    x, y = rng.uniform(0, 2000, n).round(-1), rng.uniform(0, 2000, n).round(-1)  # snapped
    t = rng.integers(0, 60, n).astype(float)
    result = knox_test(
        x, y, t, distance_bands=[50, 150, 300], time_bands=[3, 7, 21], permutations=49
    )
    table = result.table
    assert table["observed"].sum() == n * (n - 1) // 2 == result.n_pairs
    assert table["expected"].sum() == pytest.approx(result.n_pairs)
    # Permuting times keeps the multiset of time differences, so each time band's total over
    # all distances is the same in every permutation as in the data.
    totals = table.group_by("time_band").agg(pl.col("observed").sum(), pl.col("expected").sum())
    for row in totals.iter_rows(named=True):
        assert row["expected"] == pytest.approx(row["observed"])
    assert 1 / 50 <= table["p_value"].to_numpy().min() <= table["p_value"].to_numpy().max() <= 1
    ratio = table.filter(pl.col("expected") > 0)
    assert ratio["knox_ratio"].to_numpy() == pytest.approx(
        (ratio["observed"] / ratio["expected"]).to_numpy()
    )
    assert table.filter(pl.col("expected") == 0)["knox_ratio"].is_nan().all()
    assert (table["significant"] == (table["p_value"] <= 0.05)).all()


def test_same_seed_same_result() -> None:
    rng = np.random.default_rng(5)
    x, y, t = rng.uniform(0, 1000, 200), rng.uniform(0, 1000, 200), rng.uniform(0, 30, 200)
    kwargs = {"distance_bands": [100, 200], "time_bands": [7, 14], "permutations": 29}
    first = knox_test(x, y, t, seed=1, **kwargs)  # type: ignore[arg-type]
    again = knox_test(x, y, t, seed=1, **kwargs)  # type: ignore[arg-type]
    assert first.table.equals(again.table)


def test_no_space_time_interaction_is_not_significant_beyond_the_nominal_rate() -> None:
    # Locations and times drawn independently: the null hypothesis is true. The permutation
    # p-value is exact, so each cell should reject at 0.05 in about 5 of 100 runs; 13 or more
    # has probability 0.002 per cell under a correct test.
    runs, n, permutations = 100, 300, 99
    rejections: dict[tuple[str, str], int] = {}
    closest_p = []
    for seed in range(runs):
        rng = np.random.default_rng(1000 + seed)
        x, y = rng.uniform(0, 2000, n), rng.uniform(0, 2000, n)
        t = rng.uniform(0, 120, n)
        result = knox_test(
            x,
            y,
            t,
            distance_bands=[100, 300],
            time_bands=[7, 30],
            permutations=permutations,
            seed=seed,
            ties="include",
        )
        for row in result.table.iter_rows(named=True):
            key = (row["distance_band"], row["time_band"])
            rejections[key] = rejections.get(key, 0) + int(row["p_value"] < 0.05)
        closest_p.append(_cell(result, "0-100", "0-7")["p_value"])
    assert len(rejections) == 9
    assert max(rejections.values()) <= 12, rejections
    assert sum(rejections.values()) <= 0.07 * runs * len(rejections), rejections
    # Not conservative to the point of uselessness: p-values spread over (0, 1].
    assert 0.35 < float(np.mean(closest_p)) < 0.65


def test_planted_near_repeats_are_found() -> None:
    rng = np.random.default_rng(11)
    parents = 600
    px, py = rng.uniform(0, 5000, parents), rng.uniform(0, 5000, parents)
    pt = rng.integers(0, 365, parents).astype(float)
    kids = rng.integers(1, 3, parents)  # one or two children each
    angle = rng.uniform(0, 2 * np.pi, kids.sum())
    radius = 50 * np.sqrt(rng.uniform(0, 1, kids.sum()))
    cx = np.repeat(px, kids) + radius * np.cos(angle)
    cy = np.repeat(py, kids) + radius * np.sin(angle)
    ct = np.repeat(pt, kids) + rng.integers(1, 6, kids.sum())
    x, y, t = np.concatenate([px, cx]), np.concatenate([py, cy]), np.concatenate([pt, ct])
    permutations = 99
    result = knox_test(
        x,
        y,
        t,
        distance_bands=[100, 200, 400],
        time_bands=[7, 14, 30],
        permutations=permutations,
    )
    closest = _cell(result, "0-100", "0-7")
    assert closest["knox_ratio"] > 1.5
    assert closest["p_value"] == pytest.approx(1 / (1 + permutations))
    assert closest["significant"]
    # Unsnapped coordinates: the same-location band is empty and can never beat chance.
    same_place = result.table.filter(pl.col("distance_band") == "0")
    assert same_place["observed"].sum() == 0
    assert (same_place["p_value"] == 1.0).all()
    # Far apart in space, the planted process looks like chance.
    assert _cell(result, ">400", "0-7")["knox_ratio"] == pytest.approx(1.0, abs=0.05)


def test_manhattan_and_euclidean_differ_where_they_should() -> None:
    # (0, 0)-(60, 60) is 84.9 m in a straight line but 120 m along the grid.
    x, y, t = [0.0, 60.0, 3000.0], [0.0, 60.0, 3000.0], [0.0, 2.0, 50.0]
    kwargs = {"distance_bands": [100, 200], "time_bands": [7], "permutations": 9}
    euclid = knox_test(x, y, t, metric="euclidean", **kwargs)  # type: ignore[arg-type]
    manhattan = knox_test(x, y, t, metric="manhattan", **kwargs)  # type: ignore[arg-type]
    assert _cell(euclid, "0-100", "0-7")["observed"] == 1
    assert _cell(euclid, "100-200", "0-7")["observed"] == 0
    assert _cell(manhattan, "0-100", "0-7")["observed"] == 0
    assert _cell(manhattan, "100-200", "0-7")["observed"] == 1
    assert manhattan.metric == "manhattan"


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        (([0, 1, 2], [0, 1], [0, 1, 2]), {}, "different lengths"),
        (([0, 1, np.nan], [0, 1, 2], [0, 1, 2]), {}, "missing or infinite"),
        (([0, 1, 2], [0, 1, 2], [0, np.inf, 2]), {}, "missing or infinite"),
        (([0, 1], [0, 1], [0, 1]), {}, "at least 3 events"),
        (([0, 1, 2], [0, 1, 2], ["a", "b", "c"]), {}, "must be numbers"),
        (([0, 1, 2], [0, 1, 2], [1.7e9, 1.7e9 + 60, 1.7e9 + 120]), {}, "time in days"),
        ((), {"distance_bands": [200, 100]}, "strictly increasing"),
        ((), {"distance_bands": [100, 100]}, "strictly increasing"),
        ((), {"time_bands": [0, 7]}, "strictly increasing positive"),
        ((), {"time_bands": []}, "non-empty"),
        ((), {"metric": "chebyshev"}, "unknown metric"),
        ((), {"ties": "drop"}, "unknown ties"),
        ((), {"permutations": 0}, "at least 1"),
        ((), {"alpha": 1.5}, "alpha"),
    ],
)
def test_bad_input_raises_input_error(
    args: tuple[object, ...], kwargs: dict[str, object], match: str
) -> None:
    call: dict[str, object] = {"distance_bands": [100, 200], "time_bands": [7, 14]}
    call.update(kwargs)
    events = args or ([0.0, 10.0, 20.0], [0.0, 10.0, 20.0], [0.0, 1.0, 2.0])
    with pytest.raises(InputError, match=match) as info:
        knox_test(*events, **call)  # type: ignore[arg-type]
    assert info.value.hint


def _brute_force(
    x: list[int],
    y: list[int],
    t: list[float],
    d_edges: list[int],
    t_edges: list[int],
    metric: str,
    ties: str,
) -> dict[tuple[int, int], int]:
    """Counts by (distance band, time band) index over all pairs, in exact integer arithmetic."""

    def band(value: int, edges: list[int], square: bool) -> int:
        if ties == "separate" and value == 0:
            return 0
        shift = 1 if ties == "separate" else 0
        for k, edge in enumerate(edges):
            if value <= (edge * edge if square else edge):
                return k + shift
        return len(edges) + shift

    counts: dict[tuple[int, int], int] = {}
    for i in range(len(x)):
        for j in range(i + 1, len(x)):
            dx, dy = abs(x[i] - x[j]), abs(y[i] - y[j])
            if metric == "manhattan":
                db = band(dx + dy, d_edges, square=False)
            else:
                db = band(dx * dx + dy * dy, d_edges, square=True)
            dt = abs(math.floor(t[i]) - math.floor(t[j]))
            key = (db, band(dt, t_edges, square=False))
            counts[key] = counts.get(key, 0) + 1
    return counts


@st.composite
def _events(draw: st.DrawFn) -> tuple[list[int], list[int], list[float]]:
    n = draw(st.integers(3, 25))
    coord = st.integers(0, 40)
    x = draw(st.lists(coord, min_size=n, max_size=n))
    y = draw(st.lists(coord, min_size=n, max_size=n))
    t = draw(st.lists(st.integers(0, 80).map(lambda q: q / 4), min_size=n, max_size=n))
    return x, y, t


@settings(max_examples=150, deadline=None)
@given(
    events=_events(),
    d_edges=st.lists(st.integers(1, 60), min_size=1, max_size=4, unique=True).map(sorted),
    t_edges=st.lists(st.integers(1, 20), min_size=1, max_size=4, unique=True).map(sorted),
    metric=st.sampled_from(["euclidean", "manhattan"]),
    ties=st.sampled_from(["separate", "include"]),
)
def test_observed_counts_match_brute_force(
    events: tuple[list[int], list[int], list[float]],
    d_edges: list[int],
    t_edges: list[int],
    metric: str,
    ties: str,
) -> None:
    x, y, t = events
    result = knox_test(
        [float(v) for v in x],
        [float(v) for v in y],
        t,
        distance_bands=d_edges,
        time_bands=t_edges,
        metric=metric,  # type: ignore[arg-type]
        ties=ties,  # type: ignore[arg-type]
        permutations=1,
    )
    n_time = len(t_edges) + (2 if ties == "separate" else 1)
    observed = result.table["observed"].to_list()
    got = {(k // n_time, k % n_time): c for k, c in enumerate(observed) if c}
    assert got == _brute_force(x, y, t, d_edges, t_edges, metric, ties)
    assert sum(observed) == len(x) * (len(x) - 1) // 2
