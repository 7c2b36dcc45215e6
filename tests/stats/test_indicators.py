"""The indicator engine on frames built in the test (no database)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest

from safestreets import records, schema
from safestreets.errors import InputError, NotFound
from safestreets.query import AggregateQuery
from safestreets.reference.population import population_of
from safestreets.stats.catalogue import Indicator, builtin_catalogue, load_catalogue
from safestreets.stats.frames import FrameData
from safestreets.stats.indicators import MissingPopulation, Request, compute

GT_TZ = "America/Guatemala"


def incidents(rows: list[dict[str, object]]) -> pl.DataFrame:
    """Canonical incidents from short dicts (defaults fill the rest)."""
    base: dict[str, object] = {
        "source": "GT-PNC",
        "country": "GT",
        "occurred_precision": "minute",
        "source_timezone": GT_TZ,
        "iccs_code": "0101",
        "victim_count": 1,
        "handling_code": "NATIONAL",
        "owner_agency": "GT-PNC",
    }
    out = []
    for i, r in enumerate(rows):
        row = {**base, "incident_id": i + 1, "source_record_id": str(i + 1), **r}
        out.append(row)
    frame = pl.DataFrame(out, infer_schema_length=None)
    return schema.conform(frame, schema.INCIDENT)


def victims(rows: list[tuple[int, int, str, int | None]]) -> pl.DataFrame:
    frame = pl.DataFrame(
        rows, schema=["incident_id", "victim_no", "sex", "age"], orient="row"
    ).with_columns(age_band=schema.age_band(pl.col("age")))
    return schema.conform(frame, schema.VICTIM)


def utc(y: int, m: int, d: int, h: int = 12) -> datetime:
    return datetime(y, m, d, h, tzinfo=UTC)


# --- victim rows -----------------------------------------------------------------------------


def test_victim_rows_units() -> None:
    inc = incidents(
        [
            {"occurred_at": utc(2021, 3, 1)},  # 1: two described victims
            {"occurred_at": utc(2021, 3, 2), "victim_count": 3},  # 2: one described of three
            {"occurred_at": utc(2021, 3, 3)},  # 3: none described, count 1
            {"occurred_at": utc(2021, 3, 4), "victim_count": 0},  # 4: says no victims
            {"occurred_at": utc(2021, 3, 5), "victim_count": None},  # 5: unknown -> 1
        ]
    )
    vic = victims([(1, 1, "female", 30), (1, 2, "male", 16), (2, 1, "male", 40)])
    rows = records.victim_rows(inc, vic)
    assert rows["incidents"].sum() == 5  # every incident exactly once
    assert rows["victims"].sum() == 2 + 3 + 1 + 0 + 1
    by_sex = dict(rows.group_by("sex").agg(pl.col("victims").sum()).iter_rows())
    assert by_sex == {"female": 1, "male": 2, "unknown": 4}
    # Incident 1 is attributed to its first victim.
    first = rows.filter((pl.col("incidents") == 1) & (pl.col("sex") == "female"))
    assert first.height == 1


def test_local_month_not_utc() -> None:
    # 1 Feb 03:00 UTC is 31 Jan 21:00 in Guatemala (UTC-6).
    inc = incidents([{"occurred_at": datetime(2021, 2, 1, 3, tzinfo=UTC)}])
    rows = records.victim_rows(inc, victims([]))
    assert rows.select("year", "month", "local_date").row(0) == (2021, 1, date(2021, 1, 31))


def test_year_precision_has_no_month() -> None:
    inc = incidents([{"occurred_at": utc(2021, 1, 1), "occurred_precision": "year"}])
    rows = records.victim_rows(inc, victims([]))
    assert rows["month"][0] is None and rows["local_date"][0] is None
    monthly = records.aggregate_rows(rows, AggregateQuery(resolution="month"))
    yearly = records.aggregate_rows(rows, AggregateQuery(resolution="year"))
    assert monthly.height == 0 and yearly["victims"].sum() == 1


# --- rates and periods -----------------------------------------------------------------------


def _homicides(n_by_year: dict[int, int], country: str = "GT") -> pl.DataFrame:
    rows = []
    for year, n in n_by_year.items():
        for i in range(n):
            rows.append({"country": country, "occurred_at": utc(year, 1 + i % 12, 1 + i % 28)})
    return incidents(rows)


def test_rate_by_country_year_uses_package_population() -> None:
    data = FrameData(incidents=_homicides({2021: 120, 2022: 90}))
    res = compute("homicide_rate", Request(by=("country", "year")), data)
    f = res.frame
    assert f["period"].to_list() == ["2021", "2022"]
    assert f["count"].to_list() == [120, 90]
    for row in f.iter_rows(named=True):
        pop = population_of("GT", int(row["period"]))
        assert row["population"] == pop
        assert row["rate_per_100k"] == pytest.approx(row["count"] / pop * 1e5)
        assert row["annualised"] is False and row["basis"] == "records"
    assert res.read_from == "frames"
    assert set(f.columns) >= {"area", "period", "count", "population", "rate_per_100k"}


def test_monthly_rates_are_annualised() -> None:
    data = FrameData(incidents=_homicides({2021: 24}))
    f = compute("homicide_rate", Request(by=("country", "month")), data).frame
    jan = f.filter(pl.col("period") == "2021-01").row(0, named=True)
    assert jan["annualised"] is True
    expected = 2 / population_of("GT", 2021) * 1e5 * 365.2425 / 31
    assert jan["rate_per_100k"] == pytest.approx(expected)


def test_weeks_and_ranges() -> None:
    inc = incidents(
        [
            {"occurred_at": utc(2021, 1, 4)},  # Monday of ISO week 2021-W01
            {"occurred_at": utc(2021, 1, 10)},  # Sunday, same week
            {"occurred_at": utc(2021, 1, 11)},  # W02
            {"occurred_at": utc(2021, 1, 3)},  # 2020-W53
        ]
    )
    data = FrameData(incidents=inc)
    f = compute("homicide_count", Request(by=("week",)), data).frame
    assert dict(zip(f["period"], f["count"], strict=True)) == {
        "2020-W53": 1,
        "2021-W01": 2,
        "2021-W02": 1,
    }
    assert f.filter(pl.col("period") == "2021-W01")["period_start"][0] == date(2021, 1, 4)
    # An odd range reads days; the single output period is the range itself.
    r = compute(
        "homicide_count",
        Request(by=(), date_from=date(2021, 1, 4), date_to=date(2021, 1, 10)),
        data,
    ).frame
    assert r["count"].to_list() == [2]
    assert r["period"][0] == "2021-01-04/2021-01-10"


def test_iccs_levels_roll_up() -> None:
    inc = incidents(
        [
            {"occurred_at": utc(2021, 1, 1), "iccs_code": "040111"},
            {"occurred_at": utc(2021, 1, 2), "iccs_code": "0401"},
            {"occurred_at": utc(2021, 1, 3), "iccs_code": "0502"},
        ]
    )
    ind = Indicator.model_validate(
        {
            "id": "all_incidents",
            "name": {"es": "x", "en": "x"},
            "description": {"es": "x", "en": "x"},
            "numerator": {"iccs": ["04", "05"], "unit": "incidents"},
            "denominator": {"none": True},
            "multiplier": 1,
            "breakdowns": ["iccs_division", "iccs_section", "year"],
        }
    )
    f = compute(ind, Request(by=("iccs_division",)), FrameData(incidents=inc)).frame
    assert dict(zip(f["iccs_division"], f["count"], strict=True)) == {"0401": 2, "0502": 1}
    f = compute(ind, Request(by=("iccs_section",)), FrameData(incidents=inc)).frame
    assert dict(zip(f["iccs_section"], f["count"], strict=True)) == {"04": 2, "05": 1}


# --- counts and records together --------------------------------------------------------------


def counts(rows: list[dict[str, object]]) -> pl.DataFrame:
    out = []
    for r in rows:
        period = str(r["period"])
        y = int(period[:4])
        if len(period) == 4:
            start, end = date(y, 1, 1), date(y, 12, 31)
        else:
            m = int(period[5:7])
            start = date(y, m, 1)
            end = date(y + (m == 12), m % 12 + 1, 1) - (date(2000, 1, 2) - date(2000, 1, 1))
        out.append(
            {
                "source": "GT-INACIF",
                "country": "GT",
                "iccs_code": "0101",
                "unit": "victims",
                "period_start": start,
                "period_end": end,
                **r,
            }
        )
    return schema.conform(pl.DataFrame(out, infer_schema_length=None), schema.COUNT)


def test_records_win_over_counts_of_the_same_source() -> None:
    inc = _homicides({2021: 10})  # source GT-PNC
    cts = counts(
        [
            {"source": "GT-PNC", "period": "2021", "count": 999},  # same source: not used
            {"source": "GT-INACIF", "period": "2021", "count": 14},  # other source: added
        ]
    )
    res = compute(
        "homicide_count", Request(by=("country", "year", "source")), FrameData(inc, None, cts)
    )
    got = {r["source"]: (r["count"], r["basis"]) for r in res.frame.iter_rows(named=True)}
    assert got == {"GT-PNC": (10, "records"), "GT-INACIF": (14, "counts")}
    assert any("same source has records" in n for n in res.notes)


def test_counts_fit_periods_and_months_add_to_years() -> None:
    cts = counts([{"period": f"2021-{m:02d}", "count": m} for m in range(1, 13)])
    yearly = compute("homicide_count", Request(by=("year",)), FrameData(counts_frame=cts))
    assert yearly.frame["count"].to_list() == [78]
    assert yearly.frame["complete"].to_list() == [True]
    annual = counts([{"period": "2021", "count": 500}])
    monthly = compute("homicide_count", Request(by=("month",)), FrameData(counts_frame=annual))
    assert monthly.frame.height == 0
    assert any("longer than month" in n for n in monthly.notes)


def test_partial_year_of_counts_is_flagged() -> None:
    cts = counts([{"period": f"2023-{m:02d}", "count": 10} for m in range(1, 12)])  # no December
    res = compute("homicide_rate", Request(by=("country", "year")), FrameData(counts_frame=cts))
    row = res.frame.row(0, named=True)
    assert row["complete"] is False and row["count"] == 110
    assert any("cover only part" in n for n in res.notes)


def test_totals_and_their_parts_are_not_added() -> None:
    cts = counts(
        [
            {"period": "2021", "count": 100},
            {"period": "2021", "admin1": "GT-01", "count": 60},
            {"period": "2021", "admin1": "GT-05", "count": 40},
        ]
    )
    data = FrameData(counts_frame=cts)
    national = compute("homicide_count", Request(by=("country", "year")), data)
    assert national.frame["count"].to_list() == [100]
    assert any("parts of totals" in n for n in national.notes)
    by_dept = compute("homicide_count", Request(by=("admin1", "year")), data)
    assert dict(zip(by_dept.frame["admin1"], by_dept.frame["count"], strict=True)) == {
        "GT-01": 60,
        "GT-05": 40,
    }


def test_counts_in_another_unit_are_not_used() -> None:
    cts = counts([{"period": "2021", "count": 7, "unit": "incidents"}])
    res = compute("homicide_count", Request(by=("year",)), FrameData(counts_frame=cts))
    assert res.frame.height == 0
    assert any("were not used" in n for n in res.notes)


# --- populations ------------------------------------------------------------------------------


def pops(rows: list[dict[str, object]]) -> pl.DataFrame:
    return schema.conform(
        pl.DataFrame([{"source": "test", **r} for r in rows], infer_schema_length=None),
        schema.POPULATION,
    )


def test_user_population_wins_and_is_interpolated() -> None:
    inc = incidents(
        [
            {"occurred_at": utc(y, 6, 1), "admin1": "GT-01"}
            for y in (2020, 2021, 2022)
            for _ in range(10)
        ]
    )
    user = pops(
        [
            {"country": "GT", "admin1": "GT-01", "year": 2020, "population": 1_000_000},
            {"country": "GT", "admin1": "GT-01", "year": 2022, "population": 1_200_000},
            {"country": "GT", "year": 2021, "population": 20_000_000},
        ]
    )
    data = FrameData(incidents=inc, population_frame=user)
    f = compute("homicide_rate", Request(by=("admin1", "year")), data).frame
    assert f["population"].to_list() == [1_000_000, 1_100_000, 1_200_000]
    assert f["rate_per_100k"][1] == pytest.approx(10 / 1_100_000 * 1e5)
    national = compute("homicide_rate", Request(by=("country", "year")), data).frame
    assert national.filter(pl.col("period") == "2021")["population"][0] == 20_000_000
    assert national.filter(pl.col("period") == "2020")["population"][0] == population_of("GT", 2020)


def test_missing_population_is_an_error_not_a_zero() -> None:
    inc = incidents([{"occurred_at": utc(2021, 6, 1), "admin1": "GT-01"}])
    data = FrameData(incidents=inc)
    with pytest.raises(MissingPopulation, match="GT-01 2021"):
        compute("homicide_rate", Request(by=("admin1", "year")), data)
    res = compute(
        "homicide_rate", Request(by=("admin1", "year"), allow_missing_population=True), data
    )
    assert res.frame["rate_per_100k"].to_list() == [None]
    assert any("no population" in n for n in res.notes)
    # Beyond the last known year: never extrapolated.
    late = FrameData(incidents=incidents([{"occurred_at": utc(2031, 6, 1)}]))
    with pytest.raises(MissingPopulation):
        compute("homicide_rate", Request(by=("country", "year")), late)


def test_unknown_area_and_sex_get_empty_rates_not_errors() -> None:
    inc = incidents(
        [
            {"occurred_at": utc(2021, 6, 1), "admin1": None},
            {"occurred_at": utc(2021, 6, 2), "admin1": "GT-01"},
        ]
    )
    user = pops([{"country": "GT", "admin1": "GT-01", "year": 2021, "population": 3_000_000}])
    f = compute(
        "homicide_rate", Request(by=("admin1", "year")), FrameData(inc, population_frame=user)
    ).frame
    assert f.filter(pl.col("area") == "unknown")["rate_per_100k"].to_list() == [None]
    assert f.filter(pl.col("area") == "GT-01")["rate_per_100k"][0] == pytest.approx(1 / 30)


def test_rates_by_sex_need_populations_by_sex() -> None:
    inc = incidents([{"occurred_at": utc(2021, 6, d)} for d in (1, 2, 3)])
    vic = victims([(1, 1, "female", 20), (2, 1, "male", 30), (3, 1, "unknown", None)])
    with pytest.raises(MissingPopulation, match="female"):
        compute("sdg_16_1_1", Request(by=("country", "sex")), FrameData(inc, vic))
    user = pops(
        [
            {"country": "GT", "year": 2021, "sex": "female", "population": 9_000_000},
            {"country": "GT", "year": 2021, "sex": "male", "population": 8_500_000},
        ]
    )
    f = compute(
        "sdg_16_1_1",
        Request(by=("country", "year", "sex")),
        FrameData(inc, vic, population_frame=user),
    ).frame
    rate = dict(zip(f["sex"], f["rate_per_100k"], strict=True))
    assert rate["female"] == pytest.approx(1 / 9_000_000 * 1e5)
    assert rate["male"] == pytest.approx(1 / 8_500_000 * 1e5)
    assert rate["unknown"] is None


def test_femicide_counts_and_rate() -> None:
    inc = incidents(
        [
            {"occurred_at": utc(2021, 6, 1), "context": "gender_related"},
            {"occurred_at": utc(2021, 6, 2), "context": "intimate_partner"},
            {"occurred_at": utc(2021, 6, 3)},
            {"occurred_at": utc(2021, 6, 4)},
        ]
    )
    vic = victims(
        [(1, 1, "female", 25), (2, 1, "female", 33), (3, 1, "female", 50), (4, 1, "male", 20)]
    )
    data = FrameData(inc, vic)
    assert compute("femicide_count", Request(by=("year",)), data).frame["count"].to_list() == [3]
    gr = compute("femicide_gender_related_count", Request(by=("year",)), data).frame
    assert gr["count"].to_list() == [2]
    with pytest.raises(MissingPopulation):
        compute("femicide_rate", Request(by=("country", "year")), data)
    user = pops([{"country": "GT", "year": 2021, "sex": "female", "population": 9_000_000}])
    f = compute(
        "femicide_rate", Request(by=("country", "year")), FrameData(inc, vic, None, user)
    ).frame
    assert f["rate_per_100k"][0] == pytest.approx(3 / 9_000_000 * 1e5)


def test_share_of_victims_under_18() -> None:
    inc = incidents([{"occurred_at": utc(2021, 6, d)} for d in range(1, 6)])
    vic = victims(
        [
            (1, 1, "male", 15),
            (2, 1, "male", 17),
            (3, 1, "male", 30),
            (4, 1, "male", 45),
            (5, 1, "male", None),
        ]
    )
    f = compute(
        "homicide_under18_share", Request(by=("country", "year")), FrameData(inc, vic)
    ).frame
    row = f.row(0, named=True)
    assert (row["count"], row["denominator_count"]) == (2, 4)  # age unknown left out
    assert row["share_pct"] == pytest.approx(50.0)


def test_age_groups_and_firearm_filter() -> None:
    inc = incidents(
        [
            {"occurred_at": utc(2021, 6, 1), "weapon": "firearm"},
            {"occurred_at": utc(2021, 6, 2), "weapon": "knife"},
        ]
    )
    vic = victims([(1, 1, "male", 16), (2, 1, "male", 40)])
    data = FrameData(inc, vic)
    f = compute("homicide_count", Request(by=("age_group",)), data).frame
    assert dict(zip(f["age_group"], f["count"], strict=True)) == {"0-17": 1, "18+": 1}
    fa = compute("firearm_homicide_rate", Request(by=("country", "year")), data).frame
    assert fa["count"].to_list() == [1]


def test_no_area_sums_the_countries_with_data_per_period() -> None:
    inc = pl.concat([_homicides({2021: 5}, "GT"), _homicides({2021: 3, 2022: 4}, "SV")])
    inc = inc.with_columns(
        incident_id=pl.int_range(inc.height, dtype=pl.Int64),
        source_record_id=pl.int_range(inc.height).cast(pl.String),
        source=pl.col("country") + "-PNC",
    )
    f = compute("homicide_rate", Request(by=("year",)), FrameData(incidents=inc)).frame
    y21, y22 = f.row(0, named=True), f.row(1, named=True)
    assert y21["area"] == "GT+SV" and y22["area"] == "SV"
    assert y21["population"] == population_of("GT", 2021) + population_of("SV", 2021)
    assert y22["population"] == population_of("SV", 2022)


# --- requests that make no sense -----------------------------------------------------------


@pytest.mark.parametrize(
    ("request_", "match"),
    [
        (Request(by=("colour",)), "unknown breakdown"),
        (Request(by=("year", "month")), "one period kind"),
        (Request(by=("country", "country")), "repeated"),
        (Request(where={"iccs_code": ("0502",)}), "outside homicide_rate"),
        (Request(where={"planet": ("mars",)}), "cannot filter on planet"),
        (Request(where={"year": ("twenty",)}), "years are numbers"),
        (Request(date_from=date(2022, 1, 1), date_to=date(2021, 1, 1)), "after --to"),
    ],
)
def test_bad_requests(request_: Request, match: str) -> None:
    with pytest.raises(InputError, match=match):
        compute("homicide_rate", request_, FrameData(incidents=_homicides({2021: 1})))


def test_breakdown_not_allowed_by_the_indicator() -> None:
    with pytest.raises(InputError, match="cannot be broken down by admin2"):
        compute("sdg_16_1_1", Request(by=("admin2",)), FrameData(incidents=_homicides({2021: 1})))


def test_unknown_indicator_lists_the_known_ones() -> None:
    with pytest.raises(NotFound) as exc:
        compute("murder_rate", Request(), FrameData())
    assert exc.value.hint is not None and "homicide_rate" in exc.value.hint


# --- the catalogue ----------------------------------------------------------------------------


def test_shipped_catalogue_has_the_issue_indicators() -> None:
    ids = {i.id for i in builtin_catalogue().indicators}
    assert {
        "homicide_rate",
        "firearm_homicide_rate",
        "femicide_count",
        "femicide_rate",
        "femicide_gender_related_count",
        "sdg_16_1_1",
        "robbery_rate",
        "extortion_rate",
        "sexual_violence_rate",
        "domestic_violence_rate",
        "kidnapping_rate",
        "human_trafficking_victims",
        "theft_rate",
        "homicide_under18_share",
    } <= ids


def test_user_catalogue_adds_and_overrides(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(
        """
