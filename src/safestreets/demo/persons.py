"""Synthetic Central American person records with the errors of real records.

``generate_persons`` produces canonical person records (``schema.PERSON_COLUMNS``) and the truth
(which records are the same person) for testing and benchmarking record linkage. Everything is
invented: names are drawn from Faker's Spanish-locale name pools, places from the package's own
reference geography, national IDs from ``sharing.ids.make_valid_id``; no person record from any
source is copied.

How it is built (all rates are documented constants or arguments):

* **Entities.** Each distinct person gets a country (weighted by the 2024 WDI population), a
  sex (65 % male, as in police records), one or two given names (60 % two; 3 % a fixed
  compound such as "María de los Ángeles"), two surnames (the second missing for 3 %, for
  60 % in Belize), a date of birth 14–80 years before ``reference_date`` skewed to young adults
  (3 % year only, 2 % missing), a national ID of the country (80 %), nationality (97 %), an
  alias (8 %: "El Chino", or a nickname plus the first surname), a municipality (92 %) and an
  address (60 %). The entity's first record is written as it is.
* **Realistic frequencies.** Names are ranked by the frequencies Faker ships for Colombia and
  Chile (given names) and Colombia, Chile and Argentina (surnames), followed by the Mexican and
  Spanish pools, and drawn with Zipf–Mandelbrot weights ``1 / (rank + q)``: José, María,
  Juan, García, López, Hernández are common, so that names alone do not identify a person,
  which is what makes matching hard.
* **Duplicates.** ``round(n * duplicate_rate)`` records are further records of entities drawn
  uniformly (with replacement) among the entities, so clusters have 2, 3 or more records. Each
  duplicate starts from its entity's first record and gets the errors in ``PersonErrors``
  independently, each with its probability among the duplicates where it can apply.

Speed: everything is drawn as NumPy index arrays and applied with Polars masks; only the few
rows with a typo, an ID typo or a nickname are touched one by one in Python (a typo is an
edit of one string, which has no useful vectorised form), and each person's ID is one call of
``make_valid_id``. One million records take 6 to 17 s on the 2 shared cores (about half of it
in the ID calls).
"""

from __future__ import annotations

import importlib
import random
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date
from functools import lru_cache
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import polars as pl

from safestreets.errors import InputError
from safestreets.reference import geo
from safestreets.reference.population import country_population
from safestreets.schema import PERSON_COLUMNS
from safestreets.sharing.ids import make_valid_id
from safestreets.sharing.names import HYPOCORISMS, fold, fold_expr

__all__ = ["ERROR_KINDS", "PersonErrors", "generate_persons", "name_pools"]

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

# --- base rates of the entities' own records ----------------------------------------------
P_MALE: Final = 0.65
P_TWO_GIVEN: Final = 0.60
P_FIXED_COMPOUND: Final = 0.03
P_NO_SURNAME_2: Final = 0.03
P_NO_SURNAME_2_BZ: Final = 0.60  # Belize: English naming customs for much of the population
P_DOB_YEAR_ONLY: Final = 0.03
P_DOB_MISSING: Final = 0.02
P_ID: Final = 0.80
P_NATIONALITY: Final = 0.97
P_ALIAS: Final = 0.08
P_TWO_ALIASES: Final = 0.10
P_MUNICIPALITY: Final = 0.92
P_ADDRESS: Final = 0.60
MIN_AGE, MAX_AGE = 14, 80

_FAKER_LOCALES: Final = ("es_MX", "es_ES", "es_CO", "es_CL", "es_AR")
# Faker ships frequencies for these; es_AR's given names are 2010s baby names (Thiago,
# Benjamin) written without accents, so only its surnames are used.
_GIVEN_FREQ_LOCALES: Final = ("es_CO", "es_CL")
_GIVEN_LOCALES: Final = ("es_CO", "es_CL", "es_MX", "es_ES")
_SURNAME_FREQ_LOCALES: Final = ("es_CO", "es_CL", "es_AR")
_SURNAME_LOCALES: Final = ("es_CO", "es_CL", "es_AR", "es_MX", "es_ES")
# The commonest surnames of Guatemala, El Salvador and Honduras (approximate order, after the
# national frequency lists published by forebears.io): ranked first, since Faker's weighted
# lists are Colombian, Chilean and Argentinian, where Hernández is less common.
_CA_SURNAMES_HEAD: Final = (
    "Hernández",
    "López",
    "García",
    "Martínez",
    "González",
    "Pérez",
    "Rodríguez",
    "Ramírez",
    "Flores",
    "Cruz",
    "Morales",
    "Reyes",
    "Mejía",
    "Castillo",
    "Díaz",
)
# Misspellings in Faker's pools.
_FAKER_TYPOS: Final = frozenset({"de la Crúz", "José Manuél"})
# Zipf–Mandelbrot offsets: top shares near Faker's frequencies (José ~5 %, María ~8 %,
# the commonest surname ~3 %).
_Q_MALE, _Q_FEMALE, _Q_SURNAME = 2.0, 1.0, 5.0

