"""Spanish-aware comparisons of person records, as data, and the match model that weighs them.

Each :class:`Comparison` is a list of :class:`Level` s, from the null level (a side is empty:
no evidence either way) through the strongest agreement down to "else". A level carries the
same condition twice: as a Splink SQL condition on the ``<column>_l`` / ``<column>_r`` pairs of
the normalised columns (batch linking in DuckDB), and as a Python test on two normalised
records (the online index, which scores one record at a time). Both are built from the small
condition algebra below, so they cannot drift apart; tests check them against each other.

The normalised columns are those of :func:`safestreets.sharing.names.normalise_persons`, plus
``address_n`` (and ``<extra>_n`` for optional extra fields) from
:func:`safestreets.sharing.linkage.prepare`.

String similarity: DuckDB's ``jaro_winkler_similarity`` and ``damerau_levenshtein`` in SQL,
RapidFuzz's ``JaroWinkler.normalized_similarity`` and ``DamerauLevenshtein.distance`` in
Python. They agree on every pair of non-empty strings we tried (50,000 random pairs, equal to
1e-12); they differ only on two empty strings (DuckDB 0.0, RapidFuzz 1.0), which never reach a
level here because normalised values are null, not empty.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz.distance import DamerauLevenshtein, JaroWinkler

from safestreets.errors import InputError

Record = Mapping[str, Any]
Test = Callable[[Record, Record], bool]


# ---------------------------------------------------------------------------------------------
# Conditions: one SQL text and one Python test per condition
# ---------------------------------------------------------------------------------------------


def _get(rec: Record, col: str) -> Any:
    """The value of ``col``, or None when missing, null, empty text or an empty list."""
    v = rec.get(col)
    if v is None or (isinstance(v, str | list | tuple) and len(v) == 0):
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


@dataclass(frozen=True)
class Cond:
    """A condition on a pair of records: Splink SQL and the equivalent Python test.

    SQL uses three-valued logic (a comparison with NULL is not true); the Python tests follow
    it by being False whenever a value they need is missing. ``NOT`` is deliberately absent:
    it would not be false on NULL.
    """

    sql: str
    test: Test

    def __and__(self, other: Cond) -> Cond:
        return Cond(
            f"({self.sql}) AND ({other.sql})", lambda a, b: self.test(a, b) and other.test(a, b)
        )

    def __or__(self, other: Cond) -> Cond:
        return Cond(
            f"({self.sql}) OR ({other.sql})", lambda a, b: self.test(a, b) or other.test(a, b)
        )


def null(*cols: str) -> Cond:
    """Either side lacks any of ``cols`` (lists: empty counts as missing)."""

    def test(a: Record, b: Record) -> bool:
        return any(_get(a, c) is None or _get(b, c) is None for c in cols)

    return Cond(" OR ".join(f"{c}_l IS NULL OR {c}_r IS NULL" for c in cols), test)


def null_list(col: str) -> Cond:
    """Either side's list ``col`` is null or empty."""

    def test(a: Record, b: Record) -> bool:
        return _get(a, col) is None or _get(b, col) is None

    return Cond(f"{col}_l IS NULL OR {col}_r IS NULL OR len({col}_l) = 0 OR len({col}_r) = 0", test)


def eq(left: str, right: str | None = None) -> Cond:
    """Left's ``left`` equals right's ``right`` (default the same column)."""
    right = right or left

    def test(a: Record, b: Record) -> bool:
        x, y = _get(a, left), _get(b, right)
        return x is not None and y is not None and x == y

    return Cond(f"{left}_l = {right}_r", test)


def cross(one: str, other: str) -> Cond:
    """One side's ``one`` equals the other side's ``other``, either way round."""
    return eq(one, other) | eq(other, one)


def is_value(col: str, value: str, side: str) -> Cond:
    """``col`` on ``side`` ("l" or "r") equals the literal ``value``."""

    def test(a: Record, b: Record) -> bool:
        return _get(a if side == "l" else b, col) == value

    return Cond(f"{col}_{side} = '{value}'", test)


