"""The synthetic region: schema, markings, determinism, chunking, calibration, victims, time."""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from safestreets import schema
from safestreets.demo import VICTIM_COLUMNS, generate_region
from safestreets.demo import _generate as generate_module
from safestreets.errors import InputError
from safestreets.reference import categories, geo, population

from .conftest import Region, make_region

#: Sections of the ICCS whose offences have persons as victims (death, harm, sexual, robbery).
PERSON_SECTIONS = ("01", "02", "03", "04")


def _local(frame: pl.DataFrame, column: str = "occurred_at") -> pl.DataFrame:
    """Add local year, month day, hour and weekday of ``column`` using each row's time zone."""
    parts = []
    for (tz,), part in frame.group_by(["source_timezone"]):
        local = pl.col(column).dt.convert_time_zone(str(tz))
        parts.append(
            part.with_columns(
                year=local.dt.year(),
                day=local.dt.day(),
                hour=local.dt.hour(),
                weekday=local.dt.weekday(),
                month_end=local.dt.month_end().dt.day(),
            )
        )
    return pl.concat(parts)


# --- schema and markings -------------------------------------------------------------------


def test_incidents_have_exactly_the_canonical_schema(region: Region) -> None:
    for chunk in region.chunks:
        assert chunk.incidents.schema == pl.Schema(schema.INCIDENT)
        assert chunk.victims.schema == pl.Schema(VICTIM_COLUMNS)
    inc = region.incidents
    assert inc["incident_id"].null_count() == inc.height
    assert inc["batch_id"].null_count() == inc.height


def test_controlled_values_are_allowed_ones(region: Region) -> None:
    inc = region.incidents
    allowed = {
        "occurred_precision": schema.OCCURRED_PRECISION,
        "location_precision": schema.LOCATION_PRECISION,
        "mapping_quality": schema.MAPPING_QUALITY,
        "handling_code": schema.HANDLING_CODES,
        "place_type": schema.PLACE_TYPES,
        "weapon": schema.WEAPONS,
        "country": geo.COUNTRY_CODES,
    }
    for column, values in allowed.items():
        seen = set(inc[column].drop_nulls().unique())
        assert seen <= set(values), (column, seen - set(values))
    for column in (
        "source",
        "source_record_id",
        "country",
        "admin1",
        "occurred_at",
        "reported_at",
        "local_category",
        "iccs_code",
        "lon",
        "lat",
        "owner_agency",
        "handling_code",
    ):
        assert inc[column].null_count() == 0, column
    vic = region.victims
    assert set(vic["sex"].unique()) <= set(schema.SEXES)
    assert set(vic["age_band"].drop_nulls().unique()) <= set(schema.AGE_BANDS)


def test_every_record_is_marked_synthetic(region: Region) -> None:
    inc = region.incidents
    assert (inc["source"] == "SYNTHETIC-DEMO-" + inc["owner_agency"]).all()
    assert inc["owner_agency"].str.starts_with(inc["country"] + "-").all()
    assert inc["source_record_id"].str.starts_with(inc["owner_agency"] + "-").all()
    assert inc["source_record_id"].str.contains(r"^[A-Z]{2}-[A-Z]+-\d{4}-\d{6,}$").all()
    assert inc["source_record_id"].n_unique() == inc.height
    # Police own most records; forensic institutes and prosecutors a share.
    police_share = (
        inc["owner_agency"]
        .is_in(["GT-PNC", "SV-PNC", "HN-DPI", "NI-PN", "CR-OIJ", "PA-PN", "BZ-BPD"])
        .mean()
    )
    assert 0.7 < police_share < 0.95
    assert {"GT-INACIF", "GT-MP", "SV-FGR", "SV-IML"} <= set(inc["owner_agency"])


def test_handling_codes_mostly_national(region: Region) -> None:
    shares = region.incidents["handling_code"].value_counts(normalize=True)
    share = dict(zip(shares["handling_code"], shares["proportion"], strict=True))
    assert share["NATIONAL"] > 0.6
    assert share["NATIONAL"] > share["REGIONAL"] > share["PUBLIC"] > 0
    assert 0 < share["RESTRICTED"] < 0.15


def test_labels_map_back_to_their_iccs_code(region: Region) -> None:
    pairs = region.incidents.select(
        "country", "local_category", "iccs_code", "mapping_quality"
    ).unique()
    assert pairs["local_category"].n_unique() > 50  # a realistic variety of police wording
    for (country,), part in pairs.group_by(["country"]):
        mapped = categories.map_categories(part["local_category"], country=str(country))
        assert mapped["iccs_code"].to_list() == part["iccs_code"].to_list()
        assert mapped["mapping_quality"].to_list() == part["mapping_quality"].to_list()


