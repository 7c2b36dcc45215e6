"""Aggregated statistics (counts) and populations: validation and loading.

Many agencies publish only counts. The canonical counts CSV has the columns
``source,country,admin1,admin2,period,iccs_code,local_category,unit,count``; ``period`` is
``2019``, ``2019-Q2`` or ``2019-05``; ``unit`` is ``victims`` or ``incidents``. The optional
columns ``sex,age_band,weapon,place_type,context`` break a figure down. Other layouts (such as
Mexico's SESNSP files) are read with a counts profile (:mod:`.count_profiles`) into the same
columns. Populations have ``country,admin1,admin2,year,population`` and optionally
``sex,age_band``.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
from sqlalchemy import ColumnElement, Engine, and_, delete, func, select

from safestreets import schema
from safestreets.errors import InputError
from safestreets.ingest.count_profiles import (
    ADMIN1_UNRESOLVED,
    CELL,
    PERIOD_UNREADABLE,
    CountChunk,
    CountFile,
    CountProfile,
    open_counts,
)
from safestreets.ingest.load import file_sha256, finish, tally_rejections
from safestreets.ingest.parse import parse_integers
from safestreets.ingest.readers import ROW, read_whole
from safestreets.ingest.reasons import Reasons
from safestreets.ingest.report import IngestReport
from safestreets.ingest.transform import SEX_VALUES
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
#: Optional columns of a counts file: the breakdowns of a figure (empty = all).
COUNT_DIMENSIONS = ("sex", "age_band", "weapon", "place_type", "context")
#: Optional columns of a population file.
POPULATION_DIMENSIONS = ("sex", "age_band")
#: A count's identity: a second row with the same key is a duplicate.
COUNT_KEY = (
    "source",
    "country",
    "admin1",
    "admin2",
    "period",
    "iccs_code",
    "local_category",
    *COUNT_DIMENSIONS,
    "unit",
)
#: A population's identity: a new row with the same key replaces the stored one.
POPULATION_KEY = ("country", "admin1", "admin2", "year", *POPULATION_DIMENSIONS)
#: Sex spellings of counts and population files, on normalised text (``M`` is decided per
#: file, see :func:`sex_codes`).
COUNT_SEX_VALUES: dict[str, str] = {
    **SEX_VALUES,
    "no identificado": "unknown",
    "no identificada": "unknown",
}
_AGE_BANDS = (*schema.AGE_BANDS, *schema.COARSE_AGE_BANDS)


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


def _read_all(
    path: Path, kind: str, need: tuple[str, ...], optional: tuple[str, ...]
) -> pl.DataFrame:
    frame = read_whole(path, name=kind)
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


def _distinct(values: pl.Series, fn: Callable[[str], str | None]) -> pl.Series:
    """``fn`` over the distinct non-null values only (a file repeats a handful of values)."""
    mapping = {v: fn(v) for v in values.drop_nulls().unique().to_list()}
    return values.replace_strict(mapping, default=None, return_dtype=pl.String)


def sex_codes(values: pl.Series) -> tuple[pl.Series, pl.Series, pl.Series]:
    """Sex as ``female``, ``male`` or ``unknown``, from English or Spanish spellings.

    A bare ``M`` is *mujer* in a file that writes men as ``H`` and *masculino* in one that writes
    women as ``F``; in a file with neither (or both) it cannot be read and is ambiguous.

    Returns:
        The codes (null where not read), the unreadable values and the ambiguous ``M`` values.
    """
    norm = _distinct(values, geo.normalise_name)
    written = set(norm.drop_nulls().unique().to_list())
    table = dict(COUNT_SEX_VALUES)
    if "h" in written and "f" not in written:
        table["m"] = "female"
    elif "f" in written and "h" not in written:
        table["m"] = "male"
    codes = _distinct(norm, table.get)
    ambiguous = (norm == "m") & codes.is_null()
    invalid = values.is_not_null() & codes.is_null() & ~ambiguous.fill_null(False)
    return codes, invalid, ambiguous.fill_null(False)


def vocabulary_codes(values: pl.Series, allowed: Sequence[str]) -> tuple[pl.Series, pl.Series]:
    """Values of a controlled vocabulary, written in any case and with spaces or hyphens for
    ``_`` (``Blunt object`` is ``blunt_object``). Returns the codes and the invalid values."""

    def code(v: str) -> str | None:
        c = re.sub(r"[\s\-]+", "_", v.strip().lower())
        return c if c in allowed else None

    codes = _distinct(values, code)
    return codes, values.is_not_null() & codes.is_null()


def age_band_codes(values: pl.Series) -> tuple[pl.Series, pl.Series]:
    """UNODC age bands or ``0-17``/``18+`` (spaces ignored). Returns codes and invalid values."""
    codes = _distinct(values, lambda v: c if (c := re.sub(r"\s+", "", v)) in _AGE_BANDS else None)
    return codes, values.is_not_null() & codes.is_null()


def _periods(values: pl.Series) -> pl.DataFrame:
    # A file holds a few hundred distinct periods: parse those, then join them to the rows.
    distinct = values.unique()
    table = parse_periods(distinct).with_columns(__p=distinct)
    return (
        pl.DataFrame({"__p": values})
        .join(table, on="__p", how="left", nulls_equal=True, maintain_order="left")
        .drop("__p")
    )


def _iccs_codes() -> list[str]:
    return iccs.iccs_table()["code"].to_list()


def validate_counts(
    raw: pl.DataFrame, default_source: str | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Canonical counts rows and rejected rows (``ROW``, ``reasons``) from a raw counts frame.

    ``raw`` holds text columns named as in :data:`schema.COUNT`; the breakdown columns
    (:data:`COUNT_DIMENSIONS`) may be absent. A frame prepared by a counts profile also carries
    flags (unresolved admin1, unreadable date) and has its admin1 resolved already.
    """
    raw = raw.with_columns(
        [pl.lit(None, dtype=pl.String).alias(c) for c in COUNT_DIMENSIONS if c not in raw.columns]
    )
    reasons = Reasons(raw.height)
    where = reasons.flag
    source = raw["source"]
    if default_source:
        source = source.fill_null(default_source)
    where(source.is_null(), "missing_source")
    country, bad_country = _country_codes(raw["country"])
    where(raw["country"].is_null(), "missing_country")
    where(bad_country, "invalid_country")
    if ADMIN1_UNRESOLVED in raw.columns:
        where(raw[ADMIN1_UNRESOLVED], "unresolved_admin1")
        admin1 = raw["admin1"]
    else:
        admin1 = _admin1_codes(country, raw["admin1"])
    periods = _periods(raw["period"])
    where(raw["period"].is_null(), "missing_period")
    unreadable = raw[PERIOD_UNREADABLE] if PERIOD_UNREADABLE in raw.columns else False
    where(periods["invalid"] | unreadable, "invalid_period")
    unit = raw["unit"].str.to_lowercase()
    where((~unit.is_in(list(schema.COUNT_UNITS))).fill_null(True), "invalid_unit")
    num = parse_integers(raw["count"])
    count = num["value"]
    where(raw["count"].is_null(), "missing_count")
    where(num["invalid"] | (count < 0), "invalid_count")
    code = raw["iccs_code"].str.replace_all(r"[\s.]", "")
    where(code.is_not_null() & ~code.is_in(_iccs_codes()), "unknown_iccs_code")
    where(code.is_null() & raw["local_category"].is_null(), "missing_category")
    sex, bad_sex, ambiguous_sex = sex_codes(raw["sex"])
    where(bad_sex, "invalid_sex")
    where(ambiguous_sex, "ambiguous_sex")
    age_band, bad_age = age_band_codes(raw["age_band"])
    where(bad_age, "invalid_age_band")
    weapon, bad_weapon = vocabulary_codes(raw["weapon"], schema.WEAPONS)
    where(bad_weapon, "invalid_weapon")
    place, bad_place = vocabulary_codes(raw["place_type"], schema.PLACE_TYPES)
    where(bad_place, "invalid_place_type")
    context, bad_context = vocabulary_codes(raw["context"], schema.CONTEXTS)
    where(bad_context, "invalid_context")
    frame = pl.DataFrame(
        {
            ROW: raw[ROW],
            "source": source,
            "country": country,
            "admin1": admin1,
            "admin2": raw["admin2"],
            "period": periods["period"],
            "period_start": periods["period_start"],
            "period_end": periods["period_end"],
            "iccs_code": code,
            "local_category": raw["local_category"],
            "sex": sex,
            "age_band": age_band,
            "weapon": weapon,
            "place_type": place,
            "context": context,
            "unit": unit,
            "count": count,
        }
    )
    bad = reasons.rejected()
    rejected = raw.select(ROW, *([CELL] if CELL in raw.columns else [])).filter(bad)
    return frame.filter(~bad), rejected.with_columns(reasons=reasons.lists(bad))