_FIXED_COMPOUNDS: Final = {
    "F": (
        "María de los Ángeles",
        "María del Carmen",
        "María de Jesús",
        "María del Rosario",
        "María de la Cruz",
        "María José",
        "Ana María",
        "Rosa María",
    ),
    "M": ("José de Jesús", "Juan de Dios", "José de la Cruz", "José María", "Juan José"),
}

# Generic Spanish nicknames ("apodos") in masculine and feminine form.
_ALIAS_WORDS: Final = {
    "M": (
        "El Chino",
        "El Flaco",
        "El Gordo",
        "El Negro",
        "El Chele",
        "El Güero",
        "El Pelón",
        "El Chaparro",
        "El Zurdo",
        "El Tigre",
        "El Gato",
        "El Conejo",
        "El Cuervo",
        "El Mono",
        "El Pollo",
        "El Loco",
        "El Viejo",
        "El Cholo",
        "El Chato",
        "El Gallo",
        "El Indio",
        "El Diablo",
        "El Toro",
        "El Cabezón",
    ),
    "F": (
        "La China",
        "La Flaca",
        "La Gorda",
        "La Negra",
        "La Chele",
        "La Güera",
        "La Chaparra",
        "La Zurda",
        "La Gata",
        "La Mona",
        "La Loca",
        "La Chata",
        "La Chola",
        "La Morena",
        "La Güicha",
    ),
}

_BARRIOS: Final = (
    "San José",
    "El Centro",
    "La Esperanza",
    "Santa Lucía",
    "Los Pinos",
    "El Carmen",
    "La Libertad",
    "San Antonio",
    "Las Flores",
    "Buenos Aires",
    "El Calvario",
    "San Miguelito",
    "Monte Verde",
    "La Floresta",
    "Villa Nueva",
    "El Rosario",
    "La Guadalupe",
    "San Juan",
    "Las Palmas",
    "Bella Vista",
    "El Progreso",
    "Santa Ana",
    "La Merced",
    "Los Ángeles",
)

# Display forms of folded nicknames whose written form has an accent or ñ.
_NICK_DISPLAY: Final = {"tono": "Toño", "chon": "Chon", "nono": "Ñoño"}


@dataclass(frozen=True)
class PersonErrors:
    """Probability of each error in a duplicate record, among the duplicates where it applies.

    Each kind is drawn independently, in the order of the fields below. "Where it applies" is
    judged on the entity's first record (or, for the later kinds, on the record as the
    earlier errors left it, as noted).
    """

    #: First given name (or the whole compound, "José María" -> "Chema") replaced by a
    #: nickname; applies where the name has one.
    hypocorism: float = 0.10
    #: Given names in the other order; applies where there are two.
    swap_given: float = 0.05
    #: First and second surname swapped; applies where there are two.
    swap_surnames: float = 0.03
    #: Second surname left out; applies where there is one.
    drop_surname_2: float = 0.10
    #: A woman's married name added ("Pérez de López", or "de López" in place of the second
    #: surname); applies to women born at least 18 years before the reference date.
    married_name: float = 0.15
    #: A phonetic misspelling (z/s, v/b, ll/y, silent h); applies where one is possible.
    phonetic: float = 0.05
    #: Accents and ñ lost in every name and place field; applies where there is one.
    accents_lost: float = 0.20
    #: One edit (insert, delete, substitute a neighbouring key, transpose) in one name.
    typo: float = 0.12
    #: Names, aliases and places written in capitals.
    upper_case: float = 0.10
    #: Day and month swapped; applies to full dates with day <= 12 and day != month.
    swap_day_month: float = 0.03
    #: Only the year of birth; applies to full dates.
    dob_year_only: float = 0.03
    #: No date of birth; applies where there is one.
    dob_missing: float = 0.03
    #: Date written DD/MM/YYYY instead of YYYY-MM-DD; applies to full dates left.
    dob_format: float = 0.10
    #: National ID (and its country) left out; applies where there is one.
    missing_id: float = 0.15
    #: One digit of the ID substituted or two adjacent digits transposed; applies to IDs left.
    id_typo: float = 0.03
    #: ID written without its separators; applies to IDs left that have some.
    id_format: float = 0.20
    #: Sex not recorded.
    sex_missing: float = 0.02
    #: Alias not recorded; applies where there is one.
    alias_dropped: float = 0.40
    #: Another municipality and address (the person moved); applies to everyone.
    moved: float = 0.20

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if not 0.0 <= v <= 1.0:
                raise InputError(
                    f"error rate {f.name}={v} is not a probability",
                    hint="give a number between 0 and 1",
                )
        if self.dob_year_only + self.dob_missing > 1.0:
            raise InputError(
                "dob_year_only + dob_missing exceeds 1", hint="they exclude each other"
            )


#: Names of the error kinds, in the order they are applied.
ERROR_KINDS: Final = tuple(f.name for f in fields(PersonErrors))


# --- name pools ---------------------------------------------------------------------------


@dataclass(frozen=True)
class NamePool:
    """Names with their drawing probabilities (most common first)."""

    names: tuple[str, ...]
    p: npt.NDArray[np.float64]