def test_all_crime_families_are_present(region: Region) -> None:
    codes = region.incidents["iccs_code"]
    extortion = categories.map_categories(pl.Series(["Extorsión"]))["iccs_code"][0]
    for prefix in (
        "0101",
        "0401",
        "040111",
        "0501",
        "0502",
        "02011",
        "02012",
        extortion,
        "0301",
        "0302",
        "0204",
        "0202",
        "06",
        "0901",
        "0701",
        "04012",
        "05021",
    ):
        assert codes.str.starts_with(prefix).any(), prefix
    domestic = region.incidents.filter(
        pl.col("local_category").str.contains("(?i)intrafamiliar|doméstica"),
        pl.col("place_type") == "residence",
    )
    assert domestic.height > 100


# --- determinism and chunking --------------------------------------------------------------


def test_same_seed_gives_identical_frames() -> None:
    kw = {"seed": 3, "incidents": 6_000, "years": 1, "countries": ["SV", "CR"]}
    a, b = make_region(**kw), make_region(**kw)
    assert_frame_equal(a.incidents, b.incidents)
    assert_frame_equal(a.victims, b.victims)
    c = make_region(**{**kw, "seed": 4})
    assert not c.incidents.equals(a.incidents)


def test_data_do_not_depend_on_chunk_size(monkeypatch: pytest.MonkeyPatch) -> None:
    # Small internal blocks so that each country-year spans several of them.
    monkeypatch.setattr(generate_module, "_BLOCK", 700)
    kw = {"seed": 5, "incidents": 5_000, "years": 2, "countries": ["CR", "PA"]}
    reference = make_region(**kw, chunk_size=100_000)
    assert len(reference.chunks) == 1
    for size in (1_000, 1_234):
        calls: list[int] = []
        other = make_region(**kw, chunk_size=size, progress=calls.append)
        heights = [c.incidents.height for c in other.chunks]
        assert all(h == size for h in heights[:-1]) and 0 < heights[-1] <= size
        assert calls == [sum(heights[: i + 1]) for i in range(len(heights))]
        assert calls[-1] == 5_000
        for chunk in other.chunks:  # victims travel with their incidents
            assert set(chunk.victims["source_record_id"]) <= set(
                chunk.incidents["source_record_id"]
            )
        assert_frame_equal(other.incidents, reference.incidents)
        assert_frame_equal(other.victims, reference.victims)


def test_generation_is_lazy() -> None:
    calls: list[int] = []
    chunks = generate_region(
        seed=1, incidents=3_000, years=1, countries=["CR"], chunk_size=500, progress=calls.append
    )
    assert calls == []
    next(chunks)
    assert calls == [500]


def test_too_few_incidents_for_the_homicides_raises_with_a_hint() -> None:
    with pytest.raises(InputError) as err:
        generate_region(incidents=1_000, years=3)
    assert err.value.hint is not None and "at least" in err.value.hint
    with pytest.raises(InputError):
        generate_region(incidents=10_000, countries=["XX"])
    with pytest.raises(InputError):
        generate_region(chunk_size=0)


# --- calibration ---------------------------------------------------------------------------


def test_default_end_year_is_latest_published_rate() -> None:
    from safestreets.demo._plan import default_end_year

    assert default_end_year() == max(
        population.latest_homicide_rate(c)[0] for c in geo.COUNTRY_CODES
    )


def test_homicide_rates_match_latest_unodc_rates(region: Region) -> None:
    homicides = _local(region.incidents.filter(pl.col("iccs_code") == "0101"))
    victims = homicides.group_by("country", "year").agg(pl.col("victim_count").sum())
    assert victims.height == len(geo.COUNTRY_CODES)  # one year for each country
    for country, year, count in victims.iter_rows():
        _, target = population.latest_homicide_rate(country)
        rate = count / population.population_of(country, year) * 100_000
        assert rate == pytest.approx(target, rel=0.05), country


# --- victims -------------------------------------------------------------------------------


