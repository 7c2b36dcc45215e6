"""Synthetic homicide victim lists from several institutions, with the truth known.

Each true victim is listed, or missed, by every source independently; a listed victim is copied
with the errors real institutional lists show: date of death a day off, names misspelt, written
without accents and in capitals, surnames swapped, second given name dropped, ages rounded to 5
or a year or two off, unidentified bodies ("NN", "Desconocido"), a few records in the wrong
municipality. Forensic case numbers are in the forensic list and in part of the prosecutor's.
Some distinct victims are *hard negatives*: killed the same day in the same municipality, same
sex, similar age (double homicides, some of siblings sharing both surnames), so a matcher that
ignores names over-merges. Everything is deterministic per seed. Used by the tests and the
benchmark of :mod:`safestreets.stats.reconcile`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import numpy.typing as npt
import polars as pl

from safestreets.demo._victims import _BAND_HI, _BAND_LO, MODELS
from safestreets.errors import InputError
from safestreets.reference import geo

__all__ = ["SOURCE_PROFILES", "SourceProfile", "generate_homicide_lists"]

# fmt: off
_MALE_GIVEN = (
    "José", "Juan", "Carlos", "Luis", "Jorge", "Miguel", "Mario", "Francisco", "Manuel", "Jesús",
    "Óscar", "Roberto", "Kevin", "Brian", "Edwin", "Walter", "Wilber", "Nelson", "Julio", "Pedro",
    "Antonio", "David", "Daniel", "Ángel", "Marvin", "Erick", "Rafael", "Ricardo", "Fernando",
    "Alexander", "Cristian", "Jonathan", "Édgar", "Henry", "William", "Josué", "Alexis", "René",
    "Salvador", "Rigoberto", "Santos", "Wilfredo", "Douglas", "Elmer", "Mauricio", "Rolando",
    "Ernesto", "Víctor", "Alfredo", "Héctor", "Samuel", "Alberto", "Armando", "Rubén", "Israel",
)
_FEMALE_GIVEN = (
    "María", "Ana", "Rosa", "Carmen", "Sandra", "Karla", "Gloria", "Marta", "Claudia", "Sonia",
    "Reina", "Blanca", "Patricia", "Yesenia", "Iris", "Jessica", "Katherine", "Evelyn", "Lorena",
    "Marisol", "Guadalupe", "Concepción", "Dolores", "Verónica", "Elena", "Sofía", "Daniela",
    "Gabriela", "Flor", "Silvia", "Cecilia", "Lucía", "Beatriz", "Yanira", "Xiomara", "Alejandra",
)
_SURNAMES = (
    "Hernández", "López", "Martínez", "García", "Rodríguez", "Pérez", "Ramírez", "Flores", "Cruz",
    "Reyes", "Morales", "Gómez", "González", "Díaz", "Rivera", "Sánchez", "Castillo", "Mejía",
    "Romero", "Vásquez", "Aguilar", "Ortiz", "Alvarado", "Guevara", "Menjívar", "Chávez",
    "Portillo", "Ramos", "Orellana", "Escobar", "Molina", "Henríquez", "Argueta", "Cortez",
    "Linares", "Bonilla", "Mendoza", "Navarro", "Ayala", "Alfaro", "Zelaya", "Fuentes", "Lemus",
    "Quintanilla", "Campos", "Sorto", "Amaya", "Villalta", "Barrera", "Contreras", "Miranda",
    "Serrano", "Juárez", "Pineda", "Cáceres", "Palacios", "Umaña", "Velásquez", "Figueroa",
    "Rosales", "Salazar", "Mejía", "Estrada", "Monterroso", "Cabrera", "Paz", "Solórzano",
    "Ajú", "Coj", "Tzoc", "Xicará", "Pop", "Caal", "Choc", "Batz", "Chávez", "Oliva", "Deras",
    "Lara", "Turcios", "Zavala", "Hércules", "Interiano", "Maldonado", "Sosa", "Rivas", "Osorio",
    "Guardado", "Canales", "Arévalo", "Cerna", "Carranza", "Villatoro", "Benítez", "Córdova",
)
# fmt: on

_UNKNOWN_NAME = ("NN", "N.N.", "Desconocido", "No identificado", "XX")
# Letters typed for one another: keyboard neighbours and Spanish spelling confusions.
_CONFUSIONS = {
    "s": "zc",
    "z": "s",
    "c": "sk",
    "b": "v",
    "v": "b",
    "y": "i",
    "i": "y",
    "g": "j",
    "j": "g",
    "n": "m",
    "m": "n",
    "r": "rt",
    "e": "ai",
    "a": "e",
    "o": "u",
    "u": "o",
    "l": "k",
    "t": "r",
    "d": "s",
}


@dataclass(frozen=True)
class SourceProfile:
    """How one institution's list departs from the truth (probabilities per record).

    Attributes:
        miss: the victim is not in this list at all.
        date_shift: the date of death is a day off (later with probability ``shift_later``).
        date_shift_far: the date is two or three days off.
        no_name: the name is recorded as unknown ("NN", "Desconocido").
        typo: one name token misspelt.
        plain_caps: written in capitals without accents.
        swap_surnames: the two surnames in the other order.
        drop_second_given: the second given name left out.
        drop_second_surname: the second surname left out.
        age_round: age rounded to the nearest 5.
        age_off: age one or two years off.
        no_age: age missing.
        no_sex: sex recorded as unknown.
        wrong_sex: sex recorded wrongly.
        wrong_admin2: recorded in another municipality (mostly of the same department).
        case_number: the forensic case number is present.
    """

    miss: float = 0.05
    date_shift: float = 0.06
    shift_later: float = 0.5
    date_shift_far: float = 0.005
    no_name: float = 0.03
    typo: float = 0.08
    plain_caps: float = 0.3
    swap_surnames: float = 0.02
    drop_second_given: float = 0.2
    drop_second_surname: float = 0.05
    age_round: float = 0.05
    age_off: float = 0.08
    no_age: float = 0.03
    no_sex: float = 0.005
    wrong_sex: float = 0.002
    wrong_admin2: float = 0.02
    case_number: float = 0.0


#: The default error profiles; other source names get ``SourceProfile()``.
SOURCE_PROFILES: dict[str, SourceProfile] = {
    # Police: recorded at the scene; more unidentified bodies, estimated ages, capitals.
    "police": SourceProfile(
        miss=0.08, date_shift=0.06, no_name=0.06, typo=0.10, plain_caps=0.8, age_round=0.15,
        age_off=0.10, no_age=0.06, wrong_admin2=0.03, case_number=0.0,
    ),
    # Forensic institute: date of the autopsy is sometimes the day after; identifies most bodies.
    "forensic": SourceProfile(
        miss=0.02, date_shift=0.08, shift_later=0.85, no_name=0.03, typo=0.05, plain_caps=0.2,
        age_round=0.02, age_off=0.05, no_age=0.01, wrong_admin2=0.02, case_number=1.0,
    ),
    # Prosecutor: case files; copies the forensic case number in most files.
    "prosecutor": SourceProfile(
        miss=0.10, date_shift=0.06, no_name=0.04, typo=0.08, plain_caps=0.5, age_round=0.05,
        age_off=0.08, no_age=0.05, wrong_admin2=0.02, case_number=0.6,
    ),
}  # fmt: skip


def generate_homicide_lists(
    *,
    seed: int,
    victims: int,
    sources: Sequence[str] = ("police", "forensic", "prosecutor"),
    country: str = "SV",
    year: int = 2023,
    years: int = 1,
    hard_negative_share: float = 0.04,
    unidentified_share: float = 0.01,
    profiles: Mapping[str, SourceProfile] | None = None,
    names: bool = True,
) -> tuple[dict[str, pl.DataFrame], pl.DataFrame]:
    """Generate victim lists of several sources for the same set of true victims.

    Args:
        seed: Random seed; the same seed gives the same lists.
        victims: Number of distinct true victims.
        sources: Source labels, one list each.
        country: ISO2 code; municipalities are drawn from ``reference.geo.admin2(country)``.
        year: First calendar year of the dates of death.
        years: Number of calendar years covered.
        hard_negative_share: Share of victims killed together with another (same day,
            municipality and sex, age within 3 years); a third of these pairs share surnames.
        unidentified_share: Share of victims never identified (no name in any list).
        profiles: Error profile per source (default: ``SOURCE_PROFILES``, else
            ``SourceProfile()``).
        names: False to leave every name empty (sources that publish no names).

    Returns:
        ``(lists, truth)``: each source's list in the canonical victim-list columns (see
        :mod:`safestreets.ingest.victim_lists`; admin codes from reference.geo, the place as
        text), and the truth with ``source, record_id, victim_id``.
    """
    if victims < 1:
        raise InputError("victims must be at least 1", hint="ask for some victims")
    if len(set(sources)) != len(sources) or len(sources) < 1:
        raise InputError("give distinct source labels", hint="e.g. police forensic")
    rng = np.random.default_rng(seed)
    country = country.upper()
    units = geo.admin2(country)
    if units.height == 0:
        raise InputError(f"no municipalities in the reference data for {country}", hint="")
    names1 = dict(geo.admin1(country).select("iso3166_2", "name").iter_rows())
    unit_code = [
        r or g for r, g in zip(units["national_code"], units["geonames_admin2"], strict=True)
    ]
    unit_admin1 = units["admin1"].to_list()
    unit_text = [
        _strip_prefix(n) + ", " + names1.get(a, a)
        for n, a in zip(units["name"], unit_admin1, strict=True)
    ]
    # Violence concentrates: a few municipalities carry most killings.
    unit_weight = rng.gamma(0.6, size=units.height)
    unit_weight /= unit_weight.sum()

    truth = _true_victims(
        rng, victims, year, years, len(unit_code), unit_weight, hard_negative_share
    )
    given_pool_m = _weights(len(_MALE_GIVEN), 0.9)
    given_pool_f = _weights(len(_FEMALE_GIVEN), 0.9)
    surname_pool = _weights(len(_SURNAMES), 0.7)
    n = victims
    male = truth.male
    n_given = np.where(rng.random(n) < 0.65, 2, 1)
    given = []
    for i in range(n):
        pool, w = (_MALE_GIVEN, given_pool_m) if male[i] == 1 else (_FEMALE_GIVEN, given_pool_f)
        picks = rng.choice(len(pool), size=2, replace=False, p=w)
        given.append([pool[j] for j in picks[: n_given[i]]])
    surnames = [
        [_SURNAMES[j] for j in rng.choice(len(_SURNAMES), 2, p=surname_pool)] for _ in range(n)
    ]
    for a, b in truth.siblings:
        surnames[b] = list(surnames[a])
    unidentified = rng.random(n) < unidentified_share
    first_day = date(year, 1, 1)
    # Forensic case numbers follow the order of death within the year.
    order = np.lexsort((np.arange(n), truth.day))
    case_no = np.empty(n, dtype=object)
    seq: dict[int, int] = {}
    for i in order:
        y = (first_day + timedelta(days=int(truth.day[i]))).year
        seq[y] = seq.get(y, 0) + 1
        case_no[i] = f"A-{y}-{seq[y]:05d}"

    prof = {
        s: (profiles or {}).get(s) or SOURCE_PROFILES.get(s) or SourceProfile() for s in sources
    }
    lists: dict[str, pl.DataFrame] = {}
    truth_rows: list[pl.DataFrame] = []
    for s in sources:
        p = prof[s]
        rows: dict[str, list[object]] = {k: [] for k in _COLUMNS}
        kept: list[int] = []
        for i in range(n):
            if rng.random() < p.miss:
                continue
            kept.append(i)
            day = int(truth.day[i])
            u = rng.random()
            if u < p.date_shift:
                day += 1 if rng.random() < p.shift_later else -1
            elif u < p.date_shift + p.date_shift_far:
                day += int(rng.choice([-3, -2, 2, 3]))
            unit = int(truth.unit[i])
            if rng.random() < p.wrong_admin2:
                unit = _other_unit(rng, unit, unit_admin1)
            g, sn = _copy_name(rng, p, given[i], surnames[i], names and not unidentified[i])
            rows["date_of_death"].append(first_day + timedelta(days=day))
            rows["country"].append(country)
            rows["admin1"].append(unit_admin1[unit])
            rows["admin2"].append(unit_code[unit])
            rows["place"].append(unit_text[unit])
            u = rng.random()
            is_male = (male[i] == 1) != (p.no_sex <= u < p.no_sex + p.wrong_sex)
            rows["sex"].append("unknown" if u < p.no_sex else ("male" if is_male else "female"))
            rows["age"].append(_copy_age(rng, p, int(truth.age[i])))
            rows["given_names"].append(g)
            rows["surnames"].append(sn)
            rows["case_number"].append(
                _case_variant(rng, str(case_no[i])) if rng.random() < p.case_number else None
            )
        perm = rng.permutation(len(kept))
        prefix = "".join(ch for ch in s.upper() if ch.isalnum())[:3] or "SRC"
        record_ids = [f"{prefix}-{k + 1:06d}" for k in range(len(kept))]
        frame = pl.DataFrame(
            {k: [v[j] for j in perm] for k, v in rows.items()}, schema=_COLUMNS
        ).with_columns(
            source=pl.lit(s),
            record_id=pl.Series(record_ids),
            lon=pl.lit(None, dtype=pl.Float64),
            lat=pl.lit(None, dtype=pl.Float64),
        )
        lists[s] = frame.select(_ORDER)
        truth_rows.append(
            pl.DataFrame(
                {
                    "source": [s] * len(kept),
                    "record_id": record_ids,
                    "victim_id": [kept[j] + 1 for j in perm],
                },
                schema={"source": pl.String, "record_id": pl.String, "victim_id": pl.Int64},
            )
        )
    return lists, pl.concat(truth_rows)


_COLUMNS: dict[str, pl.DataType] = {
    "date_of_death": pl.Date(),
    "country": pl.String(),
    "admin1": pl.String(),
    "admin2": pl.String(),
    "place": pl.String(),
    "sex": pl.String(),
    "age": pl.Int32(),
    "given_names": pl.String(),
    "surnames": pl.String(),
    "case_number": pl.String(),
}
_ORDER = ["source", "record_id", *_COLUMNS, "lon", "lat"]


def _strip_prefix(name: str) -> str:
    for p in ("Municipio de ", "Distrito de ", "Cantón de "):
        if name.startswith(p):
            return name[len(p) :]
    return name


def _weights(n: int, exponent: float) -> npt.NDArray[np.float64]:
    """Zipf-like popularity of names: a few very common, a long tail."""
    w = 1.0 / np.arange(1, n + 1) ** exponent
    return w / w.sum()


@dataclass
class _Truth:
    male: npt.NDArray[np.int64]
    age: npt.NDArray[np.int64]
    day: npt.NDArray[np.int64]
    unit: npt.NDArray[np.int64]
    siblings: list[tuple[int, int]]


def _true_victims(
    rng: np.random.Generator,
    n: int,
    year: int,
    years: int,
    n_units: int,
    unit_weight: npt.NDArray[np.float64],
    hard_share: float,
) -> _Truth:
    days_total = (date(year + years, 1, 1) - date(year, 1, 1)).days
    model = MODELS["homicide"]
    male = (rng.random(n) < model.p_male / (1 - model.p_unknown_sex)).astype(np.int64)
    bands_m = np.asarray(model.bands_male) / sum(model.bands_male)
    bands_f = np.asarray(model.bands_female) / sum(model.bands_female)
    band = np.where(male == 1, rng.choice(9, size=n, p=bands_m), rng.choice(9, size=n, p=bands_f))
    age = rng.integers(_BAND_LO[band], _BAND_HI[band] + 1)
    day = rng.integers(0, days_total, size=n)
    unit = rng.choice(n_units, size=n, p=unit_weight)
    # Hard negatives: victim b dies with victim a (same day, place, sex; similar age).
    n_pairs = round(n * hard_share / 2)
    idx = rng.permutation(n)[: 2 * n_pairs]
    siblings: list[tuple[int, int]] = []
    for k in range(n_pairs):
        a, b = int(idx[2 * k]), int(idx[2 * k + 1])
        day[b], unit[b], male[b] = day[a], unit[a], male[a]
        age[b] = max(0, age[a] + int(rng.integers(-3, 4)))
        if k % 3 == 0:
            siblings.append((a, b))
    return _Truth(male=male, age=age, day=day, unit=unit, siblings=siblings)


def _other_unit(rng: np.random.Generator, unit: int, unit_admin1: list[str]) -> int:
    same = [j for j, a in enumerate(unit_admin1) if a == unit_admin1[unit] and j != unit]
    if same and rng.random() < 0.8:
        return int(rng.choice(same))
    others = [j for j in range(len(unit_admin1)) if j != unit]
    return int(rng.choice(others)) if others else unit


def _typo(rng: np.random.Generator, word: str) -> str:
    if len(word) < 3:
        return word
    k = int(rng.integers(1, len(word)))  # keep the first letter: clerks rarely miss it
    kind = rng.integers(4)
    if kind == 0:  # substitution
        ch = word[k].lower()
        alt = _CONFUSIONS.get(ch, "aeiou")
        return word[:k] + alt[int(rng.integers(len(alt)))] + word[k + 1 :]
    if kind == 1:  # deletion
        return word[:k] + word[k + 1 :]
    if kind == 2 and k < len(word) - 1:  # transposition
        return word[:k] + word[k + 1] + word[k] + word[k + 2 :]
    return word[:k] + word[k] + word[k:]  # doubled letter


def _plain_caps(text: str) -> str:
    return geo.normalise_name(text).upper()


def _copy_name(
    rng: np.random.Generator,
    p: SourceProfile,
    given: list[str],
    surnames: list[str],
    identified: bool,
) -> tuple[str | None, str | None]:
    if not identified or rng.random() < p.no_name:
        r = rng.random()
        if r < 0.5:
            return str(rng.choice(_UNKNOWN_NAME)), None
        if r < 0.75:
            return None, None
        return "NN", "NN"
    g, sn = list(given), list(surnames)
    if len(g) > 1 and rng.random() < p.drop_second_given:
        g = g[:1]
    if rng.random() < p.drop_second_surname:
        sn = sn[:1]
    if len(sn) > 1 and rng.random() < p.swap_surnames:
        sn = sn[::-1]
    if rng.random() < p.typo:
        tokens = g + sn
        j = int(rng.integers(len(tokens)))
        tokens[j] = _typo(rng, tokens[j])
        g, sn = tokens[: len(g)], tokens[len(g) :]
    gs, ss = " ".join(g), " ".join(sn)
    if rng.random() < p.plain_caps:
        gs, ss = _plain_caps(gs), _plain_caps(ss)
    return gs, ss


def _copy_age(rng: np.random.Generator, p: SourceProfile, age: int) -> int | None:
    u = rng.random()
    if u < p.no_age:
        return None
    if u < p.no_age + p.age_round:
        return int(5 * round(age / 5))
    if u < p.no_age + p.age_round + p.age_off:
        return max(0, age + int(rng.choice([-2, -1, 1, 2])))
    return age


def _case_variant(rng: np.random.Generator, case: str) -> str:
    """The same forensic case number as another office writes it."""
    r = rng.random()
    if r < 0.6:
        return case
    if r < 0.8:
        return case.replace("-", "")
    return case.lower().replace("-", " ")
