"""Reference geography of the seven Central American countries.

Countries, first- and second-level administrative units, GeoNames places and country outlines,
plus the name/code resolvers used by the ingestion layer. All tables are package data (see
``safestreets/reference/data/README.md`` for sources and licences) and are loaded once.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from safestreets.errors import ReferenceError_
from safestreets.reference._data import read_bytes, read_csv

__all__ = [
    "COUNTRY_CODES",
    "admin1",
    "admin2",
    "countries",
    "country_of_point",
    "country_outline",
    "normalise_name",
    "places",
    "points_in_country",
    "resolve_admin1",
    "resolve_admin1_series",
    "resolve_admin2",
]

#: ISO 3166-1 alpha-2 codes of the seven countries, north-west to south-east.
COUNTRY_CODES: tuple[str, ...] = ("BZ", "GT", "SV", "HN", "NI", "CR", "PA")

_KM_PER_DEGREE = 111.32

# ---------------------------------------------------------------------------------------------
# Name normalisation
# ---------------------------------------------------------------------------------------------

_MARKS = re.compile(r"[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]+")
_NON_WORD = re.compile(r"[\W_]+")


@lru_cache(maxsize=65536)
def normalise_name(s: str) -> str:
    """Normalise a place or category name for matching.

    Lower-cases (``casefold``), removes accents by NFKD decomposition and removal of the
    combining marks (so ``ñ`` becomes ``n`` and ``Petén`` becomes ``peten``), and collapses
    every run of whitespace and punctuation into a single space. Results are memoised.

    Args:
        s: Any string.

    Returns:
        The normalised string (possibly empty).

    Examples:
        >>> normalise_name("  Francisco   Morazán ")
        'francisco morazan'
        >>> normalise_name("Ngäbe-Buglé")
        'ngabe bugle'
    """
    if not s.isascii():
        s = _MARKS.sub("", unicodedata.normalize("NFKD", s))
    return _NON_WORD.sub(" ", s.casefold()).strip()


def _map_distinct(values: pl.Series, fn: Any, name: str | None = None) -> pl.Series:
    """Apply ``fn`` (str -> str | None) to the distinct non-null values of a Series only."""
    s = values.cast(pl.String)
    distinct = s.drop_nulls().unique().to_list()
    mapping = {v: fn(v) for v in distinct}
    out = s.replace_strict(mapping, default=None, return_dtype=pl.String)
    return out.alias(name if name is not None else values.name)


# ---------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------


def _check_country(country: str) -> str:
    code = country.strip().upper() if isinstance(country, str) else ""
    if code not in COUNTRY_CODES:
        raise ReferenceError_(
            f"unknown country code {country!r}",
            hint=f"use one of the ISO 3166-1 alpha-2 codes {', '.join(COUNTRY_CODES)}",
        )
    return code


def _filter_country(df: pl.DataFrame, country: str | None) -> pl.DataFrame:
    if country is None:
        return df
    return df.filter(pl.col("country") == _check_country(country))


@lru_cache(maxsize=1)
def countries() -> pl.DataFrame:
    """Return the seven countries.

    Returns:
        Columns ``iso2, iso3, m49, name_en, name_es, capital, utm_epsg, bbox_min_lon,
        bbox_min_lat, bbox_max_lon, bbox_max_lat``; ``utm_epsg`` is the WGS 84 / UTM zone
        (EPSG 326xx) that covers most of the country; the bounding box is that of the shipped
        outline.
    """
    return read_csv(
        "countries.csv",
        {
            "utm_epsg": pl.Int64,
            "bbox_min_lon": pl.Float64,
            "bbox_min_lat": pl.Float64,
            "bbox_max_lon": pl.Float64,
            "bbox_max_lat": pl.Float64,
        },
    )


@lru_cache(maxsize=1)
def _admin1_all() -> pl.DataFrame:
    return read_csv("admin1.csv", {"lat": pl.Float64, "lon": pl.Float64, "n_places": pl.Int64})


def admin1(country: str | None = None) -> pl.DataFrame:
    """Return the first-level administrative units (departments, provinces, districts...).

    Args:
        country: ISO2 code to restrict to one country; ``None`` for all 98 units.

    Returns:
        Columns ``country, iso3166_2, name, type, national_code, lat, lon, n_places``.
        ``lat/lon`` is a representative point: the population-weighted mean of the unit's
        GeoNames places, else its largest place, else the mean of its places (null for
        Panama's Naso Tjër Di comarca, which has no GeoNames place).

    Raises:
        ReferenceError_: If ``country`` is not one of the seven countries.
    """
    return _filter_country(_admin1_all(), country)


@lru_cache(maxsize=1)
def _admin2_all() -> pl.DataFrame:
    return read_csv("admin2.csv", {"lat": pl.Float64, "lon": pl.Float64, "n_places": pl.Int64})


def admin2(country: str | None = None) -> pl.DataFrame:
    """Return the second-level administrative units (municipios, cantones, distritos).

    Args:
        country: ISO2 code to restrict to one country; ``None`` for all.

    Returns:
        Columns ``country, admin1, name, alt_names, national_code, geonames_admin2, lat, lon,
        n_places``. ``admin1`` is the ISO 3166-2 code of the parent unit; ``alt_names`` is a
        ``|``-separated list; ``national_code`` is the statistics-office code (null for SV and
        BZ); ``lat/lon`` (population-weighted point of GeoNames places, else the largest place)
        is null for units without any GeoNames place.

    Raises:
        ReferenceError_: If ``country`` is not one of the seven countries.
    """
    return _filter_country(_admin2_all(), country)


@lru_cache(maxsize=1)
def _places_all() -> pl.DataFrame:
    return read_csv(
        "places.csv",
        {
            "geonameid": pl.Int64,
            "population": pl.Int64,
            "lat": pl.Float64,
            "lon": pl.Float64,
        },
    )


def places(country: str | None = None) -> pl.DataFrame:
    """Return GeoNames populated places (cities500 subset, 2,230 places).

    Args:
        country: ISO2 code to restrict to one country; ``None`` for all.

    Returns:
        Columns ``geonameid, name, country, admin1, admin2_geonames, population, lat, lon``.

    Raises:
        ReferenceError_: If ``country`` is not one of the seven countries.
    """
    return _filter_country(_places_all(), country)


# ---------------------------------------------------------------------------------------------
# Outlines and point-in-country tests
# ---------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _outlines() -> dict[str, BaseGeometry]:
    data = json.loads(read_bytes("ca7_outlines.geojson"))
    return {f["properties"]["iso2"]: shape(f["geometry"]) for f in data["features"]}


def country_outline(iso2: str) -> BaseGeometry:
    """Return the outline (a shapely MultiPolygon, WGS 84 lon/lat) of a country.

    Natural Earth 1:10m countries, simplified with a 0.005° tolerance.

    Args:
        iso2: ISO 3166-1 alpha-2 code.

    Returns:
        The geometry (shared; do not mutate).

    Raises:
        ReferenceError_: If ``iso2`` is not one of the seven countries.
    """
    return _outlines()[_check_country(iso2)]


@lru_cache(maxsize=64)
def _buffered(
    iso2: str, tolerance_km: float
) -> tuple[BaseGeometry, tuple[float, float, float, float]]:
    geom = _outlines()[iso2]
    if tolerance_km > 0:
        _, miny, _, maxy = geom.bounds
        # Degrees of longitude are the shorter ones: buffering by the longitude equivalent of
        # tolerance_km guarantees at least tolerance_km in every direction.
        lat_c = math.radians(max(abs(miny), abs(maxy)))
        deg = tolerance_km / (_KM_PER_DEGREE * math.cos(lat_c))
        geom = geom.buffer(deg, quad_segs=4).simplify(deg / 10.0)
    shapely.prepare(geom)
    b = geom.bounds
    return geom, (float(b[0]), float(b[1]), float(b[2]), float(b[3]))


def _as_float_arrays(
    lon: npt.ArrayLike, lat: npt.ArrayLike
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    x = np.asarray(lon, dtype=np.float64)
    y = np.asarray(lat, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"lon and lat must have the same shape, got {x.shape} and {y.shape}")
    return x, y


def _inside(
    iso2: str, x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], tolerance_km: float
) -> npt.NDArray[np.bool_]:
    geom, (minx, miny, maxx, maxy) = _buffered(iso2, float(tolerance_km))
    # NaN compares False, so NaN coordinates never pass the bounding-box test.
    cand = (x >= minx) & (x <= maxx) & (y >= miny) & (y <= maxy)
    out = np.zeros(x.shape, dtype=bool)
    if cand.any():
        out[cand] = shapely.contains_xy(geom, x[cand], y[cand])
    return out


def points_in_country(
    iso2: str,
    lon: npt.ArrayLike,
    lat: npt.ArrayLike,
    *,
    tolerance_km: float = 5.0,
) -> npt.NDArray[np.bool_]:
    """Test which points lie inside a country (vectorised).

    The outline is buffered by ``tolerance_km`` (so that coastal and border places survive the
    simplification of the outline and small coordinate errors) and prepared once per
    ``(country, tolerance)``; points outside the bounding box are rejected without a polygon
    test. Suitable for millions of points.

    Args:
        iso2: ISO 3166-1 alpha-2 code of the declared country.
        lon: Longitudes (WGS 84 degrees), any array-like.
        lat: Latitudes, same shape as ``lon``.
        tolerance_km: Outward buffer of the outline in kilometres (0 for the bare outline).

    Returns:
        Boolean array of the same shape; NaN coordinates give ``False``.

    Raises:
        ReferenceError_: If ``iso2`` is not one of the seven countries.
        ValueError: If ``lon`` and ``lat`` differ in shape or ``tolerance_km`` is negative.
    """
    code = _check_country(iso2)
    if tolerance_km < 0:
        raise ValueError("tolerance_km must be >= 0")
    x, y = _as_float_arrays(lon, lat)
    return _inside(code, x, y, tolerance_km)


def country_of_point(
    lon: npt.ArrayLike,
    lat: npt.ArrayLike,
    *,
    tolerance_km: float = 0.0,
    candidates: Sequence[str] = COUNTRY_CODES,
) -> npt.NDArray[np.object_]:
    """Return which of the seven countries contains each point (vectorised).

    Points are first tested against the bare outlines; with ``tolerance_km > 0`` the points
    still unassigned are then tested against the buffered outlines (first country in
    ``candidates`` order wins where buffers overlap).

    Args:
        lon: Longitudes (WGS 84 degrees).
        lat: Latitudes, same shape as ``lon``.
        tolerance_km: Optional outward buffer for a second pass.
        candidates: Countries to consider (default: all seven).

    Returns:
        Object array of the same shape holding ISO2 codes or ``None``.

    Raises:
        ReferenceError_: If a code in ``candidates`` is unknown.
    """
    x, y = _as_float_arrays(lon, lat)
    codes = [_check_country(c) for c in candidates]
    out = np.full(x.shape, None, dtype=object)
    todo = np.isfinite(x) & np.isfinite(y)
    passes = [0.0] if tolerance_km <= 0 else [0.0, float(tolerance_km)]
    for tol in passes:
        for code in codes:
            if not todo.any():
                return out
            idx = np.flatnonzero(todo.ravel())
            hit = _inside(code, x.ravel()[idx], y.ravel()[idx], tol)
            sel = idx[hit]
            out.ravel()[sel] = code
            todo.ravel()[sel] = False
    return out


# ---------------------------------------------------------------------------------------------
# Resolvers
# ---------------------------------------------------------------------------------------------

_ADMIN_PREFIXES = (
    "departamento de ",
    "departamento del ",
    "departamento ",
    "depto de ",
    "depto ",
    "dpto de ",
    "dpto ",
    "provincia de ",
    "provincia ",
    "comarca indigena ",
    "comarca de ",
    "comarca ",
    "region autonoma de la ",
    "region autonoma del ",
    "region autonoma ",
    "distrito de ",
    "distrito ",
    "municipio de ",
    "municipio ",
    "canton de ",
    "canton ",
)
_ADMIN_SUFFIXES = (" district", " department", " province", " municipality", " canton")


def _name_variants(norm: str) -> list[str]:
    """Return ``norm`` plus the variant without an administrative prefix/suffix."""
    out = [norm]
    for p in _ADMIN_PREFIXES:
        if norm.startswith(p) and len(norm) > len(p):
            out.append(norm[len(p) :])
            break
    for s in _ADMIN_SUFFIXES:
        if norm.endswith(s) and len(norm) > len(s):
            out.append(norm[: -len(s)])
            break
    return out


def _code_key(value: str) -> str:
    """Key of a numeric national code: leading zeros removed ("01" == "1")."""
    v = value.strip()
    if v.isdigit():
        return v.lstrip("0") or "0"
    return v.upper()


class _Admin1Index:
    def __init__(self, country: str) -> None:
        df = admin1(country)
        aliases = read_csv("admin1_aliases.csv", {}).filter(pl.col("country") == country)
        self.iso: dict[str, str] = {}
        self.national: dict[str, str] = {}
        self.names: dict[str, str] = {}
        self.suffix: dict[str, str] = {}
        for row in df.iter_rows(named=True):
            code = row["iso3166_2"]
            self.iso[code.upper()] = code
            self.suffix[code.split("-", 1)[1].upper()] = code
            if row["national_code"]:
                self.national[_code_key(row["national_code"])] = code
            self.names[normalise_name(row["name"])] = code
        for row in aliases.iter_rows(named=True):
            code, alias = row["iso3166_2"], row["alias"]
            if row["kind"] == "former_iso_code":
                self.iso.setdefault(alias.upper(), code)
                self.suffix.setdefault(alias.split("-", 1)[1].upper(), code)
            else:
                self.names.setdefault(normalise_name(alias), code)

    def resolve(self, value: str) -> str | None:
        v = value.strip()
        if not v:
            return None
        up = v.upper()
        if up in self.iso:
            return self.iso[up]
        if v.isdigit():
            return self.national.get(_code_key(v))
        norm = normalise_name(v)
        for variant in _name_variants(norm):
            if variant in self.names:
                return self.names[variant]
        if len(up) <= 3 and up.isalnum() and not up.isdigit():
            return self.suffix.get(up)
        return None


@lru_cache(maxsize=8)
def _admin1_index(country: str) -> _Admin1Index:
    return _Admin1Index(country)


def resolve_admin1(country: str, value: str) -> str | None:
    """Resolve a first-level unit given as code or name to its ISO 3166-2 code.

    Accepted, in this order: an ISO 3166-2 code, current or former (``"GT-01"``,
    ``"GT-GU"``), a national statistics code (``"01"``, ``"1"``), a name or known alias in
    any case, with or without accents and with or without a ``Departamento de``/``Provincia
    de``-style prefix (``"sacatepequez"``, ``"Petén"``, ``"RAAN"``), and finally the bare
    subdivision part of an ISO code (``"GU"``).

    Args:
        country: ISO2 code of the country.
        value: The code or name to resolve.

    Returns:
        The ISO 3166-2 code, or ``None`` if the value matches nothing.

    Raises:
        ReferenceError_: If ``country`` is not one of the seven countries.
    """
    code = _check_country(country)
    if value is None:
        return None
    return _admin1_index(code).resolve(str(value))


def resolve_admin1_series(country: str, values: pl.Series) -> pl.Series:
    """Vectorised :func:`resolve_admin1`: resolves each distinct value once.

    Args:
        country: ISO2 code of the country.
        values: Series of codes or names (any dtype castable to string); nulls stay null.

    Returns:
        A String Series of the same length and name with ISO 3166-2 codes or nulls.

    Raises:
        ReferenceError_: If ``country`` is not one of the seven countries.
    """
    index = _admin1_index(_check_country(country))
    return _map_distinct(values, index.resolve)


class _Admin2Index:
    def __init__(self, country: str) -> None:
        df = admin2(country)
        self.codes: dict[str, tuple[str, str]] = {}  # key -> (result, admin1)
        self.names: dict[str, set[tuple[str, str]]] = {}
        self.admin1_national = {
            r["iso3166_2"]: r["national_code"] for r in admin1(country).iter_rows(named=True)
        }
        for row in df.iter_rows(named=True):
            result = row["national_code"] or row["geonames_admin2"]
            entry = (result, row["admin1"])
            if row["national_code"]:
                self.codes[_code_key(row["national_code"])] = entry
            self.codes[row["geonames_admin2"].upper()] = entry
            names = [row["name"], *(row["alt_names"] or "").split("|")]
            for name in names:
                if not name:
                    continue
                for variant in _name_variants(normalise_name(name)):
                    self.names.setdefault(variant, set()).add(entry)

    def resolve(self, value: str, admin1_code: str | None) -> str | None:
        v = value.strip()
        if not v:
            return None
        key = _code_key(v)
        hit = self.codes.get(key)
        if hit is not None and (admin1_code is None or hit[1] == admin1_code):
            return hit[0]
        if v.isdigit():
            parent = self.admin1_national.get(admin1_code) if admin1_code else None
            if parent:
                hit = self.codes.get(_code_key(parent + v.zfill(2)))
                if hit is not None and hit[1] == admin1_code:
                    return hit[0]
            return None
        found: set[tuple[str, str]] = set()
        for variant in _name_variants(normalise_name(v)):
            found = self.names.get(variant, set())
            if admin1_code is not None:
                found = {e for e in found if e[1] == admin1_code}
            if found:
                break
        results = {e[0] for e in found}
        return results.pop() if len(results) == 1 else None


@lru_cache(maxsize=8)
def _admin2_index(country: str) -> _Admin2Index:
    return _Admin2Index(country)


def resolve_admin2(country: str, value: str, admin1: str | None = None) -> str | None:
    """Resolve a second-level unit given as code or name.

    Accepted: the national code (``"0115"`` or ``"115"``; with ``admin1`` given, also the
    within-department code, e.g. ``"15"`` in department ``"01"``), the GeoNames admin-2 code
    (``"GT.07.101"``), or the name / an alternative name in any case and accent form, with or
    without ``Municipio de``/``Distrito de``/``Cantón de``. Names shared by several units (e.g.
    "San Andrés") resolve only when ``admin1`` disambiguates them.

    Args:
        country: ISO2 code of the country.
        value: The code or name to resolve.
        admin1: Optional parent unit, in any form accepted by :func:`resolve_admin1`.

    Returns:
        The unit's national code when it has one, else its GeoNames admin-2 code; ``None`` if
        nothing (or more than one unit) matches, or if ``admin1`` is given but unknown.

    Raises:
        ReferenceError_: If ``country`` is not one of the seven countries.
    """
    code = _check_country(country)
    if value is None:
        return None
    parent: str | None = None
    if admin1 is not None:
        parent = resolve_admin1(code, admin1)
        if parent is None:
            return None
    return _admin2_index(code).resolve(str(value), parent)
