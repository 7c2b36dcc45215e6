"""Reconcile homicide victim lists of several institutions, case by case.

Police, prosecutor and forensic institute each keep a list of homicide victims; the lists
differ (each misses some cases, dates are a day off, names are misspelt, ages estimated). This
module links the records that describe the same victim across the lists and reports the
consolidated victims and, per area and month, how many are in all lists, in one only, and so on.

The steps:

1. **Candidate pairs** (blocking): records of *different* sources in the same country whose
   dates of death are at most ``date_tolerance`` days apart, plus every pair sharing a forensic
   case number. When that would exceed ``max_candidate_pairs``, the date window is combined
   with the same department, the same first surname or the same first given name.
2. **Scoring**: a Fellegi-Sunter model (Splink 5, DuckDB backend, ``link_only``) compares date,
   place, sex, age, given names, surnames and case number (:func:`comparisons`). u is
   estimated by random sampling and m by EM on each run; on small lists (or when an estimate
   fails a sanity check) documented priors are used instead and the run's notes say so.
3. **Clustering**: pairs at or above ``threshold`` are merged greedily by descending match
   probability, but two groups are merged only when no source would then appear twice: a
   consolidated victim has at most one record per source.
4. **Outputs** (:class:`Reconciliation`): the consolidated list, the agreement table, the
   pairs to review (within ``review_band`` of the threshold, or blocked by the one-record-per-
   source rule), the rejected input rows and a summary.

Everything here is a pure function of the frames given (the DuckDB database Splink uses is
in memory and private to the call).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import math
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import polars as pl

from safestreets.errors import InputError
from safestreets.records import unknown_name
from safestreets.reference import geo
from safestreets.schema import VICTIM_LIST
from safestreets.schema import VICTIM_LIST_REJECTED as REJECTED

__all__ = [
    "DEFAULT_REVIEW_BAND",
    "DEFAULT_THRESHOLD",
    "Comparison",
    "Level",
    "Reconciliation",
    "comparisons",
    "evaluate",
    "reconcile",
]

#: Match probability at or above which two records are the same victim. Chosen on the
#: synthetic benchmark (docs/reconciliation.md): precision and recall >= 0.98 from about 0.2
#: to 0.9; 0.5 is the Bayes decision point of a calibrated model.
DEFAULT_THRESHOLD = 0.3
#: Pairs whose probability is within this distance of the threshold go to the review list.
DEFAULT_REVIEW_BAND = 0.15
#: Fewer records than this (all sources together): use the priors, do not estimate.
MIN_RECORDS_TO_ESTIMATE = 300
#: Pairs scored below this probability are not kept (they can change no decision).
KEEP_PAIRS_ABOVE = 1e-4
#: Prior share of victims that a list shares with another: sets the prior probability
#: that two random records from different lists match (Splink's lambda).
PRIOR_OVERLAP = 0.9
# Estimated m and u are kept inside these bounds, so one disagreeing field (a wrong sex, a
# misread date) lowers the score without vetoing a match on its own.
_M_FLOOR = 0.002
_U_FLOOR = 1e-5
# Blocked pairs per EM session: enough for stable m, bounded time on large lists.
_EM_MAX_PAIRS = 5e5

Parameters = Literal["estimate", "priors"]


# ---------------------------------------------------------------------------------------------
# The comparison model
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Level:
    """One level of a comparison: a SQL condition on ``<col>_l``/``<col>_r`` and its prior m.

    ``m`` is None on the null level (either side missing: weight 0, neither helps nor hurts).
    """

    label: str
    sql: str
    m: float | None


@dataclass(frozen=True)
class Comparison:
    """A field comparison: its levels, most similar first, ``ELSE`` last."""

    name: str
    levels: tuple[Level, ...]
    columns: tuple[str, ...]

    @property
    def scored(self) -> tuple[Level, ...]:
        """The levels that carry a weight (all but the null level)."""
        return tuple(lv for lv in self.levels if lv.m is not None)

    def label(self, gamma: int) -> str:
        """The label of Splink's comparison-vector value (-1 null, 0 ELSE, highest best)."""
        if gamma < 0:
            return "missing"
        scored = self.scored
        return scored[len(scored) - 1 - gamma].label


def comparisons(date_tolerance: int = 3, age_tolerance: int = 5) -> tuple[Comparison, ...]:
    """The comparisons of the matching model with their prior m probabilities.

    Names are compared after accent stripping and lower-casing (``reference.geo``'s
    ``normalise_name``) with Jaro-Winkler similarity; swapped surnames, a dropped second given
    name or second surname still count as close. A missing value on either side (unknown sex,
    "NN" name, no case number) falls in the null level: weight 0.
    """
    t, a = int(date_tolerance), int(age_tolerance)
    jw = "jaro_winkler_similarity"

    def null(*cols: str) -> Level:
        cond = " OR ".join(f"{c}_l IS NULL OR {c}_r IS NULL" for c in cols)
        return Level("missing", cond, None)

    date_levels = [
        null("dday"),
        Level("same day", "dday_l = dday_r", 0.85),
        Level("1 day apart", "abs(dday_l - dday_r) <= 1", 0.12),
    ]
    if t > 1:
        date_levels.append(Level(f"2-{t} days apart", f"abs(dday_l - dday_r) <= {t}", 0.02))
    date_levels.append(Level("further apart", "ELSE", 0.01))
    age_levels = [
        null("age"),
        Level("same age", "age_l = age_r", 0.75),
        Level("1-2 years apart", "abs(age_l - age_r) <= 2", 0.19),
    ]
    if a > 2:
        age_levels.append(Level(f"3-{a} years apart", f"abs(age_l - age_r) <= {a}", 0.04))
    age_levels.append(Level("further apart", "ELSE", 0.02))
    # fmt: off
    place = (
        Level("missing", "(area2_l IS NULL AND area1_l IS NULL) OR "
              "(area2_r IS NULL AND area1_r IS NULL)", None),
        Level("same municipality", "area2_l = area2_r", 0.93),
        Level("same department", "area1_l = area1_r", 0.05),
        Level("elsewhere", "ELSE", 0.02),
    )
    sex = (
        null("sex_key"),
        Level("same", "sex_key_l = sex_key_r", 0.99),
        Level("differ", "ELSE", 0.01),
    )
    given = (
        null("given_key"),
        Level("same", "given_key_l = given_key_r", 0.65),
        Level("one a prefix of the other or very similar",
              "given_key_l = given1_r OR given1_l = given_key_r OR "
              f"{jw}(given_key_l, given_key_r) >= 0.92", 0.28),
        Level("similar", f"{jw}(given_key_l, given_key_r) >= 0.80", 0.05),
        Level("differ", "ELSE", 0.02),
    )
    surnames = (
        null("surname_key"),
        Level("same", "surname_key_l = surname_key_r", 0.72),
        Level("swapped or very similar",
              "surname_sorted_l = surname_sorted_r OR "
              f"{jw}(surname_key_l, surname_key_r) >= 0.94", 0.12),
        Level("first surname shared or similar",
              "surname1_l = surname1_r OR surname_key_l = surname1_r OR "
              f"surname1_l = surname_key_r OR {jw}(surname_key_l, surname_key_r) >= 0.85 OR "
              f"{jw}(surname1_l, surname1_r) >= 0.88", 0.13),
        Level("differ", "ELSE", 0.03),
    )
    case = (
        null("case_key"),
        Level("same", "case_key_l = case_key_r", 0.97),
        Level("differ", "ELSE", 0.03),
    )
    # fmt: on
    return (
        Comparison("date", tuple(date_levels), ("dday",)),
        Comparison("place", place, ("area1", "area2")),
        Comparison("sex", sex, ("sex_key",)),
        Comparison("age", tuple(age_levels), ("age",)),
        Comparison("given_names", given, ("given_key", "given1")),
        Comparison("surnames", surnames, ("surname_key", "surname_sorted", "surname1")),
        Comparison("case_number", case, ("case_key",)),
    )


