"""The declarative indicator catalogue (``catalogue.yaml``, extensible with a user file)."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from safestreets import schema
from safestreets.errors import InputError, NotFound
from safestreets.reference import iccs

#: Every ``--by`` value the engine knows.
PERIODS = ("year", "quarter", "month", "week")
AREAS = ("country", "admin1", "admin2")
ICCS_LEVELS = {"iccs_section": 1, "iccs_division": 2, "iccs_group": 3, "iccs_class": 4}
BREAKDOWNS = (
    *AREAS,
    *PERIODS,
    "sex",
    "age_band",
    "age_group",
    "weapon",
    "place_type",
    "context",
    "source",
    *ICCS_LEVELS,
    "iccs_code",
)
#: Contexts that make a killing of a woman or girl a femicide (gender-related killing).
FEMICIDE_CONTEXTS = ("intimate_partner", "family", "gender_related")
#: Age bands of victims under 18, fine (UNODC) or coarse.
MINOR_AGE_BANDS = ("0-9", "10-14", "15-17", "0-17")

_VOCAB: dict[str, tuple[str, ...]] = {
    "sex": schema.SEXES,
    "age_band": (*schema.AGE_BANDS, *schema.COARSE_AGE_BANDS),
    "weapon": schema.WEAPONS,
    "context": schema.CONTEXTS,
    "place_type": schema.PLACE_TYPES,
}


class Text(BaseModel):
    """A text in Spanish and English."""

    model_config = ConfigDict(extra="forbid")
    es: str
    en: str

    def get(self, lang: str) -> str:
        return self.en if lang == "en" else self.es


class Numerator(BaseModel):
    """Which records or counts an indicator counts."""

    model_config = ConfigDict(extra="forbid")
    iccs: list[str] = Field(min_length=1)
    unit: Literal["victims", "incidents"]
    sex: list[str] | None = None
    age_band: list[str] | None = None
    weapon: list[str] | None = None
    context: list[str] | None = None
    place_type: list[str] | None = None

    @field_validator("iccs")
    @classmethod
    def _codes(cls, v: list[str]) -> list[str]:
        bad = [c for c in v if not iccs.is_iccs_code(c)]
        if bad:
            raise ValueError(f"not ICCS v1.0 codes: {', '.join(bad)}")
        return v

    @model_validator(mode="after")
    def _vocab(self) -> Numerator:
        for dim, allowed in _VOCAB.items():
            values = getattr(self, dim)
            bad = [x for x in values or () if x not in allowed]
            if bad:
                raise ValueError(f"{dim}: unknown value(s) {', '.join(bad)}")
        return self

    def filters(self) -> dict[str, tuple[str | None, ...]]:
        """Attribute filters (dimension -> allowed values)."""
        return {d: tuple(getattr(self, d)) for d in _VOCAB if getattr(self, d) is not None}


class PopulationSpec(BaseModel):
    """A population denominator, optionally of one sex or age band."""

    model_config = ConfigDict(extra="forbid")
    sex: Literal["female", "male"] | None = None
    age_band: str | None = None


class Denominator(BaseModel):
    """Population, another indicator's count (a share), or none (a plain count)."""

    model_config = ConfigDict(extra="forbid")
    population: PopulationSpec | None = None
    share_of: str | None = None
    none: bool = False

    @model_validator(mode="after")
    def _one(self) -> Denominator:
        given = sum([self.population is not None, self.share_of is not None, self.none])
        if given != 1:
            raise ValueError("give exactly one of population, share_of, none")
        return self

    @property
    def kind(self) -> Literal["population", "share", "none"]:
        if self.population is not None:
            return "population"
        return "share" if self.share_of is not None else "none"


class Indicator(BaseModel):
    """One indicator of the catalogue."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: Text
    description: Text
    numerator: Numerator
    denominator: Denominator
    multiplier: float = Field(gt=0)
    breakdowns: list[str]
    sensitive: bool = False
    references: list[str] = Field(default_factory=list)

    @field_validator("breakdowns")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        bad = [b for b in v if b not in BREAKDOWNS]
        if bad:
            raise ValueError(
                f"unknown breakdown(s) {', '.join(bad)}; known: {', '.join(BREAKDOWNS)}"
            )
        return v


class Catalogue(BaseModel):
    """All indicators by id."""

    model_config = ConfigDict(extra="forbid")
    indicators: list[Indicator]

    @model_validator(mode="after")
    def _refs(self) -> Catalogue:
        ids = [i.id for i in self.indicators]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"indicator id(s) defined twice: {', '.join(dup)}")
        for ind in self.indicators:
            ref = ind.denominator.share_of
            if ref is not None and ref not in ids:
                raise ValueError(f"{ind.id}: share_of names unknown indicator {ref!r}")
        return self

    def get(self, indicator_id: str) -> Indicator:
        """The indicator with this id (NotFound with the known ids otherwise)."""
        for ind in self.indicators:
            if ind.id == indicator_id:
                return ind
        raise NotFound(
            f"unknown indicator {indicator_id!r}",
            hint="known: " + ", ".join(i.id for i in self.indicators),
        )

    def merged(self, other: Catalogue) -> Catalogue:
        """This catalogue with ``other``'s indicators added (same id: ``other`` wins)."""
        mine = {i.id: i for i in self.indicators}
        mine.update({i.id: i for i in other.indicators})
        return Catalogue(indicators=list(mine.values()))


def _invalid(where: str, what: str, exc: ValidationError) -> InputError:
    first = exc.errors()[0]
    loc = ".".join(str(p) for p in first["loc"])
    return InputError(
        f"{where}: invalid {what} at {loc}: {first['msg']}",
        hint="see docs/indicators.md, section 'The catalogue'",
    )


def _parse(data: Any, where: str) -> Catalogue:
    try:
        return Catalogue.model_validate(data)
    except ValidationError as exc:
        raise _invalid(where, "indicator catalogue", exc) from None


@lru_cache(maxsize=1)
def builtin_catalogue() -> Catalogue:
    """The catalogue shipped with the package."""
    text = (resources.files("safestreets.stats") / "catalogue.yaml").read_text(encoding="utf-8")
    return _parse(yaml.safe_load(text), "catalogue.yaml")


def load_catalogue(path: Path | None = None) -> Catalogue:
    """The shipped catalogue, extended (and overridden by id) with a user YAML file."""
    base = builtin_catalogue()
    if path is None:
        return base
    if not path.is_file():
        raise InputError(f"catalogue file not found: {path}", hint="give a YAML file path")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        raise InputError(
            f"{path.name}:{line} is not valid YAML", hint="check indentation and quoting"
        ) from None
    if not isinstance(data, dict) or "indicators" not in data:
        raise InputError(
            f"{path.name}: a catalogue is a mapping with a list under 'indicators'",
            hint="see docs/indicators.md, section 'The catalogue'",
        )
    # Validate the user's indicators on their own first, so errors name their own positions.
    if not isinstance(data["indicators"], list):
        raise InputError(
            f"{path.name}: 'indicators' must be a list", hint="start each one with '- id: ...'"
        )
    extra = []
    for n, item in enumerate(data["indicators"], start=1):
        try:
            extra.append(Indicator.model_validate(item))
        except ValidationError as exc:
            name = item.get("id") if isinstance(item, dict) else None
            raise _invalid(path.name, f"indicator #{n} ({name or 'no id'})", exc) from None
    merged = {i.id: i for i in base.indicators}
    merged.update({i.id: i for i in extra})
    return _parse({"indicators": [i.model_dump() for i in merged.values()]}, path.name)