@dataclass(frozen=True)
class NamePools:
    male: NamePool
    female: NamePool
    surnames: NamePool


def _pool(
    entries: Sequence[tuple[str, str, float | None]],
    q: float,
    *,
    single_word: bool,
    head: Sequence[str] = (),
) -> NamePool:
    """Rank names (``head``, then by known frequency, then as first seen) and weight them.

    The weights are Zipf–Mandelbrot, ``1 / (rank + q)``.

    ``entries`` are ``(locale, name, frequency or None)`` in the order of preference of the
    locales; spellings that fold alike are one name, written as the first locale writes it.
    """
    freq: dict[str, float] = {}
    spelling: dict[str, str] = {}
    order: dict[str, int] = {}
    for _, raw, f in entries:
        name = " ".join(raw.split())
        if not name or name in _FAKER_TYPOS or (single_word and " " in name):
            continue
        key = geo.normalise_name(name)
        spelling.setdefault(key, name)  # the first locale's spelling ("Luis", not "Luís")
        order.setdefault(key, len(order))
        if f is not None:
            # Summed over the locales: a name common in several countries ranks first.
            freq[key] = freq.get(key, 0.0) + f
    first = {geo.normalise_name(h): i for i, h in enumerate(head)}
    for h in head:
        spelling[geo.normalise_name(h)] = h

    def rank(k: str) -> tuple[int, float]:
        if k in first:
            return (0, first[k])
        return (1, -freq[k]) if k in freq else (2, order[k])

    keys = sorted(spelling, key=rank)
    w = 1.0 / (np.arange(1, len(keys) + 1, dtype=np.float64) + q)
    return NamePool(tuple(spelling[k] for k in keys), w / w.sum())


def _faker_entries(attr: str, locales: Sequence[str], freq_locales: Sequence[str]) -> list[Any]:
    out: list[tuple[str, str, float | None]] = []
    for loc in locales:
        provider = importlib.import_module(f"faker.providers.person.{loc}").Provider
        values = getattr(provider, attr)
        if isinstance(values, Mapping):
            use = loc in freq_locales
            out.extend((loc, k, float(v) if use else None) for k, v in values.items())
        else:
            out.extend((loc, k, None) for k in values)
    return out


@lru_cache(maxsize=1)
def name_pools() -> NamePools:
    """Given names by sex and surnames from Faker's Spanish locales, with their weights.

    A name in both the male and female pools goes to the one where it ranks higher.
    """
    male = _pool(
        _faker_entries("first_names_male", _GIVEN_LOCALES, _GIVEN_FREQ_LOCALES),
        _Q_MALE,
        single_word=True,
    )
    female = _pool(
        _faker_entries("first_names_female", _GIVEN_LOCALES, _GIVEN_FREQ_LOCALES),
        _Q_FEMALE,
        single_word=True,
    )
    rank_m = {geo.normalise_name(s): i for i, s in enumerate(male.names)}
    rank_f = {geo.normalise_name(s): i for i, s in enumerate(female.names)}
    both = rank_m.keys() & rank_f.keys()

    def drop(pool: NamePool, mine: dict[str, int], other: dict[str, int]) -> NamePool:
        keep = [
            i
            for i, s in enumerate(pool.names)
            if (k := geo.normalise_name(s)) not in both or mine[k] <= other[k]
        ]
        p = pool.p[keep]
        return NamePool(tuple(pool.names[i] for i in keep), p / p.sum())

    surnames = _pool(
        _faker_entries("last_names", _SURNAME_LOCALES, _SURNAME_FREQ_LOCALES),
        _Q_SURNAME,
        single_word=False,
        head=_CA_SURNAMES_HEAD,
    )
    return NamePools(drop(male, rank_m, rank_f), drop(female, rank_f, rank_m), surnames)


# --- places -------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _country_weights() -> tuple[tuple[str, ...], npt.NDArray[np.float64]]:
    pop = country_population()
    latest = pop.filter(pl.col("year") == pl.col("year").max().over("country"))
    codes = tuple(c for c in geo.COUNTRY_CODES if c in set(latest["country"]))
    by = dict(zip(latest["country"], latest["population"], strict=True))
    w = np.array([by[c] for c in codes], dtype=np.float64)
    return codes, w / w.sum()


_MUNICIPIO_PREFIX = re.compile(r"^(Municipio de|Municipio|Distrito de)\s+", re.IGNORECASE)


@lru_cache(maxsize=16)
def _municipalities(country: str) -> NamePool:
    """Municipalities of a country weighted by the population of their GeoNames places.

    Units without a place with a population count as the country's median unit. Belize's
    admin2 table is nearly empty, so its towns (GeoNames places) stand in.
    """
    pl_ = geo.places(country)
    if country == "BZ":
        names = [str(s) for s in pl_["name"]]
        w = pl_["population"].fill_null(0).cast(pl.Float64).to_numpy() + 100.0
        return NamePool(tuple(names), w / w.sum())
    pop = pl_.group_by("admin2_geonames").agg(pl.col("population").sum())
    units = geo.admin2(country).join(
        pop, left_on="geonames_admin2", right_on="admin2_geonames", how="left"
    )
    w = units["population"].cast(pl.Float64).to_numpy()
    known = w[np.isfinite(w) & (w > 0)]
    fill = float(np.median(known)) if known.size else 1.0
    w = np.where(np.isfinite(w) & (w > 0), w, fill)
    names = [_MUNICIPIO_PREFIX.sub("", str(s)) for s in units["name"]]
    return NamePool(tuple(names), w / w.sum())


