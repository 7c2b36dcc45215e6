"""The rules of the public map on small frames: categories, calendar, small counts, bands."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
import pytest

from safestreets.errors import InputError
from safestreets.stats import public as rules
from safestreets.stats.disclosure import feasible_ranges, protect


def test_categories_are_a_partition() -> None:
    records = pl.DataFrame(
        {
            "iccs_code": ["0301", "03021", "0204", "0201", "0201", "0101", "0101", "02051",
                          "0205", "0401", "0501", "0502", "0601", None, "0202", "0204"],
            "context": [None, None, None, "family", None, "intimate_partner", None, None,
                        None, "family", None, None, None, None, "family", "family"],
        }
    )  # fmt: skip
    got = records.with_columns(rules.classify())["category"].to_list()
    assert got == [
        "sexual_violence", "sexual_violence", "trafficking", "domestic_violence", "assault",
        "domestic_violence", "homicide", "extortion", "other", "robbery", "burglary", "theft",
        "other", "other", "domestic_violence", "trafficking",
    ]  # fmt: skip
    ids = [c.id for c in rules.categories()]
    assert len(ids) == len(set(ids)) == len(rules.CATEGORIES)
    # Non-sensitive first; the three sensitive ones are exactly these.
    assert {c.id for c in rules.categories(sensitive=True)} == {
        "sexual_violence",
        "domestic_violence",
        "trafficking",
    }
    assert all(not c.sensitive for c in rules.categories()[:7])


def test_category_names_and_lookup() -> None:
    assert rules.category("robbery").name("es") == "Robo"
    assert rules.category("ROBBERY").name("en") == "Robbery"
    assert rules.category("other").name("en").startswith("Other")
    with pytest.raises(InputError, match="unknown category") as err:
        rules.category("murder")
    assert "robbery" in (err.value.hint or "")


@pytest.mark.parametrize(
    ("year", "today", "delay", "published"),
    [
        (2024, date(2025, 1, 30), 30, True),
        (2024, date(2025, 1, 29), 30, False),
        (2024, date(2025, 1, 1), 0, True),
        (2024, date(2024, 12, 31), 0, True),
        (2025, date(2025, 6, 1), 30, False),
        (2023, date(2025, 6, 1), 400, True),
        (2024, date(2025, 6, 1), 400, False),
    ],
)
def test_a_year_is_published_once_it_ended_delay_days_ago(
    year: int, today: date, delay: int, published: bool
) -> None:
    assert rules.year_published(year, today, delay) is published
    if published:
        rules.check_year(year, today, delay)
    else:
        with pytest.raises(rules.NotPublishable, match="not published yet"):
            rules.check_year(year, today, delay)


def test_sensitive_categories_only_by_department() -> None:
    for cat in rules.categories(sensitive=True):
        rules.check_level(cat, "admin1")
        for level in ("admin2", "cell"):
            with pytest.raises(rules.NotPublishable, match="sensitive") as err:
                rules.check_level(cat, level)  # type: ignore[arg-type]
            assert err.value.code == "not_publishable"
            assert "departments" in (err.value.hint or "")
    for cat in rules.categories(sensitive=False):
        rules.check_level(cat, "admin2")
        rules.check_level(cat, "cell")
        with pytest.raises(rules.NotPublishable):
            rules.check_level(cat, "admin1")


def _table(rows: dict[str, list[int]], cols: list[str]) -> pl.DataFrame:
    return pl.DataFrame(
        [(key, c, v) for key, values in rows.items() for c, v in zip(cols, values, strict=True)],
        schema={"key": pl.String, "category": pl.String, "count": pl.Int64},
        orient="row",
    )


def test_protect_rows_hides_small_rows_and_lone_small_counts() -> None:
    cols = ["a", "b", "c"]
    counts = _table(
        {
            "small": [2, 1, 0],  # total 3 < k: the whole row
            "lone": [3, 10, 6],  # one small count: plus the smallest other non-zero (6)
            "two": [3, 2, 9],  # two small counts hide each other
            "big": [0, 5, 7],  # nothing to hide; zeros are published
        },
        cols,
    )
    table = rules.protect_rows(counts, key="key", columns=cols, k=5, keys=["none", "small"])
    cells = {(r["key"], r["category"]): r["count"] for r in table.cells.iter_rows(named=True)}
    rows = {r["key"]: r["total"] for r in table.rows.iter_rows(named=True)}
    assert table.rows["key"].to_list() == ["none", "small", "big", "lone", "two"]
    assert rows == {"none": 0, "small": None, "big": 12, "lone": 19, "two": 14}
    assert [cells[("small", c)] for c in cols] == [None, None, None]
    assert [cells[("lone", c)] for c in cols] == [None, 10, None]
    assert [cells[("two", c)] for c in cols] == [None, None, 9]
    assert [cells[("big", c)] for c in cols] == [0, 5, 7]
    assert [cells[("none", c)] for c in cols] == [0, 0, 0]


def test_protect_rows_refuses_bad_input() -> None:
    counts = _table({"x": [1, 2]}, ["a", "b"])
    with pytest.raises(InputError, match="k must be at least 2"):
        rules.protect_rows(counts, key="key", columns=["a", "b"], k=1)
    with pytest.raises(InputError, match="outside the table"):
        rules.protect_rows(counts, key="key", columns=["a"], k=5)


def test_protect_rows_matches_the_disclosure_module_and_hides_for_good() -> None:
    """Row by row, the same number of hidden counts as ``disclosure.protect`` on the one-way
    table with its total, and no hidden count can be derived exactly (LP audit)."""
    rng = np.random.default_rng(7)
    cols = [f"c{i}" for i in range(7)]
    k = 5
    raw = {
        f"r{i}": [int(v) for v in rng.choice([0, 0, 1, 2, 3, 4, 5, 8, 20], size=len(cols))]
        for i in range(150)
    }
    table = rules.protect_rows(_table(raw, cols), key="key", columns=cols, k=k)
    hidden = {(r["key"], r["category"]): r["hidden"] for r in table.cells.iter_rows(named=True)}
    audited = 0
    for key, values in raw.items():
        total = sum(values)
        mask = [hidden[(key, c)] for c in cols]
        published = [v for v, h in zip(values, mask, strict=True) if not h]
        assert all(v == 0 or v >= k for v in published)
        if 0 < total < k:
            assert all(mask)
            continue
        one_way = pl.DataFrame({"category": cols, "count": values})
        reference = protect(one_way, dims=["category"], value="count", k=k)
        assert sum(mask) == reference.cells["suppressed"].is_not_null().sum(), key
        if any(mask):
            ranges = feasible_ranges(one_way, pl.Series(mask), dims=["category"], value="count")
            assert (ranges["high"] - ranges["low"] >= 1).all(), key
            audited += 1
    assert audited > 50


def test_bands_double_from_k() -> None:
    assert [(b.low, b.high) for b in rules.bands(5)] == [(5, 9), (10, 19), (20, 39), (40, None)]
    assert rules.band_of(5, 5).id == "b1"
    assert rules.band_of(39, 5).id == "b3"
    assert rules.band_of(400, 5).label("es") == "40 o más"
    assert rules.band_of(12, 5).label("en") == "10–19"
    with pytest.raises(InputError):
        rules.band_of(4, 5)


def test_statement_in_both_languages() -> None:
    es = rules.statement(k=5, delay_days=30, cell_m=500, lang="es")
    en = rules.statement(k=5, delay_days=30, cell_m=500, lang="en")
    assert "de 1 a 4" in es and "30 días" in es and "500 m" in es and "departamento" in es
    assert "from 1 to 4" in en and "30 days" in en and "500 m" in en and "department" in en