def jaro_winkler(col: str, threshold: float) -> Cond:
    """Jaro-Winkler similarity of ``col`` at least ``threshold``."""

    def test(a: Record, b: Record) -> bool:
        x, y = _get(a, col), _get(b, col)
        if x is None or y is None:
            return False
        return bool(JaroWinkler.normalized_similarity(x, y) >= threshold)

    return Cond(f"jaro_winkler_similarity({col}_l, {col}_r) >= {threshold}", test)


def damerau_1(col: str) -> Cond:
    """Damerau-Levenshtein distance of ``col`` at most 1 (one typo or adjacent swap)."""

    def test(a: Record, b: Record) -> bool:
        x, y = _get(a, col), _get(b, col)
        if x is None or y is None:
            return False
        return bool(DamerauLevenshtein.distance(x, y) <= 1)

    # DuckDB's damerau_levenshtein costs about 2 us a pair (Jaro-Winkler 0.25 us), most of
    # the time of estimating u on random pairs. A cheap necessary condition goes first: one
    # edit (or swap) at position p leaves the first two characters alone when p >= 2, and
    # otherwise leaves the last two (aligned from the end) when both strings have 5 or more
    # characters. So the condition is still exactly DL <= 1, the Python test's.
    lc, rc = f"{col}_l", f"{col}_r"
    pre = (
        f"left({lc}, 2) = left({rc}, 2) OR right({lc}, 2) = right({rc}, 2) "
        f"OR length({lc}) < 5 OR length({rc}) < 5"
    )
    return Cond(f"({pre}) AND damerau_levenshtein({lc}, {rc}) <= 1", test)


def within(col: str, k: int) -> Cond:
    """Numeric ``col`` differs by at most ``k``."""

    def test(a: Record, b: Record) -> bool:
        x, y = _get(a, col), _get(b, col)
        return x is not None and y is not None and abs(int(x) - int(y)) <= k

    return Cond(f"abs({col}_l - {col}_r) <= {k}", test)


def _name(rec: Record, given: str, surname: str) -> str | None:
    g, s = _get(rec, given), _get(rec, surname)
    return None if g is None or s is None else f"{g} {s}"


def alias_is_name(aliases: str, given: str, surname: str) -> Cond:
    """An alias on one side is the other side's ``given surname``."""

    def one_way(a: Record, b: Record) -> bool:
        name = _name(b, given, surname)
        return name is not None and name in (_get(a, aliases) or ())

    def sql(x: str, y: str) -> str:
        return f"list_contains({aliases}_{x}, concat({given}_{y}, ' ', {surname}_{y}))"

    return Cond(f"{sql('l', 'r')} OR {sql('r', 'l')}", lambda a, b: one_way(a, b) or one_way(b, a))


def shared_item(col: str) -> Cond:
    """The two lists ``col`` share an item."""

    def test(a: Record, b: Record) -> bool:
        x, y = _get(a, col), _get(b, col)
        return x is not None and y is not None and bool(set(x) & set(y))

    return Cond(f"list_has_any({col}_l, {col}_r)", test)


# ---------------------------------------------------------------------------------------------
# Levels and comparisons
# ---------------------------------------------------------------------------------------------

ELSE_SQL = "ELSE"


@dataclass(frozen=True)
class Level:
    """One level of a comparison.

    Attributes:
        label: Short name (shown in model files and charts).
        sql: Splink SQL condition (``ELSE`` for the last level).
        test: The same condition in Python on two normalised records.
        m: Default probability of this level among matching pairs (see ``default_model``).
        u: Default probability of this level among non-matching pairs.
    """

    label: str
    sql: str
    test: Test
    m: float | None = None
    u: float | None = None


@dataclass(frozen=True)
class Comparison:
    """A comparison: levels[0] is the null level, the last is "else" (Splink order).

    Attributes:
        name: The comparison's name (Splink output column ``gamma_<name>``).
        fields: The normalised columns the levels read.
        levels: The levels, null first, else last.
    """

    name: str
    fields: tuple[str, ...]
    levels: tuple[Level, ...]

    def level_of(self, left: Record, right: Record) -> int:
        """Index of the first level whose test holds (0 is the null level)."""
        for i, level in enumerate(self.levels):
            if level.sql == ELSE_SQL or level.test(left, right):
                return i
        return len(self.levels) - 1

    def splink(self) -> dict[str, Any]:
        """The comparison as a Splink settings dict (without m/u)."""
        return {
            "output_column_name": self.name,
            "comparison_description": self.name,
            "comparison_levels": [
                {
                    "sql_condition": lv.sql,
                    "label_for_charts": lv.label,
                    **({"is_null_level": True} if i == 0 else {}),
                }
                for i, lv in enumerate(self.levels)
            ],
        }


