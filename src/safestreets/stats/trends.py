"""Trends: period-over-period changes and unusual periods, described in plain Spanish or English.

Input is an indicator frame: one row per (breakdown..., period) with ``period`` (a label such as
"2021", "2021-Q2", "2021-05" or "2021-W07"), ``period_start`` and ``period_end`` (inclusive
dates), ``count`` (may be null when suppressed), optionally ``population`` and ``rate_per_100k``,
and any breakdown columns. Periods in one call share one granularity.

Changes (:func:`period_changes`, :func:`year_over_year`)
    Each period is compared with an earlier one of the same group. Whether the change is real is
    decided by a test, not a threshold: the two counts are taken as Poisson with exposure
    ``E = population x days`` (``E = days`` when either population is missing), and under equal
    rates the current count, given the total ``n = x_prev + x_cur``, is
    ``Binomial(n, E_cur / (E_prev + E_cur))``. ``scipy.stats.binomtest`` gives the two-sided
    p-value; below ``alpha`` the direction is "up" or "down" by the exposure-adjusted rates,
    otherwise "no_clear_change". A rate column is described but tested on its ``count``.

Unusual periods (:func:`unusual_periods`), a simplified Farrington method
    For a monthly, quarterly or weekly period t, the reference set is the same period in each of
    the previous ``years_back`` years together with ``window`` neighbouring periods on each side
    (t - k*P + d for k = 1..years_back, d = -window..window, P = 12, 4 or 52 periods a year):
    up to ``years_back * (2*window + 1)`` values, suppressed or absent periods left out. Each
    reference count is scaled to the exposure of period t (``c * E_t / E_ref``, exposure as
    above) so that short months and population growth do not bias the baseline. Then

    - expected ``mu`` = mean of the scaled reference values;
    - overdispersion ``phi = max(1, s^2 / mu)`` with ``s^2`` their sample variance (ddof 1);
    - the prediction interval is the central ``1 - alpha`` interval of the negative binomial
      with mean ``mu`` and variance ``phi * mu`` (``scipy.stats.nbinom`` with
      ``n = mu / (phi - 1)``, ``p = 1 / phi``), or of the Poisson with mean ``mu`` when
      ``phi == 1``: ``lower = ppf(alpha / 2)``, ``upper = ppf(1 - alpha / 2)``;
    - the flag is "high" when the observed count is above ``upper``, "low" when below ``lower``.

    With fewer than 5 reference values nothing is estimated and the note says so. Unlike the full
    Farrington algorithm there is no trend term, no power transformation and no down-weighting of
    past outbreaks, and the uncertainty of the estimated mean is not added to the interval.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl
from babel.numbers import format_decimal
from scipy import stats

from safestreets.errors import InputError

__all__ = [
    "MIN_REFERENCE",
    "granularity",
    "period_changes",
    "unusual_periods",
    "year_over_year",
]

LANGS = ("es", "en")
MIN_REFERENCE = 5
"""Fewest reference values for which :func:`unusual_periods` estimates a baseline."""

_LABEL_PATTERNS = {
    "year": r"^\d{4}$",
    "quarter": r"^\d{4}-Q[1-4]$",
    "month": r"^\d{4}-(0[1-9]|1[0-2])$",
    "week": r"^\d{4}-W(0[1-9]|[1-4]\d|5[0-3])$",
}
_PERIODS_PER_YEAR = {"year": 1, "quarter": 4, "month": 12, "week": 52}
_LABEL_HINT = (
    'Period labels look like "2021", "2021-Q2", "2021-05" or "2021-W07", one kind per call.'
)

# Private working columns; the prefix keeps them clear of any breakdown column.
_P = "__ss_"
_ROW, _VAL, _CNT, _DAYS, _POP, _IDX = (
    f"{_P}{n}" for n in ("row", "val", "cnt", "days", "pop", "idx")
)
_PREV = {c: f"{c}_prev" for c in (_VAL, _CNT, _DAYS, _POP)}
_PREV_PERIOD = f"{_P}period_prev"

_CHANGE_COLUMNS = (
    "previous_period",
    "previous",
    "change",
    "pct_change",
    "direction",
    "p_value",
    "description",
)
_UNUSUAL_COLUMNS = ("expected", "lower", "upper", "dispersion", "flag", "reference_n", "note")


# ---------------------------------------------------------------------------------------------
# Public functions
# ---------------------------------------------------------------------------------------------


def period_changes(
    frame: pl.DataFrame,
    *,
    by: Sequence[str] = (),
    value: str = "count",
    lag: int = 1,
    lang: str = "es",
    alpha: float = 0.05,
) -> pl.DataFrame:
    """Compare each period with the one ``lag`` periods earlier in the same group.

    Rows are matched by position within each ``by`` group ordered by ``period_start``, so a
    missing period shifts the comparison; :func:`year_over_year` matches by label instead.

    Args:
        frame: Indicator frame (see the module docstring).
        by: Breakdown columns; each combination is a separate series.
        value: Column to describe. An integer column is also the one tested; for a rate
            (float) column the test runs on ``count``.
        lag: How many periods back to compare with (12 for year-over-year on months).
        lang: "es" or "en" for ``description``.
        alpha: Significance level of the two-sided test.

    Returns:
        The input rows in their order, with ``previous_period`` (label compared with),
        ``previous``, ``change``, ``pct_change`` (percent; null when ``previous`` is 0 or null),
        ``direction`` ("up", "down", "no_clear_change", or null when a side is missing),
        ``p_value`` and ``description``.

    Raises:
        InputError: Missing columns, duplicate periods in a group, or a bad argument.
    """
    if not isinstance(lag, int) or isinstance(lag, bool) or lag < 1:
        raise InputError(
            f"lag must be a whole number of periods, 1 or more; got {lag!r}.",
            hint="Use lag=1 for period over period, 12 for months a year apart.",
        )
    keys = _check(frame, by=by, value=value, lang=lang, alpha=alpha)
    work = _prepare(frame, keys, value).sort([*keys, "period_start"])
    shifted = [
        _over(pl.col(c).shift(lag), keys).alias(p)
        for c, p in {**_PREV, "period": _PREV_PERIOD}.items()
    ]
    return _finish_changes(work.with_columns(shifted), frame, lang=lang, alpha=alpha, value=value)


def year_over_year(
    frame: pl.DataFrame,
    *,
    by: Sequence[str] = (),
    value: str = "count",
    lang: str = "es",
    alpha: float = 0.05,
) -> pl.DataFrame:
    """Compare each period with the same period a year earlier, matched by label.

    "2021-05" is compared with "2020-05", "2021-Q2" with "2020-Q2", "2021-W07" with "2020-W07"
    and "2021" with "2020". A period whose counterpart is absent gets no comparison, so gaps in
    the series never shift the pairing. Same arguments and output as :func:`period_changes`.

    Raises:
        InputError: As :func:`period_changes`, or unrecognised or mixed period labels.
    """
    keys = _check(frame, by=by, value=value, lang=lang, alpha=alpha)
    if frame.height == 0:
        return _empty_result(frame, _CHANGE_COLUMNS)
    kind = granularity(frame)
    year = pl.col("period").str.slice(0, 4).cast(pl.Int32) - 1
    rest = pl.col("period").str.slice(4) if kind != "year" else pl.lit("")
    work = _prepare(frame, keys, value).with_columns(
        (year.cast(pl.String) + rest).alias(_PREV_PERIOD)
    )
    earlier = work.select(
        *keys, pl.col("period").alias(_PREV_PERIOD), *(pl.col(c).alias(p) for c, p in _PREV.items())
    )
    work = work.join(earlier, on=[*keys, _PREV_PERIOD], how="left", nulls_equal=True)
    # A label with no counterpart row keeps no previous period at all.
    work = work.with_columns(
        pl.when(pl.col(_PREV[_DAYS]).is_null())
        .then(None)
        .otherwise(pl.col(_PREV_PERIOD))
        .alias(_PREV_PERIOD)
    )
    return _finish_changes(work, frame, lang=lang, alpha=alpha, value=value)


def unusual_periods(
    frame: pl.DataFrame,
    *,
    by: Sequence[str] = (),
    value: str = "count",
    years_back: int = 3,
    window: int = 1,
    alpha: float = 0.01,
    lang: str = "es",
) -> pl.DataFrame:
    """Flag periods far above or below their seasonal baseline (method in the module docstring).

    Args:
        frame: Monthly, quarterly or weekly indicator frame.
        by: Breakdown columns; each combination is a separate series.
        value: Column whose periods are judged. An integer column is the observed count; for
            a rate (float) column the count column ``count`` is used, since population
            differences are already absorbed by the exposure scaling.
        years_back: How many previous years supply reference periods.
        window: Neighbouring periods on each side of the same period in those years.
        alpha: Total probability outside the prediction interval (both tails).
        lang: "es" or "en" for ``note``.

    Returns:
        The input rows in their order, with ``expected`` (count), ``lower`` and ``upper``
        (prediction limits, counts), ``dispersion`` (phi), ``flag`` ("high", "low" or null),
        ``reference_n`` (reference values found) and ``note``.

    Raises:
        InputError: Missing columns, yearly periods, duplicate periods, or a bad argument.
    """
    keys = _check(frame, by=by, value=value, lang=lang, alpha=alpha)
    for name, got, least in (("years_back", years_back, 1), ("window", window, 0)):
        if not isinstance(got, int) or isinstance(got, bool) or got < least:
            raise InputError(
                f"{name} must be a whole number, {least} or more; got {got!r}.",
                hint="The defaults are years_back=3, window=1.",
            )
    work = _prepare(frame, keys, value)
    if work.height == 0:
        return _empty_result(frame, _UNUSUAL_COLUMNS)
    kind = granularity(work)
    per_year = _PERIODS_PER_YEAR[kind]
    if kind == "year":
        raise InputError(
            "Unusual-period detection needs monthly, quarterly or weekly periods.",
            hint="Compute the indicator by month (or week) and try again.",
        )
    if 2 * window + 1 > per_year:
        raise InputError(
            f"window={window} overlaps neighbouring years for {kind} periods.",
            hint=f"Use window of at most {(per_year - 1) // 2} for {kind} periods.",
        )
    start = pl.col("period_start")
    if kind == "week":
        index = (start - pl.lit(date(1970, 1, 5))).dt.total_days() // 7  # Mondays since 1970
    else:
        months = start.dt.year().cast(pl.Int64) * 12 + start.dt.month().cast(pl.Int64) - 1
        index = months if kind == "month" else months // 3
    work = work.with_columns(index.cast(pl.Int64).alias(_IDX))
    offsets = [
        k * per_year - d for k in range(1, years_back + 1) for d in range(-window, window + 1)
    ]

    results: list[dict[str, object]] = []
    for part in work.partition_by(keys, maintain_order=True) if keys else [work]:
        history = {
            row[_IDX]: (row[_CNT], row[_DAYS], row[_POP])
            for row in part.iter_rows(named=True)
            if row[_CNT] is not None
        }
        for row in part.iter_rows(named=True):
            refs = [history[row[_IDX] - o] for o in offsets if row[_IDX] - o in history]
            results.append({_ROW: row[_ROW], **_assess(row, refs, alpha=alpha, lang=lang)})
    schema = {
        _ROW: pl.UInt32,
        "expected": pl.Float64,
        "lower": pl.Int64,
        "upper": pl.Int64,
        "dispersion": pl.Float64,
        "flag": pl.String,
        "reference_n": pl.Int64,
        "note": pl.String,
    }
    found = pl.DataFrame(results, schema=schema)
    out = work.select(_ROW, *frame.columns).join(found, on=_ROW, how="left")
    return out.sort(_ROW).drop(_ROW)


def granularity(frame: pl.DataFrame) -> str:
    """The granularity shared by every ``period`` label: "year", "quarter", "month" or "week".

    Raises:
        InputError: A label matches none of the forms, or the frame mixes them.
    """
    if frame.schema["period"] != pl.String:
        raise InputError(
            f"Column 'period' holds {frame.schema['period']}, not labels.", hint=_LABEL_HINT
        )
    labels = frame.get_column("period").drop_nulls()
    if labels.len() < frame.height:
        raise InputError("Some rows have no period label.", hint=_LABEL_HINT)
    for kind, pattern in _LABEL_PATTERNS.items():
        if labels.str.contains(pattern).all():
            return kind
    sample = ", ".join(repr(s) for s in labels.head(3).to_list())
    raise InputError(f"Period labels are not of one known kind (e.g. {sample}).", hint=_LABEL_HINT)


# ---------------------------------------------------------------------------------------------
# Shared preparation
# ---------------------------------------------------------------------------------------------


def _check(
    frame: pl.DataFrame, *, by: Sequence[str], value: str, lang: str, alpha: float
) -> list[str]:
    if isinstance(by, str):  # a bare string would be iterated letter by letter
        by = [by]
    keys = list(by)
    if lang not in LANGS:
        raise InputError(f"Unknown language {lang!r}.", hint="Use lang='es' or lang='en'.")
    if not 0 < alpha < 1:
        raise InputError(
            f"alpha must be between 0 and 1; got {alpha!r}.",
            hint="Typical values are 0.05 for changes and 0.01 for unusual periods.",
        )
    needed = ["period", "period_start", "period_end", value, *keys]
    missing = [c for c in dict.fromkeys(needed) if c not in frame.columns]
    if missing:
        raise InputError(
            f"The frame has no column {', '.join(map(repr, missing))}.",
            hint=f"Available columns: {', '.join(frame.columns)}.",
        )
    for column in ("period_start", "period_end"):
        if frame.schema[column] != pl.Date:
            raise InputError(
                f"Column {column!r} holds {frame.schema[column]}, not dates.",
                hint="Pass the indicator frame as computed, or cast the column to pl.Date.",
            )
    if value in keys:
        raise InputError(
            f"{value!r} is both the value and a breakdown column.", hint="Remove it from by=."
        )
    if not frame.schema[value].is_numeric() and frame.schema[value] != pl.Null:
        raise InputError(
            f"Column {value!r} is not numeric ({frame.schema[value]}).",
            hint="Choose a count or rate column, e.g. value='count'.",
        )
    count = frame.get_column(_count_column(frame, value))
    if count.dtype != pl.Null and (count < 0).any():
        raise InputError(
            f"Column {count.name!r} has negative counts.",
            hint="Counts must be 0 or more; check the indicator or the suppression markers.",
        )
    dupes = frame.select([*keys, "period_start"]).is_duplicated()
    if dupes.any():
        first = frame.filter(dupes).row(0, named=True)
        where = ", ".join(f"{k}={first[k]!r}" for k in [*keys, "period_start"])
        raise InputError(
            f"More than one row for the same period in a series ({where}).",
            hint="Add the breakdown columns that separate them to by=, or filter.",
        )
    return keys


def _count_column(frame: pl.DataFrame, value: str) -> str:
    """The count behind ``value``: itself when it holds integers, else ``count``."""
    if frame.schema[value].is_integer():
        return value
    if "count" in frame.columns and frame.schema["count"].is_numeric():
        return "count"
    raise InputError(
        f"{value!r} is not a count and the frame has no 'count' column to test.",
        hint="Keep the 'count' column next to rates; the tests run on counts.",
    )


def _prepare(frame: pl.DataFrame, keys: list[str], value: str) -> pl.DataFrame:
    """Input plus row number, value, count, period length in days and usable population."""
    count = _count_column(frame, value)
    days = (pl.col("period_end") - pl.col("period_start")).dt.total_days() + 1
    if "population" in frame.columns:
        pop = pl.col("population").cast(pl.Float64)
        pop = pl.when(pop > 0).then(pop).otherwise(None)  # zero population is unusable
    else:
        pop = pl.lit(None, pl.Float64)
    return frame.with_row_index(_ROW).with_columns(
        pl.col(value).cast(pl.Float64).alias(_VAL),
        pl.col(count).cast(pl.Float64).alias(_CNT),
        days.cast(pl.Float64).alias(_DAYS),
        pop.alias(_POP),
    )


def _over(expr: pl.Expr, keys: list[str]) -> pl.Expr:
    return expr.over(keys) if keys else expr


def _empty_result(frame: pl.DataFrame, columns: Sequence[str]) -> pl.DataFrame:
    types = {
        "previous_period": pl.String,
        "previous": pl.Float64,
        "change": pl.Float64,
        "pct_change": pl.Float64,
        "direction": pl.String,
        "p_value": pl.Float64,
        "description": pl.String,
        "expected": pl.Float64,
        "lower": pl.Int64,
        "upper": pl.Int64,
        "dispersion": pl.Float64,
        "flag": pl.String,
        "reference_n": pl.Int64,
        "note": pl.String,
    }
    return frame.with_columns(pl.lit(None, types[c]).alias(c) for c in columns)


# ---------------------------------------------------------------------------------------------
# Changes
# ---------------------------------------------------------------------------------------------


def _finish_changes(
    work: pl.DataFrame, frame: pl.DataFrame, *, lang: str, alpha: float, value: str
) -> pl.DataFrame:
    if work.height == 0:
        return _empty_result(frame, _CHANGE_COLUMNS)
    found = [
        _compare(row, lang=lang, alpha=alpha)
        for row in work.select(_VAL, _CNT, _DAYS, _POP, _PREV_PERIOD, *_PREV.values()).iter_rows(
            named=True
        )
    ]
    result = pl.DataFrame(
        found,
        schema={"direction": pl.String, "p_value": pl.Float64, "description": pl.String},
    )
    previous = pl.col(_PREV[_VAL])
    change = pl.col(_VAL) - previous
    # Counts stay whole numbers; rates stay floats.
    dtype = frame.schema[value] if frame.schema[value].is_integer() else pl.Float64
    return (
        pl.concat([work, result], how="horizontal")
        .with_columns(
            pl.col(_PREV_PERIOD).alias("previous_period"),
            previous.cast(dtype).alias("previous"),
            change.cast(dtype).alias("change"),
            pl.when(previous != 0)
            .then(100 * change / previous)
            .otherwise(None)
            .alias("pct_change"),
        )
        .sort(_ROW)
        .select(*frame.columns, *_CHANGE_COLUMNS)
    )


def _compare(row: dict[str, float | str | None], *, lang: str, alpha: float) -> dict[str, object]:
    """Direction, p-value and description for one (previous, current) pair."""
    t = _TEXT[lang]
    cur, prev = row[_VAL], row[_PREV[_VAL]]
    x1, x0 = row[_CNT], row[_PREV[_CNT]]
    if row[_PREV_PERIOD] is None or row[_PREV[_DAYS]] is None:
        return _verdict(None, None, t.no_previous)
    if x1 is None:
        return _verdict(None, None, t.withheld)
    if x0 is None:
        return _verdict(None, None, t.withheld_previous.format(period=row[_PREV_PERIOD]))
    if cur is None or prev is None:
        return _verdict(None, None, t.missing)
    assert isinstance(cur, float) and isinstance(prev, float)
    x0, x1 = float(x0), float(x1)

    e0, e1 = float(row[_PREV[_DAYS]] or 0), float(row[_DAYS] or 0)
    pop0, pop1 = row[_PREV[_POP]], row[_POP]
    with_population = pop0 is not None and pop1 is not None
    if with_population:
        e0, e1 = e0 * float(pop0 or 0), e1 * float(pop1 or 0)
    n = round(x0 + x1)
    p_value = 1.0 if n == 0 else float(stats.binomtest(round(x1), n, e1 / (e0 + e1)).pvalue)
    a, b = _num(prev, lang), _num(cur, lang)
    if p_value >= alpha:
        if cur == prev:
            return _verdict("no_clear_change", p_value, t.same.format(a=a))
        return _verdict("no_clear_change", p_value, t.unclear.format(a=a, b=b))

    direction = "up" if x1 / e1 > x0 / e0 else "down"
    if cur == prev:
        text = t.same.format(a=a).rstrip(".")
    elif prev == 0:
        text = t.from_zero.format(b=b)
    else:
        verb = t.up if cur > prev else t.down
        text = verb.format(pct=_pct(100 * (cur - prev) / prev, lang), a=a, b=b)
    if (cur > prev) == (direction == "up") and cur != prev:
        return _verdict(direction, p_value, text + t.clear)
    # Counts per day (per person) moved against the raw figures: say which one the test saw.
    adjusted = t.adjusted_pop if with_population else t.adjusted_days
    return _verdict(
        direction,
        p_value,
        text + t.but.format(adjusted=adjusted, moved=t.rose if direction == "up" else t.fell),
    )


def _verdict(direction: str | None, p_value: float | None, text: str) -> dict[str, object]:
    return {"direction": direction, "p_value": p_value, "description": text}


# ---------------------------------------------------------------------------------------------
# Unusual periods
# ---------------------------------------------------------------------------------------------


def _assess(
    row: dict[str, object],
    refs: list[tuple[float, float, float | None]],
    *,
    alpha: float,
    lang: str,
) -> dict[str, object]:
    """Baseline, interval, flag and note for one period given its reference counts."""
    t = _TEXT[lang]
    out: dict[str, object] = {
        "expected": None,
        "lower": None,
        "upper": None,
        "dispersion": None,
        "flag": None,
        "reference_n": len(refs),
        "note": None,
    }
    if len(refs) < MIN_REFERENCE:
        out["note"] = t.short_history.format(n=len(refs), least=MIN_REFERENCE)
        return out
    days, pop = row[_DAYS], row[_POP]
    assert isinstance(days, float)
    # Population enters only when known for the period and every reference period.
    use_pop = isinstance(pop, float) and all(p is not None for _, _, p in refs)

    def exposure(d: float, p: float | None) -> float:
        return d * p if use_pop and p is not None else d

    target = exposure(days, pop if isinstance(pop, float) else None)
    scaled = np.array([c * target / exposure(d, p) for c, d, p in refs])
    mu = float(scaled.mean())
    phi = max(1.0, float(scaled.var(ddof=1)) / mu) if mu > 0 else 1.0
    lower, upper = _interval(mu, phi, alpha)
    out.update(expected=mu, lower=lower, upper=upper, dispersion=phi)
    observed = row[_CNT]
    level = _num(100 * (1 - alpha), lang)
    ctx = {
        "obs": None,
        "mu": _num(mu, lang, 1),
        "lo": _num(lower, lang),
        "hi": _num(upper, lang),
        "level": level,
    }
    if observed is None:
        out["note"] = t.not_assessed
        return out
    assert isinstance(observed, float)
    ctx["obs"] = _num(observed, lang)
    if observed > upper:
        out.update(flag="high", note=t.high.format(**ctx))
    elif observed < lower:
        out.update(flag="low", note=t.low.format(**ctx))
    else:
        out["note"] = t.usual.format(**ctx)
    return out


def _interval(mu: float, phi: float, alpha: float) -> tuple[int, int]:
    """Central 1 - alpha prediction limits: negative binomial (variance phi*mu), or Poisson."""
    qs = [alpha / 2, 1 - alpha / 2]
    if phi <= 1.0 or mu == 0:
        lo, hi = stats.poisson.ppf(qs, mu)
    else:
        lo, hi = stats.nbinom.ppf(qs, mu / (phi - 1), 1 / phi)
    return int(lo), int(hi)


# ---------------------------------------------------------------------------------------------
# Words and numbers
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Text:
    up: str
    down: str
    from_zero: str
    same: str
    unclear: str
    clear: str
    but: str
    adjusted_days: str
    adjusted_pop: str
    rose: str
    fell: str
    no_previous: str
    withheld: str
    withheld_previous: str
    missing: str
    short_history: str
    not_assessed: str
    high: str
    low: str
    usual: str


_TEXT = {
    "es": _Text(
        up="Subió {pct} (de {a} a {b})",
        down="Bajó {pct} (de {a} a {b})",
        from_zero="Subió de 0 a {b}",
        same="Sin cambio: {a} en ambos períodos.",
        unclear="Sin cambio claro: {b} frente a {a} "
        "(la diferencia cabe en la variación aleatoria).",
        clear="; el cambio es estadísticamente claro.",
        but=", pero {adjusted} el nivel {moved} de forma estadísticamente clara.",
        adjusted_days="ajustado por la duración del período",
        adjusted_pop="ajustado por la duración del período y la población",
        rose="subió",
        fell="bajó",
        no_previous="Sin período anterior con el que comparar.",
        withheld="Cifra reservada por confidencialidad; no se puede comparar.",
        withheld_previous=(
            "La cifra del período anterior ({period}) está reservada; no se puede comparar."
        ),
        missing="Falta el dato en uno de los dos períodos; no se puede comparar.",
        short_history=(
            "Historia insuficiente: {n} valores de referencia (se necesitan al menos {least})."
        ),
        not_assessed="Cifra reservada por confidencialidad; no se evalúa.",
        high="Inusualmente alto: {obs}, cuando se esperaban unos {mu} "
        "(rango esperado al {level} %: {lo}–{hi}).",
        low="Inusualmente bajo: {obs}, cuando se esperaban unos {mu} "
        "(rango esperado al {level} %: {lo}–{hi}).",
        usual="Dentro de lo esperado: {obs} (se esperaban unos {mu}; "
        "rango al {level} %: {lo}–{hi}).",
    ),
    "en": _Text(
        up="Up {pct} (from {a} to {b})",
        down="Down {pct} (from {a} to {b})",
        from_zero="Up from 0 to {b}",
        same="No change: {a} in both periods.",
        unclear="No clear change: {b} compared with {a} (the difference is within random "
        "variation).",
        clear="; the change is statistically clear.",
        but=", but {adjusted} the level {moved} in a statistically clear way.",
        adjusted_days="adjusted for period length",
        adjusted_pop="adjusted for period length and population",
        rose="rose",
        fell="fell",
        no_previous="No earlier period to compare with.",
        withheld="Figure withheld for confidentiality; no comparison possible.",
        withheld_previous=(
            "The earlier period's figure ({period}) is withheld; no comparison possible."
        ),
        missing="The figure is missing in one of the two periods; no comparison possible.",
        short_history="Not enough history: {n} reference values (at least {least} needed).",
        not_assessed="Figure withheld for confidentiality; not assessed.",
        high="Unusually high: {obs} where about {mu} were expected "
        "({level}% expected range {lo}–{hi}).",
        low="Unusually low: {obs} where about {mu} were expected "
        "({level}% expected range {lo}–{hi}).",
        usual="Within the expected range: {obs} (about {mu} expected; {level}% range {lo}–{hi}).",
    ),
}


def _num(x: float, lang: str, decimals: int = 2) -> str:
    """A number the way readers of ``lang`` write it: 12.345,5 (es) or 12,345.5 (en)."""
    pattern = "#,##0" + ("." + "#" * decimals if decimals else "")
    return format_decimal(x, format=pattern, locale=lang)


def _pct(pct: float, lang: str) -> str:
    """Unsigned percent: whole numbers from 10 up, one decimal below; "12 %" (es), "12%" (en)."""
    shown = _num(abs(pct), lang, 0 if abs(pct) >= 10 else 1)
    return f"{shown} %" if lang == "es" else f"{shown}%"
