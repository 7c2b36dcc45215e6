"""The alert exchange in the dashboard: hit/no-hit queries, follow-up requests, alerts.

The pages of a liaison officer at a crossing and of the owner agency, thin over
:mod:`safestreets.sharing.service` (the same functions as the API and the CLI, which hold the
rules and write the audit entries):

- ``/hits``: a query form per subject (person, vehicle, firearm; the subject is a link, so the
  form needs no script), and the answer: "no hit", or per hit its reference, kind, owner,
  contact point, handling instructions and score, the subject's details only where the
  service released them, otherwise a form to file a follow-up request;
- ``/requests``: the user's own requests and, for the owner agency's deciders, those
  addressed to it with approve/deny forms; ``/requests/{id}``: the released details for the
  requester, or a plain refusal;
- ``/alerts``: the agency's alerts with a create form per kind and a cancel button;
  ``/alerts/searches``: who searched for them.

Every service call runs in one transaction with the signed-in principal; every form posts
with the session's CSRF token; errors are shown as one line (the service's message and hint).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Final

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from safestreets.access.policy import Principal, may
from safestreets.errors import InputError, NotFound, SafeStreetsError
from safestreets.schema import ALERT_KINDS, HANDLING_CODES
from safestreets.sharing import service
from safestreets.sharing.alerts import DEFAULT_INSTRUCTIONS, subject_of
from safestreets.store.alerts import AlertFilter, alerts_for
from safestreets.store.engine import check_ready
from safestreets.web.base import (
    country_options,
    forbidden,
    login_redirect,
    page,
    page_lang,
    see_other,
    templates,
)
from safestreets.web.i18n import Translator
from safestreets.web.session import CSRF_FIELD, check_csrf, signed_in

__all__ = [
    "ALERT_FORM_FIELDS",
    "QUERY_FIELDS",
    "SUBJECTS",
    "router",
]

router = APIRouter(include_in_schema=False)

Token = Annotated[str | None, Form(alias=CSRF_FIELD)]

#: The subjects a query asks about, in the order of the tabs.
SUBJECTS: Final = ("person", "vehicle", "firearm")

#: The fields of each subject's query form: (field, widget). Widgets: ``text``, ``dob``
#: (partial dates allowed), ``sex``, ``country`` (code or name, with the seven as
#: suggestions), ``serial`` (unknown characters written ?).
QUERY_FIELDS: Final[dict[str, tuple[tuple[str, str], ...]]] = {
    "person": (
        ("given_names", "text"),
        ("surname_1", "text"),
        ("surname_2", "text"),
        ("date_of_birth", "dob"),
        ("sex", "sex"),
        ("national_id", "text"),
        ("id_country", "country"),
        ("nationality", "country"),
    ),
    "vehicle": (
        ("plate", "text"),
        ("plate_country", "country"),
        ("vin", "text"),
        ("make", "text"),
        ("model", "text"),
        ("colour", "text"),
    ),
    "firearm": (
        ("serial", "serial"),
        ("make", "text"),
        ("model", "text"),
        ("calibre", "text"),
    ),
}

_PERSON_ALERT: Final = (
    *QUERY_FIELDS["person"],
    ("aliases", "text"),
    ("municipality", "text"),
)
#: The subject fields of the create form of each alert kind (the common fields of every
#: alert are in the template: external id, handling code, validity, contact, reason,
#: instructions).
ALERT_FORM_FIELDS: Final[dict[str, tuple[tuple[str, str], ...]]] = {
    "wanted_person": (("warrant_ref", "required"), ("iccs_code", "required"), *_PERSON_ALERT),
    "missing_person": (("is_child", "child"), *_PERSON_ALERT),
    "criminal_record": _PERSON_ALERT,
    "stolen_vehicle": (*QUERY_FIELDS["vehicle"], ("year", "text")),
    "stolen_firearm": (*QUERY_FIELDS["firearm"], ("firearm_type", "text")),
    "recovered_firearm": (*QUERY_FIELDS["firearm"], ("firearm_type", "text")),
}
#: Common fields of the create form (besides ``kind``).
_COMMON_ALERT_FIELDS: Final = (
    "external_id",
    "handling_code",
    "valid_until",
    "contact",
    "reason",
    "instructions",
)
#: Longest value a form field may carry (names, plates and reasons are far shorter).
MAX_FIELD: Final = 2000
#: Alerts listed per page.
ALERTS_PAGE: Final = 200
#: Days of validity the create form proposes.
DEFAULT_VALID_DAYS: Final = 365

# The navigation (base.html) shows the alert pages by what the user may do; the policy's
# own function, so the links and the pages agree.
templates.env.globals["may"] = may


# --- who may open what -------------------------------------------------------------------------


def _user(request: Request, *actions: str, what: str) -> Principal | Response:
    """The signed-in principal when one of ``actions`` allows it; the login page for a
    visitor; a 403 page otherwise."""
    user = signed_in(request)
    if user is None:
        return login_redirect(request)
    if not any(may(user, a) for a in actions):
        t = Translator(page_lang(request))
        raise forbidden(t, t(what))
    return user


def _engine(request: Request) -> Any:
    engine = request.app.state.engine
    check_ready(engine)
    return engine


def _error(exc: SafeStreetsError) -> tuple[str, str | None]:
    return exc.message, exc.hint


def _clip(value: Any) -> str:
    text = "" if value is None else str(value).strip()
    if len(text) > MAX_FIELD:
        raise InputError(f"a field is longer than {MAX_FIELD} characters")
    return text


def _form_fields(form: Mapping[str, Any], names: Any) -> dict[str, str]:
    return {name: _clip(form.get(name)) for name in names}


# --- hit/no-hit ----------------------------------------------------------------------------------


def _subject(value: str | None) -> str:
    return value if value in SUBJECTS else "person"


def _hits_page(
    request: Request,
    *,
    subject: str,
    values: Mapping[str, str] | None = None,
    purpose: str = "",
    answer: service.HitAnswer | None = None,
    error: tuple[str, str | None] | None = None,
    status: int = 200,
) -> Response:
    return page(
        request,
        "hits.html",
        status=status,
        subjects=SUBJECTS,
        subject=subject,
        fields=QUERY_FIELDS[subject],
        values=values or {},
        purpose=purpose,
        answer=answer,
        error=error,
        countries=country_options(page_lang(request)),
        default_instructions=DEFAULT_INSTRUCTIONS,
    )


@router.get("/hits", response_class=HTMLResponse)
def hits_page(request: Request, subject: str | None = None) -> Response:
    """The hit/no-hit query form (liaison and regional officers)."""
    user = _user(request, "query:cross_border", what="nav_hits")
    if isinstance(user, Response):
        return user
    return _hits_page(request, subject=_subject(subject))


def _run_query(request: Request, user: Principal, form: Mapping[str, Any]) -> Response:
    subject = _subject(form.get("subject"))
    names = [name for name, _ in QUERY_FIELDS[subject]]
    try:
        values = _form_fields(form, names)
        purpose = _clip(form.get("purpose"))
    except InputError as exc:
        return _hits_page(request, subject=subject, error=_error(exc), status=exc.http_status)
    engine = _engine(request)
    settings = request.app.state.settings
    try:
        with engine.begin() as conn:
            answer = service.query_hits(
                conn,
                user,
                subject=subject,
                record={k: v or None for k, v in values.items()},
                purpose=purpose or None,
                # The in-memory match indexes are kept per store: its URL names it.
                cache_key=str(engine.url),
                secret=settings.secret_key,
                clk_key_file=settings.clk_key_file,
            )
    except SafeStreetsError as exc:
        return _hits_page(
            request,
            subject=subject,
            values=values,
            purpose=purpose,
            error=_error(exc),
            status=exc.http_status,
        )
    return _hits_page(request, subject=subject, values=values, purpose=purpose, answer=answer)


@router.post("/hits", response_class=HTMLResponse)
async def hits_submit(request: Request) -> Response:
    """Run the query and show the answer under the form (which keeps what was typed)."""
    form = await request.form()
    check_csrf(request, _text(form.get(CSRF_FIELD)))
    user = _user(request, "query:cross_border", what="nav_hits")
    if isinstance(user, Response):
        return user
    # The service and the store are synchronous: off the event loop, like FastAPI's own
    # synchronous handlers.
    return await run_in_threadpool(_run_query, request, user, _plain(form))


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _plain(form: Any) -> dict[str, str]:
    """The text fields of a submitted form (an upload in a text field is ignored)."""
    return {k: v for k, v in form.items() if isinstance(v, str)}


@router.post("/hits/request", response_class=HTMLResponse)
def file_request(
    request: Request,
    query_id: Annotated[int, Form()],
    reference: Annotated[str, Form(max_length=64)],
    reason: Annotated[str, Form(max_length=MAX_FIELD)] = "",
    csrf_token: Token = None,
) -> Response:
    """File a follow-up request for the details of one hit; on to the user's requests."""
    check_csrf(request, csrf_token)
    user = _user(request, "query:cross_border", what="nav_hits")
    if isinstance(user, Response):
        return user
    engine = _engine(request)
    try:
        with engine.begin() as conn:
            request_id = service.file_request(
                conn, user, query_id=query_id, reference=reference, reason=reason
            )
    except SafeStreetsError as exc:
        return _requests_page(request, user, error=_error(exc), status=exc.http_status)
    return see_other(f"/requests?filed={request_id}")


