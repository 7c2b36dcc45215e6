"""The rules of the public safe-streets map, as pure functions over small frames.

Everything the public (no login) is shown passes through these rules (docs/public-map.md):

* **Records.** Only incidents their owner agency marked ``PUBLIC``; the store applies it in
  the SQL (:mod:`safestreets.store.public`).
* **Time.** Whole calendar years (local time), each published only once it ended at least
  ``delay_days`` ago. Fixed, non-overlapping periods on purpose: a rolling window published
  every day would give, by subtraction of two days' maps, the incidents of a single day in a
  single cell.
* **Categories.** A partition of offences (each record in exactly one category, so that no
  published figure is the sum of others and no hidden one can be had by subtraction).
  Sexual violence, domestic violence (offences against the person in the family or by a
  partner) and trafficking in persons are *sensitive*: published by department (admin-1)
  only, never by municipality and never on the map.
* **Small counts.** Every published table is a set of rows (municipalities, departments or
  map cells), each with its total and its count per category. A row whose total is 1 to k-1
  is hidden whole; in the other rows a count of 1 to k-1 is hidden, and when it is the only
  one in its row, so is the smallest other non-zero count, so that the row total does not
  give it back (what :func:`safestreets.stats.disclosure.protect` does for a one-way table
  with its total). No total over rows is published.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final, Literal

import polars as pl
from babel.numbers import format_decimal

from safestreets.errors import InputError
from safestreets.reference.iccs import iccs_name

__all__ = [
    "CATEGORIES",
    "DOMESTIC_CONTEXTS",
    "Band",
    "Category",
    "NotPublishable",
    "RowTable",
    "band_of",
    "bands",
    "categories",
    "category",
    "check_level",
    "check_year",
    "classify",
    "protect_rows",
    "published_through",
    "statement",
    "year_published",
]

Level = Literal["admin2", "admin1", "cell"]
#: Contexts that make an offence against the person domestic violence (as the catalogue's
#: ``domestic_violence_rate``).
DOMESTIC_CONTEXTS: Final = ("intimate_partner", "family")
_LANGS: Final = ("es", "en")


class NotPublishable(InputError):
    """A public output the disclosure rules do not allow (a sensitive category by
    municipality or on the map, a year still inside the publication delay)."""

    code = "not_publishable"


@dataclass(frozen=True)
class Category:
    """One category of the public map.

    Attributes:
        id: Stable identifier used in URLs.
        iccs: ICCS codes it covers (this code or finer); empty for ``other``.
        sensitive: Published by department only, never by municipality or on the map.
        names: Name per language; when absent, the ICCS name of the single code.
    """

    id: str
    iccs: tuple[str, ...]
    sensitive: bool = False
    names: tuple[tuple[str, str], ...] = ()

    def name(self, lang: str) -> str:
        """The category's name in ``lang`` (es or en)."""
        own = dict(self.names)
        if lang in own:
            return own[lang]
        return iccs_name(self.iccs[0], lang if lang in _LANGS else "es") or self.id

    @property
    def finest(self) -> Literal["admin2", "admin1"]:
        """The finest level the category is published at."""
        return "admin1" if self.sensitive else "admin2"


#: The partition, in the order a record is tested (the first that matches wins).
CATEGORIES: Final[tuple[Category, ...]] = (
    Category("sexual_violence", ("03",), sensitive=True,
             names=(("es", "Violencia sexual"), ("en", "Sexual violence"))),
    Category("trafficking", ("0204",), sensitive=True),
    Category("domestic_violence", ("01", "02"), sensitive=True,
             names=(("es", "Violencia doméstica (en la familia o por la pareja)"),
                    ("en", "Domestic violence (in the family or by a partner)"))),
    Category("homicide", ("0101",)),
    Category("assault", ("0201",)),
    Category("extortion", ("02051",)),
    Category("robbery", ("0401",)),
    Category("burglary", ("0501",)),
    Category("theft", ("0502",)),
    Category("other", (), names=(("es", "Otros delitos o sin clasificar"),
                                 ("en", "Other or unclassified offences"))),
)  # fmt: skip
_BY_ID: Final = {c.id: c for c in CATEGORIES}


def categories(*, sensitive: bool | None = None) -> list[Category]:
    """The categories in display order (non-sensitive first), optionally one kind only."""
    out = [c for c in CATEGORIES if not c.sensitive] + [c for c in CATEGORIES if c.sensitive]
    return out if sensitive is None else [c for c in out if c.sensitive == sensitive]


def category(category_id: str) -> Category:
    """The category of that id.

    Raises:
        InputError: An unknown id (the hint lists the known ones).
    """
    found = _BY_ID.get(category_id.strip().lower())
    if found is None:
        raise InputError(
            f"unknown category {category_id!r}",
            hint="one of " + ", ".join(c.id for c in categories()),
        )
    return found