def _canonical_counts(path: Path) -> CountFile:
    raw = _read_all(
        path,
        "counts",
        ("country", "period", "unit", "count"),
        ("source", "admin1", "admin2", "iccs_code", "local_category", *COUNT_DIMENSIONS),
    )
    chunk = CountChunk(rows=raw, original=raw, file_rows=raw.height)
    return CountFile(read_as="", chunks=iter([chunk]))


def _quarantine_rows(rejected: pl.DataFrame, original: pl.DataFrame) -> pl.DataFrame:
    """One quarantine row per file row: its reasons, and the row as JSON.

    A wide file's row holds several figures: each reason names the month columns it applies
    to (``invalid_count (Marzo, Abril)``).
    """
    if CELL in rejected.columns and rejected[CELL].is_not_null().any():
        text = (
            rejected.explode("reasons")
            .group_by(ROW, "reasons", maintain_order=True)
            .agg(pl.col(CELL).str.join(", "))
            .select(ROW, pl.format("{} ({})", "reasons", CELL).alias("reasons"))
            .group_by(ROW, maintain_order=True)
            .agg(pl.col("reasons").str.join("; "))
        )
    else:
        text = rejected.select(ROW, pl.col("reasons").list.join("; "))
    rows = original.filter(pl.col(ROW).is_in(text[ROW].implode()))
    return text.join(_raw_json(rows), on=ROW, how="left", maintain_order="left")