# --- small helpers --------------------------------------------------------------------------


def _draw(rng: np.random.Generator, p: npt.NDArray[np.float64], size: int) -> IntArray:
    cdf = np.cumsum(p)
    cdf[-1] = 1.0
    return np.searchsorted(cdf, rng.random(size), side="right").astype(np.int64)


def _take(values: Sequence[str], idx: IntArray) -> pl.Series:
    return pl.Series(values, dtype=pl.String).gather(idx)


def _null_where(s: pl.Series, mask: BoolArray) -> pl.Series:
    """``s`` with nulls where ``mask``."""
    return s.clone().set(pl.Series(mask, dtype=pl.Boolean), None)


def _concat(parts: Sequence[pl.Series], sep: str, *, ignore_nulls: bool = False) -> pl.Series:
    """Element-wise join of string Series (null if any part is null unless ``ignore_nulls``)."""
    frame = pl.DataFrame({f"p{i}": p for i, p in enumerate(parts)})
    return frame.select(
        pl.concat_str(frame.columns, separator=sep, ignore_nulls=ignore_nulls)
    ).to_series()


def _where(mask: BoolArray, a: pl.Series, b: pl.Series) -> pl.Series:
    """``a`` where ``mask`` else ``b`` (element-wise, same length)."""
    return a.zip_with(pl.Series(mask), b)


_ACCENTED = list("áéíóúüñÁÉÍÓÚÜÑ")
_PLAIN = list("aeiouunAEIOUUN")


def _strip_accents(s: pl.Series) -> pl.Series:
    return s.str.replace_many(_ACCENTED, _PLAIN)


def _fold_series(s: pl.Series) -> pl.Series:
    """``names.fold`` of each value (the key of ``HYPOCORISMS``)."""
    return pl.select(fold_expr(pl.lit(s))).to_series()


def _has_accent(s: pl.Series) -> BoolArray:
    return s.str.contains(r"[áéíóúüñÁÉÍÓÚÜÑ]").fill_null(False).to_numpy()


_KEYBOARD: Final = (
    "qwertyuiop",
    "asdfghjklñ",
    "zxcvbnm",
)


@lru_cache(maxsize=1)
def _neighbours() -> dict[str, str]:
    pos = {c: (r, i) for r, row in enumerate(_KEYBOARD) for i, c in enumerate(row)}
    out: dict[str, str] = {}
    for c, (r, i) in pos.items():
        near = [
            d for d, (r2, i2) in pos.items() if d != c and abs(r2 - r) <= 1 and abs(i2 - i) <= 1
        ]
        out[c] = "".join(near)
    return out


def _typo(s: str, rng: random.Random) -> str:
    """One edit a clerk makes: insert, delete, substitute a neighbouring key, or transpose."""
    letters = [i for i, c in enumerate(s) if c.isalpha()]
    if not letters:
        return s
    kind = rng.randrange(4)
    i = rng.choice(letters)
    c = s[i]
    near = _neighbours().get(fold(c)[:1] or c, "") or "aeiou"
    sub = rng.choice(near)
    sub = sub.upper() if c.isupper() else sub
    if kind == 0:  # insert
        return s[: i + 1] + sub + s[i + 1 :]
    if kind == 1 and len(letters) > 2:  # delete
        return s[:i] + s[i + 1 :]
    if kind == 3 and i + 1 < len(s) and s[i + 1].isalpha() and s[i + 1] != c:  # transpose
        return s[:i] + s[i + 1] + c + s[i + 2 :]
    return s[:i] + sub + s[i + 1 :]


# Phonetic misspellings common in Central American records (seseo, b/v, yeísmo, silent h).
_PHONETIC: Final = (
    (re.compile(r"z"), "s"),
    (re.compile(r"(?<=[aeiouáéíóú])s\b"), "z"),
    (re.compile(r"v"), "b"),
    (re.compile(r"b"), "v"),
    (re.compile(r"ll"), "y"),
    (re.compile(r"(?<=[aeiouáéíóú])y(?=[aeiou])"), "ll"),
    (re.compile(r"^H(?=[aeiouáéíóú])"), ""),
    (re.compile(r"c(?=[ei])"), "s"),
)


# The same possibilities as one regex without look-around (for Polars' vectorised test).
_PHONETIC_ANY: Final = r"z|[aeiouáéíóú]s\b|v|b|ll|[aeiouáéíóú]y[aeiou]|^H[aeiouáéíóú]|c[ei]"


def _phonetic_options(s: str) -> list[tuple[re.Pattern[str], str]]:
    return [(rx, rep) for rx, rep in _PHONETIC if rx.search(s)]


