"""Source profiles: small declarative YAML files that say how to read one agency's files.

A profile maps the agency's columns to the canonical incident fields, says how its dates,
coordinates and categories are written, and sets provenance defaults. The format is
documented in ``docs/profiles.md``; built-in profiles live beside this module.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from safestreets import schema
from safestreets.errors import ProfileError

#: Canonical fields a profile may map (``occurred_date``/``occurred_time`` are the two-column
#: alternative to ``occurred_at``; ``victim_*`` describe one victim per row).
MAPPABLE_FIELDS: tuple[str, ...] = (
    "source_record_id",
    "country",
    "admin1",
    "admin2",
    "locality",
    "occurred_at",
    "occurred_date",
    "occurred_time",
    "reported_at",
    "local_category",
    "iccs_code",
    "lon",
    "lat",
    "place_type",
    "weapon",
    "context",
    "victim_count",
    "victim_sex",
    "victim_age",
    "owner_agency",
    "handling_code",
)


class FieldSpec(BaseModel):
    """Where a canonical field comes from: a column, a constant, or both (constant as default)."""

    model_config = ConfigDict(extra="forbid")

    column: str | None = None
    value: str | None = None
    formats: list[str] | None = None
    take: int | None = Field(default=None, ge=1)
    map: dict[str, str] | None = None
    #: The column may be absent from a file (then the field is empty, or ``value``).
    optional: bool = False

    @model_validator(mode="after")
    def _one_source(self) -> FieldSpec:
        if self.column is None and self.value is None:
            raise ValueError("give `column` or `value`")
        return self


class CsvOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    delimiter: str | None = None  # None: sniffed from the first lines
    encoding: str | None = None  # None: UTF-8 (with or without BOM), else Latin-1/CP1252
    quote: str = '"'
    skip_rows: int = Field(default=0, ge=0)


class CoordinateOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    crs: str = "EPSG:4326"
    decimal: Literal[".", ",", "auto"] = "auto"
    #: [min_lon, min_lat, max_lon, max_lat] of the area the source covers (WGS84).
    bounds: tuple[float, float, float, float] | None = None
    #: Tolerance around the country outline, in km (coastal and border points).
    tolerance_km: float = Field(default=5.0, ge=0)
    required: bool = False


class CategoryOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: CSV with columns term, iccs_code, mapping_quality[, weapon, place_type]; a path
    #: relative to the profile file. Its rows win over the built-in table.
    table: str | None = None
    #: Also use the built-in Central American Spanish table for terms the table lacks.
    builtin: bool = True


class DateOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dayfirst: bool = True
    min_year: int = 1900
    #: How far in the future (hours) an occurrence may be before it is rejected (clock skew).
    future_tolerance_hours: float = 24.0


class Profile(BaseModel):
    """A source profile. See docs/profiles.md for every key."""

    model_config = ConfigDict(extra="forbid")

    name: str
    title: str = ""
    source: str
    owner_agency: str | None = None
    country: str | None = None
    timezone: str = "UTC"
    handling_code: str = "NATIONAL"
    format: Literal["csv", "xlsx", "json", "ndjson", "parquet"] | None = None
    sheet: str | None = None
    csv: CsvOptions = Field(default_factory=CsvOptions)
    columns: dict[str, FieldSpec]
    #: Columns whose content identifies a record when the source has no record id.
    record_id_from: list[str] | None = None
    required: list[str] = Field(default_factory=lambda: ["occurred_at", "local_category"])
    coordinates: CoordinateOptions = Field(default_factory=CoordinateOptions)
    categories: CategoryOptions = Field(default_factory=CategoryOptions)
    dates: DateOptions = Field(default_factory=DateOptions)
    location_precision: str = "exact"
    max_field_chars: int = Field(default=4096, ge=16)
    path: Path | None = Field(default=None, exclude=True)

    @field_validator("columns", mode="before")
    @classmethod
    def _short_form(cls, value: Any) -> Any:
        # `lat: latitud` is shorthand for `lat: {column: latitud}`.
        if isinstance(value, dict):
            return {k: ({"column": v} if isinstance(v, str) else v) for k, v in value.items()}
        return value

    @field_validator("columns")
    @classmethod
    def _known_fields(cls, value: dict[str, FieldSpec]) -> dict[str, FieldSpec]:
        unknown = sorted(set(value) - set(MAPPABLE_FIELDS))
        if unknown:
            raise ValueError(
                f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(MAPPABLE_FIELDS)}"
            )
        if "occurred_at" in value and "occurred_date" in value:
            raise ValueError("map either occurred_at or occurred_date (+ occurred_time), not both")
        return value

    @field_validator("country")
    @classmethod
    def _country(cls, value: str | None) -> str | None:
        return iso2_code(value)

    @field_validator("location_precision")
    @classmethod
    def _precision(cls, value: str) -> str:
        if value not in schema.LOCATION_PRECISION:
            raise ValueError(f"must be one of {', '.join(schema.LOCATION_PRECISION)}")
        return value

    @field_validator("required")
    @classmethod
    def _required(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(MAPPABLE_FIELDS) - {"coordinates"})
        if unknown:
            raise ValueError(f"unknown field(s) {', '.join(unknown)}")
        return value

    @field_validator("handling_code")
    @classmethod
    def _handling(cls, value: str) -> str:
        if value not in schema.HANDLING_CODES:
            raise ValueError(f"handling_code must be one of {', '.join(schema.HANDLING_CODES)}")
        return value

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from exc
        return value

    @model_validator(mode="after")
    def _needs(self) -> Profile:
        has_date = "occurred_at" in self.columns or "occurred_date" in self.columns
        if not has_date:
            raise ValueError("map occurred_at (or occurred_date) to a column")
        if "local_category" not in self.columns and "iccs_code" not in self.columns:
            raise ValueError("map local_category or iccs_code")
        if ("lon" in self.columns) != ("lat" in self.columns):
            raise ValueError("map both lon and lat, or neither")
        if self.country is None and "country" not in self.columns:
            raise ValueError("set `country` (ISO 3166-1 alpha-2) or map a country column")
        unmapped = [
            f
            for f in self.required
            if f not in self.columns
            and f not in ("occurred_at", "coordinates")
            and not (f == "local_category" and "iccs_code" in self.columns)
        ]
        if unmapped:
            raise ValueError(f"required field(s) not mapped to a column: {', '.join(unmapped)}")
        if "coordinates" in self.required and "lon" not in self.columns:
            raise ValueError("`coordinates` is required but lon/lat are not mapped")
        return self

    def date_fields(self) -> list[str]:
        return [f for f in ("occurred_at", "occurred_date") if f in self.columns]


def _builtin_dir() -> Path:
    return Path(str(resources.files("safestreets.ingest") / "profile_data"))


@lru_cache(maxsize=1)
def builtin_profiles() -> dict[str, Path]:
    """Names and paths of the profiles shipped with the package."""
    return {p.stem: p for p in sorted(_builtin_dir().glob("*.yaml"))}


def iso2_code(value: str | None) -> str | None:
    """A profile's ``country``: an ISO 3166-1 alpha-2 code, upper-cased (ValueError if not)."""
    if value is None:
        return None
    import pycountry

    code = value.strip().upper()
    if pycountry.countries.get(alpha_2=code) is None:
        raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 country code (e.g. GT)")
    return code


