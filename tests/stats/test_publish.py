"""Public indicator tables: small counts suppressed (with their rates), totals that give
nothing away, the stricter rules for sensitive indicators, and the statement."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import polars as pl
import pytest

from safestreets import schema
from safestreets.errors import InputError
from safestreets.stats.disclosure import feasible_ranges
from safestreets.stats.frames import FrameData
from safestreets.stats.indicators import MissingPopulation, Request, Result, compute
from safestreets.stats.publish import PublicTable, check_public, make_public, statement

GT_TZ = "America/Guatemala"

#: Homicide victims by department and year: a 5 x 2 table with four counts from 1 to 4.
CELLS: dict[tuple[str, int], int] = {
    ("GT-01", 2022): 30,
    ("GT-01", 2023): 25,
    ("GT-02", 2022): 3,
    ("GT-02", 2023): 12,
    ("GT-03", 2022): 8,
    ("GT-03", 2023): 2,
    ("GT-04", 2022): 15,
    ("GT-04", 2023): 9,
    ("GT-05", 2022): 1,
    ("GT-05", 2023): 7,
    ("GT-06", 2022): 4,
    ("GT-06", 2023): 11,
}
POPULATION = {f"GT-0{i}": 500_000 + 100_000 * i for i in range(1, 7)}


def homicides(
    cells: dict[tuple[str, int], int], *, admin2: dict[str, str | None] | None = None
) -> pl.DataFrame:
    """One single-victim homicide per count, in the canonical incident schema.

    Every department's first homicide of a year is dated 1 January 03:00 UTC of the next
    year: 31 December, 21:00 in Guatemala, so it counts in the local year.
    """
    rows: list[dict[str, object]] = []
    for (admin1, year), n in cells.items():
        for i in range(n):
            when = (
                datetime(year + 1, 1, 1, 3, tzinfo=UTC)
                if i == 0
                else datetime(year, 3, 1, 12, tzinfo=UTC) + timedelta(days=i, minutes=7 * i)
            )
            rows.append(
                {
                    "incident_id": len(rows) + 1,
                    "source": "GT-PNC",
                    "source_record_id": f"{admin1}-{year}-{i}",
                    "country": "GT",
                    "admin1": admin1,
                    "admin2": (admin2 or {}).get(admin1),
                    "occurred_at": when,
                    "occurred_precision": "minute",
                    "source_timezone": GT_TZ,
                    "iccs_code": "0101",
                    "victim_count": 1,
                }
            )
    return schema.conform(pl.DataFrame(rows, infer_schema_length=None), schema.INCIDENT)


def populations(areas: dict[str, int] = POPULATION) -> pl.DataFrame:
    return schema.conform(
        pl.DataFrame(
            [
                {"country": "GT", "admin1": a, "year": y, "population": p + 1_000 * (y - 2022)}
                for a, p in areas.items()
                for y in (2022, 2023)
            ]
        ),
        schema.POPULATION,
    )


def result(
    indicator: str = "homicide_rate",
    *,
    by: tuple[str, ...] = ("admin1", "year"),
    lang: str = "es",
    cells: dict[tuple[str, int], int] = CELLS,
    **request: object,
) -> Result:
    data = FrameData(incidents=homicides(cells), population_frame=populations())
    return compute(indicator, Request(by=by, lang=lang, **request), data)  # type: ignore[arg-type]


def joined(res: Result, pub: PublicTable, keys: list[str]) -> pl.DataFrame:
    """True and published columns side by side, one row per cell."""
    pub_cols = ["count", "value", "suppressed", "disclosure_control"]
    pub_cols += [c for c in ("rate_per_100k", "share_pct", "denominator_count") if c in pub.cells]
    return res.frame.join(
        pub.cells.select(*keys, *pub_cols), on=keys, how="left", suffix="_pub", nulls_equal=True
    )


# --- the data --------------------------------------------------------------------------------


def test_the_engine_sees_the_table_in_local_years() -> None:
    frame = result().frame
    got = {(a, int(p)): n for a, p, n in frame.select("admin1", "period", "count").iter_rows()}
    assert got == CELLS
    assert frame["rate_per_100k"].null_count() == 0


# --- suppression -----------------------------------------------------------------------------


def test_small_counts_are_suppressed_with_their_rates_and_values() -> None:
    res = result()
    pub = make_public(res)
    both = joined(res, pub, ["admin1", "period"])
    assert both.height == len(CELLS) == pub.cells.height
    small = both.filter((pl.col("count") >= 1) & (pl.col("count") <= 4))
    assert small.height == 4
    for row in small.iter_rows(named=True):
        assert row["count_pub"] is None, row
        assert row["rate_per_100k_pub"] is None and row["value_pub"] is None, row
        assert row["suppressed"] == "primary"
    # Complementary suppression hides more, and only whole cells: count, rate and value together.
    hidden = both.filter(pl.col("count_pub").is_null())
    assert hidden.height > small.height
    assert set(hidden["suppressed"].to_list()) == {"primary", "secondary"}
    assert hidden["rate_per_100k_pub"].null_count() == hidden.height
    assert hidden["value_pub"].null_count() == hidden.height
    assert pub.suppressed == hidden.height
    # Everything else is published exactly.
    shown = both.filter(pl.col("count_pub").is_not_null())
    assert shown["count"].to_list() == shown["count_pub"].to_list()
    assert shown["rate_per_100k"].to_list() == shown["rate_per_100k_pub"].to_list()
    assert shown["suppressed"].null_count() == shown.height
    # The population is not a secret; everything but the suppressed figures is untouched.
    assert pub.cells["population"].to_list() == res.frame["population"].to_list()
    assert pub.cells["area_name"].to_list() == res.frame["area_name"].to_list()


@pytest.mark.parametrize("k", [2, 3, 5, 10])
def test_every_count_below_k_is_hidden(k: int) -> None:
    res = result()
    pub = make_public(res, k=k)
    both = joined(res, pub, ["admin1", "period"])
    sensitive = both.filter((pl.col("count") >= 1) & (pl.col("count") < k))
    assert sensitive["count_pub"].null_count() == sensitive.height
    assert sensitive["rate_per_100k_pub"].null_count() == sensitive.height
    assert set(pub.cells["disclosure_control"].to_list()) == {f"k={k}"}
    assert pub.k == k


def test_totals_are_true_sums_and_ranges_are_wider_than_a_point() -> None:
    res = result()
    pub = make_public(res)
    truth = res.frame.select("admin1", "period", "count")
    totals = pub.totals
    assert set(totals["total"].to_list()) == {"row", "column", "grand"}
    assert totals["suppressed"].null_count() == totals.height  # nothing had to be withheld
    grand = totals.filter(pl.col("total") == "grand")
    assert grand["count"].to_list() == [sum(CELLS.values())]
    for row in totals.filter(pl.col("total") == "row").iter_rows(named=True):
        assert row["country"] == "GT" and row["period"] is None
        assert row["count"] == sum(n for (a, _), n in CELLS.items() if a == row["admin1"])
    for row in totals.filter(pl.col("total") == "column").iter_rows(named=True):
        assert row["admin1"] is None
        assert row["count"] == sum(n for (_, y), n in CELLS.items() if str(y) == row["period"])
    # An intruder with the published cells and totals cannot pin down any hidden cell.
    mask = joined(res, pub, ["admin1", "period"])["count_pub"].is_null()
    ranges = feasible_ranges(
        truth, mask, dims=["admin1", "period"], value="count", totals=pub.totals
    )
    assert ranges.height == int(mask.sum()) > 0
    for row in ranges.iter_rows(named=True):
        assert row["high"] - row["low"] >= 1 - 1e-6, row
    # Without complementary suppression a primary cell would be a point: the test has teeth.
    primary_only = truth["count"].is_between(1, 4)
    naive = feasible_ranges(truth, primary_only, dims=["admin1", "period"], value="count")
    assert (naive["high"] - naive["low"]).min() == pytest.approx(0)


def test_one_year_by_department_is_not_wholly_suppressed() -> None:
    # The commonest public table. With one period, "row totals" per department would be the
    # cells themselves: every small count pinned down, the whole table withheld.
    one_year = {key: n for key, n in CELLS.items() if key[1] == 2022}
    res = result(cells=one_year, date_from=date(2022, 1, 1), date_to=date(2022, 12, 31))
    assert res.frame.height == 6
    pub = make_public(res)
    both = joined(res, pub, ["admin1", "period"])
    small = both.filter(pl.col("count").is_between(1, 4))
    assert small.height == 3 and small["count_pub"].null_count() == 3
    hidden = both.filter(pl.col("count_pub").is_null())
    assert hidden.height < both.height  # big departments are published
    assert both.filter(pl.col("admin1") == "GT-01")["count_pub"].to_list() == [30]
    totals = pub.totals
    assert totals["suppressed"].null_count() == totals.height
    grand = totals.filter(pl.col("total") == "grand").row(0, named=True)
    assert grand["count"] == sum(one_year.values()) and grand["period"] == "2022"
    # No total equals a hidden cell, and every hidden cell still moves.
    assert not set(hidden["count"].to_list()) & set(totals["count"].to_list())
    truth = res.frame.select("admin1", "count")
    ranges = feasible_ranges(
        truth, both["count_pub"].is_null(), dims=["admin1"], totals=totals.drop("period")
    )
    assert ((ranges["high"] - ranges["low"]) >= 1 - 1e-6).all()


def test_one_year_by_department_and_sex() -> None:
    inc = homicides({key: n for key, n in CELLS.items() if key[1] == 2023})
    vic = inc.select("incident_id").with_columns(
        victim_no=pl.lit(1, dtype=pl.Int32),
        sex=pl.when(pl.col("incident_id") % 2 == 0)
        .then(pl.lit("female"))
        .otherwise(pl.lit("male")),
    )
    res = compute("homicide_count", Request(by=("admin1", "year", "sex")), FrameData(inc, vic))
    pub = make_public(res)
    both = joined(res, pub, ["admin1", "period", "sex"])
    small = both.filter(pl.col("count").is_between(1, 4))
    assert small.height > 0 and small["count_pub"].null_count() == small.height
    assert both["count_pub"].null_count() < both.height
    mask = both["count_pub"].is_null()
    truth = res.frame.select("admin1", "sex", "count")
    ranges = feasible_ranges(
        truth, mask, dims=["admin1", "sex"], totals=pub.totals.drop("country", "period")
    )
    assert ((ranges["high"] - ranges["low"]) >= 1 - 1e-6).all()


def test_breakdown_tables_are_layers() -> None:
    # By department, year and sex: each department is a layer of year x sex.
    inc = homicides(CELLS)
    rows = inc.select("incident_id").with_columns(
        victim_no=pl.lit(1, dtype=pl.Int32),
        sex=pl.when(pl.col("incident_id") % 3 == 0)
        .then(pl.lit("female"))
        .otherwise(pl.lit("male")),
    )
    data = FrameData(incidents=inc, victims=rows, population_frame=populations())
    res = compute("homicide_count", Request(by=("admin1", "year", "sex")), data)
    pub = make_public(res)
    both = joined(res, pub, ["admin1", "period", "sex"])
    small = both.filter(pl.col("count").is_between(1, 4))
    assert small.height > 0 and small["count_pub"].null_count() == small.height
    # What a reader sees: the published rows (with their true counts; filled-in zeros are
    # zeros) and, by their absence, the other zero cells.
    truth = (
        pub.cells.select("admin1", "period", "sex")
        .join(
            res.frame.select("admin1", "period", "sex", "count"),
            on=["admin1", "period", "sex"],
            how="left",
        )
        .with_columns(pl.col("count").fill_null(0))
    )
    mask = truth.join(
        both.select("admin1", "period", "sex", "count_pub"),
        on=["admin1", "period", "sex"],
        how="left",
    )["count_pub"].is_null()
    ranges = feasible_ranges(
        truth, mask, dims=["admin1", "period", "sex"], value="count", totals=pub.totals
    )
    protected = ranges.join(
        pub.cells.select("admin1", "period", "sex", "suppressed"), on=["admin1", "period", "sex"]
    )
    withheld_layers = set(
        pub.totals.filter(pl.col("suppressed") == "withheld")["admin1"].drop_nulls().to_list()
    )
    for row in protected.iter_rows(named=True):
        if row["admin1"] in withheld_layers and row["suppressed"] != "primary":
            continue
        assert row["high"] - row["low"] >= 1 - 1e-6, row


def test_share_tables_hide_small_denominators_and_publish_zeros() -> None:
    inc = homicides({("GT-01", 2023): 20, ("GT-02", 2023): 3, ("GT-03", 2023): 10})
    ids = inc["incident_id"].to_list()
    # Ages known: GT-01 has 20 victims (7 under 18), GT-02 three (one under 18), GT-03 ten
    # adults (a zero share: published, a zero tells nothing about anybody).
    ages = [15 if i % 3 == 0 else 30 for i in range(20)] + [12, 40, 41] + [50] * 10
    vic = schema.conform(
        pl.DataFrame(
            {
                "incident_id": ids,
                "victim_no": [1] * len(ids),
                "sex": ["male"] * len(ids),
                "age": pl.Series(ages, dtype=pl.Int32),
            }
        ).with_columns(age_band=schema.age_band(pl.col("age"))),
        schema.VICTIM,
    )
    res = compute(
        "homicide_under18_share",
        Request(by=("admin1", "year")),
        FrameData(incidents=inc, victims=vic),
    )
    truth = {r["admin1"]: r for r in res.frame.iter_rows(named=True)}
    assert (truth["GT-01"]["count"], truth["GT-01"]["denominator_count"]) == (7, 20)
    assert (truth["GT-02"]["count"], truth["GT-02"]["denominator_count"]) == (1, 3)
    assert (truth["GT-03"]["count"], truth["GT-03"]["denominator_count"]) == (0, 10)
    pub = make_public(res)
    got = {r["admin1"]: r for r in pub.cells.iter_rows(named=True)}
    assert got["GT-02"]["denominator_count"] is None  # 3 victims of known age: hidden
    assert got["GT-02"]["count"] is None and got["GT-02"]["share_pct"] is None
    assert got["GT-02"]["value"] is None
    assert got["GT-03"]["count"] == 0 and got["GT-03"]["share_pct"] == 0.0
    assert got["GT-03"]["suppressed"] is None
    assert got["GT-01"]["denominator_count"] == 20
    if got["GT-01"]["count"] is None:
        assert got["GT-01"]["share_pct"] is None
    else:
        assert got["GT-01"]["share_pct"] == pytest.approx(35.0)


def test_unknown_municipalities_of_different_departments_are_different_cells() -> None:
    # Municipalities known in GT-01 only: the other departments' "unknown" are separate cells.
    cells = {(a, y): n for (a, y), n in CELLS.items() if a in ("GT-01", "GT-02", "GT-03")}
    inc = homicides(cells, admin2={"GT-01": "0101"})
    res = compute("homicide_count", Request(by=("admin2", "year")), FrameData(incidents=inc))
    assert res.frame.filter(pl.col("admin2").is_null()).height == 4
    pub = make_public(res)
    assert pub.cells.height == res.frame.height
    both = joined(res, pub, ["admin1", "admin2", "period"])
    small = both.filter(pl.col("count").is_between(1, 4))
    assert small["count_pub"].null_count() == small.height
    rows = pub.totals.filter(pl.col("total") == "row")
    assert sorted(rows["admin1"].to_list()) == ["GT-01", "GT-02", "GT-03"]
    unknown = rows.filter(pl.col("admin2").is_null()).sort("admin1")
    assert unknown["count"].to_list() == [15, 10]  # GT-02 and GT-03, not their sum


def test_no_area_asked_uses_the_countries() -> None:
    res = result("homicide_count", by=("year",))
    pub = make_public(res)
    per_year = [sum(n for (_, y), n in CELLS.items() if y == year) for year in (2022, 2023)]
    assert pub.cells["count"].to_list() == per_year
    assert set(pub.totals["area"].drop_nulls().to_list()) == {"GT"}


def test_empty_tables_publish_empty() -> None:
    res = result(by=("admin1", "year"), where={"country": ("XX",)})
    assert res.frame.is_empty()
    pub = make_public(res)
    assert pub.cells.is_empty() and pub.totals.is_empty() and pub.suppressed == 0
    assert "disclosure_control" in pub.cells.columns


# --- rules -----------------------------------------------------------------------------------


@pytest.mark.parametrize("k", [1, 0, -3])
def test_k_below_two_is_refused(k: int) -> None:
    with pytest.raises(InputError, match="k must be at least 2"):
        make_public(result(), k=k)


@pytest.mark.parametrize(
    ("indicator", "by", "where"),
    [
        ("sexual_violence_rate", ("admin2", "year"), {}),
        ("domestic_violence_rate", ("admin2",), {}),
        ("homicide_count", ("admin2", "year", "age_group"), {}),
        ("homicide_rate", ("admin2", "age_band"), {}),
        # About victims under 18, even without an age breakdown.
        ("homicide_count", ("admin2", "year"), {"age_band": ("0-9", "10-14", "15-17")}),
    ],
)
def test_sensitive_tables_stop_at_the_department(
    indicator: str, by: tuple[str, ...], where: dict[str, tuple[str, ...]]
) -> None:
    res = compute(
        indicator,
        Request(by=by, where=where, allow_missing_population=True),
        FrameData(incidents=homicides(CELLS)),
    )
    with pytest.raises(InputError, match="sensitive") as info:
        make_public(res)
    assert info.value.hint and "admin1" in info.value.hint
    # The same check before computing anything (what the CLI does).
    with pytest.raises(InputError, match="sensitive"):
        check_public(res.indicator, res.request)


@pytest.mark.parametrize(
    ("indicator", "by"),
    [
        ("sexual_violence_rate", ("admin1", "year")),
        ("homicide_count", ("admin1", "year", "age_group")),
        ("homicide_count", ("admin2", "year")),  # not sensitive: municipalities are fine
    ],
)
def test_department_level_and_plain_tables_are_allowed(indicator: str, by: tuple[str, ...]) -> None:
    res = compute(
        indicator,
        Request(by=by, allow_missing_population=True),
        FrameData(incidents=homicides(CELLS)),
    )
    pub = make_public(res)
    assert set(pub.cells["disclosure_control"].to_list()) <= {"k=5"}


def test_disclosure_column_and_statement_languages() -> None:
    es = make_public(result(lang="es"))
    en = make_public(result(lang="en"), k=3)
    assert set(es.cells["disclosure_control"].to_list()) == {"k=5"}
    assert es.cells.columns[-1] == "disclosure_control"
    assert es.statement == statement(5, "es")
    assert es.statement.startswith("Con control de divulgación")
    assert "de 1 a 4" in es.statement and "supresión complementaria" in es.statement
    assert en.statement.startswith("Disclosure-controlled")
    assert "from 1 to 2" in en.statement and "complementary suppression" in en.statement
    assert set(en.cells["disclosure_control"].to_list()) == {"k=3"}


def test_make_public_does_not_change_the_result() -> None:
    res = result()
    before = res.frame.clone()
    make_public(res)
    assert res.frame.equals(before)


def test_zero_population_gives_no_rate() -> None:
    data = FrameData(
        incidents=homicides({("GT-01", 2022): 6}),
        population_frame=populations({"GT-01": 0}),
    )
    with pytest.raises(MissingPopulation):
        compute("homicide_rate", Request(by=("admin1", "year")), data)
    allowed = Request(by=("admin1", "year"), allow_missing_population=True)
    assert compute("homicide_rate", allowed, data).frame["rate_per_100k"].to_list() == [None]


def test_a_department_with_one_year_of_data_does_not_blank_the_table() -> None:
    cells = {**CELLS, ("GT-07", 2022): 2}  # nothing in GT-07 in 2023
    res = compute(
        "homicide_count", Request(by=("admin1", "year")), FrameData(incidents=homicides(cells))
    )
    pub = make_public(res)
    # The absent GT-07 2023 is a zero that can hide GT-07 2022: nothing has to be withheld.
    assert pub.totals["suppressed"].null_count() == pub.totals.height
    assert pub.totals.filter(pl.col("total") == "grand")["count"].to_list() == [sum(cells.values())]
    published = pub.cells.filter(pl.col("count").is_not_null())
    assert set(published["admin1"].to_list()) >= {"GT-01", "GT-04"}
    gt07 = pub.cells.filter(pl.col("admin1") == "GT-07").sort("period")
    # The filled-in zero appears, blank like any suppressed cell, with its period described.
    assert gt07["period"].to_list() == ["2022", "2023"]
    assert gt07["count"].null_count() == 2
    assert gt07["period_start"].null_count() == 0