def _phonetic(s: str, rng: random.Random) -> str:
    opts = _phonetic_options(s)
    if not opts:
        return s
    rx, rep = rng.choice(opts)
    out = rx.sub(rep, s, count=1)
    return out[:1].upper() + out[1:] if out and s[:1].isupper() else out


def _id_typo(s: str, rng: random.Random) -> str:
    digits = [i for i, c in enumerate(s) if c.isdigit()]
    if not digits:
        return s
    pairs = [i for i in digits if i + 1 < len(s) and s[i + 1].isdigit() and s[i + 1] != s[i]]
    if pairs and rng.random() < 0.5:
        i = rng.choice(pairs)
        return s[:i] + s[i + 1] + s[i] + s[i + 2 :]
    i = rng.choice(digits)
    d = rng.choice([x for x in "0123456789" if x != s[i]])
    return s[:i] + d + s[i + 1 :]


def _apply_rows(
    s: pl.Series, rows: IntArray, fn: Callable[[str, random.Random], str], rng: random.Random
) -> pl.Series:
    """Apply a per-string edit to a few rows (the rest untouched)."""
    if rows.size == 0:
        return s
    vals = s.gather(rows).to_list()
    new = [fn(v, rng) if v else v for v in vals]
    return s.scatter(rows, pl.Series(new, dtype=pl.String))


def _capitalise(nick: str) -> str:
    return _NICK_DISPLAY.get(nick) or " ".join(w.capitalize() for w in nick.split())


@lru_cache(maxsize=1)
def _nicknames() -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]]]:
    """Canonical folded name -> nicknames; split into single names and two-name compounds."""
    single: dict[str, list[str]] = {}
    double: dict[str, list[str]] = {}
    for nick, canon in sorted(HYPOCORISMS.items()):
        if nick == canon or not nick:
            continue
        (single if " " not in canon else double).setdefault(canon, []).append(_capitalise(nick))
    return (
        {k: tuple(v) for k, v in single.items()},
        {k: tuple(v) for k, v in double.items()},
    )


# --- the generator ------------------------------------------------------------------------


def _entities(
    n: int, rng: np.random.Generator, prng: random.Random, reference_date: date
) -> pl.DataFrame:
    """The distinct persons, each as its first record (with internal helper columns)."""
    pools = name_pools()
    codes, cw = _country_weights()
    country = np.array(codes, dtype=object)[_draw(rng, cw, n)]
    male = rng.random(n) < P_MALE

    # Given names: drawn by index into the sex's pool; the second differs from the first.
    g1 = pl.Series("g1", [None] * n, dtype=pl.String)
    g2 = pl.Series("g2", [None] * n, dtype=pl.String)
    two = rng.random(n) < P_TWO_GIVEN
    fixed = rng.random(n) < P_FIXED_COMPOUND
    for sex, sel, pool in (("M", male, pools.male), ("F", ~male, pools.female)):
        rows = np.flatnonzero(sel)
        i1 = _draw(rng, pool.p, rows.size)
        i2 = _draw(rng, pool.p, rows.size)
        i2 = np.where(i2 == i1, (i2 + 1) % len(pool.names), i2)
        g1 = g1.scatter(rows, _take(pool.names, i1))
        second = _take(pool.names, i2)
        second = _null_where(second, ~two[rows])
        g2 = g2.scatter(rows, second)
        frow = rows[fixed[rows]]
        if frow.size:
            comp = _FIXED_COMPOUNDS[sex]
            g1 = g1.scatter(frow, _take(comp, rng.integers(0, len(comp), frow.size)))
            g2 = g2.scatter(frow, pl.Series([None] * frow.size, dtype=pl.String))

    s1 = _take(pools.surnames.names, _draw(rng, pools.surnames.p, n))
    s2 = _take(pools.surnames.names, _draw(rng, pools.surnames.p, n))
    no_s2 = rng.random(n) < np.where(country == "BZ", P_NO_SURNAME_2_BZ, P_NO_SURNAME_2)
    s2 = _null_where(s2, no_s2)

    # Date of birth: age skewed to young adults (police records), 14 to 80 years.
    age = MIN_AGE + np.minimum(rng.gamma(2.2, 8.0, n), MAX_AGE - MIN_AGE + 0.999)
    ref = np.datetime64(reference_date.isoformat(), "D")
    born = ref - np.floor(age * 365.2425).astype("timedelta64[D]")
    years = born.astype("datetime64[Y]").astype(np.int64) + 1970
    months = born.astype("datetime64[M]").astype(np.int64) % 12 + 1
    days = (born - born.astype("datetime64[M]")).astype(np.int64) + 1
    u = rng.random(n)
    dob_kind = np.where(u < P_DOB_MISSING, 0, np.where(u < P_DOB_MISSING + P_DOB_YEAR_ONLY, 1, 2))

    has_id = rng.random(n) < P_ID
    ids: list[str | None] = [None] * n
    for i in np.flatnonzero(has_id).tolist():
        ids[i] = make_valid_id(str(country[i]), prng)

    municipality = pl.Series("municipality", [None] * n, dtype=pl.String)
    for c in codes:
        rows = np.flatnonzero(country == c)
        if rows.size:
            pool = _municipalities(c)
            municipality = municipality.scatter(
                rows, _take(pool.names, _draw(rng, pool.p, rows.size))
            )
    municipality = _null_where(municipality, rng.random(n) >= P_MUNICIPALITY)

    frame = pl.DataFrame(
        {
            "g1": g1,
            "g2": g2,
            "surname_1": s1,
            "surname_2": s2,
            "dob_y": years,
            "dob_m": months,
            "dob_d": days,
            "dob_kind": dob_kind,
            "sex": np.where(male, "M", "F"),
            "national_id": pl.Series(ids, dtype=pl.String),
            "id_country": _null_where(pl.Series(country, dtype=pl.String), ~has_id),
            "nationality": _null_where(
                pl.Series(country, dtype=pl.String), rng.random(n) >= P_NATIONALITY
            ),
            "country": country,
            "municipality": municipality,
        },
        schema_overrides={"id_country": pl.String, "nationality": pl.String, "country": pl.String},
    )
    frame = frame.with_columns(
        _aliases(frame, rng), address=_addresses(n, rng, rng.random(n) < P_ADDRESS)
    )
    return frame