def _prefix(col: pl.Expr, codes: Sequence[str]) -> pl.Expr:
    expr = pl.lit(False)
    for code in codes:
        expr = expr | col.str.starts_with(code)
    return expr.fill_null(False)


def classify(iccs: pl.Expr | None = None, context: pl.Expr | None = None) -> pl.Expr:
    """The category id of each record, from its ICCS code and context (never null).

    A record without an ICCS code is ``other``; domestic violence is an offence against the
    person (ICCS 01, 02) in the context of a partner or the family.
    """
    iccs = pl.col("iccs_code") if iccs is None else iccs
    context = pl.col("context") if context is None else context
    domestic = context.is_in(list(DOMESTIC_CONTEXTS)).fill_null(False)
    expr = pl.lit("other")
    for cat in reversed(CATEGORIES):  # built inside out: the first category is tested first
        if not cat.iccs:
            continue
        cond = _prefix(iccs, cat.iccs)
        if cat.id == "domestic_violence":
            cond = cond & domestic
        expr = pl.when(cond).then(pl.lit(cat.id)).otherwise(expr)
    return expr.alias("category")


# --- time --------------------------------------------------------------------------------


def published_through(today: date, delay_days: int) -> date:
    """The last day whose events may be published: ``delay_days`` before ``today``."""
    if delay_days < 0:
        raise InputError(f"the publication delay cannot be negative, got {delay_days}")
    return today - timedelta(days=delay_days)


def year_published(year: int, today: date, delay_days: int) -> bool:
    """Whether calendar ``year`` ended at least ``delay_days`` before ``today``."""
    return date(year, 12, 31) <= published_through(today, delay_days)


def check_year(year: int, today: date, delay_days: int) -> None:
    """Refuse a year that is not published yet.

    Raises:
        NotPublishable: The year has not ended at least ``delay_days`` ago.
    """
    if not year_published(year, today, delay_days):
        first = date(year, 12, 31) + timedelta(days=delay_days + 1)
        raise NotPublishable(
            f"{year} is not published yet: a calendar year is published once it ended at "
            f"least {delay_days} days ago (from {first.isoformat()})",
            hint="ask for an earlier year; /api/v1/public/options lists the published ones",
        )


def check_level(cat: Category, level: Level) -> None:
    """Refuse a category below the finest level it is published at.

    Raises:
        NotPublishable: A sensitive category by municipality or on the map, or a
            non-sensitive one by department (municipal figures are its finest, and the two
            published together would let hidden municipal counts be worked out).
    """
    if cat.sensitive and level != "admin1":
        where = "on the map" if level == "cell" else "by municipality"
        raise NotPublishable(
            f"{cat.id} is a sensitive category: it is published by department only, never {where}",
            hint=f"ask /api/v1/public/departments?category={cat.id}",
        )
    if not cat.sensitive and level == "admin1":
        raise NotPublishable(
            f"{cat.id} is published by municipality; department figures are kept for the "
            "sensitive categories",
            hint=f"ask /api/v1/public/municipalities?category={cat.id}",
        )


# --- small counts ------------------------------------------------------------------------


@dataclass(frozen=True)
class RowTable:
    """A table of rows x categories made fit to publish.

    Attributes:
        cells: One row per (key, category): ``count`` (Int64, null when hidden) and
            ``hidden`` (Boolean), in key order then category order.
        rows: One row per key: ``total`` (Int64, null when hidden) and ``hidden``.
        k: The threshold.
    """

    cells: pl.DataFrame
    rows: pl.DataFrame
    k: int


