"""Tests of safestreets.reference.iccs."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from safestreets.errors import ReferenceError_
from safestreets.reference import iccs


def test_structure_counts() -> None:
    t = iccs.iccs_table()
    assert t.height == 320
    assert t["code"].n_unique() == 320
    assert t.filter(pl.col("level") == 1).height == 11
    counts = dict(t.group_by("level").len().iter_rows())
    assert counts == {1: 11, 2: 63, 3: 148, 4: 98}
    assert t.filter(pl.col("is_leaf")).height == 231
    assert t.schema["is_leaf"] == pl.Boolean
    assert t.schema["residual_other"] == pl.Boolean


def test_parents_exist_and_prefix() -> None:
    t = iccs.iccs_table()
    codes = set(t["code"])
    for row in t.iter_rows(named=True):
        assert len(row["code"]) == iccs.ICCS_LEVEL_LENGTHS[row["level"]]
        assert row["section"] == row["code"][:2]
        if row["level"] == 1:
            assert row["parent"] is None
        else:
            assert row["parent"] in codes
            assert row["code"].startswith(row["parent"])
            assert iccs.iccs_level(row["parent"]) == row["level"] - 1
    # is_leaf is consistent with the parent relation
    parents = set(t["parent"].drop_nulls())
    for row in t.iter_rows(named=True):
        assert row["is_leaf"] == (row["code"] not in parents)


def test_matches_upstream(shared_data: Path) -> None:
    up = pl.read_csv(shared_data / "iccs" / "iccs_v1_0_codes.csv", infer_schema_length=0)
    ours = iccs.iccs_table()
    assert ours["code"].to_list() == up["code"].to_list()
    for col in ("parent", "section", "name_en", "name_es"):
        assert ours[col].fill_null("").to_list() == up[col].fill_null("").to_list(), col
    assert ours["level"].cast(pl.String).to_list() == up["level"].to_list()
    assert ours["is_leaf"].to_list() == (up["is_leaf"] == "1").to_list()
    assert ours["residual_other"].to_list() == (up["residual_other"] == "1").to_list()


def test_lookups() -> None:
    assert iccs.iccs_name("0101") == "Homicidio intencional"
    assert iccs.iccs_name("0101", "en") == "Intentional homicide"
    assert iccs.iccs_name("02051", "en") == "Extortion or blackmail"
    assert iccs.is_iccs_code("0401")
    assert not iccs.is_iccs_code("401")
    assert not iccs.is_iccs_code("0108")
    assert iccs.iccs_parent("040111") == "04011"
    assert iccs.iccs_parent("04") is None
    assert iccs.iccs_level("050211") == 4
    with pytest.raises(ReferenceError_):
        iccs.iccs_name("9999")
    with pytest.raises(ValueError):
        iccs.iccs_name("0101", "fr")


def test_rollup() -> None:
    assert iccs.iccs_rollup("040111", 1) == "04"
    assert iccs.iccs_rollup("040111", 2) == "0401"
    assert iccs.iccs_rollup("040111", 3) == "04011"
    assert iccs.iccs_rollup("040111", 4) == "040111"
    assert iccs.iccs_rollup("0101", 3) == "0101"
    assert iccs.iccs_rollup("04", 2) == "04"
    with pytest.raises(ReferenceError_):
        iccs.iccs_rollup("049999", 2)
    with pytest.raises(ValueError):
        iccs.iccs_rollup("0101", 5)


def test_rollup_series() -> None:
    s = pl.Series("iccs", ["040111", None, "0101", "05", "050211"])
    assert iccs.iccs_rollup_series(s, 2).to_list() == ["0401", None, "0101", "05", "0502"]
    assert iccs.iccs_rollup_series(s, 1).name == "iccs"
    with pytest.raises(ReferenceError_):
        iccs.iccs_rollup_series(pl.Series("iccs", ["0101", "101"]), 2)
    empty = iccs.iccs_rollup_series(pl.Series("iccs", [], dtype=pl.String), 2)
    assert empty.len() == 0


def test_rollup_series_agrees_with_scalar() -> None:
    codes = iccs.iccs_table()["code"]
    for level in (1, 2, 3, 4):
        vec = iccs.iccs_rollup_series(codes, level).to_list()
        assert vec == [iccs.iccs_rollup(c, level) for c in codes]


def test_descendants() -> None:
    d = iccs.iccs_descendants("0401")
    assert d[0] == "0401"
    assert "040121" in d and "04014" in d
    assert all(c.startswith("0401") for c in d)
    assert len(d) == 13
    assert iccs.iccs_descendants("0101") == ["0101"]
    assert (
        len(iccs.iccs_descendants("01"))
        == iccs.iccs_table().filter(pl.col("section") == "01").height
    )


def test_index() -> None:
    for lang in ("es", "en"):
        idx = iccs.iccs_index(lang)
        assert idx.columns == ["term", "code"]
        assert idx.height > 900
        assert set(idx["code"]) <= set(iccs.iccs_table()["code"])
    es = iccs.iccs_index("es")
    assert es.filter(pl.col("term") == "Feminicidio")["code"].to_list() == ["0101"]
    # erratum: printed 060132, corrected to 060121
    assert es.filter(pl.col("term") == "Tráfico de drogas")["code"].to_list() == ["060121"]
    with pytest.raises(ValueError):
        iccs.iccs_index("de")
