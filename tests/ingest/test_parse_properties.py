"""Property tests of the ingest parsers and of the ingest accounting invariant (Hypothesis)."""

from __future__ import annotations

import math
import tempfile
from datetime import date, datetime, time
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text

from safestreets.ingest.load import ingest_file
from safestreets.ingest.parse import (
    DATETIME_FORMATS_DAYFIRST,
    DATETIME_FORMATS_MONTHFIRST,
    TIME_FORMATS,
    coordinate_problems,
    format_precision,
    parse_datetimes,
    parse_numbers,
    parse_times,
)
from safestreets.ingest.profiles import parse_profile

from . import bad_corpus as bc

SETTINGS = settings(max_examples=150, deadline=None)

# Years written with four digits (chrono reads %Y as 1-4 digits; Python writes it unpadded
# below 1000); chrono reads two-digit years (%y) as 1970-2069.
datetimes_4y = st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 31))
datetimes_2y = st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2069, 12, 31))

_PY = {"%.f": ".%f", "%z": "+0000"}


def strftime(value: datetime, fmt: str) -> str:
    """Format with a chrono format string (``%.f`` and ``%z`` spelt the Python way)."""
    out = fmt
    for chrono, py in _PY.items():
        out = out.replace(chrono, py)
    return value.strftime(out)


def truncate(value: datetime, fmt: str) -> datetime:
    """The part of ``value`` a format can carry."""
    if "%.f" in fmt:
        return value
    if "%S" in fmt:
        return value.replace(microsecond=0)
    if "%M" in fmt:
        return value.replace(second=0, microsecond=0)
    return datetime.combine(value.date(), time())


def _blank(raw: str | None) -> bool:
    """Missing or whitespace only, as Polars strips it (Unicode White_Space; Python's
    ``str.isspace`` also counts the separators U+001C..U+001F)."""
    return raw is None or all(c.isspace() and c not in "\x1c\x1d\x1e\x1f" for c in raw)


def _one(frame: pl.DataFrame) -> dict[str, object]:
    assert frame.height == 1
    return frame.row(0, named=True)


# --- parse_datetimes ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("formats", "dayfirst"),
    [(DATETIME_FORMATS_DAYFIRST, True), (DATETIME_FORMATS_MONTHFIRST, False)],
    ids=["dayfirst", "monthfirst"],
)
@SETTINGS
@given(data=st.data())
def test_datetimes_round_trip_every_default_format(
    formats: tuple[str, ...], dayfirst: bool, data: st.DataObject
) -> None:
    fmt = data.draw(st.sampled_from(formats), label="format")
    value = data.draw(datetimes_2y if "%y" in fmt else datetimes_4y, label="value")
    written = strftime(value, fmt)
    got = _one(parse_datetimes(pl.Series([written]), dayfirst=dayfirst))
    assert got["invalid"] is False, written
    assert got["value"] == truncate(value, fmt), (written, fmt)
    assert got["precision"] == format_precision(fmt), written
    assert got["has_offset"] is ("%z" in fmt)


@SETTINGS
@given(year=st.integers(1000, 9999), month=st.integers(1, 12), day=st.integers(13, 28))
def test_day_first_and_month_first_agree_when_the_day_is_unambiguous(
    year: int, month: int, day: int
) -> None:
    value = date(year, month, day)
    d = _one(parse_datetimes(pl.Series([value.strftime("%d/%m/%Y")]), dayfirst=True))
    m = _one(parse_datetimes(pl.Series([value.strftime("%m/%d/%Y")]), dayfirst=False))
    assert d["value"] == m["value"] == datetime.combine(value, time())
    # The other reading of the same text is impossible (month > 12): invalid, never a guess.
    wrong = _one(parse_datetimes(pl.Series([value.strftime("%d/%m/%Y")]), dayfirst=False))
    assert wrong["invalid"] is True and wrong["value"] is None


@SETTINGS
@given(values=st.lists(st.text(max_size=40) | st.none(), max_size=20))
def test_datetimes_never_raise_on_arbitrary_text(values: list[str | None]) -> None:
    out = parse_datetimes(pl.Series(values, dtype=pl.String))
    assert out.height == len(values)
    assert out.columns == ["value", "precision", "has_offset", "offset", "invalid"]
    for raw, row in zip(values, out.iter_rows(named=True), strict=True):
        if _blank(raw):
            assert row["invalid"] is False and row["value"] is None
        else:
            assert row["invalid"] is (row["value"] is None)
            assert (row["precision"] is None) is (row["value"] is None)


@SETTINGS
@given(blanks=st.lists(st.sampled_from(["", " ", "\t", "  \n ", None]), min_size=1, max_size=8))
def test_blank_dates_and_times_are_missing_not_invalid(blanks: list[str | None]) -> None:
    series = pl.Series(blanks, dtype=pl.String)
    for out in (parse_datetimes(series), parse_times(series)):
        assert not out["invalid"].any()
        assert out["value"].null_count() == len(blanks)


# --- parse_times --------------------------------------------------------------------------


