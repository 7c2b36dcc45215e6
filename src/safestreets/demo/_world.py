"""The synthetic "world" behind the demo region: cities, crime hotspots, markets, bus lines...

One world per ``(country, seed)``, built from the reference places and admin-2 points and cached.
The incident generator and the GeoJSON layers both read it, so robberies at markets cluster
around exactly the markets the ``markets`` layer shows.

Nothing here is real except the places it starts from: every market, stop, school, bar,
hotspot and gang-controlled neighbourhood is invented from the seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from functools import lru_cache

import numpy as np
import numpy.typing as npt
import polars as pl

from safestreets.reference import geo

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

KM_PER_DEGREE = 111.32
#: Generated points must lie inside the bare outline buffered by this much; the anchors they
#: fall back to pass the reference default (5 km), which covers coastal towns the simplified
#: outline cuts off.
INSIDE_TOLERANCE_KM = 1.0
ANCHOR_TOLERANCE_KM = 5.0

TIMEZONES: dict[str, str] = {
    "BZ": "America/Belize",
    "GT": "America/Guatemala",
    "SV": "America/El_Salvador",
    "HN": "America/Tegucigalpa",
    "NI": "America/Managua",
    "CR": "America/Costa_Rica",
    "PA": "America/Panama",
}

#: Gang-controlled neighbourhoods per country: many in the Northern Triangle, few elsewhere.
GANG_AREAS: dict[str, int] = {"GT": 50, "SV": 60, "HN": 55, "BZ": 6, "NI": 4, "CR": 12, "PA": 16}

# GeoNames gives a few capitals their English exonym; analysts expect the Spanish one.
_SPANISH_NAMES = {"Guatemala City": "Ciudad de Guatemala", "Panama City": "Ciudad de Panamá"}

# fmt: off
_BARRIOS = (
    "San José", "La Esperanza", "El Carmen", "Santa Ana", "Las Flores", "El Calvario",
    "La Merced", "San Juan", "Belén", "Candelaria", "San Antonio", "La Libertad", "Las Palmas",
    "San Miguelito", "La Florida", "Los Pinos", "El Milagro", "La Reforma", "Santa Lucía",
    "Guadalupe", "El Rosario", "Concepción", "San Francisco", "Los Ángeles", "Monte Verde",
    "La Paz", "El Bosque", "Las Brisas", "Jardines del Valle", "Las Margaritas", "El Porvenir",
    "Nueva Esperanza", "San Rafael", "Santa Fe", "El Progreso", "Brisas del Norte",
    "Los Laureles", "El Paraíso", "Primero de Mayo", "Las Américas", "La Colonia",
    "San Sebastián", "El Centro", "Villa Hermosa", "Lomas del Sur", "El Mirador",
)
_PATRONS = (
    "Rubén Darío", "José Martí", "Francisco Morazán", "Gabriela Mistral", "Miguel de Cervantes",
    "Juan Pablo II", "Simón Bolívar", "Benito Juárez", "José Cecilio del Valle",
    "República de Chile", "República de México", "Justo Rufino Barrios", "Alberto Masferrer",
    "Juana de Ibarbourou", "Eloy Alfaro", "San Francisco de Asís", "Santa Teresita",
    "Ignacio Ramírez", "Pedro Molina", "Salomé Ureña", "Cristóbal Colón", "Froylán Turcios",
)
_BAR_NAMES = (
    "El Paraíso", "La Cabaña", "El Rancho", "Los Amigos", "La Terraza", "El Farolito",
    "La Estrella", "El Oasis", "La Bohemia", "El Rincón", "Las Palmeras", "El Tecolote",
    "La Fonda", "El Gallo de Oro", "Don Chepe", "La Tranca", "El Portal", "Las Vegas",
    "La Playa", "El Sombrero", "La Última Copa", "El Buen Gusto",
)
# fmt: on
_SCHOOL_PREFIX = {
    "GT": "Escuela Oficial Urbana Mixta",
    "SV": "Centro Escolar",
    "HN": "Escuela",
    "NI": "Colegio Público",
    "CR": "Escuela",
    "PA": "Escuela",
    "BZ": "Escuela",
}


@dataclass(frozen=True)
class Places:
    """Populated places of one country plus admin-2 points used only for rural incidents."""

    lon: FloatArray
    lat: FloatArray
    population: FloatArray
    sigma_km: FloatArray  # gaussian scatter of ordinary incidents around the place
    name: tuple[str, ...]
    admin1: tuple[str, ...]
    admin2: tuple[str | None, ...]
    adm2_lon: FloatArray  # point reported when only the admin-2 unit is known
    adm2_lat: FloatArray
    real: npt.NDArray[np.bool_]  # False for admin-2 points that are not GeoNames places

    def __len__(self) -> int:
        return len(self.lon)


@dataclass(frozen=True)
class Anchors:
    """Points around which incidents of one setting are scattered, with selection weights."""

    lon: FloatArray
    lat: FloatArray
    place: IntArray
    sigma_km: FloatArray
    weight: FloatArray
    names: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    # Bus stops: the next stop of the line, so robberies on board fall between two stops.
    next_lon: FloatArray | None = None
    next_lat: FloatArray | None = None
    _cum: FloatArray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_cum", np.cumsum(self.weight))

    def __len__(self) -> int:
        return len(self.lon)

    def pick(self, rng: np.random.Generator, n: int) -> IntArray:
        """Draw ``n`` anchor indices proportionally to the weights."""
        if n == 0 or len(self) == 0:
            return np.zeros(n, dtype=np.int64)
        u = rng.random(n) * self._cum[-1]
        idx = np.searchsorted(self._cum, u, side="right")
        return np.minimum(idx, len(self) - 1).astype(np.int64)


@dataclass(frozen=True)
class CountryWorld:
    """Everything the generator needs to place incidents in one country."""

    iso2: str
    timezone: str
    places: Places
    anchors: dict[str, Anchors]


def scatter(
    rng: np.random.Generator, lon: FloatArray, lat: FloatArray, sigma_km: FloatArray | float
) -> tuple[FloatArray, FloatArray]:
    """Gaussian scatter of points by ``sigma_km`` (small-distance approximation)."""
    n = len(lon)
    dy = rng.standard_normal(n) * sigma_km / KM_PER_DEGREE
    dx = rng.standard_normal(n) * sigma_km / (KM_PER_DEGREE * np.cos(np.radians(lat)))
    return lon + dx, lat + dy


def scatter_inside(
    iso2: str,
    rng: np.random.Generator,
    lon: FloatArray,
    lat: FloatArray,
    sigma_km: FloatArray | float,
    *,
    tolerance_km: float = INSIDE_TOLERANCE_KM,
    tries: int = 6,
) -> tuple[FloatArray, FloatArray]:
    """Scatter points and redraw the few that land outside the country (in the sea, abroad).

    Points still outside after ``tries`` redraws fall back to their centre, which the caller
    guarantees to be inside.
    """
    sig = np.broadcast_to(np.asarray(sigma_km, dtype=np.float64), lon.shape)
    x, y = scatter(rng, lon, lat, sig)
    bad = ~geo.points_in_country(iso2, x, y, tolerance_km=tolerance_km)
    for _ in range(tries):
        if not bad.any():
            break
        idx = np.flatnonzero(bad)
        nx, ny = scatter(rng, lon[idx], lat[idx], sig[idx])
        x[idx], y[idx] = nx, ny
        bad[idx] = ~geo.points_in_country(iso2, nx, ny, tolerance_km=tolerance_km)
    if bad.any():
        x[bad], y[bad] = lon[bad], lat[bad]
    return x, y


def _country_index(iso2: str) -> int:
    return geo.COUNTRY_CODES.index(iso2)


def world_rng(seed: int, iso2: str, stream: int) -> np.random.Generator:
    """Independent, reproducible random stream for one part of one country's world."""
    return np.random.default_rng([seed, 1, _country_index(iso2), stream])


