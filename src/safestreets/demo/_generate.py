"""The streaming incident generator behind :func:`safestreets.demo.generate_region`.

Determinism and chunking: each (country, year) cell is generated in fixed internal blocks of
``_BLOCK`` incidents, each block from its own random stream ``[seed, 3, country, year, block]``.
Output chunks are cut from that stream, so the data do not depend on ``chunk_size`` and memory
stays bounded by ``chunk_size + _BLOCK`` rows whatever the total.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from safestreets import schema
from safestreets.demo import _catalog as cat
from safestreets.demo._plan import CellPlan
from safestreets.demo._time import HOUR_PROFILE_NAMES, day_starts_utc, sample_days, sample_seconds
from safestreets.demo._victims import MODEL_NAMES, SEX_NAMES, draw_counts, draw_victims
from safestreets.demo._world import (
    INSIDE_TOLERANCE_KM,
    Anchors,
    CountryWorld,
    country_world,
    scatter_inside,
)
from safestreets.reference import geo

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_BLOCK = 20_000

#: Columns of ``DemoChunk.victims``: the victim schema, linked by the source's record id
#: (``incident_id`` is only known once the loader has stored the incidents).
VICTIM_COLUMNS: dict[str, pl.DataType] = {
    "source_record_id": pl.String(),
    **{k: v for k, v in schema.VICTIM.items() if k != "incident_id"},
}

_ANCHORS = (
    "hotspot",
    "city",
    "residence",
    "rural",
    "gang",
    "market",
    "terminal",
    "stop",
    "bus",
    "school",
    "bar",
)
_LOC_PRECISION = ("exact", "street", "admin2", "locality")
_TIME_PRECISION = ("minute", "hour", "day")
#: Share of gang-area settings kept outside the Northern Triangle (few, weaker gangs).
_GANG_FACTOR_OUTSIDE_NT = 0.35
_FEMICIDE_SHARE = 0.45  # of single-victim homicides of women, recorded as femicide
_MASSACRE_SHARE = {True: 0.6, False: 0.3}  # of homicides with 3+ victims; by Northern Triangle
_CHILD_RESTRICTED = 0.5  # incidents with a victim under 18 restricted to protect the child


@dataclass(frozen=True)
class DemoChunk:
    """One chunk of the synthetic region.

    Attributes:
        incidents: Exactly the columns and dtypes of ``schema.INCIDENT``; ``incident_id`` and
            ``batch_id`` are null (the loader assigns them).
        victims: ``source_record_id`` (links to ``incidents.source_record_id``) and the victim
            columns of ``schema.VICTIM`` (``victim_no``, ``sex``, ``age``, ``age_band``).
    """

    incidents: pl.DataFrame
    victims: pl.DataFrame


def _cum(p: Sequence[float] | FloatArray) -> FloatArray:
    c = np.cumsum(np.asarray(p, dtype=np.float64))
    return c / c[-1]


def _choose(rng: np.random.Generator, cum: FloatArray, n: int) -> IntArray:
    idx = np.searchsorted(cum, rng.random(n), side="right")
    return np.minimum(idx, len(cum) - 1).astype(np.int64)


@dataclass(frozen=True)
class _KindPlan:
    """A kind's resolved choices in one country."""

    labels: IntArray  # indices into the label_* series of _Context
    label_weights: FloatArray
    label_weapon: IntArray  # weapon hint (index into schema.WEAPONS) or -1
    label_place: IntArray  # place-type hint (index into schema.PLACE_TYPES) or -1
    special: dict[str, int]
    anchors: IntArray  # indices into _ANCHORS
    place_types: IntArray  # indices into schema.PLACE_TYPES
    setting_cum: FloatArray
    weapon_cum: FloatArray | None
    model: int  # index into MODEL_NAMES, -1 for victimless
    hour_profile: int
    loc_cum: FloatArray
    time_cum: FloatArray
    agency_cum: FloatArray
    handling_cum: FloatArray


@dataclass(frozen=True)
class _Context:
    iso2: str
    world: CountryWorld
    kinds: dict[int, _KindPlan]
    label_text: pl.Series
    label_iccs: pl.Series
    label_quality: pl.Series
    label_context: pl.Series
    place_name: pl.Series
    place_admin1: pl.Series
    place_admin2: pl.Series
    has_admin2: npt.NDArray[np.bool_]
    agencies: pl.Series
    sources: pl.Series