def level(label: str, cond: Cond, m: float, u: float) -> Level:
    """A level from a condition, with its default m and u."""
    return Level(label, cond.sql, cond.test, m, u)


def null_level(cond: Cond) -> Level:
    """The null level (no m/u: it weighs nothing)."""
    return Level("null", cond.sql, cond.test)


def else_level(m: float, u: float) -> Level:
    """The last level: every pair no earlier level took."""
    return Level("else", ELSE_SQL, lambda a, b: True, m, u)


# Default m and u: m from the error rates seen in synthetic records with the errors of real
# ones (typos, hypocorisms, swaps, dropped second surnames) and u from the frequencies of
# Central American names and dates (two random people share a first name about 1 in 60, a
# first surname about 1 in 50, a date of birth about 1 in 20,000). They give a usable model
# without training; a trained model replaces them.

GIVEN_NAMES = Comparison(
    "given_names",
    ("given_n", "given_1", "given_2", "given_1_ph", "surname_1_n"),
    (
        null_level(null("given_n")),
        level("exact", eq("given_n"), 0.80, 0.010),
        level("first_given_exact", eq("given_1"), 0.09, 0.012),
        level("jaro_winkler_0.92", jaro_winkler("given_n", 0.92), 0.04, 0.004),
        level("phonetic", eq("given_1_ph"), 0.02, 0.003),
        level("given_swapped", cross("given_1", "given_2"), 0.02, 0.002),
        level("given_is_surname", cross("given_1", "surname_1_n"), 0.005, 0.0005),
        else_level(0.025, 0.9685),
    ),
)

SURNAME_1 = Comparison(
    "surname_1",
    ("surname_1_n", "surname_1_ph", "surname_2_n", "married_n", "given_1"),
    (
        null_level(null("surname_1_n")),
        level("exact", eq("surname_1_n"), 0.86, 0.02),
        level("phonetic", eq("surname_1_ph"), 0.03, 0.003),
        level("jaro_winkler_0.92", jaro_winkler("surname_1_n", 0.92), 0.03, 0.004),
        level(
            "swapped_or_married",
            cross("surname_1_n", "surname_2_n") | cross("surname_1_n", "married_n"),
            0.04,
            0.012,
        ),
        level("surname_is_given", cross("surname_1_n", "given_1"), 0.005, 0.0005),
        level("jaro_winkler_0.85", jaro_winkler("surname_1_n", 0.85), 0.01, 0.03),
        else_level(0.025, 0.9285),
    ),
)

SURNAME_2 = Comparison(
    "surname_2",
    ("surname_2_n", "surname_2_ph", "surname_1_n"),
    (
        null_level(null("surname_2_n")),
        level("exact", eq("surname_2_n"), 0.88, 0.02),
        level("phonetic", eq("surname_2_ph"), 0.03, 0.003),
        level("jaro_winkler_0.92", jaro_winkler("surname_2_n", 0.92), 0.03, 0.004),
        level("swapped", cross("surname_2_n", "surname_1_n"), 0.04, 0.012),
        else_level(0.02, 0.961),
    ),
)

_TWO_PARTS = (
    (eq("dob_year") & eq("dob_month"))
    | (eq("dob_year") & eq("dob_day"))
    | (eq("dob_month") & eq("dob_day"))
)

