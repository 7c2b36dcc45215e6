"""The public safe-streets map as a service: public aggregates through the disclosure rules.

The API (``/api/v1/public/...``) and the web page (``/mapa``) are two faces of these
functions. Each one reads aggregates of PUBLIC incidents from the store
(:func:`safestreets.store.public.aggregate_public`, which applies the handling code and the
publication delay and lets no record out), applies the rules of
:mod:`safestreets.stats.public` (categories, sensitive categories by department only, small
counts hidden with their complements) and returns a response model whose every field is an
aggregate, a reference name or a cell outline rounded to 4 decimals.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any, Literal

import polars as pl
import shapely
from pydantic import BaseModel
from shapely.geometry import mapping
from sqlalchemy import Engine

from safestreets.config import Settings
from safestreets.errors import InputError, ReferenceError_
from safestreets.reference import geo
from safestreets.spatial import public as cells
from safestreets.stats import public as rules
from safestreets.stats.population import at_years, population_table
from safestreets.store.aggregates import read_population
from safestreets.store.public import aggregate_public, public_synthetic, public_years

__all__ = [
    "ALL",
    "AreaTable",
    "HotspotMap",
    "Options",
    "Outlines",
    "PublicConfig",
    "country_bbox",
    "departments",
    "hotspots",
    "municipalities",
    "options",
    "outlines",
]

#: The map's "every non-sensitive category" choice.
ALL = "all"
#: Row key of records whose municipality or department is missing or not in the reference.
UNKNOWN = "unknown"
Lang = Literal["es", "en"]
_UNKNOWN_NAMES = {
    "admin2": {"es": "Municipio no registrado", "en": "Municipality not recorded"},
    "admin1": {"es": "Departamento no registrado", "en": "Department not recorded"},
}
_ALL_NAMES = {
    "es": "Todos (salvo las categorías sensibles)",
    "en": "All (but the sensitive categories)",
}
_HIDDEN_LABEL = {"es": "oculto", "en": "hidden"}


@dataclass(frozen=True)
class PublicConfig:
    """The publication settings: threshold, delay in days, cell side in metres."""

    k: int = 5
    delay_days: int = 30
    cell_m: float = 500.0

    @classmethod
    def from_settings(cls, settings: Settings) -> PublicConfig:
        return cls(
            k=settings.public_k,
            delay_days=settings.public_delay_days,
            cell_m=settings.public_cell_m,
        )


# --- response models -------------------------------------------------------------------------


class CategoryInfo(BaseModel):
    id: str
    name: str
    sensitive: bool
    #: The finest level the category is published at.
    finest_level: Literal["admin2", "admin1"]
    on_map: bool


class CountryInfo(BaseModel):
    code: str
    name: str
    #: Published years holding public incidents.
    years: list[int]


class Options(BaseModel):
    """What may be asked: countries and their published years, categories, the rules."""

    k: int
    delay_days: int
    published_through: date
    cell_m: float
    coordinate_decimals: int
    countries: list[CountryInfo]
    categories: list[CategoryInfo]
    statement: str


class AreaValue(BaseModel):
    category: str
    count: int | None
    rate_per_100k: float | None
    hidden: bool


class AreaRow(BaseModel):
    code: str
    name: str
    admin1: str | None
    admin1_name: str | None
    hidden: bool
    total: int | None
    population: int | None
    rate_per_100k: float | None
    values: list[AreaValue]


class AreaTable(BaseModel):
    """Counts per municipality (or department) and category for one published year."""

    country: str
    country_name: str
    year: int
    level: Literal["admin2", "admin1"]
    category: str | None
    period_start: date
    period_end: date
    k: int
    delay_days: int
    published_through: date
    categories: list[CategoryInfo]
    rows: list[AreaRow]
    hidden_rows: int
    hidden_values: int
    #: True when any public incident of the country is synthetic (demo) data.
    synthetic: bool
    statement: str


class Geometry(BaseModel):
    type: Literal["Polygon", "MultiPolygon", "Point"]
    coordinates: Any


class CellProperties(BaseModel):
    cell: str
    count: int | None
    hidden: bool
    band: str
    band_label: str
    municipality: str | None
    department: str | None


class CellFeature(BaseModel):
    type: Literal["Feature"] = "Feature"
    id: str
    geometry: Geometry
    properties: CellProperties


class BandInfo(BaseModel):
    id: str
    label: str
    low: int | None
    high: int | None
    cells: int


class HotspotMap(BaseModel):
    """An RFC 7946 FeatureCollection of published cells, with the map's facts as members."""

    type: Literal["FeatureCollection"] = "FeatureCollection"
    country: str
    country_name: str
    year: int
    category: str
    category_name: str
    period_start: date
    period_end: date
    k: int
    delay_days: int
    published_through: date
    cell_m: float
    coordinate_decimals: int
    bands: list[BandInfo]
    cells_shown: int
    incidents_shown: int
    #: True when any public incident of the country is synthetic (demo) data.
    synthetic: bool
    statement: str
    features: list[CellFeature]