# ---------------------------------------------------------------------------------------------
# The result
# ---------------------------------------------------------------------------------------------


@dataclass
class Reconciliation:
    """What :func:`reconcile` returns.

    Attributes:
        consolidated: One row per consolidated victim (see docs/reconciliation.md).
        agreement: Per country, department and month: victims per pattern of sources, the
            consolidated count, each source's records there (``n_<source>``) and what each
            source reports there by its own date and place (``reported_<source>``).
        review: Candidate pairs to check by hand, both records side by side.
        rejected: Input rows set aside (unusable date, ...), with the reason.
        membership: ``source, record_id, consolidated_id`` for every valid record.
        pairs: Scored candidate pairs (probability >= 1e-4): ``source_l, record_id_l,
            source_r, record_id_r, match_probability, match_weight`` and the
            ``gamma_<comparison>`` levels.
        sources: The source labels, in input order.
        summary: Settings, parameters (estimated or priors, with notes) and counts; the CLI
            writes it as summary.json.
    """

    consolidated: pl.DataFrame
    agreement: pl.DataFrame
    review: pl.DataFrame
    rejected: pl.DataFrame
    membership: pl.DataFrame
    pairs: pl.DataFrame
    sources: tuple[str, ...]
    summary: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------------------------


def reconcile(
    records: pl.DataFrame | Mapping[str, pl.DataFrame],
    *,
    rejected: pl.DataFrame | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    review_band: float = DEFAULT_REVIEW_BAND,
    date_tolerance: int = 3,
    age_tolerance: int = 5,
    prefer_source: str = "forensic",
    parameters: Parameters = "estimate",
    max_u_pairs: float = 1e6,
    max_candidate_pairs: int = 3_000_000,
    seed: int = 1,
) -> Reconciliation:
    """Link the victim lists of several sources and consolidate them.

    Args:
        records: The canonical victim-list frame (:data:`~safestreets.ingest.victim_lists.
            VICTIM_LIST`) with a ``source`` column, or one such frame per source.
        rejected: Rows the reader set aside (:data:`~safestreets.ingest.victim_lists.REJECTED`);
            passed through and counted per source.
        threshold: Match probability at or above which two records are linked.
        review_band: Pairs with probability in ``threshold ± review_band`` are listed for review.
        date_tolerance: Largest difference in days between dates of death of one victim.
        age_tolerance: Largest age difference that still counts as close.
        prefer_source: The source whose date (and names, case number) the consolidated record
            takes when it has that source's record; the forensic institute by default.
        parameters: ``"estimate"`` (u by random sampling, m by EM; priors where that is not
            possible) or ``"priors"`` (the documented fixed values).
        max_u_pairs: Random pairs sampled to estimate u (capped by the pairs that exist).
        max_candidate_pairs: Above this many date-window pairs, blocking also requires the
            same department, first surname or first given name.
        seed: Seed of the random sampling (same inputs and seed, same result).

    Returns:
        A :class:`Reconciliation`.

    Raises:
        InputError: on bad settings, missing columns, fewer than two sources, or a repeated
            (source, record_id).
    """
    started = time.perf_counter()
    frame = _as_frame(records)
    _check_settings(threshold, review_band, date_tolerance, age_tolerance)
    sources = tuple(dict.fromkeys(frame["source"].to_list()))
    if isinstance(records, Mapping):
        sources = tuple(records)
    if len(sources) < 2:
        raise InputError(
            f"reconciliation needs at least two sources; got {len(sources)} ({', '.join(sources)})",
            hint="give two or more victim lists (e.g. police and forensic)",
        )
    bad = [s for s in sources if not s or "+" in s]
    if bad:
        raise InputError(
            f"source labels must be non-empty and without '+': {bad}", hint="rename the source"
        )
    rejected = (
        _conform(rejected, REJECTED) if rejected is not None else pl.DataFrame(schema=REJECTED)
    )
    feats = _features(frame, sources, date_tolerance)
    comps = comparisons(date_tolerance, age_tolerance)
    model = _score(
        feats,
        comps,
        date_tolerance=date_tolerance,
        age_tolerance=age_tolerance,
        parameters=parameters,
        max_u_pairs=max_u_pairs,
        max_candidate_pairs=max_candidate_pairs,
        seed=seed,
    )
    labels, conflicts = _cluster(feats, model.pairs, threshold, len(sources))
    feats = feats.with_columns(cluster=pl.Series(labels, dtype=pl.Int64))
    cluster_ids = _name_clusters(feats)
    pairs = model.pairs.join(
        feats.select(pl.col("unique_id").alias("unique_id_l"), pl.col("cluster").alias("c_l")),
        on="unique_id_l",
    ).join(
        feats.select(pl.col("unique_id").alias("unique_id_r"), pl.col("cluster").alias("c_r")),
        on="unique_id_r",
    )
    review = _review(feats, pairs, comps, conflicts, threshold, review_band, cluster_ids)
    flagged = set(review["uid_l"].to_list()) | set(review["uid_r"].to_list())
    consolidated = _consolidate(
        feats, pairs, sources, prefer_source, flagged, threshold, cluster_ids
    )
    agreement = _agreement(feats, consolidated, sources)
    membership = feats.select(
        "source",
        "record_id",
        pl.col("cluster").replace_strict(cluster_ids).alias("consolidated_id"),
    )
    out_pairs = _public_pairs(feats, pairs, comps)
    counts = {
        s: {
            "valid": int((frame["source"] == s).sum()),
            "rejected": int((rejected["source"] == s).sum()),
        }
        for s in sources
    }
    summary = {
        "threshold": threshold,
        "review_band": review_band,
        "date_tolerance_days": date_tolerance,
        "age_tolerance_years": age_tolerance,
        "prefer_source": prefer_source,
        "sources": list(sources),
        "records": counts,
        "consolidated_total": consolidated.height,
        "patterns": _pattern_totals(consolidated, sources),
        "linked_pairs": int(pairs.filter(pl.col("c_l") == pl.col("c_r")).height),
        "review_pairs": review.height,
        "needs_review": int(consolidated["needs_review"].sum()),
        "blocking": model.blocking,
        "candidate_pairs": model.candidate_pairs,
        "parameters": model.parameters,
        "notes": model.notes,
        "seconds": round(time.perf_counter() - started, 2),
    }
    return Reconciliation(
        consolidated=consolidated,
        agreement=agreement,
        review=review.drop("uid_l", "uid_r"),
        rejected=rejected,
        membership=membership,
        pairs=out_pairs,
        sources=sources,
        summary=summary,
    )


