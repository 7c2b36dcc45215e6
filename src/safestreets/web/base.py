"""What every page shares: the templates, the language, the signed-in user, rendering.

A page handler parses the request, calls a domain or store function with the principal, and
hands the result to :func:`page` (dashboard pages) or :func:`render` (pages without a session,
such as the public map).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import escape
from starlette.datastructures import URL

from safestreets import __version__
from safestreets.access.policy import Principal, may
from safestreets.reference.geo import countries
from safestreets.web.i18n import LANGS, Translator, negotiate
from safestreets.web.session import (
    CSRF_FIELD,
    LANG_COOKIE,
    csrf_token,
    send_cookies,
    set_lang_cookie,
    signed_in,
)

__all__ = [
    "STATIC_DIR",
    "TEMPLATE_DIR",
    "Abilities",
    "abilities",
    "country_name",
    "forbidden",
    "login_redirect",
    "page",
    "page_lang",
    "render",
    "safe_next",
    "see_other",
    "templates",
]

WEB_DIR = Path(__file__).resolve().parent
TEMPLATE_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"

templates = Jinja2Templates(directory=TEMPLATE_DIR)

#: Roles that may load data files: an agency's admins and analysts.
UPLOAD_ROLES = frozenset({"admin", "analyst"})

#: Only the app's own resources; tiles from the configured server when there is one.
_CSP = (
    "default-src 'self'; img-src 'self' data:{tiles}; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)


@lru_cache(maxsize=1)
def _country_names() -> dict[str, dict[str, str]]:
    return {
        row["iso2"]: {"es": row["name_es"], "en": row["name_en"]}
        for row in countries().select("iso2", "name_es", "name_en").iter_rows(named=True)
    }


def country_name(iso2: str, lang: str) -> str:
    """The country's name in ``lang`` (the code itself when it is not one of the seven)."""
    names = _country_names().get(iso2)
    return names[lang] if names else iso2


def country_options(lang: str) -> list[tuple[str, str]]:
    """(code, name) of the seven countries, by name in ``lang``."""
    return sorted(((c, n[lang]) for c, n in _country_names().items()), key=lambda x: x[1])


def page_lang(request: Request) -> str:
    """``?lang=``, then the visitor's setting (cookie), then Accept-Language, else Spanish."""
    return negotiate(
        request.query_params.get("lang"),
        request.headers.get("accept-language"),
        request.cookies.get(LANG_COOKIE),
    )


def _relative(url: URL) -> str:
    # Path and query only: right behind a TLS-terminating proxy too.
    return f"{url.path}?{url.query}" if url.query else url.path


class _LazyToken:
    """The CSRF token, drawn only if the page has a form that shows it (so pages without
    forms, such as the public map, set no cookie)."""

    def __init__(self, request: Request) -> None:
        self._request = request

    def __str__(self) -> str:
        return csrf_token(self._request)

    def __html__(self) -> str:
        return str(escape(str(self)))


class Abilities:
    """What the signed-in principal may do, for the navigation and the pages."""

    def __init__(self, principal: Principal | None) -> None:
        self.signed_in = principal is not None
        p = principal
        self.read = p is not None and may(p, "query:aggregates") and p.reads_records
        self.export = p is not None and may(p, "export")
        self.upload = p is not None and not p.disabled and bool(p.roles & UPLOAD_ROLES)
        self.audit = p is not None and may(p, "read:audit")
        self.users = p is not None and may(p, "manage:users")


def abilities(principal: Principal | None) -> Abilities:
    """The :class:`Abilities` of a principal (None: nobody signed in)."""
    return Abilities(principal)


def render(
    request: Request, name: str, lang: str, *, status: int = 200, **context: Any
) -> HTMLResponse:
    """Render a template with the translator (``t`` and ``_``), the language switch and the
    signed-in user in the context."""
    t = Translator(lang)
    other = "en" if lang == "es" else "es"
    user = signed_in(request)
    if request.method == "GET":
        switch = _relative(request.url.include_query_params(lang=other))
    else:  # the answer to a form: switch on the page the form belongs to
        switch = "/" + request.url.path.strip("/").split("/")[0] + f"?lang={other}"
    base = {
        "lang": lang,
        "t": t,
        "_": t,
        "version": __version__,
        "other_lang": other,
        "other_lang_url": switch,
        "path": request.url.path,
        "user": user,
        "can": abilities(user),
        "csrf_field": CSRF_FIELD,
        "csrf": _LazyToken(request),
    }
    response = templates.TemplateResponse(request, name, {**base, **context}, status_code=status)
    response.headers["Content-Language"] = lang
    response.headers["Vary"] = "Accept-Language, Cookie"
    send_cookies(request, response)
    chosen = request.query_params.get("lang")
    if chosen and chosen.strip().lower()[:2] in LANGS:
        # A language picked with the switch becomes the visitor's setting.
        set_lang_cookie(request, response, chosen.strip().lower()[:2])
    return response


def page(request: Request, name: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    """Render a dashboard page: the negotiated language, no caching, a strict CSP."""
    response = render(request, name, page_lang(request), status=status, **context)
    settings = request.app.state.settings
    tiles = ""
    if getattr(settings, "map_tile_url", None):
        parts = urlsplit(settings.map_tile_url)
        tiles = f" {parts.scheme}://{parts.netloc.replace('{s}', '*')}"
    response.headers["Content-Security-Policy"] = _CSP.format(tiles=tiles)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"
    return response


def see_other(url: str) -> RedirectResponse:
    """A 303 redirect (after a form, or to the login page)."""
    return RedirectResponse(url, status_code=303)


def safe_next(target: str | None, default: str = "/overview") -> str:
    """A redirect target that stays on this site (a path, never ``//host`` or a URL)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def login_redirect(request: Request) -> Response:
    """To the login page, coming back here afterwards."""
    return see_other("/login?next=" + quote(_relative(request.url), safe=""))


def forbidden(t: Translator, what: str) -> Exception:
    """The 403 of a page the user's roles do not open (rendered as the HTML error page)."""
    from safestreets.errors import AccessDenied

    return AccessDenied(t("forbidden_message", what=what), hint=t("forbidden_hint"))