def load_counts(
    path: Path,
    engine: Engine,
    *,
    source: str | None = None,
    profile: CountProfile | None = None,
) -> IngestReport:
    """Validate and load a counts file: the canonical counts CSV (or XLSX/JSON/Parquet with
    the same columns), or any layout a counts profile describes.

    A figure whose key (:data:`COUNT_KEY`) is already stored, or appeared earlier in the file,
    counts as a duplicate; the file is one transaction. With a profile, ``source`` replaces
    the profile's source; a figure left empty in the file (not published) is not a row: it is
    skipped and reported under ``warnings`` as ``not_published``.

    Raises:
        InputError: the file cannot be read or lacks a column (nothing is loaded).
    """
    t0 = time.perf_counter()
    opened = open_counts(path, profile, source=source) if profile else _canonical_counts(path)
    name = profile.name if profile else "counts-csv"
    report = IngestReport(
        batch_id=None,
        source=(source or profile.source) if profile else (source or "(per row)"),
        profile=name,
        file=str(path),
        file_sha256=file_sha256(path),
        read_as=opened.read_as,
        notes=list(opened.notes),
    )
    key = list(COUNT_KEY)
    seen = pl.DataFrame(schema={"h0": pl.UInt64, "h1": pl.UInt64})
    tally: Counter[str] = Counter()
    samples: dict[str, list[int]] = {}
    unmapped: Counter[str] = Counter()
    file_rows = empty = 0
    session = open_session(engine)
    try:
        batch_id = session.begin_batch(
            kind="counts",
            source=report.source,
            profile=name,
            file_name=path.name,
            file_sha256=report.file_sha256,
        )
        report.batch_id = batch_id
        for chunk in opened.chunks:
            file_rows += chunk.file_rows
            empty += chunk.empty
            report.rows_read += chunk.rows.height
            good, rejected = validate_counts(chunk.rows, source)
            # Duplicates inside the file: the same key earlier in this chunk (exact), or in an
            # earlier one (remembered as two differently seeded 64-bit hashes of the key, 16
            # bytes a figure instead of the key's text; a false match needs both to collide).
            first = good.select(pl.struct(key).is_first_distinct()).to_series()
            hashes = good.select(h0=pl.struct(key).hash(seed=0), h1=pl.struct(key).hash(seed=1))
            in_seen = hashes.join(
                seen.with_columns(__seen=pl.lit(True)),
                on=["h0", "h1"],
                how="left",
                maintain_order="left",
            )["__seen"].fill_null(False)
            fresh = first & ~in_seen
            report.rows_duplicate_in_file += int((~fresh).sum())
            good = good.filter(fresh)
            seen = pl.concat([seen, hashes.filter(fresh).select("h0", "h1")])
            existing = _existing_count_keys(engine, good)
            if not existing.is_empty():
                stored = _key_text(good).is_in(existing.implode())
                report.rows_duplicate_in_store += int(stored.sum())
                good = good.filter(~stored)
            session.append(
                "stat_count",
                schema.conform(
                    good.with_columns(batch_id=pl.lit(batch_id, dtype=pl.Int64)), schema.COUNT
                ),
            )
            if rejected.height:
                session.append(
                    "quarantine",
                    _quarantine_rows(rejected, chunk.original).select(
                        pl.lit(batch_id, dtype=pl.Int64).alias("batch_id"),
                        pl.col(ROW).alias("row_number"),
                        pl.col("reasons"),
                        pl.col("raw"),
                    ),
                )
                tally_rejections(rejected[ROW], rejected["reasons"], tally, samples)
            report.rows_loaded += good.height
            report.rows_rejected += rejected.height
            no_code = good.filter(
                pl.col("iccs_code").is_null() & pl.col("local_category").is_not_null()
            )
            unmapped.update(dict(no_code.group_by("local_category").len().iter_rows()))
            report.rows_unmapped_category += int(good["iccs_code"].is_null().sum())
        report.rows_duplicate = report.rows_duplicate_in_file + report.rows_duplicate_in_store
        report.rejections = dict(tally.most_common())
        # A wide file's row can fail in several months: name it once per reason.
        report.rejection_samples = {k: list(dict.fromkeys(v)) for k, v in samples.items()}
        report.unmapped_categories = dict(unmapped.most_common(50))
        if profile is not None:
            report.notes.append(_cells_note(profile, file_rows, report.rows_read, empty))
            if empty:
                report.warnings = {"not_published": empty}
        finish(session, report, t0)
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
        opened.close()
    return report