DATE_OF_BIRTH = Comparison(
    "date_of_birth",
    ("dob", "dob_year", "dob_month", "dob_day"),
    (
        null_level(null("dob_year")),
        level("exact", eq("dob"), 0.85, 0.00005),
        level(
            "day_month_swapped",
            eq("dob_year") & eq("dob_day", "dob_month") & eq("dob_month", "dob_day"),
            0.02,
            0.000005,
        ),
        # Two parts equal first: a cheap filter before the costly edit distance (one typo or
        # swap of a canonical YYYY-MM-DD string always leaves two parts alone).
        level("one_typo", _TWO_PARTS & damerau_1("dob"), 0.05, 0.002),
        level("two_parts_equal", _TWO_PARTS, 0.03, 0.003),
        level("same_year", eq("dob_year"), 0.03, 0.02),
        level("year_within_1", within("dob_year", 1), 0.01, 0.04),
        else_level(0.01, 0.93495),
    ),
)

SEX = Comparison(
    "sex",
    ("sex_n",),
    (
        null_level(null("sex_n")),
        level("exact", eq("sex_n"), 0.98, 0.5),
        else_level(0.02, 0.5),
    ),
)

NATIONAL_ID = Comparison(
    "national_id",
    ("id_n", "id_status"),
    (
        null_level(null("id_n")),
        level(
            "exact_valid",
            eq("id_n") & is_value("id_status", "valid", "l") & is_value("id_status", "valid", "r"),
            0.80,
            0.000001,
        ),
        level(
            "exact_check_failed",
            eq("id_n")
            & (
                is_value("id_status", "check_failed", "l")
                | is_value("id_status", "check_failed", "r")
            ),
            0.01,
            0.0001,
        ),
        level("exact", eq("id_n"), 0.80, 0.000002),
        level("damerau_levenshtein_1", damerau_1("id_n"), 0.08, 0.0002),
        else_level(0.11, 0.9997),
    ),
)

MUNICIPALITY = Comparison(
    "municipality",
    ("municipality_n",),
    (
        null_level(null("municipality_n")),
        level("exact", eq("municipality_n"), 0.75, 0.01),
        level("jaro_winkler_0.9", jaro_winkler("municipality_n", 0.9), 0.05, 0.005),
        else_level(0.20, 0.985),
    ),
)

ADDRESS = Comparison(
    "address",
    ("address_n",),
    (
        null_level(null("address_n")),
        level("exact", eq("address_n"), 0.55, 0.0001),
        level("jaro_winkler_0.88", jaro_winkler("address_n", 0.88), 0.2, 0.002),
        else_level(0.25, 0.9979),
    ),
)

ALIASES = Comparison(
    "aliases",
    ("aliases_n", "given_n", "given_1", "surname_1_n"),
    (
        null_level(null_list("aliases_n")),
        level(
            "alias_is_name",
            alias_is_name("aliases_n", "given_n", "surname_1_n")
            | alias_is_name("aliases_n", "given_1", "surname_1_n"),
            0.20,
            0.00001,
        ),
        level("shared_alias", shared_item("aliases_n"), 0.40, 0.0005),
        else_level(0.40, 0.99949),
    ),
)

#: The default comparisons, in Splink order.
PERSON_COMPARISONS: tuple[Comparison, ...] = (
    GIVEN_NAMES,
    SURNAME_1,
    SURNAME_2,
    DATE_OF_BIRTH,
    SEX,
    NATIONAL_ID,
    MUNICIPALITY,
    ADDRESS,
    ALIASES,
)


def extra_comparison(name: str) -> Comparison:
    """A comparison of an optional extra field (for example ``postcode``) on ``<name>_n``.

    Levels: exact, Damerau-Levenshtein 1, else. Used only when the records carry the column.
    """
    col = f"{name}_n"
    return Comparison(
        name,
        (col,),
        (
            null_level(null(col)),
            level("exact", eq(col), 0.85, 0.002),
            level("damerau_levenshtein_1", damerau_1(col), 0.10, 0.01),
            else_level(0.05, 0.988),
        ),
    )


def comparisons_by_name(extra: Sequence[str] = ()) -> dict[str, Comparison]:
    """The person comparisons, and those of the ``extra`` fields, by name."""
    out = {c.name: c for c in PERSON_COMPARISONS}
    out.update({e: extra_comparison(e) for e in extra})
    return out


