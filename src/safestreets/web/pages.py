"""Server-rendered pages (Jinja2): parse the request, call a store read, present it."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.datastructures import URL

from safestreets import __version__
from safestreets.reference.geo import countries
from safestreets.store.engine import check_ready
from safestreets.store.reads import UNMAPPED, SectionCount, summary
from safestreets.web.i18n import Translator, negotiate

__all__ = ["STATIC_DIR", "TEMPLATE_DIR", "render_error", "router"]

WEB_DIR = Path(__file__).resolve().parent
TEMPLATE_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"

templates = Jinja2Templates(directory=TEMPLATE_DIR)
router = APIRouter(include_in_schema=False)


@lru_cache(maxsize=1)
def _country_names() -> dict[str, dict[str, str]]:
    return {
        row["iso2"]: {"es": row["name_es"], "en": row["name_en"]}
        for row in countries().select("iso2", "name_es", "name_en").iter_rows(named=True)
    }


def country_name(iso2: str, lang: str) -> str:
    names = _country_names().get(iso2)
    return names[lang] if names else iso2


def section_name(row: SectionCount, t: Translator) -> str:
    if row.section == UNMAPPED:
        return t("unmapped")
    name = row.name_es if t.lang == "es" else row.name_en
    return name or t("unknown_section")


def page_lang(request: Request) -> str:
    return negotiate(request.query_params.get("lang"), request.headers.get("accept-language"))


def _relative(url: URL) -> str:
    # Path and query only: right behind a TLS-terminating proxy too.
    return f"{url.path}?{url.query}" if url.query else url.path


def render(
    request: Request, name: str, lang: str, *, status: int = 200, **context: Any
) -> HTMLResponse:
    """Render a template with the translator ``t`` and the language switch in the context."""
    t = Translator(lang)
    other = "en" if lang == "es" else "es"
    base = {
        "lang": lang,
        "t": t,
        "version": __version__,
        "other_lang": other,
        "other_lang_url": _relative(request.url.include_query_params(lang=other)),
        "path": request.url.path,
    }
    response = templates.TemplateResponse(request, name, {**base, **context}, status_code=status)
    response.headers["Content-Language"] = lang
    response.headers["Vary"] = "Accept-Language"
    return response


def render_error(request: Request, *, status: int, message: str, hint: str | None) -> Response:
    """The HTML face of an error (the API answers the JSON envelope instead)."""
    return render(
        request,
        "error.html",
        page_lang(request),
        status=status,
        status_code=status,
        message=message,
        hint=hint,
    )


@router.get("/", response_class=HTMLResponse, operation_id="landing")
def landing(
    request: Request,
    lang: str | None = Query(None, description="es (default) or en"),
) -> HTMLResponse:
    """The landing page: what is loaded, by country, ICCS section and source; latest batches."""
    engine = request.app.state.engine
    check_ready(engine)  # StoreError -> the error page with its hint
    s = summary(engine)
    chosen = negotiate(lang, request.headers.get("accept-language"))
    t = Translator(chosen)
    return render(
        request,
        "landing.html",
        chosen,
        s=s,
        countries=[(row, country_name(row.country, chosen)) for row in s.by_country],
        sections=[(row, section_name(row, t)) for row in s.by_section],
        any_synthetic=any(row.synthetic for row in s.by_source)
        or any(b.synthetic for b in s.latest_batches),
    )