@lru_cache(maxsize=16)
def _context(iso2: str, seed: int) -> _Context:
    world = country_world(iso2, seed)
    labels: list[cat.Label] = []

    def label_index(label: cat.Label) -> int:
        if label not in labels:
            labels.append(label)
        return labels.index(label)

    nt = iso2 in cat.NORTHERN_TRIANGLE
    kinds: dict[int, _KindPlan] = {}
    for k, kind in enumerate(cat.KINDS):
        resolved = cat.kind_labels(kind.key, iso2)
        if resolved is None:
            continue
        s_anchor = np.array([_ANCHORS.index(a) for a, _, _ in kind.settings], dtype=np.int64)
        s_ptype = np.array(
            [schema.PLACE_TYPES.index(p) for _, p, _ in kind.settings], dtype=np.int64
        )
        s_w = np.array(
            [
                w * (1.0 if nt or a != "gang" else _GANG_FACTOR_OUTSIDE_NT)
                for a, _, w in kind.settings
            ]
        )
        # Homicides are located precisely; fraud often only by municipality.
        loc_key = next(
            (k for k in (kind.group, kind.key) if k in cat.LOCATION_PRECISION_SHARES), "default"
        )
        kinds[k] = _KindPlan(
            labels=np.array([label_index(lb) for lb in resolved.labels], dtype=np.int64),
            label_weights=np.asarray(resolved.weights, dtype=np.float64),
            label_weapon=np.array(
                [schema.WEAPONS.index(lb.weapon) if lb.weapon else -1 for lb in resolved.labels],
                dtype=np.int64,
            ),
            label_place=np.array(
                [
                    schema.PLACE_TYPES.index(lb.place_type) if lb.place_type else -1
                    for lb in resolved.labels
                ],
                dtype=np.int64,
            ),
            special={role: label_index(lb) for role, lb in resolved.special.items()},
            anchors=s_anchor,
            place_types=s_ptype,
            setting_cum=_cum(s_w),
            weapon_cum=_cum(cat.weapon_probs(kind.weapon, iso2)) if kind.weapon else None,
            model=MODEL_NAMES.index(kind.victims) if kind.victims else -1,
            hour_profile=HOUR_PROFILE_NAMES.index(kind.hour_profile),
            loc_cum=_cum(cat.LOCATION_PRECISION_SHARES[loc_key]),
            time_cum=_cum(cat.TIME_PRECISION_SHARES[kind.group]),
            agency_cum=_cum(cat.AGENCY_SHARES[kind.group]),
            handling_cum=_cum(cat.HANDLING_SHARES[kind.group]),
        )
    agencies = cat.AGENCIES[iso2]
    P = world.places
    return _Context(
        iso2=iso2,
        world=world,
        kinds=kinds,
        label_text=pl.Series([lb.text for lb in labels], dtype=pl.String),
        label_iccs=pl.Series([lb.iccs_code for lb in labels], dtype=pl.String),
        label_quality=pl.Series([lb.mapping_quality for lb in labels], dtype=pl.String),
        label_context=pl.Series([lb.context for lb in labels], dtype=pl.String),
        place_name=pl.Series(list(P.name), dtype=pl.String),
        place_admin1=pl.Series(list(P.admin1), dtype=pl.String),
        place_admin2=pl.Series(list(P.admin2), dtype=pl.String),
        has_admin2=np.array([a is not None for a in P.admin2]),
        agencies=pl.Series(list(agencies), dtype=pl.String),
        sources=pl.Series([f"SYNTHETIC-DEMO-{a}" for a in agencies], dtype=pl.String),
    )


def _gather(series: pl.Series, idx: IntArray, name: str) -> pl.Series:
    return series.gather(pl.Series(idx, dtype=pl.Int64)).alias(name)


def _locate(
    ctx: _Context, rng: np.random.Generator, anchor: IntArray
) -> tuple[FloatArray, FloatArray, IntArray]:
    """Coordinates and place index of each row, scattered around anchors of its setting."""
    n = len(anchor)
    lon = np.empty(n)
    lat = np.empty(n)
    place = np.empty(n, dtype=np.int64)
    anchors = ctx.world.anchors
    for a in np.unique(anchor):
        rows = np.flatnonzero(anchor == a)
        name = _ANCHORS[int(a)]
        A: Anchors = anchors["stop" if name == "bus" else name]
        if len(A) == 0:  # e.g. no bus terminal in a country of small towns
            A = anchors["city"]
            name = "city"
        idx = A.pick(rng, len(rows))
        x0, y0 = A.lon[idx], A.lat[idx]
        sigma: FloatArray | float = A.sigma_km[idx]
        if name == "bus" and A.next_lon is not None and A.next_lat is not None:
            # On board: somewhere between this stop and the next one of the line.
            t = rng.random(len(rows))
            bx = x0 + t * (A.next_lon[idx] - x0)
            by = y0 + t * (A.next_lat[idx] - y0)
            ok = geo.points_in_country(ctx.iso2, bx, by, tolerance_km=INSIDE_TOLERANCE_KM)
            x0, y0 = np.where(ok, bx, x0), np.where(ok, by, y0)
            sigma = 0.02
        x, y = scatter_inside(ctx.iso2, rng, x0, y0, sigma)
        lon[rows], lat[rows], place[rows] = x, y, A.place[idx]
    return lon, lat, place


