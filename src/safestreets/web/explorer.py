"""The indicator explorer: any catalogue indicator by area, period and one more breakdown,
as a table, a trend chart (with the table as its alternative) and CSV or XLSX downloads.

What a table is made of follows the API (:mod:`safestreets.api.indicators`): a user with a
reading role gets the sums of the records it may read (filtered in SQL, the query audited);
anyone else gets the public's table (PUBLIC records only, disclosure-controlled). Downloads
need the ``export`` action and are audited as ``export``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import urlencode

import polars as pl
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from safestreets.access.policy import Principal
from safestreets.api.common import parse_date
from safestreets.api.indicators import as_public
from safestreets.errors import InputError, SafeStreetsError
from safestreets.stats import export
from safestreets.stats.catalogue import AREAS, PERIODS, Indicator, builtin_catalogue
from safestreets.stats.indicators import Request as IndicatorRequest
from safestreets.stats.indicators import Result, compute
from safestreets.stats.publish import check_public, make_public
from safestreets.store.aggregates import StoreData
from safestreets.store.audit_log import append_for
from safestreets.store.engine import check_ready
from safestreets.web.base import (
    abilities,
    country_options,
    forbidden,
    login_redirect,
    page,
    page_lang,
)
from safestreets.web.charts import svg_data_uri
from safestreets.web.i18n import Translator
from safestreets.web.session import signed_in

router = APIRouter(include_in_schema=False)

#: Rows shown on the page (downloads have them all).
MAX_ROWS = 500
#: Content types of the downloads.
DOWNLOADS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@dataclass
class Choice:
    """What the explorer's form asks for (every field optional; defaults are sensible)."""

    indicator: str = "homicide_rate"
    area: str = "country"
    period: str = "year"
    breakdown: str = ""
    country: str = ""
    date_from: str = ""
    date_to: str = ""

    def by(self) -> tuple[str, ...]:
        return tuple(b for b in (self.area, self.period, self.breakdown) if b)

    def query(self, **extra: str) -> str:
        params = {
            "indicator": self.indicator,
            "area": self.area,
            "period": self.period,
            "breakdown": self.breakdown,
            "country": self.country,
            "from": self.date_from,
            "to": self.date_to,
            **extra,
        }
        return urlencode({k: v for k, v in params.items() if v is not None})


@dataclass
class Table:
    """The computed table, ready for the template."""

    result: Result | None = None
    frame: pl.DataFrame | None = None
    columns: list[str] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)
    public: bool = False
    statement: str | None = None
    chart: str | None = None
    chart_note: str | None = None
    total_rows: int = 0
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    hint: str | None = None


def _clean(value: str | None, allowed: tuple[str, ...]) -> str:
    value = (value or "").strip()
    return value if value in allowed else ""


def choice_of(params: dict[str, str | None], ind: Indicator) -> Choice:
    """The form's values, each kept only if the indicator allows it."""
    allowed = tuple(ind.breakdowns)
    areas = tuple(a for a in AREAS if a in allowed)
    periods = tuple(p for p in ("year", "quarter", "month") if p in allowed)
    others = tuple(b for b in allowed if b not in AREAS and b not in PERIODS)
    area = params.get("area")
    period = params.get("period")
    country = (params.get("country") or "").strip().upper()
    return Choice(
        indicator=ind.id,
        area=_clean(area, areas) if area is not None else ("country" if "country" in areas else ""),
        period=_clean(period, periods) if period is not None else ("year" if periods else ""),
        breakdown=_clean(params.get("breakdown"), others),
        country=country if country in dict(country_options("es")) else "",
        date_from=(params.get("from") or "").strip()[:10],
        date_to=(params.get("to") or "").strip()[:10],
    )


def _request(choice: Choice, lang: str) -> IndicatorRequest:
    lo = parse_date(choice.date_from, end=False, name="from")
    hi = parse_date(choice.date_to, end=True, name="to")
    if lo is not None and hi is not None and lo > hi:
        raise InputError("from is after to", hint="swap them")
    return IndicatorRequest(
        by=choice.by(),
        where={"country": (choice.country,)} if choice.country else {},
        date_from=lo,
        date_to=hi,
        allow_missing_population=True,
        lang=lang,
    )


def compute_table(
    engine: Any, principal: Principal, ind: Indicator, choice: Choice, lang: str, k: int
) -> tuple[Result, pl.DataFrame, bool, str | None, pl.DataFrame | None]:
    """The indicator table for ``principal``: (result, frame, public?, statement, totals)."""
    req = _request(choice, lang)
    public = not principal.reads_records
    if public:
        check_public(ind, req, k=k)
    asker = as_public(principal) if public else principal
    result = compute(ind, req, StoreData(engine, asker))
    if not public:
        return result, result.frame, False, None, None
    pub = make_public(result, k=k)
    return result, pub.cells, True, pub.statement, pub.totals


def _series(frame: pl.DataFrame, choice: Choice) -> pl.DataFrame:
    parts = [pl.col("area_name").cast(pl.String)]
    if choice.breakdown:
        parts.append(pl.col(choice.breakdown).cast(pl.String).fill_null("–"))
    return frame.with_columns(series=pl.concat_str(parts, separator=" · "))


def _chart(
    frame: pl.DataFrame, value: str, choice: Choice, title: str, t: Translator
) -> tuple[str | None, str | None]:
    """The trend chart as a data URI, or why there is none."""
    from safestreets.stats.charts import MAX_SERIES, trend_chart

    if not choice.period:
        return None, t("chart_needs_period")
    plot = _series(frame.filter(pl.col("period_start").is_not_null()), choice)
    n = plot["series"].n_unique()
    if plot.is_empty():
        return None, None
    if n > MAX_SERIES:
        return None, t("chart_too_many", n=t.number(n), max=t.number(MAX_SERIES))
    col = value if value in plot.columns else "count"
    try:
        svg = trend_chart(plot, value=col, series="series", title=title, lang=t.lang, fmt="svg")
    except InputError as exc:
        return None, exc.message
    return svg_data_uri(svg), None