@SETTINGS
@given(fmt=st.sampled_from(TIME_FORMATS), value=st.times())
def test_times_round_trip(fmt: str, value: time) -> None:
    if "%.f" not in fmt:
        value = value.replace(microsecond=0)
    if "%S" not in fmt:
        value = value.replace(second=0)
    written = datetime.combine(date(2000, 1, 1), value).strftime(fmt.replace("%.f", ".%f"))
    got = _one(parse_times(pl.Series([written])))
    assert got["invalid"] is False, written
    assert got["value"] == value, (written, fmt)


@SETTINGS
@given(values=st.lists(st.text(max_size=20) | st.none(), max_size=20))
def test_times_never_raise_on_arbitrary_text(values: list[str | None]) -> None:
    out = parse_times(pl.Series(values, dtype=pl.String))
    assert out.height == len(values)
    for raw, row in zip(values, out.iter_rows(named=True), strict=True):
        blank = _blank(raw)
        assert row["invalid"] is (not blank and row["value"] is None)


# --- parse_numbers ------------------------------------------------------------------------

finite = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False, allow_infinity=False)


def _grouped(integer: str, sep: str) -> str:
    """``1234567`` -> ``1,234,567`` (with ``sep``)."""
    groups = []
    while len(integer) > 3:
        groups.insert(0, integer[-3:])
        integer = integer[:-3]
    return sep.join([integer, *groups])


@SETTINGS
@given(value=finite, places=st.integers(0, 7), comma=st.booleans(), thousands=st.booleans())
def test_numbers_round_trip_with_either_decimal_mark(
    value: float, places: int, comma: bool, thousands: bool
) -> None:
    written = f"{abs(value):.{places}f}"
    integer, _, fraction = written.partition(".")
    point, group = (",", ".") if comma else (".", ",")
    if thousands:
        # Thousands separators are unambiguous only beside a decimal mark ("1,234" alone
        # is 1.234 in auto mode: a coordinate written with a decimal comma).
        fraction = fraction or "0"
        integer = _grouped(integer, group)
    text_value = ("-" if value < 0 else "") + integer + (point + fraction if fraction else "")
    expected = float(f"{abs(value):.{places}f}") * (-1 if value < 0 else 1)
    for decimal in ("auto", point):
        got = _one(parse_numbers(pl.Series([text_value]), decimal=decimal))
        assert got["invalid"] is False, (text_value, decimal)
        assert math.isclose(got["value"], expected, rel_tol=1e-12, abs_tol=1e-12), text_value


@SETTINGS
@given(values=st.lists(st.text(max_size=25) | st.none(), max_size=20))
def test_numbers_never_raise_and_flag_only_non_blank_text(values: list[str | None]) -> None:
    for decimal in ("auto", ".", ","):
        out = parse_numbers(pl.Series(values, dtype=pl.String), decimal=decimal)
        assert out.height == len(values)
        for raw, row in zip(values, out.iter_rows(named=True), strict=True):
            blank = _blank(raw)
            assert row["invalid"] is (not blank and row["value"] is None)
            assert row["value"] is None or math.isfinite(row["value"])


@pytest.mark.parametrize(
    "word", ["inf", "-inf", "Infinity", "nan", "NaN", "-NaN", "1e999", "-1e400"]
)
def test_non_finite_numbers_are_invalid(word: str) -> None:
    got = _one(parse_numbers(pl.Series([word])))
    assert got == {"value": None, "invalid": True}


# --- coordinate_problems ------------------------------------------------------------------

coord = st.floats(min_value=-400, max_value=400, allow_nan=False) | st.sampled_from(
    [0.0, -0.0, 90.0, -90.0, 180.0, -180.0, 90.0000001, -180.0000001]
)


@SETTINGS
@given(points=st.lists(st.tuples(coord | st.none(), coord | st.none()), min_size=1, max_size=20))
def test_coordinate_problems_flags_exactly_zero_and_out_of_range(
    points: list[tuple[float | None, float | None]],
) -> None:
    frame = pl.DataFrame(
        {"lon": [p[0] for p in points], "lat": [p[1] for p in points]},
        schema={"lon": pl.Float64, "lat": pl.Float64},
    )
    got = frame.select(r=coordinate_problems(pl.col("lon"), pl.col("lat")))["r"].to_list()
    for (lon, lat), reason in zip(points, got, strict=True):
        if lon is None or lat is None:
            want = None
        elif lon == 0 and lat == 0:
            want = "coordinates_zero"
        elif abs(lat) > 90 or abs(lon) > 180:
            want = "coordinates_out_of_range"
        else:
            want = None
        assert reason == want, (lon, lat)


# --- the accounting invariant through ingest_file -----------------------------------------

CATEGORIES = ["Homicidio", "Robo", "Hurto", "Extorsión", "Lesiones", "Brujería"]
DATE_SPELLINGS = ["%d/%m/%Y", "%Y-%m-%d", "%d-%m-%Y", "%d/%m/%y", "%-d/%-m/%Y"]

