"""The web pages' side of sessions: who is signed in, the CSRF token of forms, the language.

Sessions themselves are :mod:`safestreets.api.auth`'s (one signed HttpOnly, SameSite cookie for
the API and the pages, the account re-read on every request). This module adds what forms
need:

- every POST carries a CSRF token in a hidden field (:data:`CSRF_FIELD`), checked by
  :func:`check_csrf`: the session's own token once signed in; before that (the login form) a
  random token also held in an HttpOnly, SameSite cookie of its own, which another site can
  neither read nor set (double submit);
- the language the visitor chose (:data:`LANG_COOKIE`), their setting, read before the
  browser's Accept-Language.
"""

from __future__ import annotations

import secrets
from typing import Final

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy.exc import DBAPIError

from safestreets.access.policy import Principal
from safestreets.api.auth import principal_of, session_csrf
from safestreets.errors import AccessDenied, SafeStreetsError

__all__ = [
    "ANON_CSRF_COOKIE",
    "CSRF_FIELD",
    "LANG_COOKIE",
    "CsrfFailed",
    "check_csrf",
    "csrf_token",
    "send_cookies",
    "set_lang_cookie",
    "signed_in",
]

#: Name of the hidden form field with the CSRF token.
CSRF_FIELD: Final = "csrf_token"
#: The anonymous CSRF token of the login form (no session exists yet).
ANON_CSRF_COOKIE: Final = "safestreets_login_csrf"
#: The language a visitor chose (their setting); read before Accept-Language.
LANG_COOKIE: Final = "safestreets_lang"
_YEAR: Final = 365 * 24 * 3600


class CsrfFailed(AccessDenied):
    """A form posted without its session's CSRF token (or with another one)."""

    code = "csrf_failed"


def signed_in(request: Request) -> Principal | None:
    """The signed-in user of the request (cookie or token), or None for the public.

    None too when that cannot be known (a bad token, the database down): error pages use
    this, and must render whatever went wrong.
    """
    try:
        principal = principal_of(request)
    except (SafeStreetsError, DBAPIError):
        return None
    return principal if principal.user_id is not None else None


def csrf_token(request: Request) -> str:
    """The token to put in this page's forms.

    Signed in: the session's token. Otherwise the anonymous token of the request's cookie,
    or a new one that :func:`send_cookies` sets with the response.
    """
    token = session_csrf(request) if signed_in(request) else None
    if token:
        return token
    anon = request.cookies.get(ANON_CSRF_COOKIE)
    if not anon:
        anon = getattr(request.state, "new_anon_csrf", None) or secrets.token_urlsafe(24)
        request.state.new_anon_csrf = anon
    return anon


def check_csrf(request: Request, token: str | None) -> None:
    """CsrfFailed unless ``token`` is the request's session token (or, signed out, the
    anonymous token of its cookie)."""
    expected = (
        session_csrf(request) if signed_in(request) else request.cookies.get(ANON_CSRF_COOKIE)
    )
    if not expected or not token or not secrets.compare_digest(str(expected), str(token)):
        raise CsrfFailed(
            "the form has expired or did not come from this site",
            hint="reload the page and send the form again",
        )


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def send_cookies(request: Request, response: Response) -> None:
    """Set the cookies this request decided on (a new anonymous CSRF token)."""
    anon = getattr(request.state, "new_anon_csrf", None)
    if anon:
        response.set_cookie(
            ANON_CSRF_COOKIE,
            anon,
            max_age=_YEAR // 365,  # a day is enough to fill in a login form
            path="/",
            httponly=True,
            samesite="strict",
            secure=_secure(request),
        )


def set_lang_cookie(request: Request, response: Response, lang: str) -> None:
    """Remember the language the visitor chose, for a year."""
    response.set_cookie(
        LANG_COOKIE,
        lang,
        max_age=_YEAR,
        path="/",
        httponly=True,
        samesite="lax",
        secure=_secure(request),
    )