def _aliases(frame: pl.DataFrame, rng: np.random.Generator) -> pl.Series:
    """An alias for some: "El Chino", or a nickname of the first given name plus surname."""
    n = frame.height
    single, _ = _nicknames()
    word = pl.Series([None] * n, dtype=pl.String)
    male = (frame["sex"] == "M").to_numpy()
    for sex, sel in (("M", male), ("F", ~male)):
        rows = np.flatnonzero(sel)
        words = _ALIAS_WORDS[sex]
        word = word.scatter(rows, _take(words, rng.integers(0, len(words), rows.size)))
    second_word = word.gather(rng.permutation(n)) if n else word
    keys = _fold_series(frame["g1"])
    nick_first = keys.replace_strict(
        {k: v[0] for k, v in single.items()}, default=None, return_dtype=pl.String
    )
    nick = _concat([nick_first, frame["surname_1"]], " ")
    use_nick = (rng.random(n) < 0.3) & nick.is_not_null().to_numpy()
    alias = _where(use_nick, nick, word)
    two = rng.random(n) < P_TWO_ALIASES
    alias = _where(two, _concat([alias, second_word], "; "), alias)
    return _null_where(alias, rng.random(n) >= P_ALIAS).alias("aliases")


def _addresses(n: int, rng: np.random.Generator, present: BoolArray) -> pl.Series:
    """Addresses in the styles of the region (GT zones, colonias, NI directions)."""
    barrio = _take(_BARRIOS, rng.integers(0, len(_BARRIOS), n))
    a = pl.Series(rng.integers(1, 30, n)).cast(pl.String)
    b = pl.Series(rng.integers(1, 99, n)).cast(pl.String)
    c = pl.Series(rng.integers(1, 250, n)).cast(pl.String)
    zone = pl.Series(rng.integers(1, 26, n)).cast(pl.String)
    kind = rng.integers(0, 5, n)
    df = pl.DataFrame({"barrio": barrio, "a": a, "b": b, "c": c, "zone": zone, "kind": kind})
    out = df.select(
        pl.when(pl.col("kind") == 0)
        .then(pl.format("{}a Calle {}-{}, Zona {}", "a", "b", "c", "zone"))
        .when(pl.col("kind") == 1)
        .then(pl.format("Colonia {}, Pasaje {}, Casa {}", "barrio", "a", "c"))
        .when(pl.col("kind") == 2)
        .then(pl.format("Barrio {}, {} cuadras al sur de la iglesia", "barrio", "a"))
        .when(pl.col("kind") == 3)
        .then(pl.format("Residencial {}, Calle {}, Casa {}", "barrio", "b", "c"))
        .otherwise(pl.format("Avenida {} #{}", "barrio", "c"))
        .alias("address")
    )["address"]
    return _null_where(out, ~present)