class OutlineProperties(BaseModel):
    kind: Literal["country", "admin1"]
    code: str
    name: str
    country: str


class OutlineFeature(BaseModel):
    type: Literal["Feature"] = "Feature"
    id: str
    geometry: Geometry
    properties: OutlineProperties


class Outlines(BaseModel):
    """Country outlines (Natural Earth) and department points (GeoNames) of the seven."""

    type: Literal["FeatureCollection"] = "FeatureCollection"
    features: list[OutlineFeature]


# --- helpers ---------------------------------------------------------------------------------


def _today(today: date | None) -> date:
    return today or datetime.now(UTC).date()


def _lang(lang: str) -> Lang:
    return "en" if lang == "en" else "es"


def _country(code: str) -> str:
    iso = code.strip().upper()
    if iso not in geo.COUNTRY_CODES:
        raise ReferenceError_(
            f"unknown country {code!r}", hint=f"one of {', '.join(geo.COUNTRY_CODES)}"
        )
    return iso


def _country_name(iso: str, lang: Lang) -> str:
    row = geo.countries().filter(pl.col("iso2") == iso)
    return str(row["name_en" if lang == "en" else "name_es"][0])


def _category_info(cat: rules.Category, lang: Lang) -> CategoryInfo:
    return CategoryInfo(
        id=cat.id,
        name=cat.name(lang),
        sensitive=cat.sensitive,
        finest_level=cat.finest,
        on_map=not cat.sensitive,
    )


def _year(engine: Engine, cfg: PublicConfig, iso: str, year: int | None, today: date) -> int:
    """The year asked (checked against the delay) or the latest published one with data."""
    if year is not None:
        rules.check_year(year, today, cfg.delay_days)
        return year
    published = [
        y
        for y in public_years(engine).get(iso, [])
        if rules.year_published(y, today, cfg.delay_days)
    ]
    if published:
        return published[-1]
    last = today.year
    while not rules.year_published(last, today, cfg.delay_days):
        last -= 1
    return last


@lru_cache(maxsize=8)
def _units(iso: str, level: str) -> pl.DataFrame:
    """Reference units of a country: ``code``, ``name``, ``admin1``, ``admin1_name``."""
    a1 = geo.admin1(iso).select(admin1=pl.col("iso3166_2"), admin1_name=pl.col("name"))
    if level == "admin1":
        return a1.with_columns(code=pl.col("admin1"), name=pl.col("admin1_name")).sort("name")
    a2 = geo.admin2(iso).select(
        code=pl.coalesce("national_code", "geonames_admin2"), name=pl.col("name"), admin1="admin1"
    )
    return (
        a2.filter(pl.col("code").is_not_null())
        .unique("code", keep="first", maintain_order=True)
        .join(a1, on="admin1", how="left")
        .sort("admin1_name", "name")
    )


def _area_reducer(level: str, sensitive: bool) -> Any:
    def reduce(records: pl.DataFrame) -> pl.DataFrame:
        classified = records.with_columns(rules.classify())
        ids = [c.id for c in rules.categories(sensitive=sensitive)]
        return (
            classified.filter(pl.col("category").is_in(ids))
            .group_by(level, "category")
            .agg(count=pl.len().cast(pl.Int64))
        )

    return reduce


def _cell_reducer(iso: str, cell_m: float) -> Any:
    def reduce(records: pl.DataFrame) -> pl.DataFrame:
        classified = records.with_columns(rules.classify())
        ids = [c.id for c in rules.categories(sensitive=False)]
        kept = classified.filter(pl.col("category").is_in(ids))
        return cells.count_cells(kept, country=iso, cell_m=cell_m)

    return reduce


