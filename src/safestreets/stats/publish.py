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
from safestreets.stats.catalogue import AREAS, PERIODS
from safestreets.stats.disclosure import protect
from safestreets.stats.indicators import Result

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
    """Sensitive indicators, and any breakdown by victims' age, follow the stricter rules."""
    by = result.request.by
    return result.indicator.sensitive or "age_band" in by or "age_group" in by


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
    if k < 2:
        raise InputError(f"k must be at least 2 for a public table, got {k}", hint="default 5")
    by = result.request.by
    lang = result.request.lang
    if is_sensitive(result) and "admin2" in by:
        raise InputError(
            f"{result.indicator.id} is sensitive: public tables go no finer than the department",
            hint="use --by admin1 (or country) with --public",
        )
    frame = result.frame
    area = next((a for a in reversed(AREAS) if a in by), None)
    dims = [
        *([area] if area else ["area"]),
        "period",
        *[b for b in by if b not in AREAS and b not in PERIODS],
    ]
    # Each cell is unique on dims; with no area asked, "area" (the countries) plays that role.
    cells = frame.with_columns(
        [pl.col(d).cast(pl.String).fill_null("∅").alias(f"_d_{d}") for d in dims]
    )
    keys = [f"_d_{d}" for d in dims]
    protected = protect(cells, dims=keys, value="count", k=k)
    out = protected.cells
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
    totals = protected.totals.rename({f"_d_{d}": d for d in dims}).with_columns(
        [pl.col(d).replace("∅", None) for d in dims]
    )
    return PublicTable(
        cells=out,
        totals=totals,
        statement=text,
        k=k,
        suppressed=protected.n_primary + protected.n_secondary,
    )