# --- follow-up requests --------------------------------------------------------------------------


def _rows(frame: Any) -> list[dict[str, Any]]:
    return list(frame.iter_rows(named=True)) if frame is not None else []


def _requests_page(
    request: Request,
    user: Principal,
    *,
    message: str | None = None,
    error: tuple[str, str | None] | None = None,
    status: int = 200,
) -> Response:
    engine = _engine(request)
    with engine.begin() as conn:
        lists = service.list_requests(conn, user)
    decider = may(user, "decide:requests") and user.agency is not None
    return page(
        request,
        "requests.html",
        status=status,
        sent=_rows(lists["sent"]),
        received=_rows(lists["received"]) if decider else [],
        decider=decider,
        asker=may(user, "query:cross_border"),
        message=message,
        error=error,
    )


@router.get("/requests", response_class=HTMLResponse)
def requests_page(
    request: Request, filed: int | None = None, decided: int | None = None
) -> Response:
    """The user's follow-up requests, and those addressed to the agency for its deciders."""
    user = _user(request, "query:cross_border", "decide:requests", what="nav_requests")
    if isinstance(user, Response):
        return user
    t = Translator(page_lang(request))
    message = None
    if filed is not None:
        message = t("request_filed", id=filed)
    elif decided is not None:
        message = t("request_decided", id=decided)
    return _requests_page(request, user, message=message)