def _check_settings(threshold: float, band: float, date_tol: int, age_tol: int) -> None:
    if not 0 < threshold < 1:
        raise InputError(f"threshold {threshold} is not between 0 and 1", hint="e.g. 0.3")
    if not 0 <= band < 1:
        raise InputError(f"review band {band} is not between 0 and 1", hint="e.g. 0.15")
    if not 0 <= date_tol <= 60:
        raise InputError(f"date tolerance {date_tol} is not 0-60 days", hint="e.g. 3")
    if not 0 <= age_tol <= 30:
        raise InputError(f"age tolerance {age_tol} is not 0-30 years", hint="e.g. 5")


def _conform(frame: pl.DataFrame, schema: Mapping[str, pl.DataType]) -> pl.DataFrame:
    return frame.select(
        [
            pl.col(c).cast(t, strict=False) if c in frame.columns else pl.lit(None, t).alias(c)
            for c, t in schema.items()
        ]
    )


def _as_frame(records: pl.DataFrame | Mapping[str, pl.DataFrame]) -> pl.DataFrame:
    if isinstance(records, Mapping):
        parts = [
            _conform(f.with_columns(source=pl.lit(s)), VICTIM_LIST) for s, f in records.items()
        ]
        frame = pl.concat(parts) if parts else pl.DataFrame(schema=VICTIM_LIST)
    else:
        missing = [c for c in ("source", "record_id", "date_of_death") if c not in records.columns]
        if missing:
            raise InputError(
                f"victim list lacks column(s) {', '.join(missing)}",
                hint="read files with safestreets.ingest.victim_lists.read_victim_list",
            )
        frame = _conform(records, VICTIM_LIST)
    if frame["date_of_death"].null_count() or frame["source"].null_count():
        raise InputError(
            "victim list has records without a date of death or a source",
            hint="read files with read_victim_list, which sets such rows aside",
        )
    frame = frame.with_columns(pl.col("record_id").fill_null("").cast(pl.String))
    dup = frame.select(pl.struct("source", "record_id").is_duplicated()).to_series()
    if dup.any():
        first = frame.filter(dup).row(0, named=True)
        raise InputError(
            f"record_id {first['record_id']!r} appears more than once in source "
            f"{first['source']!r}",
            hint="record ids must be unique within a source",
        )
    return frame


# ---------------------------------------------------------------------------------------------
# Features
# ---------------------------------------------------------------------------------------------

_PARTICLES = frozenset({"de", "del", "la", "las", "los", "y", "vda", "viuda"})


def _name_key(text: str) -> str | None:
    if unknown_name(text):
        return None
    return geo.normalise_name(text) or None


def _first_token(key: str) -> str:
    words = [w for w in key.split() if w not in _PARTICLES]
    return words[0] if words else key


def _map(values: pl.Series, fn: Any) -> pl.Series:
    distinct = values.drop_nulls().unique().to_list()
    return values.replace_strict({v: fn(v) for v in distinct}, default=None, return_dtype=pl.String)