def _populations(engine: Engine, units: pl.DataFrame, iso: str, year: int, level: str) -> dict:
    """Population of each unit in ``year`` where one is known (user-loaded figures)."""
    wanted = units.select(
        country=pl.lit(iso),
        admin1=pl.col("admin1"),
        admin2=pl.col("code") if level == "admin2" else pl.lit(None, dtype=pl.String),
        sex=pl.lit(None, dtype=pl.String),
        age_band=pl.lit(None, dtype=pl.String),
        year=pl.lit(year, dtype=pl.Int32),
    )
    user = read_population(engine, [iso])
    if user.is_empty():
        return {}
    pops = at_years(population_table(user), wanted)
    key = "admin2" if level == "admin2" else "admin1"
    return {
        code: round(p)
        for code, p in pops.select(key, "population").iter_rows()
        if code is not None and p is not None and p > 0
    }


def _rate(count: int | None, population: int | None) -> float | None:
    if count is None or not population:
        return None
    return round(count / population * 100_000, 2)


# --- the service -----------------------------------------------------------------------------


def options(
    engine: Engine, cfg: PublicConfig, *, lang: str = "es", today: date | None = None
) -> Options:
    """Countries with their published years, the categories and the rules in force."""
    lg = _lang(lang)
    day = _today(today)
    years = public_years(engine)
    countries = [
        CountryInfo(
            code=iso,
            name=_country_name(iso, lg),
            years=[y for y in years.get(iso, []) if rules.year_published(y, day, cfg.delay_days)],
        )
        for iso in geo.COUNTRY_CODES
    ]
    return Options(
        k=cfg.k,
        delay_days=cfg.delay_days,
        published_through=rules.published_through(day, cfg.delay_days),
        cell_m=cfg.cell_m,
        coordinate_decimals=cells.COORDINATE_DECIMALS,
        countries=sorted(countries, key=lambda c: c.name),
        categories=[_category_info(c, lg) for c in rules.categories()],
        statement=rules.statement(k=cfg.k, delay_days=cfg.delay_days, cell_m=cfg.cell_m, lang=lg),
    )


def _area_table(
    engine: Engine,
    cfg: PublicConfig,
    *,
    level: Literal["admin2", "admin1"],
    country: str,
    year: int | None,
    category: str | None,
    lang: str,
    today: date | None,
) -> AreaTable:
    lg = _lang(lang)
    iso = _country(country)
    day = _today(today)
    sensitive = level == "admin1"
    chosen = None
    if category:
        chosen = rules.category(category)
        rules.check_level(chosen, level)
    y = _year(engine, cfg, iso, year, day)
    through = rules.published_through(day, cfg.delay_days)
    counts = aggregate_public(
        engine, country=iso, year=y, through=through, reduce=_area_reducer(level, sensitive)
    )
    units = _units(iso, level)
    known = set(units["code"].to_list())
    counts = counts.with_columns(
        pl.when(pl.col(level).is_in(list(known))).then(pl.col(level)).otherwise(pl.lit(UNKNOWN))
    ).rename({level: "code"})
    cats = rules.categories(sensitive=sensitive)
    keys = units["code"].to_list()
    if counts.filter(pl.col("code") == UNKNOWN).height:
        keys.append(UNKNOWN)
    table = rules.protect_rows(counts, key="code", columns=[c.id for c in cats], k=cfg.k, keys=keys)
    pops = _populations(engine, units, iso, y, level)
    info = {r["code"]: r for r in units.iter_rows(named=True)}
    values: dict[str, list[AreaValue]] = {}
    for code, cat_id, count, hidden in table.cells.iter_rows():
        if chosen is not None and cat_id != chosen.id:
            continue
        values.setdefault(code, []).append(
            AreaValue(
                category=cat_id,
                count=count,
                rate_per_100k=_rate(count, pops.get(code)),
                hidden=hidden,
            )
        )
    rows: list[AreaRow] = []
    for code, total, hidden in table.rows.iter_rows():
        unit = info.get(code)
        population = pops.get(code)
        rows.append(
            AreaRow(
                code=code,
                name=unit["name"] if unit else _UNKNOWN_NAMES[level][lg],
                admin1=unit["admin1"] if unit else None,
                admin1_name=unit["admin1_name"] if unit else None,
                hidden=hidden,
                total=total,
                population=population,
                rate_per_100k=_rate(total, population),
                values=values.get(code, []),
            )
        )
    hidden_values = table.cells.join(
        table.rows.filter(~pl.col("hidden")).select("code"), on="code"
    )["hidden"].sum()
    return AreaTable(
        country=iso,
        country_name=_country_name(iso, lg),
        year=y,
        level=level,
        category=chosen.id if chosen else None,
        period_start=date(y, 1, 1),
        period_end=date(y, 12, 31),
        k=cfg.k,
        delay_days=cfg.delay_days,
        published_through=through,
        categories=[_category_info(c, lg) for c in ([chosen] if chosen else cats)],
        rows=rows,
        hidden_rows=int(table.rows["hidden"].sum()),
        hidden_values=int(hidden_values or 0),
        synthetic=public_synthetic(engine, iso),
        statement=rules.statement(k=cfg.k, delay_days=cfg.delay_days, cell_m=cfg.cell_m, lang=lg),
    )