# ---------------------------------------------------------------------------------------------
# The match model
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Score:
    """The model's verdict on one pair of records.

    Attributes:
        match_weight: log2 of the posterior odds (prior included), as Splink reports it.
        probability: The match probability.
        agreeing: The comparisons whose level has a positive weight (null levels excluded).
    """

    match_weight: float
    probability: float
    agreeing: tuple[str, ...]


def bayes_factor_weight(m: float | None, u: float | None) -> float:
    """log2(m / u), or 0.0 when either is unknown or zero (a level never observed)."""
    if m is None or u is None or m <= 0 or u <= 0:
        return 0.0
    return math.log2(m / u)


def probability_of(match_weight: float) -> float:
    """The probability from a match weight (log2 odds)."""
    if match_weight > 60:
        return 1.0
    odds = 2.0**match_weight
    return odds / (1.0 + odds)


@dataclass
class MatchModel:
    """A Fellegi-Sunter model: a prior and a weight (log2 Bayes factor) per level.

    Attributes:
        prior: Probability that two records drawn at random match.
        weights: Comparison name -> log2 Bayes factor per level (0 for the null level).
        m: Comparison name -> m probability per level (None where unknown); kept so the
            model can be handed back to Splink.
        u: Comparison name -> u probability per level, likewise.
        extra: Names of the optional extra fields the model compares (see
            :func:`extra_comparison`).
    """

    prior: float
    weights: dict[str, list[float]]
    m: dict[str, list[float | None]] = field(default_factory=dict)
    u: dict[str, list[float | None]] = field(default_factory=dict)
    extra: tuple[str, ...] = ()

    @property
    def comparisons(self) -> tuple[Comparison, ...]:
        """The comparisons this model weighs, in its order."""
        known = comparisons_by_name(self.extra)
        missing = [n for n in self.weights if n not in known]
        if missing:
            raise InputError(
                f"the match model names unknown comparison(s) {', '.join(missing)}",
                hint="the model file was made by another version; train a new one",
            )
        return tuple(known[n] for n in self.weights)

    @property
    def prior_weight(self) -> float:
        """log2 of the prior odds."""
        return math.log2(self.prior / (1.0 - self.prior))

    def score(self, left: Record, right: Record) -> Score:
        """Score two normalised records (see ``linkage.prepare`` / ``names.normalise_persons``).

        Args:
            left: One normalised record (a mapping of the normalised columns).
            right: The other.

        Returns:
            The match weight, probability and the comparisons that agreed.
        """
        total = self.prior_weight
        agreeing = []
        for comp in self.comparisons:
            i = comp.level_of(left, right)
            w = self.weights[comp.name][i]
            total += w
            if i > 0 and w > 0:
                agreeing.append(comp.name)
        return Score(total, probability_of(total), tuple(agreeing))

    def to_json(self) -> str:
        """The model as JSON (levels named, so a file made for other comparisons is refused)."""
        comps = []
        for comp in self.comparisons:
            n = comp.name
            comps.append(
                {
                    "name": n,
                    "levels": [lv.label for lv in comp.levels],
                    "weights": [round(w, 6) for w in self.weights[n]],
                    "m": self.m.get(n),
                    "u": self.u.get(n),
                }
            )
        doc = {
            "format": "safestreets-match-model/1",
            "prior": self.prior,
            "extra": list(self.extra),
        }
        return json.dumps({**doc, "comparisons": comps}, indent=2)

    @classmethod
    def from_json(cls, text: str) -> MatchModel:
        """Read a model written by :meth:`to_json`.

        Raises:
            InputError: The text is not such a model, or its comparisons or levels differ
                from this version's.
        """
        try:
            doc = json.loads(text)
            prior = float(doc["prior"])
            extra = tuple(doc.get("extra") or ())
            comps = doc["comparisons"]
            weights = {c["name"]: [float(w) for w in c["weights"]] for c in comps}
        except (ValueError, KeyError, TypeError) as exc:
            raise InputError(
                f"not a match model file ({type(exc).__name__}: {exc})",
                hint="give a file written by --save-model",
            ) from None
        if not 0.0 < prior < 1.0:
            raise InputError(f"match model prior {prior} is not a probability", hint="retrain")
        known = comparisons_by_name(extra)
        for c in comps:
            comp = known.get(c["name"])
            labels = [lv.label for lv in comp.levels] if comp else None
            if labels != c.get("levels") or len(c["weights"]) != len(c.get("levels") or ()):
                raise InputError(
                    f"the match model's comparison {c['name']!r} does not fit this version's "
                    "levels",
                    hint="train a new model (run without --model, with --save-model)",
                )
        model = cls(
            prior=prior,
            weights=weights,
            m={c["name"]: c["m"] for c in comps if c.get("m") is not None},
            u={c["name"]: c["u"] for c in comps if c.get("u") is not None},
            extra=extra,
        )
        return model


