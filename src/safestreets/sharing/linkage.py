"""Batch linking and deduplication of person records with Splink (DuckDB backend).

The flow, and why it is fast enough for a million records on two cores:

1. :func:`prepare` normalises the records once, vectorised in Polars
   (:func:`safestreets.sharing.names.normalise_persons`), and keeps only the columns the
   comparisons and blocking rules read; the frame goes to DuckDB as Arrow (no pandas).
2. :func:`train` fits the Fellegi-Sunter model with Splink on a random sample of at most
   ``TRAIN_SAMPLE`` records: the probability that two random records match, the m and u
   probabilities, all survive uniform record sampling (matches and pairs both shrink by the
   square of the fraction), and fitting is the costly part. u comes from ``max_pairs`` random
   pairs in one pass (:func:`estimate_u`), the prior from deterministic rules, m from
   Splink's expectation maximisation on two blocking rules that leave each other's fields
   free. The trained levels become a :class:`MatchModel` (log2 Bayes factors), the same
   weights the online index scores single records with.
3. :func:`link` / :func:`dedupe` hand the model back to Splink and predict over the pairs of
   the blocking rules (phonetic name keys with the birth year, the national id, the date of
   birth with one name key, swapped surnames), then name the comparisons that agreed.
   Clusters are the connected components of the pairs at the threshold (SciPy, a sparse
   graph: seconds for millions of edges, no SQL iteration).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import polars as pl

from safestreets.errors import InputError
from safestreets.sharing.comparisons import (
    Comparison,
    MatchModel,
    comparisons_by_name,
    default_model,
    model_from_m_u,
)

#: Fewer records than this (both files together) get the default model: nothing to fit.
MIN_TRAIN_RECORDS = 200
#: Records used to fit the model; more only costs time (the estimates do not need them).
TRAIN_SAMPLE = 100_000
#: Random pairs for the u estimates.
U_MAX_PAIRS = 500_000
#: DuckDB threads and memory limit: a million records fit in both on a two-core machine with
#: room to spare (DuckDB spills to disk beyond the limit rather than failing).
DUCKDB_THREADS = 2
DUCKDB_MEMORY = "4GB"

#: Pairs Splink compares: any rule is enough (Splink keeps each pair once). Measured on a
#: million synthetic records (demo.persons, 30 % duplicates): 99.5 % of the true pairs meet a
#: rule, with about 5 million candidate pairs. Every rule joins on equalities only (hash joins);
#: a rule without a selective key explodes (swapped surnames alone: 14 million pairs).
BLOCKING_RULES: tuple[str, ...] = (
    "l.id_n = r.id_n",
    "l.given_1_ph = r.given_1_ph AND l.surname_1_ph = r.surname_1_ph AND l.dob_year = r.dob_year",
    "l.surname_1_ph = r.surname_1_ph AND l.surname_2_ph = r.surname_2_ph "
    "AND l.dob_year = r.dob_year",
    "l.given_1_ph = r.given_1_ph AND l.dob = r.dob",
    "l.surname_1_ph = r.surname_1_ph AND l.dob = r.dob",
    "l.given_1_ph = r.given_1_ph AND l.surname_1_ph = r.surname_1_ph "
    "AND l.dob_month = r.dob_month AND l.dob_day = r.dob_day",
    # no date of birth on one side (no second surname on both counts as the same)
    "l.given_1_ph = r.given_1_ph AND l.surname_1_ph = r.surname_1_ph "
    "AND coalesce(l.surname_2_ph, '') = coalesce(r.surname_2_ph, '')",
    "l.given_1_ph = r.given_1_ph AND l.surname_1_ph = r.surname_1_ph "
    "AND l.municipality_n = r.municipality_n",
    "l.surname_1_ph = r.surname_1_ph AND l.surname_2_ph = r.surname_2_ph "
    "AND l.municipality_n = r.municipality_n",
    "l.dob = r.dob AND l.municipality_n = r.municipality_n",
    # swaps: surnames, given names, given name and surname
    "l.surname_1_ph = r.surname_2_ph AND l.surname_2_ph = r.surname_1_ph "
    "AND l.given_1_ph = r.given_1_ph",
    "l.given_1 = r.given_2 AND l.given_2 = r.given_1 AND l.surname_1_ph = r.surname_1_ph",
    "l.given_1_ph = r.surname_1_ph AND l.surname_1_ph = r.given_1_ph",
)
#: Rules of records that match for sure (national id, or full name and date of birth), for
#: the prior (Splink's ``estimate_probability_two_random_records_match``).
DETERMINISTIC_RULES: tuple[str, ...] = (
    "l.id_n = r.id_n AND l.dob = r.dob",
    "l.given_n = r.given_n AND l.surname_1_n = r.surname_1_n AND l.dob = r.dob",
)
#: The share of all matches the deterministic rules are taken to find.
DETERMINISTIC_RECALL = 0.7
#: Expectation maximisation sessions: each leaves the other's fields free to estimate.
EM_RULES: tuple[str, ...] = (
    "l.given_1_ph = r.given_1_ph AND l.surname_1_ph = r.surname_1_ph",
    "l.dob = r.dob",
)

#: Columns :func:`prepare` keeps (those the comparisons and blocking rules read).
KEEP_COLUMNS: tuple[str, ...] = (
    "record_id",
    "given_n",
    "given_1",
    "given_2",
    "given_1_ph",
    "surname_1_n",
    "surname_2_n",
    "married_n",
    "surname_1_ph",
    "surname_2_ph",
    "dob",
    "dob_year",
    "dob_month",
    "dob_day",
    "sex_n",
    "id_n",
    "id_status",
    "municipality_n",
    "address_n",
    "aliases_n",
)

_LEFT, _RIGHT = "a_left", "b_right"

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------
# Preparation
# ---------------------------------------------------------------------------------------------


def _fold(expr: pl.Expr) -> pl.Expr:
    from safestreets.sharing.names import fold_expr

    folded = fold_expr(expr)
    return pl.when(folded == "").then(None).otherwise(folded)


def prepare(df: pl.DataFrame, *, extra: Sequence[str] = ()) -> pl.DataFrame:
    """The columns the comparisons read, normalised once.

    Args:
        df: Person records with the canonical columns (missing ones count as empty), or a
            frame already through ``names.normalise_persons``.
        extra: Optional extra fields (for example ``postcode``) present in ``df``, compared
            as ``<name>_n`` (folded, spaces removed).

    Returns:
        ``record_id`` (as text) and the normalised columns of :data:`KEEP_COLUMNS`, plus
        ``<extra>_n``.

    Raises:
        InputError: ``record_id`` is missing, null or repeated, or an extra field is absent.
    """
    if "record_id" not in df.columns:
        raise InputError("the person records have no record_id column", hint="add one")
    if df["record_id"].null_count():
        raise InputError(
            "some person records have no record_id",
            hint="read_persons sets them aside; give every record an id",
        )
    if df["record_id"].n_unique() != df.height:
        raise InputError("record_id repeats in the person records", hint="make ids unique")
    wanted = (*KEEP_COLUMNS, *(f"{e}_n" for e in extra))
    if set(wanted) <= set(df.columns):  # prepared already
        return df.select(wanted)
    missing = [e for e in extra if e not in df.columns]
    if missing:
        raise InputError(
            f"extra comparison field(s) {', '.join(missing)} not in the records",
            hint="give only fields the file has",
        )
    out = df.with_columns(pl.col("record_id").cast(pl.String))
    if "given_n" not in out.columns:
        from safestreets.sharing.names import normalise_persons

        out = normalise_persons(out)
    adds = []
    if "address_n" not in out.columns:
        src = pl.col("address") if "address" in out.columns else pl.lit(None, pl.String)
        adds.append(_fold(src).alias("address_n"))
    for e in extra:
        adds.append(_fold(pl.col(e).cast(pl.String)).str.replace_all(" ", "").alias(f"{e}_n"))
    if adds:
        out = out.with_columns(adds)
    return out.select(wanted)


# ---------------------------------------------------------------------------------------------
# Splink plumbing
# ---------------------------------------------------------------------------------------------


def _connection() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(f"SET threads = {DUCKDB_THREADS}")
    con.execute(f"SET memory_limit = '{DUCKDB_MEMORY}'")
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET enable_progress_bar = false")
    return con


def _comparisons(model: MatchModel | None, extra: Sequence[str]) -> list[Comparison]:
    if model is not None:
        return list(model.comparisons)
    return list(comparisons_by_name(extra).values())


def _settings(
    link_type: str,
    comparisons: Sequence[Comparison],
    *,
    model: MatchModel | None,
    blocking: Sequence[str],
    u: dict[str, list[float | None]] | None = None,
) -> dict[str, Any]:
    comps = []
    for comp in comparisons:
        spec = comp.splink()
        if u is not None:
            for lv, value in zip(spec["comparison_levels"][1:], u[comp.name][1:], strict=True):
                if value is not None:
                    lv["u_probability"] = value
        if model is not None:
            # Splink multiplies m/u; any pair with the model's ratio gives its weights (kept
            # within +-900 bits, where neither underflows).
            for i, lv in enumerate(spec["comparison_levels"][1:], start=1):
                bf = 2.0 ** max(-900.0, min(900.0, model.weights[comp.name][i]))
                lv["m_probability"] = bf / (1.0 + bf)
                lv["u_probability"] = 1.0 / (1.0 + bf)
        comps.append(spec)
    settings: dict[str, Any] = {
        "link_type": link_type,
        "unique_id_column_name": "record_id",
        "comparisons": comps,
        "blocking_rules_to_generate_predictions": list(blocking),
        "retain_matching_columns": False,
        "retain_intermediate_calculation_columns": True,
    }
    if model is not None:
        settings["probability_two_random_records_match"] = model.prior
    return settings


@dataclass
class _Session:
    linker: Any
    con: duckdb.DuckDBPyConnection
    comparisons: list[Comparison]
    tables: list[Any]


def _linker(
    frames: Sequence[pl.DataFrame],
    *,
    model: MatchModel | None,
    extra: Sequence[str],
    blocking: Sequence[str] = BLOCKING_RULES,
    u: dict[str, list[float | None]] | None = None,
    con: duckdb.DuckDBPyConnection | None = None,
) -> _Session:
    from splink import DuckDBAPI, Linker

    con = con or _connection()
    db_api = DuckDBAPI(connection=con)
    names = (_LEFT, _RIGHT)
    tables = [
        db_api.register(f.to_arrow(), dataset_display_name=names[i]) for i, f in enumerate(frames)
    ]
    comparisons = _comparisons(model, extra)
    link_type = "link_only" if len(frames) == 2 else "dedupe_only"
    settings = _settings(link_type, comparisons, model=model, blocking=blocking, u=u)
    # Splink's settings validation parses every level's SQL again (0.1-0.4 s a linker); the
    # settings are generated here and validated once, for training (a test validates those of
    # prediction).
    linker = Linker(
        tables if len(tables) == 2 else tables[0],
        settings,
        log_level=None,
        validate_settings=model is None,
    )
    return _Session(linker, con, comparisons, tables)


def _quiet_splink() -> None:
    # Splink logs every step at INFO and warns about untrained levels; the CLI has its own
    # progress line.
    for name in ("splink", "splink.internals"):
        logging.getLogger(name).setLevel(logging.ERROR)


# ---------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------


def _sample(df: pl.DataFrame, n: int, seed: int) -> pl.DataFrame:
    return df if df.height <= n else df.sample(n, seed=seed, shuffle=False)


def _extract(linker: Any, comparisons: Sequence[Comparison], extra: Sequence[str]) -> MatchModel:
    """The trained Splink model as a MatchModel (m/u per level -> log2 Bayes factors)."""
    spec = linker.misc.save_model_to_json()
    prior = float(spec["probability_two_random_records_match"])
    m: dict[str, list[float | None]] = {}
    u: dict[str, list[float | None]] = {}
    by_name = {c["output_column_name"]: c for c in spec["comparisons"]}
    for comp in comparisons:
        levels = by_name[comp.name]["comparison_levels"]
        m[comp.name] = [_prob(lv.get("m_probability")) for lv in levels]
        u[comp.name] = [_prob(lv.get("u_probability")) for lv in levels]
        m[comp.name][0] = u[comp.name][0] = None
    return model_from_m_u(prior, m, u, extra=extra)


def _prob(v: Any) -> float | None:
    # Splink writes "level not observed in training dataset" for levels it never saw.
    return float(v) if isinstance(v, int | float) and not math.isnan(v) else None


def train(
    left: pl.DataFrame,
    right: pl.DataFrame | None = None,
    *,
    seed: int = 0,
    extra: Sequence[str] = (),
    sample: int = TRAIN_SAMPLE,
    max_pairs: int = U_MAX_PAIRS,
) -> MatchModel:
    """Fit the match model with Splink (DuckDB) on the records.

    Args:
        left: Person records (canonical or normalised columns).
        right: For linking, the other file; None to fit for deduplicating ``left``.
        seed: Seed of the record sample and of the random pairs.
        extra: Optional extra fields to compare (for example ``postcode``).
        sample: At most this many records of each side are used.
        max_pairs: Random pairs for the u estimates.

    Returns:
        The fitted model (levels never seen in training keep their default weights; an exact
        national id with a failed check digit never outweighs a valid one).
    """
    _quiet_splink()
    frames = [_sample(prepare(left, extra=extra), sample, seed)]
    if right is not None:
        frames.append(_sample(prepare(right, extra=extra), sample, seed + 1))
    con = _connection()
    comparisons = list(comparisons_by_name(extra).values())
    u = estimate_u(con, frames, comparisons, max_pairs=max_pairs, seed=seed)
    session = _linker(frames, model=None, extra=extra, u=u, con=con)
    tr = session.linker.training
    try:
        tr.estimate_probability_two_random_records_match(
            list(DETERMINISTIC_RULES), recall=DETERMINISTIC_RECALL
        )
    except Exception:  # no deterministic match at all (tiny inputs): keep Splink's default
        logger.info("prior not estimated; no deterministic matches")
    for rule in EM_RULES:
        _em_session(session, rule)
    model = _extract(session.linker, session.comparisons, extra)
    session.con.close()
    return model


def _rows_for_pairs(pairs: int) -> int:
    """Records whose pairs within (n (n - 1) / 2) number about ``pairs``."""
    return math.ceil(0.5 * (math.sqrt(8 * pairs + 1) + 1))


def estimate_u(
    con: duckdb.DuckDBPyConnection,
    frames: Sequence[pl.DataFrame],
    comparisons: Sequence[Comparison],
    *,
    max_pairs: int = U_MAX_PAIRS,
    seed: int = 0,
) -> dict[str, list[float | None]]:
    """u per level: the share of random record pairs at each level (null level excluded).

    What Splink's ``estimate_u_using_random_sampling`` computes, in one pass: Splink 5 runs
    one query per comparison, each building the pairs again, and that fixed cost was half the
    time of fitting FEBRL4 (ten comparisons). Here the pairs are built once and every
    comparison's level (Splink's own SQL conditions) is read off the same rows. Pairs are
    random pairs of a random sample (a dedupe: within one sample; a link: between a sample of
    each side, both the same fraction of their file), so nearly all are non-matches.

    Args:
        con: The DuckDB connection to use.
        frames: One prepared frame (dedupe) or two (link).
        comparisons: The comparisons.
        max_pairs: About this many pairs.
        seed: Seed of the record samples.

    Returns:
        Comparison name -> u per level (None for the null level and unseen levels).
    """
    if len(frames) == 1:
        left = right = _sample(frames[0], _rows_for_pairs(max_pairs), seed)
    else:
        share = min(1.0, math.sqrt(max_pairs / max(1, frames[0].height * frames[1].height)))
        left = _sample(frames[0], max(1, round(share * frames[0].height)), seed)
        right = _sample(frames[1], max(1, round(share * frames[1].height)), seed + 1)
    con.register("__u_l", left.with_row_index("__i").rename(lambda c: f"{c}_l").to_arrow())
    con.register("__u_r", right.with_row_index("__i").rename(lambda c: f"{c}_r").to_arrow())
    cases = []
    for k, comp in enumerate(comparisons):
        whens = " ".join(f"WHEN {lv.sql} THEN {i}" for i, lv in enumerate(comp.levels[:-1]))
        cases.append(f"CASE {whens} ELSE {len(comp.levels) - 1} END AS g{k}")
    within = "WHERE __i_l < __i_r" if len(frames) == 1 else ""
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE __u AS SELECT {', '.join(cases)} "
        f"FROM __u_l CROSS JOIN __u_r {within}"
    )
    out: dict[str, list[float | None]] = {}
    for k, comp in enumerate(comparisons):
        counts = dict(con.execute(f"SELECT g{k}, count(*) FROM __u GROUP BY 1").fetchall())
        total = sum(n for level, n in counts.items() if level > 0)
        u: list[float | None] = [None]
        u += [counts[i] / total if counts.get(i) else None for i in range(1, len(comp.levels))]
        out[comp.name] = u
    con.execute("DROP TABLE __u")
    con.unregister("__u_l")
    con.unregister("__u_r")
    return out


def _em_session(session: _Session, rule: str) -> None:
    """One expectation-maximisation session; on failure the model is left as it was.

    Splink 5 refuses an m probability of exactly 0.0, which EM reaches for a level that no
    likely match falls on (say, two aliases lists that share nothing, when duplicates copy
    their aliases). It raises in the middle of the session and leaves the linker without the
    comparisons it had set aside; the model saved before the session is put back instead,
    and those levels keep the other session's (or the default) m.
    """
    from splink import Linker

    before = session.linker.misc.save_model_to_json()
    try:
        session.linker.training.estimate_parameters_using_expectation_maximisation(
            rule, estimate_without_term_frequencies=True
        )
    except Exception as exc:  # Splink raises ValueError, SplinkException, DuckDB errors
        logger.info("EM on %s skipped: %s", rule, exc)
        tables = session.tables if len(session.tables) == 2 else session.tables[0]
        session.linker = Linker(tables, before, log_level=None)


# ---------------------------------------------------------------------------------------------
# Prediction
# ---------------------------------------------------------------------------------------------


def _agreeing_sql(model: MatchModel) -> str:
    """SQL naming, comma-joined, the comparisons whose level has a positive weight.

    Splink's ``mw_<name>`` is the level's log2 Bayes factor (0 on the null level).
    """
    parts = [f"CASE WHEN mw_{c.name} > 0 THEN '{c.name}' END" for c in model.comparisons]
    return f"concat_ws(',', {', '.join(parts)})"


def _predict(
    frames: Sequence[pl.DataFrame],
    *,
    model: MatchModel,
    threshold: float,
    blocking: Sequence[str],
) -> pl.DataFrame:
    session = _linker(frames, model=model, extra=model.extra, blocking=blocking)
    pred = session.linker.inference.predict(
        threshold_match_probability=threshold, warning_mode="never"
    )
    rel = session.con.sql(
        f"""SELECT record_id_l, record_id_r, source_dataset_l, match_probability,
        match_weight, {_agreeing_sql(model)} AS agreeing FROM {pred.physical_name}"""
        if len(frames) == 2
        else f"""SELECT record_id_l, record_id_r, match_probability, match_weight,
        {_agreeing_sql(model)} AS agreeing FROM {pred.physical_name}"""
    )
    out = pl.from_arrow(rel.to_arrow_table())
    session.con.close()
    assert isinstance(out, pl.DataFrame)
    return out


def _check_threshold(threshold: float) -> None:
    if not 0.0 <= threshold <= 1.0:
        raise InputError(f"threshold {threshold} is not a probability", hint="use 0..1")


def model_for(
    left: pl.DataFrame,
    right: pl.DataFrame | None = None,
    *,
    extra: Sequence[str] = (),
) -> tuple[MatchModel, str]:
    """A model fitted on the records, or the default model when they are too few to fit.

    Returns:
        The model and where it came from: ``"trained"`` or ``"default"``.
    """
    n = left.height + (right.height if right is not None else 0)
    if n < MIN_TRAIN_RECORDS:
        return default_model(extra=extra), "default"
    return train(left, right, extra=extra), "trained"


def link(
    left: pl.DataFrame,
    right: pl.DataFrame,
    *,
    model: MatchModel | None = None,
    threshold: float = 0.5,
    extra: Sequence[str] = (),
) -> pl.DataFrame:
    """Link two person files: the pairs (one record from each) that match.

    Args:
        left: Person records (canonical or normalised columns).
        right: The other file's records.
        model: A fitted or saved model; None fits one on these records (see :func:`train`).
        threshold: Keep pairs with a match probability at least this.
        extra: Optional extra fields to compare (when ``model`` is None).

    Returns:
        ``left_id, right_id, match_probability, match_weight, agreeing`` (agreeing: the
        comparisons with a positive weight, comma-joined), best pairs first.
    """
    _check_threshold(threshold)
    _quiet_splink()
    extra = model.extra if model is not None else tuple(extra)
    frames = [prepare(left, extra=extra), prepare(right, extra=extra)]
    if min(f.height for f in frames) == 0:
        return _empty_pairs("left_id", "right_id")
    if model is None:
        model = model_for(frames[0], frames[1], extra=extra)[0]
    pairs = _predict(frames, model=model, threshold=threshold, blocking=_blocking(extra))
    flipped = pl.col("source_dataset_l") != _LEFT
    return pairs.select(
        pl.when(flipped).then("record_id_r").otherwise("record_id_l").alias("left_id"),
        pl.when(flipped).then("record_id_l").otherwise("record_id_r").alias("right_id"),
        "match_probability",
        "match_weight",
        "agreeing",
    ).sort(["match_weight", "left_id", "right_id"], descending=[True, False, False])


def _blocking(extra: Sequence[str]) -> tuple[str, ...]:
    """The blocking rules, with those of the extra fields.

    An extra field (a postcode, say) is a place key: with it, records whose name keys and
    birth dates all differ can still meet, if they share the field and the municipality, the
    first given name key, the date of birth, or the first letter of a name. On FEBRL4 without
    the shared identifier these rules lift the share of true pairs blocked from 96.3 % to
    99.1 %, for 7,900 more pairs of 25 million.
    """
    more = []
    for e in extra:
        key = f"l.{e}_n = r.{e}_n"
        more += [
            f"{key} AND l.given_1_ph = r.given_1_ph",
            f"{key} AND l.dob = r.dob",
            f"{key} AND l.municipality_n = r.municipality_n",
            f"{key} AND substr(l.given_1, 1, 1) = substr(r.given_1, 1, 1)",
            f"{key} AND substr(l.surname_1_n, 1, 1) = substr(r.surname_1_n, 1, 1)",
        ]
    return BLOCKING_RULES + tuple(more)


def dedupe(
    df: pl.DataFrame,
    *,
    model: MatchModel | None = None,
    threshold: float = 0.5,
    extra: Sequence[str] = (),
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Find the records of one file that are the same person, and group them.

    Args:
        df: Person records (canonical or normalised columns).
        model: A fitted or saved model; None fits one on these records (see :func:`train`).
        threshold: Pairs at or above this match probability join records into a cluster.
        extra: Optional extra fields to compare (when ``model`` is None).

    Returns:
        The pairs (``id_1, id_2, match_probability, match_weight, agreeing``; ``id_1`` the
        smaller id) and the clusters (``record_id, cluster_id, cluster_size``, every record
        once; ``cluster_id`` is the cluster's smallest record id).
    """
    _check_threshold(threshold)
    _quiet_splink()
    extra = model.extra if model is not None else tuple(extra)
    frame = prepare(df, extra=extra)
    if frame.height < 2:
        pairs = _empty_pairs("id_1", "id_2")
    else:
        if model is None:
            model = model_for(frame, extra=extra)[0]
        raw = _predict([frame], model=model, threshold=threshold, blocking=_blocking(extra))
        low = pl.col("record_id_l") <= pl.col("record_id_r")
        pairs = raw.select(
            pl.when(low).then("record_id_l").otherwise("record_id_r").alias("id_1"),
            pl.when(low).then("record_id_r").otherwise("record_id_l").alias("id_2"),
            "match_probability",
            "match_weight",
            "agreeing",
        ).sort(["match_weight", "id_1", "id_2"], descending=[True, False, False])
    return pairs, clusters(frame["record_id"], pairs)