def municipalities(
    engine: Engine,
    cfg: PublicConfig,
    *,
    country: str,
    year: int | None = None,
    category: str | None = None,
    lang: str = "es",
    today: date | None = None,
) -> AreaTable:
    """Counts per municipality of the non-sensitive categories (and their total).

    Raises:
        NotPublishable: A sensitive category, or a year inside the publication delay.
        InputError, ReferenceError_: An unknown category or country.
    """
    return _area_table(
        engine,
        cfg,
        level="admin2",
        country=country,
        year=year,
        category=category,
        lang=lang,
        today=today,
    )


def departments(
    engine: Engine,
    cfg: PublicConfig,
    *,
    country: str,
    year: int | None = None,
    category: str | None = None,
    lang: str = "es",
    today: date | None = None,
) -> AreaTable:
    """Counts per department of the sensitive categories (and their total).

    Raises:
        NotPublishable: A non-sensitive category, or a year inside the publication delay.
        InputError, ReferenceError_: An unknown category or country.
    """
    return _area_table(
        engine,
        cfg,
        level="admin1",
        country=country,
        year=year,
        category=category,
        lang=lang,
        today=today,
    )


def hotspots(
    engine: Engine,
    cfg: PublicConfig,
    *,
    country: str,
    year: int | None = None,
    category: str = ALL,
    lang: str = "es",
    today: date | None = None,
) -> HotspotMap:
    """The published cells of one year: all non-sensitive incidents, or one category.

    A cell appears only when its total over the non-sensitive categories is at least k. On a
    category's map, a cell whose count of that category is hidden (1 to k-1, or hidden to
    protect one) appears as hidden; a cell with none of it does not appear.

    Raises:
        NotPublishable: A sensitive category, or a year inside the publication delay.
        InputError, ReferenceError_: An unknown category or country.
    """
    lg = _lang(lang)
    iso = _country(country)
    day = _today(today)
    chosen = None
    if category.strip().lower() != ALL:
        chosen = rules.category(category)
        rules.check_level(chosen, "cell")
    y = _year(engine, cfg, iso, year, day)
    through = rules.published_through(day, cfg.delay_days)
    counts = aggregate_public(
        engine, country=iso, year=y, through=through, reduce=_cell_reducer(iso, cfg.cell_m)
    )
    cats = [c.id for c in rules.categories(sensitive=False)]
    table = rules.protect_rows(
        counts.select("cell", "category", "count"), key="cell", columns=cats, k=cfg.k
    )
    shown = table.rows.filter(~pl.col("hidden"))
    if chosen is None:
        picked = shown.select("cell", count=pl.col("total"), hidden=pl.lit(False))
    else:
        picked = (
            table.cells.filter(pl.col("category") == chosen.id)
            .join(shown.select("cell"), on="cell")
            .filter(pl.col("hidden") | (pl.col("count") > 0))
            .select("cell", "count", "hidden")
        )
    picked = picked.sort(
        pl.col("hidden"), pl.col("count"), pl.col("cell"), descending=[False, True, False]
    )
    units2 = _units(iso, "admin2")
    names = {r["code"]: r for r in units2.iter_rows(named=True)}
    modal = dict(counts.select("cell", "admin2").unique("cell").iter_rows())
    labels = picked["cell"].to_list()
    polygons = cells.cell_polygons(labels, country=iso, cell_m=cfg.cell_m)
    band_list = rules.bands(cfg.k)
    tally = {b.id: 0 for b in band_list}
    tally["hidden"] = 0
    features = []
    for (label, count, hidden), ring in zip(picked.iter_rows(), polygons, strict=True):
        band = None if hidden else rules.band_of(int(count), cfg.k)
        band_id = band.id if band else "hidden"
        tally[band_id] += 1
        unit = names.get(modal.get(label) or "")
        features.append(
            CellFeature(
                id=label,
                geometry=Geometry(type="Polygon", coordinates=ring),
                properties=CellProperties(
                    cell=label,
                    count=None if hidden else int(count),
                    hidden=bool(hidden),
                    band=band_id,
                    band_label=band.label(lg) if band else _HIDDEN_LABEL[lg],
                    municipality=unit["name"] if unit else None,
                    department=unit["admin1_name"] if unit else None,
                ),
            )
        )
    band_info = [
        BandInfo(id=b.id, label=b.label(lg), low=b.low, high=b.high, cells=tally[b.id])
        for b in band_list
    ]
    if chosen is not None:
        band_info.append(
            BandInfo(
                id="hidden", label=_HIDDEN_LABEL[lg], low=None, high=None, cells=tally["hidden"]
            )
        )
    return HotspotMap(
        country=iso,
        country_name=_country_name(iso, lg),
        year=y,
        category=chosen.id if chosen else ALL,
        category_name=chosen.name(lg) if chosen else _ALL_NAMES[lg],
        period_start=date(y, 1, 1),
        period_end=date(y, 12, 31),
        k=cfg.k,
        delay_days=cfg.delay_days,
        published_through=through,
        cell_m=cfg.cell_m,
        coordinate_decimals=cells.COORDINATE_DECIMALS,
        bands=band_info,
        cells_shown=len(features),
        incidents_shown=sum(f.properties.count or 0 for f in features),
        synthetic=public_synthetic(engine, iso),
        statement=rules.statement(k=cfg.k, delay_days=cfg.delay_days, cell_m=cfg.cell_m, lang=lg),
        features=features,
    )


