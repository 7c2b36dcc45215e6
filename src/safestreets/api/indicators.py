"""``/api/v1/indicators``: the catalogue, and indicator tables for whoever asks.

What a table is made of depends on the principal (docs/api.md, "Indicators"):

- a user with a reading role gets the sums of the records it may read (the store applies
  :func:`safestreets.access.policy.aggregate_scope` in SQL and audits the query);
- anyone else (the public, an admin without a reading role) gets what the public gets: sums
  of ``PUBLIC`` records only, and only through disclosure control
  (:func:`safestreets.stats.publish.make_public`, k from the settings). The query is
  audited under the caller's name.

Published counts and populations are public figures and enter every table.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field

from safestreets.access.policy import PUBLIC_ROLE, Principal
from safestreets.api.auth import current_principal
from safestreets.api.common import (
    DATE_PATTERN,
    OPTIONAL_AUTH,
    errors,
    parse_date,
    ready_engine,
    rows_of,
)
from safestreets.errors import InputError
from safestreets.stats.catalogue import Indicator, builtin_catalogue
from safestreets.stats.indicators import Request as IndicatorRequest
from safestreets.stats.indicators import compute
from safestreets.stats.publish import check_public, make_public
from safestreets.store.aggregates import StoreData

router = APIRouter(tags=["indicators"])

Lang = Literal["es", "en"]


class Text(BaseModel):
    es: str
    en: str


class IndicatorInfo(BaseModel):
    id: str
    name: Text
    description: Text
    unit: Literal["victims", "incidents"]
    denominator: Literal["population", "share", "none"]
    share_of: str | None
    multiplier: float
    breakdowns: list[str]
    sensitive: bool = Field(description="published no finer than admin-1, with disclosure control")
    references: list[str]


class IndicatorList(BaseModel):
    items: list[IndicatorInfo]


class DisclosureControl(BaseModel):
    k: int = Field(description="counts from 1 to k-1 are suppressed")
    suppressed_cells: int
    statement: str


class IndicatorTable(BaseModel):
    """One indicator table: its rows and what they are made of."""

    indicator: str
    name: str
    description: str
    unit: str
    by: list[str]
    where: dict[str, list[str]]
    date_from: str | None
    date_to: str | None
    scope: Literal["records", "public"] = Field(
        description="records: sums of what the principal may read; public: PUBLIC records "
        "only, disclosure-controlled"
    )
    read_from: str = Field(description="the rollup grain read, or raw")
    value_column: str
    columns: list[str]
    rows: list[dict[str, Any]]
    totals: list[dict[str, Any]] | None = Field(
        description="published totals of a disclosure-controlled table"
    )
    disclosure_control: DisclosureControl | None
    notes: list[str]


def _info(ind: Indicator) -> IndicatorInfo:
    return IndicatorInfo(
        id=ind.id,
        name=Text(es=ind.name.es, en=ind.name.en),
        description=Text(es=ind.description.es, en=ind.description.en),
        unit=ind.numerator.unit,
        denominator=ind.denominator.kind,
        share_of=ind.denominator.share_of,
        multiplier=ind.multiplier,
        breakdowns=list(ind.breakdowns),
        sensitive=ind.sensitive,
        references=list(ind.references),
    )


def _where(items: list[str]) -> dict[str, tuple[str, ...]]:
    """``country=GT,SV`` ``sex=female`` -> {"country": ("GT", "SV"), "sex": ("female",)}."""
    out: dict[str, tuple[str, ...]] = {}
    for item in items:
        key, sep, values = item.partition("=")
        if not sep or not key.strip() or not values.strip():
            raise InputError(f"cannot read where={item!r}", hint="use where=KEY=VALUE[,VALUE...]")
        vals = tuple(v.strip() for v in values.split(",") if v.strip())
        key = key.strip()
        if key == "country":
            vals = tuple(v.upper() for v in vals)
        out[key] = tuple(dict.fromkeys([*out.get(key, ()), *vals]))
    return out


def as_public(principal: Principal) -> Principal:
    """``principal`` with exactly the public's reach, still named (so audits say who asked)."""
    return replace(principal, user_id=None, roles=frozenset({PUBLIC_ROLE}), operator=False)


@router.get(
    "/indicators",
    operation_id="list_indicators",
    openapi_extra=OPTIONAL_AUTH,
    summary="The indicator catalogue",
    response_model=IndicatorList,
    responses=errors(401),
)
def list_indicators(_: Principal = Depends(current_principal)) -> IndicatorList:
    return IndicatorList(items=[_info(i) for i in builtin_catalogue().indicators])


@router.get(
    "/indicators/{indicator_id}",
    operation_id="get_indicator",
    openapi_extra=OPTIONAL_AUTH,
    summary="An indicator table by area, period and breakdowns",
    response_model=IndicatorTable,
    responses=errors(400, 401, 404),
)
def get_indicator(
    request: Request,
    indicator_id: str = Path(min_length=1, max_length=64),
    by: str = Query("country,year", max_length=200, description="breakdowns, comma-separated"),
    where: list[str] = Query(
        [], description="filter KEY=V1[,V2]; repeatable (e.g. where=country=GT)"
    ),
    date_from: str | None = Query(
        None, alias="from", pattern=DATE_PATTERN, description="first day, YYYY[-MM[-DD]]"
    ),
    date_to: str | None = Query(
        None, alias="to", pattern=DATE_PATTERN, description="last day, YYYY[-MM[-DD]]"
    ),
    allow_missing_population: bool = Query(False, description="null rates instead of an error"),
    lang: Lang = Query("es", description="language of names and notes"),
    principal: Principal = Depends(current_principal),
) -> IndicatorTable:
    """Rates are per 100,000 mid-year population, in each source's local time. Principals
    without record-level rights get the disclosure-controlled public table."""
    cat = builtin_catalogue()
    ind = cat.get(indicator_id)
    req = IndicatorRequest(
        by=tuple(b.strip() for b in by.split(",") if b.strip()),
        where=_where(where),
        date_from=parse_date(date_from, end=False, name="from"),
        date_to=parse_date(date_to, end=True, name="to"),
        allow_missing_population=allow_missing_population,
        lang=lang,
    )
    if req.date_from and req.date_to and req.date_from > req.date_to:
        raise InputError("from is after to", hint="swap them")
    public = not principal.reads_records
    k = int(request.app.state.settings.public_k)
    if public:
        check_public(ind, req, k=k)  # refuse before computing
    asker = as_public(principal) if public else principal
    result = compute(ind, req, StoreData(ready_engine(request), asker), catalogue=cat)
    frame, totals, control = result.frame, None, None
    if public:
        pub = make_public(result, k=k)
        frame, totals = pub.cells, rows_of(pub.totals)
        control = DisclosureControl(
            k=pub.k, suppressed_cells=pub.suppressed, statement=pub.statement
        )
    return IndicatorTable(
        indicator=ind.id,
        name=ind.name.get(lang),
        description=ind.description.get(lang),
        unit=ind.numerator.unit,
        by=list(req.by),
        where={key: list(v) for key, v in req.where.items()},
        date_from=req.date_from.isoformat() if req.date_from else None,
        date_to=req.date_to.isoformat() if req.date_to else None,
        scope="public" if public else "records",
        read_from=result.read_from,
        value_column=result.value_column,
        columns=frame.columns,
        rows=rows_of(frame),
        totals=totals,
        disclosure_control=control,
        notes=result.notes,
    )