# ---------------------------------------------------------------------------------------------
# Places
# ---------------------------------------------------------------------------------------------


def _resolve_place_admin2(iso2: str, places: pl.DataFrame, a2: pl.DataFrame) -> list[str | None]:
    """Admin-2 code of each place: GeoNames code, else the name, else the nearest unit point."""
    a2pts = a2.drop_nulls(["lat", "lon"])
    codes_by_a1: dict[str, tuple[FloatArray, FloatArray, list[str]]] = {}
    for (a1,), grp in a2pts.group_by(["admin1"]):
        codes_by_a1[str(a1)] = (
            grp["lon"].to_numpy(),
            grp["lat"].to_numpy(),
            [c or g for c, g in zip(grp["national_code"], grp["geonames_admin2"], strict=True)],
        )
    out: list[str | None] = []
    for name, a1, gcode, lon, lat in places.select(
        "name", "admin1", "admin2_geonames", "lon", "lat"
    ).iter_rows():
        code = geo.resolve_admin2(iso2, gcode, a1) if gcode else None
        if code is None:
            code = geo.resolve_admin2(iso2, name, a1)
        if code is None and a1 in codes_by_a1:
            # Nearest admin-2 point of the same department, if plausibly close (~25 km).
            xs, ys, cs = codes_by_a1[a1]
            d2 = ((xs - lon) * math.cos(math.radians(lat))) ** 2 + (ys - lat) ** 2
            j = int(np.argmin(d2))
            if d2[j] < (25.0 / KM_PER_DEGREE) ** 2:
                code = cs[j]
        out.append(code)
    return out