@router.post("/requests/{request_id}/decide", response_class=HTMLResponse)
def decide_request(
    request: Request,
    request_id: int,
    decision: Annotated[str, Form(max_length=10)] = "",
    reason: Annotated[str, Form(max_length=MAX_FIELD)] = "",
    csrf_token: Token = None,
) -> Response:
    """Approve or deny a request addressed to the agency (a reason is required)."""
    check_csrf(request, csrf_token)
    user = _user(request, "decide:requests", what="nav_requests")
    if isinstance(user, Response):
        return user
    t = Translator(page_lang(request))
    if decision not in ("approve", "deny"):
        return _requests_page(request, user, error=(t("decision_missing"), None), status=400)
    engine = _engine(request)
    try:
        with engine.begin() as conn:
            service.decide_request(
                conn, user, request_id, approve=decision == "approve", reason=reason
            )
    except SafeStreetsError as exc:
        return _requests_page(request, user, error=_error(exc), status=exc.http_status)
    return see_other(f"/requests?decided={request_id}")


@router.get("/requests/{request_id}", response_class=HTMLResponse)
def request_page(request: Request, request_id: int) -> Response:
    """The details an approved request released, for its requester; a refusal otherwise."""
    user = _user(request, "query:cross_border", what="nav_requests")
    if isinstance(user, Response):
        return user
    engine = _engine(request)
    try:
        with engine.begin() as conn:
            released = service.released_details(conn, user, request_id)
    except NotFound:
        # The requester learns where the request stands; anyone else learns nothing more
        # than that there is nothing for them.
        with engine.begin() as conn:
            sent = service.list_requests(conn, user)["sent"]
        own = [r for r in _rows(sent) if r["request_id"] == request_id]
        return page(
            request, "request.html", status=404, released=None, own=own[0] if own else None,
            request_id=request_id,
        )  # fmt: skip
    subject = subject_of(released["kind"])
    return page(
        request,
        "request.html",
        released=released,
        own=None,
        request_id=request_id,
        fields=_detail_order(subject, released["details"]),
    )