def profile_mapping(text: str, *, kind: str, origin: str, doc: str) -> dict[str, Any]:
    """Profile YAML as a mapping (every sort of profile: sources, counts, alerts).

    Raises:
        ProfileError: The text is not YAML, or not a mapping (one line, with ``doc`` as hint).
    """
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ProfileError(
            f"{kind} {origin} is not valid YAML: {exc}".splitlines()[0],
            hint=f"check indentation and quoting; see {doc}",
        ) from None
    if not isinstance(data, dict):
        raise ProfileError(f"{kind} {origin} must be a YAML mapping", hint=f"see {doc}")
    return data


def validation_problems(exc: ValidationError, *, strip_value_error: bool = False) -> list[str]:
    """Each problem pydantic found in a profile, as ``where: what``."""
    out = []
    for err in exc.errors():
        msg = str(err["msg"])
        if strip_value_error:
            msg = msg.removeprefix("Value error, ")
        out.append(f"{'.'.join(str(p) for p in err['loc']) or 'profile'}: {msg}")
    return out


def parse_profile(text: str, *, origin: str, path: Path | None = None) -> Profile:
    """Parse profile YAML; every problem is reported together in one ProfileError."""
    data = profile_mapping(text, kind="profile", origin=origin, doc="docs/profiles.md")
    try:
        profile = Profile.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(validation_problems(exc))
        raise ProfileError(
            f"profile {origin} is invalid: {problems}", hint="see docs/profiles.md"
        ) from None
    profile.path = path
    return profile


def profile_file(name_or_path: str, builtin: dict[str, Path], kind: str = "profile") -> Path:
    """The file of a built-in profile by name, or the given path (ProfileError otherwise).

    ``kind`` names the sort of profile in the message ("profile", "counts profile").
    """
    if name_or_path in builtin:
        return builtin[name_or_path]
    path = Path(name_or_path)
    if not path.is_file():
        known = ", ".join(builtin) or "none"
        raise ProfileError(
            f"unknown {kind} {name_or_path!r}",
            hint=f"built-in {kind}s: {known}; or give the path of a "
            f"{kind.replace(' ', '-')} YAML file",
        )
    return path


def load_profile(name_or_path: str) -> Profile:
    """A built-in profile by name, or a profile file by path."""
    path = profile_file(name_or_path, builtin_profiles())
    return parse_profile(path.read_text(encoding="utf-8"), origin=str(name_or_path), path=path)
