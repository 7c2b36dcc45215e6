"""The indicator engine: counts and rates by area, period and any breakdown.

Pure except for the data provider it is given (:class:`IndicatorData`): the store
(:class:`safestreets.store.aggregates.StoreData`) or frames in memory
(:class:`safestreets.stats.frames.FrameData`). The same definitions apply to incident
records and to published counts:

* records are summed from rollups (or raw rows) in the indicator's unit, victims or
  incidents, in the source's local time;
* published counts in the same unit are added where a source has no records for that country
  and period (records win; ``basis`` says which was used), provided each count's period fits
  inside one output period;
* the denominator is a population (package national figures, replaced by user-loaded ones;
  interpolated between years; day-weighted over the years a period spans), another
  indicator's count (a share), or nothing (a plain count);
* rates for periods shorter than a calendar year are annualised (x 365.2425 / days).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Protocol

import polars as pl

from safestreets import schema
from safestreets.errors import InputError
from safestreets.query import COUNT_DIMENSIONS, DIMENSIONS, AggregateQuery, CountQuery, Resolution
from safestreets.reference import geo
from safestreets.stats import population as pop
from safestreets.stats.catalogue import (
    AREAS,
    BREAKDOWNS,
    ICCS_LEVELS,
    MINOR_AGE_BANDS,
    PERIODS,
    Catalogue,
    Indicator,
    builtin_catalogue,
)

DAYS_PER_YEAR = 365.2425
_ICCS_LEN = {1: 2, 2: 4, 3: 5, 4: 6}
#: Breakdowns that are plain dimensions of records and counts.
_DIRECT = ("sex", "age_band", "weapon", "place_type", "context", "source")
#: Filters ``--where`` accepts (besides dimensions): ICCS codes and years.
WHERE_KEYS = (*AREAS, *_DIRECT, "iccs_code", "year")


class MissingPopulation(InputError):
    """An area/period needs a population the store and the package do not have."""


class IndicatorData(Protocol):
    """Where the engine gets its numbers from (the store, or frames in memory)."""

    def aggregates(self, query: AggregateQuery) -> tuple[pl.DataFrame, str]:
        """Summed incidents and victims by ``query.dims`` and time; and what was read."""
        ...

    def counts(self, query: CountQuery) -> pl.DataFrame:
        """Published counts (``schema.COUNT`` columns) matching the filters."""
        ...

    def populations(self, countries: Sequence[str] | None) -> pl.DataFrame:
        """User-loaded populations (``schema.POPULATION`` columns)."""
        ...


@dataclass(frozen=True)
class Request:
    """What to compute.

    Attributes:
        by: Breakdowns (see :data:`catalogue.BREAKDOWNS`); at most one period kind.
        where: Filters, key -> allowed values (keys in :data:`WHERE_KEYS`).
        date_from: First day of the period of interest (inclusive).
        date_to: Last day (inclusive).
        allow_missing_population: Give null rates (with a note) instead of failing where a
            population is missing.
        lang: ``es`` or ``en`` for names and notes.
    """

    by: tuple[str, ...] = ("country", "year")
    where: dict[str, tuple[str, ...]] = field(default_factory=dict)
    date_from: date | None = None
    date_to: date | None = None
    allow_missing_population: bool = False
    lang: str = "es"


@dataclass
class Result:
    """An indicator table with what it is made of."""

    indicator: Indicator
    request: Request
    frame: pl.DataFrame
    notes: list[str]
    #: The rollup grain (or ``raw``) the records were read from.
    read_from: str
    value_column: str


# --- planning ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    period: str | None  # year | quarter | month | week | None (one period: the range)
    areas: tuple[str, ...]  # requested area levels, coarse to fine
    dims: tuple[str, ...]  # record/count dimensions to group by
    resolution: Resolution
    iccs: tuple[str, ...]
    equals: dict[str, tuple[str | None, ...]]
    years: tuple[int, ...] | None


def _check_request(ind: Indicator, req: Request) -> None:
    unknown = [b for b in req.by if b not in BREAKDOWNS]
    if unknown:
        raise InputError(
            f"unknown breakdown {', '.join(unknown)}",
            hint="use any of: " + ", ".join(BREAKDOWNS),
        )
    not_allowed = [b for b in req.by if b not in ind.breakdowns]
    if not_allowed:
        raise InputError(
            f"{ind.id} cannot be broken down by {', '.join(not_allowed)}",
            hint="allowed: " + ", ".join(ind.breakdowns),
        )
    periods = [b for b in req.by if b in PERIODS]
    if len(periods) > 1:
        raise InputError(
            f"only one period kind at a time, got {', '.join(periods)}",
            hint="e.g. --by country,month",
        )
    if len(set(req.by)) != len(req.by):
        raise InputError("a breakdown is repeated in --by", hint="give each once")
    bad = [k for k in req.where if k not in WHERE_KEYS]
    if bad:
        raise InputError(
            f"cannot filter on {', '.join(bad)}", hint="filter on: " + ", ".join(WHERE_KEYS)
        )
    if req.date_from and req.date_to and req.date_from > req.date_to:
        raise InputError("--from is after --to", hint="give the earlier date first")


def _intersect_iccs(mine: Sequence[str], theirs: Sequence[str]) -> tuple[str, ...]:
    out: set[str] = set()
    for a in mine:
        for b in theirs:
            if b.startswith(a):
                out.add(b)
            elif a.startswith(b):
                out.add(a)
    return tuple(sorted(out))


def _plan(ind: Indicator, req: Request) -> _Plan:
    _check_request(ind, req)
    period = next((b for b in req.by if b in PERIODS), None)
    areas = tuple(a for a in AREAS if a in req.by)
    dims: list[str] = ["country", "source"]
    for a in ("admin1", "admin2"):
        if a in areas:
            dims.append(a)
    if "admin2" in areas and "admin1" not in dims:
        dims.append("admin1")
    for b in req.by:
        if b in _DIRECT and b not in dims:
            dims.append(b)
        if b == "age_group" and "age_band" not in dims:
            dims.append("age_band")
        if (b in ICCS_LEVELS or b == "iccs_code") and "iccs_code" not in dims:
            dims.append("iccs_code")
    equals: dict[str, tuple[str | None, ...]] = dict(ind.numerator.filters())
    iccs_codes = tuple(ind.numerator.iccs)
    years: tuple[int, ...] | None = None
    for key, values in req.where.items():
        if key == "iccs_code":
            iccs_codes = _intersect_iccs(iccs_codes, values)
            if not iccs_codes:
                raise InputError(
                    f"--where iccs_code={','.join(values)} is outside {ind.id} "
                    f"({', '.join(ind.numerator.iccs)})",
                    hint="filter on codes inside the indicator's definition",
                )
        elif key == "year":
            try:
                years = tuple(sorted(int(v) for v in values))
            except ValueError:
                raise InputError(
                    f"--where year={','.join(values)}: years are numbers", hint="e.g. year=2023"
                ) from None
        elif key in equals:
            keep = tuple(v for v in equals[key] if v in values)
            equals[key] = keep or ("\x00none",)
        else:
            equals[key] = tuple(values)
    # Resolution: a period inside the year needs months; weeks and odd ranges need days.
    resolution: Resolution = "year"
    if period in ("quarter", "month"):
        resolution = "month"
    if period == "week" or not _month_aligned(req.date_from, req.date_to):
        resolution = "day"
    elif (
        (req.date_from or req.date_to)
        and resolution == "year"
        and not _year_aligned(req.date_from, req.date_to)
    ):
        resolution = "month"
    return _Plan(period, areas, tuple(dims), resolution, iccs_codes, equals, years)


def _month_aligned(lo: date | None, hi: date | None) -> bool:
    ok_lo = lo is None or lo.day == 1
    ok_hi = hi is None or (hi + timedelta(days=1)).day == 1
    return ok_lo and ok_hi


def _year_aligned(lo: date | None, hi: date | None) -> bool:
    return (lo is None or (lo.month, lo.day) == (1, 1)) and (
        hi is None or (hi.month, hi.day) == (12, 31)
    )


# --- periods -------------------------------------------------------------------------------


def _period_exprs(kind: str | None, start: pl.Expr) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """(label, start, end) of the output period containing the date ``start``."""
    y = start.dt.year()
    if kind == "year":
        s = pl.date(y, 1, 1)
        return y.cast(pl.String), s, pl.date(y, 12, 31)
    if kind == "quarter":
        q = (start.dt.month() - 1) // 3 + 1
        s = pl.date(y, (q - 1) * 3 + 1, 1)
        return pl.format("{}-Q{}", y, q), s, s.dt.offset_by("3mo").dt.offset_by("-1d")
    if kind == "month":
        m = start.dt.month()
        s = pl.date(y, m, 1)
        return (
            pl.format("{}-{}", y, m.cast(pl.String).str.zfill(2)),
            s,
            s.dt.offset_by("1mo").dt.offset_by("-1d"),
        )
    if kind == "week":
        s = start.dt.offset_by(pl.format("-{}d", start.dt.weekday() - 1))
        label = pl.format(
            "{}-W{}", start.dt.iso_year(), start.dt.week().cast(pl.String).str.zfill(2)
        )
        return label, s, s.dt.offset_by("6d")
    raise AssertionError(kind)


def _with_periods(
    frame: pl.DataFrame, kind: str | None, rng: tuple[date, date] | None
) -> pl.DataFrame:
    """Add ``period``, ``period_start``, ``period_end`` to rows with a ``_date`` column."""
    if kind is None:
        assert rng is not None
        lo, hi = rng
        return frame.with_columns(
            period=pl.lit(f"{lo.isoformat()}/{hi.isoformat()}"),
            period_start=pl.lit(lo),
            period_end=pl.lit(hi),
        )
    label, s, e = _period_exprs(kind, pl.col("_date"))
    return frame.with_columns(period=label, period_start=s, period_end=e)


def _record_dates(frame: pl.DataFrame, resolution: Resolution) -> pl.DataFrame:
    if resolution == "day":
        return frame.with_columns(_date=pl.col("local_date"))
    if resolution == "month":
        return frame.with_columns(_date=pl.date(pl.col("year"), pl.col("month"), 1))
    return frame.with_columns(_date=pl.date(pl.col("year"), 1, 1))


# --- numerators ----------------------------------------------------------------------------


def _records(
    ind: Indicator, plan: _Plan, req: Request, data: IndicatorData, notes: list[str]
) -> tuple[pl.DataFrame, str]:
    q = AggregateQuery(
        dims=plan.dims,
        resolution=plan.resolution,
        iccs=plan.iccs,
        equals={k: v for k, v in plan.equals.items() if k in DIMENSIONS},
        year_from=min(plan.years)
        if plan.years
        else (req.date_from.year if req.date_from else None),
        year_to=max(plan.years) if plan.years else (req.date_to.year if req.date_to else None),
        date_from=req.date_from if plan.resolution == "day" else None,
        date_to=req.date_to if plan.resolution == "day" else None,
    )
    frame, read_from = data.aggregates(q)
    measure = "victims" if ind.numerator.unit == "victims" else "incidents"
    frame = _record_dates(frame, plan.resolution)
    if plan.years:
        frame = frame.filter(pl.col("year").is_in(list(plan.years)))
    if req.date_from is not None:
        frame = frame.filter(pl.col("_date") >= req.date_from)
    if req.date_to is not None:
        frame = frame.filter(pl.col("_date") <= req.date_to)
    out = frame.select(
        *plan.dims,
        "_date",
        count=pl.col(measure).cast(pl.Int64),
        _end=pl.col("_date"),
        basis=pl.lit("records"),
    )
    if plan.resolution != "year" and req.date_from is None and req.date_to is None:
        _note_imprecise(q, measure, int(out["count"].sum() or 0), plan, data, notes)
    return out, read_from


def _note_imprecise(
    q: AggregateQuery,
    measure: str,
    placed: int,
    plan: _Plan,
    data: IndicatorData,
    notes: list[str],
) -> None:
    """Say how many records a finer period left out because they are dated too coarsely."""
    yearly, _ = data.aggregates(
        AggregateQuery(
            dims=("country",),
            resolution="year",
            iccs=q.iccs,
            equals=q.equals,
            year_from=q.year_from,
            year_to=q.year_to,
        )
    )
    if plan.years:
        yearly = yearly.filter(pl.col("year").is_in(list(plan.years)))
    missing = int(yearly[measure].sum() or 0) - placed
    if missing > 0:
        what = "day" if plan.resolution == "day" else "month"
        notes.append(
            f"{missing} {measure} dated only to a coarser period than the {what} are in yearly "
            f"figures but not in these {plan.period or 'periods'}"
        )


def _counts(
    ind: Indicator, plan: _Plan, req: Request, data: IndicatorData, notes: list[str]
) -> pl.DataFrame:
    equals = {k: v for k, v in plan.equals.items() if k in COUNT_DIMENSIONS}
    cq = CountQuery(
        iccs=plan.iccs,
        equals=equals,
        year_from=min(plan.years)
        if plan.years
        else (req.date_from.year if req.date_from else None),
        year_to=max(plan.years) if plan.years else (req.date_to.year if req.date_to else None),
    )
    counts = data.counts(cq)
    if counts.is_empty():
        return counts
    other_unit = counts.filter(pl.col("unit") != ind.numerator.unit)
    if other_unit.height:
        notes.append(
            f"{other_unit.height} published count rows in {other_unit['unit'][0]} were not used "
            f"({ind.id} counts {ind.numerator.unit})"
        )
    counts = counts.filter(pl.col("unit") == ind.numerator.unit)
    if plan.years:
        counts = counts.filter(
            pl.col("period_start").dt.year().is_in(list(plan.years))
            & pl.col("period_end").dt.year().is_in(list(plan.years))
        )
    if req.date_from is not None:
        counts = counts.filter(pl.col("period_start") >= req.date_from)
    if req.date_to is not None:
        counts = counts.filter(pl.col("period_end") <= req.date_to)
    counts = _area_level(counts, plan, notes)
    for d in plan.dims:
        if d not in counts.columns:
            counts = counts.with_columns(pl.lit(None, dtype=pl.String).alias(d))
    return counts.select(
        *plan.dims,
        _date=pl.col("period_start"),
        count=pl.col("count").cast(pl.Int64),
        _end=pl.col("period_end"),
        basis=pl.lit("counts"),
    )


def _area_level(counts: pl.DataFrame, plan: _Plan, notes: list[str]) -> pl.DataFrame:
    """Keep one area level per published series, so totals and their parts are not added."""
    level = (
        pl.when(pl.col("admin2").is_not_null())
        .then(2)
        .when(pl.col("admin1").is_not_null())
        .then(1)
        .otherwise(0)
    )
    finest = 2 if "admin2" in plan.areas else 1 if "admin1" in plan.areas else 0
    # A series is everything that identifies a published count except its area (and the
    # period's label, which its dates already say).
    not_series = ("admin1", "admin2", "period", "count", "batch_id")
    series = [c for c in schema.COUNT if c not in not_series and c in counts.columns]
    c = counts.with_columns(_level=level)
    usable = c.filter(pl.col("_level") >= finest)
    dropped = c.height - usable.height
    if dropped:
        notes.append(f"{dropped} published counts at a coarser area level than asked were not used")
    # Per series, the coarsest usable level (a national total beats the sum of departments).
    chosen = usable.group_by(series).agg(_use=pl.col("_level").min())
    kept = usable.join(chosen, on=series, nulls_equal=True).filter(
        pl.col("_level") == pl.col("_use")
    )
    if kept.height < usable.height:
        notes.append(
            f"{usable.height - kept.height} published counts were parts of totals also "
            "published; the totals were used"
        )
    return kept.drop("_level", "_use")


def _numerator(
    ind: Indicator, plan: _Plan, req: Request, data: IndicatorData, notes: list[str]
) -> tuple[pl.DataFrame, str]:
    rec, read_from = _records(ind, plan, req, data, notes)
    cnt = _counts(ind, plan, req, data, notes)
    rng = _range(req, rec, cnt) if plan.period is None else None
    rec = _with_periods(rec, plan.period, rng)
    if not cnt.is_empty():
        cnt = _with_periods(cnt, plan.period, rng)
        fits = (pl.col("_end") <= pl.col("period_end")) & (
            pl.col("_date") >= pl.col("period_start")
        )
        misfit = cnt.filter(~fits)
        if misfit.height:
            notes.append(
                f"{misfit.height} published counts cover periods longer than "
                f"{plan.period or 'the range'} and were not used"
            )
        cnt = cnt.filter(fits)
        # Records win over counts of the same source, country and period.
        have = rec.select("source", "country", "period").unique()
        before = cnt.height
        cnt = cnt.join(have, on=["source", "country", "period"], how="anti")
        if cnt.height < before:
            notes.append(
                f"{before - cnt.height} published counts were not used because the same "
                "source has records for that country and period"
            )
    frame = pl.concat([rec, cnt], how="diagonal_relaxed") if not cnt.is_empty() else rec
    return frame, read_from


def _incomplete(frame: pl.DataFrame) -> pl.DataFrame:
    """(country, period) whose published counts cover fewer days than the period."""
    cnt = frame.filter(pl.col("basis") == "counts")
    if cnt.is_empty():
        return pl.DataFrame(schema={"country": pl.String, "period": pl.String, "days": pl.Int64})
    spans = cnt.select("country", "period", "period_start", "period_end", "_date", "_end").unique()
    cov = spans.group_by("country", "period", "period_start", "period_end").agg(
        days=((pl.col("_end") - pl.col("_date")).dt.total_days() + 1).sum()
    )
    need = (pl.col("period_end") - pl.col("period_start")).dt.total_days() + 1
    return cov.filter(pl.col("days") < need).select("country", "period", "days")


def _range(req: Request, rec: pl.DataFrame, cnt: pl.DataFrame) -> tuple[date, date]:
    dates = [d for d in (rec["_date"].min(), rec["_end"].max()) if isinstance(d, date)]
    if not cnt.is_empty():
        dates += [d for d in (cnt["_date"].min(), cnt["_end"].max()) if isinstance(d, date)]
    lo = req.date_from or (date(min(dates).year, 1, 1) if dates else date.today())
    hi = req.date_to or (date(max(dates).year, 12, 31) if dates else date.today())
    return lo, hi


# --- breakdown columns ---------------------------------------------------------------------


def _derive_breakdowns(frame: pl.DataFrame, by: Sequence[str]) -> pl.DataFrame:
    out = frame
    for b in by:
        if b in ICCS_LEVELS:
            n = _ICCS_LEN[ICCS_LEVELS[b]]
            out = out.with_columns(pl.col("iccs_code").str.slice(0, n).alias(b))
        elif b == "age_group":
            out = out.with_columns(
                age_group=pl.when(pl.col("age_band").is_in(list(MINOR_AGE_BANDS)))
                .then(pl.lit("0-17"))
                .when(pl.col("age_band").is_not_null())
                .then(pl.lit("18+"))
                .otherwise(pl.lit("unknown"))
            )
    if "sex" in out.columns:
        out = out.with_columns(pl.col("sex").fill_null("unknown"))
    return out


def _group(frame: pl.DataFrame, keys: Sequence[str]) -> pl.DataFrame:
    return frame.group_by(list(keys)).agg(
        count=pl.col("count").sum(),
        basis=pl.col("basis").unique().sort().str.join("+"),
        sources=pl.col("source").drop_nulls().unique().sort().str.join(","),
    )


# --- denominators --------------------------------------------------------------------------


def _area_columns(plan: _Plan) -> list[str]:
    if not plan.areas:
        return []
    cols = ["country"]
    if "admin1" in plan.areas or "admin2" in plan.areas:
        cols.append("admin1")
    if "admin2" in plan.areas:
        cols.append("admin2")
    return cols


def _populations(
    ind: Indicator,
    plan: _Plan,
    req: Request,
    table: pl.DataFrame,
    keys: Sequence[str],
    out: pl.DataFrame,
    period_countries: pl.DataFrame,
    notes: list[str],
) -> pl.DataFrame:
    spec = ind.denominator.population
    assert spec is not None
    reqs = out.select([k for k in keys if k in out.columns]).unique()
    area_cols = _area_columns(plan)
    # The population key of each output row.
    sex = (
        pl.col("sex").replace("unknown", None)
        if "sex" in req.by
        else pl.lit(spec.sex, dtype=pl.String)
    )
    if "age_band" in req.by:
        age = pl.col("age_band")
    elif "age_group" in req.by:
        age = pl.col("age_group").replace("unknown", None)
    else:
        age = pl.lit(spec.age_band, dtype=pl.String)
    unknown_sex = pl.lit(False)
    if "sex" in req.by:
        unknown_sex = pl.col("sex") == "unknown"
    unknown_age = pl.lit(False)
    if "age_band" in req.by:
        unknown_age = pl.col("age_band").is_null()
    elif "age_group" in req.by:
        unknown_age = pl.col("age_group") == "unknown"
    reqs = reqs.with_columns(
        _sex=sex,
        _age=age,
        _undefined=unknown_sex | unknown_age,
    )
    # Without an area in the table, the area of a period is every country with data in it:
    # look up each country's population, then add them up per output row.
    by_country = not area_cols
    cols = area_cols or ["country"]
    rows = reqs.join(period_countries, on=["period_start", "period_end"]) if by_country else reqs
    # An unknown area has no population (an empty rate, not an error).
    known = pl.all_horizontal([pl.col(c).is_not_null() for c in cols])
    lookup = rows.filter(known).select(
        *cols,
        *[pl.lit(None, dtype=pl.String).alias(c) for c in ("admin1", "admin2") if c not in cols],
        sex=pl.col("_sex"),
        age_band=pl.col("_age"),
        period_start=pl.col("period_start"),
        period_end=pl.col("period_end"),
    )
    on = [*cols, "_sex", "_age", "period_start", "period_end"]
    if lookup.height:
        got = pop.for_periods(table, lookup).rename({"sex": "_sex", "age_band": "_age"})
        joined = rows.join(
            got.select(*on, "population", "interpolated"), on=on, how="left", nulls_equal=True
        )
    else:
        joined = rows.with_columns(
            population=pl.lit(None, dtype=pl.Float64), interpolated=pl.lit(False)
        )
    missing = joined.filter(pl.col("population").is_null() & ~pl.col("_undefined") & known)
    if by_country:
        joined = joined.group_by(reqs.columns).agg(
            population=pl.when(pl.col("population").null_count() == 0).then(
                pl.col("population").sum()
            ),
            interpolated=pl.col("interpolated").any(),
        )
    # Unknown sex or age has no population: an empty rate, not the all-ages one.
    joined = joined.with_columns(
        population=pl.when(pl.col("_undefined")).then(None).otherwise(pl.col("population"))
    )
    if missing.height:
        _missing_population(ind, missing, req, notes)
    if joined.filter(pl.col("interpolated").fill_null(False)).height:
        notes.append("some populations were interpolated between known years")
    return joined.drop("_sex", "_age", "_undefined")


def _missing_population(
    ind: Indicator, missing: pl.DataFrame, req: Request, notes: list[str]
) -> None:
    def describe(row: dict[str, object]) -> str:
        area = row.get("admin2") or row.get("admin1") or row.get("country") or "?"
        when = row.get("period") or f"{row['period_start']}..{row['period_end']}"
        parts = [str(area), str(when)]
        if row.get("_sex"):
            parts.append(str(row["_sex"]))
        if row.get("_age"):
            parts.append(f"age {row['_age']}")
        return " ".join(parts)

    # Sorted, so the message (and what it names first) is the same every time.
    keys = [
        c
        for c in ("country", "admin1", "admin2", "period_start", "_sex", "_age")
        if c in missing.columns
    ]
    rows = missing.unique().sort(keys, nulls_last=True).head(5).to_dicts()
    listed = "; ".join(describe(r) for r in rows)
    more = f" and {missing.height - len(rows)} more" if missing.height > len(rows) else ""
    if req.allow_missing_population:
        notes.append(f"no population for {listed}{more}: their rates are empty")
        return
    sexes = {r.get("_sex") for r in rows} - {None}
    hint = "load one with `safestreets population load FILE` (country,admin1,admin2,year,population"
    hint += ",sex" if sexes else ""
    hint += ") or pass --allow-missing-population"
    raise MissingPopulation(f"{ind.id}: no population for {listed}{more}", hint=hint)


# --- the engine ----------------------------------------------------------------------------


def compute(
    indicator: str | Indicator,
    request: Request,
    data: IndicatorData,
    *,
    catalogue: Catalogue | None = None,
) -> Result:
    """Compute an indicator table.

    Args:
        indicator: An indicator id of ``catalogue`` (default: the shipped one) or an Indicator.
        request: Breakdowns, filters and period.
        data: Where records, counts and populations come from.
        catalogue: Catalogue for ids and ``share_of`` references.

    Returns:
        A :class:`Result`; its frame has ``indicator``, ``area``, ``area_name``, the area
        columns asked for, ``period``, ``period_start``, ``period_end``, the other
        breakdowns, ``count``, the denominator (``population`` or ``denominator_count``),
        the value (``rate_per_100k``, ``share_pct``, ``rate`` or nothing for counts),
        ``value``, ``annualised``, ``unit``, ``basis`` and ``sources``.

    Raises:
        MissingPopulation: A population is missing (unless allowed by the request).
        InputError: Breakdowns or filters that the indicator does not allow.
    """
    cat = catalogue or builtin_catalogue()
    ind = cat.get(indicator) if isinstance(indicator, str) else indicator
    notes: list[str] = []
    plan = _plan(ind, request)
    frame, read_from = _numerator(ind, plan, request, data, notes)
    incomplete = _incomplete(frame)
    frame = _derive_breakdowns(frame.drop("_date", "_end"), request.by)
    area_cols = _area_columns(plan)
    other = [b for b in request.by if b not in AREAS and b not in PERIODS]
    keys = [*area_cols, "period", "period_start", "period_end", *other]
    out = _group(frame, keys)
    countries = sorted(
        set(request.where.get("country", ()))
        or set(frame["country"].drop_nulls().unique().to_list())
    )
    period_countries = (
        frame.filter(pl.col("country").is_not_null())
        .select("period_start", "period_end", "country")
        .unique()
    )
    kind = ind.denominator.kind
    if kind == "population":
        table = pop.population_table(data.populations(countries or None))
        dens = _populations(ind, plan, request, table, keys, out, period_countries, notes)
        out = out.join(dens.select(*keys, "population"), on=keys, how="left", nulls_equal=True)
        days = (pl.col("period_end") - pl.col("period_start")).dt.total_days() + 1
        calendar_year = (pl.col("period_start").dt.ordinal_day() == 1) & (
            pl.col("period_end") == pl.date(pl.col("period_start").dt.year(), 12, 31)
        )
        factor = pl.when(calendar_year).then(1.0).otherwise(DAYS_PER_YEAR / days)
        out = out.with_columns(
            value=pl.col("count") / pl.col("population") * ind.multiplier * factor,
            annualised=~calendar_year,
        )
        value_col = "rate_per_100k" if ind.multiplier == 100_000 else "rate"
        out = out.with_columns(pl.col("value").alias(value_col))
    elif kind == "share":
        assert ind.denominator.share_of is not None
        base = cat.get(ind.denominator.share_of)
        sub = compute(base, request, data, catalogue=cat)
        den = sub.frame.select(*keys, denominator_count=pl.col("count"))
        if out.is_empty():
            out = out.with_columns(denominator_count=pl.lit(None, dtype=pl.Int64))
        else:
            out = den.join(out, on=keys, how="left", nulls_equal=True).with_columns(
                pl.col("count").fill_null(0),
                pl.col("basis").fill_null(""),
                pl.col("sources").fill_null(""),
            )
        out = out.with_columns(
            value=pl.when(pl.col("denominator_count") > 0).then(
                pl.col("count") / pl.col("denominator_count") * ind.multiplier
            ),
            annualised=pl.lit(False),
        )
        value_col = "share_pct" if ind.multiplier == 100 else "value"
        if value_col != "value":
            out = out.with_columns(pl.col("value").alias(value_col))
        notes.extend(n for n in sub.notes if n not in notes)
    else:
        out = out.with_columns(value=pl.col("count").cast(pl.Float64), annualised=pl.lit(False))
        value_col = "count"
    out = _label_areas(out, plan, period_countries, request.lang)
    out = _completeness(out, area_cols, incomplete, notes)
    out = out.with_columns(indicator=pl.lit(ind.id), unit=pl.lit(ind.numerator.unit))
    ordered = [
        "indicator",
        "area",
        "area_name",
        *area_cols,
        "period",
        "period_start",
        "period_end",
        *other,
        "count",
        *(["population"] if kind == "population" else []),
        *(["denominator_count"] if kind == "share" else []),
        *([value_col] if value_col not in ("count", "value") else []),
        "value",
        "annualised",
        "complete",
        "unit",
        "basis",
        "sources",
    ]
    out = out.select(ordered).sort([*area_cols, "period_start", *other], nulls_last=True)
    if out.filter(pl.col("sources").str.contains(",")).height and "source" not in request.by:
        notes.append(
            "several sources are added together in some rows; if they record the same events, "
            "choose one with --where source=NAME or break down with --by source"
        )
    return Result(ind, request, out, notes, read_from, value_col)


def _completeness(
    out: pl.DataFrame, area_cols: Sequence[str], incomplete: pl.DataFrame, notes: list[str]
) -> pl.DataFrame:
    """``complete``: False where published counts miss part of the period; null for records."""
    if incomplete.height:
        listed = ", ".join(f"{c} {p} ({d} days)" for c, p, d in incomplete.head(5).iter_rows())
        more = f" and {incomplete.height - 5} more" if incomplete.height > 5 else ""
        notes.append(
            f"published counts cover only part of the period for {listed}{more}: "
            "those figures (and rates) are incomplete"
        )
    from_counts = pl.col("basis").str.contains("counts")
    if "country" in area_cols:
        flagged = incomplete.select("country", "period", _inc=pl.lit(True))
        out = out.join(flagged, on=["country", "period"], how="left")
    else:
        flagged = incomplete.select("period").unique().with_columns(_inc=pl.lit(True))
        out = out.join(flagged, on="period", how="left")
    return out.with_columns(
        complete=pl.when(from_counts).then(~pl.col("_inc").fill_null(False))
    ).drop("_inc")


def _label_areas(
    out: pl.DataFrame, plan: _Plan, period_countries: pl.DataFrame, lang: str
) -> pl.DataFrame:
    names = _area_names(lang)
    if "admin2" in plan.areas:
        code = pl.col("admin2")
    elif "admin1" in plan.areas:
        code = pl.col("admin1")
    elif "country" in plan.areas:
        code = pl.col("country")
    else:
        per = period_countries.group_by("period_start", "period_end").agg(
            area=pl.col("country").unique().sort().str.join("+"),
            area_name=pl.col("country")
            .unique()
            .sort()
            .replace_strict(names, default=pl.col("country"))
            .str.join(" + "),
        )
        return out.join(per, on=["period_start", "period_end"], how="left").with_columns(
            pl.col("area").fill_null("-"), pl.col("area_name").fill_null("-")
        )
    return out.with_columns(
        area=code.fill_null("unknown"),
        area_name=code.replace_strict(names, default=code).fill_null(
            "desconocida" if lang != "en" else "unknown"
        ),
    )


def _area_names(lang: str) -> dict[str, str]:
    import pycountry

    out: dict[str, str] = {}
    for c in pycountry.countries:
        out[c.alpha_2] = c.name
    c7 = geo.countries()
    col = "name_en" if lang == "en" else "name_es"
    out.update(dict(zip(c7["iso2"], c7[col], strict=True)))
    a1 = geo.admin1()
    out.update(dict(zip(a1["iso3166_2"], a1["name"], strict=True)))
    a2 = geo.admin2().filter(pl.col("national_code").is_not_null())
    out.update(dict(zip(a2["national_code"], a2["name"], strict=True)))
    return out