def _features(frame: pl.DataFrame, sources: Sequence[str], date_tol: int) -> pl.DataFrame:
    """The canonical records plus the normalised keys the comparisons and blocking use."""
    width = 2 * date_tol + 1
    order = {s: i for i, s in enumerate(sources)}
    out = (
        frame.with_columns(src=pl.col("source").replace_strict(order, return_dtype=pl.Int64))
        .sort("src", "record_id")
        .with_row_index("unique_id")
        .with_columns(pl.col("unique_id").cast(pl.Int64))
    )
    given_key = _map(out["given_names"], _name_key)
    surname_key = _map(out["surnames"], _name_key)
    place_txt = _map(out["place"], lambda v: ("txt:" + geo.normalise_name(v)) if v else None)
    return out.with_columns(
        dday=pl.col("date_of_death").cast(pl.Int32),
        # Two bucketings of width 2t+1, offset by t: any two dates at most t days apart share
        # a bucket in one of them, so blocking is two equi-joins instead of a range join.
        wk_a=(pl.col("date_of_death").cast(pl.Int32) // width),
        wk_b=((pl.col("date_of_death").cast(pl.Int32) + date_tol) // width),
        area1=pl.col("admin1"),
        area2=pl.coalesce(pl.col("admin2"), place_txt),
        sex_key=pl.when(pl.col("sex").is_in(["female", "male"])).then(pl.col("sex")),
        given_key=given_key,
        given1=_map(given_key, _first_token),
        surname_key=surname_key,
        surname_sorted=_map(surname_key, lambda k: " ".join(sorted(k.split()))),
        surname1=_map(surname_key, _first_token),
        case_key=pl.col("case_number")
        .str.to_uppercase()
        .str.replace_all(r"[^0-9A-Z]", "")
        .replace("", None),
    )


_SPLINK_COLUMNS = (
    "unique_id", "country", "dday", "wk_a", "wk_b", "area1", "area2", "sex_key", "age",
    "given_key", "given1", "surname_key", "surname_sorted", "surname1", "case_key",
)  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Scoring
# ---------------------------------------------------------------------------------------------


@dataclass
class _Model:
    pairs: pl.DataFrame  # unique_id_l, unique_id_r, match_probability, match_weight, gamma_*
    parameters: dict[str, Any]
    notes: list[str]
    blocking: str
    candidate_pairs: int


def _window_pairs(feats: pl.DataFrame, date_tol: int) -> int:
    """Number of cross-source pairs in the same country within the date window."""
    counts = feats.group_by("country", "src", "dday").len()
    total = 0
    for k in range(-date_tol, date_tol + 1):
        j = counts.join(
            counts.with_columns(pl.col("dday") - k),
            on=["country", "dday"],
            suffix="_r",
        ).filter(pl.col("src") < pl.col("src_r"))
        total += int((j["len"].cast(pl.Int64) * j["len_r"].cast(pl.Int64)).sum())
    return total


def _blocking_rules(date_tol: int, narrow: bool) -> list[str]:
    window = [f"l.country = r.country AND l.wk_a = r.wk_a AND abs(l.dday - r.dday) <= {date_tol}"]
    if date_tol > 0:
        window.append(
            f"l.country = r.country AND l.wk_b = r.wk_b AND abs(l.dday - r.dday) <= {date_tol}"
        )
    if narrow:
        window = [
            f"{w} AND l.{key} = r.{key}" for key in ("area1", "surname1", "given1") for w in window
        ]
    return [*window, "l.case_key = r.case_key"]


def _lambda(feats: pl.DataFrame) -> float:
    """Prior probability that two records of different sources are the same victim."""
    n = feats.group_by("src").len()["len"].to_list()
    cross = sum(a * b for a, b in itertools.combinations(n, 2))
    matches = sum(PRIOR_OVERLAP * min(a, b) for a, b in itertools.combinations(n, 2))
    return float(min(max(matches / cross, 1e-9), 0.5)) if cross else 0.5


def _sum_sq(values: pl.Series) -> float:
    v = values.drop_nulls()
    if v.len() == 0:
        return 0.0
    p = v.value_counts()["count"].to_numpy() / v.len()
    return float((p**2).sum())


def _prior_u(
    feats: pl.DataFrame, comps: Sequence[Comparison], date_tol: int, age_tol: int
) -> dict[str, list[float]]:
    """u per scored level: from the data's value frequencies (agreement by chance).

    Exact agreement of a categorical field by chance is the sum of squared value shares;
    dates use the span of the lists (uniform deaths), ages their histogram; the fuzzy name
    levels add small fixed allowances.
    """
    days = feats["dday"].drop_nulls().to_numpy()
    span = max(int(days.max() - days.min()) + 1, 28) if days.size else 365
    ages = feats["age"].drop_nulls().to_numpy().astype(int)
    hist = np.bincount(np.clip(ages, 0, 120), minlength=121).astype(float)
    hist = hist / hist.sum() if hist.sum() else np.full(121, 1 / 121)

    def within(k: int) -> float:
        return float(
            sum((hist[: 121 - d] * hist[d:]).sum() * (1 if d == 0 else 2) for d in range(k + 1))
        )

    def rest(values: list[float]) -> list[float]:
        return [*values, max(1.0 - sum(values), 0.05)]

    out: dict[str, list[float]] = {}
    for c in comps:
        n_levels = len(c.scored)
        if c.name == "date":
            vals = [1 / span, 2 / span] + ([2 * (date_tol - 1) / span] if n_levels == 4 else [])
        elif c.name == "place":
            u2 = _sum_sq(feats["area2"])
            vals = [u2, max(_sum_sq(feats["area1"]) - u2, 0.005)]
        elif c.name == "sex":
            vals = [_sum_sq(feats["sex_key"])]
        elif c.name == "age":
            vals = [within(0), within(2) - within(0)] + (
                [within(age_tol) - within(2)] if n_levels == 4 else []
            )
        elif c.name == "given_names":
            ex = _sum_sq(feats["given_key"])
            vals = [ex, max(_sum_sq(feats["given1"]) - ex, 0.0) + 0.002, 0.03]
        elif c.name == "surnames":
            ex = _sum_sq(feats["surname_key"])
            vals = [ex, 0.002, _sum_sq(feats["surname1"]) + 0.01]
        else:  # case number
            vals = [_sum_sq(feats["case_key"])]
        out[c.name] = [max(v, _U_FLOOR) for v in rest(vals)]
    return out


def _settings(
    comps: Sequence[Comparison],
    m: Mapping[str, Sequence[float]],
    u: Mapping[str, Sequence[float]],
    rules: Sequence[str],
    lam: float,
) -> dict[str, Any]:
    comparisons_json = []
    for c in comps:
        levels = []
        k = 0
        for lv in c.levels:
            if lv.m is None:
                levels.append(
                    {"sql_condition": lv.sql, "label_for_charts": lv.label, "is_null_level": True}
                )
                continue
            levels.append(
                {
                    "sql_condition": lv.sql,
                    "label_for_charts": lv.label,
                    "m_probability": float(m[c.name][k]),
                    "u_probability": float(u[c.name][k]),
                }
            )
            k += 1
        comparisons_json.append({"output_column_name": c.name, "comparison_levels": levels})
    return {
        "link_type": "link_only",
        "unique_id_column_name": "unique_id",
        "probability_two_random_records_match": lam,
        "comparisons": comparisons_json,
        "blocking_rules_to_generate_predictions": list(rules),
        "retain_matching_columns": True,  # also keeps the gamma_ columns
        "retain_intermediate_calculation_columns": False,
        "max_iterations": 25,
    }


@contextlib.contextmanager
def _quiet_splink() -> Iterator[None]:
    # Splink logs progress and advice at INFO/WARNING; a CLI run should print one summary.
    logger = logging.getLogger("splink")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _score(
    feats: pl.DataFrame,
    comps: Sequence[Comparison],
    *,
    date_tolerance: int,
    age_tolerance: int,
    parameters: Parameters,
    max_u_pairs: float,
    max_candidate_pairs: int,
    seed: int,
) -> _Model:
    notes: list[str] = []
    prior_m = {c.name: [lv.m for lv in c.scored if lv.m is not None] for c in comps}
    prior_u = _prior_u(feats, comps, date_tolerance, age_tolerance)
    lam = _lambda(feats)
    window = _window_pairs(feats, date_tolerance)
    narrow = window > max_candidate_pairs
    blocking = (
        "date window + (department | first surname | first given name) | case number"
        if narrow
        else "date window | case number"
    )
    if narrow:
        notes.append(
            f"{window:,} pairs in the date window exceed max_candidate_pairs "
            f"({max_candidate_pairs:,}): blocking also requires the same department, first "
            "surname or first given name"
        )
    rules = _blocking_rules(date_tolerance, narrow)
    present = feats["src"].unique().to_list()
    empty_pairs = _empty_pairs(comps)
    if len(present) < 2:
        notes.append("fewer than two sources have records: nothing to match")
        return _Model(
            empty_pairs, _describe(comps, prior_m, prior_u, lam, "priors"), notes, blocking, 0
        )

    import duckdb
    from splink import DuckDBAPI, Linker

    con = duckdb.connect(":memory:")
    try:
        with _quiet_splink():
            db = DuckDBAPI(connection=con)
            tables = [
                db.register(
                    feats.filter(pl.col("src") == s).select(_SPLINK_COLUMNS).to_arrow(),
                    table_name=f"src_{s}",
                )
                for s in sorted(present)
            ]
            m, u, method = dict(prior_m), dict(prior_u), "priors"
            if parameters == "estimate":
                if feats.height < MIN_RECORDS_TO_ESTIMATE:
                    notes.append(
                        f"only {feats.height} records (< {MIN_RECORDS_TO_ESTIMATE}): m and u "
                        "are the documented priors, not estimated"
                    )
                else:
                    m, u, method = _estimate(
                        Linker,
                        tables,
                        comps,
                        prior_m,
                        prior_u,
                        lam,
                        rules,
                        feats,
                        max_u_pairs,
                        seed,
                        notes,
                    )
            else:
                notes.append("parameters='priors': m and u are the documented priors")
            linker = Linker(tables, _settings(comps, m, u, rules, lam), log_level=None)
            pred = linker.inference.predict(
                threshold_match_probability=KEEP_PAIRS_ABOVE, warning_mode="never"
            )
            raw = pl.from_arrow(pred.as_pyarrow_table())
    finally:
        con.close()
    assert isinstance(raw, pl.DataFrame)
    gammas = [f"gamma_{c.name}" for c in comps]
    pairs = raw.select(
        pl.min_horizontal("unique_id_l", "unique_id_r").cast(pl.Int64).alias("unique_id_l"),
        pl.max_horizontal("unique_id_l", "unique_id_r").cast(pl.Int64).alias("unique_id_r"),
        pl.col("match_probability").cast(pl.Float64),
        pl.col("match_weight").cast(pl.Float64),
        *[pl.col(g).cast(pl.Int8) for g in gammas],
    )
    return _Model(pairs, _describe(comps, m, u, lam, method), notes, blocking, window)


def _empty_pairs(comps: Sequence[Comparison]) -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "unique_id_l": pl.Int64,
            "unique_id_r": pl.Int64,
            "match_probability": pl.Float64,
            "match_weight": pl.Float64,
            **{f"gamma_{c.name}": pl.Int8 for c in comps},
        }
    )