indicators:
  - id: bus_robbery_rate
    name: {es: Robos en buses, en: Bus robberies}
    description: {es: Robos en transporte público, en: Robberies on public transport}
    numerator: {iccs: ["0401"], unit: incidents, place_type: [public_transport]}
    denominator: {population: {}}
    multiplier: 100000
    breakdowns: [country, year, month]
  - id: homicide_count
    name: {es: Homicidios (mi definición), en: Homicides (mine)}
    description: {es: x, en: x}
    numerator: {iccs: ["0101", "0103"], unit: victims}
    denominator: {none: true}
    multiplier: 1
    breakdowns: [country, year]
""",
        encoding="utf-8",
    )
    cat = load_catalogue(path)
    assert cat.get("bus_robbery_rate").numerator.place_type == ["public_transport"]
    assert cat.get("homicide_count").numerator.iccs == ["0101", "0103"]
    assert cat.get("homicide_rate").id == "homicide_rate"  # shipped ones stay
    inc = incidents(
        [
            {
                "occurred_at": utc(2021, 1, 1),
                "iccs_code": "040121",
                "place_type": "public_transport",
            },
            {"occurred_at": utc(2021, 1, 1), "iccs_code": "0401", "place_type": "street"},
        ]
    )
    f = compute("bus_robbery_rate", Request(by=("country", "year")), FrameData(inc), catalogue=cat)
    assert f.frame["count"].to_list() == [1]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("indicators: [\n  - id: x\n", "not valid YAML"),
        ("foo: 1\n", "list under 'indicators'"),
        (
            "indicators:\n  - id: x\n    name: {es: a, en: a}\n    description: {es: a, en: a}\n"
            "    numerator: {iccs: ['9999'], unit: victims}\n    denominator: {none: true}\n"
            "    multiplier: 1\n    breakdowns: [year]\n",
            "not ICCS",
        ),
        (
            "indicators:\n  - id: x\n    name: {es: a, en: a}\n    description: {es: a, en: a}\n"
            "    numerator: {iccs: ['0101'], unit: victims}\n    denominator: {none: true}\n"
            "    multiplier: 1\n    breakdowns: [planet]\n",
            "unknown breakdown",
        ),
    ],
)
def test_bad_user_catalogue(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=match):
        load_catalogue(path)


def test_coarsely_dated_records_are_counted_in_a_note() -> None:
    inc = incidents(
        [
            {"occurred_at": utc(2021, 3, 1)},
            {"occurred_at": utc(2021, 1, 1), "occurred_precision": "year"},
        ]
    )
    data = FrameData(incidents=inc)
    monthly = compute("homicide_count", Request(by=("month",)), data)
    assert monthly.frame["count"].sum() == 1
    assert any(n.startswith("1 victims dated only to a coarser period") for n in monthly.notes)
    yearly = compute("homicide_count", Request(by=("year",)), data)
    assert yearly.frame["count"].to_list() == [2]
    assert not any("coarser period" in n for n in yearly.notes)
