"""Aggregated statistics (counts) and populations: validation and loading.

Many agencies publish only counts. The canonical counts CSV has the columns
``source,country,admin1,admin2,period,iccs_code,local_category,unit,count``; ``period`` is
``2019``, ``2019-Q2`` or ``2019-05``; ``unit`` is ``victims`` or ``incidents``. Populations
have ``country,admin1,admin2,year,population``.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
from sqlalchemy import Engine, and_, delete, select

from safestreets import schema
from safestreets.errors import InputError
from safestreets.ingest.load import file_sha256, finish, tally_rejections
from safestreets.ingest.parse import parse_integers
from safestreets.ingest.profiles import Profile
from safestreets.ingest.readers import ROW, iter_chunks, open_source
from safestreets.ingest.reasons import Reasons
from safestreets.ingest.report import IngestReport
from safestreets.reference import geo, iccs
from safestreets.store import tables
from safestreets.store.bulk import open_session

COUNT_COLUMNS = (
    "source",
    "country",
    "admin1",
    "admin2",
    "period",
    "iccs_code",
    "local_category",
    "unit",
    "count",
)
POPULATION_COLUMNS = ("country", "admin1", "admin2", "year", "population")
COUNT_KEY = (
    "source",
    "country",
    "admin1",
    "admin2",
    "period",
    "iccs_code",
    "local_category",
    "unit",
)


def parse_periods(values: pl.Series) -> pl.DataFrame:
    """Periods ``2019``, ``2019-Q2``, ``2019-05``, ``2019-W07`` -> normalised text and dates.

    Returns columns ``period`` (normalised text), ``period_start``, ``period_end`` (Date,
    inclusive) and ``invalid``.
    """
    s = values.str.strip_chars().str.to_uppercase()
    frame = pl.DataFrame({"p": s}).with_columns(
        y=pl.col("p").str.extract(r"^(\d{4})", 1).cast(pl.Int32, strict=False),
        q=pl.col("p").str.extract(r"^\d{4}-?Q([1-4])$", 1).cast(pl.Int32, strict=False),
        m=pl.col("p").str.extract(r"^\d{4}-(\d{1,2})$", 1).cast(pl.Int32, strict=False),
        w=pl.col("p").str.extract(r"^\d{4}-?W(\d{1,2})$", 1).cast(pl.Int32, strict=False),
        is_year=pl.col("p").str.contains(r"^\d{4}$"),
    )
    frame = frame.with_columns(
        m=pl.when((pl.col("m") >= 1) & (pl.col("m") <= 12)).then(pl.col("m"))
    )
    start = (
        pl.when(pl.col("is_year"))
        .then(pl.date(pl.col("y"), 1, 1))
        .when(pl.col("q").is_not_null())
        .then(pl.date(pl.col("y"), (pl.col("q") - 1) * 3 + 1, 1))
        .when(pl.col("m").is_not_null())
        .then(pl.date(pl.col("y"), pl.col("m"), 1))
        .when(pl.col("w").is_not_null())
        .then(
            pl.concat_str(
                pl.col("y"), pl.lit("-W"), pl.col("w").cast(pl.String).str.zfill(2), pl.lit("-1")
            ).str.strptime(pl.Date, "%G-W%V-%u", strict=False)
        )
    )
    out = frame.with_columns(period_start=start).with_columns(
        period_end=pl.when(pl.col("is_year"))
        .then(pl.col("period_start").dt.offset_by("1y"))
        .when(pl.col("q").is_not_null())
        .then(pl.col("period_start").dt.offset_by("3mo"))
        .when(pl.col("m").is_not_null())
        .then(pl.col("period_start").dt.offset_by("1mo"))
        .otherwise(pl.col("period_start").dt.offset_by("1w"))
        .dt.offset_by("-1d"),
        period=pl.when(pl.col("is_year"))
        .then(pl.col("y").cast(pl.String))
        .when(pl.col("q").is_not_null())
        .then(pl.format("{}-Q{}", pl.col("y"), pl.col("q")))
        .when(pl.col("m").is_not_null())
        .then(pl.format("{}-{}", pl.col("y"), pl.col("m").cast(pl.String).str.zfill(2)))
        .when(pl.col("w").is_not_null())
        .then(pl.format("{}-W{}", pl.col("y"), pl.col("w").cast(pl.String).str.zfill(2))),
    )
    return out.select(
        "period",
        "period_start",
        "period_end",
        invalid=pl.col("p").is_not_null() & pl.col("period_start").is_null(),
    )


def _plain_profile(name: str, source: str) -> Profile:
    # Counts and population files are read with the same readers as incidents; this profile
    # only carries the reader options (format sniffed, delimiter sniffed, encoding detected).
    return Profile.model_validate(
        {
            "name": name,
            "source": source,
            "country": "GT",
            "columns": {"occurred_at": "x", "local_category": "x"},
        }
    )


def _read_all(
    path: Path, kind: str, need: tuple[str, ...], optional: tuple[str, ...]
) -> pl.DataFrame:
    prof = _plain_profile(kind, kind)
    src = open_source(path, prof)
    try:
        frames = list(iter_chunks(src, prof))
    finally:
        src.close()
    frame = pl.concat(frames, how="diagonal") if frames else pl.DataFrame()
    cols = {c.strip().lower(): c for c in frame.columns if c != ROW}
    missing = [c for c in need if c not in cols]
    if missing:
        raise InputError(
            f"{path.name}: missing column(s) {', '.join(missing)}",
            hint=f"a {kind} file needs the columns {', '.join(need + optional)}",
        )
    if frame.height == 0:
        raise InputError(
            f"{path.name}: the file has a header but no data rows", hint="nothing was loaded"
        )
    frame = frame.rename({v: k for k, v in cols.items()})
    for c in optional:
        if c not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias(c))
    return frame.select(ROW, *need, *[c for c in optional if c not in need]).with_columns(
        [pl.col(c).str.strip_chars().replace("", None) for c in (*need, *optional)]
    )


def _raw_json(raw: pl.DataFrame) -> pl.DataFrame:
    """``ROW`` and the row as JSON text, for the quarantine table."""
    cols = [c for c in raw.columns if c != ROW]
    return raw.select(pl.col(ROW), pl.struct(cols).struct.json_encode().alias("raw"))


def _country_codes(values: pl.Series) -> tuple[pl.Series, pl.Series]:
    import pycountry

    def iso2(v: str) -> str | None:
        c = pycountry.countries.get(alpha_2=v.upper()) or pycountry.countries.get(alpha_3=v.upper())
        return c.alpha_2 if c else None

    mapping = {v: iso2(v) for v in values.drop_nulls().unique().to_list()}
    codes = values.replace_strict(mapping, default=None, return_dtype=pl.String)
    return codes, values.is_not_null() & codes.is_null()


def _admin1_codes(country: pl.Series, admin1: pl.Series) -> pl.Series:
    out = admin1
    for code in country.drop_nulls().unique().to_list():
        if code in geo.COUNTRY_CODES:
            sel = country == code
            resolved = geo.resolve_admin1_series(code, admin1)
            out = pl.select(
                pl.when(sel & resolved.is_not_null()).then(resolved).otherwise(out)
            ).to_series()
    return out


def validate_counts(
    raw: pl.DataFrame, default_source: str | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Canonical counts rows and rejected rows (``ROW``, ``reasons``) from a raw counts frame."""
    reasons = Reasons(raw.height)
    where = reasons.flag
    source = raw["source"]
    if default_source:
        source = source.fill_null(default_source)
    where(source.is_null(), "missing_source")
    country, bad_country = _country_codes(raw["country"])
    where(raw["country"].is_null(), "missing_country")
    where(bad_country, "invalid_country")
    periods = parse_periods(raw["period"])
    where(raw["period"].is_null(), "missing_period")
    where(periods["invalid"], "invalid_period")
    unit = raw["unit"].str.to_lowercase()
    where((~unit.is_in(list(schema.COUNT_UNITS))).fill_null(True), "invalid_unit")
    num = parse_integers(raw["count"])
    count = num["value"]
    where(raw["count"].is_null(), "missing_count")
    where(num["invalid"] | (count < 0), "invalid_count")
    code = raw["iccs_code"].str.replace_all(r"[\s.]", "")
    valid_code = code.map_elements(iccs.is_iccs_code, return_dtype=pl.Boolean)
    where(code.is_not_null() & ~valid_code.fill_null(False), "unknown_iccs_code")
    where(code.is_null() & raw["local_category"].is_null(), "missing_category")
    frame = pl.DataFrame(
        {
            ROW: raw[ROW],
            "source": source,
            "country": country,
            "admin1": _admin1_codes(country, raw["admin1"]),
            "admin2": raw["admin2"],
            "period": periods["period"],
            "period_start": periods["period_start"],
            "period_end": periods["period_end"],
            "iccs_code": code,
            "local_category": raw["local_category"],
            "unit": unit,
            "count": count,
        }
    )
    bad = reasons.rejected()
    return frame.filter(~bad), raw.select(ROW).filter(bad).with_columns(reasons=reasons.lists(bad))