def _detail_order(subject: str, details: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """The details in the order of the forms (then anything else the service released)."""
    order = [name for name, _ in QUERY_FIELDS[subject]]
    order += [k for k in service.SUBJECT_FIELDS[subject] if k not in order]
    order += [k for k in details if k not in order]
    return [(k, details[k]) for k in order if k in details and details[k] not in (None, "")]


# --- the agency's alerts -------------------------------------------------------------------------


def _kind(value: str | None) -> str:
    return value if value in ALERT_KINDS else "wanted_person"


def _alert_state(row: Mapping[str, Any], now: datetime) -> str:
    """``active``, ``cancelled`` or ``expired`` (an active alert past its validity is expired
    whether or not the expiry job has run)."""
    until = row["valid_until"]
    if until is not None and until.tzinfo is None:
        until = until.replace(tzinfo=UTC)
    if row["status"] == "active" and until is not None and until <= now:
        return "expired"
    return str(row["status"])


def _summary(row: Mapping[str, Any]) -> str:
    """A short line naming the alert's subject (the agency's own data)."""
    subject = subject_of(row["kind"])
    if subject == "person":
        parts = [row.get("given_names"), row.get("surname_1"), row.get("surname_2")]
        name = " ".join(p for p in parts if p)
        extra = row.get("date_of_birth") or row.get("national_id")
        return f"{name} ({extra})" if name and extra else name or str(extra or "")
    if subject == "vehicle":
        plate = " ".join(p for p in (row.get("plate"), row.get("plate_country")) if p)
        rest = " ".join(p for p in (row.get("make"), row.get("model"), row.get("colour")) if p)
        return " · ".join(p for p in (plate, row.get("vin"), rest) if p)
    rest = " ".join(p for p in (row.get("make"), row.get("model"), row.get("calibre")) if p)
    return " · ".join(p for p in (row.get("serial"), rest) if p)


def _alerts_page(
    request: Request,
    user: Principal,
    *,
    kind: str,
    after: int | None = None,
    values: Mapping[str, str] | None = None,
    message: str | None = None,
    error: tuple[str, str | None] | None = None,
    warnings: list[str] | None = None,
    status: int = 200,
) -> Response:
    engine = _engine(request)
    frame = alerts_for(
        user,
        conn=engine,
        where=AlertFilter(owner_agency=user.agency, after_id=after, limit=ALERTS_PAGE),
    )
    now = datetime.now(UTC)
    rows = [
        {**row, "state": _alert_state(row, now), "summary": _summary(row)}
        for row in frame.iter_rows(named=True)
    ]
    more = rows[-1]["alert_id"] if len(rows) == ALERTS_PAGE else None
    defaults = {
        "handling_code": "RESTRICTED",
        "valid_until": (date.today() + timedelta(days=DEFAULT_VALID_DAYS)).isoformat(),
    }
    return page(
        request,
        "alerts.html",
        status=status,
        rows=rows,
        more=more,
        kinds=tuple(ALERT_KINDS),
        kind=kind,
        fields=ALERT_FORM_FIELDS[kind],
        codes=HANDLING_CODES,
        values={**defaults, **(values or {})},
        countries=country_options(page_lang(request)),
        message=message,
        error=error,
        warnings=warnings or [],
    )


@router.get("/alerts", response_class=HTMLResponse)
def alerts_page(request: Request, kind: str | None = None, after: int | None = None) -> Response:
    """The agency's alerts and the form to create one (analysts and liaison officers)."""
    user = _user(request, "manage:alerts", what="nav_alerts")
    if isinstance(user, Response):
        return user
    return _alerts_page(request, user, kind=_kind(kind), after=after)


def _create(request: Request, user: Principal, form: Mapping[str, Any]) -> Response:
    t = Translator(page_lang(request))
    kind = _kind(form.get("kind"))
    names = [*_COMMON_ALERT_FIELDS, *(name for name, _ in ALERT_FORM_FIELDS[kind])]
    try:
        values = _form_fields(form, names)
    except InputError as exc:
        return _alerts_page(request, user, kind=kind, error=_error(exc), status=400)
    fields: dict[str, Any] = {k: v for k, v in values.items() if v}
    fields["kind"] = kind
    if not fields.get("external_id"):
        # The agency's own id of the record; a form without one gets a random one.
        fields["external_id"] = "WEB-" + secrets.token_hex(5).upper()
    if fields.get("valid_until") and len(fields["valid_until"]) == 10:
        # A day from the date picker: valid to the end of that day (UTC).
        fields["valid_until"] += "T23:59:59+00:00"
    if fields.get("is_child") == "auto":
        del fields["is_child"]
    engine = _engine(request)
    try:
        with engine.begin() as conn:
            reference, problems = service.create_alert(conn, user, fields)
    except SafeStreetsError as exc:
        return _alerts_page(
            request, user, kind=kind, values=values, error=_error(exc), status=exc.http_status
        )
    warnings = [f"{p.field}: {p.message}" for p in problems if p.severity != "error"]
    return _alerts_page(
        request, user, kind=kind, message=t("alert_created", reference=reference),
        warnings=warnings,
    )  # fmt: skip


@router.post("/alerts", response_class=HTMLResponse)
async def alerts_submit(request: Request) -> Response:
    """Create one alert of the user's agency from the form."""
    form = await request.form()
    check_csrf(request, _text(form.get(CSRF_FIELD)))
    user = _user(request, "manage:alerts", what="nav_alerts")
    if isinstance(user, Response):
        return user
    return await run_in_threadpool(_create, request, user, _plain(form))


@router.post("/alerts/{reference}/cancel", response_class=HTMLResponse)
def cancel_alert(request: Request, reference: str, csrf_token: Token = None) -> Response:
    """Cancel one of the agency's alerts (kept and audited, but it never hits again)."""
    check_csrf(request, csrf_token)
    user = _user(request, "manage:alerts", what="nav_alerts")
    if isinstance(user, Response):
        return user
    t = Translator(page_lang(request))
    engine = _engine(request)
    kind = "wanted_person"
    try:
        with engine.begin() as conn:
            service.cancel_alert(conn, user, reference)
    except SafeStreetsError as exc:
        return _alerts_page(request, user, kind=kind, error=_error(exc), status=exc.http_status)
    return _alerts_page(request, user, kind=kind, message=t("alert_cancelled", reference=reference))


@router.get("/alerts/searches", response_class=HTMLResponse)
def searches_page(request: Request) -> Response:
    """Who searched for the agency's alerts (its admins and liaison officers)."""
    user = _user(request, "decide:requests", what="nav_searches")
    if isinstance(user, Response):
        return user
    engine = _engine(request)
    with engine.begin() as conn:
        frame = service.searches(conn, user)
    return page(request, "searches.html", rows=_rows(frame))