def _build_places(iso2: str) -> Places:
    p = geo.places(iso2).sort(["population", "geonameid"], descending=[True, False])
    inside = geo.points_in_country(
        iso2, p["lon"].to_numpy(), p["lat"].to_numpy(), tolerance_km=ANCHOR_TOLERANCE_KM
    )
    p = p.filter(pl.Series(inside))
    a2 = geo.admin2(iso2)
    admin2 = _resolve_place_admin2(iso2, p, a2)
    a2pts = a2.drop_nulls(["lat", "lon"])
    a2pts = a2pts.filter(
        pl.Series(
            geo.points_in_country(
                iso2,
                a2pts["lon"].to_numpy(),
                a2pts["lat"].to_numpy(),
                tolerance_km=ANCHOR_TOLERANCE_KM,
            )
        )
    )
    a2_point = {
        (c or g): (x, y)
        for c, g, x, y in a2pts.select("national_code", "geonames_admin2", "lon", "lat").iter_rows()
    }
    lon = p["lon"].to_numpy().astype(np.float64)
    lat = p["lat"].to_numpy().astype(np.float64)
    pop = p["population"].fill_null(500).to_numpy().astype(np.float64)
    adm2_lon = np.array(
        [a2_point.get(c or "", (x, 0.0))[0] for c, x in zip(admin2, lon, strict=True)]
    )
    adm2_lat = np.array(
        [a2_point.get(c or "", (0.0, y))[1] for c, y in zip(admin2, lat, strict=True)]
    )
    names = [_SPANISH_NAMES.get(n, n) for n in p["name"]]
    admin1 = list(p["admin1"])

    # Admin-2 points join the table as rural pseudo-places (population 0: never urban anchors).
    ex_lon = a2pts["lon"].to_numpy().astype(np.float64)
    ex_lat = a2pts["lat"].to_numpy().astype(np.float64)
    ex_codes = [c or g for c, g in a2pts.select("national_code", "geonames_admin2").iter_rows()]
    ex_names = [
        n.removeprefix("Municipio de ").removeprefix("Distrito de ").removeprefix("Cantón de ")
        for n in a2pts["name"]
    ]
    return Places(
        lon=np.concatenate([lon, ex_lon]),
        lat=np.concatenate([lat, ex_lat]),
        population=np.concatenate([pop, np.zeros(len(ex_lon))]),
        sigma_km=np.concatenate(
            [np.clip(0.22 * np.sqrt(pop / 1000.0), 0.3, 2.5), np.full(len(ex_lon), 3.0)]
        ),
        name=tuple(names + ex_names),
        admin1=tuple(admin1 + list(a2pts["admin1"])),
        admin2=tuple(admin2 + ex_codes),
        adm2_lon=np.concatenate([adm2_lon, ex_lon]),
        adm2_lat=np.concatenate([adm2_lat, ex_lat]),
        real=np.concatenate([np.ones(len(lon), bool), np.zeros(len(ex_lon), bool)]),
    )


# ---------------------------------------------------------------------------------------------
# Anchors
# ---------------------------------------------------------------------------------------------