def load_counts(path: Path, engine: Engine, *, source: str | None = None) -> IngestReport:
    """Validate and load a canonical counts CSV (or XLSX/JSON/Parquet with the same columns).

    A row whose key (source, area, period, category, unit) is already stored counts as a
    duplicate; the file is one transaction.
    """
    t0 = time.perf_counter()
    raw = _read_all(
        path,
        "counts",
        ("country", "period", "unit", "count"),
        ("source", "admin1", "admin2", "iccs_code", "local_category"),
    )
    good, rejected = validate_counts(raw, source)
    rejected = rejected.join(_raw_json(raw), on=ROW, how="left")
    report = IngestReport(
        batch_id=None,
        source=source or "(per row)",
        profile="counts-csv",
        file=str(path),
        file_sha256=file_sha256(path),
        rows_read=raw.height,
    )
    # Duplicates inside the file: same key twice.
    key = list(COUNT_KEY)
    first = good.select(pl.struct(key).is_first_distinct()).to_series()
    dup_in_file = good.filter(~first)
    good = good.filter(first)
    session = open_session(engine)
    try:
        existing = _existing_count_keys(engine, good)
        if not existing.is_empty():
            good = good.join(existing, on=key, how="anti", nulls_equal=True)
        report.rows_duplicate_in_file = dup_in_file.height
        report.rows_duplicate_in_store = (
            raw.height - rejected.height - dup_in_file.height - good.height
        )
        batch_id = session.begin_batch(
            kind="counts",
            source=report.source,
            profile="counts-csv",
            file_name=path.name,
            file_sha256=report.file_sha256,
        )
        session.append(
            "stat_count",
            schema.conform(
                good.with_columns(batch_id=pl.lit(batch_id, dtype=pl.Int64)), schema.COUNT
            ),
        )
        session.append(
            "quarantine",
            rejected.select(
                pl.lit(batch_id, dtype=pl.Int64).alias("batch_id"),
                pl.col(ROW).alias("row_number"),
                pl.col("reasons").list.join("; ").alias("reasons"),
                pl.col("raw"),
            ),
        )
        report.batch_id = batch_id
        report.rows_loaded = good.height
        report.rows_rejected = rejected.height
        report.rows_duplicate = report.rows_duplicate_in_file + report.rows_duplicate_in_store
        report.rows_unmapped_category = int(good["iccs_code"].is_null().sum())
        tally: Counter[str] = Counter()
        samples: dict[str, list[int]] = {}
        tally_rejections(rejected[ROW], rejected["reasons"], tally, samples)
        report.rejections = dict(tally.most_common())
        report.rejection_samples = samples
        finish(session, report, t0)
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
    return report