def _estimate(
    linker_cls: Any,
    tables: Sequence[Any],
    comps: Sequence[Comparison],
    prior_m: dict[str, list[float]],
    prior_u: dict[str, list[float]],
    lam: float,
    rules: Sequence[str],
    feats: pl.DataFrame,
    max_u_pairs: float,
    seed: int,
    notes: list[str],
) -> tuple[dict[str, list[float]], dict[str, list[float]], str]:
    """u by random sampling, m by EM (two sessions); priors where an estimate is not sane."""
    n = feats.group_by("src").len()["len"].to_list()
    cross = sum(a * b for a, b in itertools.combinations(n, 2))
    # EM needs a field that tells matches from coincidences; without names the same-day
    # and same-place non-matches pull m towards u, so m keeps its priors then.
    named = int(feats["surname_key"].is_not_null().sum())
    run_em = named >= MIN_RECORDS_TO_ESTIMATE // 2
    try:
        linker = linker_cls(tables, _settings(comps, prior_m, prior_u, rules, lam), log_level=None)
        linker.training.estimate_u_using_random_sampling(
            max_pairs=float(min(max_u_pairs, cross)), seed=seed
        )
        if run_em:
            # Session 1 blocks on the same day, so it cannot estimate the date's m ...
            linker.training.estimate_parameters_using_expectation_maximisation(
                "l.country = r.country AND l.dday = r.dday", max_pairs=_EM_MAX_PAIRS
            )
            # ... session 2 (same surnames and first given name) estimates it.
            linker.training.estimate_parameters_using_expectation_maximisation(
                "l.country = r.country AND l.surname_key = r.surname_key AND l.given1 = r.given1",
                max_pairs=_EM_MAX_PAIRS,
            )
        else:
            notes.append(
                f"only {named} records with names: u estimated, m are the priors (EM needs names)"
            )
        trained = linker.misc.save_model_to_json()
    except Exception as exc:  # Splink raises many types when EM cannot run on the data
        notes.append(
            f"estimation failed ({type(exc).__name__}: {str(exc)[:120]}); the priors are used"
        )
        return prior_m, prior_u, "priors"
    m: dict[str, list[float]] = {}
    u: dict[str, list[float]] = {}
    estimated = 0
    for c, tc in zip(comps, trained["comparisons"], strict=True):
        levels = [lv for lv in tc["comparison_levels"] if not lv.get("is_null_level")]
        # A level the sample never saw keeps its prior (no u of 0: an infinite weight).
        tm = [
            _usable(lv.get("m_probability"), pm) if run_em else pm
            for lv, pm in zip(levels, prior_m[c.name], strict=True)
        ]
        tu = [
            _usable(lv.get("u_probability"), pu)
            for lv, pu in zip(levels, prior_u[c.name], strict=True)
        ]
        problem = _insane(tm, tu)
        if problem:
            notes.append(f"{c.name}: estimate not used ({problem}); priors used")
            m[c.name], u[c.name] = prior_m[c.name], prior_u[c.name]
            continue
        m[c.name] = [max(x, _M_FLOOR) for x in tm]
        u[c.name] = [max(x, _U_FLOOR) for x in tu]
        estimated += 1
    if estimated == 0:
        return m, u, "priors"
    if not run_em:
        return m, u, "u estimated, m priors"
    return m, u, "estimated" if estimated == len(comps) else "mixed"