def _anchors(
    lon: FloatArray,
    lat: FloatArray,
    place: IntArray,
    sigma: FloatArray | float,
    weight: FloatArray,
    names: list[str] | None = None,
    kinds: list[str] | None = None,
    next_lon: FloatArray | None = None,
    next_lat: FloatArray | None = None,
) -> Anchors:
    n = len(lon)
    return Anchors(
        lon=np.asarray(lon, dtype=np.float64),
        lat=np.asarray(lat, dtype=np.float64),
        place=np.asarray(place, dtype=np.int64),
        sigma_km=np.broadcast_to(np.asarray(sigma, dtype=np.float64), (n,)).copy(),
        weight=np.asarray(weight, dtype=np.float64),
        names=tuple(names or ()),
        kinds=tuple(kinds or ()),
        next_lon=next_lon,
        next_lat=next_lat,
    )


def _points_around(
    iso2: str, rng: np.random.Generator, pl_: Places, place: IntArray, sigma_km: FloatArray | float
) -> tuple[FloatArray, FloatArray]:
    """Fixed world points around places, always inside the country."""
    return scatter_inside(iso2, rng, pl_.lon[place], pl_.lat[place], sigma_km)


def _barrio(rng: np.random.Generator) -> str:
    return _BARRIOS[int(rng.integers(len(_BARRIOS)))]


def _clustered(
    iso2: str,
    rng: np.random.Generator,
    P: Places,
    per_1000: float,
    cap: int,
    zipf: float,
    spread: float,
    sigma_km: float,
) -> Anchors:
    """Micro-places of every town: ``per_1000 x sqrt(pop / 1000)`` of them, Zipf-weighted.

    The law of crime concentration: within a town a few street corners, bus stops and
    shopping streets carry most incidents, so even "ordinary" incidents cluster.
    """
    real = np.flatnonzero(P.real)
    counts = np.clip(np.round(per_1000 * np.sqrt(P.population[real] / 1000.0)), 1, cap).astype(int)
    place = np.repeat(real, counts)
    lon, lat = _points_around(iso2, rng, P, place, spread * P.sigma_km[place])
    rank = np.concatenate([np.arange(1, c + 1) for c in counts]).astype(np.float64)
    within = 1.0 / rank**zipf
    within /= np.repeat(np.add.reduceat(within, np.r_[0, np.cumsum(counts)[:-1]]), counts)
    return _anchors(lon, lat, place, sigma_km, within * P.population[place] ** 1.1)


def _hotspots(iso2: str, seed: int, P: Places) -> Anchors:
    """Crime hotspots: few per town, steeply weighted, tight (~60 m)."""
    return _clustered(iso2, world_rng(seed, iso2, 10), P, 1.0, 40, 1.6, 0.8, 0.06)


def _streets(iso2: str, seed: int, P: Places) -> Anchors:
    """Ordinary incident locations: more street segments per town, still Zipf-weighted."""
    return _clustered(iso2, world_rng(seed, iso2, 17), P, 1.5, 60, 1.3, 1.0, 0.05)


def _neighbourhoods(iso2: str, seed: int, P: Places) -> Anchors:
    """Residential neighbourhoods: domestic violence and burglary concentrate in some."""
    return _clustered(iso2, world_rng(seed, iso2, 18), P, 1.0, 40, 1.2, 1.1, 0.15)


def _rural(P: Places) -> Anchors:
    # Villages and municipal seats (admin-2 pseudo-places weigh like a 1,000-people village);
    # towns above 20,000 people are urban, not rural.
    w = np.where(P.real, np.sqrt(np.maximum(P.population, 1.0)), math.sqrt(1000.0))
    w[P.population > 20_000] = 0.0
    return _anchors(P.lon, P.lat, np.arange(len(P), dtype=np.int64), 4.0, w)


def _gang_areas(iso2: str, seed: int, P: Places) -> Anchors:
    """Gang-controlled neighbourhoods (~150 m across) in the larger towns."""
    rng = world_rng(seed, iso2, 11)
    cand = np.flatnonzero(P.real & (P.population >= 10_000))
    if len(cand) == 0:
        cand = np.flatnonzero(P.real)[:1]
    p = P.population[cand] ** 1.2
    place = rng.choice(cand, size=GANG_AREAS[iso2], p=p / p.sum())
    lon, lat = _points_around(iso2, rng, P, place, P.sigma_km[place])
    weight = rng.lognormal(0.0, 0.8, len(place))
    return _anchors(lon, lat, place, 0.15, weight)


