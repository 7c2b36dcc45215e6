"""The overview: key indicators per country, with their trend over the years.

Every figure is computed by the indicator engine over the store as the signed-in principal
(:class:`~safestreets.store.aggregates.StoreData` with the principal: only the records whose
sums it may read, and each query audited), so a user of one country sees all the national
records of their country but only the regionally shared records of the others; the page says
which basis each row has.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import polars as pl
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from safestreets.access.policy import Principal
from safestreets.stats.catalogue import builtin_catalogue
from safestreets.stats.indicators import Request as IndicatorRequest
from safestreets.stats.indicators import compute
from safestreets.stats.trends import year_over_year
from safestreets.store.aggregates import StoreData
from safestreets.store.batches import has_synthetic
from safestreets.store.engine import check_ready
from safestreets.web.base import abilities, login_redirect, page, page_lang
from safestreets.web.charts import sparkline
from safestreets.web.i18n import Translator
from safestreets.web.session import signed_in

router = APIRouter(include_in_schema=False)

#: The indicators of the overview, in this order.
KEY_INDICATORS = ("homicide_rate", "robbery_rate", "extortion_rate")


@dataclass
class CountryTrend:
    """One country's row of an indicator block."""

    code: str
    name: str
    #: ``own``: the user's country (national records); ``shared``: regionally shared only;
    #: ``all``: the operator's view.
    basis: str
    values: dict[str, float | None]
    counts: dict[str, int]
    latest: str | None
    change_pct: float | None
    direction: str | None
    description: str | None
    spark: Markup


@dataclass
class IndicatorBlock:
    """One indicator: its rows by country and the years they cover."""

    id: str
    name: str
    description: str
    value_column: str
    years: list[str]
    rows: list[CountryTrend] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _basis(principal: Principal, country: str) -> str:
    if principal.operator:
        return "all"
    return "own" if principal.country == country else "shared"


def indicator_block(
    engine: Any, principal: Principal, indicator_id: str, t: Translator
) -> IndicatorBlock:
    """The block of one indicator: by country and year, with the latest year's change."""
    ind = builtin_catalogue().get(indicator_id)
    req = IndicatorRequest(by=("country", "year"), allow_missing_population=True, lang=t.lang)
    result = compute(ind, req, StoreData(engine, principal))
    frame = result.frame
    value_col = result.value_column
    block = IndicatorBlock(
        id=ind.id,
        name=ind.name.get(t.lang),
        description=ind.description.get(t.lang),
        value_column=value_col,
        years=sorted(frame["period"].unique().to_list()) if frame.height else [],
        notes=list(result.notes),
    )
    if frame.is_empty():
        return block
    changes = year_over_year(frame, by=["area"], value=value_col, lang=t.lang)
    frame = frame.with_columns(
        change_pct=changes["pct_change"],
        direction=changes["direction"],
        description=changes["description"],
    )
    order = sorted(
        frame["area"].unique().to_list(),
        key=lambda c: (principal.country != c, c),  # the user's own country first
    )
    for code in order:
        rows = frame.filter(pl.col("area") == code).sort("period_start")
        values = {p: v for p, v in zip(rows["period"], rows["value"], strict=True)}
        counts = {p: int(n) for p, n in zip(rows["period"], rows["count"], strict=True)}
        last = rows.row(rows.height - 1, named=True)
        series = [values.get(y) for y in block.years]
        label = t(
            "spark_label",
            indicator=block.name,
            country=str(last["area_name"]),
            first=block.years[0],
            last=block.years[-1],
        )
        block.rows.append(
            CountryTrend(
                code=code,
                name=str(last["area_name"]),
                basis=_basis(principal, code),
                values=values,
                counts=counts,
                latest=str(last["period"]),
                change_pct=last["change_pct"],
                direction=last["direction"],
                description=last["description"],
                spark=sparkline(series, label=label),
            )
        )
    return block


@router.get("/overview", response_class=HTMLResponse)
def overview(request: Request) -> Response:
    """Key indicators per country with their trends (and each chart's numbers as a table)."""
    user = signed_in(request)
    if user is None:
        return login_redirect(request)
    engine = request.app.state.engine
    check_ready(engine)
    t = Translator(page_lang(request))
    blocks = (
        [indicator_block(engine, user, i, t) for i in KEY_INDICATORS]
        if abilities(user).read
        else []
    )
    return page(request, "overview.html", blocks=blocks, synthetic=has_synthetic(engine))