def protect_rows(
    counts: pl.DataFrame,
    *,
    key: str,
    columns: Sequence[str],
    k: int,
    keys: Sequence[str] | None = None,
) -> RowTable:
    """Hide what a row-and-total table must not show (see the module docstring).

    Args:
        counts: ``key``, ``category`` and integer ``count`` (repeats are summed; absent
            combinations are zeros; categories outside ``columns`` are refused).
        key: The row column.
        columns: The categories, in order.
        k: Threshold: counts from 1 to k-1 are hidden.
        keys: Rows to show even without any count (zeros); default: those in ``counts``.

    Raises:
        InputError: ``k`` below 2, or a category outside ``columns``.
    """
    if k < 2:
        raise InputError(f"k must be at least 2 for a public table, got {k}", hint="default 5")
    cols = list(columns)
    stray = set(counts["category"].unique().to_list()) - set(cols)
    if stray:
        raise InputError(f"categories outside the table: {sorted(map(str, stray))}")
    summed = counts.group_by(key, "category").agg(pl.col("count").sum().cast(pl.Int64))
    wanted = list(dict.fromkeys([*(keys or []), *sorted(summed[key].to_list())]))
    grid = pl.DataFrame({key: wanted}, schema={key: pl.String}).join(
        pl.DataFrame({"category": cols, "_pos": list(range(len(cols)))}), how="cross"
    )
    grid = grid.with_row_index("_row").join(
        summed.with_columns(pl.col(key).cast(pl.String)), on=[key, "category"], how="left"
    )
    grid = grid.sort("_row").with_columns(pl.col("count").fill_null(0))
    v = pl.col("count")
    primary = (v > 0) & (v < k)
    grid = grid.with_columns(
        _total=v.sum().over(key),
        _primary=primary,
        _n=primary.cast(pl.Int64).sum().over(key),
    )
    small_row = (pl.col("_total") > 0) & (pl.col("_total") < k)
    # A lone hidden count is given back by the row total: hide the smallest other non-zero
    # count too (ties: the first category). One exists: the rest of the row sums to >= 1.
    candidate = ~pl.col("_primary") & (v > 0) & (pl.col("_n") == 1)
    score = pl.when(candidate).then(v * len(cols) + pl.col("_pos"))
    grid = grid.with_columns(_score=score)
    grid = grid.with_columns(
        _secondary=pl.col("_score").is_not_null()
        & (pl.col("_score") == pl.col("_score").min().over(key))
    )
    # Never happens (see above); if it did, the whole row goes rather than a lone hidden cell.
    unsafe = (pl.col("_n") == 1) & ~pl.col("_secondary").any().over(key)
    grid = grid.with_columns(_row_hidden=small_row | unsafe)
    hidden = pl.col("_row_hidden") | pl.col("_primary") | pl.col("_secondary")
    cells = grid.select(
        key,
        "category",
        count=pl.when(hidden).then(None).otherwise(v),
        hidden=hidden,
    )
    rows = (
        grid.group_by(key, maintain_order=True)
        .agg(pl.col("_total").first(), pl.col("_row_hidden").first())
        .select(
            key,
            total=pl.when(pl.col("_row_hidden")).then(None).otherwise(pl.col("_total")),
            hidden=pl.col("_row_hidden"),
        )
    )
    return RowTable(cells=cells, rows=rows, k=k)


# --- map bands and statements ------------------------------------------------------------


@dataclass(frozen=True)
class Band:
    """A class of published counts on the map: ``low`` to ``high`` (None: no upper end)."""

    id: str
    low: int
    high: int | None

    def label(self, lang: str) -> str:
        """``5–9`` or ``40 o más`` / ``40 or more``."""
        if self.high is None:
            return f"{self.low} o más" if lang == "es" else f"{self.low} or more"
        return f"{self.low}–{self.high}"


def bands(k: int) -> list[Band]:
    """Four classes doubling from k: k..2k-1, 2k..4k-1, 4k..8k-1, 8k and more."""
    return [
        Band("b1", k, 2 * k - 1),
        Band("b2", 2 * k, 4 * k - 1),
        Band("b3", 4 * k, 8 * k - 1),
        Band("b4", 8 * k, None),
    ]


def band_of(count: int, k: int) -> Band:
    """The band of a published count (at least k)."""
    for band in reversed(bands(k)):
        if count >= band.low:
            return band
    raise InputError(f"a published count is at least k={k}, got {count}")


def statement(*, k: int, delay_days: int, cell_m: float, lang: str) -> str:
    """What the public outputs are made of and what they hide, in plain language."""
    cell = format_decimal(round(cell_m), locale="en" if lang == "en" else "es")
    if lang == "en":
        return (
            "Only incidents their owner agency marked as public. Each calendar year is "
            f"published once it ended at least {delay_days} days ago. Counts from 1 to {k - 1} "
            "are hidden, and where needed one more count of the same row, so that they cannot "
            "be worked out from the totals. Sexual violence, domestic violence and trafficking "
            f"in persons are shown by department only. Map cells are {cell} m wide; no "
            "location more precise than a cell is published."
        )
    return (
        "Solo incidentes que la institución dueña de los datos marcó como públicos. Cada año "
        f"calendario se publica cuando terminó hace al menos {delay_days} días. Se ocultan "
        f"los conteos de 1 a {k - 1} y, cuando hace falta, otro conteo de la misma fila, para "
        "que no puedan deducirse de los totales. La violencia sexual, la violencia doméstica y "
        f"la trata de personas se muestran solo por departamento. Las celdas del mapa miden "
        f"{cell} m de lado; no se publica ninguna ubicación más precisa que una celda."
    )