def country_bbox(country: str) -> list[list[float]]:
    """``[[south, west], [north, east]]`` of a country's outline (for fitting a map)."""
    row = geo.countries().filter(pl.col("iso2") == _country(country)).row(0, named=True)
    d = cells.COORDINATE_DECIMALS
    return [
        [round(row["bbox_min_lat"], d), round(row["bbox_min_lon"], d)],
        [round(row["bbox_max_lat"], d), round(row["bbox_max_lon"], d)],
    ]


def _rounded(value: Any, decimals: int) -> Any:
    if isinstance(value, float):
        return round(value, decimals)
    if isinstance(value, list | tuple):
        return [_rounded(v, decimals) for v in value]
    return value


@lru_cache(maxsize=2)
def outlines(lang: str = "es") -> Outlines:
    """The seven countries' outlines and their departments' representative points.

    Coordinates are rounded to :data:`safestreets.spatial.public.COORDINATE_DECIMALS`.
    """
    lg = _lang(lang)
    d = cells.COORDINATE_DECIMALS
    features: list[OutlineFeature] = []
    for row in geo.countries().iter_rows(named=True):
        iso = row["iso2"]
        shape = shapely.orient_polygons(geo.country_outline(iso), exterior_cw=False)
        geom = mapping(shape)
        features.append(
            OutlineFeature(
                id=iso,
                geometry=Geometry(type=geom["type"], coordinates=_rounded(geom["coordinates"], d)),
                properties=OutlineProperties(
                    kind="country",
                    code=iso,
                    name=row["name_en" if lg == "en" else "name_es"],
                    country=iso,
                ),
            )
        )
    for row in geo.admin1().iter_rows(named=True):
        if row["lon"] is None or row["lat"] is None:
            continue
        features.append(
            OutlineFeature(
                id=row["iso3166_2"],
                geometry=Geometry(
                    type="Point", coordinates=[round(row["lon"], d), round(row["lat"], d)]
                ),
                properties=OutlineProperties(
                    kind="admin1", code=row["iso3166_2"], name=row["name"], country=row["country"]
                ),
            )
        )
    return Outlines(features=features)


def check_lang(lang: str | None) -> Lang:
    """``es`` or ``en``.

    Raises:
        InputError: Another language.
    """
    if lang is None or lang == "":
        return "es"
    if lang not in ("es", "en"):
        raise InputError(f"unknown language {lang!r}", hint="es (default) or en")
    return _lang(lang)
