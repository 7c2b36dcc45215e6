"""Public versions of indicator tables: disclosure rules applied before anything leaves.

Rules (docs/disclosure.md, docs/indicators.md):

* small counts (1 to k-1) are suppressed, with complementary suppression so that no
  suppressed count can be worked out from the published cells and totals
  (:func:`safestreets.stats.disclosure.protect`);
* a suppressed count takes its rate, share and value with it (a rate times the population
  gives the count back);
* sensitive indicators (sexual and domestic violence, trafficking, anything about victims
  under 18 or broken down by victims' age) are published at department (admin-1) level or
  coarser only;
* the table says it was disclosure-controlled, and with which k.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from safestreets.errors import InputError
from safestreets.stats.catalogue import AREAS, MINOR_AGE_BANDS, PERIODS, Indicator
from safestreets.stats.disclosure import protect
from safestreets.stats.indicators import Request, Result

DEFAULT_K = 5


@dataclass(frozen=True)
class PublicTable:
    """A disclosure-controlled table and its published totals."""

    cells: pl.DataFrame
    totals: pl.DataFrame
    statement: str
    k: int
    suppressed: int


def is_sensitive(result: Result) -> bool:
    """Sensitive indicators, any breakdown by victims' age and anything about victims under 18
    follow the stricter rules."""
    return _sensitive(result.indicator, result.request)


def _sensitive(indicator: Indicator, request: Request) -> bool:
    # Sensitive by definition, broken down by victims' age, or about victims under 18 (an
    # indicator counting only minors, or a --where age_band= filter that picks minors).
    by = request.by
    own = indicator.numerator.age_band
    minors_only = own is not None and len(own) > 0 and set(own) <= set(MINOR_AGE_BANDS)
    picked = set(request.where.get("age_band", ())) & set(MINOR_AGE_BANDS)
    return (
        indicator.sensitive or "age_band" in by or "age_group" in by or minors_only or bool(picked)
    )


def check_public(indicator: Indicator, request: Request, *, k: int = DEFAULT_K) -> None:
    """Refuse, before computing anything, a public table the rules do not allow.

    Raises:
        InputError: k < 2, or a sensitive indicator asked below department level.
    """
    if k < 2:
        raise InputError(f"k must be at least 2 for a public table, got {k}", hint="default 5")
    if _sensitive(indicator, request) and "admin2" in request.by:
        raise InputError(
            f"{indicator.id} is sensitive: public tables go no finer than the department",
            hint="use --by admin1 (or country) with --public",
        )


def _fill_grid(cells: pl.DataFrame, varying: list[str]) -> pl.DataFrame:
    """Add zero cells for the combinations of a two-way table the result leaves out.

    Absent combinations are zero counts. Given to :func:`protect` as real zero cells they can
    serve as complements; left absent they are structural, and one small count alone in its
    row would force the whole table to be withheld.
    """
    cells = cells.with_columns(_filled=pl.lit(False))
    if len(varying) < 2 or cells.is_empty():
        return cells
    layers, (row, col) = varying[:-2], varying[-2:]
    grid = cells.select(row).unique().join(cells.select(col).unique(), how="cross")
    if layers:
        grid = cells.select(layers).unique().join(grid, how="cross")
    missing = grid.join(cells.select(varying), on=varying, how="anti")
    if missing.is_empty():
        return cells
    zeros = missing.with_columns(count=pl.lit(0, dtype=cells.schema["count"]), _filled=pl.lit(True))
    return pl.concat([cells, zeros], how="diagonal_relaxed")


def _describe_filled(
    out: pl.DataFrame,
    cells: pl.DataFrame,
    keys: list[str],
    area_cols: list[str],
    dims: list[str],
) -> pl.DataFrame:
    """Fill the descriptive columns of suppressed filled-in cells from their keys."""
    filled = out.filter(pl.col("_filled"))
    if filled.is_empty():
        return out
    real = cells.filter(~pl.col("_filled"))
    areas = real.select(
        "_d__area",
        *area_cols,
        *[c for c in ("area", "area_name") if c in real.columns and c not in area_cols],
    ).unique("_d__area")
    periods = real.select("_d_period", "period_start", "period_end").unique("_d_period")
    fixed = [c for c in ("indicator", "unit") if c in real.columns]
    consts = {c: real[c][0] for c in fixed}
    filled = filled.drop([c for c in areas.columns if c != "_d__area"], strict=False).join(
        areas, on="_d__area", how="left"
    )
    filled = filled.drop("period_start", "period_end").join(periods, on="_d_period", how="left")
    filled = filled.with_columns(
        *[pl.lit(v).alias(c) for c, v in consts.items()],
        *[pl.col(f"_d_{d}").replace("∅", None).alias(d) for d in dims[1:]],
    )
    return pl.concat(
        [out.filter(~pl.col("_filled")), filled.select(out.columns)], how="vertical_relaxed"
    )


def statement(k: int, lang: str) -> str:
    """The sentence a public output carries."""
    if lang == "en":
        return (
            f"Disclosure-controlled: counts from 1 to {k - 1} are suppressed, with complementary "
            "suppression so that they cannot be derived from the totals."
        )
    return (
        f"Con control de divulgación: se suprimen los conteos de 1 a {k - 1}, con supresión "
        "complementaria para que no puedan deducirse de los totales."
    )


def make_public(result: Result, *, k: int = DEFAULT_K) -> PublicTable:
    """Apply the publication rules to an indicator result.

    Raises:
        InputError: A sensitive indicator asked below department level, or k < 2.
    """
    check_public(result.indicator, result.request, k=k)
    by = result.request.by
    lang = result.request.lang
    frame = result.frame
    # The area of a cell is all its area columns (an unknown municipality of one department is
    # not the unknown municipality of another); with no area asked, "area" (the countries).
    area_cols = [a for a in AREAS if a in frame.columns] or ["area"]
    others = [b for b in by if b not in AREAS and b not in PERIODS]
    dims = ["_area", "period", *others]
    cells = frame.with_columns(
        pl.concat_str(
            [pl.col(a).cast(pl.String).fill_null("∅") for a in area_cols], separator="|"
        ).alias("_d__area"),
        *[pl.col(d).cast(pl.String).fill_null("∅").alias(f"_d_{d}") for d in dims[1:]],
    )
    keys = [f"_d_{d}" for d in dims]
    # A dimension with a single value (one year, one country) is no axis: its "totals" would be
    # the cells themselves, pinning every small count down so that the whole table (and its
    # totals) would have to be withheld. Protect on the dimensions that vary.
    varying = [c for c in keys if cells[c].n_unique() > 1] or keys[:1]
    constant = {c: cells[c][0] if cells.height else None for c in keys if c not in varying}
    cells = _fill_grid(cells, varying)
    protected = protect(cells, dims=varying, value="count", k=k)
    # A filled-in zero stays out of the table unless it was suppressed: then it must appear,
    # blank like the others, or its absence would say "zero".
    out = protected.cells.filter(~pl.col("_filled") | pl.col("suppressed").is_not_null())
    out = _describe_filled(out, cells, keys, area_cols, dims).drop("_filled")
    hidden = pl.col("count").is_null()
    value_cols = [c for c in ("rate_per_100k", "rate", "share_pct", "value") if c in out.columns]
    out = out.with_columns(
        [pl.when(hidden).then(None).otherwise(pl.col(c)).alias(c) for c in value_cols]
    )
    if "denominator_count" in out.columns:
        small = (pl.col("denominator_count") > 0) & (pl.col("denominator_count") < k)
        out = out.with_columns(
            denominator_count=pl.when(small).then(None).otherwise(pl.col("denominator_count"))
        )
    text = statement(k, lang)
    out = out.drop(keys).with_columns(disclosure_control=pl.lit(f"k={k}"))
    # Totals name their area by its own columns (null where summed over, or unknown).
    areas = cells.select("_d__area", *area_cols).unique("_d__area")
    totals = protected.totals.with_columns(
        [pl.lit(v, dtype=pl.String).alias(c) for c, v in constant.items()]
    ).join(areas, on="_d__area", how="left", maintain_order="left")
    totals = totals.rename({f"_d_{d}": d for d in dims[1:]}).with_columns(
        [pl.col(d).replace("∅", None) for d in dims[1:]]
    )
    totals = totals.select(*area_cols, *dims[1:], pl.exclude(*area_cols, *dims[1:], "_d__area"))
    return PublicTable(
        cells=out,
        totals=totals,
        statement=text,
        k=k,
        suppressed=protected.n_primary + protected.n_secondary,
    )


def public_agreement(agreement: pl.DataFrame, *, k: int = DEFAULT_K) -> PublicTable:
    """The reconciliation agreement table (area x month x pattern) made fit to publish.

    Each area is a table of months by source pattern (``all_sources``, ``police_only``, ...)
    whose row totals are the consolidated counts. The per-source counts (``n_*``,
    ``reported_*``) are left out: each is a sum of patterns, and published beside them it
    would give suppressed cells back.

    Raises:
        InputError: k < 2, or a frame without the agreement columns.
    """
    if k < 2:
        raise InputError(f"k must be at least 2 for a public table, got {k}", hint="default 5")
    need = {"country", "month", "consolidated"}
    if not need <= set(agreement.columns):
        raise InputError(
            "not a reconciliation agreement table", hint="columns country, month, consolidated"
        )
    area = [c for c in ("country", "admin1") if c in agreement.columns]
    start = agreement.columns.index("month") + 1
    end = agreement.columns.index("consolidated")
    patterns = agreement.columns[start:end]
    long = agreement.with_columns(
        _area=pl.concat_str([pl.col(c).fill_null("∅") for c in area], separator="|")
    ).unpivot(
        index=["_area", *area, "month"], on=patterns, variable_name="pattern", value_name="count"
    )
    long = long.with_columns(pl.col("count").cast(pl.Int64))
    protected = protect(long, dims=["_area", "month", "pattern"], value="count", k=k)
    wide = protected.cells.pivot(on="pattern", index=["_area", *area, "month"], values="count")
    # The consolidated count of an area and month is the row total protect() published (or
    # withheld, when a small count alone in its row could not be hidden otherwise).
    row_totals = protected.totals.filter(pl.col("total") == "row").select(
        "_area", "month", consolidated=pl.col("count")
    )
    out = wide.join(row_totals, on=["_area", "month"], how="left").drop("_area")
    out = out.select(*area, "month", *patterns, "consolidated").with_columns(
        disclosure_control=pl.lit(f"k={k}")
    )
    column_totals = protected.totals.filter(pl.col("total") != "row")
    areas = long.select("_area", *area).unique("_area")
    column_totals = column_totals.join(areas, on="_area", how="left").drop("_area")
    return PublicTable(
        cells=out,
        totals=column_totals,
        statement=statement(k, "es") + " / " + statement(k, "en"),
        k=k,
        suppressed=protected.n_primary + protected.n_secondary,
    )