valid_rows = st.fixed_dictionaries(
    {
        "fecha": st.builds(
            lambda d, f: d.strftime(f),
            st.dates(min_value=date(2005, 1, 1), max_value=date(2024, 12, 31)),
            st.sampled_from(DATE_SPELLINGS),
        ),
        "hora": st.builds(lambda t: t.strftime("%H:%M"), st.times()) | st.just(""),
        "delito": st.sampled_from(CATEGORIES),
        # Guatemala City and around: inside the country outline whatever the draw.
        "lat": st.floats(14.55, 14.70).map(lambda v: f"{v:.5f}"),
        "lon": st.floats(-90.60, -90.45).map(lambda v: f"{v:.5f}"),
        "departamento": st.sampled_from(["Guatemala", "GUATEMALA", "Sacatepéquez", ""]),
        "municipio": st.sampled_from(["Guatemala", "Mixco", "Villa Nueva", ""]),
        "sexo": st.sampled_from(["F", "M", "Hombre", "Mujer", ""]),
        "edad": st.integers(0, 99).map(str) | st.just(""),
    }
)
junk = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), whitelist_characters=',;"\n\t'),
    max_size=12,
)
any_rows = st.fixed_dictionaries({c: junk for c in bc.HEADER}) | valid_rows


def _with_repeats(strategy: st.SearchStrategy[dict[str, str]]) -> st.SearchStrategy:
    """Lists of rows where some rows repeat (duplicates inside the file)."""
    return st.lists(strategy, min_size=1, max_size=25).flatmap(
        lambda rs: st.lists(st.sampled_from(rs), max_size=5).map(lambda extra: rs + extra)
    )


def _store(folder: Path) -> Engine:
    from safestreets.store.engine import get_engine
    from safestreets.store.migrate import upgrade

    engine = get_engine(f"sqlite:///{folder}/t.sqlite")
    upgrade(engine)
    return engine


def _batch_counts(engine: Engine, batch_id: int) -> tuple[int, int]:
    with engine.connect() as conn:
        loaded = conn.execute(
            text("SELECT count(*) FROM incident WHERE batch_id = :b"), {"b": batch_id}
        ).scalar_one()
        quarantined = conn.execute(
            text("SELECT count(*) FROM quarantine WHERE batch_id = :b"), {"b": batch_id}
        ).scalar_one()
    return int(loaded), int(quarantined)


PROFILE = parse_profile(bc.GT_PROFILE_YAML, origin="gt-pnc-test")


def test_valid_rows_all_load_once() -> None:
    """Valid GT rows: nothing rejected; each distinct row loaded once over repeated runs."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        engine = _store(folder)
        seen: set[tuple[str, ...]] = set()

        @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(rows=_with_repeats(valid_rows))
        def check(rows: list[dict[str, str]]) -> None:
            path = folder / "rows.csv"
            path.write_bytes(bc.csv_bytes(rows))
            report = ingest_file(path, PROFILE, engine)
            keys = [tuple(r[c] for c in bc.HEADER) for r in rows]
            distinct = set(keys)
            assert report.rows_read == len(rows)
            assert report.rows_rejected == 0, report.rejections
            assert report.rows_duplicate_in_file == len(rows) - len(distinct)
            assert report.rows_loaded == len(distinct - seen)
            assert report.rows_duplicate_in_store == len(distinct & seen)
            assert report.rows_read == (
                report.rows_loaded + report.rows_rejected + report.rows_duplicate
            )
            assert _batch_counts(engine, report.batch_id) == (report.rows_loaded, 0)  # type: ignore[arg-type]
            seen.update(distinct)

        check()
        engine.dispose()


def test_accounting_holds_for_any_rows() -> None:
    """Valid rows mixed with junk: read == loaded + rejected + duplicate; the store agrees."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        engine = _store(folder)

        @settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(rows=_with_repeats(any_rows))
        def check(rows: list[dict[str, str]]) -> None:
            path = folder / "rows.csv"
            path.write_bytes(bc.csv_bytes(rows))
            report = ingest_file(path, PROFILE, engine)
            assert report.rows_read == len(rows)
            assert report.rows_read == (
                report.rows_loaded + report.rows_rejected + report.rows_duplicate
            )
            assert _batch_counts(engine, report.batch_id) == (  # type: ignore[arg-type]
                report.rows_loaded,
                report.rows_rejected,
            )

        check()
        engine.dispose()


@settings(max_examples=150, deadline=None)
@given(n=st.integers(min_value=0, max_value=10**12), sep=st.sampled_from(["", ",", ".", " "]))
def test_integers_round_trip_with_any_thousands_separator(n: int, sep: str) -> None:
    from safestreets.ingest.parse import parse_integers

    text = f"{n:,}".replace(",", sep)
    out = parse_integers(pl.Series([text]))
    assert out["value"][0] == n and not out["invalid"][0]


def test_integers_reject_fractions_and_text() -> None:
    from safestreets.ingest.parse import parse_integers

    out = parse_integers(pl.Series(["12.5", "abc", "", None, "1e3"]))
    assert out["value"].to_list() == [None, None, None, None, 1000]
    assert out["invalid"].to_list() == [True, True, False, False, False]