def test_victims_link_to_incidents_and_match_victim_count(region: Region) -> None:
    inc, vic = region.incidents, region.victims
    assert vic.join(inc, on="source_record_id", how="anti").height == 0
    per = vic.group_by("source_record_id").agg(n=pl.len(), last=pl.col("victim_no").max())
    joined = inc.join(per, on="source_record_id", how="left").with_columns(pl.col("n").fill_null(0))
    assert (joined["n"] == joined["victim_count"]).all()
    assert (joined["last"].fill_null(0) == joined["victim_count"]).all()
    persons = inc.filter(pl.col("iccs_code").str.slice(0, 2).is_in(PERSON_SECTIONS))
    assert (persons["victim_count"] >= 1).all()
    ages = vic["age"].drop_nulls()
    assert ages.min() >= 0 and ages.max() <= 95
    assert 0 < vic["age"].null_count() < 0.1 * vic.height
    assert 0 < (vic["sex"] == "unknown").sum() < 0.1 * vic.height


def test_homicide_victims_are_mostly_young_men(region: Region) -> None:
    hv = region.victims.join(
        region.incidents.filter(pl.col("iccs_code") == "0101"), on="source_record_id"
    )
    known = hv.filter(pl.col("sex") != "unknown")
    assert 0.84 < (known["sex"] == "male").mean() < 0.92
    young = hv.filter(pl.col("age").is_between(18, 34))
    assert young.height > 0.4 * hv["age"].drop_nulls().len()


def test_femicide_children_and_violence_against_women(region: Region) -> None:
    vic = region.victims.join(
        region.incidents.select("source_record_id", "local_category", "iccs_code"),
        on="source_record_id",
    )
    femicide = vic.filter(pl.col("local_category").is_in(["Femicidio", "Feminicidio"]))
    assert femicide.height > 50
    assert (femicide["sex"] == "female").all()
    assert (femicide["iccs_code"] == "0101").all()
    sexual = vic.filter(pl.col("iccs_code").str.starts_with("03"))
    assert (sexual["sex"] == "female").mean() > 0.8
    assert (sexual["age"] < 18).mean() > 0.3
    domestic = vic.filter(pl.col("local_category").str.contains("(?i)intrafamiliar|doméstica"))
    assert (domestic["sex"] == "female").mean() > 0.7
    assert (vic["age"] < 18).sum() > 500


def test_market_and_bus_robberies_present(region: Region) -> None:
    robbery = region.incidents.filter(pl.col("iccs_code").str.starts_with("0401"))
    kinds = robbery["place_type"].value_counts()
    counts = dict(zip(kinds["place_type"], kinds["count"], strict=True))
    assert counts["public_transport"] > 300
    assert counts["market"] > 200
    assert counts["transport_stop"] > 100
    bus = robbery.filter(pl.col("place_type") == "public_transport")
    assert bus["local_category"].str.contains("(?i)bus|transporte|microb").all()


def test_firearms_dominate_homicides_in_the_northern_triangle(region: Region) -> None:
    share = (
        region.incidents.filter(pl.col("iccs_code") == "0101")
        .group_by("country")
        .agg((pl.col("weapon") == "firearm").mean().alias("firearm"))
    )
    firearm = dict(share.iter_rows())
    for country in ("GT", "SV", "HN"):
        assert 0.65 < firearm[country] < 0.85, country
    assert firearm["NI"] < 0.5


# --- time ----------------------------------------------------------------------------------


def test_times_are_utc_with_local_zone_and_plausible_patterns(region: Region) -> None:
    inc = region.incidents
    zones = dict(inc.select("country", "source_timezone").unique().iter_rows())
    assert zones["PA"] == "America/Panama" and zones["GT"] == "America/Guatemala"
    assert (inc["reported_at"] >= inc["occurred_at"]).all()
    delay_h = (inc["reported_at"] - inc["occurred_at"]).dt.total_minutes() / 60
    assert 1 < delay_h.median() < 48
    local = _local(inc)
    end = max(population.latest_homicide_rate(c)[0] for c in geo.COUNTRY_CODES)
    assert set(local["year"].unique()) == {end}
    minute = local.filter(pl.col("occurred_precision") == "minute")
    assert (minute["occurred_at"].dt.second() == 0).all()
    assert (inc["occurred_precision"] == "minute").mean() > 0.6

    violent = minute.filter(pl.col("iccs_code").str.starts_with("01"))
    night = violent["hour"].is_in([*range(18, 24), *range(0, 6)]).mean()
    assert night > 0.55
    weekend = violent["weekday"].is_in([6, 7]).mean()
    assert weekend > 2 / 7 + 0.03
    robbery = local.filter(pl.col("iccs_code").str.starts_with("0401"))
    payday = (robbery["day"] == 15) | (robbery["day"] == robbery["month_end"])
    # Two paydays a month carry clearly more than their 2/30.4 share of the days.
    assert payday.mean() > 1.2 * 2 / 30.4