def _existing_count_keys(engine: Engine, good: pl.DataFrame) -> pl.DataFrame:
    t = tables.stat_count
    sources = good["source"].unique().to_list()
    with engine.connect() as conn:
        rows = conn.execute(
            select(*[t.c[k] for k in COUNT_KEY]).where(t.c.source.in_(sources))
        ).all()
    return pl.DataFrame(rows, schema={k: pl.String for k in COUNT_KEY}, orient="row")


def load_population(path: Path, engine: Engine, *, source: str = "user") -> IngestReport:
    """Load admin-unit populations; a row for an area and year already stored replaces it."""
    t0 = time.perf_counter()
    raw = _read_all(path, "population", ("country", "year", "population"), ("admin1", "admin2"))
    reasons = Reasons(raw.height)
    where = reasons.flag
    country, bad_country = _country_codes(raw["country"])
    where(raw["country"].is_null(), "missing_country")
    where(bad_country, "invalid_country")
    year_num = parse_integers(raw["year"])
    year = year_num["value"]
    where(year_num["invalid"] | year.is_null() | (year < 1900) | (year > 2100), "invalid_year")
    pop_num = parse_integers(raw["population"])
    pop = pop_num["value"]
    where(pop_num["invalid"] | pop.is_null() | (pop <= 0), "invalid_population")
    frame = pl.DataFrame(
        {
            ROW: raw[ROW],
            "country": country,
            "admin1": _admin1_codes(country, raw["admin1"]),
            "admin2": raw["admin2"],
            "year": year.cast(pl.Int32, strict=False),
            "population": pop.cast(pl.Int64, strict=False),
            "source": pl.repeat(source, raw.height, dtype=pl.String, eager=True),
        }
    )
    bad = reasons.rejected()
    reason_list = reasons.lists(bad)  # for the rejected rows only
    good = frame.filter(~bad)
    key = ["country", "admin1", "admin2", "year"]
    first = good.select(pl.struct(key).is_last_distinct()).to_series()
    report = IngestReport(
        batch_id=None,
        source=source,
        profile="population-csv",
        file=str(path),
        file_sha256=file_sha256(path),
        rows_read=raw.height,
    )
    report.rows_duplicate = report.rows_duplicate_in_file = int((~first).sum())
    good = good.filter(first)
    report.rows_loaded = good.height
    report.rows_rejected = int(bad.sum())
    t = tables.population
    with engine.begin() as conn:  # one transaction: batch, replacements, rows, quarantine
        batch_id = conn.execute(
            tables.batch.insert()
            .values(
                kind="population",
                source=source,
                profile="population-csv",
                file_name=path.name,
                file_sha256=report.file_sha256,
                started_at=datetime.now(UTC),
                finished_at=datetime.now(UTC),
                rows_read=report.rows_read,
                rows_loaded=report.rows_loaded,
                rows_rejected=report.rows_rejected,
                rows_duplicate=report.rows_duplicate,
                rows_unmapped_category=0,
                synthetic=False,
            )
            .returning(tables.batch.c.batch_id)
        ).scalar_one()
        report.batch_id = int(batch_id)
        for row in good.select(key).iter_rows(named=True):
            conn.execute(
                delete(t).where(
                    and_(
                        t.c.country == row["country"],
                        t.c.year == row["year"],
                        t.c.admin1.is_(None)
                        if row["admin1"] is None
                        else t.c.admin1 == row["admin1"],
                        t.c.admin2.is_(None)
                        if row["admin2"] is None
                        else t.c.admin2 == row["admin2"],
                    )
                )
            )
        if good.height:
            conn.execute(t.insert(), schema.conform(good, schema.POPULATION).to_dicts())
        rejected = pl.DataFrame({ROW: raw[ROW].filter(bad), "reasons": reason_list}).join(
            _raw_json(raw), on=ROW, how="left"
        )
        if rejected.height:
            conn.execute(
                tables.quarantine.insert(),
                [
                    {"batch_id": batch_id, "row_number": r, "reasons": "; ".join(rs), "raw": j}
                    for r, rs, j in rejected.iter_rows()
                ],
            )

    tally: Counter[str] = Counter()
    samples: dict[str, list[int]] = {}
    tally_rejections(raw[ROW].filter(bad), reason_list, tally, samples)
    report.rejections = dict(tally.most_common())
    report.rejection_samples = samples
    report.seconds = round(time.perf_counter() - t0, 3)
    report.check()
    return report