def _usable(value: Any, prior: float) -> float:
    if value is None or not math.isfinite(float(value)) or float(value) <= 0:
        return prior
    return float(value)


def _insane(m: list[Any], u: list[Any]) -> str | None:
    """Why estimated m/u values cannot be used, or None when they look sane."""
    if any(x is None or not math.isfinite(x) for x in [*m, *u]):
        return "a level has no estimate"
    if any(not 0 <= x <= 1 for x in [*m, *u]):
        return "a probability outside 0-1"
    if m[0] <= u[0]:
        return "agreement does not raise the match weight"
    if m[-1] >= u[-1]:
        return "disagreement does not lower the match weight"
    return None


def _describe(
    comps: Sequence[Comparison],
    m: Mapping[str, Sequence[float]],
    u: Mapping[str, Sequence[float]],
    lam: float,
    method: str,
) -> dict[str, Any]:
    return {
        "method": method,
        "probability_two_random_records_match": lam,
        "comparisons": {
            c.name: [
                {
                    "level": lv.label,
                    "m": round(float(m[c.name][k]), 6),
                    "u": round(float(u[c.name][k]), 8),
                    "weight_bits": round(math.log2(float(m[c.name][k]) / float(u[c.name][k])), 2),
                }
                for k, lv in enumerate(c.scored)
            ]
            for c in comps
        },
    }


# ---------------------------------------------------------------------------------------------
# Clustering
# ---------------------------------------------------------------------------------------------


