"""Counts profiles: YAML files that say how to read one publisher's aggregated counts.

Publishers of counts (Mexico's SESNSP, national statistics offices) each have their own layout:
months as rows (``long``) or as twelve columns (``wide``), states by name or code, a crime
catalogue of several columns, breakdowns by sex and age. A counts profile declares where each
piece is; :func:`open_counts` turns a file into chunks of the canonical counts columns, which
:func:`safestreets.ingest.counts.load_counts` validates and loads like a canonical counts CSV.

The format is documented in ``docs/profiles.md`` ("Counts profiles"); built-in profiles and
their tables live in ``profile_data/counts/``.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from safestreets import schema
from safestreets.errors import InputError, ProfileError
from safestreets.ingest.profiles import (
    CsvOptions,
    Profile,
    profile_file,
    profile_mapping,
    validation_problems,
)
from safestreets.ingest.readers import ROW, describe, iter_chunks, open_source
from safestreets.reference import iccs
from safestreets.reference.geo import normalise_name

#: Column of a prepared chunk naming the month column a wide-layout figure came from.
CELL = "__cell"
#: Flag columns of a prepared chunk (true where the check failed); ``validate_counts`` turns
#: them into reasons.
ADMIN1_UNRESOLVED = "__admin1_unresolved"
PERIOD_UNREADABLE = "__period_unreadable"
#: Joins the category columns into ``local_category``.
CATEGORY_SEPARATOR = " / "
#: Attributes a category-table row may give a count.
CATEGORY_ATTRIBUTES = ("iccs_code", "weapon", "place_type", "context", "sex")
#: Rows of the file per chunk (a wide chunk is divided by the number of month columns).
CHUNK_CELLS = 250_000

_VOCABULARIES: dict[str, tuple[str, ...]] = {
    "weapon": schema.WEAPONS,
    "place_type": schema.PLACE_TYPES,
    "context": schema.CONTEXTS,
    "sex": schema.SEXES,
    "age_band": (*schema.AGE_BANDS, *schema.COARSE_AGE_BANDS),
}


class PeriodSpec(BaseModel):
    """Where the period of a figure is: year (+ month) columns, or one date column."""

    model_config = ConfigDict(extra="forbid")

    year: str | None = None
    month: str | None = None
    date: str | None = None
    date_format: str = "%Y-%m-%d"


class Admin1Spec(BaseModel):
    """The first-level area: a column of names or codes, resolved to ISO 3166-2."""

    model_config = ConfigDict(extra="forbid")

    column: str
    #: CSV ``value,admin1`` (relative to the profile file): the source's spellings and codes.
    aliases: str | None = None


class Admin2Spec(BaseModel):
    """The second-level area: a column of codes, kept as written."""

    model_config = ConfigDict(extra="forbid")

    column: str
    #: Left-pad all-digit codes with zeros to this width (``1001`` -> ``01001``).
    zfill: int | None = Field(default=None, ge=1, le=16)


class CategorySpec(BaseModel):
    """The columns that make up the source's category label, and the table that maps it."""

    model_config = ConfigDict(extra="forbid")

    columns: list[str] = Field(min_length=1)
    #: CSV ``category,iccs_code,weapon,place_type,context,sex,notes`` (relative to the profile).
    table: str | None = None


class ValueMapSpec(BaseModel):
    """A breakdown column (sex, age band) and how its values translate."""

    model_config = ConfigDict(extra="forbid")

    column: str
    #: Source value (matched on normalised text) -> canonical value, or null for "not given".
    map: dict[str, str | None] = Field(default_factory=dict)