def clusters(ids: pl.Series, pairs: pl.DataFrame) -> pl.DataFrame:
    """Connected components of the pairs: ``record_id, cluster_id, cluster_size``.

    Args:
        ids: Every record id (each appears once in the result, singletons included).
        pairs: ``id_1, id_2`` edges (already at the threshold).
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    # A sparse graph and SciPy's connected components rather than Splink's iterative SQL
    # clustering: one pass, seconds for millions of edges.
    ids = ids.cast(pl.String)
    n = ids.len()
    index = pl.DataFrame({"record_id": ids, "_i": np.arange(n, dtype=np.int64)})
    edges = (
        pairs.select("id_1", "id_2")
        .join(index.rename({"record_id": "id_1", "_i": "a"}), on="id_1")
        .join(index.rename({"record_id": "id_2", "_i": "b"}), on="id_2")
    )
    a, b = edges["a"].to_numpy(), edges["b"].to_numpy()
    graph = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    out = index.with_columns(pl.Series("_c", labels))
    return out.select(
        "record_id",
        pl.col("record_id").min().over("_c").alias("cluster_id"),
        pl.len().over("_c").cast(pl.Int64).alias("cluster_size"),
    )


def _empty_pairs(a: str, b: str) -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            a: pl.String,
            b: pl.String,
            "match_probability": pl.Float64,
            "match_weight": pl.Float64,
            "agreeing": pl.String,
        }
    )


__all__ = [
    "BLOCKING_RULES",
    "KEEP_COLUMNS",
    "clusters",
    "dedupe",
    "estimate_u",
    "link",
    "model_for",
    "prepare",
    "train",
]