def _block(
    ctx: _Context,
    rng: np.random.Generator,
    year: int,
    kinds: IntArray,
    homicide_victims: IntArray,
    day: IntArray,
    counters: IntArray,
) -> tuple[pl.DataFrame, pl.DataFrame, IntArray]:
    """Generate one block; returns incidents, victims and the victim rows per incident."""
    n = len(kinds)
    label = np.empty(n, dtype=np.int64)
    anchor = np.empty(n, dtype=np.int64)
    ptype = np.empty(n, dtype=np.int64)
    weapon = np.full(n, -1, dtype=np.int64)
    model = np.zeros(n, dtype=np.int64)
    vcount = np.zeros(n, dtype=np.int64)
    hour_prof = np.empty(n, dtype=np.int64)
    loc_prec = np.empty(n, dtype=np.int64)
    time_prec = np.empty(n, dtype=np.int64)
    agency = np.empty(n, dtype=np.int64)
    handling = np.empty(n, dtype=np.int64)
    delay_h = np.empty(n)
    group_sensitive = np.zeros(n, dtype=bool)

    for k in np.unique(kinds):
        rows = np.flatnonzero(kinds == k)
        m = len(rows)
        kp = ctx.kinds[int(k)]
        kind = cat.KINDS[int(k)]
        s = _choose(rng, kp.setting_cum, m)
        anchor[rows] = kp.anchors[s]
        ptype[rows] = kp.place_types[s]
        if kp.weapon_cum is not None:
            weapon[rows] = _choose(rng, kp.weapon_cum, m)
        label[rows] = _choose_labels(rng, kp, ptype[rows], weapon[rows])
        if kp.model >= 0:
            model[rows] = kp.model
            if kind.key == "homicide":
                vcount[rows] = homicide_victims[rows]
            else:
                vcount[rows] = draw_counts(rng, kind.victims_per_incident, m)
        hour_prof[rows] = kp.hour_profile
        loc_prec[rows] = _choose(rng, kp.loc_cum, m)
        time_prec[rows] = _choose(rng, kp.time_cum, m)
        agency[rows] = _choose(rng, kp.agency_cum, m)
        handling[rows] = _choose(rng, kp.handling_cum, m)
        delay_h[rows] = kind.delay_hours
        group_sensitive[rows] = kind.group in ("person", "sexual", "homicide")

    # Where.
    lon, lat, place = _locate(ctx, rng, anchor)
    street = loc_prec == 1
    lon[street], lat[street] = np.round(lon[street], 3), np.round(lat[street], 3)
    adm = loc_prec == 2
    P = ctx.world.places
    lon[adm], lat[adm] = P.adm2_lon[place[adm]], P.adm2_lat[place[adm]]
    loc_prec[adm & ~ctx.has_admin2[place]] = 3  # no admin-2 known: the locality's point

    # When (epoch seconds, UTC).
    starts = day_starts_utc(ctx.world.timezone, year)[day]
    seconds = sample_seconds(rng, hour_prof)
    true_ts = starts + seconds
    occurred = np.where(
        time_prec == 0,
        true_ts - seconds % 60,
        np.where(time_prec == 1, true_ts - seconds % 3600, starts),
    )
    delay = np.maximum(rng.lognormal(np.log(delay_h * 3600.0), 1.0), 300.0).astype(np.int64)
    reported = true_ts + delay
    reported -= reported % 60

    # Who.
    victims = draw_victims(rng, model, vcount)
    first = np.cumsum(vcount) - vcount
    has_v = vcount > 0
    first_sex = np.full(n, -1, dtype=np.int64)
    first_age = np.full(n, -1, dtype=np.int64)
    first_sex[has_v] = victims.sex[first[has_v]]
    first_age[has_v] = victims.age[first[has_v]]
    _special_labels(ctx, rng, kinds, label, vcount, first_sex, first_age)
    child = np.zeros(n, dtype=bool)
    child[victims.incident[(victims.age >= 0) & (victims.age < 18)]] = True
    handling[child & group_sensitive & (rng.random(n) < _CHILD_RESTRICTED)] = 3

    # Records are numbered in order of occurrence, per agency and year.
    order = np.argsort(true_ts, kind="stable")
    inv = np.empty(n, dtype=np.int64)
    inv[order] = np.arange(n)
    v_inc = inv[victims.incident]
    v_order = np.argsort(v_inc, kind="stable")
    agency_s = agency[order]
    number = np.empty(n, dtype=np.int64)
    for j in range(len(counters)):
        rows = np.flatnonzero(agency_s == j)
        number[rows] = counters[j] + np.arange(1, len(rows) + 1)
        counters[j] += len(rows)

    def o(a: npt.NDArray[Any]) -> npt.NDArray[Any]:
        return a[order]

    owner = _gather(ctx.agencies, agency_s, "owner_agency")
    record_id = (
        pl.DataFrame({"a": owner, "n": pl.Series(number, dtype=pl.Int64)})
        .select(
            pl.concat_str(
                [pl.col("a"), pl.lit(f"-{year}-"), pl.col("n").cast(pl.String).str.zfill(6)]
            )
        )
        .to_series()
        .alias("source_record_id")
    )
    place_o = o(place)
    weapon_o = o(weapon)
    frame = pl.DataFrame(
        [
            _gather(ctx.sources, agency_s, "source"),
            record_id,
            pl.Series("country", [ctx.iso2] * n, dtype=pl.String),
            _gather(ctx.place_admin1, place_o, "admin1"),
            _gather(ctx.place_admin2, place_o, "admin2"),
            _gather(ctx.place_name, place_o, "locality"),
            _epoch_us(o(occurred), "occurred_at"),
            _gather(pl.Series(_TIME_PRECISION), o(time_prec), "occurred_precision"),
            pl.Series("source_timezone", [ctx.world.timezone] * n, dtype=pl.String),
            _epoch_us(o(reported), "reported_at"),
            _gather(ctx.label_text, o(label), "local_category"),
            _gather(ctx.label_iccs, o(label), "iccs_code"),
            _gather(ctx.label_quality, o(label), "mapping_quality"),
            pl.Series("lon", np.round(o(lon), 6)),
            pl.Series("lat", np.round(o(lat), 6)),
            _gather(pl.Series(_LOC_PRECISION), o(loc_prec), "location_precision"),
            _gather(pl.Series(schema.PLACE_TYPES), o(ptype), "place_type"),
            _gather(
                pl.Series([*schema.WEAPONS, None], dtype=pl.String),
                np.where(weapon_o < 0, len(schema.WEAPONS), weapon_o),
                "weapon",
            ),
            _gather(ctx.label_context, o(label), "context"),
            pl.Series("victim_count", o(vcount), dtype=pl.Int32),
            owner,
            _gather(pl.Series(cat.HANDLING), o(handling), "handling_code"),
        ]
    )
    incidents = schema.conform(frame, schema.INCIDENT)

    age = victims.age[v_order]
    vframe = pl.DataFrame(
        [
            record_id.gather(pl.Series(v_inc[v_order], dtype=pl.Int64)),
            pl.Series("victim_no", victims.victim_no[v_order], dtype=pl.Int32),
            _gather(pl.Series(SEX_NAMES), victims.sex[v_order], "sex"),
            pl.Series("age", age, dtype=pl.Int32),
        ]
    ).with_columns(pl.when(pl.col("age") >= 0).then(pl.col("age")).alias("age"))
    vframe = schema.conform(
        vframe.with_columns(schema.age_band(pl.col("age")).alias("age_band")), VICTIM_COLUMNS
    )
    return incidents, vframe, vcount[order]