class CountProfile(BaseModel):
    """A counts profile. See docs/profiles.md ("Counts profiles") for every key."""

    model_config = ConfigDict(extra="forbid")

    name: str
    title: str = ""
    source: str
    country: str
    unit: Literal["victims", "incidents"]
    layout: Literal["long", "wide"] = "long"
    format: Literal["csv", "xlsx", "json", "ndjson", "parquet"] | None = None
    sheet: str | None = None
    csv: CsvOptions = Field(default_factory=CsvOptions)
    period: PeriodSpec
    #: Wide layout: month column -> month number (1-12).
    months: dict[str, int] | None = None
    #: Long layout: the column holding the figure.
    count: str | None = None
    admin1: Admin1Spec | None = None
    admin2: Admin2Spec | None = None
    categories: CategorySpec
    sex: ValueMapSpec | None = None
    age_band: ValueMapSpec | None = None
    path: Path | None = Field(default=None, exclude=True)

    @field_validator("admin1", "admin2", "sex", "age_band", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        # `admin2: Cve. Municipio` is shorthand for `admin2: {column: Cve. Municipio}`.
        return {"column": value} if isinstance(value, str) else value

    @field_validator("country")
    @classmethod
    def _country(cls, value: str) -> str:
        import pycountry

        code = value.strip().upper()
        if pycountry.countries.get(alpha_2=code) is None:
            raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 country code (e.g. MX)")
        return code

    @field_validator("months")
    @classmethod
    def _months(cls, value: dict[str, int] | None) -> dict[str, int] | None:
        if value is None:
            return None
        bad = [f"{k}: {v}" for k, v in value.items() if not 1 <= v <= 12]
        if bad:
            raise ValueError(f"month numbers must be 1 to 12 ({', '.join(bad)})")
        if len(set(value.values())) != len(value):
            raise ValueError("two month columns have the same month number")
        return value

    @model_validator(mode="after")
    def _layout(self) -> CountProfile:
        p = self.period
        if self.layout == "wide":
            if not self.months:
                raise ValueError("layout wide needs `months` (month column: month number)")
            if self.count is not None:
                raise ValueError("layout wide takes its figures from `months`; drop `count`")
            if p.year is None or p.month is not None or p.date is not None:
                raise ValueError("layout wide needs `period.year` only (the months are columns)")
        else:
            if self.count is None:
                raise ValueError("layout long needs `count` (the column holding the figure)")
            if self.months is not None:
                raise ValueError("`months` is for layout wide")
            if (p.date is None) == (p.year is None):
                raise ValueError("give `period.date`, or `period.year` (and `period.month`)")
            if p.month is not None and p.year is None:
                raise ValueError("`period.month` needs `period.year`")
        for key in ("sex", "age_band"):
            spec: ValueMapSpec | None = getattr(self, key)
            allowed = _VOCABULARIES[key]
            bad = [v for v in (spec.map.values() if spec else ()) if v and v not in allowed]
            if bad:
                raise ValueError(
                    f"{key}.map: {', '.join(map(repr, bad))} not allowed; use "
                    f"{', '.join(allowed)} or null"
                )
        return self

    def file_columns(self) -> list[str]:
        """Every column of the file the profile reads."""
        p = self.period
        cols = [c for c in (p.year, p.month, p.date, self.count) if c]
        cols += list(self.months or {})
        cols += [s.column for s in (self.admin1, self.admin2, self.sex, self.age_band) if s]
        return cols + list(self.categories.columns)

    def resolve(self, relative: str) -> Path:
        """A table path given in the profile, relative to the profile file."""
        base = self.path.parent if self.path else Path.cwd()
        return base / relative


# ---------------------------------------------------------------------------------------------
# Finding and parsing profiles
# ---------------------------------------------------------------------------------------------


def _builtin_dir() -> Path:
    return Path(str(resources.files("safestreets.ingest") / "profile_data" / "counts"))


@lru_cache(maxsize=1)
def builtin_count_profiles() -> dict[str, Path]:
    """Names and paths of the counts profiles shipped with the package."""
    return {p.stem: p for p in sorted(_builtin_dir().glob("*.yaml"))}


def parse_count_profile(text: str, *, origin: str, path: Path | None = None) -> CountProfile:
    """Parse counts-profile YAML; every problem is reported together in one ProfileError.

    With ``path``, the category and alias tables it names are read and checked too.
    """
    data = profile_mapping(text, kind="counts profile", origin=origin, doc="docs/profiles.md")
    try:
        profile = CountProfile.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(validation_problems(exc))
        raise ProfileError(
            f"counts profile {origin} is invalid: {problems}",
            hint="see docs/profiles.md (Counts profiles)",
        ) from None
    profile.path = path
    if path is not None:
        if profile.categories.table:
            read_category_table(profile.resolve(profile.categories.table))
        if profile.admin1 and profile.admin1.aliases:
            read_alias_table(profile.resolve(profile.admin1.aliases), profile.country)
    return profile


def load_count_profile(name_or_path: str) -> CountProfile:
    """A built-in counts profile by name, or a counts-profile file by path."""
    path = profile_file(name_or_path, builtin_count_profiles(), "counts profile")
    return parse_count_profile(path.read_text(encoding="utf-8"), origin=name_or_path, path=path)


# ---------------------------------------------------------------------------------------------
# Category and alias tables
# ---------------------------------------------------------------------------------------------


def _parts(label: str) -> tuple[str, ...]:
    """A label's parts, normalised, without empty parts and without a part repeating the
    previous one (SESNSP writes ``Aborto / Aborto / Aborto``)."""
    out: list[str] = []
    for raw in label.split("/"):
        part = "*" if raw.strip() == "*" else normalise_name(raw)
        if part and (not out or out[-1] != part):
            out.append(part)
    return tuple(out)


def _pattern_matches(pattern: tuple[str, ...], parts: tuple[str, ...]) -> bool:
    # `*` stands for any one part; a final `*` for any number of remaining parts (even none).
    if pattern and pattern[-1] == "*":
        head = pattern[:-1]
        return len(parts) >= len(head) and all(
            p in ("*", v) for p, v in zip(head, parts, strict=False)
        )
    return len(pattern) == len(parts) and all(
        p in ("*", v) for p, v in zip(pattern, parts, strict=True)
    )


@dataclass(frozen=True)
class CategoryTable:
    """A category table: exact rows by their parts, then patterns with ``*`` in file order."""

    exact: dict[tuple[str, ...], dict[str, str | None]]
    patterns: list[tuple[tuple[str, ...], dict[str, str | None]]]

    def lookup(self, label: str) -> dict[str, str | None] | None:
        """The attributes of a label, or None when no row matches."""
        parts = _parts(label)
        if parts in self.exact:
            return self.exact[parts]
        for pattern, attrs in self.patterns:
            if _pattern_matches(pattern, parts):
                return attrs
        return None


def _table_rows(path: Path, need: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    if not path.is_file():
        raise ProfileError(f"table {path} not found", hint="paths are relative to the profile")
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(line for line in fh if not line.startswith("#"))
        missing = [c for c in need if c not in (reader.fieldnames or [])]
        if missing:
            raise ProfileError(
                f"table {path.name} lacks column(s) {', '.join(missing)}",
                hint=f"its header must include {', '.join(need)}",
            )
        return [
            (i, {k: (v or "").strip() for k, v in row.items() if k})
            for i, row in enumerate(reader, start=2)
        ]


@lru_cache(maxsize=32)
def read_category_table(path: Path) -> CategoryTable:
    """Read and check a category table (every problem listed in one ProfileError)."""
    exact: dict[tuple[str, ...], dict[str, str | None]] = {}
    patterns: list[tuple[tuple[str, ...], dict[str, str | None]]] = []
    seen: set[tuple[str, ...]] = set()
    problems: list[str] = []
    for line, row in _table_rows(path, ("category", "iccs_code")):
        parts = _parts(row["category"])
        attrs: dict[str, str | None] = {a: row.get(a) or None for a in CATEGORY_ATTRIBUTES}
        code = attrs["iccs_code"]
        if not parts:
            problems.append(f"line {line}: empty category")
        if parts in seen:
            problems.append(f"line {line}: {row['category']!r} is listed twice")
        if code and not iccs.is_iccs_code(code):
            problems.append(f"line {line}: {code!r} is not an ICCS v1.0 code")
        if not code and not row.get("notes"):
            problems.append(f"line {line}: no iccs_code and no note saying why")
        for key in ("weapon", "place_type", "context", "sex"):
            value = attrs[key]
            if value and value not in _VOCABULARIES[key]:
                problems.append(f"line {line}: {key} {value!r} not in {_VOCABULARIES[key]}")
        seen.add(parts)
        if "*" in parts:
            patterns.append((parts, attrs))
        else:
            exact[parts] = attrs
    if problems:
        raise ProfileError(
            f"category table {path.name}: {'; '.join(problems[:10])}",
            hint="columns: category,iccs_code,weapon,place_type,context,sex,notes",
        )
    return CategoryTable(exact, patterns)


def _area_key(value: str) -> str:
    # INEGI writes state 9 as "09" or "9": all-digit codes compare without leading zeros.
    norm = normalise_name(value)
    return (norm.lstrip("0") or "0") if norm.isdigit() else norm


@lru_cache(maxsize=32)
def _subdivisions(country: str) -> dict[str, str]:
    """Top-level ISO 3166-2 subdivisions of a country: normalised name or code -> code."""
    import pycountry

    out: dict[str, str] = {}
    for sub in pycountry.subdivisions.get(country_code=country) or []:
        if sub.parent_code is None:
            for key in (sub.name, sub.code, sub.code.split("-", 1)[1]):
                out[_area_key(key)] = sub.code
    return out


@lru_cache(maxsize=32)
def read_alias_table(path: Path, country: str) -> dict[str, str]:
    """Read an admin1 alias table (``value,admin1``): normalised value -> ISO 3166-2 code."""
    codes = set(_subdivisions(country).values())
    out: dict[str, str] = {}
    problems = []
    for line, row in _table_rows(path, ("value", "admin1")):
        if row["admin1"] not in codes:
            problems.append(
                f"line {line}: {row['admin1']!r} is not an ISO 3166-2 code of {country}"
            )
        out[_area_key(row["value"])] = row["admin1"]
    if problems:
        raise ProfileError(
            f"alias table {path.name}: {'; '.join(problems[:10])}",
            hint=f"write codes such as {sorted(codes)[0] if codes else 'XX-YY'}",
        )
    return out


# ---------------------------------------------------------------------------------------------
# Reading a file
# ---------------------------------------------------------------------------------------------


@dataclass
class CountChunk:
    """Rows of canonical counts columns (all text, ``ROW``, ``CELL`` and flags) and the file
    rows they came from (``ROW`` and the file's own columns, for the quarantine)."""

    rows: pl.DataFrame
    original: pl.DataFrame
    file_rows: int
    #: Figures left empty (not published): not rows of the load.
    empty: int = 0


@dataclass
class CountFile:
    """An opened counts file: how it is read and its chunks."""

    read_as: str
    chunks: Iterator[CountChunk]
    notes: list[str] = field(default_factory=list)

    def close(self) -> None:
        """Release the file (temporary copies) when the chunks were not all read."""
        close = getattr(self.chunks, "close", None)
        if close is not None:
            close()


def _reader_profile(profile: CountProfile) -> Profile:
    # The shared readers take an incident profile for their options; only those are used.
    return Profile.model_validate(
        {
            "name": profile.name,
            "source": profile.source,
            "country": profile.country,
            "format": profile.format,
            "sheet": profile.sheet,
            "csv": profile.csv.model_dump(),
            "columns": {"occurred_at": "x", "local_category": "x"},
        }
    )


def _header_map(header: list[str], wanted: list[str], path: Path) -> dict[str, str]:
    """Profile column name -> file column name (exact, else on normalised text)."""
    by_norm: dict[str, list[str]] = {}
    for h in header:
        by_norm.setdefault(normalise_name(h), []).append(h)
    out, missing = {}, []
    for w in wanted:
        if w in header:
            out[w] = w
        elif len(by_norm.get(normalise_name(w), [])) == 1:
            out[w] = by_norm[normalise_name(w)][0]
        else:
            missing.append(w)
    if missing:
        raise InputError(
            f"{path.name}: missing column(s) {', '.join(missing)}",
            hint=f"the file has {', '.join(header)}; is this the right profile?",
        )
    return out


def open_counts(path: Path, profile: CountProfile, *, source: str | None = None) -> CountFile:
    """Open a counts file with a profile. Raises InputError when the file cannot be used."""
    reader_profile = _reader_profile(profile)
    src = open_source(path, reader_profile)
    try:
        header = list(src.columns)
        if not header:  # JSON: the columns are known once a chunk is read
            first = next(iter_chunks(src, reader_profile, 1), None)
            header = [c for c in (first.columns if first is not None else []) if c != ROW]
        names = _header_map(header, profile.file_columns(), path)
    except BaseException:
        src.close()
        raise
    table = (
        read_category_table(profile.resolve(profile.categories.table))
        if (profile.categories.table)
        else None
    )
    aliases = (
        read_alias_table(profile.resolve(profile.admin1.aliases), profile.country)
        if profile.admin1 and profile.admin1.aliases
        else {}
    )
    per_chunk = CHUNK_CELLS // len(profile.months) if profile.months else CHUNK_CELLS

    def chunks() -> Iterator[CountChunk]:
        try:
            for raw in iter_chunks(src, reader_profile, per_chunk):
                yield prepare_chunk(
                    raw, profile, names, table=table, aliases=aliases, source=source
                )
        finally:
            src.close()

    return CountFile(read_as=describe(src), chunks=chunks(), notes=list(src.notes))


# ---------------------------------------------------------------------------------------------
# The pure part: a chunk of the file -> canonical count rows
# ---------------------------------------------------------------------------------------------


def _text(expr: pl.Expr) -> pl.Expr:
    return expr.cast(pl.String).str.strip_chars().replace("", None)


def _distinct_map(values: pl.Series, fn: Callable[[str], str | None]) -> pl.Series:
    """``fn`` applied to the distinct non-null values only (files repeat a few values)."""
    mapping = {v: fn(v) for v in values.drop_nulls().unique().to_list()}
    return values.replace_strict(mapping, default=None, return_dtype=pl.String)


def _value_map(values: pl.Series, spec: ValueMapSpec) -> pl.Series:
    """Values through the profile's map (keys on normalised text); others kept as written."""
    table = {normalise_name(k): v for k, v in spec.map.items()}
    mapping = {v: table.get(normalise_name(v), v) for v in values.drop_nulls().unique().to_list()}
    return values.replace_strict(mapping, default=None, return_dtype=pl.String)


def category_labels(frame: pl.DataFrame, columns: list[str]) -> pl.Series:
    """``local_category``: the category cells joined by `` / ``, without empty cells and
    without a cell that repeats the one before it."""
    combos = frame.select(columns).unique()

    def label(row: tuple[str | None, ...]) -> str | None:
        out: list[str] = []
        for cell in row:
            if cell and (not out or normalise_name(out[-1]) != normalise_name(cell)):
                out.append(cell)
        return CATEGORY_SEPARATOR.join(out) or None

    combos = combos.with_columns(
        pl.Series("__label", [label(r) for r in combos.iter_rows()], dtype=pl.String)
    )
    return frame.select(columns).join(
        combos, on=columns, how="left", nulls_equal=True, maintain_order="left"
    )["__label"]


def map_categories(labels: pl.Series, table: CategoryTable | None) -> pl.DataFrame:
    """The table's attributes (:data:`CATEGORY_ATTRIBUTES`) for each label; nulls when none."""
    distinct = labels.drop_nulls().unique().to_list()
    found = {v: (table.lookup(v) if table else None) or {} for v in distinct}
    return pl.DataFrame(
        {
            a: labels.replace_strict(
                {v: attrs.get(a) for v, attrs in found.items()},
                default=None,
                return_dtype=pl.String,
            )
            for a in CATEGORY_ATTRIBUTES
        }
    )


def resolve_admin1(values: pl.Series, country: str, aliases: dict[str, str]) -> pl.Series:
    """ISO 3166-2 codes for names or codes: the alias table first, then the ISO names and
    codes of the country's subdivisions (normalised text); null where neither knows it."""
    known = {**_subdivisions(country), **aliases}
    return _distinct_map(values, lambda v: known.get(_area_key(v)))


def prepare_chunk(
    raw: pl.DataFrame,
    profile: CountProfile,
    names: dict[str, str],
    *,
    table: CategoryTable | None,
    aliases: dict[str, str],
    source: str | None = None,
) -> CountChunk:
    """Canonical count rows (all text) from a chunk of the file. Pure.

    A long file gives one row per file row, a wide file one per month cell; rows whose
    figure is empty (not published) are left out and counted in ``empty``.
    """
    p = profile.period

    def cell(column: str | None, alias: str) -> pl.Expr:
        # A column the profile names, trimmed, empty as null; a column it does not, all null.
        value = _text(pl.col(names[column])) if column else pl.lit(None, dtype=pl.String)
        return value.alias(alias)

    # Wide: each month column is named by its zero-padded month number, melted below.
    figures = (
        [cell(profile.count, "count")]
        if profile.count
        else [cell(c, f"{m:02d}") for c, m in (profile.months or {}).items()]
    )
    frame = raw.select(
        pl.col(ROW),
        *[cell(c, f"__cat{i}") for i, c in enumerate(profile.categories.columns)],
        cell(profile.admin1.column if profile.admin1 else None, "admin1"),
        cell(profile.admin2.column if profile.admin2 else None, "admin2"),
        cell(profile.sex.column if profile.sex else None, "sex"),
        cell(profile.age_band.column if profile.age_band else None, "age_band"),
        cell(p.year, "__year"),
        cell(p.month, "__month"),
        cell(p.date, "__date"),
        *figures,
    )
    cat_cols = [f"__cat{i}" for i in range(len(profile.categories.columns))]
    labels = category_labels(frame, cat_cols)
    attrs = map_categories(labels, table)
    frame = frame.drop(cat_cols).with_columns(local_category=labels)
    # The breakdowns: the profile's maps, then the category's own sex (Feminicidio -> female)
    # for rows that do not give one.
    if profile.sex:
        frame = frame.with_columns(sex=_value_map(frame["sex"], profile.sex))
    if profile.age_band:
        frame = frame.with_columns(age_band=_value_map(frame["age_band"], profile.age_band))
    frame = frame.with_columns(
        iccs_code=attrs["iccs_code"],
        weapon=attrs["weapon"],
        place_type=attrs["place_type"],
        context=attrs["context"],
        sex=pl.coalesce(pl.col("sex"), attrs["sex"]),
    )
    if profile.admin1:
        codes = resolve_admin1(frame["admin1"], profile.country, aliases)
        frame = frame.with_columns(
            pl.col("admin1").is_not_null().and_(codes.is_null()).alias(ADMIN1_UNRESOLVED),
            admin1=pl.coalesce(codes, pl.col("admin1")),
        )
    if profile.admin2 and profile.admin2.zfill:
        width = profile.admin2.zfill
        frame = frame.with_columns(
            admin2=pl.when(pl.col("admin2").str.contains(r"^\d+$"))
            .then(pl.col("admin2").str.zfill(width))
            .otherwise(pl.col("admin2"))
        )
    # Periods.
    if profile.months:
        month_cols = [f"{m:02d}" for m in profile.months.values()]
        frame = (
            frame.drop("__month")
            .unpivot(
                on=month_cols,
                index=[c for c in frame.columns if c not in (*month_cols, "__month")],
                variable_name="__month",
                value_name="count",
            )
            .sort(ROW, "__month", maintain_order=True)
            .with_columns(
                pl.col("__month")
                .replace_strict({f"{m:02d}": c for c, m in profile.months.items()})
                .alias(CELL)
            )
        )
    else:
        frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias(CELL))
    if p.date:
        parsed = pl.col("__date").str.strptime(pl.Date, p.date_format, strict=False)
        frame = frame.with_columns(
            period=pl.coalesce(parsed.dt.strftime("%Y-%m"), pl.col("__date")),
            **{PERIOD_UNREADABLE: pl.col("__date").is_not_null() & parsed.is_null()},
        )
    elif p.month or profile.months:
        frame = frame.with_columns(period=pl.concat_str("__year", pl.lit("-"), "__month"))
    else:
        frame = frame.with_columns(period=pl.col("__year"))
    filled = frame["count"].is_not_null()
    empty = int((~filled).sum())
    frame = (
        frame.filter(filled)
        .drop("__year", "__month", "__date")
        .with_columns(
            source=pl.lit(source or profile.source, dtype=pl.String),
            country=pl.lit(profile.country, dtype=pl.String),
            unit=pl.lit(profile.unit, dtype=pl.String),
        )
    )
    original = raw.select(ROW, *[c for c in raw.columns if c != ROW])
    return CountChunk(rows=frame, original=original, file_rows=raw.height, empty=empty)


__all__ = [
    "CountChunk",
    "CountFile",
    "CountProfile",
    "builtin_count_profiles",
    "category_labels",
    "load_count_profile",
    "map_categories",
    "open_counts",
    "parse_count_profile",
    "prepare_chunk",
    "read_alias_table",
    "read_category_table",
    "resolve_admin1",
]