#: The lowest weight a level may have: no single disagreement vetoes a pair by more than
#: 2^16 to 1. Expectation maximisation drives m towards 0 for a level no likely match falls on
#: in the training data (weights of -100 bits and less), which would let one field outvote
#: every other.
MIN_LEVEL_WEIGHT = -16.0


def model_from_m_u(
    prior: float,
    m: Mapping[str, Sequence[float | None]],
    u: Mapping[str, Sequence[float | None]],
    *,
    extra: Sequence[str] = (),
) -> MatchModel:
    """A model from m and u per level; levels with an unknown m or u fall back to the defaults.

    Weights are kept at or above :data:`MIN_LEVEL_WEIGHT`. Also enforces the one rule
    training must not overturn: an exact national id whose check
    digit failed weighs at least one bit less than an exact valid id, and no more than an
    exact id that could not be checked.
    """
    known = comparisons_by_name(extra)
    weights: dict[str, list[float]] = {}
    mm: dict[str, list[float | None]] = {}
    uu: dict[str, list[float | None]] = {}
    for name in m:
        comp = known[name]
        ws: list[float] = [0.0]
        ms: list[float | None] = [None]
        us: list[float | None] = [None]
        for i, lv in enumerate(comp.levels[1:], start=1):
            mi, ui = m[name][i], u[name][i]
            if mi is None or ui is None or mi <= 0 or ui <= 0:
                mi, ui = lv.m, lv.u
            ws.append(max(bayes_factor_weight(mi, ui), MIN_LEVEL_WEIGHT))
            ms.append(mi)
            us.append(ui)
        weights[name], mm[name], uu[name] = ws, ms, us
    if "national_id" in weights:
        labels = [lv.label for lv in known["national_id"].levels]
        w = weights["national_id"]
        valid, failed = labels.index("exact_valid"), labels.index("exact_check_failed")
        other = labels.index("exact")
        w[failed] = min(w[failed], w[valid] - 1.0, w[other])
    return MatchModel(prior=prior, weights=weights, m=mm, u=uu, extra=tuple(extra))


#: Prior of the default model: about one match in 100,000 random pairs (a file of 100,000
#: records with a duplicate for a third of them). Set ``prior`` when you know better.
DEFAULT_PRIOR = 1e-5


def default_model(*, extra: Sequence[str] = (), prior: float = DEFAULT_PRIOR) -> MatchModel:
    """A model from the documented default m and u of each level (no training needed).

    Args:
        extra: Optional extra fields to compare as well.
        prior: The probability that two random records match.
    """
    comps = comparisons_by_name(extra)
    names = [c.name for c in PERSON_COMPARISONS] + list(extra)
    m = {n: [lv.m for lv in comps[n].levels] for n in names}
    u = {n: [lv.u for lv in comps[n].levels] for n in names}
    return model_from_m_u(prior, m, u, extra=extra)


__all__ = [
    "ADDRESS",
    "ALIASES",
    "DATE_OF_BIRTH",
    "DEFAULT_PRIOR",
    "GIVEN_NAMES",
    "MUNICIPALITY",
    "NATIONAL_ID",
    "PERSON_COMPARISONS",
    "SEX",
    "SURNAME_1",
    "SURNAME_2",
    "Comparison",
    "Cond",
    "Level",
    "MatchModel",
    "Score",
    "comparisons_by_name",
    "default_model",
    "extra_comparison",
    "model_from_m_u",
    "probability_of",
]
