"""Data upload: a file, a built-in profile and a handling code; the validation report back.

The page hands the upload to the same function as ``POST /api/v1/ingest``
(:func:`safestreets.api.ingest.ingest`), so both faces load alike: the records are owned by
the uploader's agency with the chosen handling code (whatever the file says), the size is
bounded, and the run is audited (``ingest`` or ``ingest:failed``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from safestreets.api import ingest as ingest_api
from safestreets.errors import SafeStreetsError
from safestreets.ingest.profiles import builtin_profiles, load_profile
from safestreets.ingest.report import IngestReport
from safestreets.schema import HANDLING_CODES
from safestreets.store.engine import check_ready
from safestreets.web.base import abilities, forbidden, login_redirect, page, page_lang
from safestreets.web.i18n import Translator
from safestreets.web.session import CSRF_FIELD, check_csrf, signed_in

router = APIRouter(include_in_schema=False)


def _profiles() -> list[tuple[str, str]]:
    return [(name, load_profile(name).title or name) for name in builtin_profiles()]


def reason_text(code: str, t: Translator) -> str:
    """A rejection reason in words (``missing_lat``, ``field_too_long:descripcion``, ...)."""
    base, _, arg = code.partition(":")
    if t.has("reason_" + base):
        return t("reason_" + base, arg=arg)
    if base.startswith("missing_"):
        return t("reason_missing", field=base.removeprefix("missing_"))
    return code


def _reasons(report: IngestReport, t: Translator) -> list[tuple[str, str, int, list[int]]]:
    """(code, description, rows, first row numbers) of each rejection reason."""
    return [
        (code, reason_text(code, t), n, report.rejection_samples.get(code, []))
        for code, n in report.rejections.items()
    ]


def _form(request: Request, **context: object) -> Response:
    base: dict[str, object] = {
        "profiles": _profiles(),
        "codes": HANDLING_CODES,
        "report": None,
        "reasons": [],
        "error": None,
        "chosen_profile": "safestreets-csv",
        "chosen_code": "NATIONAL",
    }
    status = int(context.pop("status", 200))  # type: ignore[call-overload]
    return page(request, "upload.html", status=status, **{**base, **context})


@router.get("/upload", response_class=HTMLResponse)
def upload_page(request: Request) -> Response:
    """The upload form (admins and analysts of an agency)."""
    user = signed_in(request)
    if user is None:
        return login_redirect(request)
    if not abilities(user).upload:
        t = Translator(page_lang(request))
        raise forbidden(t, t("nav_upload"))
    return _form(request)


@router.post("/upload", response_class=HTMLResponse)
def upload_submit(
    request: Request,
    file: Annotated[UploadFile, File()],
    profile: Annotated[str, Form(max_length=100)] = "safestreets-csv",
    handling_code: Annotated[str, Form(max_length=20)] = "NATIONAL",
    csrf_token: Annotated[str | None, Form(alias=CSRF_FIELD)] = None,
) -> Response:
    """Load the file and show its validation report (or why nothing was loaded)."""
    check_csrf(request, csrf_token)
    user = signed_in(request)
    if user is None:
        return login_redirect(request)
    t = Translator(page_lang(request))
    if not abilities(user).upload:
        raise forbidden(t, t("nav_upload"))
    check_ready(request.app.state.engine)
    chosen = {"chosen_profile": profile, "chosen_code": handling_code}
    if handling_code not in HANDLING_CODES:
        return _form(request, status=400, error=(t("upload_bad_code"), None), **chosen)
    if not file.filename:
        return _form(request, status=400, error=(t("upload_no_file"), None), **chosen)
    try:
        report = ingest_api.ingest(
            request,
            file=file,
            profile=profile,
            handling_code=handling_code,  # type: ignore[arg-type]
            principal=user,
        )
    except SafeStreetsError as exc:
        return _form(request, status=exc.http_status, error=(exc.message, exc.hint), **chosen)
    return _form(request, report=report, reasons=_reasons(report, t), **chosen)