def _markets(iso2: str, seed: int, P: Places) -> Anchors:
    """A municipal (or central) market per town of 2,000+, neighbourhood markets in cities."""
    rng = world_rng(seed, iso2, 12)
    lons: list[float] = []
    lats: list[float] = []
    places: list[int] = []
    names: list[str] = []
    kinds: list[str] = []
    weights: list[float] = []
    for i in np.flatnonzero(P.real & (P.population >= 2000)):
        pop = float(P.population[i])
        city = P.name[i]
        central = "Mercado Central de " if pop >= 50_000 else "Mercado Municipal de "
        entries = [(central + city, "central" if pop >= 50_000 else "municipal", 0.15, 2.0)]
        used: set[str] = set()
        for _ in range(int(pop // 120_000)):
            b = _barrio(rng)
            if b in used:
                continue
            used.add(b)
            entries.append((f"Mercado {b} ({city})", "neighbourhood", float(P.sigma_km[i]), 1.0))
        for name, kind, sig, w in entries:
            x, y = _points_around(iso2, rng, P, np.array([i]), sig)
            lons.append(float(x[0]))
            lats.append(float(y[0]))
            places.append(int(i))
            names.append(name)
            kinds.append(kind)
            weights.append(w * pop**1.1 / len(entries))
    return _anchors(
        np.array(lons),
        np.array(lats),
        np.array(places, dtype=np.int64),
        0.06,
        np.array(weights),
        names,
        kinds,
    )


def _terminals(iso2: str, seed: int, P: Places) -> Anchors:
    """A bus terminal per town of 15,000+, more in the big cities."""
    rng = world_rng(seed, iso2, 13)
    lons, lats, places, names, weights = [], [], [], [], []
    for i in np.flatnonzero(P.real & (P.population >= 15_000)):
        pop = float(P.population[i])
        city = P.name[i]
        labels = [f"Terminal de Buses de {city}"]
        labels += [f"Terminal {_barrio(rng)} ({city})" for _ in range(int(pop // 300_000))]
        for k, name in enumerate(labels):
            x, y = _points_around(
                iso2, rng, P, np.array([i]), 0.5 if k == 0 else float(P.sigma_km[i])
            )
            lons.append(float(x[0]))
            lats.append(float(y[0]))
            places.append(int(i))
            names.append(name)
            weights.append(pop / len(labels))
    return _anchors(
        np.array(lons, dtype=np.float64),
        np.array(lats, dtype=np.float64),
        np.array(places, dtype=np.int64),
        0.08,
        np.array(weights, dtype=np.float64),
        names,
        ["bus_terminal"] * len(names),
    )


def _bus_stops(iso2: str, seed: int, P: Places, terminals: Anchors) -> Anchors:
    """Urban lines radiating from terminals, inter-city lines between terminals, town stops."""
    rng = world_rng(seed, iso2, 14)
    lon: list[FloatArray] = []
    lat: list[FloatArray] = []
    place: list[IntArray] = []
    weight: list[FloatArray] = []
    names: list[str] = []
    kinds: list[str] = []
    nxt: list[tuple[FloatArray, FloatArray]] = []

    def add_line(
        x0: float,
        y0: float,
        x1: float,
        y1: float,
        n: int,
        plc: IntArray,
        w: float,
        labels: list[str],
        kind: str,
    ) -> None:
        t = np.arange(1, n + 1) / n
        xs = x0 + t * (x1 - x0)
        ys = y0 + t * (y1 - y0)
        xs, ys = scatter(rng, xs, ys, 0.03)
        ok = geo.points_in_country(iso2, xs, ys, tolerance_km=INSIDE_TOLERANCE_KM)
        xs, ys, plc = xs[ok], ys[ok], plc[ok]
        if len(xs) == 0:
            return
        lon.append(xs)
        lat.append(ys)
        place.append(plc)
        weight.append(np.full(len(xs), w / len(xs)))
        names.extend(lbl for lbl, keep in zip(labels, ok, strict=True) if keep)
        kinds.extend([kind] * len(xs))
        # The next stop of the line (the last stop is its own successor).
        nxt.append((np.r_[xs[1:], xs[-1:]], np.r_[ys[1:], ys[-1:]]))

    term_by_place: dict[int, int] = {}
    for j, p_ in enumerate(terminals.place):
        term_by_place.setdefault(int(p_), j)

    # Urban lines.
    for i in term_by_place:
        pop = float(P.population[i])
        city = P.name[i]
        n_lines = int(np.clip(round(pop / 70_000), 1, 10)) + 1
        for _ in range(n_lines):
            start = int(rng.choice(np.flatnonzero(terminals.place == i)))
            x0, y0 = float(terminals.lon[start]), float(terminals.lat[start])
            theta = rng.uniform(0, 2 * math.pi)
            length = max(1.5, rng.uniform(1.5, 3.0) * float(P.sigma_km[i]))
            x1 = x0 + length * math.cos(theta) / (KM_PER_DEGREE * math.cos(math.radians(y0)))
            y1 = y0 + length * math.sin(theta) / KM_PER_DEGREE
            n = max(2, int(length / 0.45))
            labels = [f"Parada {_barrio(rng)} ({city})" for _ in range(n)]
            add_line(
                x0,
                y0,
                x1,
                y1,
                n,
                np.full(n, i, dtype=np.int64),
                pop**1.1 / n_lines,
                labels,
                "urban",
            )

    # Inter-city lines: each terminal town to its two nearest terminal towns within 90 km.
    towns = np.array(sorted(term_by_place), dtype=np.int64)
    pairs: set[tuple[int, int]] = set()
    for i in towns:
        d = (
            np.hypot(
                (P.lon[towns] - P.lon[i]) * math.cos(math.radians(P.lat[i])),
                P.lat[towns] - P.lat[i],
            )
            * KM_PER_DEGREE
        )
        order = [int(towns[k]) for k in np.argsort(d) if towns[k] != i and d[k] <= 90.0][:2]
        pairs.update((min(int(i), o), max(int(i), o)) for o in order)
    for a, b in sorted(pairs):
        ta, tb = term_by_place[a], term_by_place[b]
        x0, y0 = float(terminals.lon[ta]), float(terminals.lat[ta])
        x1, y1 = float(terminals.lon[tb]), float(terminals.lat[tb])
        km = math.hypot((x1 - x0) * math.cos(math.radians(y0)), y1 - y0) * KM_PER_DEGREE
        n = max(1, int(km / 4.0))
        t = np.arange(1, n + 1) / n
        plc = np.where(t < 0.5, a, b).astype(np.int64)
        labels = [
            f"Parada km {round(k * km / n)}, carretera {P.name[a]} – {P.name[b]}"
            for k in range(1, n + 1)
        ]
        w = 0.4 * math.sqrt(float(P.population[a] * P.population[b])) ** 1.1
        add_line(x0, y0, x1, y1, n, plc, w, labels, "intercity")

    # Towns without a terminal still have a stop on the main road.
    for town in np.flatnonzero(P.real & (P.population >= 5000)):
        ti = int(town)
        if ti in term_by_place:
            continue
        x, y = _points_around(iso2, rng, P, np.array([ti]), 0.3)
        lon.append(x)
        lat.append(y)
        place.append(np.array([ti], dtype=np.int64))
        weight.append(np.array([float(P.population[ti]) ** 1.1]))
        names.append(f"Parada Central de {P.name[ti]}")
        kinds.append("town")
        nxt.append((x.copy(), y.copy()))

    if not lon:
        empty = np.zeros(0)
        return _anchors(empty, empty, np.zeros(0, dtype=np.int64), 0.03, empty)
    return _anchors(
        np.concatenate(lon),
        np.concatenate(lat),
        np.concatenate(place),
        0.03,
        np.concatenate(weight),
        names,
        kinds,
        next_lon=np.concatenate([a for a, _ in nxt]),
        next_lat=np.concatenate([b for _, b in nxt]),
    )


def _schools(iso2: str, seed: int, P: Places) -> Anchors:
    """About one school per 7,000 inhabitants, an "Instituto Nacional" in towns of 20,000+."""
    rng = world_rng(seed, iso2, 15)
    real = np.flatnonzero(P.real & (P.population >= 1000))
    counts = np.clip(np.round(P.population[real] / 7000.0), 1, 80).astype(int)
    place = np.repeat(real, counts)
    lon, lat = _points_around(iso2, rng, P, place, P.sigma_km[place])
    prefix = _SCHOOL_PREFIX[iso2]
    names: list[str] = []
    kinds: list[str] = []
    for i, c in zip(real, counts, strict=True):
        for k in range(c):
            if k == 0 and P.population[i] >= 20_000:
                names.append(f"Instituto Nacional de {P.name[i]}")
                kinds.append("secondary")
            else:
                patron = _PATRONS[int(rng.integers(len(_PATRONS)))]
                names.append(f"{prefix} {patron} ({P.name[i]})")
                kinds.append("primary")
    return _anchors(
        lon, lat, place, 0.05, P.population[place] / np.repeat(counts, counts), names, kinds
    )


def _bars(iso2: str, seed: int, P: Places, hot: Anchors) -> Anchors:
    """About one bar or cantina per 3,500 inhabitants, half of them in the hotspots."""
    rng = world_rng(seed, iso2, 16)
    real = np.flatnonzero(P.real & (P.population >= 2000))
    counts = np.clip(np.round(P.population[real] / 3500.0), 1, 150).astype(int)
    place = np.repeat(real, counts)
    lon, lat = _points_around(iso2, rng, P, place, P.sigma_km[place])
    # Half of the bars sit in the nightlife hotspots of their town.
    hot_of_place: dict[int, IntArray] = {}
    for j, p_ in enumerate(hot.place):
        hot_of_place.setdefault(int(p_), np.zeros(0, dtype=np.int64))
        hot_of_place[int(p_)] = np.r_[hot_of_place[int(p_)], j]
    near = rng.random(len(place)) < 0.5
    for k in np.flatnonzero(near):
        hs = hot_of_place.get(int(place[k]))
        if hs is not None and len(hs):
            h = int(hs[min(int(rng.geometric(0.35)) - 1, len(hs) - 1)])
            x, y = scatter_inside(iso2, rng, hot.lon[h : h + 1], hot.lat[h : h + 1], 0.12)
            lon[k], lat[k] = x[0], y[0]
    styles = ("Bar", "Cantina", "Bar y Restaurante", "Comedor y Bar")
    kinds_of = ("bar", "cantina", "restaurant_bar", "restaurant_bar")
    names: list[str] = []
    kinds: list[str] = []
    for p_ in place:
        s = int(rng.integers(len(styles)))
        names.append(f"{styles[s]} {_BAR_NAMES[int(rng.integers(len(_BAR_NAMES)))]} ({P.name[p_]})")
        kinds.append(kinds_of[s])
    return _anchors(
        lon, lat, place, 0.03, P.population[place] ** 1.1 / np.repeat(counts, counts), names, kinds
    )


@lru_cache(maxsize=16)
def country_world(iso2: str, seed: int) -> CountryWorld:
    """Build (once per process) the synthetic world of one country for a seed."""
    P = _build_places(iso2)
    hot = _hotspots(iso2, seed, P)
    terminals = _terminals(iso2, seed, P)
    stops = _bus_stops(iso2, seed, P, terminals)
    anchors = {
        "hotspot": hot,
        "city": _streets(iso2, seed, P),
        "residence": _neighbourhoods(iso2, seed, P),
        "rural": _rural(P),
        "gang": _gang_areas(iso2, seed, P),
        "market": _markets(iso2, seed, P),
        "terminal": terminals,
        "stop": stops,
        "school": _schools(iso2, seed, P),
        "bar": _bars(iso2, seed, P, hot),
    }
    # The iron law of troublesome places: a few markets, stops, bars and schools account for
    # most of the incidents at such places (heavy-tailed risk, drawn from its own stream).
    risk = world_rng(seed, iso2, 19)
    for key in ("market", "terminal", "stop", "school", "bar"):
        a = anchors[key]
        anchors[key] = replace(a, weight=a.weight * risk.lognormal(0.0, 1.2, len(a)))
    return CountryWorld(iso2=iso2, timezone=TIMEZONES[iso2], places=P, anchors=anchors)