def _cells_note(profile: CountProfile, file_rows: int, figures: int, empty: int) -> str:
    if profile.layout == "wide":
        what = f"{file_rows:,} file rows x {len(profile.months or {})} month columns: "
    else:
        what = f"{file_rows:,} file rows: "
    return (
        f"{what}{figures:,} figures read (rows_read), {empty:,} empty cells not published "
        "(skipped, not counted as rows)"
    )


#: Stand-ins for null and for the column boundary when a count's key is written as one text.
_NULL, _SEP = "\x1e", "\x1f"


def _key_text(frame: pl.DataFrame) -> pl.Series:
    """Each row's :data:`COUNT_KEY` as one text (nulls and boundaries as control characters)."""
    return frame.select(
        pl.concat_str([pl.col(k).fill_null(_NULL) for k in COUNT_KEY], separator=_SEP)
    ).to_series()


def _existing_count_keys(engine: Engine, good: pl.DataFrame) -> pl.Series:
    """Stored keys (as :func:`_key_text`) that could clash with ``good``: same sources,
    countries, units and period range (and admin1 when the rows name a few)."""
    t = tables.stat_count
    if good.is_empty():
        return pl.Series("key", [], dtype=pl.String)
    where = [
        t.c.source.in_(good["source"].unique().to_list()),
        t.c.country.in_(good["country"].unique().to_list()),
        t.c.unit.in_(good["unit"].unique().to_list()),
        t.c.period_start >= good["period_start"].min(),
        t.c.period_start <= good["period_start"].max(),
    ]
    admin1 = good["admin1"].unique()
    if admin1.null_count() == 0 and admin1.len() <= 100:
        where.append(t.c.admin1.in_(admin1.to_list()))
    # One text column per row: fetching ~10 columns of a million stored rows through the
    # DB-API costs seconds; one joined text per row a fraction of that.
    text: ColumnElement[str] = func.coalesce(t.c[COUNT_KEY[0]], _NULL)
    for k in COUNT_KEY[1:]:
        text = text.concat(_SEP).concat(func.coalesce(t.c[k], _NULL))
    with engine.connect() as conn:
        rows = conn.execute(select(text).where(and_(*where))).scalars().all()
    return pl.Series("key", rows, dtype=pl.String)


def load_population(path: Path, engine: Engine, *, source: str = "user") -> IngestReport:
    """Load admin-unit populations; a row whose key (:data:`POPULATION_KEY`: area, year, sex,
    age band) is already stored replaces it."""
    t0 = time.perf_counter()
    raw = _read_all(
        path,
        "population",
        ("country", "year", "population"),
        ("admin1", "admin2", *POPULATION_DIMENSIONS),
    )
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
    sex, bad_sex, ambiguous_sex = sex_codes(raw["sex"])
    # A population is of women, of men, or of both (empty): not of unknown sex.
    where(bad_sex | (sex == "unknown"), "invalid_sex")
    where(ambiguous_sex, "ambiguous_sex")
    age_band, bad_age = age_band_codes(raw["age_band"])
    where(bad_age, "invalid_age_band")
    frame = pl.DataFrame(
        {
            ROW: raw[ROW],
            "country": country,
            "admin1": _admin1_codes(country, raw["admin1"]),
            "admin2": raw["admin2"],
            "year": year.cast(pl.Int32, strict=False),
            "sex": sex,
            "age_band": age_band,
            "population": pop.cast(pl.Int64, strict=False),
            "source": pl.repeat(source, raw.height, dtype=pl.String, eager=True),
        }
    )
    bad = reasons.rejected()
    reason_list = reasons.lists(bad)  # for the rejected rows only
    good = frame.filter(~bad)
    key = list(POPULATION_KEY)
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
                    and_(*[t.c[k].is_(None) if row[k] is None else t.c[k] == row[k] for k in key])
                )
            )
        if good.height:
            conn.execute(t.insert(), schema.conform(good, schema.POPULATION).to_dicts())
        rejected = pl.DataFrame({ROW: raw[ROW].filter(bad), "reasons": reason_list}).join(
            _raw_json(raw), on=ROW, how="left", maintain_order="left"
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