def _choose_labels(
    rng: np.random.Generator, kp: _KindPlan, ptype: IntArray, weapon: IntArray
) -> IntArray:
    """Labels whose weapon and place-type hints fit each incident ("Robo a bus" on a bus)."""
    out = np.empty(len(ptype), dtype=np.int64)
    combo = ptype * (len(schema.WEAPONS) + 1) + (weapon + 1)
    for c in np.unique(combo):
        rows = np.flatnonzero(combo == c)
        p, w = ptype[rows[0]], weapon[rows[0]]
        place_fits = (kp.label_place < 0) | (kp.label_place == p)
        fits = place_fits & ((kp.label_weapon < 0) | (kp.label_weapon == w))
        if not fits.any():  # only weapon-specific labels for this place: keep the place right
            fits = place_fits
        weights = np.where(fits, kp.label_weights, 0.0)
        out[rows] = kp.labels[_choose(rng, _cum(weights), len(rows))]
    return out


def _special_labels(
    ctx: _Context,
    rng: np.random.Generator,
    kinds: IntArray,
    label: IntArray,
    vcount: IntArray,
    first_sex: IntArray,
    first_age: IntArray,
) -> None:
    """Labels that depend on the victims: femicide, massacre, offences against a minor."""
    u = rng.random(len(kinds))
    homicide = cat.KIND_INDEX["homicide"]
    if homicide in ctx.kinds:
        special = ctx.kinds[homicide].special
        is_h = kinds == homicide
        if "femicide" in special:
            women = is_h & (vcount == 1) & (first_sex == 0)
            label[women & (u < _FEMICIDE_SHARE)] = special["femicide"]
        if "massacre" in special:
            share = _MASSACRE_SHARE[ctx.iso2 in cat.NORTHERN_TRIANGLE]
            label[is_h & (vcount >= 3) & (u < share)] = special["massacre"]
    for k, kp in ctx.kinds.items():
        if "minor" in kp.special:
            kind = cat.KINDS[k]
            minor = (first_age >= 0) & (first_age < kind.minor_age)
            label[(kinds == k) & minor] = kp.special["minor"]