def _cluster(
    feats: pl.DataFrame, pairs: pl.DataFrame, threshold: float, n_sources: int
) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Greedy merging by descending probability, at most one record per source per cluster.

    Returns the cluster label (a representative unique_id) of every record, and the pairs at
    or above the threshold that were not merged because a source would appear twice.
    """
    n = feats.height
    parent = np.arange(n, dtype=np.int64)
    src = feats["src"].to_numpy()
    masks = [1 << int(s) for s in src]
    accepted = pairs.filter(pl.col("match_probability") >= threshold).sort(
        ["match_probability", "unique_id_l", "unique_id_r"], descending=[True, False, False]
    )

    def find(i: int) -> int:
        root = i
        while parent[root] != root:
            root = int(parent[root])
        while parent[i] != root:
            parent[i], i = root, int(parent[i])
        return root

    conflicts: list[tuple[int, int]] = []
    for left, right in accepted.select("unique_id_l", "unique_id_r").iter_rows():
        a, b = find(left), find(right)
        if a == b:
            continue
        if masks[a] & masks[b]:
            conflicts.append((left, right))
            continue
        if b < a:
            a, b = b, a
        parent[b] = a
        masks[a] |= masks[b]
    labels = np.fromiter((find(i) for i in range(n)), dtype=np.int64, count=n)
    return labels, conflicts


def _name_clusters(feats: pl.DataFrame) -> dict[int, str]:
    """Stable consolidated ids: numbered by date, place and first record."""
    first = (
        feats.group_by("cluster")
        .agg(pl.col("dday").min(), pl.col("country").min(), pl.col("unique_id").min())
        .sort("dday", "country", "unique_id")
    )
    width = max(6, len(str(first.height)))
    return {int(c): f"V{i + 1:0{width}d}" for i, c in enumerate(first["cluster"].to_list())}


# ---------------------------------------------------------------------------------------------
# Outputs
# ---------------------------------------------------------------------------------------------


def _pattern_names(sources: Sequence[str]) -> list[str]:
    """``all_sources`` then every proper non-empty subset: ``police_only``, ``police+forensic``."""
    out = ["all_sources"]
    for k in range(1, len(sources)):
        for combo in itertools.combinations(sources, k):
            out.append(f"{combo[0]}_only" if k == 1 else "+".join(combo))
    return out


def _pattern_of(present: Sequence[str], sources: Sequence[str]) -> str:
    if len(present) == len(sources):
        return "all_sources"
    if len(present) == 1:
        return f"{present[0]}_only"
    return "+".join(present)


def _pattern_totals(consolidated: pl.DataFrame, sources: Sequence[str]) -> dict[str, int]:
    counts = dict.fromkeys(_pattern_names(sources), 0)
    for present in consolidated["sources"].to_list():
        counts[_pattern_of(present.split("+"), sources)] += 1
    return counts


def _consolidate(
    feats: pl.DataFrame,
    pairs: pl.DataFrame,
    sources: Sequence[str],
    prefer: str,
    flagged: set[int],
    threshold: float,
    cluster_ids: Mapping[int, str],
) -> pl.DataFrame:
    pref_idx = sources.index(prefer) if prefer in sources else -1
    f = feats.with_columns(
        # Preferred source first, then the input order.
        prio=pl.when(pl.col("src") == pref_idx).then(-1).otherwise(pl.col("src")),
        flagged=pl.col("unique_id").is_in(list(flagged)),
        has_name=pl.col("given_key").is_not_null() | pl.col("surname_key").is_not_null(),
        area_n=pl.len().over("cluster", "area2").cast(pl.Int64),
    )
    internal = (
        pairs.filter(pl.col("c_l") == pl.col("c_r"))
        .group_by("c_l")
        .agg(pl.col("match_probability").min().alias("match_probability"))
        .rename({"c_l": "cluster"})
    )
    by_prio = f.sort("cluster", "prio")
    first_named = (
        by_prio.filter(pl.col("has_name")).group_by("cluster", maintain_order=True).first()
    )
    first_case = (
        by_prio.filter(pl.col("case_number").is_not_null())
        .group_by("cluster", maintain_order=True)
        .first()
    )
    place_rec = (
        f.sort("cluster", pl.col("area2").is_null(), -pl.col("area_n"), "prio")
        .group_by("cluster", maintain_order=True)
        .first()
    )
    agg = f.group_by("cluster").agg(
        pl.col("dday").filter(pl.col("src") == pref_idx).first().alias("pref_day"),
        pl.col("dday").sort().get((pl.len() - 1) // 2).alias("median_day"),
        (pl.col("sex_key") == "male").sum().alias("n_male"),
        (pl.col("sex_key") == "female").sum().alias("n_female"),
        pl.col("sex_key").filter(pl.col("src") == pref_idx).first().alias("pref_sex"),
        pl.col("age").drop_nulls().sort().alias("ages"),
        pl.col("flagged").any().alias("flagged"),
        pl.col("src").sort().alias("srcs"),
        *[
            pl.col("record_id").filter(pl.col("src") == i).first().alias(f"{s}_record_id")
            for i, s in enumerate(sources)
        ],
    )
    out = (
        agg.join(
            place_rec.select("cluster", "country", "admin1", "admin2", "place"),
            on="cluster",
            how="left",
        )
        .join(first_named.select("cluster", "given_names", "surnames"), on="cluster", how="left")
        .join(first_case.select("cluster", "case_number"), on="cluster", how="left")
        .join(internal, on="cluster", how="left")
        .with_columns(
            date_of_death=pl.coalesce("pref_day", "median_day").cast(pl.Date),
            sex=pl.when(pl.col("n_male") > pl.col("n_female"))
            .then(pl.lit("male"))
            .when(pl.col("n_female") > pl.col("n_male"))
            .then(pl.lit("female"))
            .otherwise(pl.col("pref_sex").fill_null("unknown")),
            age=pl.col("ages")
            .list.get((pl.col("ages").list.len() - 1) // 2, null_on_oob=True)
            .cast(pl.Int32),
            sources=pl.col("srcs")
            .list.eval(pl.element().replace_strict(dict(enumerate(sources))))
            .list.join("+"),
            n_sources=pl.col("srcs").list.len().cast(pl.Int32),
        )
        .with_columns(
            needs_review=pl.col("flagged")
            | (pl.col("match_probability").fill_null(1.0) < threshold)
        )
    )
    ids = pl.DataFrame(
        {"cluster": list(cluster_ids), "consolidated_id": list(cluster_ids.values())},
        schema={"cluster": pl.Int64, "consolidated_id": pl.String},
    )
    return (
        out.join(ids, on="cluster")
        .sort("consolidated_id")
        .select(
            "consolidated_id", "date_of_death", "country", "admin1", "admin2", "place", "sex",
            "age", "given_names", "surnames", "case_number",
            *[f"{s}_record_id" for s in sources],
            "sources", "n_sources", "match_probability", "needs_review",
        )
    )  # fmt: skip


def _agreement(
    feats: pl.DataFrame, consolidated: pl.DataFrame, sources: Sequence[str]
) -> pl.DataFrame:
    keys = ["country", "admin1", "month"]
    patterns = _pattern_names(sources)
    c = consolidated.with_columns(
        month=pl.col("date_of_death").dt.strftime("%Y-%m"),
        pattern=pl.col("sources").map_elements(
            lambda s: _pattern_of(s.split("+"), sources), return_dtype=pl.String
        ),
    )
    counts = c.group_by(keys).agg(
        *[(pl.col("pattern") == p).sum().cast(pl.Int64).alias(p) for p in patterns],
        pl.len().cast(pl.Int64).alias("consolidated"),
        *[
            pl.col(f"{s}_record_id").is_not_null().sum().cast(pl.Int64).alias(f"n_{s}")
            for s in sources
        ],
    )
    reported = (
        feats.with_columns(month=pl.col("date_of_death").dt.strftime("%Y-%m"))
        .group_by(keys)
        .agg(
            *[(pl.col("source") == s).sum().cast(pl.Int64).alias(f"reported_{s}") for s in sources]
        )
    )
    out = counts.join(reported, on=keys, how="full", coalesce=True, nulls_equal=True)
    value_cols = [
        *patterns,
        "consolidated",
        *[f"n_{s}" for s in sources],
        *[f"reported_{s}" for s in sources],
    ]
    return (
        out.with_columns(pl.col(value_cols).fill_null(0))
        .sort(keys, nulls_last=True)
        .select(*keys, *value_cols)
    )


_SIDE_BY_SIDE = (
    ("date", ("date_of_death",)),
    ("place", ("place", "admin1", "admin2")),
    ("sex", ("sex",)),
    ("age", ("age",)),
    ("given_names", ("given_names",)),
    ("surnames", ("surnames",)),
    ("case_number", ("case_number",)),
)


def _review(
    feats: pl.DataFrame,
    pairs: pl.DataFrame,
    comps: Sequence[Comparison],
    conflicts: list[tuple[int, int]],
    threshold: float,
    band: float,
    cluster_ids: Mapping[int, str],
) -> pl.DataFrame:
    # Sources present in each group (one bit per source). A pair near the threshold whose two
    # groups already share a source (through stronger links) could not have been linked
    # whatever the threshold: it is not listed.
    masks = feats.group_by("cluster").agg(
        pl.lit(2, pl.Int64).pow(pl.col("src")).cast(pl.Int64).sum().alias("m")
    )
    near = (
        pairs.filter((pl.col("match_probability") - threshold).abs() <= band)
        .join(masks.rename({"cluster": "c_l", "m": "m_l"}), on="c_l")
        .join(masks.rename({"cluster": "c_r", "m": "m_r"}), on="c_r")
        .filter((pl.col("c_l") == pl.col("c_r")) | ((pl.col("m_l") & pl.col("m_r")) == 0))
        .drop("m_l", "m_r")
        .with_columns(reason=pl.lit("near the threshold"))
    )
    conflict_keys = pl.DataFrame(
        {"unique_id_l": [a for a, _ in conflicts], "unique_id_r": [b for _, b in conflicts]},
        schema={"unique_id_l": pl.Int64, "unique_id_r": pl.Int64},
    )
    blocked = pairs.join(conflict_keys, on=["unique_id_l", "unique_id_r"]).with_columns(
        reason=pl.lit("above the threshold, but its source is already in the group")
    )
    chosen = pl.concat([near, blocked]).unique(["unique_id_l", "unique_id_r"], keep="last")
    fields = ["source", "record_id", "date_of_death", "place", "admin1", "admin2", "sex", "age",
              "given_names", "surnames", "case_number"]  # fmt: skip
    left = feats.select("unique_id", *fields).rename({c: f"{c}_l" for c in ["unique_id", *fields]})
    right = feats.select("unique_id", *fields).rename({c: f"{c}_r" for c in ["unique_id", *fields]})
    joined = chosen.join(left, on="unique_id_l").join(right, on="unique_id_r")
    by_name = {c.name: c for c in comps}
    cmp_cols = [
        pl.col(f"gamma_{name}")
        .map_elements(by_name[name].label, return_dtype=pl.String)
        .alias(f"cmp_{name}")
        for name, _ in _SIDE_BY_SIDE
    ]
    ordered: list[str] = []
    for name, cols in _SIDE_BY_SIDE:
        for col in cols:
            ordered += [f"{col}_l", f"{col}_r"]
        ordered.append(f"cmp_{name}")
    if joined.height == 0:
        joined = joined.with_columns(
            [pl.lit(None, pl.String).alias(f"cmp_{n}") for n, _ in _SIDE_BY_SIDE]
        )
    else:
        joined = joined.with_columns(cmp_cols)
    return (
        joined.with_columns(
            linked=pl.col("c_l") == pl.col("c_r"),
            consolidated_id_l=pl.col("c_l").replace_strict(cluster_ids, return_dtype=pl.String),
            consolidated_id_r=pl.col("c_r").replace_strict(cluster_ids, return_dtype=pl.String),
        )
        .sort("match_probability", descending=True)
        .select(
            pl.col("unique_id_l").alias("uid_l"),
            pl.col("unique_id_r").alias("uid_r"),
            "reason", "match_probability", "match_weight", "linked",
            "source_l", "record_id_l", "consolidated_id_l",
            "source_r", "record_id_r", "consolidated_id_r",
            *ordered,
        )
    )  # fmt: skip


def _public_pairs(
    feats: pl.DataFrame, pairs: pl.DataFrame, comps: Sequence[Comparison]
) -> pl.DataFrame:
    ids = feats.select("unique_id", "source", "record_id")
    return (
        pairs.join(ids.rename(lambda c: f"{c}_l"), on="unique_id_l")
        .join(ids.rename(lambda c: f"{c}_r"), on="unique_id_r")
        .select(
            "source_l", "record_id_l", "source_r", "record_id_r", "match_probability",
            "match_weight", *[f"gamma_{c.name}" for c in comps],
        )
        .sort("match_probability", descending=True)
    )  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Evaluation against a known truth
# ---------------------------------------------------------------------------------------------


def evaluate(recon: Reconciliation, truth: pl.DataFrame) -> dict[str, float]:
    """Pairwise precision, recall and F1 of the linkage, and the error of the consolidated count.

    Args:
        recon: The result of :func:`reconcile`.
        truth: ``source, record_id, victim_id`` for every record (e.g. from
            :func:`safestreets.demo.homicide_lists.generate_homicide_lists`).

    Returns:
        ``precision``, ``recall``, ``f1`` over the cross-source record pairs implied by the
        consolidated victims versus those of the true victims (records the reconciliation
        did not see are left out); ``true_victims`` (distinct true victims in at least one
        list), ``consolidated``, ``count_error`` (consolidated minus true victims),
        ``relative_count_error``, and ``errors_flagged``: the share of wrong or missed pairs
        that touch a consolidated victim flagged ``needs_review``.
    """
    m = recon.membership.join(
        truth.select("source", "record_id", "victim_id"), on=["source", "record_id"], how="left"
    )
    if m["victim_id"].null_count():
        raise InputError(
            f"{m['victim_id'].null_count()} records have no victim_id in the truth",
            hint="give the truth of every source list",
        )
    keyed = m.with_columns(key=pl.concat_str("source", pl.lit("\x1f"), "record_id"))

    def pair_set(group: str) -> set[tuple[str, str]]:
        g = keyed.select(group, "key")
        j = g.join(g, on=group, suffix="_r").filter(pl.col("key") < pl.col("key_r"))
        return set(zip(j["key"].to_list(), j["key_r"].to_list(), strict=True))

    predicted = pair_set("consolidated_id")
    true = pair_set("victim_id")
    tp = len(predicted & true)
    precision = tp / len(predicted) if predicted else 1.0
    recall = tp / len(true) if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    # How many linkage errors a reviewer would meet by checking the flagged victims only.
    flagged = set(recon.consolidated.filter("needs_review")["consolidated_id"].to_list())
    cid = dict(zip(keyed["key"].to_list(), keyed["consolidated_id"].to_list(), strict=True))
    wrong = predicted ^ true
    caught = sum(1 for a, b in wrong if cid[a] in flagged or cid[b] in flagged)
    n_true = int(keyed["victim_id"].n_unique())
    n_cons = int(keyed["consolidated_id"].n_unique())
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "true_pairs": float(len(true)),
        "predicted_pairs": float(len(predicted)),
        "true_victims": float(n_true),
        "consolidated": float(n_cons),
        "count_error": float(n_cons - n_true),
        "relative_count_error": (n_cons - n_true) / n_true if n_true else 0.0,
        "errors_flagged": caught / len(wrong) if wrong else 1.0,
    }
