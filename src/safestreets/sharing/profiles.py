"""Alert profiles: YAML files that say how to read one agency's alert lists.

An agency keeps its wanted persons, missing persons, stolen vehicles or lost firearms in its
own spreadsheet, with its own column names, date formats and words ("Orden de captura",
"H"/"M" for the sex, "Reservado" for a handling code). An alert profile maps such a file to
the canonical alert columns (:data:`safestreets.sharing.alerts.ALERT_COLUMNS`), as a source
profile does for incidents (:mod:`safestreets.ingest.profiles`); the file is read by the same
readers (CSV in any of the usual encodings and delimiters, XLSX, JSON, NDJSON, Parquet).

:func:`apply_profile` is a pure function (a frame of the file's columns in, a frame of
canonical alert columns out); :func:`load_alert_file` is the shell that reads a file, applies
the profile and stores the alerts through :func:`safestreets.sharing.service.load_alerts` in
the caller's transaction, returning an :class:`AlertLoadReport` that names every problem by
file row and field. The format is documented in ``docs/alerts.md``; built-in profiles live in
``profile_data/`` beside this module.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Final, Literal

import polars as pl
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from sqlalchemy import Connection

from safestreets import schema
from safestreets.access.policy import Principal
from safestreets.errors import InputError, ProfileError
from safestreets.ingest.profiles import (
    CsvOptions,
    iso2_code,
    profile_file,
    profile_mapping,
    validation_problems,
)
from safestreets.sharing.alerts import ALERT_COLUMNS

__all__ = [
    "DATE_FIELDS",
    "DEFAULT_DATE_FORMATS",
    "MAPPABLE_FIELDS",
    "AlertLoadReport",
    "AlertProfile",
    "ColumnSpec",
    "OffenceSpec",
    "apply_profile",
    "builtin_alert_profiles",
    "check_columns",
    "load_alert_file",
    "load_alert_profile",
    "parse_alert_profile",
    "read_alert_file",
]

#: Canonical fields a profile may map to the file's columns (``kind`` has its own keys).
MAPPABLE_FIELDS: Final = tuple(c for c in ALERT_COLUMNS if c != "kind")
#: Fields whose cells are read with the profile's ``date_formats``.
DATE_FIELDS: Final = ("valid_from", "valid_until", "date_of_birth")
#: Day-first formats tried when a profile names none (ISO dates are always understood).
DEFAULT_DATE_FORMATS: Final = ("%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%Y-%m-%d")
#: Fields an alert of each kind needs filled (one of each inner tuple), checked when a profile
#: with a fixed ``kind`` is read; ``validate_alerts`` checks every row again.
_KIND_NEEDS: Final[dict[str, tuple[tuple[str, ...], ...]]] = {
    "wanted_person": (("warrant_ref",), ("iccs_code",)),
    "stolen_vehicle": (("plate", "vin"),),
    "stolen_firearm": (("serial",),),
    "recovered_firearm": (("serial",),),
}
_PERSON_IDENTITY: Final = ("given_names", "surname_1", "surname_2", "national_id", "clk")
_PLACEHOLDER: Final = re.compile(r"\{([^{}]+)\}")
#: Internal column carrying the file row through the transformation.
ROW: Final = "__row"


def _key(value: str) -> str:
    """How a profile's map keys and a file's cells are compared: trimmed, lower case, no
    accents ("Sí", "si ", "SI" are one key)."""
    decomposed = unicodedata.normalize("NFKD", value.strip().lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _text(value: Any) -> str:
    # YAML reads 1, 2.5 and true as numbers and booleans; profiles mean the text.
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class ColumnSpec(BaseModel):
    """Where one canonical field comes from: a column, several columns joined, or a template.

    ``given_names: Nombres`` is short for ``{column: Nombres}``; a YAML list of columns is
    short for ``{columns: [...]}`` (joined by one space, empty cells skipped).
    """

    model_config = ConfigDict(extra="forbid")

    column: str | None = None
    columns: list[str] | None = None
    separator: str = " "
    template: str | None = None
    #: The column(s) may be absent from a file (the field is then empty).
    optional: bool = False

    @model_validator(mode="after")
    def _one_source(self) -> ColumnSpec:
        given = [k for k in ("column", "columns", "template") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of `column`, `columns` or `template`")
        if self.columns is not None and not self.columns:
            raise ValueError("`columns` lists no column")
        if self.template is not None and not _PLACEHOLDER.search(self.template):
            raise ValueError("a template names its columns in braces, e.g. '{Juzgado}'")
        return self

    def sources(self) -> list[str]:
        """The file columns this field reads."""
        if self.column is not None:
            return [self.column]
        if self.columns is not None:
            return list(self.columns)
        return _PLACEHOLDER.findall(self.template or "")


class OffenceSpec(BaseModel):
    """A column of offence labels in Spanish, mapped to ICCS codes by the built-in table."""

    model_config = ConfigDict(extra="forbid")

    column: str
    #: ISO alpha-2: also use that country's own rows of the category table.
    country: str | None = None
    optional: bool = False

    @field_validator("country")
    @classmethod
    def _country(cls, value: str | None) -> str | None:
        return iso2_code(value)


class AlertProfile(BaseModel):
    """An alert profile. docs/alerts.md lists every key."""

    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    kind: str | None = None
    kind_column: str | None = None
    kinds: dict[str, str] = Field(default_factory=dict)
    owner_agency: str | None = None
    format: Literal["csv", "xlsx", "json", "ndjson", "parquet"] | None = None
    sheet: str | None = None
    csv: CsvOptions = Field(default_factory=CsvOptions)
    columns: dict[str, ColumnSpec]
    offence: OffenceSpec | None = None
    defaults: dict[str, str] = Field(default_factory=dict)
    valid_days: int | None = Field(default=None, ge=1)
    date_formats: list[str] = Field(default_factory=lambda: list(DEFAULT_DATE_FORMATS))
    values: dict[str, dict[str, str]] = Field(default_factory=dict)
    strict: bool = False
    path: Path | None = Field(default=None, exclude=True)

    @field_validator("columns", mode="before")
    @classmethod
    def _short_forms(cls, value: Any) -> Any:
        if isinstance(value, dict):
            out: dict[str, Any] = {}
            for k, v in value.items():
                if isinstance(v, str):
                    out[k] = {"column": v}
                elif isinstance(v, list):
                    out[k] = {"columns": [_text(c) for c in v]}
                else:
                    out[k] = v
            return out
        return value

    @field_validator("kinds", "defaults", mode="before")
    @classmethod
    def _texts(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {_text(k): None if v is None else _text(v) for k, v in value.items()}
        return value

    @field_validator("values", mode="before")
    @classmethod
    def _value_maps(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {
                _text(f): ({_text(k): _text(v) for k, v in m.items()} if isinstance(m, dict) else m)
                for f, m in value.items()
            }
        return value

    @field_validator("kind")
    @classmethod
    def _kind(cls, value: str | None) -> str | None:
        if value is not None and value not in schema.ALERT_KINDS:
            raise ValueError(f"unknown alert kind {value!r}; allowed: {_kinds_text()}")
        return value

    @field_validator("kinds")
    @classmethod
    def _kind_map(cls, value: dict[str, str]) -> dict[str, str]:
        bad = sorted({v for v in value.values() if v not in schema.ALERT_KINDS})
        if bad:
            raise ValueError(f"unknown alert kind(s) {', '.join(bad)}; allowed: {_kinds_text()}")
        return value

    @field_validator("columns")
    @classmethod
    def _known_columns(cls, value: dict[str, ColumnSpec]) -> dict[str, ColumnSpec]:
        problem = _unknown_fields(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("defaults")
    @classmethod
    def _known_defaults(cls, value: dict[str, str]) -> dict[str, str]:
        allowed = [c for c in MAPPABLE_FIELDS if c != "external_id"]
        unknown = sorted(set(value) - set(allowed))
        if unknown:
            raise ValueError(f"unknown default field(s) {', '.join(unknown)}")
        code = value.get("handling_code")
        if code is not None and code.upper() not in schema.HANDLING_CODES:
            raise ValueError(
                f"default handling_code must be one of {', '.join(schema.HANDLING_CODES)}"
            )
        return value

    @field_validator("values")
    @classmethod
    def _known_values(cls, value: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        problems = []
        unknown = sorted(set(value) - set(MAPPABLE_FIELDS))
        if unknown:
            problems.append(f"unknown field(s) {', '.join(unknown)}")
        codes = value.get("handling_code", {})
        bad = sorted({v for v in codes.values() if v.upper() not in schema.HANDLING_CODES})
        if bad:
            problems.append(
                f"handling_code values {', '.join(bad)} are not " + ", ".join(schema.HANDLING_CODES)
            )
        for f, m in value.items():
            keys = [_key(k) for k in m]
            if len(set(keys)) != len(keys):
                problems.append(f"{f}: keys repeat when case and accents are ignored")
        if problems:
            raise ValueError("; ".join(problems))
        return value

    @field_validator("date_formats")
    @classmethod
    def _formats(cls, value: list[str]) -> list[str]:
        bad = [f for f in value if "%" not in f]
        if bad:
            raise ValueError(f"not strftime formats: {', '.join(bad)} (e.g. %d/%m/%Y)")
        if not value:
            raise ValueError("list at least one format (ISO dates are always understood)")
        return value

    @model_validator(mode="after")
    def _coherent(self) -> AlertProfile:
        problems = _cross_key_problems(
            kind=self.kind,
            kind_column=self.kind_column,
            has_kinds=bool(self.kinds),
            columns={k: v.optional for k, v in self.columns.items()},
            defaults=set(self.defaults),
            has_offence=self.offence is not None,
        )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def source_columns(self) -> dict[str, bool]:
        """Every file column the profile reads, with whether it may be absent."""
        out: dict[str, bool] = {}

        def add(col: str, optional: bool) -> None:
            out[col] = out.get(col, True) and optional

        for spec in self.columns.values():
            for col in spec.sources():
                add(col, spec.optional)
        if self.kind_column is not None:
            add(self.kind_column, False)
        if self.offence is not None:
            add(self.offence.column, self.offence.optional)
        return out


def _kinds_text() -> str:
    return ", ".join(schema.ALERT_KINDS)


def _unknown_fields(columns: Mapping[str, Any]) -> str | None:
    unknown = sorted(set(columns) - set(MAPPABLE_FIELDS))
    if not unknown:
        return None
    hint = " (use `kind` or `kind_column`)" if "kind" in unknown else ""
    return f"unknown field(s) {', '.join(unknown)}{hint}; allowed: " + ", ".join(MAPPABLE_FIELDS)


def _cross_key_problems(
    *,
    kind: Any,
    kind_column: Any,
    has_kinds: bool,
    columns: Mapping[str, bool],
    defaults: set[str],
    has_offence: bool,
) -> list[str]:
    """Problems that involve several keys (``columns`` maps each field to ``optional``).

    Run by the model once its keys are valid, and on the raw YAML when they are not, so that
    one message lists every problem (pydantic skips a model check after a field error).
    """
    problems: list[str] = []
    if (kind is None) == (kind_column is None):
        problems.append("give `kind` (one kind for every row) or `kind_column`, not both")
    if has_kinds and kind_column is None:
        problems.append("`kinds` maps the values of `kind_column`: set `kind_column`")
    if "external_id" not in columns:
        problems.append("map external_id (the agency's own id of each alert) to a column")
    elif columns["external_id"]:
        problems.append("external_id cannot be optional")
    filled = set(columns) | defaults
    if has_offence:
        filled.add("iccs_code")
    if isinstance(kind, str) and kind in schema.ALERT_KINDS:
        for group in _KIND_NEEDS.get(kind, ()):
            if not filled & set(group):
                problems.append(f"a {kind} profile must map or default " + " or ".join(group))
        if schema.ALERT_KINDS[kind] == "person" and not filled & set(_PERSON_IDENTITY):
            problems.append(
                "a person profile must map names, national_id or clk (the person's identity)"
            )
    return problems


def _raw_problems(data: Mapping[str, Any]) -> list[str]:
    """The checks pydantic skips once a field failed, run on the YAML as written."""
    columns = data.get("columns")
    cols: dict[str, bool] = {}
    problems: list[str] = []
    if isinstance(columns, dict):
        for k, v in columns.items():
            cols[str(k)] = isinstance(v, dict) and bool(v.get("optional"))
        problem = _unknown_fields(cols)
        if problem:
            problems.append(f"columns: {problem}")
    defaults = data.get("defaults")
    problems += _cross_key_problems(
        kind=data.get("kind"),
        kind_column=data.get("kind_column"),
        has_kinds=bool(data.get("kinds")),
        columns=cols,
        defaults={str(k) for k in defaults} if isinstance(defaults, dict) else set(),
        has_offence=data.get("offence") is not None,
    )
    return problems


# --- reading profiles ----------------------------------------------------------------------


def _builtin_dir() -> Path:
    return Path(str(resources.files("safestreets.sharing") / "profile_data"))


@lru_cache(maxsize=1)
def builtin_alert_profiles() -> dict[str, Path]:
    """Names and paths of the alert profiles shipped with the package."""
    return {p.stem: p for p in sorted(_builtin_dir().glob("*.yaml"))}


def parse_alert_profile(text: str, *, origin: str, path: Path | None = None) -> AlertProfile:
    """Parse alert-profile YAML; every problem is reported together in one ProfileError."""
    data = profile_mapping(text, kind="alert profile", origin=origin, doc="docs/alerts.md")
    try:
        profile = AlertProfile.model_validate(data)
    except ValidationError as exc:
        found = validation_problems(exc, strip_value_error=True)
        text = "; ".join(found)
        found += [p for p in _raw_problems(data) if p.split(": ", 1)[-1] not in text]
        raise ProfileError(
            f"alert profile {origin} is invalid: {'; '.join(found)}",
            hint="see docs/alerts.md#alert-profiles",
        ) from None
    profile.path = path
    return profile


def load_alert_profile(name_or_path: str) -> AlertProfile:
    """A built-in alert profile by name, or an alert-profile file by path."""
    path = profile_file(name_or_path, builtin_alert_profiles(), kind="alert profile")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(f"cannot read alert profile {path}: {exc}") from None
    return parse_alert_profile(text, origin=name_or_path, path=path)


# --- applying a profile (pure) -------------------------------------------------------------


def check_columns(profile: AlertProfile, columns: list[str], *, file: str = "the file") -> None:
    """Refuse a file that lacks a column the profile needs (or, with ``strict``, has a column
    the profile does not read), naming every such column at once.

    Raises:
        InputError: With the missing (and unexpected) columns and the columns found.
    """
    present = set(columns) - {ROW}
    needed = profile.source_columns()
    missing = [c for c, optional in needed.items() if not optional and c not in present]
    extra = sorted(present - set(needed)) if profile.strict else []
    if not missing and not extra:
        return
    parts = []
    if missing:
        parts.append(f"lacks column(s) {', '.join(missing)}")
    if extra:
        parts.append(f"has column(s) the profile does not read: {', '.join(extra)}")
    raise InputError(
        f"{file} {' and '.join(parts)} (alert profile {profile.name})",
        hint="columns found: " + ", ".join(c for c in columns if c != ROW),
    )


def _cell(col: str, present: set[str]) -> pl.Expr:
    if col not in present:
        return pl.lit(None, pl.String)
    e = pl.col(col).cast(pl.String).str.strip_chars()
    return pl.when(e == "").then(None).otherwise(e)


def _field_expr(spec: ColumnSpec, present: set[str]) -> pl.Expr:
    if spec.column is not None:
        return _cell(spec.column, present)
    if spec.columns is not None:
        parts = pl.concat_list([_cell(c, present) for c in spec.columns]).list.drop_nulls()
        joined = parts.list.join(spec.separator)
        return pl.when(parts.list.len() == 0).then(None).otherwise(joined)
    template = spec.template or ""
    names = _PLACEHOLDER.findall(template)
    cells = [_cell(c, present) for c in names]
    fmt = _PLACEHOLDER.sub("{}", template)
    text = pl.format(fmt, *[c.fill_null("") for c in cells]).str.strip_chars()
    return pl.when(pl.all_horizontal([c.is_null() for c in cells])).then(None).otherwise(text)


def _mapped(expr: pl.Expr, values: Mapping[str, str], seen: list[str]) -> pl.Expr:
    """``expr`` with cells found in ``values`` (compared by :func:`_key`) replaced; other
    cells kept as written (validation names the ones that are still not allowed)."""
    by_key = {_key(k): v for k, v in values.items()}
    mapping = {s: by_key[_key(s)] for s in seen if _key(s) in by_key}
    return expr.replace(mapping) if mapping else expr


def _date_expr(expr: pl.Expr, formats: list[str]) -> pl.Expr:
    """Cells read with the first format that fits, written as ISO 8601; unreadable cells kept
    as written, so validation reports them (and ISO cells pass untouched)."""
    candidates = []
    for fmt in formats:
        if any(t in fmt for t in ("%H", "%M", "%S", "%I")):
            parsed = expr.str.to_datetime(fmt, strict=False, time_unit="us")
            text = parsed.dt.strftime("%Y-%m-%d %H:%M:%S")
            year = parsed.dt.year()
        else:
            parsed_date = expr.str.to_date(fmt, strict=False)
            text = parsed_date.dt.strftime("%Y-%m-%d")
            year = parsed_date.dt.year()
        # chrono reads "05/01/24" with %Y as the year 24: no real date here is that old.
        candidates.append(pl.when(year >= 1000).then(text))
    return pl.coalesce([*candidates, expr])


def apply_profile(frame: pl.DataFrame, profile: AlertProfile) -> pl.DataFrame:
    """Turn a frame of the file's columns (all text) into canonical alert columns.

    Args:
        frame: The file's columns as read (text), optionally with the ``__row`` column of
            the readers, which is kept.
        profile: The alert profile.

    Returns:
        ``kind`` and every field the profile maps (text, trimmed, empty cells null), with the
        profile's value maps, date formats and offence table applied; ``__row`` when the
        input had it. Defaults and validity are left to
        :func:`safestreets.sharing.alerts.validate_alerts`.
    """
    present = set(frame.columns)
    exprs: dict[str, pl.Expr] = {}
    for name, spec in profile.columns.items():
        exprs[name] = _field_expr(spec, present)
    if profile.kind is not None:
        exprs["kind"] = pl.lit(profile.kind, pl.String)
    else:
        assert profile.kind_column is not None  # the model guarantees one of the two
        exprs["kind"] = _cell(profile.kind_column, present)
    if profile.offence is not None:
        exprs["_offence"] = _cell(profile.offence.column, present)
    keep = [ROW] if ROW in present else []
    out = frame.select(*keep, *[e.alias(n) for n, e in exprs.items()])

    maps: dict[str, Mapping[str, str]] = dict(profile.values)
    if profile.kinds:
        maps["kind"] = {**profile.kinds, **maps.get("kind", {})}
    replaced = []
    for name, values in maps.items():
        if name not in out.columns:
            continue
        seen = out.get_column(name).drop_nulls().unique().to_list()
        replaced.append(_mapped(pl.col(name), values, seen).alias(name))
    if replaced:
        out = out.with_columns(replaced)
    dates = [
        _date_expr(pl.col(f), profile.date_formats).alias(f)
        for f in DATE_FIELDS
        if f in out.columns
    ]
    if dates:
        out = out.with_columns(dates)
    if profile.offence is not None:
        from safestreets.reference.categories import map_categories

        codes = map_categories(out.get_column("_offence"), profile.offence.country)
        mapped = codes.get_column("iccs_code").alias("_offence")
        if "iccs_code" in out.columns:
            out = out.with_columns(mapped).with_columns(
                pl.coalesce("iccs_code", "_offence").alias("iccs_code")
            )
        else:
            out = out.with_columns(mapped.alias("iccs_code"))
        out = out.drop("_offence")
    return out


# --- reading a file and loading it (shell) -------------------------------------------------


def _reader_profile(profile: AlertProfile) -> Any:
    # The ingest readers take their options (format, sheet, CSV) from an incident profile;
    # this one carries the alert profile's options and says nothing else.
    from safestreets.ingest.profiles import Profile

    return Profile.model_validate(
        {
            "name": profile.name,
            "source": profile.name,
            "country": "GT",
            "format": profile.format,
            "sheet": profile.sheet,
            "csv": profile.csv.model_dump(),
            "columns": {"occurred_at": "x", "local_category": "x"},
        }
    )


def read_alert_file(path: Path, profile: AlertProfile) -> tuple[pl.DataFrame, str, list[str]]:
    """Read a whole alert file as text, with ``__row`` (the file row a person would find).

    Returns:
        ``(frame, read_as, notes)``: the columns of the file, how it was read (format,
        encoding, delimiter) and the readers' notes (e.g. a conversion to UTF-8).

    Raises:
        InputError: The file cannot be read, or lacks a column the profile needs.
    """
    from safestreets.ingest.readers import describe, iter_chunks, open_source

    rp = _reader_profile(profile)
    source = open_source(path, rp)
    try:
        if source.columns:
            check_columns(profile, source.columns, file=path.name)
        chunks = list(iter_chunks(source, rp))
        read_as = describe(source)
        notes = list(source.notes)
    finally:
        source.close()
    frame = pl.concat(chunks, how="diagonal") if chunks else pl.DataFrame({ROW: []})
    if not source.columns:  # JSON: the columns are known once read
        check_columns(profile, frame.columns, file=path.name)
    return frame, read_as, notes


@dataclass
class AlertLoadReport:
    """What a bulk load did with every row of a file.

    Invariant: ``rows == inserted + updated + unchanged + rejected``.
    """

    file: str
    profile: str
    owner_agency: str
    read_as: str
    rows: int
    inserted: int
    updated: int
    unchanged: int
    rejected: int
    #: Every problem: ``row`` is the file row, ``severity`` ``error`` (row set aside) or
    #: ``warning`` (row stored).
    problems: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def warnings(self) -> int:
        """Problems that did not stop a row."""
        return sum(1 for p in self.problems if p["severity"] == "warning")

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "file": self.file,
            "profile": self.profile,
            "owner_agency": self.owner_agency,
            "read_as": self.read_as,
            "rows": self.rows,
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "warnings": self.warnings,
            "problems": self.problems,
            "notes": self.notes,
        }


def load_alert_file(
    conn: Connection,
    principal: Principal,
    path: Path,
    profile: AlertProfile,
    *,
    owner_agency: str | None = None,
    now: datetime | None = None,
) -> AlertLoadReport:
    """Read ``path`` through ``profile`` and store its alerts in the caller's transaction.

    Rows with errors are set aside and listed; the others are inserted, updated, or left
    alone when unchanged (re-running a file changes nothing). The owner agency is
    ``owner_agency``, else the profile's, else the principal's agency.

    Raises:
        InputError: No owner agency, an unreadable file or missing columns.
        AccessDenied: The principal may not manage that agency's alerts.
    """
    from safestreets.sharing.service import load_alerts

    owner = owner_agency or profile.owner_agency or principal.agency
    if not owner:
        raise InputError(
            f"no owner agency for the alerts of {path.name}",
            hint="pass --agency, or set owner_agency in the profile",
        )
    frame, read_as, notes = read_alert_file(path, profile)
    canonical = apply_profile(frame, profile)
    file_rows = canonical.get_column(ROW).to_list() if ROW in canonical.columns else []
    data = canonical.drop(ROW) if ROW in canonical.columns else canonical
    result = load_alerts(
        conn,
        principal,
        data,
        owner_agency=owner,
        defaults={k: v for k, v in profile.defaults.items() if v},
        valid_days=profile.valid_days,
        source=f"{path.name} (profile {profile.name})",
        now=now,
    )
    problems = []
    for p in result.problems:
        d = p.as_dict()
        # validate_alerts numbers the frame's rows from 1; the report names the file's rows.
        d["row"] = int(file_rows[p.row - 1]) if file_rows else p.row
        problems.append(d)
    rejected = len({p.row for p in result.problems if p.severity == "error"})
    counts = result.counts
    return AlertLoadReport(
        file=str(path),
        profile=profile.name,
        owner_agency=owner,
        read_as=read_as,
        rows=data.height,
        inserted=counts.inserted,
        updated=counts.updated,
        unchanged=counts.unchanged,
        rejected=rejected,
        problems=problems,
        notes=notes,
    )