def _columns(frame: pl.DataFrame, choice: Choice) -> list[str]:
    hide = {"indicator", "area", "period_start", "period_end", "unit", "annualised", "value"}
    hide |= {a for a in AREAS if a in frame.columns}  # area_name says it
    return [c for c in frame.columns if c not in hide]


def _cell(value: Any, t: Translator) -> tuple[str, bool]:
    """A value as the page shows it, and whether it is a number (right-aligned)."""
    if value is None:
        return "–", False
    if isinstance(value, bool):
        return t("yes") if value else t("no"), False
    if isinstance(value, int):
        return t.number(value), True
    if isinstance(value, float):
        if value.is_integer() and abs(value) >= 1000:  # populations
            return t.number(int(value)), True
        return t.decimal(value, 2), True
    if isinstance(value, date):
        return t.short_day(value), False
    return str(value).replace(",", ", "), False


def rows_for_page(frame: pl.DataFrame, columns: list[str], t: Translator) -> list[list[Any]]:
    """The table's cells, formatted for the locale."""
    return [[_cell(v, t) for v in row] for row in frame.select(columns).iter_rows()]


def _params(request: Request) -> dict[str, str | None]:
    q = request.query_params
    keys = ("indicator", "area", "period", "breakdown", "country", "from", "to")
    return {k: q.get(k) for k in keys}


@router.get("/indicators", response_class=HTMLResponse)
def explorer(request: Request) -> Response:
    """The explorer form and, for its choice, the table, the chart and the download links."""
    user = signed_in(request)
    if user is None:
        return login_redirect(request)
    engine = request.app.state.engine
    check_ready(engine)
    lang = page_lang(request)
    t = Translator(lang)
    cat = builtin_catalogue()
    params = _params(request)
    try:
        ind = cat.get((params.get("indicator") or "homicide_rate").strip())
    except SafeStreetsError:
        ind = cat.get("homicide_rate")
    choice = choice_of(params, ind)
    table = Table()
    k = int(request.app.state.settings.public_k)
    try:
        result, frame, public, statement, _ = compute_table(engine, user, ind, choice, lang, k)
    except SafeStreetsError as exc:
        table.error, table.hint = exc.message, exc.hint
    else:
        table.result, table.public, table.statement = result, public, statement
        table.total_rows = frame.height
        table.frame = frame.head(MAX_ROWS)
        table.columns = _columns(frame, choice)
        table.rows = rows_for_page(table.frame, table.columns, t)
        table.notes = list(result.notes)
        value = result.value_column if result.value_column in frame.columns else "value"
        table.chart, table.chart_note = _chart(frame, value, choice, ind.name.get(lang), t)
    allowed = list(ind.breakdowns)
    return page(
        request,
        "indicators.html",
        indicators=sorted(cat.indicators, key=lambda i: i.name.get(lang)),
        ind=ind,
        choice=choice,
        table=table,
        areas=[a for a in AREAS if a in allowed],
        periods=[p for p in ("year", "quarter", "month") if p in allowed],
        others=[b for b in allowed if b not in AREAS and b not in PERIODS],
        countries=country_options(lang),
        max_rows=MAX_ROWS,
        download_csv="/indicators/download?" + choice.query(format="csv", lang=lang),
        download_xlsx="/indicators/download?" + choice.query(format="xlsx", lang=lang),
        can_download=abilities(user).export,
    )


@router.get("/indicators/download")
def download(request: Request, format: str = Query("csv", pattern="^(csv|xlsx)$")) -> Response:
    """The explorer's table as CSV (UTF-8 with BOM) or XLSX; needs the export action."""
    user = signed_in(request)
    if user is None:
        return login_redirect(request)
    engine = request.app.state.engine
    check_ready(engine)
    lang = page_lang(request)
    t = Translator(lang)
    if not abilities(user).export:
        raise forbidden(t, t("download_forbidden"))
    params = _params(request)
    ind = builtin_catalogue().get((params.get("indicator") or "homicide_rate").strip())
    choice = choice_of(params, ind)
    k = int(request.app.state.settings.public_k)
    result, frame, public, statement, totals = compute_table(engine, user, ind, choice, lang, k)
    meta: dict[str, Any] = {
        "indicator": ind.id,
        "name": ind.name.get(lang),
        "description": ind.description.get(lang),
        "unit": ind.numerator.unit,
        "by": list(result.request.by),
        "where": {key: list(v) for key, v in result.request.where.items()},
        "scope": "public" if public else "records",
        "exported_by": user.name,
        "exported_on": date.today().isoformat(),
        "notes": result.notes,
    }
    if statement:
        meta["disclosure_control"] = statement
    if totals is not None and format == "xlsx":
        meta["totals"] = [
            {c: export.plain(v) for c, v in r.items()} for r in totals.iter_rows(named=True)
        ]
    body = export.to_bytes(frame, format, meta)
    with engine.begin() as conn:
        append_for(
            conn,
            user,
            "export",
            target=f"indicator:{ind.id}",
            detail={"format": format, "query": choice.query(), "rows": frame.height},
        )
    return Response(
        body,
        media_type=DOWNLOADS[format],
        headers={
            "Content-Disposition": f'attachment; filename="{ind.id}.{format}"',
            "Cache-Control": "no-store",
        },
    )