def _epoch_us(seconds: IntArray, name: str) -> pl.Series:
    return pl.Series(name, seconds * 1_000_000, dtype=pl.Int64).cast(schema.UTC_TS)


def _cell_blocks(
    cell: CellPlan, seed: int
) -> Iterator[tuple[pl.DataFrame, pl.DataFrame, IntArray]]:
    """The blocks of one (country, year), in order of occurrence."""
    ci = geo.COUNTRY_CODES.index(cell.country)
    ctx = _context(cell.country, seed)
    rng = np.random.default_rng([seed, 2, ci, cell.year])
    kinds = np.repeat(np.arange(len(cell.counts), dtype=np.int64), cell.counts)
    homicide_victims = np.zeros(len(kinds), dtype=np.int64)
    homicide_victims[kinds == cat.KIND_INDEX["homicide"]] = cell.homicide_victims
    day = np.empty(len(kinds), dtype=np.int64)
    for k in np.flatnonzero(cell.counts):
        rows = kinds == k
        day[rows] = sample_days(rng, int(cell.counts[k]), cat.KINDS[int(k)].day_profile, cell.year)
    # Shuffle, then order by day: blocks are consecutive stretches of the year with every kind.
    perm = rng.permutation(len(kinds))
    perm = perm[np.argsort(day[perm], kind="stable")]
    kinds, homicide_victims, day = kinds[perm], homicide_victims[perm], day[perm]
    counters = np.zeros(len(cat.AGENCIES[cell.country]), dtype=np.int64)
    for b, start in enumerate(range(0, len(kinds), _BLOCK)):
        sl = slice(start, start + _BLOCK)
        block_rng = np.random.default_rng([seed, 3, ci, cell.year, b])
        yield _block(ctx, block_rng, cell.year, kinds[sl], homicide_victims[sl], day[sl], counters)


def stream(
    plan: Sequence[CellPlan],
    *,
    seed: int,
    chunk_size: int,
    progress: Callable[[int], None] | None,
) -> Iterator[DemoChunk]:
    """Cut the block stream of every cell into chunks of ``chunk_size`` incidents."""
    inc_buf: list[pl.DataFrame] = []
    vic_buf: list[pl.DataFrame] = []
    nv_buf: list[IntArray] = []
    buffered = 0
    produced = 0

    def emit(size: int) -> DemoChunk:
        nonlocal inc_buf, vic_buf, nv_buf, buffered, produced
        inc = pl.concat(inc_buf, rechunk=False) if len(inc_buf) > 1 else inc_buf[0]
        vic = pl.concat(vic_buf, rechunk=False) if len(vic_buf) > 1 else vic_buf[0]
        nv = np.concatenate(nv_buf)
        n_vic = int(nv[:size].sum())
        chunk = DemoChunk(inc.slice(0, size).rechunk(), vic.slice(0, n_vic).rechunk())
        inc_buf = [inc.slice(size)] if size < inc.height else []
        vic_buf = [vic.slice(n_vic)] if size < inc.height else []
        nv_buf = [nv[size:]] if size < inc.height else []
        buffered -= size
        produced += size
        if progress is not None:
            progress(produced)
        return chunk

    for cell in plan:
        for inc, vic, nv in _cell_blocks(cell, seed):
            inc_buf.append(inc)
            vic_buf.append(vic)
            nv_buf.append(nv)
            buffered += inc.height
            while buffered >= chunk_size:
                yield emit(chunk_size)
    if buffered:
        yield emit(buffered)