def _duplicates(
    ent: pl.DataFrame,
    which: IntArray,
    errors: PersonErrors,
    rng: np.random.Generator,
    prng: random.Random,
    reference_date: date,
) -> tuple[pl.DataFrame, dict[str, BoolArray]]:
    """Further records of the entities ``which``, each with its independent errors."""
    d = ent[which]
    m = d.height
    applied: dict[str, BoolArray] = {}

    def hit(kind: str, eligible: BoolArray) -> BoolArray:
        mask = eligible & (rng.random(m) < getattr(errors, kind))
        applied[kind] = mask
        return mask

    g1, g2 = d["g1"], d["g2"]
    s1, s2 = d["surname_1"], d["surname_2"]

    # Nicknames: a compound ("José María" -> "Chema") or the first given name.
    single, double = _nicknames()
    key1 = _fold_series(g1)
    key12 = _concat([key1, _fold_series(g2)], " ")
    has_double = key12.is_in(list(double)).fill_null(False).to_numpy()
    has_single = key1.is_in(list(single)).to_numpy()
    rows = np.flatnonzero(hit("hypocorism", has_double | has_single))
    if rows.size:
        k1, k12 = key1.gather(rows).to_list(), key12.gather(rows).to_list()
        new1: list[str] = []
        drop2: list[int] = []
        for r, a, ab in zip(rows.tolist(), k1, k12, strict=True):
            if ab in double and (a not in single or prng.random() < 0.5):
                new1.append(prng.choice(double[ab]))
                drop2.append(r)
            else:
                new1.append(prng.choice(single[a]))
        g1 = g1.scatter(rows, pl.Series(new1, dtype=pl.String))
        if drop2:
            g2 = g2.scatter(drop2, pl.Series([None] * len(drop2), dtype=pl.String))

    swap = hit("swap_given", g2.is_not_null().to_numpy())
    g1, g2 = _where(swap, g2, g1), _where(swap, g1, g2)
    has_s2 = s2.is_not_null().to_numpy()
    swap = hit("swap_surnames", has_s2)
    s1, s2 = _where(swap, s2, s1), _where(swap, s1, s2)
    s2 = _null_where(s2, hit("drop_surname_2", has_s2))

    adult = d["dob_y"].to_numpy() <= reference_date.year - 18
    woman = (d["sex"] == "F").to_numpy() & (d["dob_kind"].to_numpy() > 0) & adult
    married = hit("married_name", woman)
    pools = name_pools()
    husband = _take(pools.surnames.names, _draw(rng, pools.surnames.p, m))
    keep_own = rng.random(m) < 0.5
    with_married = _concat(
        [_null_where(s2, ~keep_own), pl.Series(["de"] * m, dtype=pl.String), husband],
        " ",
        ignore_nulls=True,
    )
    s2 = _where(married, with_married, s2)

    aliases, municipality, address = d["aliases"], d["municipality"], d["address"]
    moved = hit("moved", np.ones(m, dtype=bool))
    if moved.any():
        rows = np.flatnonzero(moved)
        moved_to = pl.Series([None] * rows.size, dtype=pl.String)
        ctry = d["country"].gather(rows).to_numpy()
        for c in np.unique(ctry):
            sel = np.flatnonzero(ctry == c)
            pool = _municipalities(str(c))
            moved_to = moved_to.scatter(sel, _take(pool.names, _draw(rng, pool.p, sel.size)))
        municipality = municipality.scatter(rows, moved_to)
        address = address.scatter(rows, _addresses(rows.size, rng, np.ones(rows.size, bool)))
    aliases = _null_where(aliases, hit("alias_dropped", aliases.is_not_null().to_numpy()))

    # Spelling: phonetic misspelling, accents, a typo, capitals.
    names = {"g1": g1, "g2": g2, "surname_1": s1, "surname_2": s2}
    ph_ok = np.zeros(m, dtype=bool)
    ph_field = np.full(m, "", dtype=object)
    for f in ("surname_1", "surname_2", "g1"):  # the field a misspelling goes to
        can = names[f].str.contains(_PHONETIC_ANY).fill_null(False).to_numpy()
        ph_field = np.where(~ph_ok & can, f, ph_field)
        ph_ok |= can
    ph = hit("phonetic", ph_ok)
    for f in names:
        names[f] = _apply_rows(names[f], np.flatnonzero(ph & (ph_field == f)), _phonetic, prng)

    text = {**names, "aliases": aliases, "municipality": municipality, "address": address}
    accented = np.zeros(m, dtype=bool)
    for s in text.values():
        accented |= _has_accent(s)
    acc = hit("accents_lost", accented)
    for f, s in text.items():
        text[f] = _where(acc, _strip_accents(s), s)

    typo = hit("typo", np.ones(m, dtype=bool))
    present = np.stack([text[f].is_not_null().to_numpy() for f in names], axis=1)
    pick = rng.random((m, len(names))) * present * np.array([0.4, 0.15, 0.3, 0.15])
    field = pick.argmax(axis=1)
    for j, f in enumerate(names):
        text[f] = _apply_rows(text[f], np.flatnonzero(typo & (field == j)), _typo, prng)

    up = hit("upper_case", np.ones(m, dtype=bool))
    for f, s in text.items():
        text[f] = _where(up, s.str.to_uppercase(), s)

    # Date of birth.
    mo, da = d["dob_m"].to_numpy(), d["dob_d"].to_numpy()
    kind = d["dob_kind"].to_numpy().copy()
    full = kind == 2
    swap = hit("swap_day_month", full & (da <= 12) & (da != mo))
    mo, da = np.where(swap, da, mo), np.where(swap, mo, da)
    u = rng.random(m)
    year_only = full & (u < errors.dob_year_only)
    missing = (
        (kind > 0) & (u >= errors.dob_year_only) & (u < errors.dob_year_only + errors.dob_missing)
    )
    applied["dob_year_only"], applied["dob_missing"] = year_only, missing
    kind = np.where(year_only, 1, np.where(missing, 0, kind))
    dob_format = hit("dob_format", kind == 2)

    # National ID.
    nid, idc = d["national_id"], d["id_country"]
    gone = hit("missing_id", nid.is_not_null().to_numpy())
    nid, idc = _null_where(nid, gone), _null_where(idc, gone)
    typo_id = hit("id_typo", nid.is_not_null().to_numpy())
    nid = _apply_rows(nid, np.flatnonzero(typo_id), _id_typo, prng)
    sep = nid.str.contains(r"[^0-9A-Za-z]").fill_null(False).to_numpy()
    fmt = hit("id_format", sep)
    nid = _where(fmt, nid.str.replace_all(r"[^0-9A-Za-z]", ""), nid)
    sex = _null_where(d["sex"], hit("sex_missing", np.ones(m, dtype=bool)))

    out = d.with_columns(
        g1=text["g1"],
        g2=text["g2"],
        surname_1=text["surname_1"],
        surname_2=text["surname_2"],
        aliases=text["aliases"],
        municipality=text["municipality"],
        address=text["address"],
        dob_m=mo,
        dob_d=da,
        dob_kind=kind,
        dob_ddmm=dob_format,
        national_id=nid,
        id_country=idc,
        sex=sex,
    )
    return out, {k: applied[k] for k in ERROR_KINDS}


def _render(frame: pl.DataFrame) -> pl.DataFrame:
    """Canonical columns from the internal ones."""
    y = pl.col("dob_y").cast(pl.String)
    mo = pl.col("dob_m").cast(pl.String).str.zfill(2)
    da = pl.col("dob_d").cast(pl.String).str.zfill(2)
    dob = (
        pl.when(pl.col("dob_kind") == 0)
        .then(None)
        .when(pl.col("dob_kind") == 1)
        .then(y)
        .when(pl.col("dob_ddmm"))
        .then(pl.concat_str([da, mo, y], separator="/"))
        .otherwise(pl.concat_str([y, mo, da], separator="-"))
    )
    return frame.with_columns(
        given_names=pl.concat_str(["g1", "g2"], separator=" ", ignore_nulls=True),
        date_of_birth=dob,
    )


def generate_persons(
    n: int,
    *,
    seed: int = 0,
    duplicate_rate: float = 0.3,
    errors: PersonErrors | None = None,
    reference_date: date = date(2025, 1, 1),
    with_errors: bool = False,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Generate synthetic Central American person records and which ones are the same person.

    Args:
        n: Number of records.
        seed: Everything depends only on the arguments: the same seed gives the same frames.
        duplicate_rate: Share of the records that are further records of a person already
            in the frame (``round(n * duplicate_rate)`` of them).
        errors: Probabilities of the errors in those further records (``PersonErrors()``).
        reference_date: "Today" for ages (14 to 80) and adult married names.
        with_errors: Add ``is_first`` (the entity's first record, written without errors)
            and ``errors`` (the comma-separated error kinds applied; "" for none) to the truth.

    Returns:
        ``(records, truth)``: records with the columns ``schema.PERSON_COLUMNS`` (all Utf8,
        rows in random order, ``record_id`` unique) and the truth ``record_id, entity_id``
        (Int64) in the same order.

    Raises:
        InputError: If ``n`` is negative or ``duplicate_rate`` is not in ``[0, 1)``.
    """
    if n < 0:
        raise InputError(f"n={n} is negative", hint="ask for zero or more records")
    if not 0.0 <= duplicate_rate < 1.0:
        raise InputError(
            f"duplicate_rate={duplicate_rate} is not in [0, 1)",
            hint="give the share of records that repeat a person, e.g. 0.3",
        )
    errors = errors or PersonErrors()
    n_dup = round(n * duplicate_rate)
    n_ent = n - n_dup
    if n_ent == 0 and n_dup:
        n_ent, n_dup = 1, n_dup - 1
    rng = np.random.default_rng(seed)
    prng = random.Random(seed)

    ent = _entities(n_ent, rng, prng, reference_date).with_columns(
        entity_id=pl.int_range(n_ent, dtype=pl.Int64), dob_ddmm=pl.lit(False)
    )
    which = rng.integers(0, max(n_ent, 1), n_dup)
    dup, applied = _duplicates(ent, which, errors, rng, prng, reference_date)
    err_first = pl.Series("errors", [""] * n_ent, dtype=pl.String)
    kinds = np.array(ERROR_KINDS, dtype=object)
    mat = np.stack([applied[k] for k in ERROR_KINDS], axis=1) if n_dup else None
    err_dup = pl.Series(
        "errors",
        [",".join(kinds[row]) for row in mat] if mat is not None else [],
        dtype=pl.String,
    )
    both = pl.concat(
        [
            ent.with_columns(is_first=pl.lit(True), errors=err_first),
            dup.select(ent.columns).with_columns(is_first=pl.lit(False), errors=err_dup),
        ]
    )
    both = _render(both[rng.permutation(n)])
    width = max(7, len(str(n)))
    both = both.with_columns(
        record_id=pl.format("P{}", pl.int_range(1, n + 1).cast(pl.String).str.zfill(width))
    )
    records = both.select(pl.col(c).cast(pl.String) for c in PERSON_COLUMNS)
    truth_cols = ["record_id", "entity_id"] + (["is_first", "errors"] if with_errors else [])
    return records, both.select(truth_cols)
